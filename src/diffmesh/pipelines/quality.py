"""How sure a run's frames are: the ``quality`` report of ``summary.json``.

A user's own video has no ground truth, so the report says where the result has less to stand
on, from what the run itself knows:

- **no person**: frames in no segment (nobody tracked; the outputs hold the last pose there);
- **interpolated**: frames inside a segment where the detector lost the person and the keypoints
  were filled in from both sides;
- **poor fit**: frames where the mesh's joints, projected with the run's camera, land on average
  more than :data:`POOR_FIT_PCT` % of the person's size away from the detected keypoints. On the
  held-out clips (docs/benchmarks.md §5.8) that distance ranked the frames' 3-D error far better
  than the detector's confidences did, and the frames above 5 % were 1.6x as wrong as the rest.

Runs of each kind (gaps of up to :data:`BRIDGE_FRAMES` frames bridged, at least
:data:`MIN_STRETCH_FRAMES` frames long) are listed as ``unsure`` stretches in video frame numbers.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: A frame fits poorly when its mean keypoint distance exceeds this share of the person's size (%).
POOR_FIT_PCT = 5.0
#: Keypoints below this confidence are not compared.
MIN_CONFIDENCE = 0.5
#: Shorter stretches are not listed; flagged frames this close together join one stretch.
MIN_STRETCH_FRAMES = 3
BRIDGE_FRAMES = 2
#: Warn when more than this share of the frames with a person fit poorly or were interpolated.
WARN_SHARE = 0.1


def keypoint_fit_pct(joints_cam: np.ndarray, K: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """Per frame, the mean image distance between the projected joints and the confident keypoints,
    in % of the person's size in the image (the larger side of the keypoints' bounding box).

    Args:
        joints_cam: ``[T, J, 3]`` metres, camera frame (NaN rows: no result).
        K: ``[3, 3]`` or ``[T, 3, 3]`` pixels.
        keypoints: ``[T, J, 3]`` ``(x, y, confidence)`` in the same joint order.

    Returns:
        ``[T]`` float64; NaN where the frame has no result or no confident keypoint.
    """
    X = joints_cam.astype(np.float64)
    Ks = np.broadcast_to(np.asarray(K, np.float64), (len(X), 3, 3))
    uv = np.einsum("tij,tkj->tki", Ks, X)
    with np.errstate(invalid="ignore", divide="ignore"):
        uv = uv[..., :2] / uv[..., 2:3]
        dist = np.linalg.norm(uv - keypoints[..., :2], axis=-1)  # [T, J]
    seen = keypoints[..., 2] >= MIN_CONFIDENCE
    sure = seen & np.isfinite(dist)
    count = sure.sum(1)
    mean = np.where(sure, dist, 0.0).sum(1) / np.maximum(count, 1)
    lo = np.where(seen[..., None], keypoints[..., :2], np.inf).min(1)
    hi = np.where(seen[..., None], keypoints[..., :2], -np.inf).max(1)
    with np.errstate(invalid="ignore"):
        size = np.nan_to_num((hi - lo).max(1), nan=0.0, neginf=0.0, posinf=0.0)  # [T]
    return np.where((count > 0) & (size > 0), 100.0 * mean / np.maximum(size, 1e-9), np.nan)


def stretches(flags: np.ndarray, bridge: int = BRIDGE_FRAMES, min_frames: int = MIN_STRETCH_FRAMES) -> list[tuple[int, int]]:
    """Runs ``[start, end)`` of true ``flags`` (row indices), joined across gaps of at most ``bridge``
    frames, kept when at least ``min_frames`` long."""
    idx = np.flatnonzero(flags)
    if not len(idx):
        return []
    breaks = np.flatnonzero(np.diff(idx) > bridge + 1)
    starts = np.r_[idx[0], idx[breaks + 1]]
    ends = np.r_[idx[breaks], idx[-1]] + 1
    return [(int(s), int(e)) for s, e in zip(starts, ends) if e - s >= min_frames]


def quality_report(valid: np.ndarray, detected: np.ndarray, fit: np.ndarray, frames: np.ndarray) -> dict[str, Any]:
    """The ``quality`` section of ``summary.json`` for one person (see the module's text).

    Args:
        valid: ``[T]`` the frame has a result; detected: ``[T]`` the detector found the person.
        fit: ``[T]`` :func:`keypoint_fit_pct` of the frames (NaN where unknown).
        frames: ``[T]`` the rows' video frame numbers (the stretches are given in them).
    """
    fit = np.where(valid, fit, np.nan)
    interpolated = valid & ~detected
    poor = np.nan_to_num(fit, nan=0.0) > POOR_FIT_PCT
    unsure = []
    for why, flags in (("no person", ~valid), ("interpolated", interpolated), ("poor fit", poor)):
        for s, e in stretches(flags):
            unsure.append({"start": int(frames[s]), "end": int(frames[e - 1]) + 1, "why": why})
    unsure.sort(key=lambda u: (u["start"], u["end"]))
    measured = fit[np.isfinite(fit)]
    return {
        "keypoint_fit_pct_median": round(float(np.median(measured)), 2) if len(measured) else None,
        "poor_fit_above_pct": POOR_FIT_PCT,
        "frames_poor_fit": int(poor.sum()),
        "frames_interpolated": int(interpolated.sum()),
        "unsure": unsure,
    }


def warn_if_unsure(report: dict[str, Any], frames_with_person: int, who: str = "") -> None:
    """Log a warning when more than :data:`WARN_SHARE` of a person's frames fit poorly or were interpolated."""
    poor, filled = report["frames_poor_fit"], report["frames_interpolated"]
    if frames_with_person <= 0 or (poor + filled) / frames_with_person <= WARN_SHARE:
        return
    parts = [f"{poor} fit the keypoints poorly (the mesh more than {POOR_FIT_PCT:g}% of the body's size from them)"] if poor else []
    parts += [f"{filled} were interpolated (the detector lost the person)"] if filled else []
    listed = [u for u in report["unsure"] if u["why"] != "no person"]
    where = ", ".join(f"{u['start']}-{u['end'] - 1}" for u in listed[:3]) + (", ..." if len(listed) > 3 else "")
    logger.warning("%sof %d frames with a person, %s: the 3-D pose is less sure there%s (summary.json's quality)",
                   f"{who}: " if who else "", frames_with_person, " and ".join(parts),
                   f", frames {where}" if where else "")  # fmt: skip
