"""Training-data plumbing of the default weights: vertex-subset body models, clip banks,
encoder initialisation, the per-frame baseline and streaming mesh evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import diffmesh
from diffmesh.body import load
from diffmesh.body.subset import sampled_vertex_mask, vertex_subset
from diffmesh.data.synthetic import SyntheticMotionDataset, SyntheticMotionEngine
from diffmesh.data.synthetic.bank import SyntheticClipBank, build_bank
from diffmesh.metrics import evaluate_mesh, evaluate_mesh_accel
from diffmesh.training.tasks import MeshTask, evaluate_mesh_model

from tests.conftest import TINY


@pytest.fixture(scope="module")
def open_body():
    return load("open")


@pytest.mark.parametrize("stride", [0, 8])
def test_vertex_subset_is_exact_for_kept_vertices_and_joints(open_body, stride: int) -> None:
    keep = sampled_vertex_mask(open_body, stride)
    sub = vertex_subset(open_body, keep)
    ids = keep.nonzero()[:, 0]
    assert sub.num_vertices == len(ids) + 24
    if stride == 0:  # just the H36M support
        assert torch.equal(keep, open_body.J_regressor_h36m.abs().sum(0) > 0)
    g = torch.Generator().manual_seed(0)
    pose, betas = 0.4 * torch.randn(3, 72, generator=g), torch.randn(3, 10, generator=g)
    full = open_body(betas, pose[:, 3:], pose[:, :3])
    part = sub(betas, pose[:, 3:], pose[:, :3])
    torch.testing.assert_close(part.vertices[:, : len(ids)], full.vertices[:, ids], atol=1e-5, rtol=0)
    torch.testing.assert_close(part.joints, full.joints, atol=1e-5, rtol=0)
    torch.testing.assert_close(part.joints_h36m, full.joints_h36m, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="bool tensor of shape"):
        vertex_subset(open_body, ids)
    with pytest.raises(ValueError, match="non-negative"):
        sampled_vertex_mask(open_body, -1)


def test_clip_bank_serves_the_generated_clips_bit_for_bit(open_body, tmp_path: Path) -> None:
    engine = SyntheticMotionEngine(open_body, clip_len=8, seed=3, mesh_vertex_stride=0)
    mesh = SyntheticMotionDataset(10, "train", "mesh", engine=engine)
    bank = SyntheticClipBank(build_bank(mesh, tmp_path / "bank.npz", batch_size=4), mesh)
    assert len(bank) == 10
    for got, want in zip(bank.__getitems__([7, 2]), mesh.__getitems__([7, 2])):
        np.testing.assert_array_equal(got["input"], want["input"])
        for key in ("theta", "kp_3d", "verts"):
            np.testing.assert_array_equal(got["target"][key], want["target"][key])
    # The same file serves pose clips of the same motions; other settings are refused.
    pose = SyntheticClipBank(tmp_path / "bank.npz", SyntheticMotionDataset(10, "train", "pose", engine=engine))
    np.testing.assert_array_equal(pose[3]["label"], engine.generate("train", [3])[0].label)
    other = SyntheticMotionDataset(10, "train", "mesh", engine=SyntheticMotionEngine(open_body, clip_len=8, seed=4))
    with pytest.raises(ValueError, match="other settings"):
        SyntheticClipBank(tmp_path / "bank.npz", other)
    with pytest.raises(IndexError, match="out of range"):
        bank.__getitems__([10])


def _synthetic_cfg(**extra: object) -> dict:
    return {
        "model": "diffmesh", "model_overrides": dict(TINY), "body_model": "open",
        "data": {"type": "synthetic", "clip_len": 16, "train_clips": 4, "val_clips": 0, "mesh_vertex_stride": 0},
        "batch_size": 2, **extra,
    }  # fmt: skip


def test_seed_initialises_the_model_and_init_backbone_loads_the_encoder(tmp_path: Path) -> None:
    from diffmesh.training.checkpoint import FORMAT_VERSION
    from diffmesh.training.build import build_run

    a = build_run(_synthetic_cfg(seed=1)).model
    b = build_run(_synthetic_cfg(seed=1)).model
    c = build_run(_synthetic_cfg(seed=2)).model
    w = "backbone.joints_embed.weight"
    assert torch.equal(a.state_dict()[w], b.state_dict()[w]) and not torch.equal(a.state_dict()[w], c.state_dict()[w])
    # The vertex-subset body model trains; the full model stays the inference default.
    assert a.body_model.num_vertices < load("open").num_vertices

    encoder = diffmesh.create_model("motionbert", **TINY)
    torch.save({"format_version": FORMAT_VERSION, "model": encoder.state_dict()}, tmp_path / "pre.bin")
    d = build_run(_synthetic_cfg(seed=1, init_backbone=str(tmp_path / "pre.bin"))).model
    for key, value in encoder.state_dict().items():
        assert torch.equal(d.backbone.state_dict()[key], value), key
    bigger = diffmesh.create_model("motionbert", **{**TINY, "dim_feat": 2 * TINY["dim_feat"]})
    torch.save({"format_version": FORMAT_VERSION, "model": bigger.state_dict()}, tmp_path / "big.bin")
    with pytest.raises(ValueError, match="does not fit this encoder"):
        build_run(_synthetic_cfg(init_backbone=str(tmp_path / "big.bin")))


@pytest.mark.parametrize("stride", [0, 8])
def test_the_data_keeps_its_own_body_model_when_the_model_moves(stride: int) -> None:
    """Training on a GPU moves the model, its body model included, to the device while the synthetic
    engine makes clips on the CPU: on an H200 a body model shared by both failed ("tensors on two
    devices"). PyTorch's "meta" device stands in for the GPU here: the data must not follow the model."""
    from diffmesh.training.build import build_run

    cfg = _synthetic_cfg(seed=1)
    cfg["data"] = {**cfg["data"], "mesh_vertex_stride": stride, "val_clips": 2}
    run = build_run(cfg)
    train, val = run.passes[0].dataset, run.val_data
    assert val is not None
    before = train[1], val[0]
    run.model.to("meta")
    after = train[1], val[0]
    for old, new in zip(before, after):
        _assert_same(old, new)


def _assert_same(a: object, b: object) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b)
        for k in a:
            _assert_same(a[k], b[k])
    else:
        assert torch.equal(torch.as_tensor(a), torch.as_tensor(b))


