"""The outputs stage: ``result.npz``, ``overlay.mp4``, ``animation.glb`` / ``motion.bvh`` / ``obj/``, ``summary.json``.

Every file is written through one helper, :func:`diffmesh.io.exports.atomic_write` (temporary
name, then ``os.replace``), or, for ``overlay.mp4``, encoded under a temporary folder. All
outputs of a run are first written into the staging folder ``OUT/.partial-<pid>`` and renamed
into ``OUT`` only when every one succeeded; ``summary.json`` comes last, so a folder with a
``summary.json`` holds a complete run and a failed run leaves nothing that looks complete.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import platform
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from diffmesh.accel import make_plan
from diffmesh.io.exports import (
    atomic_write,
    write_bvh,
    write_gltf_animation,
    write_gltf_people,
    write_obj_sequence,
    write_result_npz,
)
from diffmesh.io.video import VideoInfo
from diffmesh.pipelines.keypoints import FrameKeypoints
from diffmesh.pipelines.model import ModelBundle
from diffmesh.pipelines.overlay import OverlayBody, person_color, render_people_overlay
from diffmesh.pipelines.placement import PlacedMesh
from diffmesh.pipelines.prediction import MeshSequence
from diffmesh.pipelines.quality import keypoint_fit_pct, quality_report
from diffmesh.pipelines.settings import InferSettings, Progress, StageClock, no_progress
from diffmesh.pipelines.tracking import Track
from diffmesh.pipelines.world import WorldMotion

logger = logging.getLogger(__name__)

__all__ = [
    "OutputOptions",
    "RunSummary",
    "VideoResult",
    "prepare_output_folder",
    "summarize",
    "animation_motion",
    "write_animation_exports",
    "write_outputs",
    "write_summary",
]


@dataclass(frozen=True)
class OutputOptions:
    """Which outputs besides ``result.npz`` and ``summary.json`` to write, and how to render
    (none of this is part of any cache key)."""

    overlay: bool = True
    side_view: bool = False
    render_backend: str = "auto"
    animation: bool = True
    obj: bool = False
    export_frame: str = "world"  # animation.glb / motion.bvh: "world" (when the run has one) or "camera"

    def __post_init__(self) -> None:
        if self.export_frame not in ("world", "camera"):
            raise ValueError(f"export_frame must be 'world' or 'camera', got {self.export_frame!r}")


@dataclass
class VideoResult:
    """What the stages found in frames ``[start, end)`` of one video: the outputs are written from this.

    ``valid`` rows have a person who could be placed; the other rows hold identity rotations,
    zero shape and NaN translation.
    """

    info: VideoInfo
    start: int
    end: int
    bundle: ModelBundle
    keypoints: FrameKeypoints
    track: Track
    placed: PlacedMesh
    K: np.ndarray  # [3, 3] pixels
    world: WorldMotion | None = None

    @property
    def mesh(self) -> MeshSequence:
        return self.placed.mesh

    @property
    def valid(self) -> np.ndarray:
        """``[N]`` bool: a person was tracked in the frame and placed."""
        return self.track.has_person & np.isfinite(self.placed.transl).all(1)

    def transl_cam(self) -> np.ndarray:
        """``[N, 3]`` float32 root translation, metres, camera frame; NaN where not :attr:`valid`."""
        return np.where(self.valid[:, None], self.placed.transl, np.nan).astype(np.float32)

    def world_arrays(self) -> dict[str, np.ndarray] | None:
        """The world keys of ``result.npz`` (:data:`diffmesh.io.result.WORLD_KEYS`), ``None`` without a world frame."""
        w = self.world
        if w is None:
            return None
        nan = ~self.valid
        rows = lambda a: np.where(nan.reshape(-1, *([1] * (a.ndim - 1))), np.nan, a)  # noqa: E731
        n = len(nan)
        return {"camera_static": np.array(w.static_camera),
                "floor_normal_cam": np.broadcast_to(w.floor_normal_cam, (n, 3)),
                "floor_offset_cam": np.broadcast_to(w.floor_offset_cam, (n,)),
                "cam_to_world": w.cam_to_world, "world_orient_rotmat": rows(w.root_rotmats),
                "transl_world": rows(w.transl), "joints_3d_world": rows(w.joints),
                "joints_3d_world_raw": rows(w.joints_raw), "foot_contact": w.foot_contact & self.valid[:, None]}  # fmt: skip

    @cached_property
    def keypoint_fit(self) -> np.ndarray:
        """``[N]`` float32 keypoint fit per frame, % of the person's size (:func:`~diffmesh.pipelines.quality.keypoint_fit_pct`);
        NaN where not :attr:`valid`. Computed once: ``result.npz`` and every summary read it."""
        fit = keypoint_fit_pct(self.joints_cam(), self.K, self.track.keypoints)
        return np.where(self.valid, fit, np.nan).astype(np.float32)

    def quality(self) -> dict[str, Any]:
        """How sure the frames are: the ``quality`` section of ``summary.json`` (:mod:`diffmesh.pipelines.quality`)."""
        return quality_report(self.valid, self.track.detected, self.keypoint_fit, np.asarray(self.keypoints.frame_indices))

    def joints_cam(self) -> np.ndarray:
        """``[N, 17, 3]`` float32 H36M joints, metres, camera frame; NaN where not :attr:`valid`."""
        placed = self.placed.joints_m + np.nan_to_num(self.placed.transl)[:, None, :]
        return np.where(self.valid[:, None, None], placed, np.nan).astype(np.float32)


def prepare_output_folder(out_dir: str | os.PathLike[str]) -> Path:
    """Create ``out_dir`` if needed, check it is writable, and remove an older run's ``summary.json``
    (the completion marker) so that a failed run never looks complete.

    Raises:
        ValueError: the folder cannot be created or written.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ValueError(
            f"output folder {str(out)!r} is not writable ({err.strerror or err}); pass -o with a folder you can write to"
        ) from err
    (out / "summary.json").unlink(missing_ok=True)
    return out


