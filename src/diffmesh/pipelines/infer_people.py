"""The several-people recipe of ``diffmesh infer`` (the default; ``--max-people N`` caps it, 1 is the one-person recipe).

The same stages as the one-person recipe (:mod:`diffmesh.pipelines.infer`), run per person:

==============  ===================================================================
stage           what happens
==============  ===================================================================
keypoints       :func:`~diffmesh.pipelines.people.detect_people_video`: everyone's keypoints with
                stable track ids (cached as one stage); people detected in fewer than
                :data:`MIN_PERSON_FRAMES` frames (half a shorter video's) are dropped, ``settings.person`` keeps one id
track           :func:`~diffmesh.pipelines.tracking.track` per person
model+placement windows → network → placement per person, cached per track id (``mesh.p<id>``); each
                segment's last, short batch of windows runs packed with the other people's
                (:class:`~diffmesh.pipelines.prediction.PackedBatches`)
world           the camera's rotation measured once with everyone's box masked, the floor fitted
                on everyone's planted soles together, every person in that one world frame
                (:func:`~diffmesh.pipelines.world.people_in_world`)
outputs         ``OUT/result.npz``, ``motion.bvh``: the first person (rows in order of first
                appearance: the track seen first); ``OUT/people/<id>/``: every person;
                ``overlay.mp4`` and ``animation.glb``: everyone, one colour per id. Only one
                person found: the one-person files (``result.npz`` with their ``track_id``)
==============  ===================================================================
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from diffmesh.geometry.camera import default_intrinsics
from diffmesh.geometry.camera_motion import CameraMotion
from diffmesh.io.video import VideoInfo
from diffmesh.pipelines.cache import StageCache, stage_key
from diffmesh.pipelines.memory import release_freed_memory
from diffmesh.pipelines.model import ModelBundle, prepare_model
from diffmesh.pipelines.outputs import OutputOptions, RunSummary, VideoResult, summarize, write_outputs, write_summary
from diffmesh.pipelines.people import detect_people_video
from diffmesh.pipelines.people_keypoints import PeopleKeypoints
from diffmesh.pipelines.placement import PlacedMesh
from diffmesh.pipelines.prediction import FirstOf, PackedBatches
from diffmesh.pipelines.quality import warn_if_unsure
from diffmesh.pipelines.speculation import PeopleSpeculator, WindowSpeculator
from diffmesh.pipelines.settings import InferSettings, Progress, StageClock
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
from diffmesh.pipelines.tracking import Track, nobody_found, track
from diffmesh.pipelines.world import STAGE_VERSION as WORLD_VERSION, WorldMotion, people_in_world

logger = logging.getLogger(__name__)

__all__ = ["MIN_PERSON_FRAMES", "PeopleRun", "run_people"]

#: People detected in fewer frames than this are dropped (a passer-by, a false detection): too
#: short for the network's windows to say much. In a shorter video (a photo: one frame), half its frames.
MIN_PERSON_FRAMES = 8


@dataclass
class PeopleRun:
    """Where a several-people run reads and writes (prepared by :func:`diffmesh.pipelines.infer.run`)."""

    info: VideoInfo
    start: int
    end: int
    out: Path
    cache: StageCache
    keypoints_key: str
    number_format: str
    clock: StageClock
    cached: list[str]
    measure_camera: bool = True  # the keypoint pass measures the camera's rotation (and focal length)


def run_people(
    ctx: PeopleRun, settings: InferSettings, bundle: ModelBundle, options: OutputOptions, progress: Progress
) -> RunSummary:
    """Every person's meshes in one world frame, written as documented in docs/outputs.md ("Several people")."""
    info, clock, cached = ctx.info, ctx.clock, ctx.cached
    mesh_parts = dict(keypoints=ctx.keypoints_key, model=bundle.identity, number_format=ctx.number_format,
                      model_blend=bundle.detector_blend, **settings.model_stage_parts())  # fmt: skip
    with torch_threads(settings.threads or default_threads()), ThreadPoolExecutor(1, "diffmesh-model") as pool:
        guess = default_intrinsics(info.width, info.height, settings.fov_y_deg, settings.focal_px)
        people_hit = ctx.cache.load("people", ctx.keypoints_key)
        # a fresh keypoint pass: the network is built meanwhile and runs each person's windows as they come
        model = None if people_hit is not None else pool.submit(prepare_model, bundle, settings)
        ahead = None if model is None else _people_speculator(model, ctx.end - ctx.start, pool, bundle, settings)
        with clock("keypoints"):  # the camera's rotation (and focal length) measured in the same pass
            people = cached_stage(ctx.cache, "people", ctx.keypoints_key, cached, PeopleKeypoints.from_arrays,
                                  lambda: detect_people_video(info.path, ctx.start, ctx.end, max_people=settings.max_people,
                                                              min_detection_confidence=settings.min_detection_confidence,
                                                              detector_model=settings.detector_model,
                                                              detector_threads=settings.follower_threads,
                                                              progress=progress, camera_K=guess if ctx.measure_camera else None,
                                                              estimate_focal=settings.measure_focal, listener=ahead),
                                  hit=people_hit)  # fmt: skip
            rows = kept_people(people, settings.person)
        K, focal_source = camera_intrinsics(info, settings, people.camera)
        with clock("track"):
            ids = [int(people.track_ids[p]) for p in rows]
            kps = [people.person(p) for p in rows]
            trks = [track(k.keypoints, k.detected, max_gap=settings.max_gap, world=k.world) for k in kps]
        with clock("model+placement"):
            warn_if_untrained(bundle)
            keys = [stage_key("mesh", track_id=i, **mesh_parts) for i in ids]
            hits = [ctx.cache.load(f"mesh.p{i}", k) for i, k in zip(ids, keys)]
            if model is None and any(h is None for h in hits):
                model = pool.submit(prepare_model, bundle, settings)
            packed = None if model is None else _packed_batches(model.result(), [t for t, h in zip(trks, hits) if h is None],
                                                                bundle, settings)  # fmt: skip
            try:
                placed = [cached_stage(ctx.cache, f"mesh.p{i}", k, cached, PlacedMesh.from_arrays,
                                       lambda t=t, i=i: predict_and_place(model, bundle, t, K, settings, progress,
                                                                          FirstOf(ahead and ahead.get(i), packed)), hit=h)
                          for i, k, t, h in zip(ids, keys, trks, hits)]  # fmt: skip
            finally:
                if ahead is not None:
                    ahead.close()
        worlds: list[WorldMotion | None] = [None] * len(ids)
        if settings.world:
            with clock("world"):
                scene = scene_axes(people.camera, K, focal_source)
                worlds = list(_world_stage(ctx, bundle, people.camera, trks, placed, keys, K, scene, settings, progress))
        results = [VideoResult(info, ctx.start, ctx.end, bundle, k, t, p, K, w) for k, t, p, w in zip(kps, trks, placed, worlds)]
        # one person found: the one-person files (with their track id), no people/ folder
        several = len(ids) > 1
        outputs = write_outputs(ctx.out, results[0], options, clock, progress,
                                people=list(zip(ids, results)) if several else None, track_id=ids[0])  # fmt: skip
    summary = summarize(ctx.out, results[0], settings, clock, cached, outputs)
    summary.people = [_person_summary(i, r, f"people/{i}" if several else ".", several) for i, r in zip(ids, results)]
    summary.frames_without_anyone = int((~np.any([r.valid for r in results], axis=0)).sum())
    summary.camera = {"focal_px": round(float(K[0, 0]), 1), "focal_source": focal_source}
    write_summary(ctx.out, summary)
    return summary


