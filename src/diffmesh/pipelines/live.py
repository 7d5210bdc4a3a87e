"""Live mode: bodies from a camera, a stream or a file read at its own frame rate, as they come.

A capture thread reads the source in real time (a file is paced by its timestamps, as if it were
a camera) and keeps only the newest frame, so a slow machine drops frames instead of falling
behind. The main thread runs the detector on each frame it takes and keeps the last ``clip_len``
frames' keypoints; every ``stride`` processed frames it runs the network on that **causal** window
(normalised by its own crop box; frames before the first are the first one repeated) and emits
the frames processed since the last window (``stride`` of them, or more when the network was still
busy at the last stride and a real-time source kept the detector going): the window's last ones, or with ``delay=D`` the ones ``D`` frames before its
end (each frame then waits for ``D`` newer frames, which the network sees, and is averaged over
every window that has seen it so far, with the offline run's triangular weights: smoother and more
accurate, ``D`` frames later): body parameters, camera-frame joints and a translation fitted to the
keypoints. Each result is one JSON line appended to ``OUT/live.jsonl`` and flushed at once
(other programs can follow the file); ``OUT/live_summary.json`` holds frames/s, dropped frames and
the capture-to-result latency (median and 95th percentile) when the source ends or on Ctrl-C.
With ``vmc="HOST:PORT"`` each frame is also sent to an avatar program over the VMC protocol
(:mod:`diffmesh.pipelines.vmc`).

Accuracy cost: each frame is seen by one causal window instead of the blended, centred windows
of the offline run (measured in ``docs/benchmarks.md``).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np
import torch
from torch import nn

from diffmesh.conventions import blazepose_to_h36m, blazepose_world_to_h36m
from diffmesh.geometry.camera import default_intrinsics
from diffmesh.geometry.model_input import model_input_channels, network_input
from diffmesh.geometry.rotations import rotmat_to_axis_angle
from diffmesh.body.subset import joints_only
from diffmesh.pipelines.blazepose_models import DEFAULT_DETECTOR_MODEL
from diffmesh.pipelines.detector_blend import BLEND_SMOOTH_SIGMA, blend_joints, fit_to_detector
from diffmesh.pipelines.placement import PlacedMesh, place_sequence
from diffmesh.pipelines.prediction import MeshSequence, h36m_joints, network_parameters
from diffmesh.pipelines.quality import keypoint_fit_pct
from diffmesh.pipelines.tracking import Segment
from diffmesh.pipelines.windows import project_to_so3, window_weights
from diffmesh.pipelines.live_preview import PreviewServer
from diffmesh.pipelines.vmc import VmcSender

if TYPE_CHECKING:
    from diffmesh.pipelines.keypoints import PoseDetector

logger = logging.getLogger(__name__)

__all__ = ["LatencyHistogram", "LiveSummary", "run_live"]


class LatencyHistogram:
    """Capture-to-result latencies in 1 ms bins up to :attr:`LIMIT_MS` (longer ones in the last bin):
    the median and 95th percentile of a run of any length in 240 KB (a list of every latency would
    grow by about 32 bytes a frame: 70 MB over a day of a 25 frames/s camera)."""

    LIMIT_MS = 60_000

    def __init__(self) -> None:
        self.counts = np.zeros(self.LIMIT_MS + 1, np.int32)

    def add(self, ms: float) -> None:
        self.counts[min(max(int(ms), 0), self.LIMIT_MS)] += 1

    def __len__(self) -> int:
        return int(self.counts.sum())

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0-100) in ms, to the bin (the middle of its millisecond); NaN when empty."""
        total = len(self)
        if total == 0:
            return float("nan")
        rank = max(1, int(np.ceil(q / 100.0 * total)))
        return float(np.searchsorted(np.cumsum(self.counts), rank)) + 0.5


