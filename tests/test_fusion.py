"""The detector-fusion path: BlazePose's 3-D joints as extra network input channels.

Covers the conventions (world landmarks → H36M), the one input builder shared by inference and
training, tracking with 3-D joints, widening a 3-channel network to 6 channels, the rendered
training data made by the real tool (real renderer, real BlazePose) and the packaged
``diffmesh-fusion`` weights through ``diffmesh infer``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import diffmesh
from diffmesh.conventions import BLAZEPOSE_JOINTS, H36M_JOINTS, blazepose_world_to_h36m
from diffmesh.geometry.flip import flip_data
from diffmesh.geometry.model_input import flip_input, model_input_channels, network_input
from diffmesh.pipelines.tracking import track
from tests._cli import run_cli

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_world_landmarks_to_h36m_pelvis_at_origin_and_limbs_copied() -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(5, 33, 3)).astype(np.float32)
    b = BLAZEPOSE_JOINTS.index
    w[:, b("right_hip")] = -w[:, b("left_hip")]  # BlazePose's origin: the centre of the hips
    h = blazepose_world_to_h36m(w)
    assert h.shape == (5, 17, 3)
    np.testing.assert_allclose(h[:, H36M_JOINTS.index("pelvis")], 0.0, atol=1e-6)
    np.testing.assert_array_equal(h[:, H36M_JOINTS.index("left_wrist")], w[:, b("left_wrist")])
    with pytest.raises(ValueError, match=r"\[\.\.\., 33, 3\]"):
        blazepose_world_to_h36m(w[..., :2])


def test_network_input_channels_and_mirror() -> None:
    rng = np.random.default_rng(1)
    kp = np.concatenate([rng.uniform(100, 400, (16, 17, 2)), rng.uniform(0.5, 1, (16, 17, 1))], -1).astype(np.float32)
    world = rng.normal(0, 0.3, (16, 17, 3)).astype(np.float32)
    x3 = network_input(kp, world, 3)
    x6 = network_input(kp, world, 6)
    assert x3.shape == (16, 17, 3) and x6.shape == (16, 17, 6)
    np.testing.assert_array_equal(x6[..., :3], x3)
    np.testing.assert_array_equal(x6[..., 3:], world)
    np.testing.assert_array_equal(network_input(kp, None, 6)[..., 3:], 0.0)  # no 3-D: "unknown"
    f = flip_input(torch.from_numpy(x6))
    np.testing.assert_array_equal(f[..., :3].numpy(), flip_data(x3))
    np.testing.assert_array_equal(f[..., 3:].numpy(), flip_data(world))  # x negated, sides swapped
    np.testing.assert_array_equal(flip_input(f).numpy(), x6)
    with pytest.raises(ValueError, match="channels"):
        network_input(kp, world, 5)


def test_track_fills_world_gaps_like_keypoints() -> None:
    kp = np.ones((6, 17, 3), np.float32)
    world = np.zeros((6, 17, 3), np.float32)
    world[0], world[3] = 0.0, 0.3
    detected = np.array([True, False, False, True, False, False])
    trk = track(kp, detected, max_gap=2, world=world)
    assert trk.world is not None
    np.testing.assert_allclose(trk.world[1:3, 0, 0], [0.1, 0.2], atol=1e-6)
    np.testing.assert_array_equal(trk.keypoints[1:3, 0, 2], 0.5)  # interpolated confidence halves
    assert track(kp, detected, max_gap=2).world is None


def test_keypoint_stage_keeps_the_world_joints_through_its_cache_arrays() -> None:
    from diffmesh.pipelines.keypoints import FrameKeypoints

    rng = np.random.default_rng(2)
    fk = FrameKeypoints(rng.random((4, 17, 3), np.float32), np.ones(4, bool), np.arange(4), "mediapipe", rng.random((4, 17, 3), np.float32))
    back = FrameKeypoints.from_arrays(fk.to_arrays())
    assert back.world is not None
    np.testing.assert_array_equal(back.world, fk.world)
    assert FrameKeypoints.from_arrays(FrameKeypoints(fk.keypoints, fk.detected, fk.frame_indices, "file").to_arrays()).world is None


def test_widened_network_starts_as_the_three_channel_one() -> None:
    from diffmesh.registry import get_spec
    from diffmesh.weights import load_weights_widened, read_packaged

    old = diffmesh.create_model("diffmesh-synthetic").eval()
    new = diffmesh.create_model("diffmesh-synthetic", pretrained=False, dim_in=6)
    spec = get_spec("diffmesh-synthetic")
    load_weights_widened(new, read_packaged(spec.weights, spec.sha256))
    new.eval()
    assert model_input_channels(new) == 6 and model_input_channels(old) == 3
    x = torch.rand(2, 16, 17, 3)
    torch.manual_seed(3)
    a = old(x)
    torch.manual_seed(3)
    b = new(torch.cat([x, torch.zeros(2, 16, 17, 3)], -1))
    torch.testing.assert_close(b.rotmats, a.rotmats, atol=1e-5, rtol=0)


def test_packaged_fusion_weights_load_and_read_six_channels() -> None:
    model = diffmesh.create_model("diffmesh-fusion").eval()
    assert model_input_channels(model) == 6
    out = model(torch.rand(1, 16, 17, 6))
    assert out.rotmats.shape == (1, 16, 24, 3, 3)


def test_packaged_fusion_weights_reproduce_their_recorded_synthetic_subset() -> None:
    """The synthetic held-out clips tools/default_weights.py scored at export (their 3-D channels
    zero: the "no detector 3-D" path), re-scored with the packaged file."""
    import json

    from diffmesh.data.rendered import PadChannels
    from diffmesh.data.synthetic import SyntheticMotionDataset, SyntheticMotionEngine
    from diffmesh.registry import get_spec
    from diffmesh.training.tasks import evaluate_mesh_model

    subset = json.loads((ROOT / "tests" / "data" / "fusion_weights_subset.json").read_text())
    assert subset["weights_sha256"] == get_spec("diffmesh-fusion").sha256
    model = diffmesh.create_model("diffmesh-fusion")
    engine = SyntheticMotionEngine(model.body_model, clip_len=16, seed=subset["seed"], families=subset["families"])
    data = PadChannels(SyntheticMotionDataset(subset["clips"], "test", "mesh", engine=engine), 6)
    with torch.no_grad():
        got = evaluate_mesh_model(model, data, batch_size=subset["clips"])
    for key, want in subset["metrics"].items():
        assert got[key] == pytest.approx(want, abs=0.05), key


def test_infer_with_the_fusion_model_reads_the_detectors_3d(tmp_path: Path) -> None:
    """``diffmesh infer --model diffmesh-fusion`` on a real rendered video: the keypoint stage keeps
    BlazePose's 3-D joints and the result names the model."""
    from tests._videos import make_walk_video

    make_walk_video(tmp_path / "walk.mp4", 20)
    proc = run_cli("infer", str(tmp_path / "walk.mp4"), "-o", str(tmp_path / "out"), "--model", "diffmesh-fusion",
                   "--no-overlay", "--no-animation")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    with np.load(tmp_path / "out" / "result.npz") as r:
        assert str(r["model"]) == "diffmesh-fusion"
        assert np.isfinite(r["pose_axis_angle" if "pose_axis_angle" in r else r.files[0]]).all()
    caches = list((tmp_path / "out" / ".cache").glob("people-*.npz"))  # everyone's keypoints (the default)
    assert caches
    with np.load(caches[0]) as k:
        assert "world" in k.files and np.abs(k["world"][k["detected"]]).max() > 0.05