def write_outputs(
    out: Path,
    result: VideoResult,
    options: OutputOptions,
    clock: StageClock,
    progress: Progress = no_progress,
    people: list[tuple[int, VideoResult]] | None = None,
    track_id: int | None = None,
) -> list[str]:
    """Write ``result.npz`` and the chosen optional outputs into ``out`` (staged, renamed when all
    succeeded); returns their names (``"obj/"`` for the OBJ folder). ``summary.json`` is not among them.

    ``people``: a several-people run's ``(track_id, result)`` pairs, ``result`` being the first of
    them: each also gets ``people/<track_id>/`` (``result.npz`` with ``track_id``, ``animation.glb``,
    ``motion.bvh``), ``OUT/result.npz`` gains the first one's ``track_id``, and the overlay draws
    everyone, one colour per id (:func:`~diffmesh.pipelines.overlay.person_color`), and so does
    ``OUT/animation.glb`` (one skinned body per person; ``motion.bvh`` stays the first person's).
    ``track_id``: without ``people``, the person's id for ``result.npz`` (a several-people run that
    found one person writes the one-person files).
    """
    first_id = people[0][0] if people else track_id
    folders = [(out_name, r, tid) for tid, r in people or [] for out_name in [f"people/{tid}"]]
    with _staging_folder(out) as tmp:
        with clock("write_result"):
            _write_result(tmp / "result.npz", result, first_id)
            for name, r, tid in folders:
                (tmp / name).mkdir(parents=True)
                _write_result(tmp / name / "result.npz", r, tid)
        names = ["result.npz"]
        if options.overlay:
            with clock("render"):
                bodies = [OverlayBody(result.mesh, result.placed.transl, result.valid)] if people is None else \
                    [OverlayBody(r.mesh, r.placed.transl, r.valid, person_color(tid)) for tid, r in people]  # fmt: skip
                render_people_overlay(result.info, result.start, result.end, result.bundle.body_model, bodies,
                                      result.K, tmp / "overlay.mp4", options.side_view, options.render_backend, progress)  # fmt: skip
            names.append("overlay.mp4")
        if options.animation:
            with clock("exports"):
                names += _write_animation(tmp, result, options, options.obj)
                for name, r, _ in folders:
                    _write_animation(tmp / name, r, options, obj=False)
                if people and "animation.glb" in names:  # one file with everyone
                    _write_people_glb(tmp / "animation.glb", people, options)
        if people:
            names.append("people/")
        for name in names:  # every output succeeded: move them into place
            dest = out / name.rstrip("/")
            if dest.is_dir():
                shutil.rmtree(dest)
            os.replace(tmp / name.rstrip("/"), dest)
        if not people and (out / "people").is_dir():  # an earlier several-people run's folders no longer match result.npz
            logger.info("removing %s/people/ (an earlier --max-people run into the same folder)", out)
            shutil.rmtree(out / "people")
    return names


