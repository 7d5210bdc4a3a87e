"""2-D keypoint sources for the video pipeline: mediapipe BlazePose and AlphaPose JSON files.

Both produce H36M-17 keypoints in **pixels** with a confidence channel, aligned to frame
indices (:class:`FrameKeypoints`). Missing frames are explicit (``detected = False``,
keypoints zero) rather than silently shortening the sequence as the official demo does.

BlazePose-33 → H36M-17 is :func:`diffmesh.conventions.blazepose_to_h36m` (its table is there).
:func:`find_keypoints` is the pipeline's keypoint stage: the detector over the decoded frames
(:func:`detect_video`) or an AlphaPose file (:func:`keypoints_from_file`).

mediapipe is imported lazily (``pip install --no-deps mediapipe==0.10.21`` plus its lean
runtime dependencies; see docs/inference.md) by :mod:`diffmesh.pipelines.mediapipe_import`. The ``full`` landmark model is the wheel's own;
``lite`` and ``heavy`` ship with this package (:mod:`diffmesh.pipelines.blazepose_models`).
"""

from __future__ import annotations

import json
import logging
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from diffmesh.conventions import BLAZEPOSE_JOINTS, H36M_JOINTS, blazepose_to_h36m, blazepose_world_to_h36m, coco_to_h36m, halpe_to_h36m
from diffmesh.geometry.camera_motion import CameraMotion, RotationTracker
from diffmesh.io.video import VideoInfo, iter_frames
from diffmesh.pipelines.blazepose_models import DEFAULT_DETECTOR_MODEL, check_detector_model, landmark_model
from diffmesh.pipelines.mediapipe_import import import_mediapipe
from diffmesh.pipelines.native_logs import native_logs_to_logging
from diffmesh.pipelines.settings import InferSettings, Progress, no_progress
from diffmesh.pipelines.stages import person_boxes
from diffmesh.pipelines.threads import prefetch
from diffmesh.pipelines.tracking import follow_person

logger = logging.getLogger(__name__)

__all__ = [
    "FrameKeypoints",
    "PoseDetector",
    "detect_video",
    "find_keypoints",
    "keypoints_from_file",
    "read_alphapose_json",
]


#: ``listener(i, landmarks [33, 4] or None, world [33, 3] or None)``: one frame's detection, as it is made.
FrameListener = Callable[[int, "np.ndarray | None", "np.ndarray | None"], None]


