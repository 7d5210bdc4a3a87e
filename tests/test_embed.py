"""``diffmesh embed``: the DSTformer representation of a video, from the packaged encoder or an official checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import diffmesh
from diffmesh.geometry.crop import crop_scale
from diffmesh.pipelines.embed import Encoder, embed_track
from diffmesh.pipelines.tracking import Segment, Track
from tests._cli import run_cli
from tests._official import official_checkpoint, official_config
from tests._videos import make_walk_video
from tests.conftest import TINY


def _track(n: int, segments: list[Segment]) -> Track:
    rng = np.random.default_rng(0)
    kp = np.concatenate([rng.uniform(50, 300, (n, 17, 2)), rng.uniform(0.5, 1, (n, 17, 1))], -1).astype(np.float32)
    has = np.zeros(n, bool)
    for s in segments:
        has[s.start : s.end] = True
    kp[~has] = 0
    return Track(kp, has, has.copy(), segments)


@pytest.mark.parametrize("normalization", ["window", "segment"])
def test_representation_is_the_encoders_blended_over_windows(normalization: str) -> None:
    net = diffmesh.create_model("motionbert", **TINY).eval()
    enc = Encoder(net, "tiny", "random", clip_len=8, normalization=normalization)
    trk = _track(30, [Segment(2, 22), Segment(25, 28)])
    rep = embed_track(enc, trk, batch_windows=3)
    assert rep.shape == (30, 17, TINY["dim_rep"]) and rep.dtype == np.float32
    assert not rep[~trk.has_person].any()
    kp = trk.keypoints[2:22]
    # Frames 0-3 of the first segment are covered by its first window only: exactly that window's output.
    first = crop_scale(kp[:8]) if normalization == "window" else crop_scale(kp)[:8]
    with torch.inference_mode():
        want = net.get_representation(torch.from_numpy(first)[None].float())[0].numpy()
    np.testing.assert_allclose(rep[2:6], want[:4], atol=1e-5)
    # A 3-frame segment is one window padded by repeating its last frame.
    short = crop_scale(trk.keypoints[25:28])
    short = np.concatenate([short, np.repeat(short[-1:], 5, 0)])
    with torch.inference_mode():
        want = net.get_representation(torch.from_numpy(short)[None].float())[0, :3].numpy()
    np.testing.assert_allclose(rep[25:28], want, atol=1e-5)



def test_embed_a_video_with_an_official_checkpoint(tmp_path: Path) -> None:
    """A real video through PyAV and the real detector, encoded by an official-layout MotionBERT checkpoint."""
    make_walk_video(tmp_path / "walk.mp4", 24)
    ckpt = tmp_path / "best_epoch.bin"
    torch.save(official_checkpoint("MB_lite"), ckpt)
    r = run_cli("embed", str(tmp_path / "walk.mp4"), "-o", str(tmp_path / "out"), "--checkpoint", str(ckpt),
             "--config", str(official_config("MB_lite")))  # fmt: skip
    assert r.returncode == 0, r.stderr
    e = np.load(tmp_path / "out" / "embedding.npz")
    assert e["representation"].shape == (24, 17, 512) and e["valid"].all()
    assert str(e["normalization"]) == "segment" and int(e["clip_len"]) == 243
    assert np.isfinite(e["representation"]).all() and e["representation"].std() > 0
    assert e["keypoints_2d"].shape == (24, 17, 3) and list(e["joint_names"])[0] == "pelvis"


def test_embed_errors_are_one_line(tmp_path: Path) -> None:
    r = run_cli("embed", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "o"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "missing.mp4" in r.stderr
    make_walk_video(tmp_path / "w.mp4", 4)
    r = run_cli("embed", str(tmp_path / "w.mp4"), "-o", str(tmp_path / "o2"), "--checkpoint", "x.bin")
    assert r.returncode == 2 and "--checkpoint and --config go together" in r.stderr
