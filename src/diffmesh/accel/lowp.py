"""Low-precision sub-blocks: bf16 (CPU) or float16 (CUDA) products where they pay, float32 elsewhere.

:func:`to_low_precision` converts a model copy in place (:func:`diffmesh.accel.accelerate`
calls it only where the plan says so, e.g. CPUs that multiply bf16 natively):

* the encoder's transformer sub-blocks (attention and MLP, >97 % of the FLOPs) run in low
  precision from their input to their output: a sub-block converts its normalised float32
  input once, multiplies, attends and applies GELU in low precision (on CPU with pre-packed
  oneDNN weights and GELU fused into the first MLP product), and its low-precision output
  is added to the float32 residual stream; keeping the sub-block in one precision removes
  the conversions around each product;
* the residual stream, every LayerNorm, the joint embedding, the stream-fusion weights
  (``ts_attn``), ``pre_logits`` and the 3-D head stay float32: they cost little and carry
  the most precision-critical values;
* the DiffMesh reverse process runs its denoiser's attention and MLP sub-blocks the same
  way, and its other linears (condition generator, time embedding) with low-precision
  products, wherever the products are large enough to gain (``REVERSE_LOOP_MIN_ROWS``): the
  condition stream of all 30 steps at once always is; the sequential diffusion stream (17
  rows per clip and step) from batch 8 on, float32 below. The state update, the SMPL
  parameter heads, the body model and every rotation conversion stay float32.

The converted model is for inference only (``torch.inference_mode``); its state-dict keys
are unchanged (values in low precision). Speed and accuracy: docs/benchmarks.md.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

from diffmesh.models.diffmesh import TwoStreamAttention
from diffmesh.models.dstformer import DSTformer, SpatioTemporalAttention
from diffmesh.models.layers import Mlp, merge_heads, split_heads
from diffmesh.accel.onednn import WeightPack, packed_linear

logger = logging.getLogger(__name__)


#: Reverse-loop products with fewer rows than this stay float32 (batch 1 has 17 rows per
#: step, batch 8 has 136): the measured crossover lies between batch 1 and batch 8.
REVERSE_LOOP_MIN_ROWS = 128


def _is_small(x: torch.Tensor, min_rows: int) -> bool:
    """Fewer than ``min_rows`` rows (all dimensions but the last)?"""
    return x.numel() < min_rows * x.shape[-1]


class LowPrecisionMatmul(nn.Module):
    """``x Wᵀ + b`` (optionally followed by exact GELU) entirely in ``dtype``: low-precision
    input, low-precision output, no conversions.

    On CPU the weight is also kept pre-packed in oneDNN's blocked layout and the product runs
    through oneDNN's linear primitive with GELU fused into it (bitwise equal to
    ``F.linear`` on the same bf16 operands, faster, and GELU costs no extra pass).
    ``scale`` multiplies the first ``scaled_rows`` output features (attention's query scale,
    folded into the weights). ``keep_full=True`` also keeps float32 weights for
    :meth:`full`, the float32 product used for inputs too small to gain from bf16.
    """

    def __init__(
        self,
        linear: nn.Linear,
        dtype: torch.dtype,
        gelu: bool = False,
        scale: float = 1.0,
        scaled_rows: int = 0,
        keep_full: bool = False,
    ) -> None:
        super().__init__()
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        self.gelu = gelu
        weight = linear.weight.detach().clone()
        bias = None if linear.bias is None else linear.bias.detach().clone()
        if scaled_rows:
            weight[:scaled_rows] *= scale
            if bias is not None:
                bias[:scaled_rows] *= scale
        # Same attribute names as nn.Linear, so state-dict keys are unchanged.
        self.weight = nn.Parameter(weight.to(dtype), requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias.to(dtype), requires_grad=False)
        self._pack = WeightPack()  # the oneDNN copy: not in the state dict, built on first use
        # The float32 copy: non-persistent, so state-dict keys stay nn.Linear's.
        self.register_buffer("weight_full", weight if keep_full else None, persistent=False)
        self.register_buffer("bias_full", bias if keep_full else None, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return packed_linear(x, self.weight, self.bias, self._pack.get(self.weight), self.gelu)

    def full(self, x: torch.Tensor) -> torch.Tensor:
        """The same product in float32 (needs ``keep_full=True``)."""
        if self.weight_full is None:
            raise RuntimeError("this LowPrecisionMatmul keeps no float32 weights (built with keep_full=False)")
        y = F.linear(x, self.weight_full, self.bias_full)
        return F.gelu(y) if self.gelu else y

    def extra_repr(self) -> str:
        extra = ", gelu" if self.gelu else ""
        return f"in_features={self.in_features}, out_features={self.out_features}, dtype={self.weight.dtype}{extra}"


class LowPrecisionLinear(LowPrecisionMatmul):
    """``nn.Linear`` computing ``x Wᵀ + b`` with ``W, b`` stored in ``dtype``; float32 in and out.

    With ``min_rows > 0`` it also keeps the float32 weights and uses them for inputs of fewer
    than ``min_rows`` rows (all dimensions but the last): small products gain nothing from
    bf16 and pay the two conversions (the DiffMesh reverse loop at batch 1).
    """

    def __init__(self, linear: nn.Linear, dtype: torch.dtype, min_rows: int = 0) -> None:
        super().__init__(linear, dtype, keep_full=min_rows > 0)
        self.min_rows = min_rows

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.weight_full is not None and _is_small(x, self.min_rows):
            return self.full(x)
        return super().forward(x.to(self.weight.dtype)).to(x.dtype)


class LowPrecisionMlp(nn.Module):
    """:class:`~diffmesh.models.layers.Mlp` in low precision: float32 in, low precision out
    (the caller adds it to its float32 residual stream). Inputs of fewer than ``min_rows``
    rows run in float32 (and return float32)."""

    def __init__(self, mlp: Mlp, dtype: torch.dtype, min_rows: int = 0) -> None:
        super().__init__()
        self.dtype = dtype
        self.min_rows = min_rows
        self.fc1 = LowPrecisionMatmul(mlp.fc1, dtype, gelu=True, keep_full=min_rows > 0)
        self.fc2 = LowPrecisionMatmul(mlp.fc2, dtype, keep_full=min_rows > 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _is_small(x, self.min_rows):
            return self.fc2.full(self.fc1.full(x))
        return self.fc2(self.fc1(x.to(self.dtype)))


def _attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``softmax(q kᵀ) v`` (scale already folded into ``q``) with two batched products: at
    these lengths (17 joints, ≤ 243 frames) faster on CPU than the fused SDPA kernel
    (docs/benchmarks.md)."""
    return (q @ k.transpose(-2, -1)).softmax(dim=-1) @ v


