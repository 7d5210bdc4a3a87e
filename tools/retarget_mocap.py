#!/usr/bin/env python
"""Retarget the DeepMimic humanoid motion-capture clips to the SMPL-24 body model (build time).

pybullet 3.2.7 (zlib licence) ships 15 motion-capture clips of the DeepMimic humanoid at
``pybullet_data/data/motions/humanoid3d_*.txt``. This script converts them to the body model's
skeleton and conventions and writes ``src/diffmesh/data/mocap/deepmimic.npz`` (read by
:mod:`diffmesh.data.mocap`). pybullet is needed here only, and only its data files::

    pip download --no-deps pybullet==3.2.7 -d /work/scratch/pybullet
    unzip -q -o /work/scratch/pybullet/pybullet-3.2.7-*.whl 'pybullet_data/data/motions/*' \
        -d /work/scratch/pybullet/x
    python tools/retarget_mocap.py /work/scratch/pybullet/x/pybullet_data/data/motions \
        --png-dir /work/scratch/mocap_png

The source (pybullet's ``humanoid.urdf``, loaded with ``globalScaling=0.25``, and
``humanoid_pose_interpolator.py``): Y up, the character faces +X, +Z is its right. A frame is
44 numbers: duration, root position (3), root rotation (w x y z), then chest, neck, right hip,
right knee, right ankle, right shoulder, right elbow, left hip, left knee, left ankle, left
shoulder, left elbow: a quaternion (w x y z, local to the parent) per spherical joint and one
angle about the local Z axis per knee/elbow. In the rest pose (all identities) the character
stands straight with the arms hanging at its sides.

Retargeting (``docs/synthetic_data.md``, "Real motion capture"):

1. resample to 30 fps from the frame durations (slerp of quaternions, linear knee/elbow angles
   and root position);
2. change axes to the body model's (+Z forward, +X the body's left): ``C = [[0,0,-1],[0,1,0],[1,0,0]]``;
3. each mapped SMPL bone takes the *world* rotation of its DeepMimic segment times a fixed rest
   offset ``A`` (the shortest rotation from the SMPL T-pose bone direction to the DeepMimic rest
   direction: arms down, legs straight), so bone directions agree up to the skeletons' shapes;
   the chest rotation is spread evenly over spine1-3, the neck rotation over neck and head;
   collars, toes, wrists and hands keep their rest (identity local rotation);
4. the root moves as the DeepMimic root scaled by ``s`` = body-model pelvis height / DeepMimic
   root height in the rest pose (1.03), then each clip is shifted vertically once so that the
   body model's lowest vertex is at the height of the source's lowest collision geometry where
   they are closest to the floor.

It then checks the result (bone directions of the source forward kinematics against the body
model's posed joints; foot heights) and, with ``--png-dir``, draws contact sheets.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from diffmesh.body import BodyModel, load  # noqa: E402
from diffmesh.conventions import SMPL_JOINTS, SMPL_PARENTS  # noqa: E402
from diffmesh.geometry.rotations import axis_angle_to_rotmat, quaternion_to_rotmat, rotmat_to_axis_angle  # noqa: E402

logger = logging.getLogger("retarget_mocap")

FPS = 30.0
PYBULLET_VERSION = "3.2.7"
CLIP_NAMES = (
    "backflip", "cartwheel", "crawl", "dance_a", "dance_b", "getup_facedown", "getup_faceup",
    "jump", "kick", "punch", "roll", "run", "spin", "spinkick", "walk",
)  # fmt: skip
CATEGORIES = {
    "walk": "locomotion", "run": "locomotion", "jump": "jump",
    "backflip": "acrobatics", "cartwheel": "acrobatics", "spin": "acrobatics", "roll": "floor",
    "crawl": "floor", "getup_facedown": "floor", "getup_faceup": "floor",
    "dance_a": "dance", "dance_b": "dance", "kick": "martial_arts", "punch": "martial_arts",
    "spinkick": "martial_arts",
}  # fmt: skip

# ------------------------------------------------------------------ the DeepMimic skeleton

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
_CAPSULES = {"hip": (0.84, 0.6, 0.22), "knee": (0.8, 0.62, 0.2), "shoulder": (0.56, 0.36, 0.18), "elbow": (0.48, 0.27, 0.16)}
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

#: DeepMimic axes -> body-model axes (rows): x_body = -z_dm, y_body = y_dm, z_body = x_dm.
C_DM_TO_BODY = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])

_J = {name: i for i, name in enumerate(SMPL_JOINTS)}
_D = {name: i for i, name in enumerate(DM_JOINTS)}


@dataclass
class SourceClip:
    """A DeepMimic clip resampled to ``FPS``: root position ``[T, 3]``, local rotations ``[T, 13, 3, 3]``."""

    name: str
    loop: bool
    root_pos: np.ndarray
    local: np.ndarray


# ------------------------------------------------------------------ rotations (float64 numpy)


def _t(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


def aa_to_rotmat(aa: np.ndarray) -> np.ndarray:
    return axis_angle_to_rotmat(_t(aa)).numpy()


def rotmat_to_aa(R: np.ndarray) -> np.ndarray:
    return rotmat_to_axis_angle(_t(R)).numpy()


def rot_power(R: np.ndarray, alpha: float) -> np.ndarray:
    """``R^alpha`` (same axis, angle scaled by ``alpha``)."""
    return aa_to_rotmat(alpha * rotmat_to_aa(R))


def shortest_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The rotation of least angle taking direction ``a`` to direction ``b``."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    axis = np.cross(a, b)
    angle = np.arctan2(np.linalg.norm(axis), a @ b)
    return aa_to_rotmat(axis / max(np.linalg.norm(axis), 1e-12) * angle)


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


def read_clip(path: Path, fps: float = FPS) -> SourceClip:
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
        j = _D[name]
        if name in DM_REVOLUTE:
            local[:, j] = rot_z(a[:, col] + f * (b[:, col] - a[:, col]))
        else:
            q = slerp_quaternions(a[:, col : col + 4], b[:, col : col + 4], f)  # (w, x, y, z)
            local[:, j] = quaternion_to_rotmat(_t(q)).numpy()
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
        points[name] = P[:, _D[joint]] + G[:, _D[joint]] @ offset
    return G, points


def dm_lowest_point(G: np.ndarray, points: dict[str, np.ndarray], shapes: list | None = None) -> np.ndarray:
    """Per frame, the lowest height ``[T]`` of the DeepMimic collision shapes (all, or ``shapes``)."""
    low = []
    for joint, kind, centre, size in DM_SHAPES if shapes is None else shapes:
        R, p = G[:, _D[joint]], points[joint]
        if kind == "sphere":
            low.append((p + R @ centre)[:, 1] - size)
        elif kind == "capsule":
            ends = [p + R @ (centre + np.array([0.0, h, 0.0])) for h in (-size[0], size[0])]
            low.append(np.minimum(ends[0][:, 1], ends[1][:, 1]) - size[1])
        else:
            corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]) * size + centre
            low.append(np.einsum("tij,cj->tci", R, corners)[..., 1].min(axis=1) + p[:, 1])
    return np.min(low, axis=0)


# ------------------------------------------------------------------ retargeting

#: DeepMimic wrist heights (m) between which a hand turns from straight (above) to flat (below):
#: the DeepMimic hand is a 4 cm sphere at the wrist, the body model's hand reaches 18 cm further.
FLAT_HAND_HEIGHTS = (0.06, 0.16)


def flat_hand(forearm: np.ndarray, pelvis: np.ndarray, side: str, wrist_height: np.ndarray) -> np.ndarray:
    """World rotation ``[T, 3, 3]`` of a hand: straight along the forearm, laid flat near the floor.

    A flat hand has its palm down and its fingers along the forearm's horizontal direction
    (the pelvis's forward direction when the forearm is near vertical). The two are blended
    (slerp) with a weight going smoothly from 0 at ``FLAT_HAND_HEIGHTS[1]`` to 1 at ``[0]``.
    """
    sign = 1.0 if side == "left" else -1.0
    along_rest, palm_rest = np.array([sign, 0.0, 0.0]), np.array([0.0, -1.0, 0.0])  # T-pose hand axes
    frame_rest = np.stack([along_rest, palm_rest, np.cross(along_rest, palm_rest)], axis=-1)
    forearm_dir = forearm @ along_rest  # [T, 3]
    horizontal = forearm_dir * np.array([1.0, 0.0, 1.0])
    forward = pelvis[..., :, 2] * np.array([1.0, 0.0, 1.0])
    norm = np.linalg.norm(horizontal, axis=-1, keepdims=True)
    along = horizontal + np.clip(0.3 - norm, 0.0, None) * forward
    along /= np.linalg.norm(along, axis=-1, keepdims=True)
    palm = np.broadcast_to(palm_rest, along.shape)
    frame = np.stack([along, palm, np.cross(along, palm)], axis=-1)  # [T, 3, 3] columns
    flat = frame @ frame_rest.T
    lo, hi = FLAT_HAND_HEIGHTS
    x = np.clip((hi - wrist_height) / (hi - lo), 0.0, 1.0)
    weight = x * x * (3 - 2 * x)
    return forearm @ aa_to_rotmat(weight[:, None] * rotmat_to_aa(np.swapaxes(forearm, -1, -2) @ flat))


@dataclass
class Retargeter:
    """The rest-pose correspondence between the DeepMimic skeleton and a body model at betas = 0."""

    body: BodyModel
    rest_joints: np.ndarray  # [24, 3] body-model joints at betas = 0, T-pose
    offsets: dict[str, np.ndarray]  # SMPL joint -> A (3x3): world rotation = DM segment world rotation @ A
    scale: float = 1.0  # root translation scale (set by calibrate_scale)

    @classmethod
    def build(cls, body: BodyModel) -> Retargeter:
        rest = (body.J_regressor @ body.v_template).double().numpy()
        offsets = {}
        # Bone (SMPL joint -> child) whose rest direction must match the DeepMimic segment's.
        bones = {"hip": ("knee", "knee"), "knee": ("ankle", "ankle"), "shoulder": ("elbow", "elbow"), "elbow": ("wrist", None)}
        for side in ("left", "right"):
            for joint, (smpl_child, dm_child) in bones.items():
                d_smpl = rest[_J[f"{side}_{smpl_child}"]] - rest[_J[f"{side}_{joint}"]]
                dm_offset = DM_OFFSETS[_D[f"{side}_{dm_child}"]] if dm_child else DM_POINTS[f"{side}_wrist"][1]
                offsets[f"{side}_{joint}"] = shortest_rotation(d_smpl, C_DM_TO_BODY @ dm_offset)
        return cls(body=body, rest_joints=rest, offsets=offsets)

    def world_rotations(self, G_dm: np.ndarray, local_dm: np.ndarray, wrist_height: dict[str, np.ndarray]) -> np.ndarray:
        """World rotations ``[T, 24, 3, 3]`` of the SMPL joints (body-model axes).

        ``wrist_height``: per side, the DeepMimic wrist height ``[T]`` above the floor (scaled);
        near the floor the hand is laid flat (:func:`flat_hand`).
        """
        C = C_DM_TO_BODY
        G = C @ G_dm @ C.T  # [T, 13, 3, 3] DeepMimic world rotations in body-model axes
        L = C @ local_dm @ C.T
        T = G.shape[0]
        W = np.empty((T, len(SMPL_JOINTS), 3, 3))
        W[:, _J["pelvis"]] = G[:, _D["root"]]
        chest_step = rot_power(L[:, _D["chest"]], 1.0 / 3.0)  # chest spread over spine1-3
        W[:, _J["spine1"]] = W[:, _J["pelvis"]] @ chest_step
        W[:, _J["spine2"]] = W[:, _J["spine1"]] @ chest_step
        W[:, _J["spine3"]] = W[:, _J["spine2"]] @ chest_step
        neck_step = rot_power(L[:, _D["neck"]], 0.5)  # neck spread over neck and head
        W[:, _J["neck"]] = W[:, _J["spine3"]] @ neck_step
        W[:, _J["head"]] = W[:, _J["neck"]] @ neck_step
        for side in ("left", "right"):
            W[:, _J[f"{side}_collar"]] = W[:, _J["spine3"]]
            for joint in ("hip", "knee", "shoulder", "elbow"):
                W[:, _J[f"{side}_{joint}"]] = G[:, _D[f"{side}_{joint}"]] @ self.offsets[f"{side}_{joint}"]
            W[:, _J[f"{side}_ankle"]] = G[:, _D[f"{side}_ankle"]]  # both feet are flat in the rest poses
            W[:, _J[f"{side}_foot"]] = W[:, _J[f"{side}_ankle"]]
            W[:, _J[f"{side}_wrist"]] = flat_hand(W[:, _J[f"{side}_elbow"]], W[:, 0], side, wrist_height[side])
            W[:, _J[f"{side}_hand"]] = W[:, _J[f"{side}_wrist"]]
        return W

    def pose(self, clip: SourceClip) -> tuple[np.ndarray, np.ndarray]:
        """``(pose_axis_angle [T, 24, 3], transl [T, 3])`` before the per-clip floor shift."""
        G_dm, points = dm_forward_kinematics(clip)
        wrist_height = {side: self.scale * points[f"{side}_wrist"][:, 1] for side in ("left", "right")}
        W = self.world_rotations(G_dm, clip.local, wrist_height)
        local = np.empty_like(W)
        local[:, 0] = W[:, 0]
        for j, p in enumerate(SMPL_PARENTS[1:], start=1):
            local[:, j] = np.swapaxes(W[:, p], -1, -2) @ W[:, j]
        transl = self.scale * clip.root_pos @ C_DM_TO_BODY.T - self.rest_joints[0]
        return rotmat_to_aa(local), transl

    def posed(self, pose_aa: np.ndarray, transl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Body-model ``(vertices [T, V, 3], joints [T, 24, 3])`` at betas = 0."""
        pose = torch.as_tensor(pose_aa, dtype=torch.float32)
        with torch.no_grad():
            out = self.body(torch.zeros(1, 10), pose[:, 1:], pose[:, 0], torch.as_tensor(transl, dtype=torch.float32))
        return out.vertices.double().numpy(), out.joints.double().numpy()

    def calibrate_scale(self) -> float:
        """Set ``scale`` = body-model pelvis height over its soles / DeepMimic root height, rest poses."""
        rest = SourceClip("rest", False, np.array([[0.0, 1.0, 0.0]]), np.tile(np.eye(3), (1, len(DM_JOINTS), 1, 1)))
        self.scale = 1.0
        pose, transl = self.pose(rest)
        verts, joints = self.posed(pose, transl)
        self.scale = float((joints[0, 0, 1] - verts[0, :, 1].min()) / DM_REST_ROOT_HEIGHT)
        return self.scale


def floor_shift(retargeter: Retargeter, clip: SourceClip, pose_aa: np.ndarray, transl: np.ndarray) -> np.ndarray:
    """Vertical shift ``[T]`` that puts the body model's lowest vertex where the source's lowest point is.

    The target height is the DeepMimic collision shapes' lowest point, scaled, clipped at the
    floor (the source sinks up to 9 cm into it at times): contacts land exactly on y = 0 and
    flight phases keep the source's clearance.
    """
    G, points = dm_forward_kinematics(clip)
    target = np.maximum(retargeter.scale * dm_lowest_point(G, points), 0.0)
    verts, _ = retargeter.posed(pose_aa, transl)
    return target - verts[..., 1].min(axis=1)


def retarget_clip(retargeter: Retargeter, clip: SourceClip) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(pose_axis_angle [T, 24, 3], transl [T, 3], floor shift [T])`` of one clip."""
    pose_aa, transl = retargeter.pose(clip)
    shift = floor_shift(retargeter, clip, pose_aa, transl)
    transl = transl + shift[:, None] * np.array([0.0, 1.0, 0.0])
    return pose_aa, transl, shift


# ------------------------------------------------------------------ checks

#: Segments compared: name -> (DeepMimic point a, b; body-model joint a, b), per side where "{s}".
SEGMENTS = {
    "thigh": ("{s}_hip", "{s}_knee", "{s}_hip", "{s}_knee"),
    "shin": ("{s}_knee", "{s}_ankle", "{s}_knee", "{s}_ankle"),
    "foot": ("{s}_ankle", "{s}_toe", "{s}_ankle", "{s}_foot"),
    "upper_arm": ("{s}_shoulder", "{s}_elbow", "{s}_shoulder", "{s}_elbow"),
    "forearm": ("{s}_elbow", "{s}_wrist", "{s}_elbow", "{s}_wrist"),
    "torso": ("root", "neck", "pelvis", "neck"),
    "head": ("neck", "head", "neck", "head"),
    "hip_line": ("right_hip", "left_hip", "right_hip", "left_hip"),
    "shoulder_line": ("right_shoulder", "left_shoulder", "right_shoulder", "left_shoulder"),
}


def segment_angles(dm_points: dict[str, np.ndarray], joints: np.ndarray) -> dict[str, np.ndarray]:
    """Angle (degrees) between each source segment and the body model's, ``{segment: [T, sides]}``."""
    out = {}
    for name, (da, db, sa, sb) in SEGMENTS.items():
        sides = ("left", "right") if "{s}" in da else ("",)
        angles = []
        for side in sides:
            u = (dm_points[db.format(s=side)] - dm_points[da.format(s=side)]) @ C_DM_TO_BODY.T
            v = joints[:, _J[sb.format(s=side)]] - joints[:, _J[sa.format(s=side)]]
            cos = np.sum(u * v, -1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
            angles.append(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
        out[name] = np.stack(angles, axis=-1)
    return out


def foot_heights(retargeter: Retargeter, clip: SourceClip, verts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lowest foot point per frame and side ``[T, 2]`` (left, right): source (scaled) and body model."""
    G, points = dm_forward_kinematics(clip)
    owner = retargeter.body.lbs_weights.numpy().argmax(axis=1)
    dm_low, body_low = [], []
    for side in ("left", "right"):
        box = [s for s in DM_SHAPES if s[0] == f"{side}_ankle" and s[1] == "box"][0]
        dm_low.append(retargeter.scale * dm_lowest_point(G, points, shapes=[box]))
        mask = np.isin(owner, [_J[f"{side}_ankle"], _J[f"{side}_foot"]])
        body_low.append(verts[:, mask, 1].min(axis=1))
    return np.stack(dm_low, -1), np.stack(body_low, -1)


# ------------------------------------------------------------------ pictures

_DM_BONES = [(a, b) for a, b in (
    ("root", "chest"), ("chest", "neck"), ("neck", "head"),
    *((f"{s}_{a}", f"{s}_{b}") for s in ("left", "right") for a, b in (
        ("hip", "knee"), ("knee", "ankle"), ("ankle", "toe"), ("shoulder", "elbow"), ("elbow", "wrist"))),
    ("root", "left_hip"), ("root", "right_hip"), ("chest", "left_shoulder"), ("chest", "right_shoulder"),
)]  # fmt: skip


def render_sheet(
    verts: np.ndarray, faces: np.ndarray, points: dict[str, np.ndarray], facing: np.ndarray, frames: list[int],
    height: int = 360,
) -> np.ndarray:
    """Panels of the posed mesh at ``frames`` with the source skeleton (red) and the floor grid.

    ``points``: source skeleton points ``[T, 3]`` in the body model's world; ``facing``: a
    horizontal direction the camera looks against (turned by 35 degrees).

    The camera keeps a 3/4 view of ``facing`` and a fixed distance, and follows the body.
    """
    from diffmesh.data.synthetic.camera import look_at, project
    from diffmesh.data.synthetic.preview import draw_line
    from diffmesh.render import Renderer, intrinsics_from_fov

    front = facing / np.linalg.norm(facing)
    c, s = np.cos(np.radians(35.0)), np.sin(np.radians(35.0))
    view = np.array([c * front[0] + s * front[2], 0.3, -s * front[0] + c * front[2]])
    size = max(float(np.linalg.norm(np.ptp(verts[f], axis=0))) for f in frames)  # largest body diagonal
    width = int(height * 0.8)
    K = intrinsics_from_fov(width, height, 50.0)
    panels = []
    with Renderer(width, height) as renderer:
        for f in frames:  # the camera follows the body, at a fixed distance
            target = (verts[f].min(0) + verts[f].max(0)) / 2
            R, t = look_at(target + max(1.6 * size, 2.0) * view, target)
            img = np.full((height, width, 3), 220, np.uint8)
            centre = np.round(target[[0, 2]] / 0.5) * 0.5
            for i in np.arange(-3.0, 3.01, 0.5):  # floor grid (y = 0), 0.5 m spacing
                ticks, span = np.full(40, i), np.linspace(-3, 3, 40)
                for line in (np.stack([ticks, 0 * ticks, span], -1), np.stack([span, 0 * ticks, ticks], -1)):
                    cam = (line + np.array([centre[0], 0.0, centre[1]])) @ R.T + t
                    uv = project(cam[cam[:, 2] > 0.3], K)
                    for a, b in zip(uv[:-1], uv[1:]):
                        draw_line(img, a, b, (170, 170, 170))
            img = renderer.render(verts[f] @ R.T + t, faces, K, background=img).image.copy()
            for a, b in _DM_BONES if points else ():
                pa, pb = (project(points[n][f] @ R.T + t, K) for n in (a, b))
                draw_line(img, pa, pb, (220, 30, 30), 2)
            panels.append(img)
            panels.append(np.full((height, 3, 3), 255, np.uint8))
    return np.concatenate(panels[:-1], axis=1)


def _rest_segment_angles(rt: Retargeter) -> dict[str, float]:
    """Segment angles (degrees) between the two skeletons' rest poses: their shapes' share of the numbers."""
    rest = SourceClip("rest", False, np.array([[0.0, DM_REST_ROOT_HEIGHT, 0.0]]), np.tile(np.eye(3), (1, len(DM_JOINTS), 1, 1)))
    pose_aa, transl = rt.pose(rest)
    _, joints = rt.posed(pose_aa, transl)
    _, points = dm_forward_kinematics(rest)
    return {k: float(v.mean()) for k, v in segment_angles(points, joints).items()}


def _write_sheet(
    path: Path, verts: np.ndarray, faces: np.ndarray, dm_points: dict[str, np.ndarray], pose_aa: np.ndarray, shift: np.ndarray
) -> None:
    """Contact sheet of 5 frames: source points (scaled, DeepMimic axes) moved to the body model's world."""
    from diffmesh.render import write_png

    up = np.array([0.0, 1.0, 0.0])
    points = {k: v @ C_DM_TO_BODY.T + shift[:, None] * up for k, v in dm_points.items()}
    forward = aa_to_rotmat(pose_aa[0, 0])[:, 2] * np.array([1.0, 0.0, 1.0])  # pelvis +Z, horizontal
    facing = forward if np.linalg.norm(forward) > 0.3 else np.array([0.0, 0.0, 1.0])
    frames = sorted({int(round(x)) for x in np.linspace(0, len(verts) - 1, 5)})
    path.parent.mkdir(parents=True, exist_ok=True)
    write_png(path, render_sheet(verts, faces, points, facing, frames))


# ------------------------------------------------------------------ main


def _write_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    os.close(fd)
    try:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("motions", type=Path, help="pybullet_data/data/motions (the humanoid3d_*.txt clips)")
    p.add_argument("--out", type=Path, default=REPO / "src/diffmesh/data/mocap/deepmimic.npz")
    p.add_argument("--png-dir", type=Path, default=None, help="write contact sheets here")
    p.add_argument("--report", type=Path, default=None, help="write the check numbers as JSON here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    body = load("open")
    rt = Retargeter.build(body)
    logger.info("root scale %.4f (body-model pelvis height / DeepMimic root height, rest poses)", rt.calibrate_scale())
    owner = body.lbs_weights.numpy().argmax(axis=1)  # the joint that mostly moves each vertex
    v_rest = body.v_template.numpy()
    keep = (np.arange(len(v_rest)) % 16 == 0) | (v_rest[:, 1] < v_rest[:, 1].min() + 0.03)  # + the soles
    arrays: dict[str, np.ndarray] = {
        "fps": np.array(FPS, np.float32), "rest_joints": rt.rest_joints.astype(np.float32),
        "contact_points": v_rest[keep].astype(np.float32), "contact_joints": owner[keep].astype(np.int16),
    }  # fmt: skip
    angles: dict[str, list[np.ndarray]] = {k: [] for k in SEGMENTS}
    report: dict = {"scale": rt.scale, "rest_pose_segments_deg": _rest_segment_angles(rt), "clips": {}}
    feet_dm, feet_body = [], []
    for name in CLIP_NAMES:
        path = args.motions / f"humanoid3d_{name}.txt"
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found; pass pybullet_data/data/motions of pybullet=={PYBULLET_VERSION}")
        clip = read_clip(path)
        pose_aa, transl, shift = retarget_clip(rt, clip)
        pose_aa, transl = pose_aa.astype(np.float32), transl.astype(np.float32)
        arrays[f"{name}/pose_axis_angle"], arrays[f"{name}/transl"] = pose_aa, transl
        arrays[f"{name}/loop"] = np.array(clip.loop)
        arrays[f"{name}/category"] = np.array(CATEGORIES[name])
        arrays[f"{name}/source"] = np.array(f"pybullet=={PYBULLET_VERSION} pybullet_data/data/motions/{path.name}")
        # Checks on the stored float32 values, through the body model.
        verts, joints = rt.posed(pose_aa, transl)
        G, dm_points = dm_forward_kinematics(clip)
        dm_points = {k: rt.scale * v for k, v in dm_points.items()}
        seg = segment_angles(dm_points, joints)
        for k, v in seg.items():
            angles[k].append(v.ravel())
        dm_feet, body_feet = foot_heights(rt, clip, verts)
        feet_dm.append(dm_feet.ravel())
        feet_body.append(body_feet.ravel())
        report["clips"][name] = {
            "frames": int(len(transl)), "loop": clip.loop, "floor_shift_m": [float(shift.min()), float(shift.max())],
            "lowest_vertex_m": float(verts[..., 1].min()),
            "mean_limb_angle_deg": float(np.mean([seg[k].mean() for k in ("thigh", "shin", "upper_arm", "forearm")])),
        }
        logger.info("%-15s %4d frames  floor shift %+.3f..%+.3f m  limb angle %.2f deg  torso %.1f head %.1f foot %.1f",
                    name, len(transl), shift.min(), shift.max(), report["clips"][name]["mean_limb_angle_deg"],
                    seg["torso"].mean(), seg["head"].mean(), seg["foot"].mean())  # fmt: skip
        if args.png_dir is not None:
            _write_sheet(args.png_dir / f"{name}.png", verts, body.faces.numpy(), dm_points, pose_aa, shift)
    report["segments_deg"] = {
        k: {"mean": float(np.mean(v)), "p95": float(np.percentile(v, 95)), "max": float(np.max(v))}
        for k, v in ((k, np.concatenate(v)) for k, v in angles.items())
    }
    feet_dm_all, feet_body_all = np.concatenate(feet_dm), np.concatenate(feet_body)
    diff = np.abs(feet_body_all - feet_dm_all)
    contact = feet_dm_all < 0.02  # source sole on (or in) the floor
    report["feet_m"] = {
        "abs_difference_mean": float(diff.mean()), "abs_difference_p95": float(np.percentile(diff, 95)),
        "source_contacts": int(contact.sum()), "of_foot_frames": int(contact.size),
        "body_height_at_source_contacts_mean": float(feet_body_all[contact].mean()),
        "body_height_at_source_contacts_p95": float(np.percentile(feet_body_all[contact], 95)),
        "body_height_min": float(feet_body_all.min()),
    }  # fmt: skip
    for k, v in report["segments_deg"].items():
        logger.info("segment %-14s mean %5.2f  p95 %5.2f  max %6.2f deg  (rest pose %5.2f)", k, v["mean"], v["p95"],
                    v["max"], report["rest_pose_segments_deg"][k])  # fmt: skip
    logger.info("feet: %s", json.dumps(report["feet_m"]))
    _write_npz_atomic(args.out, arrays)
    logger.info("wrote %s (%.0f kB)", args.out, args.out.stat().st_size / 1024)
    if args.report is not None:
        args.report.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