@dataclass
class FrameKeypoints:
    """Per-frame H36M-17 keypoints of one person, aligned to video frame indices.

    Attributes:
        keypoints: ``[N, 17, 3]`` float32 (x, y in pixels, confidence in [0, 1]); zero where not detected.
        detected: ``[N]`` bool, a person was found in the frame.
        frame_indices: ``[N]`` int64 video frame index of each row.
        source: where the keypoints came from (``"mediapipe-blazepose-0.10.21"``, ``"alphapose-json"``).
        world: ``[N, 17, 3]`` float32, the detector's own 3-D joints (BlazePose ``pose_world_landmarks``
            in H36M order: metres, origin between the hips, camera axes), zero where not detected;
            None when the source has no 3-D (keypoint files).
        camera: the camera's rotation per frame, measured on the background during the same pass
            (:func:`detect_video` with ``camera_K``); None when it was not measured.
    """

    keypoints: np.ndarray
    detected: np.ndarray
    frame_indices: np.ndarray
    source: str
    world: np.ndarray | None = None
    camera: CameraMotion | None = None

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Named arrays for the stage cache (:meth:`from_arrays` reads them back)."""
        arrays = {"keypoints": self.keypoints, "detected": self.detected, "frame_indices": self.frame_indices,
                  "source": np.array(self.source)}  # fmt: skip
        if self.world is not None:
            arrays["world"] = self.world
        if self.camera is not None:
            arrays |= self.camera.to_arrays()
        return arrays

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> FrameKeypoints:
        return cls(a["keypoints"], a["detected"], a["frame_indices"], str(a["source"]), a.get("world"),
                   CameraMotion.from_arrays(a))  # fmt: skip


class PoseDetector:
    """mediapipe BlazePose on RGB frames: the ``full`` landmark model inside the wheel, or the
    ``lite`` or ``heavy`` one the package ships (:mod:`diffmesh.pipelines.blazepose_models`).

    Args:
        min_detection_confidence: person-detector threshold; 0.3 finds people over busy
            backgrounds that 0.5 misses (COMPONENTS.md §1.6).
        min_tracking_confidence: below this the detector re-runs on the next frame.
        static_image_mode: detect on every frame (photos) instead of tracking (videos, ~2x faster).
        quiet: while the detector is open, mediapipe's native log lines on stderr go to
            :mod:`logging` at DEBUG level instead (:mod:`diffmesh.pipelines.native_logs`).
        model: the landmark model, one of :data:`~diffmesh.pipelines.blazepose_models.DETECTOR_MODELS`.
        threads: XNNPACK threads for its networks (mediapipe's own: 1). The landmarks are the same
            for any number; more are faster where the cores are free.

    Call :meth:`detect` per frame, in order; use as a context manager or call :meth:`close`.
    """

    name = "mediapipe-blazepose"

    @property
    def source(self) -> str:
        """Where keypoints came from, for ``FrameKeypoints.source`` (``mediapipe-blazepose-0.10.21``;
        ``mediapipe-blazepose-heavy-0.10.21`` for another landmark model)."""
        return detector_source(self.name, self.model, self.version)

    def __init__(
        self,
        min_detection_confidence: float = 0.3,
        min_tracking_confidence: float = 0.5,
        static_image_mode: bool = False,
        quiet: bool = True,
        model: str = DEFAULT_DETECTOR_MODEL,
        threads: int = 1,
    ) -> None:
        check_detector_model(model)
        mp = import_mediapipe()
        self.version = getattr(mp, "__version__", "unknown")
        self.model = model
        # Native lines come when the graph starts and when it first finds a person: for the detector's lifetime.
        self._quiet = ExitStack()
        if quiet:
            self._quiet.enter_context(native_logs_to_logging(logger))
        try:
            with landmark_model(mp, model, threads) as complexity:
                self._pose = mp.solutions.pose.Pose(
                    static_image_mode=static_image_mode,
                    model_complexity=complexity,
                    smooth_landmarks=True,
                    enable_segmentation=False,
                    min_detection_confidence=min_detection_confidence,
                    min_tracking_confidence=min_tracking_confidence,
                )
                if model != DEFAULT_DETECTOR_MODEL:  # the graph opens its models now, while they are ours
                    self._pose.process(np.zeros((32, 32, 3), np.uint8))
        except BaseException:
            self._quiet.close()
            raise

    def detect33(self, image: np.ndarray) -> np.ndarray | None:
        """BlazePose landmarks ``[33, 4]`` (x, y pixels, z, visibility) for a ``uint8 [H, W, 3]`` RGB
        image (grey ``[H, W]`` is expanded), or None when no person is found."""
        found = self.detect_with_world(image)
        return None if found is None else found[0]

    def detect_with_world(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None] | None:
        """One pass of the graph: ``(landmarks [33, 4], world [33, 3] or None)``, or None when no
        person is found.

        ``landmarks`` are as :meth:`detect33`. ``world`` is BlazePose's own 3-D estimate
        (``pose_world_landmarks``): metres, origin at the centre of the hips, x right, y down,
        z away from the camera (the camera's axes, the person's distance unknown), order
        :data:`~diffmesh.conventions.BLAZEPOSE_JOINTS`.
        """
        image = _as_rgb(image)
        h, w = image.shape[:2]
        result = self._pose.process(image)
        if result.pose_landmarks is None:
            return None
        lm = result.pose_landmarks.landmark
        landmarks = np.array([[p.x * w, p.y * h, p.z * w, p.visibility] for p in lm], dtype=np.float32)
        world = None
        if result.pose_world_landmarks is not None:
            world = np.array([[p.x, p.y, p.z] for p in result.pose_world_landmarks.landmark], dtype=np.float32)
        return landmarks, world

    def detect(self, image: np.ndarray) -> np.ndarray | None:
        """H36M-17 keypoints ``[17, 3]`` (x, y pixels, confidence) or None when no person is found."""
        kp33 = self.detect33(image)
        return None if kp33 is None else blazepose_to_h36m(kp33)

    def close(self) -> None:
        try:
            self._pose.close()
        finally:
            self._quiet.close()

    def __enter__(self) -> PoseDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def detector_source(name: str, model: str, version: str) -> str:
    """A detector's ``source`` label: ``NAME-VERSION``, ``NAME-MODEL-VERSION`` for a landmark model other than ``full``."""
    return f"{name}-{version}" if model == DEFAULT_DETECTOR_MODEL else f"{name}-{model}-{version}"


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"image must be [H, W, 3] RGB (or [H, W] grey), got shape {list(image.shape)}")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {image.dtype}; convert with (img * 255).astype(np.uint8)")
    return np.ascontiguousarray(image[..., :3])