def test_diffmesh_clip_len_one_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="clip_len >= 2"):
        diffmesh.create_model("diffmesh", clip_len=1, **TINY)


def test_streaming_evaluation_matches_whole_set_metrics_and_per_frame_runs_each_frame(open_body) -> None:
    engine = SyntheticMotionEngine(open_body, clip_len=16, seed=0)
    data = SyntheticMotionDataset(5, "test", "mesh", engine=engine)
    model = diffmesh.create_model("motionbert-mesh", body_model=open_body, **TINY).eval()
    with torch.no_grad():
        got = evaluate_mesh_model(model, data, batch_size=2)
        clips = data.__getitems__(list(range(5)))
        x = torch.from_numpy(np.stack([c["input"] for c in clips]))
        out = model(x)
        want = evaluate_mesh(out.verts.double().numpy(), np.stack([c["target"]["verts"] for c in clips]),
                             out.kp_3d.double().numpy(), np.stack([c["target"]["kp_3d"] for c in clips])).as_dict()  # fmt: skip
        want["accel_error"] = evaluate_mesh_accel(out.kp_3d.reshape(-1, 17, 3).double().numpy(),
                                                  np.stack([c["target"]["kp_3d"] for c in clips]).reshape(-1, 17, 3))  # fmt: skip
        for key, value in want.items():
            assert got[key] == pytest.approx(value, rel=1e-5, abs=1e-4), key
        # per frame: frame t of the folded run is the model on frame t alone
        folded = MeshTask._forward(model, {"input": x[:2]}, per_frame=True)
        assert folded.verts.shape[:2] == (2, 16)
        alone = model(x[1:2, 5:6])
        torch.testing.assert_close(folded.kp_3d[1, 5], alone.kp_3d[0, 0], atol=1e-3, rtol=0)
