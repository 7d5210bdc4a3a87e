"""Registry, gradient flow, refine conventions and input validation on tiny models."""

from __future__ import annotations

import copy

import pytest
import torch

import diffmesh
from diffmesh.body import BodyModel
from diffmesh.models import MeshOutput, MeshRegressor, pad_clip
from diffmesh.models import dstformer
from diffmesh.models.build import resample_template
from diffmesh.models.diffmesh import ReverseProcess
from diffmesh.geometry.rotations import axis_angle_to_rotmat, rot6d_to_rotmat, rotmat_to_rot6d_rows
from tests.conftest import TINY

#: Official parameter counts (CHECKPOINTS.md §1), SMPL-layer dummies excluded.
OFFICIAL_PARAMS = {
    "motionbert": 42_466_317,
    "motionbert-lite": 16_001_549,
    "motionbert-action-ntu60": 60_421_193,
    "motionbert-action-ntu120-oneshot": 60_294_157,
    "motionbert-mesh": 60_461_351 - 5_248,
    "diffmesh": 45_579_639 - 5_248,
    "diffmesh-refine": 47_465_581 - 5_248,
}


def test_registry_lists_every_variant() -> None:
    names = diffmesh.list_models()
    for expected in ("motionbert", "motionbert-lite", "motionbert-pose3d", "motionbert-action-ntu60",
                     "motionbert-action-ntu120-oneshot", "motionbert-mesh", "diffmesh", "diffmesh-refine"):
        assert expected in names
    spec = diffmesh.get_spec("diffmesh")
    assert spec.official_config == "mesh/DM_ft_pw3d.yaml" and spec.task == "mesh"


@pytest.mark.parametrize("name", sorted(OFFICIAL_PARAMS))
def test_official_sizes(name: str, small_body: BodyModel) -> None:
    model = diffmesh.create_model(name, body_model=small_body)
    assert sum(p.numel() for p in model.parameters()) == OFFICIAL_PARAMS[name]
    assert not model.training


def test_unknown_model_and_override_are_explained() -> None:
    with pytest.raises(ValueError, match="unknown model 'diffmesh-xl'.*registered models"):
        diffmesh.create_model("diffmesh-xl")
    with pytest.raises(ValueError, match="does not take \\['hidden_dim'\\]"):
        diffmesh.create_model("motionbert", hidden_dim=3)


def tiny_mesh_model(arch: str, body: BodyModel, **overrides: object) -> MeshRegressor:
    model = diffmesh.create_model(arch, body_model=body, **TINY, **overrides)
    assert isinstance(model, MeshRegressor)
    return model


@pytest.mark.parametrize("name", ["motionbert-mesh", "diffmesh", "diffmesh-refine"])
@pytest.mark.parametrize("frames", [16, 1])
def test_mesh_models_decode_a_mesh(name: str, frames: int, small_body: BodyModel) -> None:
    model = tiny_mesh_model(name, small_body)
    kwargs = {}
    if name == "diffmesh-refine":
        kwargs = {"init_pose": torch.randn(2, frames, 72) * 0.3, "init_shape": torch.randn(2, frames, 10)}
    with torch.no_grad():
        out = model(torch.rand(2, frames, 17, 3), **kwargs)
    assert isinstance(out, MeshOutput)
    v = small_body.num_vertices
    assert out.theta.shape == (2, frames, 82)
    assert out.verts.shape == (2, frames, v, 3)
    assert out.kp_3d.shape == (2, frames, 17, 3)
    # Millimetres: the generated body is ~1 m tall.
    assert 300 < out.verts.abs().amax().item() < 5000
    # The mesh is the body model posed by theta (axis-angle round trip) and scaled to mm.
    flat = out.theta.reshape(-1, 82)
    body = small_body(betas=flat[:, 72:], body_pose=flat[:, 3:72], global_orient=flat[:, :3])
    torch.testing.assert_close(out.verts.reshape(-1, v, 3), body.vertices * 1000, atol=0.05, rtol=1e-4)
    if name != "motionbert-mesh":
        expected = 2 * (frames - 1) if frames > 1 else 2
        assert out.loss_diff is not None and out.loss_diff.shape == (2, expected, 17 * 128)


