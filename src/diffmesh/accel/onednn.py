"""Matrix multiplies through oneDNN with pre-packed weights (CPU inference).

PyTorch computes a float32 ``F.linear`` on CPU with MKL's SGEMM, fast on Intel CPUs and on a
slow path elsewhere (AMD), where oneDNN's own float32 kernel on a weight pre-packed in its
blocked layout is about twice as fast at float32 accuracy; bf16 products always gain from
the packed layout. Rates per CPU: docs/benchmarks.md (``benchmarks/bench_gemm.py``).

* :func:`pack_weight` / :func:`packed_linear`: the primitive, float32 or bfloat16, with
  exact GELU optionally fused into the product;
* :class:`WeightPack`: a lazily built, self-refreshing packed copy of one weight;
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
        return torch.ops.mkldnn._reorder_linear_weight(weight.detach().contiguous())
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


class WeightPack:
    """The packed copy of one weight, built lazily for :func:`packed_linear`.

    :meth:`get` packs on first use and again whenever the weight is replaced or modified in
    place (its storage or version counter moves), so evaluation after an optimizer step or
    ``load_state_dict`` sees current values. The packed tensor is opaque (it cannot be copied
    or pickled): copies and pickles of a holder get an empty pack that re-packs on use.
    """

    def __init__(self) -> None:
        self.packed: torch.Tensor | None = None
        self._key: tuple | None = None

    def get(self, weight: torch.Tensor) -> torch.Tensor | None:
        """The packed ``weight`` (``None`` where there is no packed path)."""
        # Inference tensors (a model built under torch.inference_mode) keep no version counter.
        key = (weight.data_ptr(), -1 if weight.is_inference() else weight._version, weight.device, weight.dtype)
        if key != self._key:
            self.packed, self._key = pack_weight(weight), key
        return self.packed

    def __reduce__(self) -> tuple:
        return (WeightPack, ())


class PackedLinear(nn.Linear):
    """``nn.Linear`` whose CPU float32 inference runs through oneDNN on a cached packed weight.

    Same parameters, initialisation and state-dict keys as ``nn.Linear``. With autograd on
    (training), on CUDA or in another dtype it is exactly ``nn.Linear``. The packed copy
    (one more float32 copy of the weight, a :class:`WeightPack`) is built on the first
    inference call and rebuilt whenever the weight is replaced or modified in place.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._pack = WeightPack()

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> PackedLinear:
        """A :class:`PackedLinear` holding ``linear``'s own parameters (shared, not copied)."""
        layer = cls(linear.in_features, linear.out_features, bias=linear.bias is not None, device="meta")
        layer.weight = linear.weight
        layer.bias = linear.bias
        return layer

    @property
    def _packed(self) -> torch.Tensor | None:
        """The current packed copy (``None`` until the first inference call)."""
        return self._pack.packed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        if torch.is_grad_enabled() or x.dtype != torch.float32 or w.dtype != torch.float32 or x.device.type != "cpu":
            return F.linear(x, w, self.bias)
        return packed_linear(x, w, self.bias, self._pack.get(w))
