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

The source skeleton and clip format are described in ``tools/deepmimic_source.py``.

Retargeting (``docs/synthetic_data.md``, "Real motion capture"):

1. resample to 30 fps from the frame durations (slerp of quaternions, linear knee/elbow angles
   and root position);
2. change axes to the body model's (+Z forward, +X the body's left): ``C = [[0,0,-1],[0,1,0],[1,0,0]]``;
3. each mapped SMPL bone takes the *world* rotation of its DeepMimic segment times a fixed rest
   offset ``A`` (the shortest rotation from the SMPL T-pose bone direction to the DeepMimic rest
   direction: arms down, legs straight), so bone directions agree up to the skeletons' shapes;
   the chest rotation is spread evenly over spine1-3, the neck rotation over neck and head;
   collars, toes, wrists and hands keep their rest (identity local rotation);
4. near the floor (DeepMimic wrist below 16 cm) the hands are laid flat, palm down: the
   DeepMimic hand is a 4 cm ball at the wrist, the body model's reaches 18 cm further;
5. the root moves as the DeepMimic root scaled by ``s`` = body-model pelvis height / DeepMimic
   root height in the rest pose (1.026); then, frame by frame, the body is shifted vertically
   so that its lowest vertex is at the height of the source's lowest collision shape, clipped
   at the floor (the source sinks up to 9 cm into it): contacts land on y = 0.

It then checks the result (bone directions of the source forward kinematics against the body
model's posed joints; foot heights), logs the numbers (``--report`` writes them as JSON) and,
with ``--png-dir``, draws a contact sheet per clip: the mesh with the source skeleton in red.
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

from deepmimic_source import (  # noqa: E402
    DM_INDEX, DM_OFFSETS, DM_POINTS, DM_REST_ROOT_HEIGHT, DM_SHAPES, SourceClip,
    dm_forward_kinematics, dm_lowest_point, read_clip, rest_clip,
)  # fmt: skip
from diffmesh.body import BodyModel, load  # noqa: E402
from diffmesh.conventions import SMPL_JOINTS, SMPL_PARENTS  # noqa: E402
from diffmesh.data.mocap._rotations import axis_angle_to_rotmat, rotmat_to_axis_angle  # noqa: E402

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

#: DeepMimic axes -> body-model axes (rows): x_body = -z_dm, y_body = y_dm, z_body = x_dm.
C_DM_TO_BODY = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])

_J = {name: i for i, name in enumerate(SMPL_JOINTS)}
_D = DM_INDEX

# ------------------------------------------------------------------ rotations (float64 numpy)

aa_to_rotmat = axis_angle_to_rotmat
rotmat_to_aa = rotmat_to_axis_angle


def rot_power(R: np.ndarray, alpha: float) -> np.ndarray:
    """``R^alpha`` (same axis, angle scaled by ``alpha``)."""
    return aa_to_rotmat(alpha * rotmat_to_aa(R))


def shortest_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The rotation of least angle taking direction ``a`` to direction ``b``."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    axis = np.cross(a, b)
    angle = np.arctan2(np.linalg.norm(axis), a @ b)
    return aa_to_rotmat(axis / max(np.linalg.norm(axis), 1e-12) * angle)


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
        bones = {"hip": ("knee", "knee"), "knee": ("ankle", "ankle"), "shoulder": ("elbow", "elbow"),
                 "elbow": ("wrist", None)}  # fmt: skip
        for side in ("left", "right"):
            for joint, (smpl_child, dm_child) in bones.items():
                d_smpl = rest[_J[f"{side}_{smpl_child}"]] - rest[_J[f"{side}_{joint}"]]
                dm_offset = DM_OFFSETS[_D[f"{side}_{dm_child}"]] if dm_child else DM_POINTS[f"{side}_wrist"][1]
                offsets[f"{side}_{joint}"] = shortest_rotation(d_smpl, C_DM_TO_BODY @ dm_offset)
        return cls(body=body, rest_joints=rest, offsets=offsets)

    def world_rotations(
        self, G_dm: np.ndarray, local_dm: np.ndarray, wrist_height: dict[str, np.ndarray]
    ) -> np.ndarray:
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
        rest = rest_clip(1.0)
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