@pytest.mark.parametrize("name", ["motionbert-mesh", "diffmesh"])
def test_predict_parameters_is_forward_without_the_body(name: str, small_body: BodyModel) -> None:
    """What the video pipeline reads: the same rotations and betas as ``forward``, bit for bit, also
    on the accelerated copy the pipeline runs."""
    from diffmesh.accel import accelerate

    model = tiny_mesh_model(name, small_body).eval()
    x = torch.rand(2, 16, 17, 3)
    for m in (model, accelerate(model, "auto")):
        with torch.inference_mode():
            out = m(x)
            rot, betas = m.predict_parameters(x)
        assert torch.equal(rot, out.rotmats) and torch.equal(betas, out.betas)


def _params_without_grad(model: torch.nn.Module) -> list[str]:
    return [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]


def _mesh_loss(out: MeshOutput) -> torch.Tensor:
    half = out.loss_diff.shape[1] // 2
    loss_diff = (out.loss_diff[:, :half] - out.loss_diff[:, half:]).norm(dim=-1).mean()
    return out.verts.abs().mean() + out.theta.abs().mean() + 0.001 * loss_diff


@pytest.mark.parametrize("name", ["diffmesh", "diffmesh-refine"])
def test_diffusion_grad_trains_every_parameter(name: str, small_body: BodyModel) -> None:
    """D-D1/D-D2 corrected: every parameter (except the encoder's unused 3-D head) learns."""
    model = tiny_mesh_model(name, small_body, diffusion_grad=True).train()
    kwargs = {}
    if name == "diffmesh-refine":
        kwargs = {"init_pose": torch.randn(2, 16, 72) * 0.3, "init_shape": torch.randn(2, 16, 10)}
    _mesh_loss(model(torch.rand(2, 16, 17, 3), **kwargs)).backward()
    missing = [n for n in _params_without_grad(model) if not n.startswith("backbone.head.")]
    assert missing == []


def test_faithful_mode_reproduces_the_official_frozen_loop(small_body: BodyModel) -> None:
    """Official behaviour (D-D1): template path, denoiser and condition generator get no gradient."""
    model = tiny_mesh_model("diffmesh", small_body).train()
    _mesh_loss(model(torch.rand(2, 16, 17, 3))).backward()
    frozen = {n.split(".")[1] if n.startswith("head.diffmesh_process") else n for n in _params_without_grad(model)}
    no_grad = sorted(n for n in _params_without_grad(model) if not n.startswith("backbone.head."))
    assert no_grad, "faithful mode must leave the loop untrained"
    assert all(n.startswith(("head.fc_mesh_temp", "head.diffmesh_process.entire_process")) for n in no_grad), frozen
    # ... while the residual path and the SMPL heads do train.
    trained = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert {"head.fc_ds.0.weight", "head.diffmesh_process.fc1.0.weight", "head.head_pose.weight"} <= trained
    # The loss_diff target half carries gradient into fc_ds (D-D2, faithful).


def test_faithful_and_grad_modes_give_the_same_forward(small_body: BodyModel) -> None:
    faithful = tiny_mesh_model("diffmesh", small_body)
    paper = tiny_mesh_model("diffmesh", small_body, diffusion_grad=True)
    paper.load_state_dict(faithful.state_dict())
    x = torch.rand(1, 16, 17, 3)
    with torch.no_grad():
        torch.testing.assert_close(faithful(x).verts, paper(x).verts)