# ---------------------------------------------------------------------------------------------
# AlphaPose JSON (the official demo's input, INFERENCE.md §1)


def _frame_index(image_id: Any, fallback: int) -> int:
    """AlphaPose ``image_id`` ("123.jpg", "frame_000123.png", 123) → frame index."""
    if isinstance(image_id, (int, np.integer)):
        return int(image_id)
    if isinstance(image_id, str):
        digits = "".join(ch if ch.isdigit() else " " for ch in Path(image_id).stem).split()
        if digits:
            return int(digits[-1])
    return fallback


def _to_h36m(kp: np.ndarray, path: str) -> np.ndarray:
    """Halpe-26 or COCO-17 ``[M, K, 3]`` → H36M ``[M, 17, 3]`` with the official mapping."""
    k = kp.shape[1]
    if k not in (26, 17):
        raise ValueError(
            f"{path!r}: keypoints have {k} joints per detection; expected 26 (AlphaPose Halpe-26) or 17 (COCO-17)"
        )
    return np.asarray(halpe_to_h36m(kp) if k == 26 else coco_to_h36m(kp), dtype=np.float32)


def read_alphapose_json(
    path: str | os.PathLike[str],
    num_frames: int,
    width: int,
    height: int,
    track_id: int | None = None,
) -> tuple[FrameKeypoints, list[np.ndarray]]:
    """Read an AlphaPose results file (Halpe-26 or COCO-17) and align it to the video's frames.

    Args:
        path: the JSON: a list of detections with ``keypoints`` (flat K × (x, y, score), pixels),
            ``image_id`` (frame file name or index; entries without it are taken as one per frame, in
            order), optional ``idx`` (track id) and ``score``.
        num_frames, width, height: of the video the file must describe.
        track_id: keep only this AlphaPose ``idx`` (the official ``--focus``).

    Returns:
        ``(FrameKeypoints, candidates)``: ``candidates[i]`` is a ``[M_i, 17, 3]`` array of every
        detection in frame ``i`` (the tracker chooses one person); ``FrameKeypoints`` holds the
        highest-scoring candidate per frame.

    Raises:
        FileNotFoundError, ValueError: unreadable JSON, wrong layout, or detections that do not fit
        the video (frame indices beyond its length, or keypoints mostly outside the image).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"keypoint file {str(p)!r} does not exist; pass the AlphaPose results JSON")
    try:
        data = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{str(p)!r} is not valid JSON ({err}); pass AlphaPose's alphapose-results.json") from err
    if isinstance(data, dict) and "annotations" in data:
        data = data["annotations"]
    if not isinstance(data, list) or not data or not all(isinstance(d, dict) and "keypoints" in d for d in data):
        raise ValueError(
            f"{str(p)!r} is not an AlphaPose results file: expected a non-empty list of objects with a 'keypoints' field"
        )
    if track_id is not None:
        data = [d for d in data if d.get("idx") == track_id or d.get("idx") == [track_id]]
        if not data:
            raise ValueError(f"{str(p)!r} has no detection with track id (idx) {track_id}; check --track-id")
    has_ids = all("image_id" in d for d in data)
    rows: list[tuple[int, np.ndarray, float]] = []
    for n, d in enumerate(data):
        kp = np.asarray(d["keypoints"], dtype=np.float32)
        if kp.size % 3:
            raise ValueError(f"{str(p)!r}: detection {n} has {kp.size} keypoint numbers, not a multiple of 3 (x, y, score)")
        frame = _frame_index(d["image_id"], n) if has_ids else n
        rows.append((frame, kp.reshape(-1, 3), float(d.get("score", kp.reshape(-1, 3)[:, 2].mean()))))
    sizes = {r[1].shape[0] for r in rows}
    if len(sizes) != 1:
        raise ValueError(f"{str(p)!r}: detections have different joint counts {sorted(sizes)}; expected one format")
    frames = np.array([r[0] for r in rows])
    if frames.min() < 0 or frames.max() >= num_frames:
        raise ValueError(
            f"{str(p)!r} does not match the video: it has detections for frames {frames.min()}..{frames.max()} "
            f"but the video has {num_frames} frames; pass the keypoint file made from this video"
        )
    kp_all = _to_h36m(np.stack([r[1] for r in rows]), str(p))  # [M, 17, 3]
    conf = kp_all[..., 2] > 0
    inside = (kp_all[..., 0] >= -0.1 * width) & (kp_all[..., 0] <= 1.1 * width)
    inside &= (kp_all[..., 1] >= -0.1 * height) & (kp_all[..., 1] <= 1.1 * height)
    if conf.any() and (inside & conf).sum() < 0.5 * conf.sum():
        raise ValueError(
            f"{str(p)!r} does not match the video: most keypoints lie outside the {width}x{height} frame; "
            "pass the keypoint file made from this video (pixel coordinates of the original frames)"
        )
    candidates: list[list[np.ndarray]] = [[] for _ in range(num_frames)]
    scores: list[list[float]] = [[] for _ in range(num_frames)]
    for (frame, _, score), kp in zip(rows, kp_all):
        candidates[frame].append(kp)
        scores[frame].append(score)
    keypoints = np.zeros((num_frames, len(H36M_JOINTS), 3), dtype=np.float32)
    detected = np.zeros(num_frames, dtype=bool)
    for i, (cands, sc) in enumerate(zip(candidates, scores)):
        if cands:
            keypoints[i] = cands[int(np.argmax(sc))]
            detected[i] = True
    cand_arrays = [np.stack(c) if c else np.zeros((0, len(H36M_JOINTS), 3), np.float32) for c in candidates]
    fk = FrameKeypoints(keypoints, detected, np.arange(num_frames, dtype=np.int64), "alphapose-json")
    return fk, cand_arrays


# ---------------------------------------------------------------------------------------------
# The pipeline's keypoint stage


def detect_video(
    info: VideoInfo,
    start: int,
    end: int,
    min_detection_confidence: float = 0.3,
    progress: Progress = no_progress,
    camera_K: np.ndarray | None = None,
    estimate_focal: bool = False,
    detector_model: str = DEFAULT_DETECTOR_MODEL,
    listener: FrameListener | None = None,
    detector_threads: int = 1,
) -> FrameKeypoints:
    """Decode frames ``[start, end)`` and run BlazePose (the ``detector_model`` landmark model) on
    each (``frame_indices`` are video frame indices).

    With ``camera_K`` (``[3, 3]`` intrinsics) the camera's rotation is measured on the same decoded
    frames (:class:`~diffmesh.geometry.camera_motion.RotationTracker`, on a worker thread beside the
    detector), the person's box from this frame's detection kept out of the background (the last
    box, for up to :data:`HOLD_BOX_FRAMES` frames without a detection): ``FrameKeypoints.camera``;
    ``estimate_focal``: its focal length too, where the camera turns enough to show it
    (:meth:`~diffmesh.geometry.camera_motion.RotationTracker.estimate_focal`). ``listener(i, landmarks,
    world)`` hears each frame's detection as it is made (``i`` from 0; None, None without a person).
    ``detector_threads``: XNNPACK threads of the detector (:class:`PoseDetector`).

    Raises:
        ValueError: the video is truncated or corrupt (fewer frames decode than it declares).
    """
    n = end - start
    kp33 = np.zeros((n, len(BLAZEPOSE_JOINTS), 4), dtype=np.float32)
    world33 = np.zeros((n, len(BLAZEPOSE_JOINTS), 3), dtype=np.float32)
    detected = np.zeros(n, dtype=bool)
    count = 0
    with PoseDetector(min_detection_confidence=min_detection_confidence, model=detector_model,
                      threads=detector_threads) as det, CameraPass(camera_K) as camera:
        # one decoder thread (the prefetcher) beside the detector
        for frame in prefetch(iter_frames(info.path, start, end, threads=1)):
            i = frame.index - start
            found = det.detect_with_world(frame.image)
            if found is not None:
                kp33[i], detected[i] = found[0], True
                if found[1] is not None:
                    world33[i] = found[1]
            camera.add(frame.image, {0: kp33[i]} if found is not None else {})
            if listener is not None:
                listener(i, kp33[i] if found is not None else None, world33[i] if found is not None else None)
            count += 1
            progress("detect", count, n)
        source = det.source
        motion = camera.result(estimate_focal) if count else None
    if count != n:
        raise ValueError(
            f"{info.path!r} is truncated or corrupt: {count} of the {n} frames it declares could be decoded; "
            "re-encode it (ffmpeg -i in.mp4 out.mp4) or pass --end to stop before the damage"
        )
    keypoints, world = h36m_rows(kp33, world33, detected)  # one vectorised conversion per array after the loop
    return FrameKeypoints(keypoints, detected, np.arange(start, end, dtype=np.int64), source, world, motion)


def h36m_rows(kp33: np.ndarray, world33: np.ndarray, detected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BlazePose rows ``[N, 33, 4]`` and world rows ``[N, 33, 3]`` → H36M keypoints ``[N, 17, 3]``
    and 3-D joints ``[N, 17, 3]`` (float32; frames without a person zero), row by row."""
    keypoints = np.where(detected[:, None, None], blazepose_to_h36m(kp33), 0.0).astype(np.float32)
    world = np.where(detected[:, None, None], blazepose_world_to_h36m(world33), 0.0).astype(np.float32)
    return keypoints, world


