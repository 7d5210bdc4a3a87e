"""Training losses of MotionBERT / DiffMesh with the official arithmetic (TRAINING.md §0, §1-6).

Pose losses take predicted / target joints ``P, G: [N, T, 17, 3]`` and return scalar tensors
(plain means over all listed axes). :func:`pose3d_loss` and :func:`mesh_loss` return typed
results with every named term and the weighted total, so the training loop logs the same
terms as the official scripts. Losses are computed outside the models (STYLE habit 6) and
take their device and dtype from the inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from diffmesh.conventions import H36M_BONE_ANGLE_PAIRS, H36M_BONES, NUM_SMPL_JOINTS
from diffmesh.geometry.rotations import axis_angle_to_rotmat

__all__ = [
    "loss_mpjpe",
    "loss_n_mpjpe",
    "loss_velocity",
    "loss_2d_weighted",
    "limb_lengths",
    "bone_angles",
    "loss_limb_var",
    "loss_limb_gt",
    "loss_angle",
    "loss_angle_velocity",
    "PoseLossWeights",
    "PoseLossTerms",
    "pose3d_loss",
    "MeshLossWeights",
    "MeshLossTerms",
    "mesh_loss",
    "MeshLoss",
    "loss_diff",
    "supcon_loss",
    "SupConLoss",
]

# Cosine clamp of the angle losses: keeps acos' gradient finite for parallel bones.
_ANGLE_EPS = 1e-7


def _check_pair(pred: torch.Tensor, gt: torch.Tensor, name: str) -> None:
    if pred.shape != gt.shape:
        raise ValueError(f"{name}: prediction shape {list(pred.shape)} differs from target shape {list(gt.shape)}")


def _zero(like: torch.Tensor) -> torch.Tensor:
    return like.new_zeros(())


def loss_mpjpe(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Mean per-joint position error: mean over all leading axes of ``‖P − G‖₂`` (last axis)."""
    _check_pair(pred, gt, "loss_mpjpe")
    return torch.linalg.vector_norm(pred - gt, dim=-1).mean()


