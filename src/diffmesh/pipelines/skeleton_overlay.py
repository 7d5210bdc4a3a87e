"""The overlay of ``diffmesh pose``: each frame with the 2-D keypoints the network read, beside
the lifted 3-D skeleton seen from a fixed three-quarter view (``skeleton.mp4``).

The 3-D panel is orthographic, centred on the pelvis every frame, with one scale for the whole
clip (so the skeleton does not breathe); it works for either unit of ``diffmesh pose``'s output
(the normalised crop box or ``--pixel``). Left limbs are blue, right limbs red, as in the
benchmark contact sheets.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from diffmesh.conventions import H36M_BONES, H36M_JOINTS
from diffmesh.io.video import VideoInfo, VideoWriter, iter_frames
from diffmesh.pipelines.settings import Progress, no_progress
from diffmesh.pipelines.threads import prefetch

__all__ = ["draw_skeleton", "project_three_quarter", "write_skeleton_overlay"]

_LEFT = {H36M_JOINTS.index(n) for n in H36M_JOINTS if n.startswith("left_")}
_RIGHT = {H36M_JOINTS.index(n) for n in H36M_JOINTS if n.startswith("right_")}
_BLUE, _RED, _GREY = (40, 90, 255), (230, 40, 40), (60, 60, 60)


def _bone_colour(child: int) -> tuple[int, int, int]:
    return _BLUE if child in _LEFT else _RED if child in _RIGHT else _GREY


def project_three_quarter(joints: np.ndarray, has_person: np.ndarray, width: int, height: int, yaw_deg: float = 35.0) -> np.ndarray:
    """``[N, 17, 3]`` joints (x right, y down, z away) → ``[N, 17, 2]`` pixels of a ``width x height``
    panel: turned ``yaw_deg`` about the vertical axis, pelvis at the panel's centre, one scale
    that fits 95 % of the frames with a person."""
    a = np.radians(yaw_deg)
    rel = joints - joints[:, :1]
    x = rel[..., 0] * np.cos(a) + rel[..., 2] * np.sin(a)
    y = rel[..., 1]
    seen = has_person & np.isfinite(rel).all(axis=(1, 2))
    per_frame = np.maximum(np.abs(x), np.abs(y)).max(axis=1)[seen]  # one outlier frame must not shrink the rest
    extent = max(float(np.percentile(per_frame, 95)) if per_frame.size else 0.0, 1e-6)
    scale = 0.45 * min(width, height) / extent
    return np.stack([width / 2 + scale * x, height / 2 + scale * y], axis=-1)


def draw_skeleton(img: np.ndarray, pts: np.ndarray, conf: np.ndarray | None = None, thickness: int = 3) -> None:
    import cv2

    for parent, child in H36M_BONES:
        if conf is not None and min(conf[parent], conf[child]) <= 0.05:
            continue
        p, c = pts[parent], pts[child]
        cv2.line(img, (int(round(p[0])), int(round(p[1]))), (int(round(c[0])), int(round(c[1]))),
                 _bone_colour(child), thickness, cv2.LINE_AA)  # fmt: skip
    for j, q in enumerate(pts):
        if conf is None or conf[j] > 0.05:
            cv2.circle(img, (int(round(q[0])), int(round(q[1]))), thickness + 1, _bone_colour(j), -1, cv2.LINE_AA)


def write_skeleton_overlay(
    info: VideoInfo,
    start: int,
    end: int,
    keypoints_2d: np.ndarray,
    joints_3d: np.ndarray,
    has_person: np.ndarray,
    path: str | os.PathLike[str],
    progress: Progress = no_progress,
) -> Path:
    """Decode frames ``[start, end)`` again and write ``path`` (twice the video's width): the frame
    with its 2-D skeleton, then the 3-D panel. Rows of the arrays are those frames; frames without
    a person get the plain frame and an empty panel. Written to a temporary file, then renamed."""
    path = Path(path)
    n = end - start
    panel_xy = project_three_quarter(joints_3d, has_person, info.width, info.height)
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    try:
        with VideoWriter(tmp, info.fps_fraction, 2 * info.width, info.height, threads=1) as w:
            for frame in prefetch(iter_frames(info.path, start, end, threads=1)):
                i = frame.index - start
                img = np.ascontiguousarray(frame.image)
                panel = np.full_like(img, 250)
                if has_person[i]:
                    draw_skeleton(img, keypoints_2d[i, :, :2], keypoints_2d[i, :, 2])
                    draw_skeleton(panel, panel_xy[i])
                w.write(np.concatenate([img, panel], axis=1))
                progress("overlay", i + 1, n)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
