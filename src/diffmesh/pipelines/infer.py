"""The video → mesh recipe: decode → 2-D keypoints → track → windows → model → placement → outputs.

Each stage is a function usable from Python; :func:`run` wires them, caches stage results in
the output folder (keyed by content and settings, :mod:`diffmesh.pipelines.cache`) and writes
the outputs. Only :func:`run` and the writers touch files; the stages take and return arrays.

Memory: images are streamed (a few frames in flight per queue); what is kept for the whole
video is per-frame *parameters* (about 2 KB a frame), never images or meshes.

The weights hook: :func:`default_model` returns the package's default mesh model, the registered
:data:`diffmesh.registry.DEFAULT_MESH_MODEL` with its packaged synthetic-trained weights
(``docs/model_card.md``); :func:`load_model` takes an official checkpoint instead.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from diffmesh.conventions import H36M_JOINTS, SMPL_JOINTS
from diffmesh.geometry.camera import default_intrinsics, project
from diffmesh.geometry.crop import crop_scale
from diffmesh.geometry.flip import flip_data, flip_smpl_rotmats
from diffmesh.geometry.rotations import rotmat_to_axis_angle
from diffmesh.io.video import VideoInfo, VideoWriter, iter_frames, probe_video
from diffmesh.pipelines.cache import StageCache, file_digest, stage_key
from diffmesh.pipelines.keypoints import FrameKeypoints, PoseDetector, read_alphapose_json
from diffmesh.pipelines.placement import place_sequence
from diffmesh.pipelines.tracking import Segment, Track, follow_person, track
from diffmesh.pipelines.windows import WindowBlender, plan_windows

logger = logging.getLogger(__name__)

__all__ = [
    "InferSettings",
    "MeshSequence",
    "ModelBundle",
    "RunSummary",
    "body_sequence",
    "default_model",
    "detect_video",
    "load_model",
    "predict_mesh",
    "run",
]

Progress = Callable[[str, int, int], None]
T = TypeVar("T")
RESULT_SCHEMA_VERSION = 1
#: x264 threads for overlay.mp4 (0: x264's choice); see :class:`diffmesh.io.video.VideoWriter`.
X264_THREADS = 1


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


# ---------------------------------------------------------------------------------------------
# Settings and model


@dataclass(frozen=True)
class InferSettings:
    """Everything that changes the result of a run (render-only options live in :func:`run`).

    Attributes:
        start, end: frame range ``[start, end)`` of the video (``end=None``: to the last frame).
        keypoints_file: an AlphaPose Halpe-26/COCO-17 JSON to use instead of the detector.
        track_id: keep only this AlphaPose track (``idx``).
        min_detection_confidence: BlazePose person-detector threshold.
        max_gap: missing runs up to this many frames are interpolated; longer ones split the sequence.
        stride: window step (default ``clip_len // 2``: every frame is seen by two windows).
        flip: flip test-time augmentation (doubles the model cost).
        fov_y_deg, focal_px: camera intrinsics guess (default 50 degrees vertical), or a known focal length.
        smooth_sigma: Gaussian smoothing of the root trajectory, in frames.
        fast: bf16 matrix multiplies on CPU (:func:`diffmesh.models.fast.to_fast_inference`).
        device: torch device for the model.
        batch_windows: windows per network call.
    """

    start: int = 0
    end: int | None = None
    keypoints_file: str | None = None
    track_id: int | None = None
    min_detection_confidence: float = 0.3
    max_gap: int = 10
    stride: int | None = None
    flip: bool = False
    fov_y_deg: float | None = None
    focal_px: float | None = None
    smooth_sigma: float = 2.0
    fast: bool = True
    device: str = "cpu"
    batch_windows: int = 8


@dataclass
class ModelBundle:
    """A mesh model and what it is: ``weights`` (human-readable source), ``trained`` and ``identity``
    (a content hash used in cache keys)."""

    model: nn.Module
    weights: str
    trained: bool
    identity: str


_RNG_LOCK = threading.Lock()  # building a network draws from torch's global generator: one at a time


def _default_weights_label() -> str:
    from diffmesh.registry import DEFAULT_MESH_MODEL, get_spec

    spec = get_spec(DEFAULT_MESH_MODEL)
    return f"{spec.name} (packaged synthetic-trained weights, sha256 {str(spec.sha256)[:12]}; docs/model_card.md)"


def _default_identity(body_model: nn.Module) -> str:
    """Cache identity of :func:`default_model` for ``body_model``: known without building the network."""
    from diffmesh.registry import DEFAULT_MESH_MODEL, get_spec

    return f"{DEFAULT_MESH_MODEL}-{str(get_spec(DEFAULT_MESH_MODEL).sha256)[:16]}-{getattr(body_model, 'name', 'body')}"


def default_model(device: str = "cpu", body_model: nn.Module | str = "open") -> ModelBundle:
    """The package's default mesh model: :data:`diffmesh.registry.DEFAULT_MESH_MODEL` with its
    packaged weights, trained by this project on synthetic motion with the open body model
    (``docs/model_card.md``; official checkpoints through :func:`load_model` for research-grade
    accuracy)."""
    import diffmesh
    from diffmesh.registry import DEFAULT_MESH_MODEL

    with _RNG_LOCK:
        devices_state = torch.random.get_rng_state()
        try:
            model = diffmesh.create_model(DEFAULT_MESH_MODEL, body_model=body_model)
        finally:
            torch.random.set_rng_state(devices_state)
    return ModelBundle(model.to(device).eval(), _default_weights_label(), True, _default_identity(model.body_model))


def load_model(
    checkpoint: str | None = None,
    config: str | None = None,
    data_root: str | None = None,
    device: str = "cpu",
) -> ModelBundle:
    """An official mesh checkpoint through :func:`diffmesh.models.load_official`, or :func:`default_model`."""
    if checkpoint is None and config is None:
        if data_root is not None:
            raise ValueError(
                f"--data-root {data_root!r} selects an official SMPL body model, which the packaged default weights "
                "(trained with the open body model) do not fit; pass an official --checkpoint/--config with it, "
                "or leave --data-root out"
            )
        return default_model(device)
    if checkpoint is None or config is None:
        raise ValueError("--checkpoint and --config go together: pass both (the official .bin and its YAML config)")
    from diffmesh.models import load_official

    model = load_official(checkpoint, config, data_root)
    if not hasattr(model, "body_model"):
        raise ValueError(
            f"checkpoint {checkpoint!r} is not a mesh model ({type(model).__name__}); pass a mesh checkpoint "
            "(MB_ft_pw3d or DM_ft_pw3d with its config)"
        )
    ident = stage_key("model", ckpt=file_digest(checkpoint), cfg=file_digest(config), data_root=str(data_root))
    return ModelBundle(model.to(device).eval(), f"{checkpoint} ({Path(config).name})", True, ident)


def _prepare_model(bundle: ModelBundle | None, body_model: nn.Module, settings: InferSettings) -> nn.Module:
    """The network :func:`run` predicts with: ``bundle``'s model or :func:`default_model` (built on
    ``body_model``), with bf16 matmuls when ``settings.fast`` on CPU."""
    model = default_model(settings.device, body_model).model if bundle is None else bundle.model
    if settings.fast and settings.device == "cpu":
        from diffmesh.models.fast import to_fast_inference

        model = to_fast_inference(model)
    return model


def model_clip_len(model: nn.Module) -> int:
    """Frames per network call: the DiffMesh head's fixed ``clip_len``, else 16 (the mesh training clip)."""
    return int(getattr(model.head, "clip_len", 16))


