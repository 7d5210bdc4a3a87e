"""PyAV reading/writing: exact counts, fps, timestamps, odd sizes, and bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from diffmesh.io.video import VideoWriter, iter_frames, probe_video
from tests._videos import write_zero_frame_video


def _write(path: Path, n: int, width: int, height: int, fps: float = 25.0) -> np.ndarray:
    """Frames whose mean brightness encodes the index (survives lossy coding)."""
    levels = np.linspace(20, 235, max(n, 1)).astype(np.uint8)
    with VideoWriter(path, fps, width, height, crf=10) as w:
        for i in range(n):
            w.write(np.full((height, width, 3), levels[i], np.uint8))
    return levels


def test_exact_count_fps_timestamps(tmp_path: Path) -> None:
    levels = _write(tmp_path / "a.mp4", 30, 64, 48, fps=25)
    info = probe_video(tmp_path / "a.mp4")
    assert (info.num_frames, info.width, info.height, info.fps, info.codec) == (30, 64, 48, 25.0, "h264")
    frames = list(iter_frames(tmp_path / "a.mp4"))
    assert [f.index for f in frames] == list(range(30))
    np.testing.assert_allclose([f.time_s for f in frames], np.arange(30) / 25, atol=1e-6)
    np.testing.assert_allclose([f.image.mean() for f in frames], levels, atol=3)
    part = list(iter_frames(tmp_path / "a.mp4", start=10, end=13))
    assert [f.index for f in part] == [10, 11, 12] and part[0].image.shape == (48, 64, 3)


def test_decoder_and_encoder_threads(tmp_path: Path) -> None:
    """The pipeline decodes in the caller's thread and encodes with one x264 thread: same frames."""
    with VideoWriter(tmp_path / "t.mp4", 25, 64, 48, crf=10, threads=1) as w:
        for i in range(12):
            w.write(np.full((48, 64, 3), 20 * i, np.uint8))
    auto = [f.image for f in iter_frames(tmp_path / "t.mp4")]
    single = [f.image for f in iter_frames(tmp_path / "t.mp4", threads=1)]
    assert len(single) == 12 and all(np.array_equal(a, b) for a, b in zip(auto, single, strict=True))
    with pytest.raises(ValueError, match="threads must be >= 0"):
        next(iter_frames(tmp_path / "t.mp4", threads=-1))


def test_odd_size_is_padded_not_resized(tmp_path: Path) -> None:
    img = np.zeros((41, 63, 3), np.uint8)
    img[:, :31] = 200  # left half bright: position must survive
    with VideoWriter(tmp_path / "odd.mp4", 10, 63, 41, crf=10) as w:
        assert w.size == (64, 42)
        w.write(img)
    info = probe_video(tmp_path / "odd.mp4")
    assert (info.width, info.height) == (64, 42)
    back = next(iter_frames(tmp_path / "odd.mp4")).image
    assert back[:41, :28].mean() > 190 and back[:41, 34:63].mean() < 15


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        probe_video(tmp_path / "missing.mp4")
    (tmp_path / "notes.mp4").write_text("hello, I am not a video\n" * 20)
    with pytest.raises(ValueError, match="not a readable video"):
        probe_video(tmp_path / "notes.mp4")
    write_zero_frame_video(tmp_path / "empty.avi")
    with pytest.raises(ValueError, match="zero video frames"):
        probe_video(tmp_path / "empty.avi")
    _write(tmp_path / "ok.mp4", 20, 64, 48)
    data = (tmp_path / "ok.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])  # moov atom at the end is lost
    with pytest.raises(ValueError):
        probe_video(tmp_path / "cut.mp4")
        list(iter_frames(tmp_path / "cut.mp4"))
    with pytest.raises(ValueError, match="frame must be uint8"):
        with VideoWriter(tmp_path / "x.mp4", 25, 32, 32) as w:
            w.write(np.zeros((16, 16, 3), np.uint8))