#: Body parts whose world orientation must equal the source's: body-model joint -> DeepMimic joint.
ORIENTATIONS = {
    "pelvis": "root", "spine3": "chest", "head": "neck", "left_ankle": "left_ankle", "right_ankle": "right_ankle",
}  # fmt: skip


def orientation_angles(G_dm: np.ndarray, pose_aa: np.ndarray) -> dict[str, np.ndarray]:
    """Angle (degrees) between each body part's world rotation and its source's, ``{part: [T]}``."""
    local = aa_to_rotmat(pose_aa)
    world = np.empty_like(local)
    for j, p in enumerate(SMPL_PARENTS):
        world[:, j] = local[:, j] if p < 0 else world[:, p] @ local[:, j]
    out = {}
    for smpl, dm in ORIENTATIONS.items():
        diff = np.swapaxes(world[:, _J[smpl]], -1, -2) @ C_DM_TO_BODY @ G_dm[:, _D[dm]] @ C_DM_TO_BODY.T
        out[f"orientation_{smpl}"] = np.degrees(np.linalg.norm(rotmat_to_aa(diff), axis=-1))[:, None]
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
    from diffmesh.geometry.camera import look_at, project
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
    rest = rest_clip(DM_REST_ROOT_HEIGHT)
    pose_aa, transl = rt.pose(rest)
    _, joints = rt.posed(pose_aa, transl)
    _, points = dm_forward_kinematics(rest)
    return {k: float(v.mean()) for k, v in segment_angles(points, joints).items()}


def _write_sheet(
    path: Path, verts: np.ndarray, faces: np.ndarray, dm_points: dict[str, np.ndarray], pose_aa: np.ndarray,
    shift: np.ndarray,
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
    angles: dict[str, list[np.ndarray]] = {k: [] for k in [*SEGMENTS, *(f"orientation_{j}" for j in ORIENTATIONS)]}
    report: dict = {"scale": rt.scale, "rest_pose_segments_deg": _rest_segment_angles(rt), "clips": {}}
    feet_dm, feet_body = [], []
    for name in CLIP_NAMES:
        path = args.motions / f"humanoid3d_{name}.txt"
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found; pass the pybullet_data/data/motions folder of pybullet=={PYBULLET_VERSION}"
            )
        clip = read_clip(path, FPS)
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
        seg = segment_angles(dm_points, joints) | orientation_angles(G, pose_aa)
        for k, v in seg.items():
            angles[k].append(v.ravel())
        dm_feet, body_feet = foot_heights(rt, clip, verts)
        feet_dm.append(dm_feet.ravel())
        feet_body.append(body_feet.ravel())
        report["clips"][name] = {
            "frames": int(len(transl)), "loop": clip.loop, "floor_shift_m": [float(shift.min()), float(shift.max())],
            "lowest_vertex_m": float(verts[..., 1].min()),
            "max_limb_angle_deg": float(np.max([seg[k].max() for k in ("thigh", "shin", "upper_arm", "forearm")])),
        }
        logger.info("%-15s %4d frames  floor shift %+.3f..%+.3f m  limbs max %.4f deg, mean torso %.1f head %.1f",
                    name, len(transl), shift.min(), shift.max(), report["clips"][name]["max_limb_angle_deg"],
                    seg["torso"].mean(), seg["head"].mean())  # fmt: skip
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
        logger.info("%-24s mean %7.4f  p95 %7.4f  max %7.4f deg  (rest pose %.2f)", k, v["mean"], v["p95"],
                    v["max"], report["rest_pose_segments_deg"].get(k, 0.0))  # fmt: skip
    logger.info("feet: %s", json.dumps(report["feet_m"]))
    _write_npz_atomic(args.out, arrays)
    logger.info("wrote %s (%.0f kB)", args.out, args.out.stat().st_size / 1024)
    if args.report is not None:
        args.report.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
