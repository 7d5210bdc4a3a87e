"""oneDNN packed linears: float32 results of nn.Linear, current weights, copyable."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
import torch.nn.functional as F

from diffmesh.accel.onednn import PackedLinear, onednn_available, pack_weight, packed_linear

pytestmark = pytest.mark.skipif(not onednn_available(), reason="this torch build has no oneDNN linear ops")


def _layer() -> PackedLinear:
    torch.manual_seed(0)
    return PackedLinear(64, 48)


@pytest.mark.parametrize("shape", [(5, 64), (2, 17, 64), (1, 1, 64)])
def test_inference_matches_nn_linear(shape: tuple[int, ...]) -> None:
    layer = _layer()
    x = torch.randn(*shape)
    with torch.no_grad():
        out = layer(x)
    assert layer._packed is not None  # the oneDNN path ran
    torch.testing.assert_close(out, F.linear(x, layer.weight, layer.bias), atol=1e-5, rtol=1e-5)
    non_contiguous = torch.randn(shape[-1], *shape[:-1]).movedim(0, -1)
    with torch.inference_mode():
        torch.testing.assert_close(layer(non_contiguous), F.linear(non_contiguous, layer.weight, layer.bias), atol=1e-5, rtol=1e-5)


def test_training_is_plain_nn_linear() -> None:
    layer = _layer()
    x = torch.randn(3, 64, requires_grad=True)
    out = layer(x)
    assert torch.equal(out, F.linear(x, layer.weight, layer.bias))
    out.sum().backward()
    assert layer.weight.grad is not None and x.grad is not None
    assert layer._packed is None  # never packed
    assert set(layer.state_dict()) == {"weight", "bias"}


def test_repacks_when_the_weight_changes() -> None:
    """An optimizer step or load_state_dict changes the weight in place: evaluation after it
    must use the new values, not a stale packed copy."""
    layer = _layer()
    x = torch.randn(4, 64)
    with torch.no_grad():
        before = layer(x)
        layer.weight.mul_(2.0)  # in place, as optimizer.step() does
        after = layer(x)
        torch.testing.assert_close(after - layer.bias, 2 * (before - layer.bias), atol=1e-5, rtol=1e-5)
        layer.load_state_dict({"weight": torch.zeros(48, 64), "bias": torch.ones(48)})
        assert torch.equal(layer(x), torch.ones(4, 48))


def test_packed_layer_copies_and_pickles() -> None:
    layer = _layer()
    x = torch.randn(4, 64)
    with torch.no_grad():
        ref = layer(x)  # packed now: the opaque tensor must not travel
        for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
            torch.testing.assert_close(clone(x), ref, atol=0, rtol=0)


def test_primitive_with_fused_gelu_in_float32_and_bf16() -> None:
    torch.manual_seed(0)
    w, b = torch.randn(32, 16) * 0.2, torch.randn(32)
    x = torch.randn(7, 16)
    packed = pack_weight(w)
    torch.testing.assert_close(packed_linear(x, w, b, packed, gelu=True), F.gelu(F.linear(x, w, b)), atol=1e-5, rtol=1e-5)
    wb, bb, xb = w.bfloat16(), b.bfloat16(), x.bfloat16()
    assert torch.equal(packed_linear(xb, wb, bb, pack_weight(wb)), F.linear(xb, wb, bb))
    assert pack_weight(w.half()) is None  # float16 on CPU: no packed path, plain F.linear
    torch.testing.assert_close(packed_linear(x.half(), w.half(), b.half(), None).float(), F.linear(x, w, b), atol=0.05, rtol=0.02)
