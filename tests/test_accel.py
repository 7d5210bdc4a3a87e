"""diffmesh.accel: every plan checked against the plain model; dispatch by CPU capability.

The golden tests (test_golden_models.py) run the plain reference model; here the accelerated
copies are compared with it (parity: float32 rounding; bf16: a small, stated tolerance).
"""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
import torch.nn.functional as F

import diffmesh
from diffmesh.accel import CpuCapability, accelerate, cpu_capability, make_plan
from diffmesh.accel.chunking import AcceleratedBodyModel, ChunkedDSTformer
from diffmesh.accel.lowp import (
    LowPrecisionLinear,
    LowPrecisionMatmul,
    LowPrecisionMlp,
    LowPrecisionSpatioTemporalAttention,
    LowPrecisionTwoStreamAttention,
)
from diffmesh.accel.onednn import PackedLinear, onednn_available
from diffmesh.body import BodyModel
from diffmesh.models.diffmesh import TwoStreamAttention
from diffmesh.models.layers import Mlp
from tests._golden import golden_path
from tests.conftest import TINY

NATIVE_BF16 = CpuCapability("AVX512", True, "GenuineIntel")
AVX2_INTEL = CpuCapability("AVX2", False, "GenuineIntel")
AVX2_AMD = CpuCapability("AVX2", False, "AuthenticAMD")
AVX512_AMD = CpuCapability("AVX512", True, "AuthenticAMD")


