""":func:`accelerate`: the one call that turns a reference model into an inference copy."""

from __future__ import annotations

import copy
import logging

import torch
from torch import nn

from diffmesh.accel.capability import CpuCapability
from diffmesh.accel.chunking import AcceleratedBodyModel, chunk_encoder
from diffmesh.accel.lowp import find_encoder, to_low_precision
from diffmesh.accel.onednn import PackedLinear
from diffmesh.accel.plan import AccelPlan, make_plan
from diffmesh.body.layer import BodyModel
from diffmesh.models.dstformer import DSTformer

__all__ = ["accelerate", "copy_network"]

logger = logging.getLogger(__name__)


def copy_network(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` that shares its body model (constants, never changed here)."""
    body = getattr(model, "body_model", None)
    return copy.deepcopy(model, {id(body): body} if body is not None else {})


def _model_device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _pack_float32_linears(encoder: DSTformer) -> int:
    """Swap the encoder's float32 block linears and ``pre_logits`` for :class:`PackedLinear`
    (same parameter tensors); the low-precision sub-blocks are left as they are."""
    swapped = 0
    scopes = [*encoder.blocks_st, *encoder.blocks_ts, encoder.pre_logits]
    for scope in scopes:
        found = [(parent, name, child) for parent in scope.modules() for name, child in parent.named_children()
                 if type(child) is nn.Linear]  # fmt: skip
        for parent, name, child in found:
            setattr(parent, name, PackedLinear.from_linear(child))
            swapped += 1
    return swapped


def accelerate(
    model: nn.Module,
    mode: str = "auto",
    *,
    device: torch.device | str | None = None,
    capability: CpuCapability | None = None,
) -> nn.Module:
    """An accelerated copy of ``model`` for inference; ``model`` itself is never changed.

    Args:
        model: a :class:`~diffmesh.models.DSTformer`, ``ActionNet`` or ``MeshRegressor``.
        mode: ``"auto"``, ``"fast"``, ``"parity"``, ``"reference"`` or ``"bf16"``
            (:mod:`diffmesh.accel.plan` says what each runs).
        device: where it will run (default: where its parameters are).
        capability: the CPU's features (default: detected, or ``$DIFFMESH_CPU_CAPABILITY``).

    Returns:
        The copy in eval mode, its :class:`~diffmesh.accel.AccelPlan` as ``.accel_plan``.
        State-dict keys are unchanged; a mesh model's body model keeps sharing its buffers.
    """
    plan = make_plan(mode, device if device is not None else _model_device(model), capability)
    logger.debug("acceleration plan: %s", plan)
    fast = copy_network(model)
    if plan.kernels != "reference":
        _apply(fast, plan)
    if plan.device == "cuda" and plan.dtype == "float32":
        _strict_float32(fast)
    fast.accel_plan = plan
    return fast.eval()


#: (cuDNN's TF32 flag, float32 matmul precision) saved by :func:`_float32_on` for :func:`_float32_restore`.
_SAVED_PRECISION: list[tuple[bool, str]] = []


def _float32_on(module: nn.Module, args: object) -> None:
    _SAVED_PRECISION.append((torch.backends.cudnn.allow_tf32, torch.get_float32_matmul_precision()))
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


def _float32_restore(module: nn.Module, args: object, output: object) -> None:
    if _SAVED_PRECISION:
        conv, matmul = _SAVED_PRECISION.pop()
        torch.backends.cudnn.allow_tf32 = conv
        torch.set_float32_matmul_precision(matmul)


def _strict_float32(model: nn.Module) -> None:
    """Make ``model``'s calls on CUDA run in true float32: cuDNN's convolutions default to TF32 (a
    10-bit mantissa), which moved the DiffMesh heads' Conv1d outputs (and through the sampling loop
    the rotations) by up to 0.6 % of their scale against the CPU (docs/benchmarks.md, "GPU check");
    matrix products too where a user allowed TF32. Both are switched off for the call and restored
    after it (module-level hooks: the model still pickles)."""
    model.register_forward_pre_hook(_float32_on)
    model.register_forward_hook(_float32_restore, always_call=True)


def _apply(model: nn.Module, plan: AccelPlan) -> None:
    encoder = find_encoder(model)
    if plan.chunked:
        chunk_encoder(encoder)
    if plan.dtype != "float32":
        to_low_precision(model, plan.torch_dtype)
    if plan.float32_kernels == "onednn-packed":
        _pack_float32_linears(encoder)
    body = getattr(model, "body_model", None)
    if plan.device == "cpu" and isinstance(body, BodyModel):
        model.body_model = AcceleratedBodyModel.sharing(body, packed=plan.body_kernels == "onednn-packed")