class LowPrecisionSpatioTemporalAttention(nn.Module):
    """:class:`~diffmesh.models.dstformer.SpatioTemporalAttention` in low precision: float32
    in, low precision out; the query scale folded into the ``qkv`` weights."""

    def __init__(self, attn: SpatioTemporalAttention, dtype: torch.dtype) -> None:
        super().__init__()
        self.dtype = dtype
        self.mode = attn.mode
        self.num_heads = attn.num_heads
        dim = attn.proj.in_features
        self.proj = LowPrecisionMatmul(attn.proj, dtype)
        self.qkv = LowPrecisionMatmul(attn.qkv, dtype, scale=(dim // attn.num_heads) ** -0.5, scaled_rows=dim)

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        bf, j, c = x.shape
        h = self.num_heads
        qkv = self.qkv(x.to(self.dtype))
        if self.mode == "spatial":  # [BF, J, 3, H, c] -> [3, BF, H, J, c]
            q, k, v = qkv.reshape(bf, j, 3, h, c // h).permute(2, 0, 3, 1, 4)
            out = _attention(q, k, v).transpose(1, 2)  # [BF, J, H, c]
        else:  # [B, F, J, 3, H, c] -> [3, B, H, J, F, c]: attention among frames, per joint
            b = bf // num_frames
            q, k, v = qkv.reshape(b, num_frames, j, 3, h, c // h).permute(3, 0, 4, 2, 1, 5)
            out = _attention(q, k, v).permute(0, 3, 2, 1, 4)  # [B, F, J, H, c]
        return self.proj(out.reshape(bf, j, c))


class LowPrecisionTwoStreamAttention(nn.Module):
    """:class:`~diffmesh.models.diffmesh.TwoStreamAttention` in low precision (float32 in, low
    precision out), float32 for inputs of fewer than ``min_rows`` rows. Same two halves
    (:meth:`condition`, :meth:`diffusion`); the query scale is folded into the weights."""

    def __init__(self, attn: TwoStreamAttention, dtype: torch.dtype, min_rows: int = 0) -> None:
        super().__init__()
        self.dtype = dtype
        self.min_rows = min_rows
        self.num_heads = attn.num_heads
        dim = attn.proj_diff.in_features
        keep = min_rows > 0
        self.qkv_diff = LowPrecisionMatmul(attn.qkv_diff, dtype, scale=attn.scale, scaled_rows=dim, keep_full=keep)
        self.qkv_cond = LowPrecisionMatmul(attn.qkv_cond, dtype, scale=attn.scale, scaled_rows=dim, keep_full=keep)
        self.proj_diff = LowPrecisionMatmul(attn.proj_diff, dtype, keep_full=keep)
        self.proj_cond = LowPrecisionMatmul(attn.proj_cond, dtype, keep_full=keep)

    def _heads(self, qkv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n, length, c3 = qkv.shape
        q, k, v = qkv.reshape(n, length, 3, self.num_heads, c3 // (3 * self.num_heads)).permute(2, 0, 3, 1, 4)
        return q, k, v

    def _path(self, x: torch.Tensor, qkv: LowPrecisionMatmul, proj: LowPrecisionMatmul) -> tuple:
        """``x`` and the two products for its size: float32 below ``min_rows`` rows, else low precision."""
        if _is_small(x, self.min_rows):
            return x, qkv.full, proj.full
        return x.to(self.dtype), qkv, proj

    def condition(self, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c, qkv, proj = self._path(c, self.qkv_cond, self.proj_cond)
        q, k, v = self._heads(qkv(c))
        attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        return proj(merge_heads(attn @ v)), attn

    def diffusion(self, x: torch.Tensor, attn_c: torch.Tensor) -> torch.Tensor:
        x, qkv, proj = self._path(x, self.qkv_diff, self.proj_diff)
        y = proj(merge_heads(_attention(*self._heads(qkv(x)))))
        return merge_heads(attn_c.to(y.dtype) @ split_heads(y, self.num_heads))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n_diff = x.shape[1] // 2
        y_c, attn_c = self.condition(x[:, n_diff:])
        y_d = self.diffusion(x[:, :n_diff], attn_c)
        return torch.cat([y_d.to(x.dtype), y_c.to(x.dtype)], dim=1)


def find_encoder(model: nn.Module) -> DSTformer:
    """The DSTformer inside a model (the model itself, or ``model.backbone``)."""
    if isinstance(model, DSTformer):
        return model
    backbone = getattr(model, "backbone", None)
    if isinstance(backbone, DSTformer):
        return backbone
    raise ValueError(f"{type(model).__name__} has no DSTformer encoder to convert (expected a DSTformer or a .backbone)")


def to_low_precision(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """Convert ``model``'s encoder sub-blocks (and DiffMesh reverse loop) to ``dtype``
    (``torch.bfloat16`` or ``torch.float16``) in place; returns ``model`` in eval mode.
    ``model``: a :class:`DSTformer`, ``ActionNet`` or ``MeshRegressor``."""
    encoder = find_encoder(model)
    if dtype not in (torch.bfloat16, torch.float16):
        raise ValueError(f"dtype {dtype} is not a low-precision type; expected torch.bfloat16 or torch.float16")
    converted = 0
    for block in [*encoder.blocks_st, *encoder.blocks_ts]:
        for name in ("attn_s", "attn_t"):
            attn = getattr(block, name)
            if isinstance(attn, SpatioTemporalAttention):
                setattr(block, name, LowPrecisionSpatioTemporalAttention(attn, dtype))
                converted += 2
        for name in ("mlp_s", "mlp_t"):
            mlp = getattr(block, name)
            if isinstance(mlp, Mlp):
                setattr(block, name, LowPrecisionMlp(mlp, dtype))
                converted += 2
    process = getattr(getattr(getattr(model, "head", None), "diffmesh_process", None), "entire_process", None)
    if process is not None:
        # The reverse loop's diffusion stream multiplies [B·17, 128] tokens per step: at small
        # batches float32 is faster. The condition stream runs all steps at once (30x the rows).
        rows = REVERSE_LOOP_MIN_ROWS
        for block in process.diffusion_model.diffmodel_encoder.blocks:
            if isinstance(block.attn, TwoStreamAttention):
                block.attn = LowPrecisionTwoStreamAttention(block.attn, dtype, rows)
                converted += 4
            if isinstance(block.mlp, Mlp):
                block.mlp = LowPrecisionMlp(block.mlp, dtype, rows)
                converted += 2
        found = [(parent, name, child) for parent in process.modules() for name, child in parent.named_children()
                 if isinstance(child, nn.Linear)]  # fmt: skip
        for parent, name, child in found:
            setattr(parent, name, LowPrecisionLinear(child, dtype, rows))
            converted += 1
    logger.debug("low precision: %d linears in %s", converted, dtype)
    return model.eval()
