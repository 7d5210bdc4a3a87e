"""Matrix multiplies through oneDNN with pre-packed weights (CPU inference).

PyTorch computes a float32 ``F.linear`` on CPU with MKL's SGEMM. On the AMD EPYC CPUs of
our machines that runs at ~215 GFLOP/s on 2 cores, while oneDNN's own float32 kernel, on a
weight pre-packed in its blocked layout, runs at ~515 GFLOP/s (2.2x; bf16: ~1000) with
float32 accuracy (mean error 3.2e-7 against float64 where SGEMM has 2.1e-7; measured in
docs/benchmarks.md). These helpers expose that path:

* :func:`pack_weight` / :func:`packed_linear`: the primitive, float32 or bfloat16, with
  exact GELU optionally fused into the product;
* :class:`PackedLinear`: an ``nn.Linear`` (same parameters and state-dict keys) that uses
  the packed path for CPU float32 inference — when autograd is off — and plain
  ``F.linear`` otherwise (training, CUDA, other dtypes). It packs lazily and re-packs when
  its weight changes, so a training loop's evaluation passes see current weights.

Everything falls back to ``F.linear`` where the oneDNN ops are missing (a torch built
without them, a CPU oneDNN does not support).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def onednn_available() -> bool:
    """Whether this torch has the oneDNN linear ops (checked, not assumed, per build)."""
    mkldnn = getattr(torch.ops, "mkldnn", None)
    return (
        torch.backends.mkldnn.is_available()
        and hasattr(mkldnn, "_reorder_linear_weight")
        and hasattr(mkldnn, "_linear_pointwise")
    )


def pack_weight(weight: torch.Tensor) -> torch.Tensor | None:
    """``weight [out, in]`` (CPU, float32 or bfloat16) in oneDNN's blocked layout, or ``None``
    where the packed path is unavailable. The result is an opaque tensor: it cannot be
    copied, pickled or indexed, only passed to :func:`packed_linear`."""
    if weight.device.type != "cpu" or weight.dtype not in (torch.float32, torch.bfloat16) or not onednn_available():
        return None
    try:
        return torch.ops.mkldnn._reorder_linear_weight(weight.detach())
    except RuntimeError:  # an ISA oneDNN cannot handle
        return None


def packed_linear(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, packed: torch.Tensor | None, gelu: bool = False
) -> torch.Tensor:
    """``x Wᵀ + b`` (then exact GELU) with ``x`` in the weight's dtype, through oneDNN on the
    packed weight when there is one and ``x`` is on the CPU, else ``F.linear``."""
    if packed is not None and x.device.type == "cpu":
        if not x.is_contiguous():
            x = x.contiguous()
        return torch.ops.mkldnn._linear_pointwise(x, packed, bias, "gelu" if gelu else "none", [], "none" if gelu else "")
    y = F.linear(x, weight, bias)
    return F.gelu(y) if gelu else y


class PackedLinear(nn.Linear):
    """``nn.Linear`` whose CPU float32 inference runs through oneDNN on a cached packed weight.

    Same parameters, initialisation and state-dict keys as ``nn.Linear``. With autograd on
    (training), on CUDA or in another dtype it is exactly ``nn.Linear``. The packed copy
    (one more float32 copy of the weight) is built on the first inference call and rebuilt
    whenever the weight is replaced or modified in place.
    """

    _packed: torch.Tensor | None = None
    _packed_key: tuple | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        if torch.is_grad_enabled() or x.dtype != torch.float32 or w.dtype != torch.float32 or x.device.type != "cpu":
            return F.linear(x, w, self.bias)
        # Inference tensors (a model built under torch.inference_mode) keep no version counter.
        key = (w.data_ptr(), -1 if w.is_inference() else w._version, w.device)
        if key != self._packed_key:
            self._packed, self._packed_key = pack_weight(w), key
        return packed_linear(x, w, self.bias, self._packed)

    def __getstate__(self) -> dict:  # the opaque packed copy is neither copied nor pickled
        state = self.__dict__.copy()
        state.pop("_packed", None)
        state.pop("_packed_key", None)
        return state
