"""Video files for tests: a render of the open body model walking (known motion) and a video
with no frames. Shared by the pipeline and CLI tests (test modules never import each other)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: Size and frame rate of the rendered walk.
W, H, FPS = 480, 360, 25.0


def make_walk_video(path: Path, frames: int = 30, visible: np.ndarray | None = None) -> dict:
    """Render the open body model walking (known motion) into ``path``; returns the ground truth
    (``keypoints_2d``, ``joints_h36m_cam``, ``transl`` ...). ``visible[t] = False`` leaves frame
    ``t`` empty (background only)."""
    from diffmesh.pipelines.sample import render_motion_video, walking_motion

    motion = walking_motion(frames, FPS)
    gt = render_motion_video(path, motion, W, H, visible=visible)
    gt["transl"] = motion.transl
    return gt


def write_zero_frame_video(path: Path) -> None:
    """An AVI with a video stream header and no frames."""
    import av

    c = av.open(str(path), "w")
    s = c.add_stream("mpeg4", rate=25)
    s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
    c.start_encoding()
    c.close()
