"""Evaluation metrics exactly as the official code computes them (EVALUATION.md).

Float64 NumPy, as the official evaluation. All joint errors are in the units of the inputs
(millimetres in every official protocol).

* :func:`mpjpe`, :func:`p_mpjpe` — per-frame errors of the H36M pose protocol (§1);
* :func:`rigid_align`, :func:`evaluate_mesh` — the mesh metrics (§2);
* :func:`compute_error_accel`, :func:`evaluate_mesh_accel` — DiffMesh's acceleration error
  (§2.1, per 16-frame clip, DEVIATIONS D-E5);
* :func:`evaluate_h36m_pose` — the H36M per-action protocol (#1 MPJPE, #2 P-MPJPE);
* :func:`flip_average` — flip test-time augmentation of pose models.
* :func:`floor_angle_error_deg`, :func:`w_mpjpe`, :func:`wa_mpjpe`, :func:`root_trajectory_error`,
  :func:`foot_sliding_mm`, :func:`jitter` — world-frame metrics of video motion (WHAM / GVHMR),
  joints in metres, errors in mm.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from diffmesh.conventions import H36M_EVAL_14, NUM_H36M_JOINTS
from diffmesh.geometry.flip import flip_data

logger = logging.getLogger(__name__)

__all__ = [
    "mpjpe",
    "p_mpjpe",
    "rigid_transform",
    "rigid_align",
    "MeshMetrics",
    "evaluate_mesh",
    "compute_error_accel",
    "evaluate_mesh_accel",
    "H36M_EVAL_BLOCKLIST",
    "H36MPoseMetrics",
    "evaluate_h36m_pose",
    "flip_average",
]


def _as_joints(x: np.ndarray | torch.Tensor, name: str, ndim: int = 3) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != ndim or x.shape[-1] != 3:
        raise ValueError(f"{name} must have shape {'[N, J, 3]' if ndim == 3 else '[J, 3]'}, got {list(x.shape)}")
    return x


def _joint_pair(pred: np.ndarray, gt: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = _as_joints(pred, "pred"), _as_joints(gt, "gt")
    if pred.shape != gt.shape:
        raise ValueError(f"{metric}: pred shape {list(pred.shape)} differs from gt shape {list(gt.shape)}")
    return pred, gt


def mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-frame mean joint distance of ``pred, gt [N, J, 3]`` → ``[N]``."""
    pred, gt = _joint_pair(pred, gt, "mpjpe")
    return np.mean(np.linalg.norm(pred - gt, axis=-1), axis=1)


def p_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-frame MPJPE after similarity (Procrustes) alignment of ``pred`` to ``gt`` (official
    ``p_mpjpe``): ``pred, gt [N, J, 3]`` → ``[N]``."""
    pred, gt = _joint_pair(pred, gt, "p_mpjpe")
    mu_x = gt.mean(axis=1, keepdims=True)
    mu_y = pred.mean(axis=1, keepdims=True)
    x0, y0 = gt - mu_x, pred - mu_y
    norm_x = np.sqrt(np.sum(x0**2, axis=(1, 2), keepdims=True))
    norm_y = np.sqrt(np.sum(y0**2, axis=(1, 2), keepdims=True))
    x0, y0 = x0 / norm_x, y0 / norm_y
    h = np.matmul(x0.transpose(0, 2, 1), y0)  # [N, 3, 3]
    u, s, vt = np.linalg.svd(h)
    v = vt.transpose(0, 2, 1)
    r = np.matmul(v, u.transpose(0, 2, 1))
    # Avoid reflections: flip the last singular direction where det(R) = -1.
    sign_det = np.sign(np.expand_dims(np.linalg.det(r), axis=1))  # [N, 1]
    v[:, :, -1] *= sign_det
    s[:, -1] *= sign_det.flatten()
    r = np.matmul(v, u.transpose(0, 2, 1))
    scale = np.expand_dims(np.sum(s, axis=1, keepdims=True), axis=2) * norm_x / norm_y  # [N, 1, 1]
    t = mu_x - scale * np.matmul(mu_y, r)
    aligned = scale * np.matmul(pred, r) + t
    return np.mean(np.linalg.norm(aligned - gt, axis=-1), axis=1)


def rigid_transform(a: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Umeyama similarity ``(c, R [3,3], t [3])`` minimising ``‖c·R·a + t − b‖`` (official ``rigid_transform_3D``)."""
    a, b = _as_joints(a, "A", ndim=2), _as_joints(b, "B", ndim=2)
    if a.shape != b.shape:
        raise ValueError(f"rigid_align: A shape {list(a.shape)} differs from B shape {list(b.shape)}")
    n = a.shape[0]
    centroid_a, centroid_b = a.mean(axis=0), b.mean(axis=0)
    h = np.dot((a - centroid_a).T, b - centroid_b) / n
    u, s, v = np.linalg.svd(h)  # NumPy convention: v is V^T
    r = np.dot(v.T, u.T)
    if np.linalg.det(r) < 0:
        s[-1] = -s[-1]
        v[2] = -v[2]
        r = np.dot(v.T, u.T)
    var_a = np.var(a, axis=0).sum()
    c = 1 / var_a * np.sum(s)
    t = -np.dot(c * r, centroid_a.T) + centroid_b.T
    return float(c), r, t


