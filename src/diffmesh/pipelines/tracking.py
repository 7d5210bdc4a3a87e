"""Keep one person across frames, fill short gaps, split at long ones.

Pure NumPy functions on per-frame keypoints aligned to frame indices:

- :func:`follow_person` picks, in each frame with several detections, the one closest to the
  person kept in the previous frames (multi-person AlphaPose files);
- :func:`track` linearly interpolates gaps of at most ``max_gap`` frames and cuts the
  sequence into :class:`Segment` s at longer gaps, so no motion is invented while the
  person is away. Frames outside every segment are marked ``has_person = False``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["Segment", "Track", "follow_person", "nobody_found", "track", "true_runs"]

#: A joint counts as seen when its confidence is above this.
MIN_JOINT_CONFIDENCE = 0.05


@dataclass(frozen=True)
class Segment:
    """Frames ``start <= i < end`` (indices into the track's rows) with a person throughout."""

    start: int
    end: int

    def __len__(self) -> int:
        return self.end - self.start


@dataclass
class Track:
    """One person's keypoints over a video.

    Attributes:
        keypoints: ``[N, 17, 3]`` (x, y pixels, confidence); interpolated inside short gaps
            (confidence of interpolated joints scaled by ``0.5``), zero where ``has_person`` is False.
        detected: ``[N]`` bool, the detector found the person in this frame.
        has_person: ``[N]`` bool, detected or interpolated (inside a segment).
        segments: maximal runs of ``has_person`` frames, in order.
        world: ``[N, 17, 3]`` the detector's 3-D joints, gaps filled like ``keypoints``; None when
            the keypoint source has none.
    """

    keypoints: np.ndarray
    detected: np.ndarray
    has_person: np.ndarray
    segments: list[Segment]
    world: np.ndarray | None = None


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of consecutive ``True`` in ``mask [N]`` as ``(start, end)`` (end exclusive), in order."""
    edges = np.diff(np.concatenate([[0], np.asarray(mask, bool).astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _centre(kp: np.ndarray) -> np.ndarray:
    """Confidence-weighted centre ``[..., 2]`` of ``[..., 17, 3]`` keypoints."""
    w = np.clip(kp[..., 2], 0, None)[..., None]
    return (kp[..., :2] * w).sum(-2) / np.maximum(w.sum(-2), 1e-6)


def follow_person(candidates: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Choose one detection per frame so that the same person is kept.

    Args:
        candidates: per frame a ``[M_i, 17, 3]`` array of detections (``M_i`` may be 0).

    Returns:
        ``(keypoints [N, 17, 3], detected [N])``. The first person is the one with the largest
        summed confidence in the first frame with detections; afterwards the detection whose
        centre is nearest to the last kept centre (relative to the person's size) is kept, unless it is
        farther than two body sizes away (then the frame counts as "person not found").
    """
    n = len(candidates)
    out = np.zeros((n, 17, 3), dtype=np.float32)
    detected = np.zeros(n, dtype=bool)
    last_centre: np.ndarray | None = None
    last_size = 1.0
    for i, cands in enumerate(candidates):
        if len(cands) == 0:
            continue
        if last_centre is None:
            k = int(np.argmax(np.clip(cands[..., 2], 0, None).sum(-1)))
        else:
            dist = np.linalg.norm(_centre(cands) - last_centre, axis=-1)
            k = int(np.argmin(dist))
            if dist[k] > 2.0 * last_size:
                continue
        kp = cands[k]
        out[i], detected[i] = kp, True
        last_centre = _centre(kp)
        seen = kp[kp[:, 2] > MIN_JOINT_CONFIDENCE, :2]
        if len(seen) >= 2:
            last_size = float(max(np.ptp(seen[:, 0]), np.ptp(seen[:, 1]), 1.0))
    return out, detected


def nobody_found(n: int) -> ValueError:
    """The error for a video in none of whose ``n`` frames a person was found."""
    return ValueError(f"no person was found in any of the {n} frames; check that one person is fully visible "
                      "(BlazePose needs people at least ~150 px tall), or pass --keypoints with your own detections")  # fmt: skip


def track(
    keypoints: np.ndarray, detected: np.ndarray, max_gap: int = 10, min_length: int = 1, world: np.ndarray | None = None
) -> Track:
    """Interpolate gaps of at most ``max_gap`` frames and split the sequence at longer ones.

    Args:
        keypoints: ``[N, 17, 3]`` per-frame keypoints (x, y, confidence); rows where ``detected`` is
            False are ignored.
        detected: ``[N]`` bool.
        world: optional ``[N, 17, 3]`` 3-D joints of the same detections, filled and cut alike.
        max_gap: longest run of missing frames that is filled by linear interpolation.
        min_length: segments shorter than this are dropped (their frames marked without person).

    Raises:
        ValueError: no frame has a person.
    """
    keypoints = np.asarray(keypoints, dtype=np.float32)
    detected = np.asarray(detected, dtype=bool)
    n = len(detected)
    if keypoints.shape != (n, 17, 3):
        raise ValueError(f"keypoints must be [N, 17, 3] with N = len(detected) = {n}, got {list(keypoints.shape)}")
    if world is not None:
        world = np.asarray(world, dtype=np.float32)
        if world.shape != keypoints.shape:
            raise ValueError(f"world joints must be [N, 17, 3] like the keypoints, got {list(world.shape)}")
        keypoints = np.concatenate([keypoints, world], axis=-1)  # filled and cut together below
    if max_gap < 0 or min_length < 1:
        raise ValueError(f"need max_gap >= 0 and min_length >= 1, got {max_gap}, {min_length}")
    if not detected.any():
        raise nobody_found(n)
    out = np.where(detected[:, None, None], keypoints, 0.0).astype(np.float32)
    has_person = detected.copy()
    idx = np.flatnonzero(detected)
    for a, b in zip(idx[:-1], idx[1:]):
        gap = b - a - 1
        if 0 < gap <= max_gap:
            # Linear in time between the two detections on either side of the gap.
            w = (np.arange(1, gap + 1, dtype=np.float32) / (gap + 1))[:, None, None]
            interp = (1 - w) * keypoints[a] + w * keypoints[b]
            interp[..., 2] *= 0.5  # interpolated joints are less certain than seen ones
            out[a + 1 : b] = interp
            has_person[a + 1 : b] = True
    segments: list[Segment] = []
    for start, end in true_runs(has_person):
        if end - start >= min_length:
            segments.append(Segment(start, end))
        else:  # too short to keep
            has_person[start:end] = False
            out[start:end] = 0.0
    if not segments:
        raise ValueError(
            f"no run of at least {min_length} frames with a person was found in {n} frames; "
            "lower min_length or check the video"
        )
    logger.debug("tracking: %d frames, %d detected, %d segments", n, int(detected.sum()), len(segments))
    world_out = None if world is None else np.ascontiguousarray(out[..., 3:])
    return Track(np.ascontiguousarray(out[..., :3]), detected, has_person, segments, world_out)
