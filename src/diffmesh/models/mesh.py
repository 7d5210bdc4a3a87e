"""Mesh recovery models: encoder + SMPL-parameter head + body model (ARCHITECTURE.md §2.3, §3).

:class:`MotionBERTMeshHead` is MotionBERT's fc/BatchNorm head; the DiffMesh heads live in
:mod:`diffmesh.models.diffmesh`. :class:`MeshRegressor` wires an encoder, any of these
heads and a :class:`~diffmesh.body.BodyModel`, and decodes the predicted 6-D pose and
betas into a mesh exactly as the official code (§3): 6-D → rotation matrices (SPIN
'spin_columns' layout) → body model → vertices ×1000 (mm) → H36M joints regressed from the
vertices → ``theta`` (axis-angle + betas).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import nn

from diffmesh.conventions import NUM_BETAS, NUM_H36M_JOINTS, NUM_SMPL_JOINTS
from diffmesh.geometry.rotations import rot6d_to_rotmat, rotmat_to_axis_angle
from diffmesh.models.diffmesh import POSE_6D_DIM, DiffMeshHead, DiffMeshRefineHead, HeadOutput, _as_row
from diffmesh.models.dstformer import DSTformer, check_skeleton_input

METRES_TO_MM = 1000.0


class MotionBERTMeshHead(nn.Module):
    """MotionBERT's ``SMPLRegressor``: per-frame pose branch and per-clip shape branch.

    ``rep [N, T, J, dim_rep]`` → :class:`~diffmesh.models.diffmesh.HeadOutput`.
    BatchNorm statistics are over ``N·T`` samples (pose) and ``N`` samples (shape).
    """

    def __init__(
        self,
        dim_rep: int = 512,
        num_joints: int = NUM_H36M_JOINTS,
        hidden_dim: int = 1024,
        dropout_ratio: float = 0.1,
        init_pose: torch.Tensor | None = None,
        init_shape: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        feat_dim = dim_rep * num_joints
        self.register_buffer("init_pose", _as_row(init_pose, POSE_6D_DIM, "init_pose"))
        self.register_buffer("init_shape", _as_row(init_shape, NUM_BETAS, "init_shape"))
        self.dropout = nn.Dropout(p=dropout_ratio)
        self.fc1 = nn.Linear(feat_dim, hidden_dim)
        self.fc2 = nn.Linear(feat_dim, hidden_dim)
        self.bn1 = nn.BatchNorm1d(hidden_dim, momentum=0.1)
        self.bn2 = nn.BatchNorm1d(hidden_dim, momentum=0.1)
        self.relu = nn.ReLU(inplace=True)
        self.head_pose = nn.Linear(hidden_dim, POSE_6D_DIM)
        self.head_shape = nn.Linear(hidden_dim, NUM_BETAS)
        nn.init.xavier_uniform_(self.head_pose.weight, gain=0.01)
        nn.init.xavier_uniform_(self.head_shape.weight, gain=0.01)

    def forward(self, rep: torch.Tensor) -> HeadOutput:
        n, t = rep.shape[:2]
        feat = rep.reshape(n, t, -1)  # [N, T, J·C], joint-major
        pose = self.relu(self.bn1(self.fc1(self.dropout(feat.reshape(n * t, -1)))))
        shape = self.relu(self.bn2(self.fc2(self.dropout(feat.mean(dim=1)))))
        pose6d = self.head_pose(pose) + self.init_pose  # [N·T, 144]
        betas = self.head_shape(shape) + self.init_shape  # [N, 10]
        betas = betas[:, None].expand(n, t, -1).reshape(n * t, NUM_BETAS)
        return HeadOutput(pose6d=pose6d, betas=betas)


@dataclass
class MeshOutput:
    """Decoded mesh sequence (batch ``B`` clips of ``T`` frames, body model with ``V`` vertices).

    theta: ``[B, T, 82]`` 24 × axis-angle (radians; joint 0 = global orientation) + 10 betas.
    verts: ``[B, T, V, 3]`` vertices in millimetres, rotated by the global orientation, no
        translation (the pelvis is near the origin).
    kp_3d: ``[B, T, 17, 3]`` H36M joints in millimetres regressed from ``verts``.
    rotmats: ``[B, T, 24, 3, 3]`` local joint rotations.
    betas: ``[B, T, 10]`` shape coefficients.
    pose6d: ``[B, T, 144]`` the head's raw 6-D output ('spin_columns' layout).
    loss_diff: DiffMesh's auxiliary next-frame pair ``[B, 2K, 2176]`` (training only), else ``None``.

    Also indexable like the official output dict (``out["theta"]``).
    """

    theta: torch.Tensor
    verts: torch.Tensor
    kp_3d: torch.Tensor
    rotmats: torch.Tensor
    betas: torch.Tensor
    pose6d: torch.Tensor
    loss_diff: torch.Tensor | None = None

    def __getitem__(self, key: str) -> torch.Tensor | None:
        if key not in {f.name for f in fields(self)}:
            raise KeyError(f"MeshOutput has no field {key!r}; fields: {[f.name for f in fields(self)]}")
        return getattr(self, key)


def pose6d_to_rotmats(pose6d: torch.Tensor) -> torch.Tensor:
    """``[N, 144]`` ('spin_columns' 6-D) → ``[N, 24, 3, 3]``."""
    return rot6d_to_rotmat(pose6d.reshape(-1, NUM_SMPL_JOINTS, 6))


def _decode_bodies(
    pose6d: torch.Tensor, betas: torch.Tensor, body_model: nn.Module
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rotations, vertices (mm), H36M joints (mm) and theta of ``N`` bodies (§3)."""
    rotmats = pose6d_to_rotmats(pose6d)  # [N, 24, 3, 3]
    body = body_model(betas=betas, body_pose=rotmats[:, 1:], global_orient=rotmats[:, :1])
    verts_mm = body.vertices * METRES_TO_MM  # [N, V, 3]
    kp_3d = torch.einsum("jv,nvc->njc", body_model.J_regressor_h36m, verts_mm)
    pose_aa = rotmat_to_axis_angle(rotmats).reshape(-1, NUM_SMPL_JOINTS * 3)  # [N, 72]
    return rotmats, verts_mm, kp_3d, torch.cat([pose_aa, betas], dim=-1)