def test_infer_model_option_errors() -> None:
    proc = run_cli("infer", "missing.mp4", "-o", "unused", "--model", "motionbert")
    assert proc.returncode != 0
    assert "not a packaged mesh model" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_rendered_clips_from_the_real_tool_train_a_fusion_step(tmp_path: Path) -> None:
    """tools/render_training_clips.py (real renderer, real BlazePose) → RenderedClipDataset → one
    training step of the fusion config through ``diffmesh train``."""
    data = tmp_path / "rendered"
    cmd = [sys.executable, str(ROOT / "tools" / "render_training_clips.py"), str(data), "--clips", "2", "--frames", "20",
           "--mocap-fraction", "0.5"]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300, env={**_env(), "PYTHONPATH": str(ROOT / "src")})
    from diffmesh.body import load
    from diffmesh.data.rendered import RenderedClipDataset, load_rendered_clips

    raw = load_rendered_clips(data)
    assert raw["kp33"].shape == (2, 20, 33, 4) and raw["world33"].shape == (2, 20, 33, 3)
    found = np.isfinite(raw["kp33"][..., 0, 0])
    assert found.mean() > 0.5, "BlazePose should find the rendered person in most frames"
    # the detector's 2-D agrees with the ground-truth projection (pixels) where it found the person
    ds = RenderedClipDataset(data, load("open"), clip_len=16, channels=6, window_stride=4)
    assert len(ds) > 0
    item = ds[0]
    assert item["input"].shape == (16, 17, 6) and item["target"]["theta"].shape == (16, 82)
    assert item["target"]["verts"].shape[1:] == tuple(load("open").v_template.shape)
    assert np.abs(item["input"][..., 3:]).max() < 2.0  # metres around the hips
    cfg = (ROOT / "configs" / "default_weights" / "fusion.yaml").read_text()
    cfg = cfg.replace("rendered: runs/default_weights/rendered", f"rendered: {data}").replace("train_clips: 480", "train_clips: 16")
    cfg = cfg.replace("val_clips: 32", "val_clips: 0")
    (tmp_path / "fusion.yaml").write_text(cfg)
    proc = run_cli("train", str(tmp_path / "fusion.yaml"), "-o", str(tmp_path / "run"), "--max-steps", "2", "--threads", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "run" / "latest_epoch.bin").is_file()


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)
