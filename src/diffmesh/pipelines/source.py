"""The front of every video command: probe → frame range → output folder → keypoints → tracking.

``diffmesh infer`` runs these stages itself (with its stage cache); ``embed``, ``pose`` and
``action`` call :func:`tracked_video` so that they share them rather than copy them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from diffmesh.io.video import VideoInfo, probe_video
from diffmesh.pipelines.keypoints import FrameKeypoints, find_keypoints
from diffmesh.pipelines.settings import InferSettings, Progress, no_progress
from diffmesh.pipelines.tracking import Track, track

__all__ = ["TrackedVideo", "tracked_video"]


@dataclass
class TrackedVideo:
    """A video's tracked person: where it came from and the output folder prepared for it."""

    info: VideoInfo
    start: int
    end: int
    out: Path
    keypoints: FrameKeypoints
    track: Track


def tracked_video(
    video: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None,
    settings: InferSettings,
    progress: Progress = no_progress,
    min_frames: int = 1,
    purpose: str = "process",
) -> TrackedVideo:
    """Probe ``video`` (one-line errors before anything is written), prepare ``out_dir``, find and
    track the person; raises ``ValueError`` when fewer than ``min_frames`` frames have a person.
    ``out_dir=None``: no output folder (``out`` is then the video's folder, not written to)."""
    from diffmesh.pipelines.infer import frame_range
    from diffmesh.pipelines.outputs import prepare_output_folder

    info = probe_video(video)
    start, end = frame_range(info, settings.start, settings.end)
    out = prepare_output_folder(out_dir) if out_dir is not None else Path(video).parent
    kps = find_keypoints(info, start, end, settings, progress)
    trk = track(kps.keypoints, kps.detected, max_gap=settings.max_gap, world=kps.world)
    if int(trk.has_person.sum()) < min_frames:
        raise ValueError(
            f"a person was found in {int(trk.has_person.sum())} of the {end - start} frames of {str(video)!r} "
            f"(at least {min_frames} needed); nothing to {purpose}. Check that one person is fully visible, "
            "or pass --keypoints with your own detections"
        )
    return TrackedVideo(info, start, end, out, kps, trk)
