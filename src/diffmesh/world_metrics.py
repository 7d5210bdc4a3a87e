"""World-frame metrics of video motion, as WHAM and GVHMR report them, adapted to joints.

Inputs are joints ``[T, J, 3]`` in metres, frames in time order; errors come out in mm unless
stated. The predicted and true world frames need not agree (y up vs z up, other origins): the
aligned errors fit the transform between them, the others are invariant to it.

* :func:`floor_angle_error_deg` — the floor normal's error;
* :func:`w_mpjpe`, :func:`wa_mpjpe` — W-MPJPE100 / WA-MPJPE100;
* :func:`root_trajectory_error` — RTE in % of the distance travelled;
* :func:`true_foot_contact`, :func:`foot_sliding_mm`, :func:`foot_sliding_true_contact_mm` — foot sliding;
* :func:`jitter` — mean jerk.
"""

from __future__ import annotations

import numpy as np

from diffmesh.metrics import _joint_pair, rigid_transform, _as_joints

__all__: list[str] = []

#: Frames per segment of W-MPJPE100 / WA-MPJPE100 (WHAM, GVHMR).
WORLD_SEGMENT_FRAMES = 100
#: A true foot (ankle joint) at most this high above the floor (metres) ...
TRUE_CONTACT_HEIGHT_M = 0.2
#: ... and horizontally slower than this (metres per second; 1 cm/frame at 30 fps, GVHMR's
#: foot-sliding threshold) is planted (:func:`true_foot_contact`).
TRUE_CONTACT_SPEED_M_S = 0.3
#: :func:`root_trajectory_error` is undefined (NaN) when the true root travels less than this (metres).
RTE_MIN_PATH_M = 1.0

__all__ += [
    "WORLD_SEGMENT_FRAMES",
    "TRUE_CONTACT_HEIGHT_M",
    "TRUE_CONTACT_SPEED_M_S",
    "RTE_MIN_PATH_M",
    "floor_angle_error_deg",
    "w_mpjpe",
    "wa_mpjpe",
    "root_trajectory_error",
    "true_foot_contact",
    "foot_sliding_mm",
    "foot_sliding_true_contact_mm",
    "jitter",
]

_M_TO_MM = 1000.0


def floor_angle_error_deg(normal_pred: np.ndarray, normal_true: np.ndarray) -> np.ndarray:
    """Angle (degrees) between predicted and true floor normals, per frame.

    Args:
        normal_pred, normal_true: ``[3]`` (one for every frame, e.g. a static camera) or
            ``[T, 3]``, in the same (camera) frame; need not be unit length.

    Returns:
        ``[T]`` (``[]`` when both are ``[3]``), in ``[0, 180]``; NaN where a normal is not finite.
    """
    a, b = np.asarray(normal_pred, dtype=np.float64), np.asarray(normal_true, dtype=np.float64)
    if a.shape[-1:] != (3,) or b.shape[-1:] != (3,) or a.ndim > 2 or b.ndim > 2:
        raise ValueError(f"floor normals must be [3] or [T, 3], got {list(a.shape)} and {list(b.shape)}")
    # atan2(|a x b|, a . b) stays accurate near 0 deg, where arccos of the dot product does not.
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), np.sum(a * b, axis=-1)))