def rigid_align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Align ``a [J,3]`` (prediction) to ``b [J,3]`` (target) with :func:`rigid_transform`; returns ``[J,3]``."""
    c, r, t = rigid_transform(a, b)
    return np.dot(c * r, np.asarray(a, dtype=np.float64).T).T + t


@dataclass(frozen=True)
class MeshMetrics:
    """Mesh-recovery metrics in mm (EVALUATION.md §2), keys as the official ``evaluate_mesh``.

    mpve: mean vertex error after subtracting each mesh's own regressed pelvis.
    mpjpe: pelvis-relative 14-joint MPJPE (the reported "MPJPE", used for model selection).
    pa_mpjpe: 14-joint error after per-frame similarity alignment.
    mpjpe_17j, pa_mpjpe_17j: the same on all 17 joints.
    """

    mpve: float
    mpjpe: float
    pa_mpjpe: float
    mpjpe_17j: float
    pa_mpjpe_17j: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def evaluate_mesh(
    verts: np.ndarray, verts_gt: np.ndarray, kp_3d: np.ndarray, kp_3d_gt: np.ndarray
) -> MeshMetrics:
    """The official ``evaluate_mesh``: plain means over all K frames.

    Args:
        verts, verts_gt: ``[K, V, 3]`` (or ``[B, T, V, 3]``) predicted / GT vertices, mm.
        kp_3d, kp_3d_gt: ``[K, 17, 3]`` (or ``[B, T, 17, 3]``) H36M joints regressed from them, mm.
    """
    pv = _as_joints(np.asarray(verts).reshape(-1, np.shape(verts)[-2], 3), "verts")
    tv = _as_joints(np.asarray(verts_gt).reshape(-1, np.shape(verts_gt)[-2], 3), "verts_gt")
    pj = _as_joints(np.asarray(kp_3d).reshape(-1, NUM_H36M_JOINTS, 3), "kp_3d")
    tj = _as_joints(np.asarray(kp_3d_gt).reshape(-1, NUM_H36M_JOINTS, 3), "kp_3d_gt")
    if pv.shape != tv.shape or pj.shape != tj.shape or len(pv) != len(pj):
        raise ValueError(
            f"evaluate_mesh: inconsistent shapes verts {list(pv.shape)}, verts_gt {list(tv.shape)}, "
            f"kp_3d {list(pj.shape)}, kp_3d_gt {list(tj.shape)}; expected [K, V, 3] twice and [K, 17, 3] twice"
        )
    pv = pv - pj[:, :1]
    tv = tv - tj[:, :1]
    mpve = np.mean(np.mean(np.sqrt(np.square(pv - tv).sum(axis=2)), axis=1))
    pj17 = pj - pj[:, :1]
    tj17 = tj - tj[:, :1]
    eval14 = list(H36M_EVAL_14)
    pj14, tj14 = pj17[:, eval14], tj17[:, eval14]
    mpjpe14 = np.mean(np.sqrt(np.square(pj14 - tj14).sum(axis=2)), axis=1)
    mpjpe17 = np.mean(np.sqrt(np.square(pj17 - tj17).sum(axis=2)), axis=1)
    pa17 = [np.sqrt(np.square(rigid_align(p, t) - t).sum(axis=1)).mean() for p, t in zip(pj17, tj17)]
    pa14 = [np.sqrt(np.square(rigid_align(p, t) - t).sum(axis=1)).mean() for p, t in zip(pj14, tj14)]
    return MeshMetrics(
        mpve=float(mpve),
        mpjpe=float(mpjpe14.mean()),
        pa_mpjpe=float(np.mean(pa14)),
        mpjpe_17j=float(mpjpe17.mean()),
        pa_mpjpe_17j=float(np.mean(pa17)),
    )


def compute_error_accel(joints_gt: np.ndarray, joints_pred: np.ndarray, vis: np.ndarray | None = None) -> np.ndarray:
    """Per-frame acceleration error (VIBE's ``compute_error_accel``, argument order as officially).

    Args:
        joints_gt, joints_pred: ``[N, J, 3]``.
        vis: optional ``[N]`` visibility; frames whose neighbourhood is invisible are dropped.

    Returns:
        ``[N−2]`` (fewer with ``vis``): mean over joints of ``‖a_pred − a_gt‖₂`` with
        ``a_t = X_{t−1} − 2X_t + X_{t+1}`` (units/frame², no fps scaling).
    """
    gt, pred = _as_joints(joints_gt, "joints_gt"), _as_joints(joints_pred, "joints_pred")
    accel_gt = gt[:-2] - 2 * gt[1:-1] + gt[2:]
    accel_pred = pred[:-2] - 2 * pred[1:-1] + pred[2:]
    normed = np.linalg.norm(accel_pred - accel_gt, axis=2)
    if vis is None:
        keep = np.ones(len(normed), dtype=bool)
    else:
        invis = np.logical_not(np.asarray(vis, dtype=bool))
        invis1 = np.roll(invis, -1)
        invis2 = np.roll(invis, -2)
        keep = np.logical_not(np.logical_or(invis, np.logical_or(invis1, invis2)))[:-2]
    return np.mean(normed[keep], axis=1)


def evaluate_mesh_accel(kp_3d: np.ndarray, kp_3d_gt: np.ndarray, clip_len: int = 16) -> float:
    """DiffMesh's ``acc_err`` (EVALUATION.md §2.1): per clip of ``clip_len`` consecutive frames.

    14-joint pelvis-relative joints; mean over the clip's inner frames of
    :func:`compute_error_accel`, then mean over clips (mm/frame²).

    Args:
        kp_3d, kp_3d_gt: ``[K, 17, 3]`` concatenated test outputs, ``K`` a multiple of ``clip_len``.
    """
    pj = _as_joints(np.asarray(kp_3d).reshape(-1, NUM_H36M_JOINTS, 3), "kp_3d")
    tj = _as_joints(np.asarray(kp_3d_gt).reshape(-1, NUM_H36M_JOINTS, 3), "kp_3d_gt")
    if pj.shape != tj.shape or len(pj) % clip_len or clip_len < 3:
        raise ValueError(
            f"evaluate_mesh_accel needs equal [K, 17, 3] inputs with K a multiple of clip_len={clip_len} (>= 3); "
            f"got {list(pj.shape)} and {list(tj.shape)}"
        )
    eval14 = list(H36M_EVAL_14)
    pj = (pj - pj[:, :1])[:, eval14].reshape(-1, clip_len, len(eval14), 3)
    tj = (tj - tj[:, :1])[:, eval14].reshape(-1, clip_len, len(eval14), 3)
    return float(np.mean([compute_error_accel(t, p).mean() for p, t in zip(pj, tj)]))


# ---------------------------------------------------------------------------------------------
# H36M 3-D pose protocol (EVALUATION.md §1)

#: Test sequences the official evaluation skips (source id without the ``_ca_XX`` suffix).
H36M_EVAL_BLOCKLIST: tuple[str, ...] = (
    "s_09_act_05_subact_02",
    "s_09_act_10_subact_02",
    "s_09_act_13_subact_01",
)
# Length of the camera suffix "_ca_01" stripped from a source id.
_CAMERA_SUFFIX_LEN = 6


@dataclass(frozen=True)
class H36MPoseMetrics:
    """H36M Protocol #1 / #2 in mm: unweighted means of the per-action means.

    mpjpe: Protocol #1. p_mpjpe: Protocol #2. per_action: ``{action: (mpjpe, p_mpjpe)}``.
    num_frames: frames evaluated (covered by a clip, not blocklisted).
    """

    mpjpe: float
    p_mpjpe: float
    per_action: dict[str, tuple[float, float]]
    num_frames: int

    def table(self) -> str:
        """A two-row text table (actions as columns), as the official script prints."""
        names = list(self.per_action)
        width = max(8, *(len(n) for n in names)) if names else 8
        head = "".ljust(8) + "".join(n.rjust(width + 1) for n in names)
        p1 = "P1".ljust(8) + "".join(f"{self.per_action[n][0]:.2f}".rjust(width + 1) for n in names)
        p2 = "P2".ljust(8) + "".join(f"{self.per_action[n][1]:.2f}".rjust(width + 1) for n in names)
        return "\n".join((head, p1, p2))


def evaluate_h36m_pose(
    pred_clips: np.ndarray,
    clips: np.ndarray,
    actions: Sequence[str] | np.ndarray,
    factors: np.ndarray,
    gt_joints: np.ndarray,
    sources: Sequence[str] | np.ndarray,
    blocklist: Sequence[str] = H36M_EVAL_BLOCKLIST,
) -> H36MPoseMetrics:
    """The official H36M evaluation (``train.py evaluate``, steps 4-6 of EVALUATION.md §1).

    Args:
        pred_clips: ``[n_clips, T, 17, 3]`` predictions already de-normalised to pixel units
            (:meth:`diffmesh.data.readers.h36m.H36MReader.denormalize`), root joint zeroed
            for root-relative models.
        clips: ``[n_clips, T]`` frame indices of each clip (``split_clips(sources, 243, 243)``).
        actions: ``[N]`` per-frame action names of the test table.
        factors: ``[N]`` per-frame ``2.5d_factor`` (pixels → mm).
        gt_joints: ``[N, 17, 3]`` ``joints_2.5d_image`` (mm).
        sources: ``[N]`` per-frame video ids (``s_09_act_02_subact_01_ca_01``).
        blocklist: sequences to skip.

    Returns:
        :class:`H36MPoseMetrics`.
    """
    pred_clips = np.asarray(pred_clips, dtype=np.float64)
    clips = np.asarray(clips)
    actions = np.asarray(actions)
    factors = np.asarray(factors, dtype=np.float64)
    gt_joints = np.asarray(gt_joints, dtype=np.float64)
    sources = np.asarray(sources)
    n = len(actions)
    if pred_clips.shape[:2] != clips.shape or pred_clips.shape[2:] != (NUM_H36M_JOINTS, 3):
        raise ValueError(
            f"pred_clips has shape {list(pred_clips.shape)}, expected [n_clips, T, 17, 3] with "
            f"[n_clips, T] = {list(clips.shape)} (one prediction per clip of the test split)"
        )
    if len(factors) != n or len(gt_joints) != n or len(sources) != n:
        raise ValueError(
            f"per-frame arrays disagree: actions {n}, 2.5d_factor {len(factors)}, "
            f"joints_2.5d_image {len(gt_joints)}, source {len(sources)}"
        )
    if clips.size and (clips.min() < 0 or clips.max() >= n):
        raise ValueError(f"clip indices must lie in [0, {n - 1}], got [{clips.min()}, {clips.max()}]")
    blocked = set(blocklist)
    e1_all = np.zeros(n)
    e2_all = np.zeros(n)
    count = np.zeros(n)
    for idx in range(len(clips)):
        frames = clips[idx]
        if str(sources[frames[0]])[:-_CAMERA_SUFFIX_LEN] in blocked:
            continue
        pred = pred_clips[idx] * factors[frames][:, None, None]  # pixels -> mm
        gt = gt_joints[frames]
        pred = pred - pred[:, 0:1]
        gt = gt - gt[:, 0:1]
        # Fancy-index "+=" adds once per unique index (as officially; duplicates only occur
        # inside resampled short videos).
        e1_all[frames] += mpjpe(pred, gt)
        e2_all[frames] += p_mpjpe(pred, gt)
        count[frames] += 1
    evaluated = e1_all > 0
    action_names = sorted(set(actions.tolist()))
    per_action: dict[str, tuple[float, float]] = {}
    for action in action_names:
        sel = evaluated & (actions == action)
        if not sel.any():
            logger.warning("H36M evaluation: action %r has no evaluated frame", action)
            per_action[action] = (float("nan"), float("nan"))
            continue
        per_action[action] = (
            float(np.mean(e1_all[sel] / count[sel])),
            float(np.mean(e2_all[sel] / count[sel])),
        )
    p1 = float(np.mean([v[0] for v in per_action.values()])) if per_action else float("nan")
    p2 = float(np.mean([v[1] for v in per_action.values()])) if per_action else float("nan")
    return H36MPoseMetrics(mpjpe=p1, p_mpjpe=p2, per_action=per_action, num_frames=int(evaluated.sum()))


def flip_average(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Flip test-time augmentation of a joint-to-joint model: ``½·(f(x) + flip(f(flip(x))))``.

    Args:
        fn: model ``[B, T, 17, C] → [B, T, 17, D]`` (H36M joints, x in channel 0).
        x: ``[B, T, 17, C]`` normalised input.
    """
    return (fn(x) + flip_data(fn(flip_data(x)))) / 2


# ---------------------------------------------------------------------------------------------
# World-frame metrics of video motion (the WHAM / GVHMR protocol, adapted to joints)
#
# Inputs are joints ``[T, J, 3]`` in metres, frames in time order; errors come out in mm unless
# stated. The predicted and true world frames need not agree (y up vs z up, other origins):
# the aligned errors fit the transform between them, the others are invariant to it.

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