# ---------------------------------------------------------------------------------------------
# Stage 1+2: decode and detect


def _prefetch(it: Iterable[T], size: int = 8) -> Iterator[T]:
    """Run an iterator in a background thread (decoding overlaps the consumer on another core).

    At most ``size`` items are in flight: memory stays O(size) frames. Exceptions are re-raised here.
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=size)
    done = object()
    stop = threading.Event()

    def worker() -> None:
        try:
            for item in it:
                if stop.is_set():
                    return
                q.put(item)
            q.put(done)
        except BaseException as err:  # handed to the consumer
            q.put(err)

    th = threading.Thread(target=worker, daemon=True)
    th.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while th.is_alive():  # drain so the worker can see the stop flag
            try:
                q.get(timeout=0.05)
            except queue.Empty:
                pass


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (process-wide), then restore the old count.

    Why: torch's OpenMP workers spin-wait between operations. In the render pass the per-frame
    torch work is small (body model chunks, vertex normals) while the decoder, llvmpipe and x264
    threads need the cores; with 2 spinning OpenMP workers that pass measured 3-4x slower.
    """
    old = torch.get_num_threads()
    if n == old:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def frame_range(info: VideoInfo, start: int, end: int | None) -> tuple[int, int]:
    """Validate ``[start, end)`` against the video and return it (``end`` filled in)."""
    stop = info.num_frames if end is None else min(end, info.num_frames)
    if start < 0 or start >= info.num_frames or stop <= start:
        raise ValueError(
            f"frame range start={start}, end={end} selects no frames of {info.path!r} "
            f"({info.num_frames} frames); use 0 <= start < end <= {info.num_frames}"
        )
    return start, stop


