"""Small transformer layers shared by the encoder and the DiffMesh head."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Mlp(nn.Module):
    """``fc1 → GELU (erf) → fc2``; the official dropouts are all p = 0 and omitted."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """``[N, L, C]`` → ``[N, H, L, C/H]`` (channels head-major, as every official attention)."""
    n, length, c = x.shape
    return x.reshape(n, length, num_heads, c // num_heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``[N, H, L, c]`` → ``[N, L, H·c]``."""
    n, h, length, c = x.shape
    return x.transpose(1, 2).reshape(n, length, h * c)


class SelfAttention(nn.Module):
    """Multi-head self-attention over the token axis of ``[N, L, C]``.

    ``qkv`` gives ``3C`` channels laid out ``(q|k|v, head, head_dim)``; scale ``head_dim^-½``.
    """

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"width {dim} must be divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        # Registration order (proj before qkv) mirrors the official state-dict order.
        self.proj = nn.Linear(dim, dim)
        self.qkv = nn.Linear(dim, dim * 3)

    def qkv_heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``[N, L, C]`` → q, k, v each ``[N, H, L, c]``."""
        n, length, c = x.shape
        q, k, v = self.qkv(x).reshape(n, length, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        return q, k, v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv_heads(x)
        return self.proj(merge_heads(F.scaled_dot_product_attention(q, k, v)))


class TransformerBlock(nn.Module):
    """Pre-norm ViT block: ``x + Attn(LN(x))`` then ``x + MLP(LN(x))`` (LayerNorm eps 1e-6)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, attn: nn.Module | None = None) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = attn if attn is not None else SelfAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))
