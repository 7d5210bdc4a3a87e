"""Fast inference mode: low-precision matrix multiplies where they pay, float32 elsewhere.

Parity mode (float32 everywhere) is the default for :func:`~diffmesh.models.load_official`
and evaluation. :func:`to_fast_inference` converts a model in place for deployment:

* every ``nn.Linear`` inside the encoder's transformer blocks keeps a bfloat16 (CPU) or
  float16 (CUDA) copy of its weights and multiplies in that precision — these are >97 %
  of the FLOPs, and CPUs with AVX512-BF16/AMX run bf16 matrix multiplies ~4x faster than
  float32. The joint embedding, the stream-fusion weights (``ts_attn``), ``pre_logits``
  and the 3-D head stay float32: they cost nothing and carry the most precision-critical
  values (measured: skipping them lowers the mesh deviation by ~10 % and is faster);
* activations between layers, the residual stream, LayerNorms, softmax and attention stay
  float32, which keeps the deviation from parity mode small (see docs/benchmarks.md);
* the DiffMesh reverse process (denoiser and condition generator) multiplies in low
  precision too once its products are large enough to gain (``REVERSE_LOOP_MIN_ROWS``; at
  batch 1 they stay float32); its state update, the SMPL parameter heads, the body model
  and every rotation conversion stay float32.

The converted model is for inference only (``torch.inference_mode``).
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

from diffmesh.models.dstformer import DSTformer

logger = logging.getLogger(__name__)


#: Reverse-loop products with fewer rows than this stay float32 (batch 1 has 34 rows per
#: step, batch 8 has 272): measured crossover on the 2-core CPU between batch 1 and batch 8.
REVERSE_LOOP_MIN_ROWS = 128


class LowPrecisionLinear(nn.Module):
    """``nn.Linear`` computing ``x Wᵀ + b`` with ``W, b`` stored in ``dtype``; float32 in and out.

    With ``min_rows > 0`` it also keeps the float32 weights and uses them for inputs of fewer
    than ``min_rows`` rows (all dimensions but the last): small products gain nothing from
    bf16 and pay the two conversions (measured on the DiffMesh reverse loop at batch 1:
    ~12 % faster in float32).
    """

    def __init__(self, linear: nn.Linear, dtype: torch.dtype, min_rows: int = 0) -> None:
        super().__init__()
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        self.min_rows = min_rows
        # Same attribute names as nn.Linear, so state-dict keys are unchanged.
        self.weight = nn.Parameter(linear.weight.detach().to(dtype), requires_grad=False)
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().to(dtype), requires_grad=False)
        # The float32 copy for small inputs: non-persistent, so state-dict keys stay nn.Linear's.
        self.register_buffer("weight_full", linear.weight.detach().clone() if min_rows else None, persistent=False)
        bias_full = linear.bias.detach().clone() if min_rows and linear.bias is not None else None
        self.register_buffer("bias_full", bias_full, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.weight_full is not None and x.numel() < self.min_rows * self.in_features:
            return F.linear(x, self.weight_full, self.bias_full)
        return F.linear(x.to(self.weight.dtype), self.weight, self.bias).to(x.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, dtype={self.weight.dtype}"


def default_fast_dtype(device: torch.device | str = "cpu") -> torch.dtype:
    """bfloat16 on CPU, float16 on CUDA."""
    return torch.float16 if torch.device(device).type == "cuda" else torch.bfloat16


def find_encoder(model: nn.Module) -> DSTformer:
    """The DSTformer inside a model (the model itself, or ``model.backbone``)."""
    if isinstance(model, DSTformer):
        return model
    backbone = getattr(model, "backbone", None)
    if isinstance(backbone, DSTformer):
        return backbone
    raise ValueError(f"{type(model).__name__} has no DSTformer encoder to convert (expected a DSTformer or a .backbone)")


def to_fast_inference(model: nn.Module, dtype: torch.dtype | None = None) -> nn.Module:
    """Convert ``model``'s encoder linears to low precision, in place; returns ``model`` in eval mode.

    Args:
        model: a :class:`DSTformer`, ``ActionNet`` or ``MeshRegressor``.
        dtype: ``torch.bfloat16`` or ``torch.float16``; default from the model's device.
    """
    encoder = find_encoder(model)
    if dtype is None:
        dtype = default_fast_dtype(encoder.joints_embed.weight.device)
    if dtype not in (torch.bfloat16, torch.float16):
        raise ValueError(f"dtype {dtype} is not a low-precision type; expected torch.bfloat16 or torch.float16")
    targets: list[nn.Module] = [*encoder.blocks_st, *encoder.blocks_ts]
    process = getattr(getattr(getattr(model, "head", None), "diffmesh_process", None), "entire_process", None)
    if process is not None:
        targets.append(process)
    converted = 0
    for target in targets:
        # The reverse loop multiplies [B, 34, 128] tokens: at small batches float32 is faster.
        min_rows = REVERSE_LOOP_MIN_ROWS if target is process else 0
        found = [(parent, name, child) for parent in target.modules() for name, child in parent.named_children()
                 if isinstance(child, nn.Linear)]  # fmt: skip
        for parent, name, child in found:
            setattr(parent, name, LowPrecisionLinear(child, dtype, min_rows))
            converted += 1
    logger.debug("fast inference: %d linears in %s", converted, dtype)
    return model.eval()
