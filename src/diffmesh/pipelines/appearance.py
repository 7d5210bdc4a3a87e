"""What a person looks like, to tell people apart (:mod:`diffmesh.pipelines.people`): hue-saturation
histograms of the torso (the shoulder-hip quadrilateral) and of the legs (hip-knee-ankle strokes),
compared by their Bhattacharyya coefficient."""

from __future__ import annotations

import numpy as np

__all__ = ["APPEARANCE_BINS", "APPEARANCE_RATE", "appearance", "similarity"]

#: Appearance (:func:`appearance`): hue x saturation histogram bins of the torso and of the legs.
APPEARANCE_BINS = (12, 4)
#: A person's appearance is a moving average over the frames where their box overlaps nobody
#: else's; this is the new frame's weight.
APPEARANCE_RATE = 0.1

_SHOULDERS, _HIPS = (11, 12), (23, 24)
_LEG_BONES = ((23, 25), (25, 27), (24, 26), (26, 28))  # hip-knee, knee-ankle per side


def appearance(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray | None:
    """Hue-saturation histograms (:data:`APPEARANCE_BINS`, each summing to 1) of the torso (the
    shoulder-hip quadrilateral) and of the legs (hip-knee-ankle strokes) of one person: ``[2, n]``,
    or None when neither region has a pixel in the image."""
    import cv2

    xy = landmarks[:, :2].astype(np.float64)
    h = float(np.linalg.norm(xy[list(_SHOULDERS)].mean(0) - xy[[27, 28]].mean(0)))
    pts = xy[list(_SHOULDERS + _HIPS) + [25, 26, 27, 28]]
    lo = np.floor(pts.min(0) - 0.05 * h).astype(int).clip(0)
    hi = np.ceil(pts.max(0) + 0.05 * h).astype(int) + 1
    roi = image[lo[1] : hi[1], lo[0] : hi[0]]
    if roi.size == 0:
        return None
    hsv = cv2.cvtColor(roi, cv2.COLOR_RGB2HSV)
    local = np.round(xy - lo).astype(np.int32)
    torso = np.zeros(roi.shape[:2], np.uint8)
    cv2.fillConvexPoly(torso, local[[11, 12, 24, 23]], 1)
    legs = np.zeros(roi.shape[:2], np.uint8)
    for a, b in _LEG_BONES:
        cv2.line(legs, (int(local[a, 0]), int(local[a, 1])), (int(local[b, 0]), int(local[b, 1])), 1, max(2, int(0.06 * h)))
    out = []
    for mask in (torso, legs):
        hist = cv2.calcHist([hsv], [0, 1], mask, list(APPEARANCE_BINS), [0, 180, 0, 256]).ravel()
        out.append(hist / hist.sum() if hist.sum() > 0 else np.full(hist.size, np.nan))
    a = np.stack(out)
    return None if np.isnan(a).all() else a


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Mean Bhattacharyya coefficient of two appearances over the regions both have (1: identical)."""
    bc = np.sqrt(a * b).sum(1)
    return float(np.nanmean(bc)) if np.isfinite(bc).any() else 0.0
