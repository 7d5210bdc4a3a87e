"""Video decoding and encoding with PyAV (FFmpeg in the wheel; ``pip install 'diffmesh[video]'``).

Frames are streamed one at a time as ``uint8 [H, W, 3]`` RGB arrays, so a caller never holds
more than it asks for. PyAV is imported lazily: ``import diffmesh.io.video`` works without it,
and the first call that needs it raises an ImportError naming the extra.

Example::

    from diffmesh.io.video import probe_video, iter_frames, VideoWriter
    info = probe_video("walk.mp4")               # exact frame count, fps, size
    with VideoWriter("copy.mp4", info.fps, info.width, info.height) as w:
        for frame in iter_frames("walk.mp4"):
            w.write(frame.image)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["VideoInfo", "VideoFrame", "VideoWriter", "probe_video", "iter_frames", "require_av"]


def require_av() -> ModuleType:
    """Import PyAV or raise an ImportError that says how to install it."""
    try:
        import av
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "reading and writing videos needs PyAV: pip install 'diffmesh[video]' (or pip install av==18.1.0)"
        ) from err
    return av


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds (first video stream).

    Attributes:
        path: the file.
        width, height: frame size in pixels.
        num_frames: exact number of decodable frames (counted from the demuxed packets).
        fps: average frame rate (frames per second) as a float; ``fps_fraction`` keeps it exact.
        duration_s: ``num_frames / fps``.
        codec: decoder name (e.g. ``"h264"``).
    """

    path: str
    width: int
    height: int
    num_frames: int
    fps: float
    fps_fraction: Fraction
    duration_s: float
    codec: str


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame: ``index`` (0-based in the file), ``time_s`` (presentation time) and
    ``image`` (``uint8 [H, W, 3]`` RGB)."""

    index: int
    time_s: float
    image: np.ndarray


def _check_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"video file {str(p)!r} does not exist; check the path")
    if not p.is_file():
        raise ValueError(f"video path {str(p)!r} is not a file; pass a video file such as clip.mp4")
    return p


def _open(av: ModuleType, p: Path) -> Any:
    try:
        container = av.open(str(p))
    except (av.error.InvalidDataError, av.error.FFmpegError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{str(p)!r} is not a readable video (FFmpeg: {err}); pass a video file (mp4, mov, avi, mkv, ...) "
            "that a media player can open"
        ) from err
    if not container.streams.video:
        container.close()
        raise ValueError(f"{str(p)!r} has no video stream; pass a video file, not an audio or data file")
    return container


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Read a video's size, frame rate and exact frame count without decoding pixels.

    The count comes from demuxing every packet of the video stream (cheap: no decoding), because
    the container's declared count is missing for many formats.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: not a video, no video stream, or zero frames.
    """
    av = require_av()
    p = _check_path(path)
    container = _open(av, p)
    try:
        stream = container.streams.video[0]
        width, height = int(stream.codec_context.width), int(stream.codec_context.height)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps_fraction = Fraction(rate) if rate else Fraction(30, 1)
        try:
            count = sum(1 for pkt in container.demux(stream) if pkt.size > 0)
        except av.error.FFmpegError as err:
            raise ValueError(f"{str(p)!r} is corrupt: demuxing failed ({err}); re-encode or re-download the video") from err
        codec = stream.codec_context.name
    finally:
        container.close()
    if count == 0 or width <= 0 or height <= 0:
        raise ValueError(f"{str(p)!r} has zero video frames ({width}x{height}); pass a video with at least one frame")
    fps = float(fps_fraction)
    return VideoInfo(str(p), width, height, count, fps, fps_fraction, count / fps, codec)


