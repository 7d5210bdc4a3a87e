"""The acceleration plan: which number format and kernels a mode gets on this machine.

============  ==================================================================================
mode          what runs
============  ==================================================================================
reference     the plain model (a copy), nothing swapped: the baseline for benchmarks
parity        float32 everywhere; oneDNN products on pre-packed weights where this torch has them
              (at least as fast as MKL on every CPU measured), batches chunked to stay in
              cache. Equal to the reference within float32 rounding
fast          low precision where it pays: bf16 sub-blocks on CPUs that multiply bf16 natively
              (AVX512-BF16, AMX), float16 on CUDA; elsewhere exactly ``parity`` (emulated bf16
              is several times slower than float32, so fast is never slower than parity)
auto          ``fast`` on CPU, ``parity`` on other devices (the pipeline's default)
bf16          bf16 sub-blocks whatever the CPU (accuracy studies; slow without native bf16)
============  ==================================================================================
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from diffmesh.accel.capability import CpuCapability, cpu_capability
from diffmesh.accel.onednn import onednn_available

__all__ = ["MODES", "AccelPlan", "make_plan"]

logger = logging.getLogger(__name__)

MODES = ("auto", "fast", "parity", "reference", "bf16")


@dataclass(frozen=True)
class AccelPlan:
    """What :func:`~diffmesh.accel.accelerate` does for one mode on one machine.

    Attributes:
        mode: the mode asked for.
        device: ``"cpu"`` or ``"cuda"``.
        capability: the CPU's vector level (``"AVX512"``, ``"AVX2"``, ...; ``"cuda"`` on GPU).
        native_bf16: whether the CPU multiplies bf16 in hardware.
        dtype: number format of the encoder's attention and MLP products (and the large
            reverse-loop products): ``"float32"``, ``"bfloat16"`` or ``"float16"``.
        kernels: of those products: ``"onednn-packed"`` (oneDNN on pre-packed weights),
            ``"mkl"`` (PyTorch's default CPU products), ``"cuda"`` or ``"reference"``.
        float32_kernels: of the float32 encoder products (all of them in parity mode,
            ``pre_logits`` in fast mode); the body model's pose blend shapes use the same.
        chunked: batches are split into cache-sized chunks (encoder and skinning).
    """

    mode: str
    device: str
    capability: str
    native_bf16: bool
    dtype: str
    kernels: str
    float32_kernels: str
    chunked: bool

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)


def make_plan(mode: str = "auto", device: torch.device | str = "cpu", capability: CpuCapability | None = None) -> AccelPlan:
    """The :class:`AccelPlan` of ``mode`` on ``device`` (``capability``: detected when ``None``)."""
    if mode not in MODES:
        raise ValueError(f"acceleration mode {mode!r} is not known; expected one of {list(MODES)}")
    kind = torch.device(device).type
    if kind != "cpu":
        low = mode in ("fast", "bf16")
        dtype = {"fast": "float16", "bf16": "bfloat16"}.get(mode, "float32")
        kernels = "reference" if mode == "reference" else kind
        return AccelPlan(mode, kind, kind, False, dtype if low else "float32", kernels, kernels, False)
    cap = capability if capability is not None else cpu_capability()
    packed = onednn_available()
    if mode == "reference":
        return AccelPlan(mode, kind, cap.isa, cap.native_bf16, "float32", "reference", "reference", False)
    low = mode == "bf16" or (mode in ("fast", "auto") and cap.native_bf16)
    # oneDNN on packed weights wherever this torch has it: float32 at least as fast as MKL on
    # every CPU measured (AMD EPYC ~2.3x, Intel ~1.1x; docs/benchmarks.md 1.5), bf16 with GELU fused
    kernels = float32_kernels = "onednn-packed" if packed else "mkl"
    return AccelPlan(mode, kind, cap.isa, cap.native_bf16, "bfloat16" if low else "float32", kernels, float32_kernels, True)