@pytest.fixture(params=["onednn-packed", "mkl"])
def float32_kernels(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both float32 kernel choices: oneDNN packed, and MKL as on a torch without oneDNN's ops."""
    if request.param == "mkl":
        monkeypatch.setattr("diffmesh.accel.plan.onednn_available", lambda: False)
    elif not onednn_available():
        pytest.skip("this torch build has no oneDNN linear ops")
    return request.param


def _mesh_model(body: BodyModel) -> torch.nn.Module:
    return diffmesh.create_model("diffmesh", body_model=body, dim_feat=64, dim_rep=64, depth=2, num_heads=4).eval()


def _low_precision(model: torch.nn.Module) -> list[torch.nn.Module]:
    return [m for m in model.modules() if type(m).__name__.startswith("LowPrecision")]


# --------------------------------------------------------------------------- dispatch


def test_native_bf16_gets_bf16_weights_and_avx2_stays_float32(small_body: BodyModel) -> None:
    model = _mesh_model(small_body)
    native = accelerate(model, "fast", capability=NATIVE_BF16)
    assert native.accel_plan.dtype == "bfloat16" and native.accel_plan.kernels in ("onednn-packed", "mkl")
    assert native.backbone.blocks_st[0].attn_s.qkv.weight.dtype == torch.bfloat16
    for cap in (AVX2_INTEL, AVX2_AMD):
        for mode in ("fast", "auto", "parity"):
            plain32 = accelerate(model, mode, capability=cap)
            assert plain32.accel_plan.dtype == "float32" and not _low_precision(plain32)
            assert all(p.dtype == torch.float32 for p in plain32.parameters())
    assert accelerate(model, "bf16", capability=AVX2_INTEL).accel_plan.dtype == "bfloat16"  # asked for explicitly


def test_float32_kernels_follow_the_cpu(float32_kernels: str) -> None:
    """oneDNN packed where this torch has it, except the encoder on AMD without AVX-512 (MKL's AVX2
    SGEMM is faster there); the body model's blend shapes through oneDNN wherever it exists."""
    for cap in (AVX2_INTEL, NATIVE_BF16, AVX512_AMD):
        assert make_plan("parity", capability=cap).kernels == float32_kernels
        assert make_plan("fast", capability=cap).float32_kernels == float32_kernels
    for mode in ("parity", "fast", "auto"):
        plan = make_plan(mode, capability=AVX2_AMD)
        assert plan.kernels == plan.float32_kernels == "mkl" and plan.body_kernels == float32_kernels
    bf16 = make_plan("bf16", capability=AVX2_AMD)  # low precision keeps oneDNN (GELU fused)
    assert (bf16.kernels, bf16.float32_kernels) == (float32_kernels, "mkl")
    assert make_plan("reference", capability=AVX2_AMD).kernels == "reference"
    assert make_plan("auto", "cuda").dtype == "float32" and make_plan("fast", "cuda").dtype == "float16"


def test_capability_override_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIFFMESH_CPU_CAPABILITY", "AVX2")
    assert cpu_capability() == CpuCapability("AVX2", False, cpu_capability().vendor, source="AVX2")
    assert make_plan("fast").dtype == "float32"
    monkeypatch.setenv("DIFFMESH_CPU_CAPABILITY", "amx")
    assert cpu_capability().native_bf16 and make_plan("fast").dtype == "bfloat16"
    monkeypatch.setenv("DIFFMESH_CPU_CAPABILITY", "SSE9")
    with pytest.raises(ValueError, match="SSE9.*AVX512_BF16"):
        cpu_capability()
    with pytest.raises(ValueError, match="'turbo'.*parity"):
        make_plan("turbo")


def test_bf16_restricted_kernels_are_not_native(monkeypatch: pytest.MonkeyPatch) -> None:
    """An AVX2 machine imitated on a bf16 one (ATEN_CPU_CAPABILITY / ONEDNN_MAX_CPU_ISA): bf16
    would be emulated there, so fast mode must stay float32 whatever the CPU flags say."""
    monkeypatch.delenv("DIFFMESH_CPU_CAPABILITY", raising=False)
    monkeypatch.setattr("diffmesh.accel.capability._native_bf16", lambda: True)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    assert cpu_capability().native_bf16 and make_plan("fast").dtype == "bfloat16"
    for cap in ("AVX2", "avx512_core", "AVX2_VNNI"):
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
        assert not cpu_capability().native_bf16 and make_plan("fast").dtype == "float32", cap
    for cap in ("ALL", "AVX512_CORE_BF16", "avx512_core_amx"):
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
        assert cpu_capability().native_bf16, cap
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert not cpu_capability().native_bf16 and make_plan("fast").dtype == "float32"
# --------------------------------------------------------------------------- equivalence


def test_accelerate_returns_a_copy_and_never_changes_the_model(small_body: BodyModel) -> None:
    model = _mesh_model(small_body)
    kinds = [type(m) for m in model.modules()]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(9, 16, 17, 3)
    for mode in ("reference", "parity", "bf16"):
        fast = accelerate(model, mode, capability=AVX2_AMD)
        assert fast is not model and set(fast.state_dict()) == set(state)
        with torch.inference_mode():
            fast(x)
    assert [type(m) for m in model.modules()] == kinds and type(model.body_model) is BodyModel
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_parity_mode_equals_the_plain_model(small_body: BodyModel, float32_kernels: str) -> None:
    """Float32 parity (chunked encoder and skinning, every kernel choice) within float32 rounding."""
    model = _mesh_model(small_body)
    for cap in (AVX2_INTEL, AVX2_AMD):
        fast = accelerate(model, "parity", capability=cap)
        plan = fast.accel_plan
        assert plan.float32_kernels == (float32_kernels if cap is AVX2_INTEL else "mkl")
        assert isinstance(fast.backbone, ChunkedDSTformer) and isinstance(fast.body_model, AcceleratedBodyModel)
        packed = [m for m in fast.modules() if isinstance(m, PackedLinear)]
        assert bool(packed) == (plan.float32_kernels == "onednn-packed")
        assert (fast.body_model._posedirs_pack is not None) == (plan.body_kernels == "onednn-packed")
        x = torch.rand(40, 16, 17, 3)  # 640 frames: more than one encoder chunk and skinning chunk
        with torch.inference_mode():
            ref, out = model(x), fast(x)
        torch.testing.assert_close(out.verts, ref.verts, atol=1e-3, rtol=1e-4)  # mm
        torch.testing.assert_close(out.theta, ref.theta, atol=1e-4, rtol=1e-4)


def test_bf16_encoder_stays_close_on_golden_inputs() -> None:
    golden = torch.load(golden_path("dstformer_tiny.pt"), weights_only=True)
    model = diffmesh.models.DSTformer(diffmesh.models.DSTformerConfig(**golden["config"])).eval()
    model.load_state_dict(golden["state_dict"])
    fast = accelerate(model, "bf16")
    assert isinstance(fast.blocks_st[0].attn_s, LowPrecisionSpatioTemporalAttention)
    assert isinstance(fast.blocks_ts[-1].mlp_t, LowPrecisionMlp)
    assert set(fast.state_dict()) == set(model.state_dict())
    with torch.inference_mode():
        for case in golden["cases"]:
            rep = fast.get_representation(case["input"])
            assert rep.dtype == torch.float32
            assert (rep - case["representation"]).abs().mean() < 5e-3


@pytest.mark.parametrize("mode", ["bf16", "fast-cuda-dtype"])
def test_low_precision_mesh_model_stays_close(small_body: BodyModel, mode: str) -> None:
    """float16 (the CUDA choice) runs the plain F.linear path, so CPU covers that code too."""
    model = _mesh_model(small_body)
    if mode == "bf16":
        fast = accelerate(model, "bf16")
    else:
        from diffmesh.accel.lowp import to_low_precision

        fast = to_low_precision(copy.deepcopy(model), torch.float16)
    with torch.inference_mode():
        for batch in (1, 9):  # batch 1: reverse loop in float32; 9 clips = 153 rows: low precision
            x = torch.rand(batch, 16, 17, 3)
            ref, out = model(x), fast(x)
            assert out.verts.dtype == torch.float32
            assert (out.kp_3d - ref.kp_3d).norm(dim=-1).mean() < 1.0  # mm


def test_float32_parity_is_within_float32_rounding_of_float64() -> None:
    """model.double() runs the reference in float64; float32 parity mode agrees with it to
    float32 rounding (the tiny encoder; and a mesh model's encoder + head + skinning)."""
    model = diffmesh.create_model("motionbert", **TINY).eval()
    x = torch.rand(3, 27, 17, 3)
    with torch.inference_mode():
        ref64 = copy.deepcopy(model).double().get_representation(x.double())
        out32 = accelerate(model, "parity").get_representation(x)
    assert ref64.dtype == torch.float64 and out32.dtype == torch.float32
    torch.testing.assert_close(out32.double(), ref64, atol=2e-6, rtol=1e-5)


def test_mesh_model_runs_in_float64(small_body: BodyModel) -> None:
    model = _mesh_model(small_body)
    x = torch.rand(2, 16, 17, 3)
    with torch.inference_mode():
        ref64 = copy.deepcopy(model).double()(x.double())
        out32 = accelerate(model, "parity")(x)
    assert ref64.verts.dtype == torch.float64
    torch.testing.assert_close(out32.verts.double(), ref64.verts, atol=1e-3, rtol=1e-5)  # mm


def test_accelerated_model_can_be_copied_and_pickled(small_body: BodyModel) -> None:
    """The pre-packed oneDNN weights are opaque tensors: copies and pickles re-pack them."""
    model = accelerate(_mesh_model(small_body), "bf16")
    x = torch.rand(9, 16, 17, 3)
    with torch.inference_mode():
        ref = model(x).verts
        for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
            assert torch.equal(clone(x).verts, ref)


def test_cuda_float32_plans_switch_tf32_off_during_the_call(small_body: BodyModel) -> None:
    """cuDNN's convolutions run in TF32 by default: on an H200 that moved the DiffMesh refine head's
    rotations by 0.6 % against the CPU in parity mode (docs/benchmarks.md, GPU check). A CUDA float32
    plan turns TF32 off for each call and restores the user's settings after it, errors included."""
    model = _mesh_model(small_body)
    seen: list[tuple[bool, str]] = []
    flags = (torch.backends.cudnn.allow_tf32, torch.get_float32_matmul_precision())
    try:
        torch.backends.cudnn.allow_tf32 = True
        torch.set_float32_matmul_precision("high")
        for mode, strict in (("parity", True), ("auto", True), ("fast", False)):
            fast = accelerate(model, mode, device="cuda")  # the plan only: its parameters stay on this CPU
            conv = next(m for m in fast.modules() if isinstance(m, torch.nn.Conv1d))  # the TF32 layers
            conv.register_forward_hook(lambda *_: seen.append((torch.backends.cudnn.allow_tf32, torch.get_float32_matmul_precision())))
            if mode == "fast":
                assert fast.accel_plan.dtype == "float16"
                continue
            with torch.inference_mode():
                ref = fast(torch.rand(2, 16, 17, 3)).verts
            assert seen and set(seen) == {(False, "highest")}
            seen.clear()
            assert (torch.backends.cudnn.allow_tf32, torch.get_float32_matmul_precision()) == (True, "high")
            with pytest.raises(ValueError, match="channels per joint"), torch.inference_mode():
                fast(torch.rand(2, 16, 17, 5))  # a wrong input: the settings are restored all the same
            assert (torch.backends.cudnn.allow_tf32, torch.get_float32_matmul_precision()) == (True, "high")
            clone = pickle.loads(pickle.dumps(accelerate(model, mode, device="cuda")))
            with torch.inference_mode():
                assert clone(torch.rand(2, 16, 17, 3)).verts.shape == ref.shape
        assert not seen
    finally:
        torch.backends.cudnn.allow_tf32 = flags[0]
        torch.set_float32_matmul_precision(flags[1])


# --------------------------------------------------------------------------- low-precision layers


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


