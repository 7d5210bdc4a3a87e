"""The video → mesh recipe: probe → 2-D keypoints → track → windows + model → placement → outputs.

:func:`run` is the table of contents; each stage is a function of its own module, usable from
Python on arrays (docs/inference.md lists them):

==============  ===================================================================
stage           module
==============  ===================================================================
settings        :mod:`~diffmesh.pipelines.settings` (:class:`InferSettings`)
model           :mod:`~diffmesh.pipelines.model` (which model and weights: :func:`load_model`)
keypoints       :mod:`~diffmesh.pipelines.keypoints` (detector or AlphaPose file)
tracking        :mod:`~diffmesh.pipelines.tracking`
windows + model :mod:`~diffmesh.pipelines.windows`, :mod:`~diffmesh.pipelines.prediction`
placement       :mod:`~diffmesh.pipelines.placement`
world           :mod:`~diffmesh.pipelines.world` (camera rotation, floor, world frame, foot contacts)
overlay         :mod:`~diffmesh.pipelines.overlay`
outputs         :mod:`~diffmesh.pipelines.outputs` (result.npz, exports, summary.json)
==============  ===================================================================

Stage results are cached in the output folder, keyed by content and settings
(:mod:`diffmesh.pipelines.cache`). Memory: images are streamed (a few frames in flight per
queue); what is kept for the whole video is per-frame *parameters* (about 2 KB a frame).
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
from torch import nn

from diffmesh.accel import make_plan
from diffmesh.geometry.camera import default_intrinsics
from diffmesh.io.video import VideoInfo, probe_video
from diffmesh.files import sha256_file
from diffmesh.pipelines.blazepose_models import DEFAULT_DETECTOR_MODEL
from diffmesh.pipelines.cache import StageCache, stage_key
from diffmesh.pipelines.infer_people import PeopleRun, run_people
from diffmesh.pipelines.keypoints import FrameKeypoints, find_keypoints
from diffmesh.pipelines.model import ModelBundle, default_model, prepare_model
from diffmesh.pipelines.outputs import (
    OutputOptions,
    RunSummary,
    VideoResult,
    prepare_output_folder,
    summarize,
    write_outputs,
    write_summary,
)
from diffmesh.pipelines.placement import PlacedMesh
from diffmesh.pipelines.quality import warn_if_unsure
from diffmesh.pipelines.settings import InferSettings, Progress, StageClock, no_progress
from diffmesh.pipelines.speculation import WindowSpeculator
from diffmesh.pipelines.stages import (
    camera_intrinsics,
    camera_rotations,
    camera_travel,
    cached_stage,
    person_boxes,
    predict_and_place,
    scene_axes,
    warn_if_untrained,
)
from diffmesh.pipelines.threads import default_threads, torch_threads
from diffmesh.pipelines.tracking import Track, track
from diffmesh.pipelines.world import STAGE_VERSION as WORLD_VERSION, WorldMotion, world_from_placed

logger = logging.getLogger(__name__)

__all__ = ["frame_range", "run"]


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
    export_frame: str = "world",
    render_backend: str = "auto",
    use_cache: bool = True,
    progress: Progress = no_progress,
) -> RunSummary:
    """Run the whole pipeline on one video and write the outputs into ``out_dir``.

    Args:
        bundle: which model and weights (:func:`~diffmesh.pipelines.model.load_model`); ``None``:
            the packaged default model. Its model is never changed (fast mode runs a copy).

    ``settings.several_people`` (the default): every person (:func:`diffmesh.pipelines.infer_people.run_people`).

    Outputs (docs/inference.md): ``result.npz``, ``overlay.mp4`` (``overlay``), ``animation.glb`` +
    ``motion.bvh`` (``animation``), ``obj/`` (``obj``), ``summary.json`` — written last, after the
    others are renamed into place. Stage results are cached in ``out_dir/.cache``; render and
    export options are not part of any key.

    Raises:
        FileNotFoundError / ValueError: bad input (missing/corrupt video, zero frames, no person,
        mismatched keypoint file or checkpoint, unwritable output folder).
    """
    clock, cached = StageClock(), []
    with clock("probe"):
        info = probe_video(video)  # FileNotFoundError / ValueError before anything is written
        start, end = frame_range(info, settings.start, settings.end)
        out = prepare_output_folder(out_dir)
        cache = StageCache(out / ".cache", enabled=use_cache)
        keypoints_key = _keypoints_key(info, start, end, settings)
    if bundle is None:
        bundle = default_model(settings.device, detector_3d=settings.keypoints_file is None)
        logger.info("default weights: %s; trained on generated data only (synthetic motion, rendered clips), for research-grade accuracy "
                    "pass an official checkpoint (--checkpoint/--config)", bundle.weights)  # fmt: skip
    # fast mode's number format depends on the CPU (bf16 only where native): part of the key
    number_format = make_plan(settings.accel_mode, settings.device).dtype
    options = OutputOptions(overlay, side_view, render_backend, animation, obj, export_frame)
    if settings.several_people:
        ctx = PeopleRun(info, start, end, out, cache, keypoints_key, number_format, clock, cached, _measures_camera(settings))
        return run_people(ctx, settings, bundle, options, progress)
    mesh_key = stage_key("mesh", keypoints=keypoints_key, model=bundle.identity, number_format=number_format,
                         model_blend=bundle.detector_blend, **settings.model_stage_parts())  # fmt: skip
    with torch_threads(settings.threads or default_threads()), ThreadPoolExecutor(1, "diffmesh-model") as pool:
        mesh_hit = cache.load("mesh", mesh_key)
        # On a miss the network is built (and accelerated) on another thread while the keypoints are found.
        model = pool.submit(prepare_model, bundle, settings) if mesh_hit is None else None
        K = default_intrinsics(info.width, info.height, settings.fov_y_deg, settings.focal_px)
        # and, with one crop box per window, the network runs windows as soon as their keypoints are final
        ahead = _speculator(model, end - start, pool, bundle, settings)
        with clock("keypoints"):  # the camera's rotation is measured in the same pass (one decode)
            camera_K = K if _measures_camera(settings) else None
            kps = cached_stage(cache, "keypoints", keypoints_key, cached, FrameKeypoints.from_arrays,
                          lambda: find_keypoints(info, start, end, settings, progress, camera_K, ahead))  # fmt: skip
        K, focal_source = camera_intrinsics(info, settings, kps.camera)
        with clock("track"):
            trk = track(kps.keypoints, kps.detected, max_gap=settings.max_gap, world=kps.world)
        with clock("model+placement"):
            warn_if_untrained(bundle)
            try:
                placed = cached_stage(cache, "mesh", mesh_key, cached, PlacedMesh.from_arrays,
                                 lambda: predict_and_place(model, bundle, trk, K, settings, progress, ahead), hit=mesh_hit)  # fmt: skip
            finally:
                if ahead is not None:
                    ahead.close()
        world = None
        if settings.world:
            with clock("world"):
                world_key = stage_key("world", mesh=mesh_key, version=WORLD_VERSION, **settings.world_stage_parts())
                world = cached_stage(cache, "world", world_key, cached, WorldMotion.from_arrays,
                                lambda: _world(info, start, end, bundle, kps, trk, placed, K, scene_axes(kps.camera, K, focal_source),
                                               settings, progress))  # fmt: skip
        result = VideoResult(info, start, end, bundle, kps, trk, placed, K, world)
        outputs = write_outputs(out, result, options, clock, progress)
    summary = summarize(out, result, settings, clock, cached, outputs)
    summary.camera = {"focal_px": round(float(K[0, 0]), 1), "focal_source": focal_source}
    warn_if_unsure(summary.quality, summary.frames_with_person)
    write_summary(out, summary)
    return summary


def frame_range(info: VideoInfo, start: int, end: int | None) -> tuple[int, int]:
    """Validate ``[start, end)`` against the video and return it (``end`` filled in)."""
    stop = info.num_frames if end is None else min(end, info.num_frames)
    if start < 0 or start >= info.num_frames or stop <= start:
        raise ValueError(
            f"frame range start={start}, end={end} selects no frames of {info.path!r} "
            f"({info.num_frames} frames); use 0 <= start < end <= {info.num_frames}"
        )
    return start, stop


def _keypoints_key(info: VideoInfo, start: int, end: int, settings: InferSettings) -> str:
    """Cache key of the keypoint stage: the video's bytes, the frame range, the keypoint source."""
    source = sha256_file(settings.keypoints_file) if settings.keypoints_file else "mediapipe"
    people = {"max_people": settings.max_people or "all"} if settings.several_people else {}  # one person: the key as before
    camera = {"camera": [settings.fov_y_deg, settings.focal_px, "focal-v5"]} if _measures_camera(settings) else {}
    detector = {"detector_model": settings.detector_model} if settings.detector_model != DEFAULT_DETECTOR_MODEL else {}  # full: the key as before
    return stage_key("keypoints", video=sha256_file(info.path), start=start, end=end, source=source,
                     track_id=settings.track_id, conf=settings.min_detection_confidence, world=True, **people, **camera, **detector)  # fmt: skip


