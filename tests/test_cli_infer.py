"""``diffmesh infer`` / ``diffmesh demo``: every kind of bad input gives a one-line error and exit
code 2, with nothing left in the output folder that looks like a complete run."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from diffmesh.cli import main
from tests._official import official_config
from tests._videos import make_walk_video, write_zero_frame_video

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "walk.mp4"
    make_walk_video(path, frames=12)
    return path


def _fails(args: list[str], capsys: pytest.CaptureFixture[str], match: str, out: Path | None = None) -> None:
    rc = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err and err[-1].startswith("diffmesh: error:") and match in err[-1], err
    assert "Traceback" not in "\n".join(err)
    if out is not None:
        assert not (out / "summary.json").exists() and not (out / "result.npz").exists()


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails(["infer", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "o")], capsys, "does not exist", tmp_path / "o")


def test_not_a_video_and_truncated(tmp_path: Path, walk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.mp4").write_bytes(b"\x00\x01garbage" * 1000)
    _fails(["infer", str(tmp_path / "a.mp4"), "-o", str(tmp_path / "o")], capsys, "not a readable video", tmp_path / "o")
    data = walk.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) * 2 // 3])
    _fails(["infer", str(tmp_path / "cut.mp4"), "-o", str(tmp_path / "o")], capsys, "cut.mp4", tmp_path / "o")


def test_zero_frames(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_zero_frame_video(tmp_path / "z.avi")
    _fails(["infer", str(tmp_path / "z.avi"), "-o", str(tmp_path / "o")], capsys, "zero video frames", tmp_path / "o")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m diffmesh.cli ARGS`` in a fresh process (stderr as a user sees it, native writes included)."""
    import diffmesh

    src = str(Path(diffmesh.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "diffmesh.cli", *args], capture_output=True, text=True, env=env, timeout=600)


def test_no_person_is_one_line_on_stderr(tmp_path: Path) -> None:
    """mediapipe's native TensorFlow Lite / absl lines stay off stderr unless -v (then as DEBUG records)."""
    make_walk_video(tmp_path / "bg.mp4", 6, np.zeros(6, bool))
    r = _cli("infer", str(tmp_path / "bg.mp4"), "-o", str(tmp_path / "o"))
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("diffmesh: error: no person was found in any of the 6 frames"), lines
    assert not (tmp_path / "o" / "summary.json").exists() and not (tmp_path / "o" / "result.npz").exists()
    r = _cli("-v", "infer", str(tmp_path / "bg.mp4"), "-o", str(tmp_path / "o"), "--no-cache")
    assert re.search(r"DEBUG diffmesh\.pipelines\.\w+: native: ", r.stderr) and "no person was found" in r.stderr


def test_progress_is_logged_only_for_slow_stages_when_not_a_terminal(caplog: pytest.LogCaptureFixture) -> None:
    from diffmesh.cli.infer import StageProgress

    progress = StageProgress(terminal=False)
    with caplog.at_level(logging.INFO, logger="diffmesh.cli"):
        for i in range(1, 11):
            progress("detect", i, 10)
        assert not caplog.records  # a quick stage logs nothing
        progress.LOG_EVERY_S = 0.0
        for i in range(1, 4):
            progress("model", i, 3)
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("[model] 1/3 frames, ") and "frames/s" in messages[0] and "s left" in messages[0]
    assert messages[-1].startswith("[model] 3/3 frames in ")


def test_progress_bar_with_rate_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    from diffmesh.cli.infer import StageProgress

    progress = StageProgress(terminal=True)
    for i in range(1, 6):
        progress("render", i, 5)
    err = capsys.readouterr().err
    assert "render" in err and "5/5" in err and "frame/s" in err and "100%" in err


