"""The network's per-joint input channels, built once for inference and training alike.

Official checkpoints read 3 channels per H36M joint: x̃, ỹ (2-D keypoints normalised in a crop
box, :func:`diffmesh.geometry.crop.crop_scale`) and the detector's confidence. The packaged
fusion weights (``diffmesh-fusion``) read 3 more: the detector's own 3-D estimate of the same
joint — BlazePose's ``pose_world_landmarks`` mapped to H36M-17
(:func:`diffmesh.conventions.blazepose_world_to_h36m`): metres, origin between the hips, x right,
y down, z away from the camera. Where the detector gave no 3-D (a keypoint file, a frame without
a person) those channels are 0, the value the network was also trained to read as "unknown".
"""

from __future__ import annotations

import numpy as np
import torch

from diffmesh.geometry.crop import crop_scale
from diffmesh.geometry.flip import flip_data

__all__ = ["KEYPOINT_CHANNELS", "WORLD_CHANNELS", "flip_input", "model_input_channels", "network_input"]

#: x̃, ỹ, confidence.
KEYPOINT_CHANNELS = 3
#: The detector's 3-D joint (metres, hip-centred, camera axes).
WORLD_CHANNELS = 3


def model_input_channels(model: torch.nn.Module) -> int:
    """Channels per joint a network reads (its encoder's ``dim_in``: 3, or 6 with the detector's
    3-D joints); ``model`` is a DSTformer or a model with a ``backbone``."""
    backbone = getattr(model, "backbone", model)
    return int(getattr(getattr(backbone, "config", None), "dim_in", KEYPOINT_CHANNELS))


def network_input(keypoints: np.ndarray, world: np.ndarray | None, channels: int) -> np.ndarray:
    """``[T, 17, channels]`` float32 for one clip normalised by one box.

    Args:
        keypoints: ``[T, 17, 3]`` pixels and confidence (the frames that share the box).
        world: ``[T, 17, 3]`` the detector's 3-D joints, or None (no 3-D: zeros).
        channels: the network's ``dim_in``: 3 (keypoints only) or 6 (keypoints + 3-D).
    """
    x = crop_scale(keypoints)
    if channels == KEYPOINT_CHANNELS:
        return x
    if channels != KEYPOINT_CHANNELS + WORLD_CHANNELS:
        raise ValueError(f"the network reads {channels} channels per joint; expected 3 (x, y, confidence) or 6 (+ 3-D)")
    w = np.zeros((*x.shape[:-1], WORLD_CHANNELS), np.float32) if world is None else np.asarray(world, np.float32)
    if w.shape != (*x.shape[:-1], WORLD_CHANNELS):
        raise ValueError(f"3-D joints must be [T, 17, 3] like the keypoints {list(x.shape)}, got {list(w.shape)}")
    return np.concatenate([x, w], axis=-1)


def flip_input(x: torch.Tensor) -> torch.Tensor:
    """The horizontal mirror of a network input ``[..., 17, C]``: left/right joints swapped, x̃
    negated and, with 3-D channels, their x negated too."""
    out = flip_data(x)
    if x.shape[-1] > KEYPOINT_CHANNELS:
        out[..., KEYPOINT_CHANNELS] = -out[..., KEYPOINT_CHANNELS]
    return out
