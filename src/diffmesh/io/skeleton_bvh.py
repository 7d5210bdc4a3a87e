"""BVH export of H36M-17 joint positions (``diffmesh pose``'s ``motion.bvh``).

:mod:`diffmesh.io.bvh` exports body-model rotations; here only joint *positions* are known, so
the rotations are reconstructed. The file follows that module's conventions (Y up, +Z toward
the viewer; channels ``Xposition Yposition Zposition Zrotation Xrotation Yrotation`` on the
root and ``Zrotation Xrotation Yrotation`` elsewhere, degrees, ``R = Rz @ Rx @ Ry``; End Sites
half a bone past each leaf joint; lengths in metres or, with ``units="cm"``, centimetres).

* skeleton: the :data:`~diffmesh.conventions.H36M_BONES` tree, joints named as
  :data:`~diffmesh.conventions.H36M_JOINTS`; the root is the pelvis;
* rest pose (the OFFSETs): each bone has its median length over the valid frames, along a
  T-pose-like direction: thighs and shins straight down, spine-to-thorax and nose-to-head-top
  straight up, upper arms and forearms straight out sideways. The bones leaving the pelvis
  (hips, spine) and the thorax (nose, shoulders) keep the subject's mean layout instead: their
  mean direction in a frame built from those bones (up: pelvis -> spine or thorax -> nose;
  left: right hip -> left hip or right -> left shoulder), so that the fit at these joints does
  not have to absorb, in every frame, a fixed difference between the subject's layout and a
  T-pose (shoulders below the neck base, a neck leaning forward); the spine and the nose bones
  are therefore straight up at rest;
* rotations: a joint with one child bone gets the smallest rotation ("swing") that turns its
  rest bone, carried by its parent's rotation, onto the bone of the frame; the pelvis and the
  thorax, which have three child bones, get the rotation that best fits all three (Kabsch, least
  squares on unit directions), exact when the frame keeps the rest layout; leaf joints (ankles,
  wrists, head top) have no bone to follow and keep their parent's orientation. Joint positions
  cannot tell a twist about a bone, so none is added: a forearm's twist, for example, is
  whatever its parents' rotations carry;
* frames without a person hold the last valid pose (before the first valid frame: the first).

Forward kinematics of the file therefore gives every bone that leaves a one-child joint exactly
the input's direction, and every bone its rest length; the root position is the pelvis.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np

from diffmesh.conventions import H36M_BONES, H36M_JOINTS, NUM_H36M_JOINTS
from diffmesh.geometry.rotation_fit import fit_rotation, shortest_rotation
from diffmesh.io.bvh import format_skeleton_bvh
from diffmesh.io.motion import CAMERA_TO_Y_UP, _hold_invalid, as_numpy, atomic_write

logger = logging.getLogger(__name__)

__all__ = ["H36M_PARENTS", "write_joints_bvh", "format_joints_bvh", "median_bone_lengths"]

#: Parent of each H36M-17 joint (``-1`` for the pelvis), from :data:`H36M_BONES`.
H36M_PARENTS: tuple[int, ...] = tuple(
    next((p for p, c in H36M_BONES if c == j), -1) for j in range(NUM_H36M_JOINTS)
)

_J = {name: k for k, name in enumerate(H36M_JOINTS)}
_UP, _DOWN, _LEFT, _RIGHT = (0.0, 1.0, 0.0), (0.0, -1.0, 0.0), (1.0, 0.0, 0.0), (-1.0, 0.0, 0.0)
# Rest direction (Y up, facing +Z, the subject's left on +X) of the bone ending at each joint
# whose parent has one child; the children of the pelvis and the thorax get theirs from the data.
_FIXED_REST_DIRECTION: dict[int, tuple[float, float, float]] = {
    _J["right_knee"]: _DOWN, _J["right_ankle"]: _DOWN, _J["left_knee"]: _DOWN, _J["left_ankle"]: _DOWN,
    _J["thorax"]: _UP, _J["head_top"]: _UP,
    _J["left_elbow"]: _LEFT, _J["left_wrist"]: _LEFT, _J["right_elbow"]: _RIGHT, _J["right_wrist"]: _RIGHT,
}  # fmt: skip
# Joints with several child bones -> (up from, up to, right, left): the frame, built from the
# joint's own child bones only, in which their rest layout is averaged.
_BRANCH_FRAMES: dict[int, tuple[int, int, int, int]] = {
    _J["pelvis"]: (_J["pelvis"], _J["spine"], _J["right_hip"], _J["left_hip"]),  # up: pelvis -> spine
    _J["thorax"]: (_J["thorax"], _J["nose"], _J["right_shoulder"], _J["left_shoulder"]),  # up: thorax -> nose
}
_EPS = 1e-12


def _children(parents: tuple[int, ...]) -> list[list[int]]:
    kids: list[list[int]] = [[] for _ in parents]
    for j, p in enumerate(parents):
        if p >= 0:
            kids[p].append(j)
    return kids


def _normalize(v: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Unit vectors along the last axis; ``fallback`` where ``v`` has (almost) no length."""
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.where(n > 1e-9, v / np.maximum(n, _EPS), fallback)


