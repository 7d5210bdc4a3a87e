"""Synthetic cameras: random intrinsics and a random static camera that sees the whole motion.

Frames: the *world* is the body model's frame (metres, **Y up**, floor at ``y = 0``); the
*camera* frame is OpenCV's (x right, y down, z forward, metres), ``X_cam = R_w2c X_world +
t_w2c`` (:class:`diffmesh.geometry.camera.Camera`). Pixels: ``u = fx·x/z + cx``,
``v = fy·y/z + cy`` (:func:`diffmesh.geometry.camera.project`), origin at the top-left corner.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from diffmesh.geometry.camera import Camera, look_at, project

logger = logging.getLogger(__name__)

__all__ = ["CameraRanges", "IMAGE_SIZES", "sample_camera"]

#: Image sizes (width, height) sampled for synthetic cameras: video landscape and portrait,
#: H36M-like square, webcam.
IMAGE_SIZES: tuple[tuple[int, int], ...] = (
    (1920, 1080), (1280, 720), (1080, 1920), (720, 1280), (1000, 1000), (640, 480),
)  # fmt: skip


@dataclass(frozen=True)
class CameraRanges:
    """Sampling ranges of :func:`sample_camera` (uniform unless stated).

    Attributes:
        focal_over_size: focal length / longer image side (0.55–1.5 ≈ 37°–85° across the
            long side: wide phone lenses to mild tele).
        distance: horizontal camera-to-subject distance, metres (raised when the motion
            would not fit the image).
        height: camera height above the floor, metres.
        target_height: height of the aimed-at point, metres.
        roll_std: camera roll standard deviation, radians (hand-held tilt).
        principal_jitter: principal point offset std, as a fraction of the image size.
        margin: fraction of the image kept free around the projected motion.
    """

    focal_over_size: tuple[float, float] = (0.55, 1.5)
    distance: tuple[float, float] = (2.5, 8.0)
    height: tuple[float, float] = (0.3, 2.4)
    target_height: tuple[float, float] = (0.7, 1.1)
    roll_std: float = math.radians(3.0)
    principal_jitter: float = 0.01
    margin: float = 0.05


def _fits(points_cam: np.ndarray, cam: Camera, margin: float) -> bool:
    if points_cam[..., 2].min() < 0.3:
        return False
    uv = project(points_cam, cam.K)
    mx, my = margin * cam.width, margin * cam.height
    return bool(
        uv[..., 0].min() >= mx and uv[..., 0].max() <= cam.width - mx
        and uv[..., 1].min() >= my and uv[..., 1].max() <= cam.height - my
    )  # fmt: skip


def sample_camera(
    rng: np.random.Generator,
    points_world: np.ndarray,
    ranges: CameraRanges = CameraRanges(),
    image_size: tuple[int, int] | None = None,
) -> Camera:
    """A random static camera that sees the whole motion.

    The camera stands at a random yaw around the motion's centre, at a random height and
    distance, aims at a random height of the subject's path, and backs away (up to 8 times
    by 25 %) until every point projects inside the image with ``ranges.margin`` to spare.

    Args:
        rng: the clip's random stream.
        points_world: ``[..., 3]`` points that must be visible (e.g. all joints of all frames).
        ranges: sampling ranges.
        image_size: ``(width, height)``; ``None`` samples one of :data:`IMAGE_SIZES`.
    """
    if image_size is None:
        width, height = IMAGE_SIZES[int(rng.integers(len(IMAGE_SIZES)))]
    else:
        width, height = image_size
    f = rng.uniform(*ranges.focal_over_size) * max(width, height)
    cx = width / 2 + rng.normal(0, ranges.principal_jitter) * width
    cy = height / 2 + rng.normal(0, ranges.principal_jitter) * height
    K = np.array([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]])

    pts = points_world.reshape(-1, 3)
    centre = 0.5 * (pts.min(0) + pts.max(0))
    radius = 0.5 * float(np.linalg.norm((pts.max(0) - pts.min(0))[[0, 2]]))  # horizontal half-extent
    yaw = rng.uniform(0, 2 * math.pi)
    direction = np.array([math.sin(yaw), 0.0, math.cos(yaw)])
    distance = max(rng.uniform(*ranges.distance), radius + 1.0)
    cam_height = rng.uniform(*ranges.height)
    target = np.array([centre[0], rng.uniform(*ranges.target_height), centre[2]])
    roll = float(rng.normal(0, ranges.roll_std))
    for _ in range(9):
        eye = target + direction * distance
        eye[1] = cam_height
        R, t = look_at(eye, target, roll)
        cam = Camera(K=K, R_w2c=R, t_w2c=t, width=width, height=height)
        if _fits(cam.world_to_camera(pts), cam, ranges.margin):
            break
        distance *= 1.25
    else:
        logger.debug("sample_camera: motion still exceeds the image at distance %.1f m", distance)
    return cam