def detect_video(
    info: VideoInfo,
    start: int,
    end: int,
    min_detection_confidence: float = 0.3,
    progress: Progress = _no_progress,
) -> tuple[FrameKeypoints, np.ndarray]:
    """Stages 1–2: decode frames ``[start, end)`` and run BlazePose on each.

    Returns:
        ``(FrameKeypoints, timestamps_s [N])``; ``frame_indices`` are video frame indices.

    Raises:
        ValueError: the video is truncated or corrupt (fewer frames decode than it declares).
    """
    n = end - start
    keypoints = np.zeros((n, 17, 3), dtype=np.float32)
    detected = np.zeros(n, dtype=bool)
    times = np.zeros(n, dtype=np.float64)
    count = 0
    with PoseDetector(min_detection_confidence=min_detection_confidence) as det:
        # one decoder thread (the prefetcher) on the core the single-threaded detector leaves free
        for frame in _prefetch(iter_frames(info.path, start, end, threads=1)):
            i = frame.index - start
            times[i] = frame.time_s
            kp = det.detect(frame.image)
            if kp is not None:
                keypoints[i], detected[i] = kp, True
            count += 1
            if count % 25 == 0 or count == n:
                progress("detect", count, n)
        source = f"{det.name}-{det.version}"
    if count != n:
        raise ValueError(
            f"{info.path!r} is truncated or corrupt: {count} of the {n} frames it declares could be decoded; "
            "re-encode it (ffmpeg -i in.mp4 out.mp4) or pass --end to stop before the damage"
        )
    return FrameKeypoints(keypoints, detected, np.arange(start, end, dtype=np.int64), source), times


# ---------------------------------------------------------------------------------------------
# Stages 4-5: windows and model


@dataclass
class MeshSequence:
    """Per-frame body parameters (rows = processed frames; zeros where ``has_person`` is False).

    Attributes:
        rotmats: ``[N, 24, 3, 3]`` local joint rotations (0 = global orientation, camera-oriented).
        betas: ``[N, 10]``.
    """

    rotmats: np.ndarray
    betas: np.ndarray


