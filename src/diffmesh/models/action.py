"""MotionBERT action recognition (ARCHITECTURE.md §2.2): ``ActionNet`` and its two heads.

Input ``x [N, M, T, J, 3]`` (N samples, M persons). The encoder runs on ``[N·M, T, J, 3]``;
a head pools over time, flattens joints × channels (joint-major) and averages persons.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from diffmesh.conventions import NUM_H36M_JOINTS
from diffmesh.models.dstformer import DSTformer, check_skeleton_input


def _pool(feat: torch.Tensor) -> torch.Tensor:
    """``[N, M, T, J, C]`` → mean over T → ``[N, M, J·C]`` → mean over persons → ``[N, J·C]``."""
    n, m, t, j, c = feat.shape
    return feat.mean(dim=2).reshape(n, m, j * c).mean(dim=1)


class ActionHeadClassification(nn.Module):
    """``fc1 → BatchNorm → ReLU → fc2``: class logits ``[N, num_classes]``."""

    def __init__(
        self,
        dim_rep: int = 512,
        num_classes: int = 60,
        num_joints: int = NUM_H36M_JOINTS,
        hidden_dim: int = 2048,
        dropout_ratio: float = 0.5,
    ) -> None:
        super().__init__()
        self.dropout = nn.Dropout(p=dropout_ratio)
        self.bn = nn.BatchNorm1d(hidden_dim, momentum=0.1)
        self.relu = nn.ReLU(inplace=True)
        self.fc1 = nn.Linear(dim_rep * num_joints, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, num_classes)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        """feat ``[N, M, T, J, C]`` → logits ``[N, num_classes]``."""
        x = _pool(self.dropout(feat))
        return self.fc2(self.relu(self.bn(self.fc1(x))))


class ActionHeadEmbed(nn.Module):
    """``fc1 → L2 normalisation``: unit embeddings ``[N, hidden_dim]`` (one-shot recognition)."""

    def __init__(
        self,
        dim_rep: int = 512,
        num_joints: int = NUM_H36M_JOINTS,
        hidden_dim: int = 2048,
        dropout_ratio: float = 0.1,
    ) -> None:
        super().__init__()
        self.dropout = nn.Dropout(p=dropout_ratio)
        self.fc1 = nn.Linear(dim_rep * num_joints, hidden_dim)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.fc1(_pool(self.dropout(feat))), dim=-1)


class ActionNet(nn.Module):
    """Encoder + action head. ``x [N, M, T, J, 3]`` → ``[N, C]`` (logits or embeddings)."""

    def __init__(self, backbone: DSTformer, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5:
            raise ValueError(
                f"x has shape {tuple(x.shape)}; action models expect [N, M, T, J, 3] "
                "(samples, persons, frames, joints, channels); add a person axis with x[:, None] for one person"
            )
        n, m, t, j, c = x.shape
        flat = x.reshape(n * m, t, j, c)
        cfg = self.backbone.config
        check_skeleton_input(flat, num_joints=cfg.num_joints, dim_in=cfg.dim_in, maxlen=cfg.maxlen)
        feat = self.backbone.get_representation(flat)
        return self.head(feat.reshape(n, m, t, j, -1))
