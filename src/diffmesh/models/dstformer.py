"""DSTformer, the MotionBERT motion encoder (ARCHITECTURE.md §1).

A dual-stream spatio-temporal transformer over 2-D skeleton clips ``[B, T, 17, 3]``
(normalised x, y and detector confidence). Each depth runs a spatial-then-temporal and
a temporal-then-spatial block on the same tokens and fuses them with learned per-token
weights. Parameter names follow the official code exactly so that official state dicts
load strictly once the ``module.`` prefix is removed.

The reference maths only: faster kernels, number formats and batch chunking for inference
are swapped in by :func:`diffmesh.accel.accelerate` on a copy.

Attention computes ``softmax(q kᵀ · head_dim^-½) v`` as the official explicit formulation:
spatial attention and temporal attention over long clips through the fused
:func:`torch.nn.functional.scaled_dot_product_attention`, temporal attention over short clips
explicitly, whichever is faster there (``TEMPORAL_SDPA_MIN_FRAMES``); both agree with the
golden tensors to float32 rounding.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from diffmesh.conventions import MAX_FRAMES, NUM_H36M_JOINTS
from diffmesh.models.layers import Mlp, SelfAttention

#: LayerNorm epsilon injected by the official backbone factory (the class default 1e-5
#: would change outputs by ~1e-4; DEVIATIONS D-M1).
LAYERNORM_EPS = 1e-6

#: Temporal attention over more frames than this uses the fused SDPA kernel; shorter clips
#: use two batched products and a softmax, which is faster there (docs/benchmarks.md).
TEMPORAL_SDPA_MIN_FRAMES = 64


@dataclass(frozen=True)
class DSTformerConfig:
    """Hyper-parameters of the encoder (the values the official factory passes)."""

    dim_in: int = 3
    dim_out: int = 3
    dim_feat: int = 512
    dim_rep: int = 512
    depth: int = 5
    num_heads: int = 8
    mlp_ratio: float = 2.0
    maxlen: int = MAX_FRAMES
    num_joints: int = NUM_H36M_JOINTS


class SpatioTemporalAttention(SelfAttention):
    """Self-attention among the joints of a frame (``mode="spatial"``) or, for every joint,
    among the frames of a clip (``mode="temporal"``)."""

    def __init__(self, dim: int, num_heads: int, mode: str) -> None:
        if mode not in ("spatial", "temporal"):
            raise ValueError(f"attention mode {mode!r} is not supported; expected 'spatial' or 'temporal'")
        super().__init__(dim, num_heads)
        self.mode = mode

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:  # type: ignore[override]
        """x: ``[B·F, J, C]`` with the frame index fastest in ``B·F`` → ``[B·F, J, C]``."""
        if self.mode == "spatial":
            return super().forward(x)
        bf, j, c = x.shape
        h = self.num_heads
        b = bf // num_frames
        qkv = self.qkv(x).reshape(b, num_frames, j, 3, h, c // h)
        if num_frames > TEMPORAL_SDPA_MIN_FRAMES:
            # Long clips: fused SDPA, which on CPU needs 4-D operands [B·J, H, F, c] (a copy).
            q, k, v = (t.reshape(b * j, h, num_frames, c // h) for t in qkv.permute(3, 0, 2, 4, 1, 5))
            out = F.scaled_dot_product_attention(q, k, v).reshape(b, j, h, num_frames, c // h)
            out = out.permute(0, 3, 1, 2, 4)  # [B, J, H, F, c] -> [B, F, J, H, c]
        else:
            # Short clips: explicit, in the official order (faster than SDPA at these lengths).
            q, k, v = qkv.permute(3, 0, 4, 2, 1, 5)  # [3, B, H, J, F, c]
            out = ((q @ k.transpose(-2, -1) * self.scale).softmax(dim=-1) @ v).permute(0, 3, 2, 1, 4)
        return self.proj(out.reshape(bf, j, c))  # [B, F, J, H, c] -> [BF, J, C]


class DSTBlock(nn.Module):
    """One dual-stream block: spatial then temporal (``order="st"``) or the reverse (``"ts"``).

    Both orders use the same sub-module names (``*_s`` spatial, ``*_t`` temporal).
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, order: str) -> None:
        super().__init__()
        if order not in ("st", "ts"):
            raise ValueError(f"block order {order!r} is not supported; expected 'st' or 'ts'")
        self.order = order
        hidden = int(dim * mlp_ratio)
        self.norm1_s = nn.LayerNorm(dim, eps=LAYERNORM_EPS)
        self.norm1_t = nn.LayerNorm(dim, eps=LAYERNORM_EPS)
        self.attn_s = SpatioTemporalAttention(dim, num_heads, "spatial")
        self.attn_t = SpatioTemporalAttention(dim, num_heads, "temporal")
        self.norm2_s = nn.LayerNorm(dim, eps=LAYERNORM_EPS)
        self.norm2_t = nn.LayerNorm(dim, eps=LAYERNORM_EPS)
        self.mlp_s = Mlp(dim, hidden)
        self.mlp_t = Mlp(dim, hidden)

    def _spatial(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        x = x + self.attn_s(self.norm1_s(x), num_frames)
        return x + self.mlp_s(self.norm2_s(x))

    def _temporal(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        x = x + self.attn_t(self.norm1_t(x), num_frames)
        return x + self.mlp_t(self.norm2_t(x))

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        if self.order == "st":
            return self._temporal(self._spatial(x, num_frames), num_frames)
        return self._spatial(self._temporal(x, num_frames), num_frames)


def check_skeleton_input(x: torch.Tensor, *, num_joints: int, dim_in: int, maxlen: int, name: str = "x") -> None:
    """Validate a ``[B, T, J, C]`` skeleton clip at the API boundary with errors that teach."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape [B, T, {num_joints}, {dim_in}], got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(
            f"{name} has shape {tuple(x.shape)}; expected [B, T, {num_joints}, {dim_in}] "
            "(batch, frames, H36M joints, (x, y, confidence))"
        )
    b, t, j, c = x.shape
    if j != num_joints:
        raise ValueError(
            f"{name} has {j} joints (shape {tuple(x.shape)}); the model expects {num_joints} joints in H36M order. "
            "Convert COCO/Halpe/BlazePose keypoints with diffmesh.conventions before calling the model."
        )
    if c != dim_in:
        meaning = "x, y, confidence" if dim_in == 3 else "x, y, confidence, then the detector's 3-D x, y, z" if dim_in == 6 else "channels"
        raise ValueError(f"{name} has {c} channels per joint (shape {tuple(x.shape)}); expected {dim_in} ({meaning})")
    if t < 1 or t > maxlen:
        raise ValueError(
            f"{name} has {t} frames; the encoder accepts 1..{maxlen} frames per clip. "
            "Split longer sequences into windows (diffmesh.pipelines does this for videos)."
        )
    if b < 1:
        raise ValueError(f"{name} has an empty batch (shape {tuple(x.shape)})")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values; mark missing joints with confidence 0 instead")


def _at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float32, or float64 if it is (a low-precision autocast output is widened)."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


@torch.no_grad()
def _trunc_normal(t: torch.Tensor, std: float = 0.02) -> None:
    """The official ``trunc_normal_(std=0.02)`` with its *absolute* bounds ±2, i.e. ±100σ:
    the truncation never bites, so a clamped normal draw is the same distribution, and
    faster than ``nn.init.trunc_normal_`` (rejection sampling) on CPU."""
    t.normal_(0.0, std).clamp_(-2.0, 2.0)


class DSTformer(nn.Module):
    """The MotionBERT encoder. ``forward`` gives 3-D joints, ``get_representation`` the features.

    Input ``x [B, T, J, 3]`` with ``1 ≤ T ≤ maxlen``. Output of ``forward`` ``[B, T, J, dim_out]``;
    of ``get_representation`` ``[B, T, J, dim_rep]`` in (−1, 1).
    """

    def __init__(self, config: DSTformerConfig | None = None, **overrides: object) -> None:
        super().__init__()
        cfg = config or DSTformerConfig()
        if overrides:
            cfg = DSTformerConfig(**{**cfg.__dict__, **overrides})  # type: ignore[arg-type]
        self.config = cfg
        c = cfg.dim_feat
        self.joints_embed = nn.Linear(cfg.dim_in, c)
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.num_joints, c))
        self.temp_embed = nn.Parameter(torch.zeros(1, cfg.maxlen, 1, c))
        self.blocks_st = nn.ModuleList(DSTBlock(c, cfg.num_heads, cfg.mlp_ratio, "st") for _ in range(cfg.depth))
        self.blocks_ts = nn.ModuleList(DSTBlock(c, cfg.num_heads, cfg.mlp_ratio, "ts") for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(c, eps=LAYERNORM_EPS)
        self.pre_logits = nn.Sequential(OrderedDict([("fc", nn.Linear(c, cfg.dim_rep)), ("act", nn.Tanh())]))
        self.head = nn.Linear(cfg.dim_rep, cfg.dim_out)
        # Per-depth fusion weights over [x_st ; x_ts] (§1.6).
        self.ts_attn = nn.ModuleList(nn.Linear(2 * c, 2) for _ in range(cfg.depth))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Official initialisation (§1.7): trunc-normal(0.02) Linear weights and embeddings,
        zero biases, unit LayerNorms, then 50/50 fusion (``ts_attn`` weight 0, bias 0.5)."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                _trunc_normal(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        _trunc_normal(self.temp_embed)
        _trunc_normal(self.pos_embed)
        for fuse in self.ts_attn:
            nn.init.zeros_(fuse.weight)
            nn.init.constant_(fuse.bias, 0.5)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Joint + spatial + temporal embedding: ``[B, T, J, 3]`` → tokens ``[B·T, J, C]``."""
        b, t, j, _ = x.shape
        tokens = self.joints_embed(x) + self.pos_embed  # [B, T, J, C]
        tokens = tokens + self.temp_embed[:, :t]  # broadcast over joints
        return tokens.reshape(b * t, j, -1)

    def fuse(self, depth: int, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        """One depth: both streams on the same tokens, fused per token by softmax weights."""
        x_st = self.blocks_st[depth](x, num_frames)
        x_ts = self.blocks_ts[depth](x, num_frames)
        alpha = self.ts_attn[depth](torch.cat([x_st, x_ts], dim=-1)).softmax(dim=-1)  # [BF, J, 2]
        return x_st * alpha[..., 0:1] + x_ts * alpha[..., 1:2]

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        check_skeleton_input(x, num_joints=cfg.num_joints, dim_in=cfg.dim_in, maxlen=cfg.maxlen)
        return self.encode_clips(x)

    def encode_clips(self, x: torch.Tensor) -> torch.Tensor:
        """Checked clips ``[B, T, J, 3]`` → ``[B, T, J, dim_rep]``; clips are independent (the
        hook where :mod:`diffmesh.accel` splits batches into chunks)."""
        cfg = self.config
        b, t, j, _ = x.shape
        # The residual stream runs in the embeddings' dtype (float32 unless the whole module
        # was cast, e.g. float64 by model.double()); diffmesh.accel lowers only the matmuls.
        tokens = self.embed(x.to(self.pos_embed.dtype))
        for depth in range(cfg.depth):
            tokens = self.fuse(depth, tokens, t)
        tokens = self.norm(tokens).reshape(b, t, j, -1)
        return self.pre_logits(tokens)

    def get_representation(self, x: torch.Tensor) -> torch.Tensor:
        """Motion representation ``E [B, T, J, dim_rep]`` consumed by every task head (float32,
        also under autocast; float64 when the module is)."""
        return _at_least_float32(self._encode(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """3-D joints ``[B, T, J, dim_out]`` (pre-training / 3-D pose task; dtype as above)."""
        return _at_least_float32(self.head(self._encode(x)))
