"""The acceleration plan: which number format and kernels a mode gets on this machine.

============  ==================================================================================
mode          what runs
============  ==================================================================================
reference     the plain model (a copy), nothing swapped: the baseline for benchmarks
parity        float32 everywhere; the encoder's products through whichever of oneDNN (on
              pre-packed weights) and MKL is faster on this CPU, the body model's pose blend
              shapes through oneDNN; batches chunked to stay in cache. Equal to the reference
              within float32 rounding
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
            ``pre_logits`` in fast mode).
        body_kernels: of the body model's pose blend-shape product (``"onednn-packed"``
            or ``"mkl"``; ``"reference"``/``"cuda"`` as ``kernels``).
        chunked: batches are split into cache-sized chunks (encoder and skinning).
    """

    mode: str
    device: str
    capability: str
    native_bf16: bool
    dtype: str
    kernels: str
    float32_kernels: str
    body_kernels: str
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
        return AccelPlan(mode, kind, kind, False, dtype if low else "float32", kernels, kernels, kernels, False)
    cap = capability if capability is not None else cpu_capability()
    if mode == "reference":
        return AccelPlan(mode, kind, cap.isa, cap.native_bf16, "float32", "reference", "reference", "reference", False)
    low = mode == "bf16" or (mode in ("fast", "auto") and cap.native_bf16)
    packed = "onednn-packed" if onednn_available() else "mkl"
    float32_kernels = _float32_encoder_kernels(cap, packed)
    # bf16 products go through oneDNN (GELU fused); the pose blend shapes were 1.4-4.7x faster
    # through oneDNN on every CPU measured (docs/benchmarks.md 1.1, 1.9)
    kernels = packed if low else float32_kernels
    return AccelPlan(mode, kind, cap.isa, cap.native_bf16, "bfloat16" if low else "float32", kernels, float32_kernels, packed, True)


def _float32_encoder_kernels(cap: CpuCapability, packed: str) -> str:
    """oneDNN on packed weights where this torch has it, except on AMD CPUs without AVX-512.

    MKL's SGEMM takes a slow path on AMD CPUs with AVX-512 (oneDNN ~2.3x faster there), and
    oneDNN was as fast or faster on Intel with and without AVX-512; on an AMD EPYC with AVX2
    only, MKL's own AVX2 kernel was faster (the encoder's products 169-178 against 144-151
    GFLOP/s; the whole MotionBERT encoder 10 % faster; docs/benchmarks.md 1.9).
    """
    if packed == "onednn-packed" and cap.vendor == "AuthenticAMD" and cap.isa in ("AVX2", "DEFAULT"):
        return "mkl"
    return packed