def loss_n_mpjpe(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Scale-normalised MPJPE: per (n, t) rescale ``P`` by ``s = Σ⟨G_j,P_j⟩ / Σ‖P_j‖²`` first.

    Args:
        pred, gt: ``[N, T, J, 3]``. The gradient flows through ``s`` (as officially).
    """
    _check_pair(pred, gt, "loss_n_mpjpe")
    norm_pred = torch.mean(torch.sum(pred**2, dim=3, keepdim=True), dim=2, keepdim=True)  # [N, T, 1, 1]
    norm_target = torch.mean(torch.sum(gt * pred, dim=3, keepdim=True), dim=2, keepdim=True)
    return loss_mpjpe(norm_target / norm_pred * pred, gt)


def loss_velocity(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Mean ``‖(P_{t+1} − P_t) − (G_{t+1} − G_t)‖₂`` over ``N, T−1, J``; 0 when ``T ≤ 1``.

    Args:
        pred, gt: ``[N, T, J, 3]``.
    """
    _check_pair(pred, gt, "loss_velocity")
    if pred.shape[1] <= 1:
        return _zero(pred)
    return loss_mpjpe(pred[:, 1:] - pred[:, :-1], gt[:, 1:] - gt[:, :-1])


def loss_2d_weighted(pred: torch.Tensor, gt: torch.Tensor, conf: torch.Tensor) -> torch.Tensor:
    """Confidence-weighted 2-D error: mean over ``N, T, J`` of ``‖(P_xy − G_xy)·c‖₂``.

    Args:
        pred, gt: ``[N, T, J, ≥2]`` (only x, y are used).
        conf: ``[N, T, J, 1]`` per-joint confidence / visibility.
    """
    _check_pair(pred, gt, "loss_2d_weighted")
    diff = (pred[..., :2] - gt[..., :2]) * conf
    return torch.linalg.vector_norm(diff, dim=-1).mean()


_BONE_PARENT = [p for p, _ in H36M_BONES]
_BONE_CHILD = [c for _, c in H36M_BONES]
_ANGLE_FIRST = [a for a, _ in H36M_BONE_ANGLE_PAIRS]
_ANGLE_SECOND = [b for _, b in H36M_BONE_ANGLE_PAIRS]


def _bone_vectors(x: torch.Tensor) -> torch.Tensor:
    """``[N, T, 17, 3]`` → ``[N, T, 16, 3]`` parent − child vectors of :data:`H36M_BONES`."""
    return x[..., _BONE_PARENT, :] - x[..., _BONE_CHILD, :]


def limb_lengths(x: torch.Tensor) -> torch.Tensor:
    """``[N, T, 17, 3]`` → ``[N, T, 16]`` bone lengths."""
    return torch.linalg.vector_norm(_bone_vectors(x), dim=-1)


def bone_angles(x: torch.Tensor) -> torch.Tensor:
    """``[N, T, 17, 3]`` → ``[N, T, 18]`` angles (radians) between the bone pairs of :data:`H36M_BONE_ANGLE_PAIRS`."""
    bones = _bone_vectors(x)
    cos = F.cosine_similarity(bones[..., _ANGLE_FIRST, :], bones[..., _ANGLE_SECOND, :], dim=-1)
    return torch.acos(cos.clamp(-1 + _ANGLE_EPS, 1 - _ANGLE_EPS))


def loss_limb_var(pred: torch.Tensor) -> torch.Tensor:
    """Mean over ``N`` and bones of the unbiased temporal variance of each bone length; 0 when ``T ≤ 1``."""
    if pred.shape[1] <= 1:
        return _zero(pred)
    return torch.var(limb_lengths(pred), dim=1).mean()


def loss_limb_gt(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """L1 between predicted and target bone lengths."""
    _check_pair(pred, gt, "loss_limb_gt")
    return F.l1_loss(limb_lengths(pred), limb_lengths(gt))


def loss_angle(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """L1 between predicted and target inter-bone angles."""
    _check_pair(pred, gt, "loss_angle")
    return F.l1_loss(bone_angles(pred), bone_angles(gt))


def loss_angle_velocity(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """L1 between the temporal differences of predicted and target inter-bone angles; 0 when
    ``T ≤ 1`` (single images: an empty mean would be NaN, and its zero weight would not
    cancel it: 0·NaN = NaN)."""
    _check_pair(pred, gt, "loss_angle_velocity")
    if pred.shape[1] <= 1:
        return _zero(pred)
    a_pred, a_gt = bone_angles(pred), bone_angles(gt)
    return F.l1_loss(a_pred[:, 1:] - a_pred[:, :-1], a_gt[:, 1:] - a_gt[:, :-1])


# ---------------------------------------------------------------------------------------------
# 3-D pose (pre-training and pose3d, TRAINING.md §1-2)


@dataclass(frozen=True)
class PoseLossWeights:
    """Weights of the 3-D pose loss (official config names in comments; defaults = every official config)."""

    scale: float = 0.5  # lambda_scale
    velocity: float = 20.0  # lambda_3d_velocity
    limb_var: float = 0.0  # lambda_lv
    limb_gt: float = 0.0  # lambda_lg
    angle: float = 0.0  # lambda_a
    angle_velocity: float = 0.0  # lambda_av


@dataclass
class PoseLossTerms:
    """Named terms (scalar tensors, official log names) and ``total = mpjpe + Σ weight·term``."""

    loss_3d_pos: torch.Tensor
    loss_3d_scale: torch.Tensor
    loss_3d_velocity: torch.Tensor
    loss_lv: torch.Tensor
    loss_lg: torch.Tensor
    loss_a: torch.Tensor
    loss_av: torch.Tensor
    total: torch.Tensor

    def as_dict(self) -> dict[str, torch.Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _joint_terms(pred: torch.Tensor, gt: torch.Tensor) -> dict[str, torch.Tensor]:
    """The 3-D joint terms shared by the pose and mesh objectives (official log names)."""
    return {
        "loss_3d_pos": loss_mpjpe(pred, gt),
        "loss_3d_scale": loss_n_mpjpe(pred, gt),
        "loss_3d_velocity": loss_velocity(pred, gt),
        "loss_lv": loss_limb_var(pred),
        "loss_lg": loss_limb_gt(pred, gt),
        "loss_a": loss_angle(pred, gt),
        "loss_av": loss_angle_velocity(pred, gt),
    }


def pose3d_loss(pred: torch.Tensor, gt: torch.Tensor, weights: PoseLossWeights = PoseLossWeights()) -> PoseLossTerms:
    """The 3-D pose objective ``L_mpjpe + 0.5·L_nmpjpe + 20·L_vel (+ 0·limb/angle terms)``.

    Args:
        pred, gt: ``[N, T, 17, 3]`` (root-relative targets when ``rootrel``; normalised units).
        weights: term weights.
    """
    terms = _joint_terms(pred, gt)
    total = (
        terms["loss_3d_pos"]
        + weights.scale * terms["loss_3d_scale"]
        + weights.velocity * terms["loss_3d_velocity"]
        + weights.limb_var * terms["loss_lv"]
        + weights.limb_gt * terms["loss_lg"]
        + weights.angle * terms["loss_a"]
        + weights.angle_velocity * terms["loss_av"]
    )
    return PoseLossTerms(**terms, total=total)


# ---------------------------------------------------------------------------------------------
# Mesh (TRAINING.md §4.1)


@dataclass(frozen=True)
class MeshLossWeights:
    """The mesh configs' lambdas (defaults = every official mesh config; ``diff`` = DiffMesh's 0.001).

    Use ``MeshLossWeights(diff=0.0)`` for the MotionBERT mesh head (it has no ``loss_diff``).
    """

    lambda_3d: float = 0.5
    lambda_scale: float = 0.0
    lambda_3dv: float = 10.0
    lambda_lv: float = 0.0
    lambda_lg: float = 0.0
    lambda_a: float = 0.0
    lambda_av: float = 0.0
    lambda_pose: float = 1000.0
    lambda_shape: float = 1.0
    lambda_norm: float = 20.0
    lambda_diff: float = 0.001

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MeshLossWeights:
        """Pick the ``lambda_*`` keys of an official YAML config (missing keys keep their defaults)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: float(v) for k, v in config.items() if k in names})


#: Term name → weight name, in the order of the official total.
_MESH_TERM_WEIGHTS: dict[str, str] = {
    "loss_3d_pos": "lambda_3d",
    "loss_3d_scale": "lambda_scale",
    "loss_3d_velocity": "lambda_3dv",
    "loss_lv": "lambda_lv",
    "loss_lg": "lambda_lg",
    "loss_a": "lambda_a",
    "loss_av": "lambda_av",
    "loss_shape": "lambda_shape",
    "loss_pose": "lambda_pose",
    "loss_norm": "lambda_norm",
    "loss_diff": "lambda_diff",
}


@dataclass
class MeshLossTerms:
    """Every mesh loss term (scalar tensors, official names) and the weighted ``total``."""

    loss_3d_pos: torch.Tensor
    loss_3d_scale: torch.Tensor
    loss_3d_velocity: torch.Tensor
    loss_lv: torch.Tensor
    loss_lg: torch.Tensor
    loss_a: torch.Tensor
    loss_av: torch.Tensor
    loss_shape: torch.Tensor
    loss_pose: torch.Tensor
    loss_norm: torch.Tensor
    loss_diff: torch.Tensor
    total: torch.Tensor

    def as_dict(self) -> dict[str, torch.Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def loss_diff(pair: torch.Tensor) -> torch.Tensor:
    """DiffMesh's auxiliary term: mean over rows of ``‖c_gt − c_pred‖₂``.

    Args:
        pair: ``[B, 2K, D]``: first half ``c_gt`` (next-frame features), second half ``c_pred``
            (the condition predictions), as ``MeshOutput.loss_diff``.
    """
    if pair.ndim != 3 or pair.shape[1] % 2:
        raise ValueError(f"loss_diff expects [B, 2K, D] (two stacked halves), got shape {list(pair.shape)}")
    k = pair.shape[1] // 2
    return torch.linalg.vector_norm(pair[:, :k] - pair[:, k:], dim=-1).mean()


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, Mapping):
        if key not in obj:
            raise ValueError(f"mesh_loss: missing {key!r}; got keys {sorted(obj)}")
        return obj[key]
    if not hasattr(obj, key):
        raise ValueError(f"mesh_loss: {type(obj).__name__} has no field {key!r}")
    return getattr(obj, key)


def mesh_loss(
    pred: Any,
    target: Mapping[str, torch.Tensor],
    weights: MeshLossWeights = MeshLossWeights(),
    loss_type: Literal["L1", "MSE"] = "L1",
) -> MeshLossTerms:
    """The official ``MeshLoss`` and training total (TRAINING.md §4.1).

    Args:
        pred: a :class:`~diffmesh.models.mesh.MeshOutput` or a mapping with ``theta [B,T,82]``,
            ``kp_3d [B,T,17,3]`` (mm) and optionally ``loss_diff [B,2K,D]`` (``None`` → term 0).
        target: mapping with ``theta [B,T,82]`` and ``kp_3d [B,T,17,3]`` (mm), as collated
            ``MeshClip['target']``.
        weights: the lambdas.
        loss_type: ``"L1"`` (every official config) or ``"MSE"`` for the pose/shape terms.

    Returns:
        :class:`MeshLossTerms`. Joint terms use pelvis-relative joints; ``loss_pose`` compares
        rotation matrices from the quaternion Rodrigues formula over all 24×9 entries;
        ``loss_norm`` is the mean norm of the predicted 82-d ``theta``.
    """
    if loss_type not in ("L1", "MSE"):
        raise ValueError(f"loss_type must be 'L1' or 'MSE', got {loss_type!r}")
    criterion = F.l1_loss if loss_type == "L1" else F.mse_loss
    pred_theta, pred_kp = _get(pred, "theta"), _get(pred, "kp_3d")
    gt_theta, gt_kp = _get(target, "theta"), _get(target, "kp_3d")
    _check_pair(pred_theta, gt_theta, "mesh_loss theta")
    _check_pair(pred_kp, gt_kp, "mesh_loss kp_3d")
    pair = pred.get("loss_diff") if isinstance(pred, Mapping) else getattr(pred, "loss_diff", None)

    pred_local = pred_kp - pred_kp[:, :, 0:1]  # [B, T, 17, 3] pelvis-relative
    gt_local = gt_kp - gt_kp[:, :, 0:1]
    pred_theta = pred_theta.reshape(-1, pred_theta.shape[-1])  # [B·T, 82]
    gt_theta = gt_theta.reshape(-1, gt_theta.shape[-1])
    pose_dim = 3 * NUM_SMPL_JOINTS
    pred_rot = axis_angle_to_rotmat(pred_theta[:, :pose_dim].reshape(-1, 3))  # [B·T·24, 3, 3]
    gt_rot = axis_angle_to_rotmat(gt_theta[:, :pose_dim].reshape(-1, 3))

    terms = {
        **_joint_terms(pred_local, gt_local),
        "loss_shape": criterion(pred_theta[:, pose_dim:], gt_theta[:, pose_dim:]),
        "loss_pose": criterion(pred_rot, gt_rot),
        "loss_norm": torch.linalg.vector_norm(pred_theta, dim=-1).mean(),
        "loss_diff": loss_diff(pair) if pair is not None else _zero(pred_theta),
    }
    total = sum(getattr(weights, w) * terms[t] for t, w in _MESH_TERM_WEIGHTS.items())
    return MeshLossTerms(**terms, total=total)  # type: ignore[arg-type]


class MeshLoss(nn.Module):
    """Module wrapper of :func:`mesh_loss` holding the weights and loss type (config at the edge)."""

    def __init__(self, weights: MeshLossWeights = MeshLossWeights(), loss_type: Literal["L1", "MSE"] = "L1") -> None:
        super().__init__()
        self.weights = weights
        self.loss_type = loss_type

    def forward(self, pred: Any, target: Mapping[str, torch.Tensor]) -> MeshLossTerms:
        return mesh_loss(pred, target, self.weights, self.loss_type)

    def extra_repr(self) -> str:
        return f"loss_type={self.loss_type!r}, weights={asdict(self.weights)}"


# ---------------------------------------------------------------------------------------------
# Supervised contrastive loss (one-shot action, TRAINING.md §3.2)


def supcon_loss(
    features: torch.Tensor,
    labels: torch.Tensor,
    temperature: float = 0.1,
    base_temperature: float = 0.07,
) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al.), ``contrast_mode='all'``.

    Args:
        features: ``[B, V, D]`` embeddings (``V`` views per sample; the official one-shot
            training uses ``V = 1`` with L2-normalised embeddings).
        labels: ``[B]`` integer class labels; every anchor needs a positive (another sample
            or view of its class), else its term is NaN as officially.
        temperature, base_temperature: τ and the base temperature (loss scaled by τ/base).

    Returns:
        Scalar: mean over all ``B·V`` anchors of ``−(τ/base)·mean_{p∈P(i)} log softmax_{a≠i}(z_i·z_a/τ)_p``.
    """
    if features.ndim != 3:
        raise ValueError(f"supcon_loss expects features [B, V, D], got shape {list(features.shape)}; use x[:, None] for one view")
    if labels.shape != (features.shape[0],):
        raise ValueError(f"labels must have shape [{features.shape[0]}], got {list(labels.shape)}")
    batch, views = features.shape[:2]
    same = (labels[:, None] == labels[None, :]).to(features.dtype)  # [B, B]
    contrast = torch.cat(torch.unbind(features, dim=1), dim=0)  # [V·B, D], view-major
    logits = contrast @ contrast.T / temperature  # [V·B, V·B]
    logits = logits - logits.max(dim=1, keepdim=True).values.detach()  # numerical stability
    mask = same.repeat(views, views)
    not_self = 1.0 - torch.eye(batch * views, dtype=features.dtype, device=features.device)
    mask = mask * not_self
    exp_logits = torch.exp(logits) * not_self
    log_prob = logits - torch.log(exp_logits.sum(1, keepdim=True))
    mean_log_prob_pos = (mask * log_prob).sum(1) / mask.sum(1)
    return (-(temperature / base_temperature) * mean_log_prob_pos).mean()


class SupConLoss(nn.Module):
    """Module wrapper of :func:`supcon_loss` (one-shot config: τ = 0.1, base 0.07)."""

    def __init__(self, temperature: float = 0.1, base_temperature: float = 0.07) -> None:
        super().__init__()
        self.temperature = temperature
        self.base_temperature = base_temperature

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return supcon_loss(features, labels, self.temperature, self.base_temperature)
