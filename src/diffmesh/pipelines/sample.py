"""A known motion rendered to a real video file: the demo clip, test fixtures and benchmarks.

:func:`walking_motion` is a fixed walk of an SMPL-format body (axis-angle per joint and a
camera-frame translation, a :class:`BodyMotion`); :func:`render_motion_video` renders it with
our renderer over a simple background and encodes it with PyAV. Because the motion is known,
the recovered trajectory and the 2-D keypoints can be checked against the ground truth.

Why not the synthetic engine's ``walk`` family (:mod:`diffmesh.data.synthetic.motions`): that
is a *random* gait placed in the world with planted feet, so its speed follows from the stride
(1.0-1.7 m/s, about 5 m in 4 s: more than the 3.7 m a 640 x 480 frame shows at 3 m); this one
is a single hand-set walk specified in the camera frame that stays in view (it sweeps 1.2 m in
front of the camera). The shipped sample clip (``tools/make_sample_clip.py``), the pipeline
tests' bounds and the numbers in ``docs/model_card.md`` / ``docs/benchmarks.md`` were all
measured on it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import torch

from diffmesh.conventions import SMPL_JOINTS
from diffmesh.geometry.camera import default_intrinsics, project
from diffmesh.geometry.rotations import axis_angle_to_rotmat, rotmat_to_axis_angle

__all__ = ["BodyMotion", "walking_motion", "render_motion_video", "background_image"]

_J = {name: i for i, name in enumerate(SMPL_JOINTS)}


@dataclass
class BodyMotion:
    """A body motion in the camera frame: what a body model needs to pose every frame.

    Attributes:
        pose_aa: ``[T, 24, 3]`` axis-angle (radians), joint 0 = global orientation (camera frame).
        betas: ``[10]``.
        transl: ``[T, 3]`` body-model translation in metres (OpenCV camera frame).
        fps: frames per second.
    """

    pose_aa: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    fps: float


def walking_motion(
    frames: int, fps: float = 25.0, yaw_deg: float = 30.0, depth_m: float = 3.0, sweep_m: float = 1.2
) -> BodyMotion:
    """A person walking across the image (left to right), turned ``yaw_deg`` towards the camera.

    One stride per second; hips swing ±25°, knees bend up to 50°, arms hang and swing in anti-phase.
    The pelvis moves ``sweep_m`` metres along x at ``depth_m`` metres, bobbing 2 cm vertically.
    """
    t = np.arange(frames) / fps
    ph = 2 * math.pi * t  # one stride per second
    pose = np.zeros((frames, 24, 3))
    # Upright in the y-down camera frame (180° about x), then turned about the vertical axis.
    rx = _aa_to_mat(np.array([math.pi, 0.0, 0.0]))
    ry = _aa_to_mat(np.array([0.0, math.radians(yaw_deg), 0.0]))
    pose[:, 0] = _mat_to_aa(ry @ rx)
    swing = np.radians(25) * np.sin(ph)
    pose[:, _J["left_hip"], 0] = -swing
    pose[:, _J["right_hip"], 0] = swing
    pose[:, _J["left_knee"], 0] = np.radians(25) * (1 - np.cos(ph + 0.6))
    pose[:, _J["right_knee"], 0] = np.radians(25) * (1 - np.cos(ph + 0.6 + math.pi))
    pose[:, _J["left_shoulder"], 2] = -np.radians(65)
    pose[:, _J["right_shoulder"], 2] = np.radians(65)
    pose[:, _J["left_shoulder"], 0] = 0.6 * swing
    pose[:, _J["right_shoulder"], 0] = -0.6 * swing
    pose[:, _J["left_elbow"], 1] = -np.radians(20)
    pose[:, _J["right_elbow"], 1] = np.radians(20)
    transl = np.zeros((frames, 3))
    transl[:, 0] = np.linspace(-sweep_m / 2, sweep_m / 2, frames)
    transl[:, 1] = 0.15 + 0.02 * np.cos(2 * ph)
    transl[:, 2] = depth_m
    return BodyMotion(pose.astype(np.float32), np.zeros(10, np.float32), transl.astype(np.float32), fps)


def _aa_to_mat(v: np.ndarray) -> np.ndarray:
    return axis_angle_to_rotmat(torch.as_tensor(v, dtype=torch.float64)[None])[0].numpy()


def _mat_to_aa(m: np.ndarray) -> np.ndarray:
    return rotmat_to_axis_angle(torch.as_tensor(m, dtype=torch.float64)[None])[0].numpy()


def background_image(width: int, height: int) -> np.ndarray:
    """A plain, deterministic 'room': a wall gradient above a darker floor, ``uint8 [H, W, 3]``."""
    y = np.linspace(0, 1, height)[:, None, None]
    x = np.linspace(0, 1, width)[None, :, None]
    wall = np.array([205, 198, 186]) - 40 * y + 10 * x
    floor = np.array([120, 110, 100]) - 30 * (y - 0.62)
    img = np.where(y < 0.62, wall, floor) * np.ones((height, width, 1))
    return np.clip(img, 0, 255).astype(np.uint8)


def render_motion_video(
    path: str | os.PathLike[str],
    motion: BodyMotion,
    width: int = 640,
    height: int = 480,
    K: np.ndarray | None = None,
    body_model: torch.nn.Module | None = None,
    crf: int = 23,
    visible: np.ndarray | None = None,
    backend: str = "auto",
) -> dict[str, np.ndarray]:
    """Render ``motion`` with the (open) body model and encode it as H.264 at ``motion.fps``.

    Args:
        visible: ``[T]`` bool; frames where it is False show only the background (person away).

    Returns:
        ground truth: ``K [3, 3]``, ``joints_h36m_cam [T, 17, 3]`` (metres) and ``keypoints_2d [T, 17, 2]`` (pixels).
    """
    from diffmesh import body
    from diffmesh.io.video import VideoWriter
    from diffmesh.render import Renderer

    bm = body_model if body_model is not None else body.load("open")
    K = default_intrinsics(width, height) if K is None else K
    bg = background_image(width, height)
    frames = len(motion.transl)
    visible = np.ones(frames, bool) if visible is None else visible
    faces = bm.faces.cpu().numpy()
    joints_all = np.zeros((frames, 17, 3), np.float32)
    with torch.inference_mode():
        out = bm(
            betas=torch.from_numpy(np.repeat(motion.betas[None], frames, 0)),
            body_pose=torch.from_numpy(motion.pose_aa[:, 1:]),
            global_orient=torch.from_numpy(motion.pose_aa[:, :1]),
            transl=torch.from_numpy(motion.transl),
        )
    verts = out.vertices.numpy()
    joints_all[:] = out.joints_h36m.numpy()
    with Renderer(width, height, backend=backend) as r, VideoWriter(path, motion.fps, width, height, crf=crf) as w:  # type: ignore[arg-type]
        for i in range(frames):
            img = r.render(verts[i], faces, K, background=bg, color=(0.72, 0.55, 0.45)).image if visible[i] else bg
            w.write(img)
    return {"K": K, "joints_h36m_cam": joints_all, "keypoints_2d": project(joints_all, K).astype(np.float32)}