def predict_mesh(
    model: nn.Module,
    trk: Track,
    flip: bool = False,
    stride: int | None = None,
    batch_windows: int = 8,
    progress: Progress = _no_progress,
) -> MeshSequence:
    """Stages 4–5: normalise each segment, run overlapping windows through the model, blend.

    Each segment is normalised as a whole (the official whole-video ``crop_scale``) and cut into
    ``clip_len`` windows with ``stride``; segments shorter than a clip are padded by repeating their
    last frame (official). Windows are batched ``batch_windows`` at a time.
    """
    clip_len = model_clip_len(model)
    stride = stride or max(1, clip_len // 2)
    device = next(model.parameters()).device
    n = len(trk.has_person)
    rot_all = np.zeros((n, 24, 3, 3), dtype=np.float32)
    rot_all[:] = np.eye(3, dtype=np.float32)
    betas_all = np.zeros((n, 10), dtype=np.float32)
    total = sum(len(s) for s in trk.segments)
    done = 0
    for seg in trk.segments:
        x_seg = torch.from_numpy(crop_scale(trk.keypoints[seg.start : seg.end]))  # [L, 17, 3]
        windows = plan_windows(len(seg), clip_len, stride)
        blender = WindowBlender(len(seg))
        for b0 in range(0, len(windows), batch_windows):
            batch = windows[b0 : b0 + batch_windows]
            clips = []
            for w in batch:
                clip = x_seg[w.start : w.start + w.length]
                if w.length < clip_len:  # pad by repeating the last frame (official DiffMesh demo)
                    clip = torch.cat([clip, clip[-1:].expand(clip_len - w.length, -1, -1)])
                clips.append(clip)
            x = torch.stack(clips).to(device)  # [B, clip_len, 17, 3]
            with torch.inference_mode():
                out = model(x)
                rot, betas = out.rotmats.float().cpu(), out.betas.float().cpu()
                if flip:
                    out_f = model(flip_data(x))
                    rot = 0.5 * (rot + flip_smpl_rotmats(out_f.rotmats.float().cpu()))  # projected by the blender
                    betas = 0.5 * (betas + out_f.betas.float().cpu())
            for k, w in enumerate(batch):
                blender.add(w, rot[k, : w.length], betas[k, : w.length], torch.zeros(w.length, 17, 3))
        rot_seg, betas_seg, _ = blender.result()
        rot_all[seg.start : seg.end] = rot_seg.numpy()
        betas_all[seg.start : seg.end] = betas_seg.numpy()
        done += len(seg)
        progress("model", done, total)
    return MeshSequence(rot_all, betas_all)


def body_sequence(
    body_model: nn.Module, rotmats: np.ndarray, betas: np.ndarray, chunk: int = 64, vertices: bool = False
) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor | None]]:
    """Run the body model over a sequence in chunks: yields ``(rows, joints_h36m [C, 17, 3] m,
    vertices [C, V, 3] m or None)`` with no translation. Memory is O(chunk) meshes."""
    n = len(rotmats)
    for a in range(0, n, chunk):
        sl = slice(a, min(n, a + chunk))
        r = torch.from_numpy(np.ascontiguousarray(rotmats[sl]))
        with torch.inference_mode():
            out = body_model(betas=torch.from_numpy(np.ascontiguousarray(betas[sl])), body_pose=r[:, 1:], global_orient=r[:, :1])
        yield sl, out.joints_h36m, (out.vertices if vertices else None)


def h36m_joints(body_model: nn.Module, mesh: MeshSequence) -> np.ndarray:
    """``[N, 17, 3]`` H36M joints (metres, root-relative body, no translation)."""
    out = np.zeros((len(mesh.rotmats), 17, 3), dtype=np.float32)
    for sl, joints, _ in body_sequence(body_model, mesh.rotmats, mesh.betas):
        out[sl] = joints.numpy()
    return out


# ---------------------------------------------------------------------------------------------
# Stage 7: outputs


def write_result_npz(path: Path, arrays: dict[str, Any]) -> None:
    """Write ``result.npz`` (schema in docs/inference.md)."""
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


