"""The DeepMimic humanoid of pybullet 3.2.7: skeleton, clip format, forward kinematics (build time).

Read by ``tools/retarget_mocap.py`` (see its docstring). Everything here is from pybullet's
``pybullet_data/humanoid/humanoid.urdf`` (loaded with ``globalScaling=0.25`` by
``pybullet_envs/deep_mimic/env/humanoid_stable_pd.py``) and
``pybullet_envs/deep_mimic/env/humanoid_pose_interpolator.py``: Y up, the character faces +X,
+Z is its right. A frame is 44 numbers: duration, root position (3), root rotation (w x y z),
then chest, neck, right hip, right knee, right ankle, right shoulder, right elbow, left hip, left
knee, left ankle, left shoulder, left elbow: a quaternion (w x y z, local to the parent) per
spherical joint and one angle about the local Z axis per knee/elbow (revolute). In the rest pose
(all identities) the character stands straight with the arms hanging at its sides.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from diffmesh.geometry.rotations import quaternion_to_rotmat

# ------------------------------------------------------------------ skeleton

DM_JOINTS = (
    "root", "chest", "neck", "right_hip", "right_knee", "right_ankle", "right_shoulder",
    "right_elbow", "left_hip", "left_knee", "left_ankle", "left_shoulder", "left_elbow",
)  # fmt: skip
DM_PARENTS = (-1, 0, 1, 0, 3, 4, 1, 6, 0, 8, 9, 1, 11)
#: First column of each joint in a frame row (a quaternion w x y z, or one revolute angle).
DM_COLUMN = dict(zip(DM_JOINTS, (4, 8, 12, 16, 20, 21, 25, 29, 30, 34, 35, 39, 43)))
DM_REVOLUTE = ("right_knee", "right_elbow", "left_knee", "left_elbow")  # about the local Z axis
_URDF_SCALE = 0.25  # humanoid_stable_pd.py loads humanoid.urdf with globalScaling=0.25
#: Joint origins of humanoid.urdf (offset from the parent joint, parent frame), metres.
DM_OFFSETS = _URDF_SCALE * np.array([
    [0, 0, 0], [0, 0.944604, 0], [0, 0.895576, 0],
    [0, 0, 0.339548], [0, -1.686184, 0], [0, -1.63948, 0], [-0.0962, 0.974, 0.73244], [0, -1.099152, 0],
    [0, 0, -0.339548], [0, -1.686184, 0], [0, -1.63948, 0], [-0.0962, 0.974, -0.73244], [0, -1.099152, 0],
])  # fmt: skip
#: Extra points (joint, offset in its frame): wrists (fixed joints), head centre, foot front.
DM_POINTS = {
    "right_wrist": ("right_elbow", _URDF_SCALE * np.array([0, -1.035788, 0])),
    "left_wrist": ("left_elbow", _URDF_SCALE * np.array([0, -1.035788, 0])),
    "head": ("neck", _URDF_SCALE * np.array([0, 0.7, 0])),
    # Front edge of the sole: box centre (0.18, -0.09, 0), size (0.708, 0.22, 0.36).
    "right_toe": ("right_ankle", _URDF_SCALE * np.array([0.18 + 0.354, -0.09 - 0.11, 0])),
    "left_toe": ("left_ankle", _URDF_SCALE * np.array([0.18 + 0.354, -0.09 - 0.11, 0])),
}
#: Collision shapes of humanoid.urdf for the floor height: (joint, kind, centre, size), metres.
#: sphere: size = radius; capsule (along the link's Y): (half length, radius); box: half extents.
_CAPSULES = {
    "hip": (0.84, 0.6, 0.22), "knee": (0.8, 0.62, 0.2), "shoulder": (0.56, 0.36, 0.18), "elbow": (0.48, 0.27, 0.16),
}  # fmt: skip
DM_SHAPES = [("root", "sphere", (0, 0.28, 0), 0.36), ("chest", "sphere", (0, 0.48, 0), 0.44),
             ("neck", "sphere", (0, 0.7, 0), 0.41)]  # fmt: skip
for _side in ("right", "left"):
    for _j, (_down, _half, _r) in _CAPSULES.items():
        DM_SHAPES.append((f"{_side}_{_j}", "capsule", (0, -_down, 0), (_half, _r)))
    DM_SHAPES.append((f"{_side}_ankle", "box", (0.18, -0.09, 0), (0.354, 0.11, 0.18)))
    DM_SHAPES.append((f"{_side}_elbow", "sphere", (0, -1.035788, 0), 0.16))  # the hand
DM_SHAPES = [(j, k, _URDF_SCALE * np.asarray(c, float), _URDF_SCALE * np.asarray(s, float)) for j, k, c, s in DM_SHAPES]
#: DeepMimic root height above the soles in the rest pose (hip + knee + ankle-to-sole).
DM_REST_ROOT_HEIGHT = -(DM_OFFSETS[4, 1] + DM_OFFSETS[5, 1]) + _URDF_SCALE * (0.09 + 0.11)


DM_INDEX = {name: i for i, name in enumerate(DM_JOINTS)}


@dataclass
class SourceClip:
    """A DeepMimic clip resampled to a frame rate: root position ``[T, 3]``, local rotations ``[T, 13, 3, 3]``."""

    name: str
    loop: bool
    root_pos: np.ndarray
    local: np.ndarray


def rot_z(angle: np.ndarray) -> np.ndarray:
    c, s, o, i = np.cos(angle), np.sin(angle), np.zeros_like(angle), np.ones_like(angle)
    return np.stack([c, -s, o, s, c, o, o, o, i], axis=-1).reshape(*np.shape(angle), 3, 3)


def slerp_quaternions(q0: np.ndarray, q1: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Spherical interpolation of unit quaternions ``[..., 4]`` with fractions ``f [...]``."""
    q0 = q0 / np.linalg.norm(q0, axis=-1, keepdims=True)
    q1 = q1 / np.linalg.norm(q1, axis=-1, keepdims=True)
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)  # shorter arc
    dot = np.abs(dot).clip(max=1.0)
    theta = np.arccos(dot)
    f = f[..., None]
    small = theta < 1e-6
    sin = np.where(small, 1.0, np.sin(theta))
    w0 = np.where(small, 1 - f, np.sin((1 - f) * theta) / sin)
    w1 = np.where(small, f, np.sin(f * theta) / sin)
    q = w0 * q0 + w1 * q1
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


