"""Parity with tensors produced by the official code (../shared/reference/golden).

Tolerance: 1e-4 absolute (golden/README.md); the measured differences are ~1e-6.
``DIFFMESH_TEST_DEVICE=cuda`` runs them on a GPU (``tools/gpu_check.sh``); the default is the CPU.
"""

from __future__ import annotations

import os

import pytest
import torch

from diffmesh.geometry.rotations import rotmat_to_axis_angle
from diffmesh.models import ActionHeadClassification, ActionHeadEmbed, DiffMeshHead, DiffMeshRefineHead, DSTformer
from diffmesh.models.dstformer import DSTformerConfig
from diffmesh.models.mesh import MotionBERTMeshHead, pose6d_to_rotmats
from diffmesh.models.diffmesh import timestep_embedding
from diffmesh.schedulers import DDIMScheduler
from tests._golden import golden_path

TOL = 1e-4
#: Where the models run and the golden tensors are loaded ("cpu", or "cuda" for tools/gpu_check.sh).
DEVICE = torch.device(os.environ.get("DIFFMESH_TEST_DEVICE", "cpu"))


def load(name: str) -> dict:
    return torch.load(golden_path(name), weights_only=True, map_location=DEVICE)


def on_device(module: torch.nn.Module) -> torch.nn.Module:
    return module.to(DEVICE).eval()


def assert_close(actual: torch.Tensor, expected: torch.Tensor, what: str, tol: float = TOL) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    diff = (actual.double() - expected.to(actual.device).double()).abs().max().item()
    assert diff <= tol, f"{what}: max abs difference {diff:.3g} > {tol}"


def check_smpl_kwargs(pose6d: torch.Tensor, betas: torch.Tensor, kwargs: dict, what: str) -> None:
    rotmats = pose6d_to_rotmats(pose6d)
    assert_close(betas, kwargs["betas"], f"{what} betas")
    assert_close(rotmats[:, 1:], kwargs["body_pose"], f"{what} body_pose")
    assert_close(rotmats[:, :1], kwargs["global_orient"], f"{what} global_orient")


@torch.no_grad()
def test_dstformer_matches_official_per_layer() -> None:
    golden = load("dstformer_tiny.pt")
    assert golden["layernorm_eps"] == 1e-6
    model = DSTformer(DSTformerConfig(**golden["config"])).eval()
    model.load_state_dict(golden["state_dict"], strict=True)
    on_device(model)
    for case in golden["cases"]:
        x = case["input"]
        frames = x.shape[1]
        tokens = model.embed(x)
        assert_close(tokens, case["embedded_tokens"], f"F={frames} embedded tokens")
        for depth, layer in enumerate(case["per_layer"]):
            assert_close(model.blocks_st[depth](tokens, frames), layer["x_st"], f"F={frames} layer {depth} x_st")
            assert_close(model.blocks_ts[depth](tokens, frames), layer["x_ts"], f"F={frames} layer {depth} x_ts")
            tokens = model.fuse(depth, tokens, frames)
        assert_close(model.norm(tokens), case["final_norm_out"], f"F={frames} final norm")
        assert_close(model.get_representation(x), case["representation"], f"F={frames} representation")
        assert_close(model(x), case["output"], f"F={frames} output")