def render_overlay(
    info: VideoInfo,
    start: int,
    end: int,
    body_model: nn.Module,
    mesh: MeshSequence,
    transl: np.ndarray,
    has_person: np.ndarray,
    K: np.ndarray,
    path: Path,
    side_view: bool = False,
    backend: str = "auto",
    progress: Progress = _no_progress,
) -> None:
    """Decode the frames again, draw the placed mesh over each and encode ``overlay.mp4``.

    Decoding, posing the body model, drawing and encoding run in four threads with small queues
    between them, so the work overlaps across the cores and only a few frames (and two 16-frame
    chunks of meshes) are in memory. Torch runs single-threaded in this pass (:func:`torch_threads`),
    FFmpeg decodes in its caller's thread and x264 uses :data:`X264_THREADS` thread(s): on a
    2-core machine more threads only contend (measured 3-4x slower with 2 torch threads).
    """
    from diffmesh.render import Renderer, render_side_view

    faces = body_model.faces.cpu().numpy()
    n = end - start
    show = has_person & np.isfinite(transl).all(1)
    transl = np.nan_to_num(transl)
    width_out = info.width * (2 if side_view else 1)
    q_out: queue.Queue[Any] = queue.Queue(maxsize=8)
    enc_error: list[BaseException] = []

    def encode() -> None:
        try:
            with VideoWriter(path, info.fps_fraction, width_out, info.height, threads=X264_THREADS) as w:
                while (img := q_out.get()) is not None:
                    w.write(img)
        except BaseException as err:  # reported by the caller
            enc_error.append(err)
            while q_out.get() is not None:  # keep draining so the producer never blocks
                pass

    th = threading.Thread(target=encode, daemon=True)
    th.start()
    blank = None
    with torch_threads(1):  # see torch_threads: spinning OpenMP workers starve the other threads
        try:
            # posed meshes come from their own thread (2 chunks in flight): the body model overlaps drawing
            meshes = _prefetch(body_sequence(body_model, mesh.rotmats, mesh.betas, chunk=16, vertices=True), size=2)
            chunk_sl, chunk_verts = slice(0, 0), None
            with Renderer(info.width, info.height, backend=backend) as r:  # type: ignore[arg-type]
                for frame in _prefetch(iter_frames(info.path, start, end, threads=1)):
                    i = frame.index - start
                    if i >= chunk_sl.stop:
                        chunk_sl, _, chunk_verts = next(meshes)
                    img = frame.image
                    if show[i]:
                        verts = chunk_verts[i - chunk_sl.start].numpy() + transl[i]  # type: ignore[index]
                        img = r.render(verts, faces, K, background=img, alpha=0.8).image
                        if side_view:
                            img = np.concatenate([img, render_side_view(r, verts, faces, K).image], axis=1)
                    elif side_view:
                        blank = np.full_like(img, 255) if blank is None else blank
                        img = np.concatenate([img, blank], axis=1)
                    q_out.put(img)
                    if (i + 1) % 25 == 0 or i + 1 == n:
                        progress("render", i + 1, n)
        finally:
            q_out.put(None)
            th.join()
    if enc_error:
        raise enc_error[0]


def write_animation_exports(
    out_dir: Path,
    body_model: nn.Module,
    mesh: MeshSequence,
    transl: np.ndarray,
    has_person: np.ndarray,
    frame_indices: np.ndarray,
    fps: float,
    obj: bool,
) -> list[str]:
    """``animation.glb`` and ``motion.bvh`` (and per-frame OBJ in ``obj/``) via :mod:`diffmesh.io`'s exporters.

    Frames without a person hold the last valid pose (the exporters' ``valid`` rule). Returns the
    names written; skipped with a WARNING when this install has no exporters.
    """
    try:
        from diffmesh.io.bvh import write_bvh
        from diffmesh.io.gltf import write_gltf_animation
        from diffmesh.io.obj import write_obj_sequence
    except ImportError as err:
        logger.warning("animation exports (glTF/BVH/OBJ) are not available (%s); skipping them", err)
        return []
    valid = has_person & np.isfinite(transl).all(1)
    if not valid.any():
        return []
    kw = dict(rotmats=mesh.rotmats, transl=np.nan_to_num(transl).astype(np.float32), betas=mesh.betas,
              valid=valid, frame_indices=frame_indices)  # fmt: skip
    write_gltf_animation(out_dir / "animation.glb", body_model, fps=fps, **kw)
    write_bvh(out_dir / "motion.bvh", body_model, fps=fps, **kw)
    written = ["animation.glb", "motion.bvh"]
    if obj:
        write_obj_sequence(out_dir / "obj", body_model, **kw)
        written.append("obj/")
    return written


