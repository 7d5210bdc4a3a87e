"""In-memory sample formats shared by the official dataset readers and the synthetic engine.

Every dataset (official files or :mod:`diffmesh.data.synthetic`) yields these, so one
training loop consumes all of them. Arrays are float32 numpy arrays (tensors after
collation); ``T`` is the clip length, ``V`` the body model's vertex count.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np


class PoseClip(TypedDict):
    """2-D → 3-D pose sample (pre-training and the 3-D pose task; DATA.md §3.1).

    input: ``[T, 17, 3]`` normalised 2-D joints (x̃, ỹ) and confidence, H36M order.
    label: ``[T, 17, 3]`` normalised 3-D joints (x̃, ỹ, z̃) in the same units.
    """

    input: np.ndarray
    label: np.ndarray


class _MeshTarget(TypedDict):
    theta: np.ndarray  # [T, 82] SMPL pose (24 × axis-angle, radians) + 10 betas
    kp_3d: np.ndarray  # [T, 17, 3] H36M joints regressed from verts, mm, pelvis-relative
    verts: np.ndarray  # [T, V, 3] vertices, mm, pelvis-relative


class MeshClip(TypedDict, total=False):
    """Mesh-recovery sample (DATA.md §3.3).

    input: ``[T, 17, 3]`` normalised 2-D joints and confidence (clipped to [0, 1]).
    target: ground truth regenerated from SMPL parameters with the body model.
    init_pose, init_shape: the refine task's initial estimate ``[T, 72]`` / ``[T, 10]``.
    """

    input: np.ndarray
    target: _MeshTarget
    init_pose: np.ndarray
    init_shape: np.ndarray


__all__ = ["MeshClip", "PoseClip"]