def test_progress_follows_whether_stderr_is_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bars on a terminal, log lines otherwise: decided by stderr, the stream progress goes to."""
    import io

    from diffmesh.cli.infer import StageProgress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", Tty())
    assert StageProgress().terminal
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not StageProgress().terminal


def test_one_progress_bar_per_stage(capsys: pytest.CaptureFixture[str]) -> None:
    from diffmesh.cli.infer import StageProgress

    progress = StageProgress(terminal=True)
    for stage, total in (("detect", 4), ("model", 3), ("render", 4)):
        for i in range(1, total + 1):
            progress(stage, i, total)
        assert not progress.bars  # a finished stage's bar is closed
    err = capsys.readouterr().err
    assert "detect" in err and "4/4" in err and "model" in err and "3/3" in err and "render" in err
    progress("model", 1, 3)  # a failed run: close() ends the open bar
    progress.close()
    assert not progress.bars


def test_keypoints_json_not_matching(tmp_path: Path, walk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kp = np.zeros((26, 3))
    kp[:, :2], kp[:, 2] = 100, 0.9
    (tmp_path / "k.json").write_text(json.dumps([{"image_id": "500.jpg", "keypoints": kp.ravel().tolist(), "score": 1}]))
    _fails(["infer", str(walk), "-o", str(tmp_path / "o"), "--keypoints", str(tmp_path / "k.json")], capsys,
           "does not match the video", tmp_path / "o")  # fmt: skip


def test_checkpoint_not_matching_config(
    tmp_path: Path, walk: Path, capsys: pytest.CaptureFixture[str], tiny_config: dict[str, object]
) -> None:
    import diffmesh

    tiny = diffmesh.create_model("diffmesh", **tiny_config)
    torch.save({"model": {f"module.{k}": v for k, v in tiny.state_dict().items()}}, tmp_path / "ckpt.bin")
    # The official DiffMesh config describes the full-size model: the tiny weights do not fit it.
    config = official_config("DM_ft_pw3d")  # skipped without ../shared/reference, required in CI
    _fails(["infer", str(walk), "-o", str(tmp_path / "o"), "--checkpoint", str(tmp_path / "ckpt.bin"),
            "--config", str(config)], capsys, "ckpt.bin", tmp_path / "o")  # fmt: skip


def test_unwritable_output(tmp_path: Path, walk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")  # a folder cannot be created under a regular file
    _fails(["infer", str(walk), "-o", str(tmp_path / "file" / "out")], capsys, "not writable")


def test_demo_runs_on_the_shipped_clip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    rc = main(["demo", "-o", str(out), "--end", "20", "--threads", "1"])
    assert rc == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames_processed"] == 20 and summary["frames_detected"] >= 18
    assert {"result.npz", "overlay.mp4", "summary.json"} <= set(summary["outputs"])
    assert (out / "overlay.mp4").stat().st_size > 0 and not list(out.glob(".partial-*"))


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--max-people", "0"], r"^diffmesh: error: --max-people must be an integer >= 1 .* got 0$"),
        (["--threads", "-1"], r"^diffmesh: error: --threads must be >= 0 .* got -1$"),
        (["--max-gap", "-1"], r"^diffmesh: error: --max-gap must be an integer >= 0 .* got -1$"),
        (["--detector-blend", "2"], r"^diffmesh: error: --detector-blend must be in \[0, 1\] .* got 2.0$"),
        (["--max-people", "1", "--person", "3"], r"^diffmesh: error: --person=3 picks one of several people's track ids, but --max-people=1"),
    ],
)
def test_bad_settings_name_the_flag(tmp_path: Path, walk: Path, capsys: pytest.CaptureFixture[str], flags: list[str], expected: str) -> None:
    """Errors about a setting quote the flag the user typed, not the Python argument behind it."""
    assert main(["infer", str(walk), "-o", str(tmp_path / "out"), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and re.search(expected, err), err
    if flags[0] in ("--threads", "--max-gap", "--detector-blend"):  # the same flags of `diffmesh pose`
        assert main(["pose", str(walk), "-o", str(tmp_path / "pose"), *flags[:2]]) == 2
        assert "error: --" in capsys.readouterr().err