def kept_people(people: PeopleKeypoints, person: int | None = None, min_frames: int = MIN_PERSON_FRAMES) -> list[int]:
    """Rows of ``people`` detected in at least ``min_frames`` frames, or half the frames of a shorter video
    (only the one with track id ``person`` when given), in their order (first appearance first).

    Raises:
        ValueError: nobody is left, or ``person`` is not among the people found.
    """
    counts = people.detected.sum(1)
    min_frames = min(min_frames, max(1, people.detected.shape[1] // 2))  # a photo is one frame
    if not counts.any():
        raise nobody_found(people.detected.shape[1])
    rows = [p for p in range(len(people)) if counts[p] >= min_frames]
    found = ", ".join(f"id {int(people.track_ids[p])} ({int(counts[p])} frames)" for p in range(len(people))) or "nobody"
    if person is not None:
        rows = [p for p in rows if int(people.track_ids[p]) == person]
        if not rows:
            raise ValueError(f"person {person} is not among the people found in at least {min_frames} frames ({found}); "
                             "pass one of their ids or leave --person out")  # fmt: skip
    if not rows:
        raise ValueError(f"no person was detected in at least {min_frames} frames (found: {found}); check that the "
                         "people are fully visible and at least ~64 pixels tall")  # fmt: skip
    return rows


def _people_speculator(model: Future[nn.Module], n: int, pool: ThreadPoolExecutor, bundle: ModelBundle,
                       settings: InferSettings) -> PeopleSpeculator | None:  # fmt: skip
    """Each person's windows run while the detector works, as in the one-person recipe (one crop box per
    window only: :mod:`~diffmesh.pipelines.speculation`)."""
    if (settings.normalization or bundle.normalization) != "window":
        return None
    return PeopleSpeculator(lambda: WindowSpeculator(model, n, pool, settings.flip, settings.stride, settings.batch_windows,
                                                     settings.max_gap))  # fmt: skip


def _packed_batches(model: nn.Module, trks: list[Track], bundle: ModelBundle, settings: InferSettings) -> PackedBatches:
    """Everyone's short batches of windows run together (the model stage batches across people)."""
    packed = PackedBatches(model, trks, settings.flip, settings.stride, settings.batch_windows,
                           settings.normalization or bundle.normalization)  # fmt: skip
    logger.debug("model: %d people's short batches run in %d calls", len(trks), packed.calls)
    return packed


def _world_stage(
    ctx: PeopleRun, bundle: ModelBundle, camera: CameraMotion | None, trks: list[Track], placed: list[PlacedMesh],
    mesh_keys: list[str], K: np.ndarray, scene: np.ndarray | None, settings: InferSettings, progress: Progress,
) -> list[WorldMotion]:  # fmt: skip
    """Everyone in one world frame, cached as one stage (every person's arrays under ``p<row>.``;
    ``scene``: the directions of the background's lines, :func:`~diffmesh.pipelines.stages.scene_axes`)."""
    key = stage_key("world", meshes=mesh_keys, version=WORLD_VERSION, **settings.world_stage_parts())
    hit = ctx.cache.load("world.people", key)
    if hit is not None:
        ctx.cached.append("world")
        return [WorldMotion.from_arrays({k.split(".", 1)[1]: v for k, v in hit.items() if k.startswith(f"p{p}.")})
                for p in range(len(trks))]  # fmt: skip
    valid = [t.has_person & np.isfinite(p.transl).all(1) for t, p in zip(trks, placed)]
    rotations = travel = None
    if not settings.static_camera:
        boxes = np.stack([person_boxes(t.keypoints, t.has_person) for t in trks], 1)  # [N, P, 4]: everyone masked
        motion = camera_rotations(ctx.info, ctx.start, ctx.end, camera, K, boxes, progress)
        rotations = None if motion.static else motion.rotations
        travel = camera_travel(ctx.info, ctx.start, ctx.end, K, boxes, motion, progress) if settings.camera_travel else None
    worlds = people_in_world(bundle.body_model, placed, valid, ctx.info.fps, rotations, settings.foot_cleanup,
                             scene, travel)  # fmt: skip
    ctx.cache.save("world.people", key, {f"p{p}.{k}": v for p, w in enumerate(worlds) for k, v in w.to_arrays().items()})
    release_freed_memory()  # as stages.cached_stage does
    return worlds


def _person_summary(track_id: int, result: VideoResult, output: str, several: bool) -> dict[str, Any]:
    """One person's entry of ``summary.json``'s ``people`` (a warning is logged when many frames are unsure)."""
    frames = result.keypoints.frame_indices[result.track.detected]
    quality = result.quality()
    warn_if_unsure(quality, int(result.valid.sum()), f"person {track_id}" if several else "")
    return {"track_id": track_id, "frames_detected": int(result.track.detected.sum()),
            "frames_with_person": int(result.valid.sum()), "first_frame": int(frames[0]) if len(frames) else None,
            "output": output, "quality": quality}  # fmt: skip

