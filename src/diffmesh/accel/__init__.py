"""Inference acceleration beside the reference maths.

The models in :mod:`diffmesh.models` and :mod:`diffmesh.body` are the plain reference
maths. :func:`accelerate` returns a copy with faster parts swapped in, chosen from what this
CPU can do (:func:`cpu_capability`): oneDNN kernels on pre-packed weights
(:mod:`~diffmesh.accel.onednn`), low-precision sub-blocks where the CPU multiplies bf16
natively (:mod:`~diffmesh.accel.lowp`) and cache-sized batch chunks
(:mod:`~diffmesh.accel.chunking`). The plan it follows is an :class:`AccelPlan`
(:func:`make_plan`); tests check every plan against the plain model.
"""

from diffmesh.accel.apply import accelerate, copy_network
from diffmesh.accel.capability import CAPABILITY_ENV, CpuCapability, cpu_capability, cpu_model_name
from diffmesh.accel.plan import MODES, AccelPlan, make_plan

__all__ = [
    "CAPABILITY_ENV",
    "MODES",
    "AccelPlan",
    "CpuCapability",
    "accelerate",
    "copy_network",
    "cpu_capability",
    "cpu_model_name",
    "make_plan",
]
