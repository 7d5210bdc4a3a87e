"""Rendered training clips with the real detector's output (``tools/render_training_clips.py``).

Each shard ``shard_*.npz`` holds clips of the packaged open body rendered in rooms and run through
BlazePose in video mode: the detector's 33 image landmarks and 3-D world landmarks per frame (NaN
where it found nobody) with the ground truth (SMPL-format ``theta`` in the camera convention,
camera-frame H36M joints). :class:`RenderedClipDataset` turns them into training windows exactly
as ``diffmesh infer`` turns a video into network input: BlazePose → H36M-17, gaps filled and cut
by :func:`diffmesh.pipelines.tracking.track`, each window normalised by its own box and given the
detector's 3-D joints (:func:`diffmesh.geometry.model_input.network_input`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from diffmesh.conventions import blazepose_to_h36m, blazepose_world_to_h36m
from diffmesh.data.types import MeshClip
from diffmesh.geometry.flip import flip_thetas
from diffmesh.geometry.model_input import flip_input, network_input

logger = logging.getLogger(__name__)

__all__ = ["PadChannels", "RenderedClipDataset", "load_rendered_clips"]

_PELVIS = 0


def load_rendered_clips(folder: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """All shards of ``folder`` concatenated along the clip axis (sorted by shard name)."""
    shards = sorted(Path(folder).glob("shard_*.npz"))
    shards = [s for s in shards if not s.name.endswith(".tmp.npz")]
    if not shards:
        raise FileNotFoundError(
            f"no shard_*.npz in {str(folder)!r}; make them with tools/render_training_clips.py (tools/README.md)"
        )
    parts: dict[str, list[np.ndarray]] = {}
    for s in shards:
        with np.load(s) as f:
            for k in ("kp33", "world33", "theta", "joints_cam", "family"):
                parts.setdefault(k, []).append(f[k])
    return {k: np.concatenate(v) for k, v in parts.items()}


class RenderedClipDataset(Dataset):
    """Training windows of rendered clips, as :class:`~diffmesh.data.types.MeshClip`.

    Args:
        folder: the shards' folder.
        mesh_model: the body model whose vertices the targets carry (the training run's).
        clip_len: frames per window.
        channels: network input channels (6: keypoints + the detector's 3-D joints).
        window_stride: frames between window starts inside a clip.
        clips: which clips to use (indices after concatenation; default all), e.g. a train/val split.
        flip: mirror every other window (index parity), doubling left/right variety.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        mesh_model: nn.Module,
        clip_len: int = 16,
        channels: int = 6,
        window_stride: int = 4,
        clips: Sequence[int] | None = None,
        flip: bool = True,
    ) -> None:
        from diffmesh.pipelines.tracking import track

        data = load_rendered_clips(folder)
        self.mesh_model, self.clip_len, self.channels, self.flip = mesh_model, clip_len, channels, flip
        picks = range(len(data["theta"])) if clips is None else clips
        self.inputs: list[np.ndarray] = []
        self.theta: list[np.ndarray] = []
        self.index: list[tuple[int, int]] = []
        for c in picks:
            kp33, world33 = data["kp33"][c], data["world33"][c]
            detected = np.isfinite(kp33[:, 0, 0])
            if detected.sum() < clip_len:
                continue
            kp = np.where(detected[:, None, None], blazepose_to_h36m(np.nan_to_num(kp33)), 0.0)
            has_world = np.isfinite(world33[:, 0, 0])
            world = np.where(has_world[:, None, None], blazepose_world_to_h36m(np.nan_to_num(world33)), 0.0)
            trk = track(kp, detected, world=world)
            k = len(self.inputs)
            self.inputs.append(np.concatenate([trk.keypoints, trk.world], axis=-1))
            self.theta.append(data["theta"][c])
            for seg in trk.segments:
                for s in range(seg.start, seg.end - clip_len + 1, window_stride):
                    self.index.append((k, s))
        logger.info("rendered clips: %d of %d usable, %d windows of %d frames", len(self.inputs), len(picks),
                    len(self.index), clip_len)  # fmt: skip

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> MeshClip:
        k, s = self.index[i]
        rows = slice(s, s + self.clip_len)
        kw = self.inputs[k][rows]
        x = network_input(kw[..., :3], kw[..., 3:], self.channels)
        theta = self.theta[k][rows]
        if self.flip and i % 2 == 1:
            x = flip_input(torch.from_numpy(x)).numpy()
            theta = np.concatenate([flip_thetas(theta[:, :72]), theta[:, 72:]], axis=1)
        th = torch.as_tensor(theta, dtype=torch.float32)
        with torch.no_grad():
            out = self.mesh_model(th[:, 72:], th[:, 3:72], th[:, :3])
        pelvis = out.joints_h36m[:, _PELVIS : _PELVIS + 1] * 1000.0
        target = {"theta": theta.astype(np.float32),
                  "kp_3d": (out.joints_h36m * 1000.0 - pelvis).numpy().astype(np.float32),
                  "verts": (out.vertices * 1000.0 - pelvis).numpy().astype(np.float32)}  # fmt: skip
        return MeshClip(input=x.astype(np.float32), target=target)  # type: ignore[typeddict-item]


class PadChannels(Dataset):
    """Another dataset's clips with zero channels appended to ``input`` up to ``channels``: data
    without the detector's 3-D joints (the synthetic engine's) for a network that reads them."""

    def __init__(self, dataset: Dataset, channels: int) -> None:
        self.dataset, self.channels = dataset, channels

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def _pad(self, clip: MeshClip) -> MeshClip:
        x = clip["input"]
        pad = np.zeros((*x.shape[:-1], self.channels - x.shape[-1]), dtype=x.dtype)
        return {**clip, "input": np.concatenate([x, pad], axis=-1)}  # type: ignore[typeddict-item]

    def __getitems__(self, indices: Sequence[int]) -> list[MeshClip]:
        getitems = getattr(self.dataset, "__getitems__", None)
        clips = getitems(list(indices)) if getitems is not None else [self.dataset[i] for i in indices]
        return [self._pad(c) for c in clips]

    def __getitem__(self, index: int) -> MeshClip:
        return self._pad(self.dataset[index])
