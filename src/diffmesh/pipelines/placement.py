"""Global placement: where the body is in the camera frame, frame by frame.

The networks predict a root-relative body (pelvis near the origin, camera-oriented). The
translation that makes its joints project onto the detected 2-D keypoints is solved per
frame in closed form (:func:`diffmesh.geometry.camera.fit_translation`), then smoothed over
time inside each segment (:func:`smooth_trajectory`), so the overlay follows the person
without the per-frame jitter of the detector.
"""

from __future__ import annotations

import numpy as np

from diffmesh.geometry.camera import fit_translation
from diffmesh.pipelines.tracking import Segment

__all__ = ["place_sequence", "smooth_trajectory"]


def smooth_trajectory(transl: np.ndarray, segments: list[Segment], sigma_frames: float) -> np.ndarray:
    """Gaussian-smooth ``[N, 3]`` translations inside each segment (edges renormalised, no mixing across
    segments); frames outside segments stay NaN. ``sigma_frames <= 0`` returns a copy.

    Depth is smoothed in log space: its noise is multiplicative (proportional to distance).
    """
    out = np.full_like(transl, np.nan, dtype=np.float64)
    if sigma_frames <= 0:
        for s in segments:
            out[s.start : s.end] = transl[s.start : s.end]
        return out
    radius = max(1, int(round(3 * sigma_frames)))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_frames) ** 2)
    for s in segments:
        seg = np.array(transl[s.start : s.end], dtype=np.float64)
        seg[:, 2] = np.log(seg[:, 2])
        valid = np.isfinite(seg).all(1).astype(np.float64)
        seg = np.nan_to_num(seg)
        n = len(seg)
        # "full" then centre-crop: np.convolve's "same" returns the longer length for short segments.
        num = np.stack([np.convolve(seg[:, k] * valid, kernel)[radius : radius + n] for k in range(3)], 1)
        den = np.convolve(valid, kernel)[radius : radius + n, None]
        sm = num / np.maximum(den, 1e-12)
        sm[:, 2] = np.exp(sm[:, 2])
        sm[den[:, 0] < 1e-12] = np.nan
        out[s.start : s.end] = sm
    return out


def place_sequence(
    joints_m: np.ndarray,
    keypoints: np.ndarray,
    has_person: np.ndarray,
    segments: list[Segment],
    K: np.ndarray,
    sigma_frames: float = 2.0,
    min_confidence: float = 0.3,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Camera translation of the root-relative body in every frame.

    Args:
        joints_m: ``[N, 17, 3]`` H36M joints (metres) of the predicted body, root-relative, camera-oriented.
        keypoints: ``[N, 17, 3]`` detected keypoints (x, y pixels, confidence).
        has_person: ``[N]`` bool.
        segments: the tracker's segments (smoothing never crosses a gap).
        K: ``[3, 3]`` intrinsics.
        sigma_frames: Gaussian smoothing of the trajectory, in frames.
        min_confidence: joints below this confidence do not constrain the fit.

    Returns:
        ``(transl_raw [N, 3], transl [N, 3], reproj_px [N])``: per-frame fits, the smoothed trajectory
        (metres, camera frame; NaN without a person) and the raw fits' reprojection error (pixels).
    """
    w = np.where(keypoints[..., 2] >= min_confidence, keypoints[..., 2], 0.0) * has_person[:, None]
    raw, reproj = fit_translation(joints_m, keypoints[..., :2], w, K)
    # Frames where the fit failed (too few confident joints) are interpolated by the smoother.
    raw[~has_person] = np.nan
    return raw, smooth_trajectory(raw, segments, sigma_frames), reproj