@dataclass
class LiveSummary:
    """What a live run did (``live_summary.json``)."""

    source: str
    frames_read: int = 0
    frames_processed: int = 0
    frames_dropped: int = 0
    frames_with_person: int = 0
    processed_fps: float = 0.0
    latency_ms_median: float = float("nan")
    latency_ms_p95: float = float("nan")
    stride: int = 4
    delay: int = 0
    latencies: LatencyHistogram = field(default_factory=LatencyHistogram, repr=False)

    def to_json(self) -> dict[str, Any]:
        """``live_summary.json``'s fields (every one but the histogram)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "latencies"}


class _Capture(threading.Thread):
    """Reads ``source`` in real time into a one-frame slot (newest wins); with ``realtime=False``
    every frame is handed over (the reader waits for the consumer: nothing is dropped)."""

    def __init__(self, source: str, realtime: bool) -> None:
        super().__init__(daemon=True, name="diffmesh-capture")
        from diffmesh.io.video import require_av

        av = require_av()
        fmt = "v4l2" if source.startswith("/dev/video") else None
        try:
            self.container = av.open(source, format=fmt)
        except Exception as err:  # PyAV raises its own error types per FFmpeg error
            raise ValueError(f"cannot open live source {source!r}: {err}; pass a camera device (/dev/video0), "
                             "a stream URL (rtsp://, http://) or a video file") from None  # fmt: skip
        self.stream = self.container.streams.video[0]
        self.width, self.height = self.stream.codec_context.width, self.stream.codec_context.height
        self.realtime = realtime
        self.lock = threading.Lock()
        self.slot: tuple[int, float, np.ndarray] | None = None
        self.read = 0
        self.done = threading.Event()
        self.stop = threading.Event()
        self.taken = threading.Event()  # the consumer took the slot's frame (realtime=False only)
        self.taken.set()

    def run(self) -> None:
        t0 = time.perf_counter()
        try:
            for frame in self.container.decode(self.stream):
                if self.stop.is_set():
                    break
                if self.realtime and frame.time is not None:  # a file: wait until its presentation time
                    delay = float(frame.time) - (time.perf_counter() - t0)
                    if delay > 0:
                        time.sleep(delay)
                image = frame.to_ndarray(format="rgb24")
                if not self.realtime:
                    self.taken.wait()
                    self.taken.clear()
                with self.lock:
                    self.slot = (self.read, time.perf_counter(), image)
                self.read += 1
        finally:
            self.container.close()
            self.done.set()

    def take(self) -> tuple[int, float, np.ndarray] | None:
        with self.lock:
            item, self.slot = self.slot, None
        if item is not None:
            self.taken.set()
        return item


def _r(x: np.ndarray, digits: int) -> Any:
    """Rounded nested lists of a float array (float64, so JSON shows short decimals)."""
    return np.round(np.asarray(x, dtype=np.float64), digits).tolist()


def _write_line(f: TextIO, record: dict[str, Any]) -> None:
    f.write(json.dumps(record, separators=(",", ":")) + "\n")
    f.flush()


def run_live(
    source: str,
    out_dir: str | os.PathLike[str],
    model: nn.Module,
    body_model: nn.Module,
    stride: int = 4,
    realtime: bool = True,
    max_seconds: float | None = None,
    vmc: str | None = None,
    detector_model: str = DEFAULT_DETECTOR_MODEL,
    detector_blend: float = 0.0,
    preview: str | None = None,
    delay: int = 0,
    detector_threads: int = 1,
) -> LiveSummary:
    """Run live until the source ends, ``max_seconds`` pass, or Ctrl-C; returns (and writes) the summary.

    Args:
        source: camera device, stream URL or video file.
        model: the mesh network (its ``head.clip_len`` frames per window).
        body_model: the body model its parameters belong to.
        stride: frames between network calls (each call emits that many frames).
        realtime: pace a file by its timestamps (``False``: as fast as it decodes, dropping nothing).
        vmc: ``"HOST:PORT"`` of a VMC receiver (avatar program) to send each frame to, or ``None``.
        detector_model: the BlazePose landmark model (:mod:`diffmesh.pipelines.blazepose_models`).
        detector_blend: the detector's share when the body is fitted to its own 3-D joints and 2-D
            keypoints (:func:`~diffmesh.pipelines.detector_blend.fit_to_detector`, over the causal
            window: the smoothing sees no future frames); 0: off.
        preview: ``"[HOST:]PORT"``: serve the newest frame with the body drawn on it over HTTP
            (:mod:`diffmesh.pipelines.live_preview`) while the run lasts.
        delay: frames each result waits for: the network sees that many frames after the one it
            emits (0: none, the window's last frames; at most the window's length less ``stride``).
        detector_threads: XNNPACK threads of the detector (the landmarks do not depend on it).
    """
    from diffmesh.pipelines.keypoints import PoseDetector
    from diffmesh.pipelines.outputs import prepare_output_folder

    if stride < 1:
        raise ValueError(f"--live-stride must be >= 1, got {stride}")
    if not 0.0 <= detector_blend <= 1.0:
        raise ValueError(f"--detector-blend must be in [0, 1] (0: off), got {detector_blend!r}")
    clip_len = int(getattr(model.head, "clip_len", 16))
    stride = min(stride, clip_len)
    if not 0 <= delay <= clip_len - stride:
        raise ValueError(f"--live-delay must be between 0 and {clip_len - stride} frames (the network's window holds "
                         f"{clip_len} frames, --live-stride takes {stride} of them), got {delay}")  # fmt: skip
    sinks = _Sinks()
    average = _WindowAverage(clip_len)
    try:
        sinks.vmc = None if vmc is None else VmcSender.for_body_model(vmc, body_model)  # a bad address fails first
        sinks.preview = None if preview is None else PreviewServer(preview)
        out = prepare_output_folder(out_dir)
        cap = _Capture(source, realtime)
    except Exception:
        sinks.close()
        raise
    if sinks.preview is not None:
        logger.info("live preview: open %s in a browser", sinks.preview.url)
    joints_body = joints_only(body_model)  # each emitted frame needs the body's joints, not its surface
    K = default_intrinsics(cap.width, cap.height)
    summary = LiveSummary(source, stride=stride, delay=delay)
    buf: deque[tuple[int, float, np.ndarray | None]] = deque(maxlen=clip_len)
    pending: list[tuple[int, float, np.ndarray | None]] = []  # processed, not yet emitted
    images: deque[np.ndarray] = deque(maxlen=delay + 1)  # the preview shows the newest emitted frame
    # The network runs on a second thread while the detector takes the next frames (2 cores: both
    # busy); one worker keeps the windows, and the lines, in order.
    with PoseDetector(model=detector_model, threads=detector_threads) as det, open(out / "live.jsonl", "w", encoding="utf-8") as sinks.jsonl, \
            ThreadPoolExecutor(1) as pool:  # fmt: skip
        det.detect(np.zeros((cap.height, cap.width, 3), np.uint8))  # start the graph before the clock
        with torch.inference_mode():  # and the network (first-call allocations)
            network_parameters(model, torch.zeros(1, clip_len, 17, model_input_channels(model)))
        started = time.perf_counter()
        busy: Future[None] | None = None
        since = 0  # frames processed since the last network call
        cap.start()
        try:
            while not (cap.done.is_set() and cap.slot is None):
                if max_seconds is not None and time.perf_counter() - started > max_seconds:
                    break
                item = cap.take()
                if item is None:
                    time.sleep(0.002)
                    continue
                index, t_cap, image = item
                images.append(image)
                kp = _detect(det, image)
                buf.append((index, t_cap, kp))
                pending.append((index, t_cap, kp))
                summary.frames_processed += 1
                since += 1
                due = len(pending) - delay  # the frames with `delay` newer ones after them
                if since >= stride and due > 0:
                    if realtime and busy is not None and not busy.done() and len(pending) < clip_len:
                        continue  # the network is still on the last window: detect on; this window waits for it
                    if busy is not None:
                        busy.result()  # at most one window in flight: the capture, not a queue, absorbs delays
                    busy = pool.submit(_emit, sinks, model, joints_body, average, list(buf), pending[:due], K, clip_len,
                                       summary, detector_blend, images[0], delay)  # fmt: skip
                    pending, since = pending[due:], 0
            if busy is not None:
                busy.result()
            if pending:  # the source ended: the last frames wait for no newer ones
                _emit(sinks, model, joints_body, average, list(buf), pending, K, clip_len, summary, detector_blend, images[-1])
        except KeyboardInterrupt:
            logger.info("live run stopped (Ctrl-C)")
        finally:
            cap.stop.set()
            cap.taken.set()
            sinks.close()
    summary.frames_read = cap.read
    summary.frames_dropped = max(0, summary.frames_read - summary.frames_processed)
    elapsed = time.perf_counter() - started
    summary.processed_fps = summary.frames_processed / max(elapsed, 1e-9)
    summary.latency_ms_median = summary.latencies.percentile(50)
    summary.latency_ms_p95 = summary.latencies.percentile(95)
    (out / "live_summary.json").write_text(json.dumps(summary.to_json(), indent=1))
    return summary


def _detect(det: PoseDetector, image: np.ndarray) -> np.ndarray | None:
    """``[17, 6]``: H36M keypoints (x, y, confidence) and the detector's 3-D joints (zero if none)."""
    found = det.detect_with_world(image)
    if found is None:
        return None
    world = np.zeros((17, 3), np.float32) if found[1] is None else blazepose_world_to_h36m(found[1])
    return np.concatenate([blazepose_to_h36m(found[0]), world], axis=-1)


