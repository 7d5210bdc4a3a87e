"""Stage helpers shared by the one-person recipe (:mod:`diffmesh.pipelines.infer`) and the
several-people recipe (:mod:`diffmesh.pipelines.infer_people`): a cached stage, the model and
placement of one track, the person boxes that keep people out of the camera-motion background, the
camera's intrinsics, rotations and travel."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from concurrent.futures import Future
from typing import Protocol, TypeVar

import numpy as np
from torch import nn

from diffmesh.geometry.camera import default_intrinsics
from diffmesh.geometry.camera_motion import CameraMotion
from diffmesh.geometry.vanishing import directions
from diffmesh.geometry.camera_travel import CameraTravel
from diffmesh.io.video import VideoInfo
from diffmesh.pipelines.cache import StageCache
from diffmesh.pipelines.memory import release_freed_memory
from diffmesh.pipelines.model import ModelBundle
from diffmesh.pipelines.placement import PlacedMesh, place_mesh
from diffmesh.pipelines.detector_blend import blend_joints, fit_to_detector
from diffmesh.pipelines.prediction import Precomputed, h36m_joints, predict_mesh
from diffmesh.pipelines.settings import InferSettings, Progress
from diffmesh.pipelines.tracking import Track

logger = logging.getLogger(__name__)

__all__ = ["camera_intrinsics", "camera_rotations", "camera_travel", "cached_stage", "detector_blend_weight", "person_boxes", "predict_and_place",
           "warn_if_untrained"]  # fmt: skip


class _Arrays(Protocol):
    def to_arrays(self) -> dict[str, np.ndarray]: ...


A = TypeVar("A", bound=_Arrays)


def cached_stage(
    cache: StageCache,
    stage: str,
    key: str,
    cached: list[str],
    load: Callable[[dict[str, np.ndarray]], A],
    compute: Callable[[], A],
    hit: dict[str, np.ndarray] | None = None,
) -> A:
    """``stage``'s cached result (``hit``, or looked up now; then ``stage`` is added to ``cached``),
    else ``compute()``, stored in the cache; the pages its working arrays freed then go back to the
    system (:func:`~diffmesh.pipelines.memory.release_freed_memory`)."""
    hit = cache.load(stage, key) if hit is None else hit
    if hit is not None:
        cached.append(stage)
        return load(hit)
    value = compute()
    cache.save(stage, key, value.to_arrays())
    release_freed_memory()
    return value


def predict_and_place(
    model: Future[nn.Module] | None, bundle: ModelBundle, trk: Track, K: np.ndarray, settings: InferSettings,
    progress: Progress, precomputed: Precomputed | None = None,
) -> PlacedMesh:  # fmt: skip
    """Windows → network → blended body parameters (limbs turned toward the detector's own 3-D joints
    where the model says so: :mod:`~diffmesh.pipelines.detector_blend`), then placed in the camera frame."""
    assert model is not None, "the network is prepared whenever the model stage is not cached"
    normalization = settings.normalization or bundle.normalization
    mesh = predict_mesh(model.result(), trk, settings.flip, settings.stride, settings.batch_windows, progress, normalization,
                        precomputed)  # fmt: skip
    weight = detector_blend_weight(bundle, settings)
    if not (weight > 0 and trk.world is not None):  # the detector's own 3-D joints (not in keypoint files)
        return place_mesh(bundle.joints_body, mesh, trk, K, settings.smooth_sigma)
    body, rows = bundle.joints_body, trk.detected & trk.has_person  # joints only: no surface is needed here
    joints = h36m_joints(body, mesh)
    return fit_to_detector(body, mesh, joints, blend_joints(joints, trk.world, rows, weight), trk.keypoints, rows, K, weight,
                           lambda m: place_mesh(body, m, trk, K, settings.smooth_sigma))  # fmt: skip


def person_boxes(keypoints: np.ndarray, has_person: np.ndarray, min_confidence: float = 0.3,
                 margin: float = 0.15) -> np.ndarray:  # fmt: skip
    """``[N, 4]`` x0, y0, x1, y1 around each frame's confident keypoints, enlarged by ``margin`` of the
    box's height on every side (the whole body, hair and clothes); NaN rows without a person."""
    xy = np.where((keypoints[..., 2:3] >= min_confidence) & has_person[:, None, None], keypoints[..., :2], np.nan)
    with warnings.catch_warnings():  # all-NaN rows (no person) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanmin(xy, 1), np.nanmax(xy, 1)
    pad = margin * (hi[:, 1:2] - lo[:, 1:2])
    return np.concatenate([lo - pad, hi + pad], 1)


def detector_blend_weight(bundle: ModelBundle, settings: InferSettings) -> float:
    """The detector's share in :mod:`~diffmesh.pipelines.detector_blend`: ``settings.detector_blend``, else the model's own."""
    return bundle.detector_blend if settings.detector_blend is None else settings.detector_blend


