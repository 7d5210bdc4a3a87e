"""Fast inference mode: same outputs within a small tolerance, same keys, float32 outputs."""

from __future__ import annotations

import torch

import diffmesh
from diffmesh.body import BodyModel
from diffmesh.models.fast import LowPrecisionLinear, to_fast_inference
from tests._golden import golden_path


def test_fast_encoder_on_golden_inputs() -> None:
    golden = torch.load(golden_path("dstformer_tiny.pt"), weights_only=True)
    model = diffmesh.models.DSTformer(diffmesh.models.DSTformerConfig(**golden["config"])).eval()
    model.load_state_dict(golden["state_dict"])
    to_fast_inference(model)
    assert isinstance(model.blocks_st[0].attn_s.qkv, LowPrecisionLinear)
    with torch.inference_mode():
        for case in golden["cases"]:
            rep = model.get_representation(case["input"])
            assert rep.dtype == torch.float32
            assert (rep - case["representation"]).abs().mean() < 5e-3


def test_fast_mesh_model_keeps_keys_and_stays_close(small_body: BodyModel) -> None:
    model = diffmesh.create_model("diffmesh", body_model=small_body, dim_feat=64, dim_rep=64, depth=2, num_heads=4)
    keys = set(model.state_dict())
    x = torch.rand(2, 16, 17, 3)
    with torch.inference_mode():
        ref = model(x)
        to_fast_inference(model)
        out = model(x)
    assert set(model.state_dict()) == keys
    assert out.verts.dtype == torch.float32
    assert (out.kp_3d - ref.kp_3d).norm(dim=-1).mean() < 1.0  # mm


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