# ------------------------------------------------------------------ reading and resampling


def read_clip(path: Path, fps: float) -> SourceClip:
    """Read a ``humanoid3d_*.txt`` clip and resample it to ``fps`` (times from the frame durations)."""
    data = json.loads(path.read_text())
    frames = np.asarray(data["Frames"], dtype=np.float64)  # [N, 44]
    if frames.ndim != 2 or frames.shape[1] != 44:
        raise ValueError(f"{path}: expected Frames rows of 44 numbers (DeepMimic humanoid), got {frames.shape}")
    times = np.concatenate([[0.0], np.cumsum(frames[:-1, 0])])  # the last frame's duration is unused
    if np.any(np.diff(times) <= 0):
        raise ValueError(f"{path}: frame durations must be positive (except the last)")
    # Durations are rounded (0.03333 s): tolerate a few hundredths of a frame at the end.
    t_new = np.arange(int(np.floor(times[-1] * fps + 0.05)) + 1) / fps
    i0 = np.clip(np.searchsorted(times, t_new, side="right") - 1, 0, len(times) - 2)
    f = np.clip((t_new - times[i0]) / (times[i0 + 1] - times[i0]), 0.0, 1.0)
    a, b = frames[i0], frames[i0 + 1]
    root_pos = a[:, 1:4] + f[:, None] * (b[:, 1:4] - a[:, 1:4])
    local = np.empty((len(t_new), len(DM_JOINTS), 3, 3))
    for name, col in DM_COLUMN.items():
        j = DM_INDEX[name]
        if name in DM_REVOLUTE:
            local[:, j] = rot_z(a[:, col] + f * (b[:, col] - a[:, col]))
        else:
            q = slerp_quaternions(a[:, col : col + 4], b[:, col : col + 4], f)  # (w, x, y, z)
            local[:, j] = quaternion_to_rotmat(torch.as_tensor(q)).numpy()
    name = path.stem.removeprefix("humanoid3d_")
    return SourceClip(name=name, loop=data.get("Loop") == "wrap", root_pos=root_pos, local=local)


def dm_forward_kinematics(clip: SourceClip) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """World rotations ``[T, 13, 3, 3]`` and points (13 joints + :data:`DM_POINTS`), DeepMimic axes."""
    T = clip.local.shape[0]
    G = np.empty_like(clip.local)
    P = np.empty((T, len(DM_JOINTS), 3))
    for j, p in enumerate(DM_PARENTS):
        if p < 0:
            G[:, j], P[:, j] = clip.local[:, j], clip.root_pos
        else:
            G[:, j] = G[:, p] @ clip.local[:, j]
            P[:, j] = P[:, p] + G[:, p] @ DM_OFFSETS[j]
    points = {name: P[:, j] for j, name in enumerate(DM_JOINTS)}
    for name, (joint, offset) in DM_POINTS.items():
        points[name] = P[:, DM_INDEX[joint]] + G[:, DM_INDEX[joint]] @ offset
    return G, points


def dm_lowest_point(G: np.ndarray, points: dict[str, np.ndarray], shapes: list | None = None) -> np.ndarray:
    """Per frame, the lowest height ``[T]`` of the DeepMimic collision shapes (all, or ``shapes``)."""
    low = []
    for joint, kind, centre, size in DM_SHAPES if shapes is None else shapes:
        R, p = G[:, DM_INDEX[joint]], points[joint]
        if kind == "sphere":
            low.append((p + R @ centre)[:, 1] - size)
        elif kind == "capsule":
            ends = [p + R @ (centre + np.array([0.0, h, 0.0])) for h in (-size[0], size[0])]
            low.append(np.minimum(ends[0][:, 1], ends[1][:, 1]) - size[1])
        else:
            corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]) * size + centre
            low.append(np.einsum("tij,cj->tci", R, corners)[..., 1].min(axis=1) + p[:, 1])
    return np.min(low, axis=0)


def rest_clip(root_height: float) -> SourceClip:
    """One frame of the rest pose (all identities) with the root at ``root_height``."""
    return SourceClip("rest", False, np.array([[0.0, root_height, 0.0]]), np.tile(np.eye(3), (1, len(DM_JOINTS), 1, 1)))
