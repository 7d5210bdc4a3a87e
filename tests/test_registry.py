"""Every registered variant (``diffmesh.list_models()``): it builds, runs a forward pass on its
input shape, every parameter learns, and its weights round-trip.

Parametrised over the registry, so a new entry is covered without touching this file. Variants
are built tiny (``TINY`` encoder, small heads, random initialisation) unless they come with
packaged weights, which are small and loaded as shipped (checksum verified).
"""

from __future__ import annotations

import io
from typing import Any

import pytest
import torch

import diffmesh
from diffmesh.body import BodyModel
from diffmesh.models import MeshOutput
from diffmesh.registry import allowed_overrides, get_spec
from tests.conftest import TINY

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: Head hyper-parameters of the tiny variants (only those a variant accepts are passed).
#: ``diffusion_grad``: DiffMesh's reverse loop learns (the official loop is frozen, D-D1).
TINY_HEADS = {"hidden_dim": 32, "clip_len": 4, "diffusion_grad": True}
#: Parameters a variant keeps but its forward does not use: the encoder's own 3-D pose head
#: under a task head (kept so official checkpoints load with their full key set).
UNUSED_UNDER_A_TASK_HEAD = {"backbone.head.weight", "backbone.head.bias"}
BATCH, PERSONS = 2, 2


def _build(name: str, body: BodyModel, *, pretrained: bool = True) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The variant and the overrides it was built with: packaged weights as shipped, else tiny."""
    spec = get_spec(name)
    if spec.weights is not None and pretrained:
        return diffmesh.create_model(name), {}
    overrides = {**TINY, **{k: v for k, v in TINY_HEADS.items() if k in allowed_overrides(name)}}
    return diffmesh.create_model(name, pretrained=False, **_body(name, body), **overrides), overrides


def _body(name: str, body: BodyModel) -> dict[str, BodyModel]:
    return {"body_model": body} if get_spec(name).task == "mesh" else {}


def _inputs(name: str, model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Random inputs of the variant's shape: ``[B, T, 17, C]`` 2-D keypoints + confidence (C = 3;
    6 with the detector's 3-D joints), ``[N, M, T, 17, 3]`` for action models, plus the initial
    SMPL estimate for refine models."""
    spec = get_spec(name)
    frames = getattr(getattr(model, "head", None), "clip_len", None) or 4
    gen = torch.Generator().manual_seed(1)
    if spec.task == "action":
        return {"x": torch.rand(BATCH, PERSONS, frames, 17, 3, generator=gen)}
    channels = get_spec(name).config.get("dim_in", 3)
    inputs = {"x": torch.rand(BATCH, frames, 17, channels, generator=gen)}
    if spec.architecture == "diffmesh_refine":
        inputs["init_pose"] = torch.randn(BATCH, frames, 72, generator=gen) * 0.3
        inputs["init_shape"] = torch.randn(BATCH, frames, 10, generator=gen)
    return inputs


def _outputs(out: torch.Tensor | MeshOutput) -> list[torch.Tensor]:
    if isinstance(out, MeshOutput):
        return [t for t in (out.theta, out.verts, out.kp_3d, out.loss_diff) if t is not None]
    return [out]


def _check_shapes(name: str, out: torch.Tensor | MeshOutput, inputs: dict[str, torch.Tensor]) -> None:
    spec, x = get_spec(name), inputs["x"]
    if spec.task == "pose3d":
        assert isinstance(out, torch.Tensor) and out.shape == x.shape
    elif spec.task == "action":
        assert isinstance(out, torch.Tensor) and out.dim() == 2 and out.shape[0] == x.shape[0]
    else:
        assert isinstance(out, MeshOutput)
        assert out.theta.shape == (*x.shape[:2], 82) and out.kp_3d.shape == (*x.shape[:-1], 3)
    assert all(torch.isfinite(t).all() for t in _outputs(out)), name


def test_the_registry_is_not_empty() -> None:
    assert len(diffmesh.list_models()) >= 10 and "diffmesh-synthetic" in diffmesh.list_models()


@pytest.mark.parametrize("name", diffmesh.list_models())
def test_forward_and_every_parameter_learns(name: str, small_body: BodyModel) -> None:
    model, _ = _build(name, small_body)
    assert not model.training  # create_model returns eval mode
    inputs = _inputs(name, model)
    with torch.no_grad():
        _check_shapes(name, model(**inputs), inputs)
    model.train()
    out = model(**inputs)
    # Every output enters the loss (the mesh's auxiliary next-frame pair too).
    loss = sum(t.float().abs().mean() + t.float().mean() for t in _outputs(out))
    loss.backward()
    silent = {n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)}
    expected = UNUSED_UNDER_A_TASK_HEAD if get_spec(name).task != "pose3d" else set()
    assert silent == expected, f"{name}: parameters without gradient: {sorted(silent - expected)}"


@pytest.mark.parametrize("name", diffmesh.list_models())
def test_state_dict_round_trip(name: str, small_body: BodyModel) -> None:
    """save → ``torch.load(weights_only=True)`` → strict load into a differently initialised
    instance (directly, and through the registry's training-run reader) → identical outputs."""
    torch.manual_seed(0)
    model, overrides = _build(name, small_body, pretrained=False)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    torch.manual_seed(1)  # another random initialisation ...
    fresh, _ = _build(name, small_body, pretrained=False)
    assert any(not torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), state.values()))
    fresh.load_state_dict(state, strict=True)  # ... replaced by every saved tensor
    checkpoint = {"format_version": 1, "model": state, "config": {"model": name, "model_overrides": overrides}}
    loaded = diffmesh.create_model(name, checkpoint=checkpoint, checkpoint_format="training-run", **_body(name, small_body))
    assert loaded.weights_info.trained and loaded.weights_info.format == "training-run"

    inputs = _inputs(name, model)
    results = []
    for m in (model, fresh.eval(), loaded):
        torch.manual_seed(2)
        with torch.no_grad():
            results.append(_outputs(m(**inputs)))
    for other in results[1:]:
        assert len(other) == len(results[0])
        for a, b in zip(results[0], other):
            assert torch.equal(a, b), name


@pytest.mark.parametrize("name", [n for n in diffmesh.list_models() if get_spec(n).weights is not None])
def test_packaged_weights_load_and_say_so(name: str) -> None:
    model = diffmesh.create_model(name)
    info = model.weights_info
    assert info.trained and info.format == "packaged" and info.sha256 == get_spec(name).sha256
