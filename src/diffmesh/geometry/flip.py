"""Horizontal flips of model inputs and outputs (DATA.md §1.1, §1.2): joints, SMPL poses, rotations.

A flip mirrors about the image's vertical centre line (x = 0 in every normalisation the
networks see) and swaps left and right joints (:data:`~diffmesh.conventions.H36M_FLIP_PERM`,
:data:`~diffmesh.conventions.SMPL_FLIP_PERM`). Used by flip augmentation (datasets, training)
and flip test-time augmentation (metrics, the video pipeline). Every flip is an involution.

- :func:`flip_data` — H36M joints ``[..., 17, D]`` (official ``flip_data``);
- :func:`flip_thetas` — SMPL axis-angle poses (official ``flip_thetas`` / ``flip_thetas_batch``);
- :func:`flip_smpl_rotmats` — SMPL local rotation matrices, the same mirror as :func:`flip_thetas`.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

from diffmesh.conventions import H36M_FLIP_PERM, NUM_H36M_JOINTS, NUM_SMPL_JOINTS, SMPL_FLIP_PERM

__all__ = ["flip_data", "flip_thetas", "flip_thetas_batch", "flip_smpl_rotmats"]

ArrayOrTensor = TypeVar("ArrayOrTensor", np.ndarray, torch.Tensor)

_H36M_FLIP_PERM = np.array(H36M_FLIP_PERM)
_SMPL_FLIP_PERM = np.array(SMPL_FLIP_PERM)
# Mirroring about the x = 0 plane keeps an axis-angle's x component and negates y and z; for a
# rotation matrix that is the conjugation R -> M R M with M = diag(-1, 1, 1).
_AXIS_ANGLE_FLIP_SIGN = np.array([1.0, -1.0, -1.0])
_MIRROR_DIAG = (-1.0, 1.0, 1.0)


def flip_data(data: ArrayOrTensor) -> ArrayOrTensor:
    """Horizontal mirror of H36M joint data (official ``flip_data``).

    Args:
        data: ``[..., 17, D]`` numpy array or torch tensor, x in channel 0 (normalised so that
            the image's vertical centre line is x = 0).

    Returns:
        A new array/tensor of the same shape and type: x negated, left/right joints swapped;
        channels ≥ 1 (y, z, confidence) unchanged.
    """
    if data.ndim < 2 or data.shape[-2] != NUM_H36M_JOINTS:
        raise ValueError(
            f"flip_data expects H36M joint data [..., 17, D], got shape {list(data.shape)}; "
            "convert other joint orders with diffmesh.conventions first"
        )
    if isinstance(data, torch.Tensor):
        out = data[..., torch.as_tensor(_H36M_FLIP_PERM, device=data.device), :].clone()
    else:
        out = np.array(data[..., _H36M_FLIP_PERM, :], copy=True)
    out[..., 0] = -out[..., 0]
    return out


def flip_thetas(thetas: ArrayOrTensor) -> ArrayOrTensor:
    """Mirror SMPL poses (official ``flip_thetas`` / ``flip_thetas_batch``).

    Negates the y and z components of every joint's axis-angle vector and swaps the left/right
    joints (:data:`~diffmesh.conventions.SMPL_FLIP_PERM`).

    Args:
        thetas: axis-angle poses ``[..., 72]`` or ``[..., 24, 3]`` (numpy or torch); only the
            72 pose values, not the betas.

    Returns:
        Same shape and type.
    """
    shape = tuple(thetas.shape)
    if len(shape) >= 2 and shape[-2:] == (NUM_SMPL_JOINTS, 3):
        joints_shape = shape
    elif len(shape) >= 1 and shape[-1] == 3 * NUM_SMPL_JOINTS:
        joints_shape = (*shape[:-1], NUM_SMPL_JOINTS, 3)
    else:
        raise ValueError(
            f"flip_thetas expects SMPL axis-angle poses [..., 72] or [..., 24, 3], got shape {list(shape)}; "
            "pass theta[..., :72] (the pose part) rather than the 82-d theta"
        )
    if isinstance(thetas, torch.Tensor):
        sign = torch.as_tensor(_AXIS_ANGLE_FLIP_SIGN, dtype=thetas.dtype, device=thetas.device)
        perm = torch.as_tensor(_SMPL_FLIP_PERM, device=thetas.device)
    else:
        sign = _AXIS_ANGLE_FLIP_SIGN.astype(thetas.dtype if np.issubdtype(thetas.dtype, np.floating) else np.float64)
        perm = _SMPL_FLIP_PERM
    joints = thetas.reshape(joints_shape)  # [..., 24, 3]
    return (joints[..., perm, :] * sign).reshape(shape)


#: The official name of the batched torch variant; one implementation serves both.
flip_thetas_batch = flip_thetas


def flip_smpl_rotmats(rotmats: torch.Tensor) -> torch.Tensor:
    """Mirror SMPL local rotations ``[..., 24, 3, 3]``: the rotation-matrix form of :func:`flip_thetas`.

    Negating the y and z components of an axis-angle vector equals conjugating its rotation by
    ``M = diag(−1, 1, 1)``: ``R → M R M``; then left/right joints are swapped.
    """
    if rotmats.ndim < 3 or tuple(rotmats.shape[-3:]) != (NUM_SMPL_JOINTS, 3, 3):
        raise ValueError(
            f"flip_smpl_rotmats expects SMPL rotations [..., 24, 3, 3], got shape {list(rotmats.shape)}"
        )
    m = torch.tensor(_MIRROR_DIAG, dtype=rotmats.dtype, device=rotmats.device)
    flipped = rotmats * m[:, None] * m[None, :]  # M R M elementwise: sign(i)·sign(j)
    return flipped[..., torch.as_tensor(_SMPL_FLIP_PERM, device=rotmats.device), :, :]