#: A person's last box stays masked out of the camera-motion background for this many frames without a detection.
HOLD_BOX_FRAMES = 15


class CameraPass:
    """The camera's rotation measured inside a detection pass: :meth:`add` each decoded frame with the
    BlazePose-33 landmarks found in it (one ``[33, 4]`` array per person id); the
    :class:`~diffmesh.geometry.camera_motion.RotationTracker` runs on one worker thread (OpenCV and
    numpy release the GIL), at most a few frames behind. ``K=None``: does nothing, :meth:`result` is None.
    """

    def __init__(self, K: np.ndarray | None, hold: int = HOLD_BOX_FRAMES, in_flight: int = 4) -> None:
        self.tracker = None if K is None else RotationTracker(K, scene_lines=True)
        self.hold, self.in_flight = hold, in_flight
        self.last: dict[int, tuple[int, np.ndarray]] = {}  # person id → (frame, last box)
        self.t = 0
        self.pending: deque[Future[None]] = deque()
        self.pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> CameraPass:
        if self.tracker is not None:
            self.pool = ThreadPoolExecutor(1, "diffmesh-camera")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def add(self, image: np.ndarray, people: dict[int, np.ndarray]) -> None:
        """The next decoded frame and everyone found in it (``{person id: BlazePose-33 landmarks [33, 4]}``)."""
        if self.tracker is None or self.pool is None:
            return
        self.pending.append(self.pool.submit(self._measure, image, dict(people)))  # the boxes too, off this thread
        while len(self.pending) > self.in_flight:
            self.pending.popleft().result()  # re-raises the worker's error

    def _measure(self, image: np.ndarray, people: dict[int, np.ndarray]) -> None:
        """On the worker thread, in frame order: everyone's box (held through misses), then the tracker."""
        assert self.tracker is not None
        for key, lm in people.items():
            self.last[key] = (self.t, person_boxes(blazepose_to_h36m(lm[None]), np.ones(1, bool))[0])
        boxes = [box for t, box in self.last.values() if self.t - t <= self.hold]
        self.tracker.add(image, np.array(boxes) if boxes else None)
        self.t += 1

    def result(self, estimate_focal: bool = False) -> CameraMotion | None:
        if self.tracker is None:
            return None
        while self.pending:
            self.pending.popleft().result()
        return self.tracker.result(estimate_focal)


def keypoints_from_file(
    path: str | os.PathLike[str], info: VideoInfo, start: int, end: int, track_id: int | None = None
) -> FrameKeypoints:
    """Frames ``[start, end)`` of an AlphaPose results file for this video, one person followed across frames."""
    fk, candidates = read_alphapose_json(path, info.num_frames, info.width, info.height, track_id)
    keypoints, detected = follow_person(candidates[start:end])
    return FrameKeypoints(keypoints, detected, np.arange(start, end, dtype=np.int64), fk.source)


def find_keypoints(
    info: VideoInfo, start: int, end: int, settings: InferSettings, progress: Progress = no_progress,
    camera_K: np.ndarray | None = None, listener: FrameListener | None = None,
) -> FrameKeypoints:
    """The keypoint stage: ``settings.keypoints_file`` when given, else the detector over the frames
    (measuring the camera's rotation on the way when ``camera_K`` is given, and telling ``listener``
    each detection: :func:`detect_video`)."""
    if settings.keypoints_file:
        return keypoints_from_file(settings.keypoints_file, info, start, end, settings.track_id)
    return detect_video(info, start, end, settings.min_detection_confidence, progress, camera_K, settings.measure_focal,
                        settings.detector_model, listener, settings.follower_threads)