def camera_intrinsics(info: VideoInfo, settings: InferSettings, camera: CameraMotion | None) -> tuple[np.ndarray, str]:
    """``K`` and where its focal length comes from: ``"given"`` (``focal_px``), ``"measured"`` from the
    camera's turn or ``"scene lines"`` (the background's vanishing points) in the keypoint pass (done
    only when neither ``focal_px`` nor ``fov_y_deg`` is given), else ``"field of view"`` (``fov_y_deg``
    or its default)."""
    if settings.focal_px is not None:
        return default_intrinsics(info.width, info.height, focal_px=settings.focal_px), "given"
    if camera is not None and camera.focal_px is not None:
        lines = camera.focal_from == "lines"
        logger.info("focal length %.0f px, measured from the %s (--focal sets it, --fov guesses it)", camera.focal_px,
                    "scene's vanishing points" if lines else "camera's turn")  # fmt: skip
        return default_intrinsics(info.width, info.height, focal_px=camera.focal_px), "scene lines" if lines else "measured"
    return default_intrinsics(info.width, info.height, settings.fov_y_deg), "field of view"


#: The scene's axes (from its lines) are used only when the focal length in use is within this
#: fraction of the one they were found with (their directions depend on it).
SCENE_FOCAL_TOLERANCE = 0.1


def scene_axes(camera: CameraMotion | None, K: np.ndarray, focal_source: str = "") -> np.ndarray | None:
    """``[M, 3]`` scene directions from the background's lines (frame 0's camera, :mod:`diffmesh.geometry.vanishing`)
    for the world stage to take its vertical from, or None: the three orthogonal axes the keypoint pass
    found when they hold for ``K``'s focal length; else, when that focal length is known
    (``focal_source`` ``"given"`` or ``"measured"`` from the camera's turn, :func:`camera_intrinsics`),
    the direction of each family of parallel lines, one of which may be vertical (wall edges, door
    frames). With a guessed focal length a single family's tilt toward the camera is not known."""
    if camera is None:
        return None
    if camera.scene_axes is not None and camera.scene_focal_px is not None \
            and abs(K[0, 0] / camera.scene_focal_px - 1.0) <= SCENE_FOCAL_TOLERANCE:  # fmt: skip
        return camera.scene_axes
    if focal_source in ("given", "measured") and camera.scene_points is not None:
        return directions(camera.scene_points, K)
    return None


def camera_rotations(info: VideoInfo, start: int, end: int, camera: CameraMotion | None, K: np.ndarray,
                     boxes: np.ndarray, progress: Progress) -> CameraMotion:  # fmt: skip
    """The camera's rotation per frame: as the keypoint pass measured it, or measured now by decoding
    the video again: when the pass did not (keypoints from a file), or when it measured the focal
    length (its rotations were only rescaled for it; measured again with ``K``'s, panning videos only).
    ``boxes``: ``[N, 4]`` or ``[N, P, 4]`` person boxes to keep out of the background."""
    if camera is not None and camera.focal_px is None:
        return camera
    from diffmesh.geometry.camera_motion import camera_rotations_from_video

    return camera_rotations_from_video(info.path, start, end, K, boxes, progress=progress)


def camera_travel(info: VideoInfo, start: int, end: int, K: np.ndarray, boxes: np.ndarray, motion: CameraMotion,
                  progress: Progress) -> Callable[..., CameraTravel] | None:  # fmt: skip
    """The world stage's ``travel`` step (:func:`~diffmesh.pipelines.world.people_in_world`): given a
    world frame (its floor and rotations), measure the camera's travel
    (:func:`~diffmesh.geometry.camera_travel.estimate_travel`). The video is decoded and its background
    followed once, on the first call. None where the rotation-only ``motion`` turned less than
    :data:`~diffmesh.geometry.camera_travel.CHECK_TURN_DEG` (a travelling camera reads as turning; a
    still one is not worth a second decode). ``boxes`` as for :func:`camera_rotations`."""
    from diffmesh.geometry.camera_travel import CHECK_TURN_DEG, estimate_travel, tracks_from_video

    if motion.static or motion.angles_deg().max() < CHECK_TURN_DEG:
        return None
    tracks = []

    def measure(frame) -> CameraTravel:  # noqa: ANN001 - a world.WorldFrame (world imports this module's callers)
        if not tracks:
            tracks.append(tracks_from_video(info.path, start, end, boxes, progress, len(frame.cam_rotations)))
        return estimate_travel(tracks[0], K, frame.cam_rotations, frame.up, frame.offset)

    return measure


def warn_if_untrained(bundle: ModelBundle) -> None:
    if not bundle.trained:
        logger.warning(
            "UNTRAINED MODEL: %s. The meshes follow the detected person's position but not their pose; "
            "pass --checkpoint/--config for real results",
            bundle.weights,
        )