def _finite_pair(pred: np.ndarray, gt: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = _joint_pair(pred, gt, metric)
    if not (np.isfinite(pred).all() and np.isfinite(gt).all()):
        raise ValueError(f"{metric}: joints must be finite; drop the frames without a person first (as WHAM and GVHMR do)")
    return pred, gt


def _fit(a: np.ndarray, b: np.ndarray, with_scale: bool) -> tuple[float, np.ndarray, np.ndarray]:
    """``(c, R, t)`` minimising ``‖c·R·a + t − b‖`` over points ``a, b [N, 3]`` (``c = 1`` without scale).

    The optimal rotation does not depend on whether the scale is fitted, so both cases reuse
    :func:`rigid_transform`'s Umeyama solution; only the translation changes with ``c``.
    """
    c, r, _ = rigid_transform(a, b)
    c = c if with_scale else 1.0
    return c, r, b.mean(axis=0) - c * r @ a.mean(axis=0)


def _segment_mpjpe_mm(pred: np.ndarray, gt: np.ndarray, segment: int, fit_frames: int | None, with_scale: bool) -> np.ndarray:
    if segment < 1:
        raise ValueError(f"segment must be a positive number of frames, got {segment}")
    errors = []
    for start in range(0, len(pred), segment):
        p, g = pred[start : start + segment], gt[start : start + segment]
        n = len(p) if fit_frames is None else fit_frames
        c, r, t = _fit(p[:n].reshape(-1, 3), g[:n].reshape(-1, 3), with_scale)
        aligned = c * p @ r.T + t
        errors.append(np.linalg.norm(aligned - g, axis=-1).mean(axis=1))
    return np.concatenate(errors) * _M_TO_MM if errors else np.zeros(0)


def w_mpjpe(pred: np.ndarray, gt: np.ndarray, segment: int = WORLD_SEGMENT_FRAMES, with_scale: bool = True) -> np.ndarray:
    """W-MPJPE (W-MPJPE100 with the default ``segment``): world MPJPE after aligning each segment
    by its first two frames.

    The sequence is cut into consecutive segments of ``segment`` frames (the last may be
    shorter); in each, the transform that best maps the prediction's joints of the segment's
    first two frames onto the truth's is fitted (Umeyama, on those ``2·J`` points only, nothing
    later), applied to the whole segment, and the per-frame MPJPE is taken. Drift after the
    start of a segment therefore counts in full.

    Definition followed: WHAM (Shin et al., CVPR 2024; ``lib/eval/eval_utils.py``
    ``first_align_joints``, 100-frame chunks in ``evaluate_emdb.py``) and GVHMR (Shen et al.,
    SIGGRAPH Asia 2024; ``compute_global_metrics``), both from SLAHMR's ``first_align_joints``.
    Their fit is a *similarity* (rotation, translation and scale: ``align_pcl`` with its default
    ``fixed_scale=False``), our default; ``with_scale=False`` fits rotation and translation only.

    Args:
        pred, gt: ``[T, J, 3]`` metres, finite (drop frames without a person first), each in its
            own world frame.
        segment: frames per segment.
        with_scale: fit the scale too (the published protocol).

    Returns:
        ``[T]`` per-frame error in mm (the protocol's number is its mean).
    """
    pred, gt = _finite_pair(pred, gt, "w_mpjpe")
    return _segment_mpjpe_mm(pred, gt, segment, fit_frames=2, with_scale=with_scale)


def wa_mpjpe(pred: np.ndarray, gt: np.ndarray, segment: int = WORLD_SEGMENT_FRAMES) -> np.ndarray:
    """WA-MPJPE (WA-MPJPE100 with the default ``segment``): world MPJPE after aligning each whole
    segment by one similarity transform.

    As :func:`w_mpjpe`, but the similarity (rotation, translation, scale) is fitted on all the
    segment's joints of all its frames (WHAM / GVHMR / SLAHMR ``global_align_joints``).

    Args:
        pred, gt: ``[T, J, 3]`` metres, finite, each in its own world frame.
        segment: frames per segment.

    Returns:
        ``[T]`` per-frame error in mm.
    """
    pred, gt = _finite_pair(pred, gt, "wa_mpjpe")
    return _segment_mpjpe_mm(pred, gt, segment, fit_frames=None, with_scale=True)


def root_trajectory_error(pred_root: np.ndarray, gt_root: np.ndarray, min_path_m: float = RTE_MIN_PATH_M) -> np.ndarray:
    """RTE: root position error after one rigid alignment of the whole trajectory, in % of the
    distance the true root travelled.

    The rotation and translation (no scale) that best map the predicted root trajectory onto
    the true one over *all* frames are fitted (Umeyama); each frame's distance between aligned
    and true root is divided by the true path length ``Σ‖r_{t+1} − r_t‖`` and given in %.
    Definition followed: WHAM and GVHMR ``compute_rte`` (``align_pcl(..., fixed_scale=True)``,
    normalised by the total ground-truth displacement, ×100); they use the SMPL root / pelvis,
    the benchmark uses the hip midpoint. Not in the published protocol: with a true path shorter
    than ``min_path_m`` the ratio measures noise, so the result is NaN.

    Args:
        pred_root, gt_root: ``[T, 3]`` metres, finite, each in its own world frame.
        min_path_m: shortest true path scored.

    Returns:
        ``[T]`` per-frame error in % (the protocol's number is its mean); all NaN below ``min_path_m``.
    """
    pred, gt = _finite_pair(np.asarray(pred_root)[:, None], np.asarray(gt_root)[:, None], "root_trajectory_error")
    pred, gt = pred[:, 0], gt[:, 0]
    path = float(np.linalg.norm(np.diff(gt, axis=0), axis=-1).sum())
    if len(gt) < 2 or path < min_path_m:
        return np.full(len(gt), np.nan)
    _, r, t = _fit(pred, gt, with_scale=False)
    return np.linalg.norm(pred @ r.T + t - gt, axis=-1) / path * 100


def _horizontal(x: np.ndarray, up_axis: int) -> np.ndarray:
    if up_axis not in (0, 1, 2):
        raise ValueError(f"up_axis must be 0, 1 or 2 (the world's vertical axis: 1 for y up, 2 for z up), got {up_axis}")
    return np.delete(np.asarray(x, dtype=np.float64), up_axis, axis=-1)


def true_foot_contact(
    feet_true: np.ndarray,
    fps: float,
    up_axis: int = 2,
    floor: float = 0.0,
    max_height_m: float = TRUE_CONTACT_HEIGHT_M,
    max_speed_m_s: float = TRUE_CONTACT_SPEED_M_S,
) -> np.ndarray:
    """Planted feet from true motion: a foot joint low and slow.

    A foot is planted in frame ``t`` when its height above the floor is below ``max_height_m``
    and its horizontal speed (central differences, one-sided at the ends) below
    ``max_speed_m_s``. With the ankle joint (the truth has no sole points) the defaults are
    0.2 m (an ankle sits 5-10 cm above a flat sole, ~15-20 cm on tiptoe) and 0.3 m/s (GVHMR's
    1 cm/frame at 30 fps, made independent of the frame rate).

    Args:
        feet_true: ``[T, F, 3]`` metres in a world frame whose axis ``up_axis`` is vertical
            (Anny's: z up, ``up_axis=2``) and floor at height ``floor``.
        fps: frame rate.

    Returns:
        ``[T, F]`` bool (False where a foot is not finite).
    """
    feet = np.asarray(feet_true, dtype=np.float64)
    if feet.ndim != 3 or feet.shape[-1] != 3:
        raise ValueError(f"feet_true must have shape [T, F, 3], got {list(feet.shape)}")
    if len(feet) < 2:
        return np.zeros(feet.shape[:2], dtype=bool)
    speed = np.linalg.norm(np.gradient(_horizontal(feet, up_axis), axis=0), axis=-1) * fps
    return (feet[..., up_axis] - floor < max_height_m) & (speed < max_speed_m_s)  # NaN compares False


def foot_sliding_mm(feet_world: np.ndarray, contact: np.ndarray, up_axis: int = 1) -> float:
    """Foot sliding: mean horizontal displacement (mm per frame) of feet while planted.

    Every step ``t → t+1`` in which a foot is planted in both frames contributes that foot's
    horizontal displacement; steps touching a non-finite position are skipped. GVHMR's "FS"
    uses true contacts and the full 3-D displacement of four sole vertices; here the contacts
    are any labels (the prediction's own, or :func:`true_foot_contact` through
    :func:`foot_sliding_true_contact_mm`) and the motion is horizontal only, so a foot put
    down onto the floor does not count as sliding.

    Args:
        feet_world: ``[T, F, 3]`` metres in a world frame whose axis ``up_axis`` is vertical
            (1 for diffmesh's y-up world; 1 also for a camera frame used as a world).
        contact: ``[T, F]`` bool, foot planted.

    Returns:
        mm/frame; NaN when no foot is planted in two consecutive frames.
    """
    feet, contact = np.asarray(feet_world, dtype=np.float64), np.asarray(contact, dtype=bool)
    if feet.ndim != 3 or feet.shape[-1] != 3 or contact.shape != feet.shape[:2]:
        raise ValueError(
            f"foot_sliding_mm: feet_world must be [T, F, 3] and contact [T, F], got {list(feet.shape)} and {list(contact.shape)}"
        )
    step = np.linalg.norm(np.diff(_horizontal(feet, up_axis), axis=0), axis=-1)  # [T-1, F]
    scored = contact[1:] & contact[:-1] & np.isfinite(step)
    return float(step[scored].mean() * _M_TO_MM) if scored.any() else float("nan")


def foot_sliding_true_contact_mm(
    feet_world: np.ndarray, feet_true: np.ndarray, fps: float, up_axis: int = 1, true_up_axis: int = 2, true_floor: float = 0.0
) -> float:
    """:func:`foot_sliding_mm` of predicted feet where the *true* feet are planted
    (:func:`true_foot_contact` with its default thresholds).

    Args:
        feet_world: ``[T, F, 3]`` predicted feet, world frame with vertical axis ``up_axis``.
        feet_true: ``[T, F, 3]`` the same feet, true, vertical axis ``true_up_axis``, floor at ``true_floor``.
        fps: frame rate.
    """
    contact = true_foot_contact(feet_true, fps, up_axis=true_up_axis, floor=true_floor)
    return foot_sliding_mm(feet_world, contact, up_axis=up_axis)


def jitter(joints: np.ndarray, fps: float) -> float:
    """Jitter: mean jerk magnitude of the joints, in m/s³.

    ``‖X_{t+3} − 3X_{t+2} + 3X_{t+1} − X_t‖ · fps³`` (the third finite difference), averaged
    over joints and windows; windows touching a non-finite frame are skipped. Definition
    followed: WHAM and GVHMR ``compute_jitter``, which report this divided by 10 (their tables'
    unit is 10 m/s³); this function returns plain m/s³.

    Args:
        joints: ``[T, J, 3]`` metres.
        fps: frame rate.

    Returns:
        m/s³; NaN with fewer than 4 frames or no finite window.
    """
    x = _as_joints(joints, "joints")
    if len(x) < 4:
        return float("nan")
    jerk = np.linalg.norm(x[3:] - 3 * x[2:-1] + 3 * x[1:-2] - x[:-3], axis=-1) * fps**3  # [T-3, J]
    per_window = jerk.mean(axis=1)
    per_window = per_window[np.isfinite(per_window)]
    return float(per_window.mean()) if per_window.size else float("nan")