def _branch_frame(p: np.ndarray, joint: int) -> np.ndarray:
    """``[T, 3, 3]`` per-frame axes (columns: left, up, forward) of a joint with several children."""
    below, above, right, left = _BRANCH_FRAMES[joint]
    up = _normalize(p[:, above] - p[:, below], np.array(_UP))
    lateral = p[:, left] - p[:, right]
    lateral = _normalize(lateral - np.sum(lateral * up, -1, keepdims=True) * up, np.array(_LEFT))
    return np.stack((lateral, up, np.cross(lateral, up)), axis=-1)


def median_bone_lengths(joints: Any, valid: Any | None = None) -> np.ndarray:
    """``[17]`` median length over the valid frames of the bone ending at each H36M joint (pelvis: 0).

    Args:
        joints: ``[T, 17, 3]`` joint positions (any units; the result is in the same units).
        valid: optional ``[T]`` bool, ``False`` for frames to leave out.
    """
    p, v = _check_joints(joints, valid)
    parents = np.array(H36M_PARENTS[1:])
    lengths = np.linalg.norm(p[v][:, 1:] - p[v][:, parents], axis=-1)  # [Tv, 16]
    return np.concatenate(([0.0], np.median(lengths, axis=0)))


def _check_joints(joints: Any, valid: Any | None) -> tuple[np.ndarray, np.ndarray]:
    p = as_numpy(joints, "joints")
    if p.ndim != 3 or p.shape[1:] != (NUM_H36M_JOINTS, 3) or p.shape[0] == 0:
        raise ValueError(
            f"joints must have shape [T, 17, 3] (T >= 1 frames x H36M-17 joints x xyz), got {list(p.shape)}"
        )
    if valid is None:
        v = np.ones(len(p), dtype=bool)
    else:
        v = as_numpy(valid, "valid", dtype=bool)
        if v.shape != (len(p),):
            raise ValueError(f"valid must have shape [T={len(p)}] (one flag per frame), got {list(v.shape)}")
    if not v.any():
        raise ValueError("valid is False for every frame: there is no person to export")
    bad = np.flatnonzero(v & ~np.isfinite(p).all(axis=(1, 2)))
    if bad.size:
        raise ValueError(
            f"joints contain NaN or inf in valid frames {bad[:10].tolist()}; "
            "mark frames without a person with valid=False"
        )
    return p, v


