"""Global placement: where the body is in the camera frame, frame by frame.

The networks predict a root-relative body (pelvis near the origin, camera-oriented). The
translation that makes its joints project onto the detected 2-D keypoints is solved per
frame in closed form (:func:`diffmesh.geometry.camera.fit_translation`), then smoothed over
time inside each segment (:func:`smooth_trajectory`), so the overlay follows the person
without the per-frame jitter of the detector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import nn

from diffmesh.geometry.camera import fit_translation
from diffmesh.pipelines.prediction import MeshSequence, h36m_joints
from diffmesh.pipelines.tracking import Segment, Track

__all__ = ["DEPTH_SMOOTH_FACTOR", "PlacedMesh", "place_mesh", "place_sequence", "smooth_trajectory"]

#: The distance to the body is smoothed over this many times the frames its direction is: a
#: monocular fit takes the distance from the body's size in the image, its noisiest coordinate.
#: Held-out video benchmark (docs/benchmarks.md §6.4), factor 1 / 3 / 6: WA-MPJPE100 155 / 144 / 145 mm,
#: W-MPJPE100 364 / 334 / 344 mm, jitter 268 / 224 / 223 m/s³, mesh reprojection 2.87 / 2.89 / 2.93 %.
DEPTH_SMOOTH_FACTOR = 3.0


def smooth_trajectory(transl: np.ndarray, segments: list[Segment], sigma_frames: float,
                      depth_factor: float = DEPTH_SMOOTH_FACTOR) -> np.ndarray:  # fmt: skip
    """Gaussian-smooth ``[N, 3]`` translations inside each segment (edges renormalised, no mixing across
    segments); frames outside segments stay NaN. ``sigma_frames <= 0`` returns a copy.

    The direction toward the body (``x/z``, ``y/z``: where it is in the image) is smoothed over
    ``sigma_frames``, its depth over ``depth_factor`` times that, in log space (the noise of a
    distance taken from a size is proportional to it).
    """
    out = np.full_like(transl, np.nan, dtype=np.float64)
    if sigma_frames <= 0:
        for s in segments:
            out[s.start : s.end] = transl[s.start : s.end]
        return out
    kernels = []
    for sigma in (sigma_frames, sigma_frames, sigma_frames * depth_factor):
        radius = max(1, int(round(3 * sigma)))
        kernels.append((radius, np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)))
    for s in segments:
        seg = np.array(transl[s.start : s.end], dtype=np.float64)
        z = seg[:, 2].copy()
        seg = np.stack([seg[:, 0] / z, seg[:, 1] / z, np.log(z)], 1)
        valid = np.isfinite(seg).all(1).astype(np.float64)
        seg = np.nan_to_num(seg)
        n = len(seg)
        # "full" then centre-crop: np.convolve's "same" returns the longer length for short segments.
        num = np.stack([np.convolve(seg[:, k] * valid, kern)[r : r + n] for k, (r, kern) in enumerate(kernels)], 1)
        den = np.stack([np.convolve(valid, kern)[r : r + n] for r, kern in kernels], 1)
        sm = num / np.maximum(den, 1e-12)
        depth = np.exp(sm[:, 2])
        sm = np.stack([sm[:, 0] * depth, sm[:, 1] * depth, depth], 1)
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


@dataclass
class PlacedMesh:
    """The model stage's result: per-frame body parameters and where the body is in the camera frame.

    Attributes:
        mesh: the blended network output (:class:`~diffmesh.pipelines.prediction.MeshSequence`).
        joints_m: ``[N, 17, 3]`` H36M joints of the posed body, metres, root-relative (no translation).
        transl_raw: ``[N, 3]`` per-frame translation fits (NaN without a person or a fit).
        transl: ``[N, 3]`` the smoothed trajectory, metres, camera frame (NaN outside segments).
        reproj_px: ``[N]`` reprojection error of the raw fits, pixels.
    """

    mesh: MeshSequence
    joints_m: np.ndarray
    transl_raw: np.ndarray
    transl: np.ndarray
    reproj_px: np.ndarray

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Named arrays for the stage cache (:meth:`from_arrays` reads them back)."""
        return {"rotmats": self.mesh.rotmats, "betas": self.mesh.betas, "joints": self.joints_m,
                "transl": self.transl, "transl_raw": self.transl_raw, "reproj": self.reproj_px}  # fmt: skip

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> PlacedMesh:
        return cls(MeshSequence(a["rotmats"], a["betas"]), a["joints"], a["transl_raw"], a["transl"], a["reproj"])


def place_mesh(body_model: nn.Module, mesh: MeshSequence, trk: Track, K: np.ndarray, sigma_frames: float) -> PlacedMesh:
    """Pose the body model with ``mesh`` and place it so that its joints project onto ``trk``'s keypoints."""
    joints_m = h36m_joints(body_model, mesh)
    raw, transl, reproj = place_sequence(joints_m, trk.keypoints, trk.has_person, trk.segments, K, sigma_frames)
    return PlacedMesh(mesh, joints_m, raw, transl, reproj)