def decode_smpl(head_out: HeadOutput, body_model: nn.Module, batch: int, frames: int) -> MeshOutput:
    """Turn a head's 6-D pose and betas into a :class:`MeshOutput` (§3)."""
    if getattr(body_model, "J_regressor_h36m", None) is None:
        raise ValueError(
            f"body model {getattr(body_model, 'name', body_model)!r} has no H36M joint regressor; "
            "mesh models need one (J_regressor_h36m_correct.npy in the official data/mesh folder)"
        )
    # The body model works in float32 (or float64) whatever the caller's autocast says:
    # rotations and skinning lose millimetres in bf16.
    dtype = torch.promote_types(head_out.pose6d.dtype, torch.float32)
    with torch.autocast(device_type=head_out.pose6d.device.type, enabled=False):
        pose6d = head_out.pose6d.to(dtype)
        betas = head_out.betas.to(dtype)
        rotmats, verts_mm, kp_3d, theta = _decode_bodies(pose6d, betas, body_model)
    b, t = batch, frames
    return MeshOutput(
        theta=theta.reshape(b, t, -1),
        verts=verts_mm.reshape(b, t, -1, 3),
        kp_3d=kp_3d.reshape(b, t, -1, 3),
        rotmats=rotmats.reshape(b, t, NUM_SMPL_JOINTS, 3, 3),
        betas=betas.reshape(b, t, -1),
        pose6d=pose6d.reshape(b, t, -1),
        loss_diff=head_out.loss_diff,
    )


def pad_clip(x: torch.Tensor, clip_len: int) -> tuple[torch.Tensor, int]:
    """Pad ``[B, T, ...]`` to ``clip_len`` frames by repeating the last frame (as the official
    demo does); returns the padded clip and the number of real frames."""
    t = x.shape[1]
    if t > clip_len:
        raise ValueError(f"clip has {t} frames, more than clip_len={clip_len}; split it into windows first")
    if t == clip_len:
        return x, t
    pad = x[:, -1:].expand(-1, clip_len - t, *x.shape[2:])
    return torch.cat([x, pad], dim=1), t


class MeshRegressor(nn.Module):
    """Encoder + mesh head + body model: ``x [B, T, 17, 3]`` → :class:`MeshOutput`.

    The body model's buffers are not part of this module's ``state_dict`` (they are
    constants loaded from a body-model file), so checkpoints stay small and any
    SMPL-format body model can be plugged in.
    """

    def __init__(self, backbone: DSTformer, head: nn.Module, body_model: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.body_model = body_model

    def _check_input(self, x: torch.Tensor) -> None:
        cfg = self.backbone.config
        check_skeleton_input(x, num_joints=cfg.num_joints, dim_in=cfg.dim_in, maxlen=cfg.maxlen)
        if isinstance(self.head, (DiffMeshHead, DiffMeshRefineHead)):
            self.head.check_clip_length(x.shape[1])

    def forward(
        self,
        x: torch.Tensor,
        init_pose: torch.Tensor | None = None,
        init_shape: torch.Tensor | None = None,
    ) -> MeshOutput:
        """x ``[B, T, 17, 3]``; the refine variant also takes the initial pose ``[B, T, 72]``
        (axis-angle) and betas ``[B, T, 10]``."""
        head_out = self.head_output(x, init_pose, init_shape)
        return decode_smpl(head_out, self.body_model, x.shape[0], x.shape[1])

    def head_output(
        self, x: torch.Tensor, init_pose: torch.Tensor | None = None, init_shape: torch.Tensor | None = None
    ) -> HeadOutput:
        """Encoder and head only: the 6-D pose and betas before the body model (arguments as :meth:`forward`)."""
        self._check_input(x)
        rep = self.backbone.get_representation(x)
        if isinstance(self.head, DiffMeshRefineHead):
            return self.head(rep, init_pose, init_shape)
        if init_pose is not None or init_shape is not None:
            raise ValueError(
                "init_pose/init_shape are only used by the DiffMesh refine variant; "
                f"this model's head is {type(self.head).__name__}"
            )
        return self.head(rep)

    def predict_parameters(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(rotmats [B, T, 24, 3, 3], betas [B, T, 10])``: :meth:`forward`'s ``rotmats`` and ``betas``
        (the same values, bit for bit) without posing the body model: what the video pipeline reads
        (it poses the body itself, after blending windows)."""
        head_out = self.head_output(x)
        b, t = x.shape[:2]
        dtype = torch.promote_types(head_out.pose6d.dtype, torch.float32)
        with torch.autocast(device_type=head_out.pose6d.device.type, enabled=False):  # as decode_smpl
            rotmats = pose6d_to_rotmats(head_out.pose6d.to(dtype))
            betas = head_out.betas.to(dtype)
        return rotmats.reshape(b, t, NUM_SMPL_JOINTS, 3, 3), betas.reshape(b, t, -1)