def format_joints_bvh(
    joints: Any, fps: float, valid: Any | None = None, units: Literal["m", "cm"] = "m"
) -> str:
    """The BVH text of camera-frame H36M-17 joints (see the module docstring; arguments as :func:`write_joints_bvh`)."""
    p_cam, v = _check_joints(joints, valid)
    if not (isinstance(fps, (int, float, np.number)) and np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive finite number of frames per second, got {fps!r}")
    if units not in ("m", "cm"):
        raise ValueError(f"units must be 'm' or 'cm', got {units!r}")
    lengths = median_bone_lengths(p_cam, v)
    p = _hold_invalid(p_cam @ CAMERA_TO_Y_UP.T, v)  # [T, 17, 3] Y up
    T = len(p)
    parents = H36M_PARENTS
    children = _children(parents)

    def bone(c: int) -> np.ndarray:  # [T, 3] unit direction of the bone ending at c
        return _normalize(p[:, c] - p[:, parents[c]], np.array(_UP))

    # Rest directions: fixed for one-child parents, the mean layout for the branching joints.
    rest_dir = np.zeros((NUM_H36M_JOINTS, 3))
    for c, d in _FIXED_REST_DIRECTION.items():
        rest_dir[c] = d
    for joint in _BRANCH_FRAMES:
        F = _branch_frame(p[v], joint)  # [Tv, 3, 3]
        for c in children[joint]:
            local = np.einsum("tji,tj->ti", F, bone(c)[v])  # [Tv, 3] = F^T d
            rest_dir[c] = _normalize(local.mean(axis=0), np.array(_UP))
    offsets = rest_dir * lengths[:, None]  # [17, 3]

    # Rotations, parents before children (H36M indices are in that order).
    local_R = np.broadcast_to(np.eye(3), (T, NUM_H36M_JOINTS, 3, 3)).copy()
    global_R = local_R.copy()
    for j in range(NUM_H36M_JOINTS):
        parent_R = global_R[:, parents[j]] if parents[j] >= 0 else np.broadcast_to(np.eye(3), (T, 3, 3))
        kids = children[j]
        if len(kids) > 1:
            G = fit_rotation(rest_dir[kids], np.stack([bone(c) for c in kids], axis=1))
            local_R[:, j] = parent_R.swapaxes(-1, -2) @ G
        elif len(kids) == 1:
            in_parent = np.einsum("tji,tj->ti", parent_R, bone(kids[0]))  # [T, 3] = parent_R^T d
            local_R[:, j] = shortest_rotation(rest_dir[kids[0]], in_parent)
        global_R[:, j] = parent_R @ local_R[:, j]

    return format_skeleton_bvh(H36M_JOINTS, parents, offsets, p[:, 0], local_R, 1.0 / float(fps), units)


def write_joints_bvh(
    path: str | os.PathLike[str],
    joints: Any,
    fps: float,
    valid: Any | None = None,
    units: Literal["m", "cm"] = "m",
) -> Path:
    """Write H36M-17 joint positions as an animated BVH skeleton, atomically.

    Args:
        path: destination ``.bvh`` file (its folder must exist).
        joints: ``[T, 17, 3]`` joints in metres, :data:`~diffmesh.conventions.H36M_JOINTS` order,
            camera frame (OpenCV: x right, y down, z forward); numpy arrays or tensors. Frames
            marked invalid may hold NaN.
        fps: frames per second (``Frame Time`` is ``1 / fps``), > 0.
        valid: optional ``[T]`` bool, ``False`` for frames without a person (they hold the last
            valid pose); default: every frame.
        units: ``"m"`` (default) or ``"cm"`` for every length in the file.

    Returns:
        ``path``. Forward kinematics of the file gives, per frame, the pelvis at
        ``CAMERA_TO_Y_UP @ joints[:, 0]`` and each bone from a one-child joint along the input's
        direction (turned by ``CAMERA_TO_Y_UP``), every bone at its median length (times 100 for
        ``units="cm"``); see the module docstring for the pelvis and thorax fits.
    """
    text = format_joints_bvh(joints, fps, valid, units).encode("ascii")
    logger.debug("joint BVH: %d bytes -> %s", len(text), path)
    return atomic_write(path, lambda file: file.write(text))