def iter_frames(
    path: str | os.PathLike[str], start: int = 0, end: int | None = None, threads: int = 0
) -> Iterator[VideoFrame]:
    """Decode frames ``start <= index < end`` one at a time (RGB ``uint8 [H, W, 3]``).

    Frames are decoded from the beginning (exact indices even for variable-frame-rate files);
    frames before ``start`` are decoded and dropped. ``threads=0`` lets FFmpeg pick (frame
    threads, one per core); ``threads=1`` decodes in the calling thread, which is faster when
    the caller already keeps the cores busy (the pipeline's passes: decoding a frame is cheap,
    and idle FFmpeg workers only compete with the detector or the renderer; docs/benchmarks.md).
    The decoded pixels are the same either way.

    Raises:
        ValueError: the file is not a video or decoding fails part-way (corrupt or truncated data).
    """
    av = require_av()
    if threads < 0:
        raise ValueError(f"threads must be >= 0 (0: FFmpeg's choice), got {threads}")
    if start < 0 or (end is not None and end < start):
        raise ValueError(f"frame range must satisfy 0 <= start <= end, got start={start}, end={end}")
    p = _check_path(path)
    container = _open(av, p)
    index = 0
    try:
        stream = container.streams.video[0]
        if threads == 1:
            stream.thread_type = "NONE"
        else:
            stream.thread_type = "AUTO"  # frame threads: decoding overlaps with the consumer's work
            stream.thread_count = threads
        tb = stream.time_base
        fps = float(stream.average_rate or 30)
        for frame in container.decode(stream):
            if end is not None and index >= end:
                break
            if index >= start:
                t = float(frame.pts * tb) if frame.pts is not None and tb is not None else index / fps
                yield VideoFrame(index, t, frame.to_ndarray(format="rgb24"))
            index += 1
    except av.error.FFmpegError as err:
        raise ValueError(
            f"{str(p)!r} is corrupt or truncated: decoding failed after {index} frames ({err}); "
            "re-encode it (ffmpeg -i in.mp4 out.mp4) or use --start/--end to skip the damaged part"
        ) from err
    finally:
        container.close()


class VideoWriter:
    """Encode RGB frames to a video file (H.264 ``yuv420p`` by default).

    ``yuv420p`` needs even sizes, so odd widths/heights are padded by one replicated column/row
    (the picture is not resized: overlays stay pixel-exact); ``size`` gives the encoded size.

    Args:
        path: output file; the container is chosen from the suffix (``.mp4``, ``.mkv``, ...).
        fps: frame rate (float or Fraction).
        width, height: size of the frames passed to :meth:`write`.
        crf: H.264 quality (lower = better, 18 visually lossless, 23 default).
        preset: x264 speed preset.
        threads: x264 encoder threads (0: x264's choice, about 1.5 per core). The pipeline uses 1:
            encoding a frame is cheap, and extra x264 threads compete with the renderer (docs/benchmarks.md).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float | Fraction,
        width: int,
        height: int,
        crf: int = 20,
        preset: str = "veryfast",
        codec: str = "libx264",
        threads: int = 0,
    ) -> None:
        av = require_av()
        if width <= 0 or height <= 0:
            raise ValueError(f"video size must be positive, got {width}x{height}")
        if not fps or float(fps) <= 0:
            raise ValueError(f"fps must be positive, got {fps!r}")
        self.width, self.height = int(width), int(height)
        self.size = (self.width + self.width % 2, self.height + self.height % 2)
        self.path = str(path)
        self.frames_written = 0
        rate = Fraction(fps).limit_denominator(1001 * 1000)
        try:
            self._container = av.open(self.path, mode="w")
        except (av.error.FFmpegError, OSError) as err:
            raise ValueError(f"cannot write video {self.path!r} ({err}); check the folder exists and is writable") from err
        self._stream = self._container.add_stream(codec, rate=rate)
        self._stream.width, self._stream.height = self.size
        self._stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            self._stream.options = {"crf": str(crf), "preset": preset, **({"threads": str(threads)} if threads else {})}
        self._av = av

    def write(self, image: np.ndarray) -> None:
        """Append one ``uint8 [height, width, 3]`` RGB frame."""
        if image.shape != (self.height, self.width, 3) or image.dtype != np.uint8:
            raise ValueError(
                f"frame must be uint8 [{self.height}, {self.width}, 3], got {image.dtype} {list(image.shape)}"
            )
        if self.size != (self.width, self.height):
            image = np.pad(image, ((0, self.size[1] - self.height), (0, self.size[0] - self.width), (0, 0)), mode="edge")
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> None:
        """Flush the encoder and close the file."""
        if self._container is None:
            return
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
        finally:
            self._container.close()
            self._container = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