def test_refine_conventions(small_body: BodyModel) -> None:
    """D-R1: with a zero network residual, 'spin_columns' returns the initial rotations;
    the official 'pytorch3d_rows' decodes PyTorch3D's row layout with the column reader,
    which gives another rotation."""
    init_pose = torch.randn(1, 16, 72) * 0.5
    init_shape = torch.zeros(1, 16, 10)
    x = torch.rand(1, 16, 17, 3)
    rot_init = axis_angle_to_rotmat(init_pose.reshape(-1, 3)).reshape(1, 16, 24, 3, 3)
    mixed = rot6d_to_rotmat(rotmat_to_rot6d_rows(rot_init))
    assert (mixed - rot_init).abs().max() > 0.1
    for convention, expected in (("spin_columns", rot_init), ("pytorch3d_rows", mixed)):
        model = tiny_mesh_model("diffmesh-refine", small_body, refine_6d_convention=convention)
        torch.nn.init.zeros_(model.head.head_pose.weight)
        torch.nn.init.zeros_(model.head.head_pose.bias)
        with torch.no_grad():
            out = model(x, init_pose=init_pose, init_shape=init_shape)
        torch.testing.assert_close(out.rotmats, expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="refine_6d_convention='rows'"):
        tiny_mesh_model("diffmesh-refine", small_body, refine_6d_convention="rows")


def test_encoder_accepts_any_length_up_to_maxlen() -> None:
    model = diffmesh.create_model("motionbert", **TINY)
    with torch.no_grad():
        for frames in (1, 2, 13, 27):
            assert model.get_representation(torch.rand(1, frames, 17, 3)).shape == (1, frames, 17, 48)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((1, 28, 17, 3), "28 frames; the encoder accepts 1..27 frames"),
        ((1, 5, 16, 3), "16 joints .*H36M order"),
        ((1, 5, 17, 2), "2 channels per joint"),
        ((5, 17, 3), r"expected \[B, T, 17, 3\]"),
    ],
)
def test_bad_encoder_input_is_explained(shape: tuple[int, ...], message: str) -> None:
    model = diffmesh.create_model("motionbert", **TINY)
    with pytest.raises(ValueError, match=message):
        model(torch.rand(shape))


def test_temporal_attention_paths_agree() -> None:
    """Long clips take the fused SDPA path, short ones the explicit products: same values."""
    torch.manual_seed(0)
    attn = dstformer.SpatioTemporalAttention(32, 4, "temporal").eval()
    frames = dstformer.TEMPORAL_SDPA_MIN_FRAMES + 1
    x = torch.randn(2 * frames, 17, 32)
    with torch.no_grad():
        fused = attn(x, frames)
        q, k, v = attn.qkv(x).reshape(2, frames, 17, 3, 4, 8).permute(3, 0, 4, 2, 1, 5)
        explicit = ((q @ k.transpose(-2, -1) * attn.scale).softmax(-1) @ v).permute(0, 3, 2, 1, 4)
        explicit = attn.proj(explicit.reshape(2 * frames, 17, 32))
    torch.testing.assert_close(fused, explicit, atol=1e-6, rtol=1e-5)


def test_full_encoder_rejects_more_than_243_frames() -> None:
    model = diffmesh.create_model("motionbert", depth=1, dim_feat=16, dim_rep=16, num_heads=2)
    with pytest.raises(ValueError, match="244 frames; the encoder accepts 1..243"):
        model(torch.rand(1, 244, 17, 3))


