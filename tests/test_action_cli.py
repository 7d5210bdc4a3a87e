"""``diffmesh action``: NTU action classes over time with official-layout action checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from diffmesh.data.transforms import make_cam, resample
from diffmesh.geometry.crop import crop_scale
from diffmesh.pipelines.action import _sample
from diffmesh.pipelines.action_classes import NTU60_CLASSES, NTU120_CLASSES, classes_for
from tests._cli import run_cli
from tests._official import official_checkpoint, official_config
from tests._videos import make_walk_video


def test_samples_are_made_like_the_official_ntu_test_samples() -> None:
    rng = np.random.default_rng(0)
    kp = np.concatenate([rng.uniform(0, 640, (50, 17, 1)), rng.uniform(0, 480, (50, 17, 1)), rng.uniform(0.3, 1, (50, 17, 1))], -1)
    x = _sample(kp.astype(np.float32), (640, 480), 243, 2.0)
    assert x.shape == (2, 243, 17, 3)
    first = np.concatenate([make_cam(kp[..., :2], (480, 640)), kp[..., 2:]], -1)[resample(50, 243)]
    want = crop_scale(np.stack([first, np.zeros_like(first)]), (2.0, 2.0))
    np.testing.assert_allclose(x, want, atol=1e-6)
    assert len(set(NTU120_CLASSES)) == 120 and NTU120_CLASSES[:60] == NTU60_CLASSES
    assert classes_for(60)[22] == "hand waving" and classes_for(7)[3] == "class 3"



def test_action_cli_lists_classes_over_time(tmp_path: Path) -> None:
    make_walk_video(tmp_path / "walk.mp4", 50)  # 2 s at 25 fps
    ckpt = tmp_path / "best_epoch.bin"
    torch.save(official_checkpoint("action_ntu60_xsub"), ckpt)
    r = run_cli("action", str(tmp_path / "walk.mp4"), "-o", str(tmp_path / "out"), "--checkpoint", str(ckpt),
             "--config", str(official_config("action_ntu60_xsub")), "--window", "1", "--stride", "0.5", "--top-k", "3")  # fmt: skip
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "out" / "actions.json").read_text())
    assert res["classes"] == 60 and len(res["video"]) == 3
    assert len(res["windows"]) == 3 and res["windows"][1]["start_frame"] == 12  # 25-frame windows every 12 frames
    for w in res["windows"] + [{"top": res["video"]}]:
        scores = [t["score"] for t in w["top"]]
        assert scores == sorted(scores, reverse=True) and all(t["class"] in NTU60_CLASSES for t in w["top"])
    assert "whole video:" in r.stdout


def test_action_without_a_checkpoint_says_why_in_one_line(tmp_path: Path) -> None:
    make_walk_video(tmp_path / "w.mp4", 4)
    r = run_cli("action", str(tmp_path / "w.mp4"), "-o", str(tmp_path / "o"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "NTU" in r.stderr


def test_one_shot_model_ranks_reference_clips_by_similarity(tmp_path: Path) -> None:
    """NTU-120 one-shot: the video is compared with user-given reference clips; the video itself,
    given as a reference, is the closest match of the whole video (cosine similarity 1)."""
    make_walk_video(tmp_path / "walk.mp4", 30)
    make_walk_video(tmp_path / "short.mp4", 12)
    ckpt = tmp_path / "oneshot.bin"
    torch.save(official_checkpoint("action_ntu120_oneshot"), ckpt)
    cfg = str(official_config("action_ntu120_oneshot"))
    r = run_cli("action", str(tmp_path / "walk.mp4"), "-o", str(tmp_path / "out"), "--checkpoint", str(ckpt), "--config", cfg,
                "--reference", f"same={tmp_path / 'walk.mp4'}", "--reference", f"short={tmp_path / 'short.mp4'}")  # fmt: skip
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "out" / "actions.json").read_text())
    assert res["classes"] == 2 and res["video"][0]["class"] == "same" and res["video"][0]["score"] > 0.999
    assert all(-1.0001 <= t["score"] <= 1.0001 for w in res["windows"] for t in w["top"])
    r = run_cli("action", str(tmp_path / "walk.mp4"), "-o", str(tmp_path / "o2"), "--checkpoint", str(ckpt), "--config", cfg)
    assert r.returncode == 2 and "--reference NAME=VIDEO" in r.stderr and len(r.stderr.strip().splitlines()) == 1
