"""What this CPU can do, and the plan :func:`~diffmesh.accel.accelerate` makes from it.

Detection, in one place and overridable for tests and odd machines:

* ``isa``: :func:`torch.backends.cpu.get_cpu_capability` (``"AVX512"``, ``"AVX2"``,
  ``"DEFAULT"``, ...), the vector level PyTorch's own kernels use;
* ``native_bf16``: the CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX-BF16). Only
  then is bf16 faster than float32; elsewhere it is emulated and slower, so fast mode keeps
  float32 there. (``torch.ops.mkldnn._is_mkldnn_bf16_supported`` is true on any AVX512 core,
  emulated or not, so it is not the test.)
* ``vendor``: with ``isa``, it picks the encoder's float32 kernels: MKL on AMD CPUs without
  AVX-512 (its AVX2 SGEMM beat oneDNN's packed kernel there), oneDNN packed elsewhere
  (:func:`diffmesh.accel.plan.make_plan`).

Native bf16 also needs the kernels to be allowed to use it: with PyTorch held below AVX-512
(``ATEN_CPU_CAPABILITY=avx2``) or oneDNN capped below its bf16 instructions
(``ONEDNN_MAX_CPU_ISA=AVX2``, ``AVX512_CORE``, ...), bf16 would be emulated, so it does not count.
That is also how an AVX2 machine is imitated on a bigger one (docs/benchmarks.md §1.5).

``DIFFMESH_CPU_CAPABILITY`` overrides ``isa`` and ``native_bf16``: one of ``DEFAULT``,
``AVX2``, ``AVX512`` (no native bf16), ``AVX512_BF16`` or ``AMX`` (native bf16).
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

__all__ = ["CAPABILITY_ENV", "CpuCapability", "cpu_capability", "cpu_model_name"]

#: Environment variable that overrides the detected capability.
CAPABILITY_ENV = "DIFFMESH_CPU_CAPABILITY"

# override value -> (isa, native_bf16)
_OVERRIDES: dict[str, tuple[str, bool]] = {
    "DEFAULT": ("DEFAULT", False),
    "AVX2": ("AVX2", False),
    "AVX512": ("AVX512", False),
    "AVX512_BF16": ("AVX512", True),
    "AMX": ("AVX512", True),
}


@dataclass(frozen=True)
class CpuCapability:
    """The CPU features that choose kernels and number formats."""

    isa: str
    native_bf16: bool
    vendor: str
    source: str = "detected"  # or the override's name


@lru_cache(maxsize=1)
def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:  # not Linux
        return ""


def _cpuinfo_field(name: str) -> str:
    for line in _cpuinfo().splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return ""


def cpu_model_name() -> str:
    """The CPU's marketing name (``/proc/cpuinfo``, else :func:`platform.processor`)."""
    return _cpuinfo_field("model name") or platform.processor() or "unknown"


#: oneDNN's CPU-ISA cap (``ONEDNN_MAX_CPU_ISA``, older name ``DNNL_MAX_CPU_ISA``); values at or above
#: AVX512_CORE_BF16 leave its bf16 instructions on.
ONEDNN_ISA_ENVS = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")


def _onednn_allows_bf16() -> bool:
    for env in ONEDNN_ISA_ENVS:
        cap = os.environ.get(env, "").strip().upper()
        if cap:
            return cap == "ALL" or "BF16" in cap or "AMX" in cap or "FP16" in cap or cap.startswith("AVX10")
    return True


def _native_bf16() -> bool:
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if all(callable(p) for p in probes):
        return any(p() for p in probes)  # type: ignore[misc]
    flags = set(_cpuinfo_field("flags").split())
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def cpu_capability(override: str | None = None) -> CpuCapability:
    """This CPU's :class:`CpuCapability`; ``override`` (or ``$DIFFMESH_CPU_CAPABILITY``) forces
    ``isa`` and ``native_bf16`` (see the module docstring for the accepted names)."""
    vendor = _cpuinfo_field("vendor_id") or "unknown"
    name = override if override is not None else os.environ.get(CAPABILITY_ENV, "")
    if name:
        key = name.strip().upper()
        if key not in _OVERRIDES:
            raise ValueError(
                f"CPU capability {name!r} is not known; expected one of {sorted(_OVERRIDES)} "
                f"(argument or ${CAPABILITY_ENV}), or leave it unset to detect"
            )
        isa, native = _OVERRIDES[key]
        return CpuCapability(isa, native, vendor, source=key)
    isa = torch.backends.cpu.get_cpu_capability()
    native = isa.startswith("AVX512") and _onednn_allows_bf16() and _native_bf16()
    return CpuCapability(isa, native, vendor)