def test_nan_input_is_refused() -> None:
    model = diffmesh.create_model("motionbert", **TINY)
    x = torch.rand(1, 4, 17, 3)
    x[0, 2, 5, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model(x)


def test_diffmesh_clip_length_is_checked(small_body: BodyModel) -> None:
    model = tiny_mesh_model("diffmesh", small_body)
    with pytest.raises(ValueError, match="exactly 16 frames \\(or 1 frame\\), got 5; pad"):
        model(torch.rand(1, 5, 17, 3))
    padded, real = pad_clip(torch.rand(1, 5, 17, 3), 16)
    assert padded.shape == (1, 16, 17, 3) and real == 5
    assert torch.equal(padded[:, 5:], padded[:, 4:5].expand(-1, 11, -1, -1))


def test_action_model_input_is_checked() -> None:
    model = diffmesh.create_model("motionbert-action-ntu60", **TINY, hidden_dim=32)
    with pytest.raises(ValueError, match="\\[N, M, T, J, 3\\]"):
        model(torch.rand(2, 5, 17, 3))
    with torch.no_grad():
        assert model(torch.rand(2, 2, 5, 17, 3)).shape == (2, 60)


def test_refine_needs_initial_estimate(small_body: BodyModel) -> None:
    model = tiny_mesh_model("diffmesh-refine", small_body)
    with pytest.raises(ValueError, match="needs init_pose of shape \\[1, 16, 72\\]"):
        model(torch.rand(1, 16, 17, 3))
    with pytest.raises(ValueError, match="only used by the DiffMesh refine variant"):
        tiny_mesh_model("diffmesh", small_body)(torch.rand(1, 16, 17, 3), init_pose=torch.zeros(1, 16, 72))


def test_template_resampling() -> None:
    verts = torch.arange(300 * 3, dtype=torch.float32).reshape(300, 3)
    template = resample_template(verts)
    assert template.shape == (6890, 3)
    assert torch.equal(template[0], verts[0]) and torch.equal(template[-1], verts[-1])
    smpl_like = torch.randn(6890, 3)
    assert torch.equal(resample_template(smpl_like), smpl_like)
    # a body model's own buffer: on a GPU (the H200 check's create_model(body_model=body.cuda()) failed
    # in numpy) or a parameter that requires grad; numpy arrays as before
    assert torch.equal(resample_template(smpl_like.clone().requires_grad_()), smpl_like)
    assert torch.equal(resample_template(smpl_like.double().numpy()), smpl_like)


def test_mesh_model_takes_means_from_an_official_folder(smpl_folder) -> None:
    import numpy as np

    model = diffmesh.create_model("diffmesh", body_model=str(smpl_folder), **TINY)
    params = np.load(smpl_folder / "smpl_mean_params.npz")
    assert np.allclose(model.head.init_pose.numpy().ravel(), params["pose"].astype(np.float32))
    assert np.allclose(model.head.init_shape.numpy().ravel(), params["shape"].astype(np.float32))
    mean_vertices = np.load(smpl_folder / "smpl_mean_vertices.npy")
    assert np.allclose(model.head.mesh_template[0].numpy(), mean_vertices.astype(np.float32))


def test_body_model_used_in_inference_mode_then_in_training(small_body: BodyModel) -> None:
    """A first call under torch.inference_mode must not poison later autograd use."""
    model = tiny_mesh_model("diffmesh", small_body)
    x = torch.rand(1, 16, 17, 3)
    with torch.inference_mode():
        model(x)
    model.train()
    model(x).verts.mean().backward()
    assert model.head.head_pose.weight.grad is not None


def test_large_inference_batches_are_chunked_without_changing_results() -> None:
    from diffmesh.accel.chunking import chunk_encoder

    model = diffmesh.create_model("motionbert", **TINY)
    x = torch.rand(7, 9, 17, 3)
    with torch.no_grad():
        whole = model.get_representation(x)
        chunked_model = chunk_encoder(copy.deepcopy(model))
        chunked_model.inference_chunk_frames = 18  # 2 clips per chunk
        chunked = chunked_model.get_representation(x)
    torch.testing.assert_close(chunked, whole, atol=1e-6, rtol=1e-6)


def test_reverse_loop_batches_the_condition_stream_exactly() -> None:
    """The reverse loop runs the condition stream of all 30 steps in one pass; it must equal
    the step-by-step loop of the official code (one denoiser call per step)."""
    torch.manual_seed(0)
    process = ReverseProcess(clip_len=16).eval()
    for m in process.modules():
        if isinstance(m, torch.nn.LayerNorm):
            torch.nn.init.normal_(m.weight, 1.0, 0.3)
    x_in, z = torch.randn(2, 16, 17 * 128), torch.randn(2, 1, 17 * 128)
    with torch.no_grad():
        pred_x, cond_pred, feat_g = process(x_in, z)
        scheduler = process.make_scheduler()
        frames, conds = [], []
        for k, t in enumerate(scheduler.timesteps.tolist()):
            eps, cond_next = process.diffusion_model(z, feat_g[:, k], torch.full((2,), float(t)))
            z = scheduler.step(eps, t, z)
            if k >= process.add_step:
                frames.append(z)
                conds.append(cond_next)
    torch.testing.assert_close(pred_x, torch.cat(frames, dim=1), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(cond_pred, torch.cat(conds[:-1], dim=1), atol=1e-5, rtol=1e-5)