@pytest.mark.parametrize("case_index", [0, 1], ids=["T16", "T1"])
@torch.no_grad()
def test_diffmesh_head_matches_official(case_index: int) -> None:
    golden = load("diffmesh_head.pt")
    head = DiffMeshHead(dim_rep=golden["dim_rep"], clip_len=golden["clip_len"]).eval()
    head.load_state_dict(golden["state_dict"], strict=True)
    on_device(head)
    case = golden["cases"][case_index]
    rep = case["input_feat"]
    b, t = rep.shape[:2]
    x_in = head.fc_ds(rep)
    assert_close(x_in, case["x_in"], "x_in")
    assert_close(head.template_tokens(b), case["template_tokens"], "template tokens")

    process = head.diffmesh_process.entire_process
    tokens = x_in.reshape(b, t, -1).expand(b, head.clip_len, -1)
    feat_g = process.condition_generator(torch.cat([tokens.new_zeros(b, 14, tokens.shape[-1]), tokens], dim=1))
    assert_close(feat_g, case["feat_g"], "feat_g")

    # Every one of the 30 reverse steps: the denoiser on the official inputs, and our
    # own trajectory (scheduler updates) against the official states.
    scheduler = process.make_scheduler()
    z = head.template_tokens(b).reshape(b, 1, -1)
    assert len(case["reverse_steps"]) == 30
    for k, (t_step, step) in enumerate(zip(scheduler.timesteps.tolist(), case["reverse_steps"])):
        assert step["t"].tolist() == [float(t_step)] * b
        assert_close(z, step["x_t"], f"step {k} x_t")
        assert_close(feat_g[:, k], step["cond_k"], f"step {k} condition")
        eps, cond_next = process.diffusion_model(step["x_t"], step["cond_k"], step["t"])
        assert_close(eps, step["eps_pred"], f"step {k} eps")
        assert_close(cond_next, step["cond_next"], f"step {k} cond_next")
        z = scheduler.step(eps, t_step, z)

    feat, loss_diff = head.features(rep)
    assert_close(feat.reshape(case["diffmesh_out"].shape), case["diffmesh_out"], "residual output")
    assert_close(loss_diff, case["loss_diff"], "loss_diff")
    out = head(rep)
    assert_close(out.pose6d - head.init_pose, case["head_pose_out"], "head_pose")
    assert_close((out.betas - head.init_shape).reshape(b, t, -1)[:, 0], case["head_shape_out"], "head_shape")
    check_smpl_kwargs(out.pose6d, out.betas, case["smpl_kwargs"], "DiffMesh")
    theta_pose = rotmat_to_axis_angle(pose6d_to_rotmats(out.pose6d)).reshape(b * t, 72)
    assert_close(theta_pose, case["theta_pose_axis_angle"], "theta axis-angle")


@pytest.mark.parametrize("case_index", [0, 1], ids=["T16", "T1"])
@torch.no_grad()
def test_refine_head_matches_official(case_index: int) -> None:
    golden = load("diffmesh_refine_head.pt")
    head = DiffMeshRefineHead(dim_rep=golden["dim_rep"], hidden_dim=golden["hidden_dim"]).eval()
    head.load_state_dict(golden["state_dict"], strict=True)
    on_device(head)
    case = golden["cases"][case_index]
    assert_close(head.initial_pose6d(case["init_pose_aa"]), case["init_pose_6d"], "PyTorch3D 6-D of the initial pose")
    out = head(case["input_feat"], case["init_pose_aa"], case["init_shape"])
    check_smpl_kwargs(out.pose6d, out.betas, case["smpl_kwargs"], "refine")


@pytest.mark.parametrize("case_index", [0, 1], ids=["T16", "T1"])
@torch.no_grad()
def test_motionbert_mesh_head_matches_official(case_index: int) -> None:
    golden = load("motionbert_mesh_head.pt")
    head = MotionBERTMeshHead(dim_rep=48, hidden_dim=64).eval()
    head.load_state_dict(golden["state_dict"], strict=True)
    on_device(head)
    case = golden["cases"][case_index]
    out = head(case["input_feat"])
    check_smpl_kwargs(out.pose6d, out.betas, case["smpl_kwargs"], "MotionBERT mesh")


@torch.no_grad()
def test_action_heads_match_official() -> None:
    golden = load("action_heads.pt")
    classify = ActionHeadClassification(dim_rep=48, num_classes=60, hidden_dim=64).eval()
    classify.load_state_dict(golden["class_state_dict"], strict=True)
    on_device(classify)
    embed = ActionHeadEmbed(dim_rep=48, hidden_dim=64).eval()
    embed.load_state_dict(golden["embed_state_dict"], strict=True)
    on_device(embed)
    assert_close(classify(golden["input_feat"]), golden["class_logits"], "class logits")
    assert_close(embed(golden["input_feat"]), golden["embedding"], "embedding")


def test_schedule_and_timestep_embedding_match_official() -> None:
    golden = load("utils_losses_metrics.pt")
    scheduler = DDIMScheduler(30)
    assert_close(scheduler.betas, golden["betas_30"].float(), "betas", tol=1e-9)
    alpha_bar = torch.stack([scheduler.alpha_bar(t) for t in range(-1, 30)])
    assert_close(alpha_bar, golden["alpha_bar_t_minus1_to_29"], "alpha_bar", tol=1e-7)
    emb = timestep_embedding(golden["timestep_embedding_t"], 128)
    assert_close(emb, golden["timestep_embedding_128"], "timestep embedding", tol=1e-5)
