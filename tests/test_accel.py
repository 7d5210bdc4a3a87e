"""Fast inference mode: same outputs within a small tolerance, same keys, float32 outputs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import diffmesh
from diffmesh.body import BodyModel
from diffmesh.models.diffmesh import TwoStreamAttention
from diffmesh.models.fast import (
    LowPrecisionLinear,
    LowPrecisionMatmul,
    LowPrecisionMlp,
    LowPrecisionSpatioTemporalAttention,
    LowPrecisionTwoStreamAttention,
    to_fast_inference,
)
from diffmesh.models.layers import Mlp
from tests._golden import golden_path


def test_fast_encoder_on_golden_inputs() -> None:
    golden = torch.load(golden_path("dstformer_tiny.pt"), weights_only=True)
    model = diffmesh.models.DSTformer(diffmesh.models.DSTformerConfig(**golden["config"])).eval()
    model.load_state_dict(golden["state_dict"])
    keys = set(model.state_dict())
    to_fast_inference(model)
    assert isinstance(model.blocks_st[0].attn_s, LowPrecisionSpatioTemporalAttention)
    assert isinstance(model.blocks_ts[-1].mlp_t, LowPrecisionMlp)
    assert set(model.state_dict()) == keys
    with torch.inference_mode():
        for case in golden["cases"]:
            rep = model.get_representation(case["input"])
            assert rep.dtype == torch.float32
            assert (rep - case["representation"]).abs().mean() < 5e-3


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16-packed", "fp16-unpacked"])
def test_fast_mesh_model_keeps_keys_and_stays_close(small_body: BodyModel, dtype: torch.dtype) -> None:
    """float16 (the CUDA choice) runs the plain F.linear path, so CPU covers that code too."""
    model = diffmesh.create_model("diffmesh", body_model=small_body, dim_feat=64, dim_rep=64, depth=2, num_heads=4)
    keys = set(model.state_dict())
    with torch.inference_mode():
        for batch in (1, 9):  # batch 1: reverse loop in float32; 9 clips = 153 rows: low precision
            x = torch.rand(batch, 16, 17, 3)
            fast = diffmesh.create_model("diffmesh", body_model=small_body, dim_feat=64, dim_rep=64, depth=2, num_heads=4)
            fast.load_state_dict(model.state_dict())
            to_fast_inference(fast, dtype)
            ref, out = model(x), fast(x)
            assert out.verts.dtype == torch.float32
            assert (out.kp_3d - ref.kp_3d).norm(dim=-1).mean() < 1.0  # mm
    assert set(fast.state_dict()) == keys


def test_small_inputs_use_the_float32_weights() -> None:
    """Reverse-loop linears keep float32 copies for products too small to gain from bf16."""
    torch.manual_seed(0)
    linear = torch.nn.Linear(128, 384)
    fast = LowPrecisionLinear(linear, torch.bfloat16, min_rows=128)
    assert set(fast.state_dict()) == {"weight", "bias"}  # keys of nn.Linear, bf16 values
    small, large = torch.randn(1, 34, 128), torch.randn(8, 34, 128)
    with torch.no_grad():
        assert torch.equal(fast(small), linear(small))  # 34 rows < 128: exact float32
        big = fast(large)
        assert not torch.equal(big, linear(large))  # 272 rows: bf16 products
        torch.testing.assert_close(big, linear(large), atol=0.05, rtol=0.02)


def test_low_precision_matmul_equals_plain_bf16_linear() -> None:
    """The pre-packed oneDNN product (with GELU fused) gives the F.linear bf16 result."""
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 96)
    x = torch.randn(3, 17, 64).bfloat16()
    w, b = linear.weight.detach().bfloat16(), linear.bias.detach().bfloat16()
    with torch.no_grad():
        plain = LowPrecisionMatmul(linear, torch.bfloat16)
        assert torch.equal(plain(x), F.linear(x, w, b))
        gelu = LowPrecisionMatmul(linear, torch.bfloat16, gelu=True, keep_full=True)
        torch.testing.assert_close(gelu(x).float(), F.gelu(F.linear(x, w, b).float()), atol=0.02, rtol=0.01)
        x32 = torch.randn(5, 64)
        assert torch.equal(gelu.full(x32), F.gelu(linear(x32)))
        with pytest.raises(RuntimeError, match="keep_full"):
            plain.full(x32)


def test_low_precision_mlp_switches_to_float32_for_small_inputs() -> None:
    torch.manual_seed(0)
    mlp = Mlp(32, 64)
    fast = LowPrecisionMlp(mlp, torch.bfloat16, min_rows=16)
    assert set(fast.state_dict()) == set(mlp.state_dict())
    small, large = torch.randn(1, 8, 32), torch.randn(4, 8, 32)
    with torch.no_grad():
        out_small = fast(small)
        assert out_small.dtype == torch.float32 and torch.equal(out_small, mlp(small))
        out_large = fast(large)
        assert out_large.dtype == torch.bfloat16
        torch.testing.assert_close(out_large.float(), mlp(large), atol=0.03, rtol=0.02)


@pytest.mark.parametrize("batch", [1, 12], ids=["float32-path", "bf16-path"])
def test_low_precision_two_stream_attention_matches(batch: int) -> None:
    """Both halves (and the whole) of the denoiser's attention agree with float32."""
    torch.manual_seed(0)
    attn = TwoStreamAttention(128, 4).eval()
    fast = LowPrecisionTwoStreamAttention(attn, torch.bfloat16, min_rows=128)
    x = torch.randn(batch, 34, 128)
    with torch.no_grad():
        ref = attn(x)
        out = fast(x)
        assert out.dtype == torch.float32
        tol = 1e-5 if batch * 17 < 128 else 0.05
        torch.testing.assert_close(out, ref, atol=tol, rtol=tol)
        y_c, maps = attn.condition(x[:, 17:])
        torch.testing.assert_close(fast.diffusion(x[:, :17], maps).float(), attn.diffusion(x[:, :17], maps), atol=tol, rtol=tol)


def test_fast_model_can_be_copied_and_pickled(small_body: BodyModel) -> None:
    """The pre-packed oneDNN weights are opaque tensors: copies and pickles re-pack them."""
    import copy
    import pickle

    model = to_fast_inference(diffmesh.create_model("diffmesh", body_model=small_body, dim_feat=64, dim_rep=64,
                                                    depth=1, num_heads=4))  # fmt: skip
    x = torch.rand(9, 16, 17, 3)
    with torch.inference_mode():
        ref = model(x).verts
        for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
            assert torch.equal(clone(x).verts, ref)
