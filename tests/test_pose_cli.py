"""``diffmesh pose``: the official ``infer_wild.py`` 3-D pose recipe on a video, with official-layout checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import diffmesh
from diffmesh.geometry.crop import crop_scale
from diffmesh.geometry.flip import flip_data
from diffmesh.pipelines.pose import BVH_BODY_HEIGHT_M, PoseModel, lift_track
from tests._bvh import read_bvh
from diffmesh.pipelines.tracking import Segment, Track
from tests._cli import run_cli
from tests._official import official_checkpoint, official_config
from tests._videos import make_walk_video
from tests.conftest import TINY


def test_lift_follows_the_official_chunks_flip_and_root_rules() -> None:
    net = diffmesh.create_model("motionbert", **TINY).eval()
    n = 20
    rng = np.random.default_rng(0)
    kp = np.concatenate([rng.uniform(50, 300, (n, 17, 2)), rng.uniform(0.5, 1, (n, 17, 1))], -1).astype(np.float32)
    trk = Track(kp, np.ones(n, bool), np.ones(n, bool), [Segment(0, n)])
    got = lift_track(PoseModel(net, "tiny", clip_len=8, flip=True, rootrel=False), trk)
    x = torch.from_numpy(crop_scale(kp))
    want = []
    for a in range(0, n, 8):  # consecutive, non-overlapping chunks; the last one shorter
        c = x[None, a : a + 8]
        with torch.inference_mode():
            y = (0.5 * (net(c) + flip_data(net(flip_data(c)))))[0].numpy()
        y[0, 0, 2] = 0  # rootrel False: the first frame's root depth of each chunk
        want.append(y)
    np.testing.assert_allclose(got, np.concatenate(want), atol=1e-5)
    root = lift_track(PoseModel(net, "tiny", clip_len=8, flip=False, rootrel=True), trk)
    assert not root[:, 0].any()



def test_pose_cli_writes_x3d_in_the_official_layout(tmp_path: Path) -> None:
    make_walk_video(tmp_path / "walk.mp4", 20)
    ckpt = tmp_path / "best_epoch.bin"
    torch.save(official_checkpoint("pose3d_ft_h36m_global_lite"), ckpt)
    cfg = str(official_config("pose3d_ft_h36m_global_lite"))
    r = run_cli("pose", str(tmp_path / "walk.mp4"), "-o", str(tmp_path / "out"), "--checkpoint", str(ckpt), "--config", cfg)
    assert r.returncode == 0, r.stderr
    x3d = np.load(tmp_path / "out" / "X3D.npy")
    assert x3d.shape == (20, 17, 3) and x3d.dtype == np.float32 and np.isfinite(x3d).all()
    assert x3d[0, 0, 2] == 0  # global-lite config: rootrel False
    d = np.load(tmp_path / "out" / "pose3d.npz")
    assert d["valid"].all() and d["joints_3d"].shape == (20, 17, 3)
    # motion.bvh: the same joints as an animated skeleton, scaled to the nominal body height
    bvh = read_bvh(tmp_path / "out" / "motion.bvh")
    assert bvh.frames.shape == (20, 6 + 3 * 16) and np.isfinite(bvh.frames).all()
    assert bvh.frame_time == pytest.approx(1 / float(d["fps"]), rel=1e-6)
    length = {j.name: np.linalg.norm(j.offset) for j in bvh.joints}
    height = (length["right_knee"] + length["right_ankle"] + length["left_knee"] + length["left_ankle"]) / 2 + sum(
        length[name] for name in ("spine", "thorax", "nose", "head_top"))  # fmt: skip
    assert height == pytest.approx(BVH_BODY_HEIGHT_M, abs=1e-4)
    assert "motion.bvh" in r.stdout
    # skeleton.mp4: the video's frames, twice as wide; the right half is the 3-D panel, drawn on
    from diffmesh.io.video import iter_frames, probe_video

    src, info = probe_video(tmp_path / "walk.mp4"), probe_video(tmp_path / "out" / "skeleton.mp4")
    assert (info.width, info.height, info.num_frames) == (2 * src.width, src.height, 20)
    panel = next(iter_frames(str(tmp_path / "out" / "skeleton.mp4"), 0, 1)).image[:, src.width :]
    assert (np.abs(panel.astype(int) - 250).sum(-1) > 60).sum() > 200  # coloured bones on the light panel
    assert not list((tmp_path / "out").glob("*.tmp*"))
    r = run_cli("pose", str(tmp_path / "walk.mp4"), "-o", str(tmp_path / "px"), "--checkpoint", str(ckpt), "--config", cfg, "--pixel",
                "--no-overlay")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "px" / "skeleton.mp4").exists()
    assert (tmp_path / "px" / "motion.bvh").exists()  # pixels: scaled to the same nominal height
    r = run_cli("pose", str(tmp_path / "walk.mp4"), "-o", str(tmp_path / "nb"), "--checkpoint", str(ckpt), "--config", cfg,
                "--no-overlay", "--no-bvh")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "nb" / "motion.bvh").exists() and "motion.bvh" not in r.stdout
    px = np.load(tmp_path / "px" / "X3D.npy")
    assert 0 < np.median(px[..., 0]) < 640 and 0 < np.median(px[..., 1]) < 480  # pixel units


def test_pose_without_a_checkpoint_uses_the_packaged_model_in_metres(tmp_path: Path) -> None:
    """No checkpoint: the packaged mesh network's joints blended with the detector's own 3-D joints,
    metres, hip-centred; --detector-blend 0 gives the network's alone; bad combinations are one line."""
    make_walk_video(tmp_path / "w.mp4", 20)
    r = run_cli("pose", str(tmp_path / "w.mp4"), "-o", str(tmp_path / "o"), "--no-overlay")
    assert r.returncode == 0, r.stderr
    d = np.load(tmp_path / "o" / "pose3d.npz")
    x3d = np.load(tmp_path / "o" / "X3D.npy")
    assert str(d["units"]).startswith("metres") and "detector" in str(d["model"])
    assert x3d.shape == (int(d["valid"].sum()), 17, 3) and d["valid"].sum() >= 18 and np.isfinite(x3d).all()
    hips = 0.5 * (x3d[:, 1] + x3d[:, 4])
    assert np.abs(hips).max() < 1e-5  # hip-centred
    legs = np.linalg.norm(x3d[:, 2] - x3d[:, 1], axis=-1) + np.linalg.norm(x3d[:, 3] - x3d[:, 2], axis=-1)
    assert 0.6 < np.median(legs) < 1.1  # an adult's leg in metres
    bvh = read_bvh(tmp_path / "o" / "motion.bvh")  # metres kept, not rescaled to the nominal height
    assert np.linalg.norm(dict((j.name, j.offset) for j in bvh.joints)["right_knee"]) == pytest.approx(
        np.median(np.linalg.norm(x3d[:, 2] - x3d[:, 1], axis=-1)), rel=0.05)  # fmt: skip
    r = run_cli("pose", str(tmp_path / "w.mp4"), "-o", str(tmp_path / "n"), "--no-overlay", "--no-bvh", "--detector-blend", "0")
    assert r.returncode == 0, r.stderr
    alone = np.load(tmp_path / "n" / "X3D.npy")
    assert alone.shape == x3d.shape and 0.005 < np.abs(alone - x3d).mean() < 0.2
    for args, words in ((["--pixel"], "--pixel"), (["--checkpoint", "x.bin"], "needs its config")):
        r = run_cli("pose", str(tmp_path / "w.mp4"), "-o", str(tmp_path / "e"), *args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, r.stderr


def test_pose_with_a_mesh_checkpoint_is_one_line(tmp_path: Path) -> None:
    make_walk_video(tmp_path / "w.mp4", 4)
    ckpt = tmp_path / "mesh.bin"
    torch.save(official_checkpoint("action_ntu60_xsub"), ckpt)
    r = run_cli("pose", str(tmp_path / "w.mp4"), "-o", str(tmp_path / "o"), "--checkpoint", str(ckpt),
             "--config", str(official_config("action_ntu60_xsub")))  # fmt: skip
    assert r.returncode == 2 and "not a 3-D pose model" in r.stderr, r.stderr


def test_motion_bvh_is_scaled_to_the_nominal_height_and_skipped_without_people(tmp_path: Path) -> None:
    from diffmesh.pipelines.pose import _write_motion_bvh, joints_to_nominal_metres

    rng = np.random.default_rng(0)
    x3d = rng.normal(size=(6, 17, 3)).astype(np.float32)
    has_person = np.array([True, True, False, True, True, True])
    x3d[2] = np.nan
    metres, scale = joints_to_nominal_metres(x3d, has_person)
    np.testing.assert_allclose(joints_to_nominal_metres(7 * x3d, has_person)[0], metres, rtol=1e-5)  # any units
    assert scale > 0
    frames = np.arange(0, 12, 2)  # every second video frame
    assert _write_motion_bvh(tmp_path / "m.bvh", x3d, has_person, frames, 30.0)
    bvh = read_bvh(tmp_path / "m.bvh")
    assert bvh.frames.shape[0] == 6 and bvh.frame_time == pytest.approx(2 / 30)
    assert not _write_motion_bvh(tmp_path / "none.bvh", x3d, np.zeros(6, bool), frames, 30.0)
    assert not _write_motion_bvh(tmp_path / "uneven.bvh", x3d, has_person, np.array([0, 1, 2, 4, 5, 6]), 30.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bvh"]