#: Frames before the emitted ones that the blend's smoothing reaches (Gaussian cut at 3 sigma).
_BLEND_REACH = int(round(3 * BLEND_SMOOTH_SIGMA))


def _joints(body_model: nn.Module, mesh: MeshSequence) -> np.ndarray:
    """``[N, 17, 3]`` pelvis-relative H36M joints of the posed body."""
    joints = h36m_joints(body_model, mesh)
    return joints - joints[:, :1]


def _place(body_model: nn.Module, mesh: MeshSequence, keypoints: np.ndarray, K: np.ndarray) -> PlacedMesh:
    """Pose the body and fit each frame's translation to its keypoints (the offline placement with no
    smoothing across frames: each is emitted as it comes)."""
    joints = _joints(body_model, mesh)
    n = len(joints)
    raw, transl, reproj = place_sequence(joints, keypoints, np.ones(n, bool), [Segment(0, n)], K, sigma_frames=0.0)
    return PlacedMesh(mesh, joints, raw, transl, reproj)


class _WindowAverage:
    """Each frame's network output averaged over the windows that have seen it so far, with the
    offline blend's triangular weights (:func:`~diffmesh.pipelines.windows.window_weights`: a
    window's newest frames, which it sees no future of, count least). A frame at a window's end
    that no later window has seen yet keeps that window's output."""

    def __init__(self, clip_len: int) -> None:
        self.weights = window_weights(clip_len).astype(np.float64)
        self.sums: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}

    def add(self, frames: list[int], rotmats: np.ndarray, betas: np.ndarray) -> None:
        """One window's output ``[clip_len, ...]`` for its real ``frames`` (the last ``len(frames)`` rows)."""
        pad = len(rotmats) - len(frames)
        for i, f in enumerate(frames):
            w = self.weights[pad + i]
            rot, b, total = self.sums.get(f, (0.0, 0.0, 0.0))
            self.sums[f] = (rot + w * rotmats[pad + i].astype(np.float64), b + w * betas[pad + i].astype(np.float64), total + w)
        for f in [f for f in self.sums if f < frames[0]]:  # out of the window: no longer needed
            del self.sums[f]

    def mean(self, frames: list[int]) -> MeshSequence:
        rot = np.stack([self.sums[f][0] / self.sums[f][2] for f in frames])
        betas = np.stack([self.sums[f][1] / self.sums[f][2] for f in frames])
        return MeshSequence(project_to_so3(torch.from_numpy(rot)).numpy().astype(np.float32), betas.astype(np.float32))