def _write_result(path: Path, result: VideoResult, track_id: int | None) -> None:
    bundle, mesh, info = result.bundle, result.mesh, result.info
    write_result_npz(
        path, rotmats=mesh.rotmats, transl=result.transl_cam(), betas=mesh.betas, K=result.K,
        keypoints_2d=result.track.keypoints, joints_3d_cam=result.joints_cam(), fps=info.fps,
        frame_indices=result.keypoints.frame_indices, valid=result.valid, model=bundle.name, weights=bundle.weights,
        body_model=str(getattr(bundle.body_model, "name", "unknown")), image_size=(info.width, info.height),
        world=result.world_arrays(), track_id=track_id, keypoint_fit_pct=result.keypoint_fit,
    )  # fmt: skip


def _write_animation(folder: Path, result: VideoResult, options: OutputOptions, obj: bool) -> list[str]:
    world = result.world if options.export_frame == "world" else None
    return write_animation_exports(folder, result.bundle.body_model, result.mesh, result.placed.transl, result.valid,
                                   result.keypoints.frame_indices, result.info.fps, obj, world)  # fmt: skip


@contextmanager
def _staging_folder(out: Path) -> Iterator[Path]:
    tmp = out / f".partial-{os.getpid()}"
    tmp.mkdir(exist_ok=True)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_animation_exports(
    out_dir: Path,
    body_model: Any,
    mesh: MeshSequence,
    transl: np.ndarray,
    valid: np.ndarray,
    frame_indices: np.ndarray,
    fps: float,
    obj: bool,
    world: WorldMotion | None = None,
) -> list[str]:
    """``animation.glb`` and ``motion.bvh`` (and per-frame OBJ in ``obj/``) via :mod:`diffmesh.io.exports`.

    With ``world``, the animation is in the world frame (y up, feet on the floor at y = 0, the
    root moving over the floor); otherwise in the camera frame turned Y-up. OBJ meshes are in the
    camera-derived Y-up frame either way. Frames without a person hold the last valid pose (the
    exporters' ``valid`` rule). Returns the names written (none when no frame is valid).
    """
    motion = animation_motion(mesh, transl, valid, frame_indices, world)
    if motion is None:
        return []
    kw, anim = motion
    write_gltf_animation(out_dir / "animation.glb", body_model, fps=fps, **anim)
    write_bvh(out_dir / "motion.bvh", body_model, fps=fps, **anim)
    written = ["animation.glb", "motion.bvh"]
    if obj:
        write_obj_sequence(out_dir / "obj", body_model, **kw)
        written.append("obj/")
    return written


