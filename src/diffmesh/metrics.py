"""Evaluation metrics exactly as the official code computes them (EVALUATION.md).

Float64 NumPy, as the official evaluation. All joint errors are in the units of the inputs
(millimetres in every official protocol).

* :func:`mpjpe`, :func:`p_mpjpe` — per-frame errors of the H36M pose protocol (§1);
* :func:`rigid_align`, :func:`evaluate_mesh` — the mesh metrics (§2);
* :func:`compute_error_accel`, :func:`evaluate_mesh_accel` — DiffMesh's acceleration error
  (§2.1, per 16-frame clip, DEVIATIONS D-E5);
* :func:`evaluate_h36m_pose` — the H36M per-action protocol (#1 MPJPE, #2 P-MPJPE);
* :func:`flip_average` — flip test-time augmentation of pose models.

World-frame metrics of video motion (W-MPJPE, RTE, foot sliding, ...) are in :mod:`diffmesh.world_metrics`.
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