@dataclass
class _Sinks:
    """Where each emitted frame goes: ``live.jsonl``, and optionally a VMC receiver and the preview."""

    jsonl: TextIO | None = None
    vmc: VmcSender | None = None
    preview: PreviewServer | None = None

    def close(self) -> None:
        if self.vmc is not None:
            self.vmc.close()
        if self.preview is not None:
            self.preview.close()


def _emit(
    sinks: _Sinks, model: nn.Module, body_model: nn.Module, average: _WindowAverage, window: list[tuple[int, float, np.ndarray | None]],
    pending: list[tuple[int, float, np.ndarray | None]], K: np.ndarray, clip_len: int, summary: LiveSummary,
    detector_blend: float = 0.0, image: np.ndarray | None = None, tail: int = 0,
) -> None:  # fmt: skip
    """Run the causal window ending at the newest frame; write (and send) one line per pending frame
    (the window's frames before its last ``tail``); show the last pending frame (``image``) with its
    body on the preview."""
    f, sender = sinks.jsonl, sinks.vmc
    assert f is not None
    kps = np.stack([kp if kp is not None else np.zeros((17, 6), np.float32) for _, _, kp in window])
    if not any(kp is not None for _, _, kp in pending):
        for index, t_cap, _ in pending:
            _write_line(f, {"frame": index, "person": False})
            if sender is not None:
                sender.send(None)
        if sinks.preview is not None and image is not None:
            sinks.preview.show(image, None, K)
        return
    x = network_input(kps[..., :3], kps[..., 3:], model_input_channels(model))
    if len(x) < clip_len:  # the first frames: repeat the first one before them
        x = np.concatenate([np.repeat(x[:1], clip_len - len(x), 0), x])
    n, size = len(pending), len(window)
    e0, e1 = size - tail - n, size - tail  # the emitted frames' place in the window
    frames = [index for index, _, _ in window]
    with torch.inference_mode():
        average.add(frames, *(t[0].float().numpy() for t in network_parameters(model, torch.from_numpy(x)[None].float())))
    kp_p = kps[e0:e1, :, :3]
    rows = np.array([kp is not None for _, _, kp in pending])
    if detector_blend > 0:  # the window's detector joints smooth the target: what the offline blend sees, less the future
        a, b = max(0, e0 - _BLEND_REACH), min(size, e1 + _BLEND_REACH)  # and the frames their smoothing reaches
        mesh = average.mean(frames[a:b])
        joints_w = _joints(body_model, mesh)
        has = np.array([kp is not None for _, _, kp in window[a:b]]) & np.abs(kps[a:b, :, 3:]).any((1, 2))
        keep = slice(e0 - a, e1 - a)
        target = blend_joints(joints_w, kps[a:b, :, 3:], has, detector_blend)[keep]
        mesh = MeshSequence(mesh.rotmats[keep], mesh.betas[keep])
        placed = fit_to_detector(body_model, mesh, joints_w[keep], target, kp_p, rows & has[keep], K, detector_blend,
                                 lambda s: _place(body_model, s, kp_p, K))  # fmt: skip
    else:
        placed = _place(body_model, average.mean(frames[e0:e1]), kp_p, K)
    rot, betas = torch.from_numpy(placed.mesh.rotmats), placed.mesh.betas
    joints, transl = placed.joints_m, placed.transl
    aa = rotmat_to_axis_angle(rot).numpy()
    fits = keypoint_fit_pct(joints + transl[:, None], K, kp_p)  # NaN for frames without a person
    now = time.perf_counter()
    for k, (index, t_cap, kp) in enumerate(pending):
        if kp is None:
            _write_line(f, {"frame": index, "person": False})
            if sender is not None:
                sender.send(None)
            continue
        latency = 1000.0 * (now - t_cap)
        summary.latencies.add(latency)
        summary.frames_with_person += 1
        _write_line(f, {
            "frame": index, "person": True, "latency_ms": round(latency, 1),
            "pose_axis_angle": _r(aa[k], 5), "betas": _r(betas[k], 5),
            "transl": None if not np.isfinite(transl[k]).all() else _r(transl[k], 4),
            "joints_3d_cam": _r(joints[k] + np.nan_to_num(transl[k]), 4), "keypoints_2d": _r(kp[:, :3], 2),
            "keypoint_fit_pct": round(float(fits[k]), 2) if np.isfinite(fits[k]) else None,
        })  # fmt: skip
        if sender is not None:
            sender.send(rot[k].numpy(), transl[k])
    if sinks.preview is not None and image is not None:
        last = n - 1
        sinks.preview.show(image, joints[last] + transl[last] if rows[last] else None, K)