# ---------------------------------------------------------------------------------------------
# The recipe


@dataclass
class RunSummary:
    """What :func:`run` did (also written to ``summary.json``)."""

    video: str
    output_dir: str
    frames_processed: int
    frames_with_person: int
    frames_detected: int
    frames_without_person: int
    segments: list[tuple[int, int]]
    fps: float
    width: int
    height: int
    weights: str
    trained: bool
    body_model: str
    keypoint_source: str
    stage_seconds: dict[str, float]
    cached_stages: list[str]
    outputs: list[str]
    mean_reprojection_px: float
    settings: dict[str, Any]
    versions: dict[str, str] = field(default_factory=dict)


def _versions() -> dict[str, str]:
    import diffmesh

    v = {"diffmesh": diffmesh.__version__, "torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()}
    for mod in ("av", "mediapipe", "moderngl"):
        try:
            v[mod] = __import__(mod).__version__
        except Exception:  # optional packages
            pass
    return v


def _check_writable(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ValueError(
            f"output folder {str(out_dir)!r} is not writable ({err.strerror or err}); pass -o with a folder you can write to"
        ) from err


def run(
    video: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    settings: InferSettings = InferSettings(),
    bundle: ModelBundle | None = None,
    *,
    side_view: bool = False,
    overlay: bool = True,
    animation: bool = True,
    obj: bool = False,
    render_backend: str = "auto",
    use_cache: bool = True,
    progress: Progress = _no_progress,
) -> RunSummary:
    """Run the whole pipeline on one video and write the outputs into ``out_dir``.

    Outputs (schema in docs/inference.md): ``result.npz``, ``overlay.mp4`` (``overlay``),
    ``animation.glb`` + ``motion.bvh`` (``animation``), ``obj/`` (``obj``), ``summary.json`` —
    written last: a folder with ``summary.json`` holds a complete run. Outputs are written under
    temporary names and renamed when all succeeded; a failed run leaves no output that looks complete.
    Stage results are cached in ``out_dir/.cache``; render options are not part of any key.

    Raises:
        FileNotFoundError / ValueError: bad input (missing/corrupt video, zero frames, no person,
        mismatched keypoint file or checkpoint, unwritable output folder).
    """
    out = Path(out_dir)
    timings: dict[str, float] = {}
    cached: list[str] = []
    t_all = time.perf_counter()

    t0 = time.perf_counter()
    info = probe_video(video)  # FileNotFoundError / ValueError before anything is written
    start, end = frame_range(info, settings.start, settings.end)
    _check_writable(out)
    (out / "summary.json").unlink(missing_ok=True)  # the completion marker of an older run
    cache = StageCache(out / ".cache", enabled=use_cache)
    video_hash = file_digest(info.path)
    timings["probe"] = time.perf_counter() - t0

    # Stages 1-2: keypoints (the expensive pass over the pixels) ----------------------------
    t0 = time.perf_counter()
    kp_source = settings.keypoints_file
    kp_key = stage_key(
        "keypoints",
        video=video_hash,
        start=start,
        end=end,
        source=file_digest(kp_source) if kp_source else "mediapipe",
        track_id=settings.track_id,
        conf=settings.min_detection_confidence,
    )
    # The mesh key needs only the keypoint key and the model identity, so a cached mesh is found
    # before anything is built (the network is built only on a miss). When both the detector and
    # the network are needed, the detector runs in a worker thread while this thread builds the
    # network (and converts it to bf16): the two overlap on the 2 cores (the detector uses no torch).
    if bundle is None:
        from diffmesh import body as body_lib

        body_model = body_lib.load("open")
        weights, trained, identity = _default_weights_label(), True, _default_identity(body_model)
    else:
        body_model = bundle.model.body_model
        weights, trained, identity = bundle.weights, bundle.trained, bundle.identity
    mesh_key = stage_key(
        "mesh",
        keypoints=kp_key,
        model=identity,
        **{k: v for k, v in asdict(settings).items() if k not in ("start", "end", "keypoints_file", "track_id", "device", "batch_windows")},
    )
    mesh_hit = cache.load("mesh", mesh_key)
    model: nn.Module | None = None
    hit = cache.load("keypoints", kp_key)
    if hit is not None:
        kps = FrameKeypoints(hit["keypoints"], hit["detected"], hit["frame_indices"], str(hit["source"]))
        times = hit["timestamps"]
        cached.append("keypoints")
    else:
        if kp_source:
            fk, cands = read_alphapose_json(kp_source, info.num_frames, info.width, info.height, settings.track_id)
            kp_sel, det_sel = follow_person(cands[start:end])
            kps = FrameKeypoints(kp_sel, det_sel, np.arange(start, end, dtype=np.int64), fk.source)
            times = np.arange(start, end) / info.fps
        else:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="diffmesh-detect") as pool:
                detection = pool.submit(detect_video, info, start, end, settings.min_detection_confidence, progress)
                try:
                    if mesh_hit is None:
                        model = _prepare_model(bundle, body_model, settings)
                finally:
                    kps, times = detection.result()  # re-raises the detector's error here
        cache.save(
            "keypoints",
            kp_key,
            {"keypoints": kps.keypoints, "detected": kps.detected, "frame_indices": kps.frame_indices,
             "source": np.array(kps.source), "timestamps": times},
        )  # fmt: skip
    timings["keypoints"] = time.perf_counter() - t0

    # Stage 3: tracking ---------------------------------------------------------------------
    t0 = time.perf_counter()
    trk = track(kps.keypoints, kps.detected, max_gap=settings.max_gap)
    timings["track"] = time.perf_counter() - t0

    # Stages 4-6: model and placement --------------------------------------------------------
    t0 = time.perf_counter()
    if bundle is None:
        logger.info("default weights: %s; trained on synthetic motion only, for research-grade accuracy "
                    "pass an official checkpoint (--checkpoint/--config)", weights)
    if not trained:
        logger.warning(
            "UNTRAINED MODEL: %s. The meshes follow the detected person's position but not their pose; "
            "pass --checkpoint/--config for real results",
            weights,
        )
    # what result.npz records as the model class; the default model is a MeshRegressor
    model_name = type(bundle.model).__name__ if bundle is not None else "MeshRegressor"
    K = default_intrinsics(info.width, info.height, settings.fov_y_deg, settings.focal_px)
    hit = mesh_hit
    if hit is not None:
        mesh = MeshSequence(hit["rotmats"], hit["betas"])
        joints_m, transl, transl_raw, reproj = hit["joints"], hit["transl"], hit["transl_raw"], hit["reproj"]
        cached.append("mesh")
    else:
        if model is None:  # keypoints came from the cache or a file: nothing to overlap with
            model = _prepare_model(bundle, body_model, settings)
        model_name = type(model).__name__
        mesh = predict_mesh(model, trk, settings.flip, settings.stride, settings.batch_windows, progress)
        joints_m = h36m_joints(body_model, mesh)
        transl_raw, transl, reproj = place_sequence(joints_m, trk.keypoints, trk.has_person, trk.segments, K, settings.smooth_sigma)
        cache.save(
            "mesh",
            mesh_key,
            {"rotmats": mesh.rotmats, "betas": mesh.betas, "joints": joints_m, "transl": transl,
             "transl_raw": transl_raw, "reproj": reproj},
        )  # fmt: skip
    timings["model+placement"] = time.perf_counter() - t0

    # Stage 7: outputs (temporary names, renamed at the end) --------------------------------
    t0 = time.perf_counter()
    tmp = out / f".partial-{os.getpid()}"
    tmp.mkdir(exist_ok=True)
    outputs: list[str] = []
    try:
        has = trk.has_person & np.isfinite(transl).all(1)
        joints_cam = np.where(has[:, None, None], joints_m + np.nan_to_num(transl)[:, None, :], np.nan).astype(np.float32)
        rot_t = torch.from_numpy(mesh.rotmats)
        pose_aa = rotmat_to_axis_angle(rot_t).numpy().astype(np.float32)  # [N, 24, 3]
        arrays: dict[str, Any] = {
            "schema_version": np.int64(RESULT_SCHEMA_VERSION),
            "frame_indices": kps.frame_indices,
            "timestamps_s": np.asarray(times, dtype=np.float64),
            "fps": np.float64(info.fps),
            "image_size": np.array([info.width, info.height], dtype=np.int64),
            "has_person": has,
            "detected": trk.detected,
            "pose_axis_angle": pose_aa,
            "pose_rotmat": mesh.rotmats,
            "global_orient": pose_aa[:, 0],
            "betas": mesh.betas,
            "transl": np.where(has[:, None], transl, np.nan).astype(np.float32),
            "camera_K": K.astype(np.float64),
            "keypoints_2d": trk.keypoints,
            "keypoints_2d_names": np.array(H36M_JOINTS),
            "joints_3d_cam": joints_cam,
            "joint_names": np.array(H36M_JOINTS),
            "smpl_joint_names": np.array(SMPL_JOINTS),
            "body_model": np.array(getattr(body_model, "name", "unknown")),
            "weights": np.array(weights),
            "trained": np.bool_(trained),
            "keypoint_source": np.array(kps.source),
        }
        try:  # the shared, documented schema (docs/outputs.md) when this install has it
            from diffmesh.io.result import write_result_npz as write_shared_result
        except ImportError:
            write_result_npz(tmp / "result.npz", arrays)
        else:
            write_shared_result(
                tmp / "result.npz", rotmats=mesh.rotmats, transl=arrays["transl"], betas=mesh.betas, K=K,
                keypoints_2d=trk.keypoints, joints_3d_cam=joints_cam, fps=info.fps, frame_indices=kps.frame_indices,
                valid=has, model=model_name, weights=weights,
                body_model=str(getattr(body_model, "name", "unknown")), image_size=(info.width, info.height),
            )  # fmt: skip
        outputs.append("result.npz")
        timings["write_result"] = time.perf_counter() - t0
        if overlay:
            t1 = time.perf_counter()
            render_overlay(info, start, end, body_model, mesh, transl, has, K, tmp / "overlay.mp4", side_view, render_backend, progress)
            outputs.append("overlay.mp4")
            timings["render"] = time.perf_counter() - t1
        if animation:
            t1 = time.perf_counter()
            outputs += write_animation_exports(tmp, body_model, mesh, transl, has, kps.frame_indices, info.fps, obj and animation)
            timings["exports"] = time.perf_counter() - t1
        for name in outputs:
            dest = out / name.rstrip("/")
            if dest.is_dir():
                import shutil

                shutil.rmtree(dest)
            os.replace(tmp / name.rstrip("/"), dest)
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    timings["total"] = time.perf_counter() - t_all
    valid = np.isfinite(reproj) & trk.has_person
    summary = RunSummary(
        video=str(info.path),
        output_dir=str(out),
        frames_processed=end - start,
        frames_with_person=int(has.sum()),
        frames_detected=int(trk.detected.sum()),
        frames_without_person=int((~has).sum()),
        segments=[(s.start + start, s.end + start) for s in trk.segments],
        fps=info.fps,
        width=info.width,
        height=info.height,
        weights=weights,
        trained=trained,
        body_model=str(getattr(body_model, "name", "unknown")),
        keypoint_source=kps.source,
        stage_seconds={k: round(v, 4) for k, v in timings.items()},
        cached_stages=cached,
        outputs=outputs + ["summary.json"],
        mean_reprojection_px=float(np.mean(reproj[valid])) if valid.any() else float("nan"),
        settings=asdict(settings),
        versions=_versions(),
    )
    tmp_summary = out / ".summary.json.tmp"
    tmp_summary.write_text(json.dumps(asdict(summary), indent=2, default=str))
    os.replace(tmp_summary, out / "summary.json")
    return summary


__all__ += ["frame_range", "h36m_joints", "model_clip_len", "render_overlay", "write_animation_exports", "Segment", "project"]