def _speculator(model: Future[nn.Module] | None, n: int, pool: ThreadPoolExecutor, bundle: ModelBundle,
                settings: InferSettings) -> WindowSpeculator | None:  # fmt: skip
    """A :class:`~diffmesh.pipelines.speculation.WindowSpeculator` when the network runs (no cached
    meshes), the detector runs (no keypoint file) and each window has its own crop box."""
    if model is None or settings.keypoints_file or (settings.normalization or bundle.normalization) != "window":
        return None
    return WindowSpeculator(model, n, pool, settings.flip, settings.stride, settings.batch_windows, settings.max_gap)


def _measures_camera(settings: InferSettings) -> bool:
    """Whether the keypoint pass measures the camera's rotation: whenever the detector runs. On a
    worker thread beside the detector it costs little, and the keypoints' cache key then does not
    depend on ``static_camera`` or ``world`` (which only decide whether it is used)."""
    return not settings.keypoints_file


def _world(
    info: VideoInfo, start: int, end: int, bundle: ModelBundle, kps: FrameKeypoints, trk: Track, placed: PlacedMesh,
    K: np.ndarray, scene: np.ndarray | None, settings: InferSettings, progress: Progress,
) -> WorldMotion:  # fmt: skip
    """The camera's rotation (unless ``static_camera``: :func:`~diffmesh.pipelines.stages.camera_rotations`),
    then the world frame of the placed bodies (``scene``: the directions of the background's lines,
    :func:`~diffmesh.pipelines.stages.scene_axes`)."""
    valid = trk.has_person & np.isfinite(placed.transl).all(1)
    rotations = travel = None
    if not settings.static_camera:
        boxes = person_boxes(trk.keypoints, trk.has_person)
        motion = camera_rotations(info, start, end, kps.camera, K, boxes, progress)
        rotations = None if motion.static else motion.rotations
        travel = camera_travel(info, start, end, K, boxes, motion, progress) if settings.camera_travel else None
    return world_from_placed(bundle.body_model, placed, valid, info.fps, rotations, settings.foot_cleanup,
                             scene, travel)  # fmt: skip