def animation_motion(
    mesh: MeshSequence, transl: np.ndarray, valid: np.ndarray, frame_indices: np.ndarray, world: WorldMotion | None
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The exporters' keyword arguments: ``(camera-frame motion for OBJ, the animation's motion)``
    (in the world frame with ``world``); ``None`` when no frame is valid."""
    valid = valid & np.isfinite(transl).all(1)
    if not valid.any():
        return None
    kw = dict(rotmats=mesh.rotmats, transl=np.nan_to_num(transl).astype(np.float32), betas=mesh.betas,
              valid=valid, frame_indices=frame_indices)  # fmt: skip
    anim = dict(kw)
    if world is not None:
        valid = valid & np.isfinite(world.transl).all(1)
        rotmats = mesh.rotmats.copy()
        rotmats[:, 0] = np.nan_to_num(world.root_rotmats)
        anim = dict(rotmats=rotmats, transl=np.nan_to_num(world.transl).astype(np.float32), betas=mesh.betas,
                    valid=valid, frame_indices=frame_indices, frame="world")  # fmt: skip
    return kw, anim


def _write_people_glb(path: Path, people: list[tuple[int, VideoResult]], options: OutputOptions) -> None:
    """Everyone's bodies in one ``animation.glb`` (replacing the first person's), each in their overlay colour."""
    world = options.export_frame == "world"
    motions = [(tid, r, animation_motion(r.mesh, r.placed.transl, r.valid, r.keypoints.frame_indices,
                                         r.world if world else None)) for tid, r in people]  # fmt: skip
    shown = [(tid, r, m[1]) for tid, r, m in motions if m is not None]
    first = shown[0][1]
    write_gltf_people(path, first.bundle.body_model, [m for _, _, m in shown], [tid for tid, _, _ in shown],
                      first.info.fps, [person_color(tid) for tid, _, _ in shown])  # fmt: skip


# ---------------------------------------------------------------------------------------------
# summary.json


@dataclass
class RunSummary:
    """What :func:`diffmesh.pipelines.run` did (also written to ``summary.json``)."""

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
    acceleration: dict[str, Any] = field(default_factory=dict)
    #: a several-people run: ``{"track_id", "frames_detected", "frames_with_person", "first_frame", "output"}`` per person
    people: list[dict[str, Any]] = field(default_factory=list)
    #: a several-people run: the frames in which nobody has a body (the fields above describe the first person)
    frames_without_anyone: int | None = None
    #: the camera: ``focal_px`` used and where it came from (``focal_source``: ``"given"``, ``"field of view"``
    #: (the ``--fov`` guess or its default), ``"measured"`` from the camera's turn or ``"scene lines"``, from the
    #: background's vanishing points)
    camera: dict[str, Any] = field(default_factory=dict)
    #: the world stage (``--no-world``: empty): ``floor_from`` (what tilted the floor: ``"scene lines"``,
    #: ``"planted soles"`` or ``"body posture"``, the least sure), ``planted_spread_m`` (the planted soles'
    #: spread along the world's x and z), ``camera_motion``, ``frames_with_planted_foot`` (share of the
    #: first person's frames) and ``foot_sliding_mm_per_frame`` (before and after the clean-up)
    world: dict[str, Any] = field(default_factory=dict)
    #: how sure the first person's frames are (:func:`diffmesh.pipelines.quality.quality_report`): the median
    #: keypoint fit, frames that fit poorly or were interpolated, and the ``unsure`` stretches
    quality: dict[str, Any] = field(default_factory=dict)


def world_summary(world: WorldMotion | None, valid: np.ndarray) -> dict[str, Any]:
    """:attr:`RunSummary.world` of a person's world motion (shared frame: the first person's is enough)."""
    if world is None:
        return {}
    planted = world.foot_contact.any(1)[valid]
    return {"floor_from": world.floor_from, "planted_spread_m": [round(float(x), 3) for x in world.planted_spread_m],
            "camera_motion": world.camera_motion,
            "frames_with_planted_foot": round(float(planted.mean()), 3) if len(planted) else 0.0,
            "foot_sliding_mm_per_frame": [round(float(x), 1) for x in world.sliding_mm]}  # fmt: skip


def summarize(
    out: Path, result: VideoResult, settings: InferSettings, clock: StageClock, cached: list[str], outputs: list[str]
) -> RunSummary:
    """The :class:`RunSummary` of a finished run (``stage_seconds["total"]`` taken now)."""
    clock.seconds["total"] = clock.elapsed()
    trk, valid, reproj = result.track, result.valid, result.placed.reproj_px
    placed = np.isfinite(reproj) & trk.has_person
    return RunSummary(
        video=str(result.info.path),
        output_dir=str(out),
        frames_processed=result.end - result.start,
        frames_with_person=int(valid.sum()),
        frames_detected=int(trk.detected.sum()),
        frames_without_person=int((~valid).sum()),
        segments=[(s.start + result.start, s.end + result.start) for s in trk.segments],
        fps=result.info.fps,
        width=result.info.width,
        height=result.info.height,
        weights=result.bundle.weights,
        trained=result.bundle.trained,
        body_model=str(getattr(result.bundle.body_model, "name", "unknown")),
        keypoint_source=result.keypoints.source,
        stage_seconds={k: round(v, 4) for k, v in clock.seconds.items()},
        cached_stages=cached,
        outputs=outputs + ["summary.json"],
        mean_reprojection_px=float(np.mean(reproj[placed])) if placed.any() else float("nan"),
        settings={**asdict(settings), "normalization": settings.normalization or result.bundle.normalization},
        versions=package_versions(),
        acceleration=asdict(make_plan(settings.accel_mode, settings.device)),
        world=world_summary(result.world, valid),
        quality=result.quality(),
    )


def write_summary(out: Path, summary: RunSummary) -> Path:
    """``summary.json``, written atomically (the marker of a complete run)."""
    text = json.dumps(asdict(summary), indent=2, default=str)
    return atomic_write(out / "summary.json", lambda f: f.write(text.encode()))


def package_versions() -> dict[str, str]:
    """Versions of diffmesh, torch, numpy, python and the optional packages present."""
    import torch

    import diffmesh

    v = {"diffmesh": diffmesh.__version__, "torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()}
    for dist in ("av", "mediapipe", "moderngl"):  # from their metadata: importing mediapipe takes over a second
        try:
            v[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:  # optional packages
            pass
    return v
