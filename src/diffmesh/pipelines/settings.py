"""What a run of the video pipeline is asked to do (:class:`InferSettings`), and how it reports
progress (:data:`Progress`) and time (:class:`StageClock`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from diffmesh.pipelines.blazepose_models import DEFAULT_DETECTOR_MODEL, check_detector_model

__all__ = ["InferSettings", "Progress", "StageClock", "no_progress"]

#: ``progress(stage, done, total)``: called as a stage (``"detect"``, ``"model"``, ``"render"``)
#: advances; ``done == total`` when it ends.
Progress = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    """The default :data:`Progress`: report nothing."""


@dataclass(frozen=True)
class InferSettings:
    """Everything that decides a run's result, plus how fast it runs (render-only options are
    arguments of :func:`diffmesh.pipelines.run`).

    Attributes:
        start, end: frame range ``[start, end)`` of the video (``end=None``: to the last frame).
        keypoints_file: an AlphaPose Halpe-26/COCO-17 JSON to use instead of the detector.
        track_id: keep only this AlphaPose track (``idx``).
        min_detection_confidence: BlazePose person-detector threshold.
        detector_model: BlazePose landmark model, ``"lite"``, ``"full"`` (the default) or ``"heavy"``
            (:mod:`diffmesh.pipelines.blazepose_models`; docs/benchmarks.md §5.5 measures each).
        max_gap: missing runs up to this many frames are interpolated; longer ones split the sequence.
        stride: window step (default ``clip_len // 2``: every frame is seen by two windows).
        flip: flip test-time augmentation (doubles the model cost).
        fov_y_deg, focal_px: camera intrinsics guess (default 50 degrees vertical), or a known focal length.
        smooth_sigma: Gaussian smoothing of the root trajectory, in frames.
        normalization: which frames share one crop box (``"segment"`` or ``"window"``,
            :func:`diffmesh.pipelines.prediction.predict_mesh`); ``None``: the model's own.
        detector_blend: the detector's share when the body's limbs are turned toward the average of
            the network's joints and the detector's own 3-D joints (:mod:`diffmesh.pipelines.detector_blend`),
            in [0, 1]; 0: off; ``None``: the model's own (packaged weights 0.5, official checkpoints 0).
        fast: low-precision products where this CPU multiplies bf16 natively (acceleration
            mode ``"auto"``), else float32 (``"parity"``); see :mod:`diffmesh.accel.plan`.
        device: torch device for the model.
        batch_windows: windows per network call.
        threads: torch CPU threads for the run (0: :func:`diffmesh.pipelines.threads.default_threads`,
            half the cores, at most 4). Does not change the result.
        detector_threads: XNNPACK threads of each BlazePose detector that follows a person (mediapipe's
            own is 1). 0: half the cores, at most 4 (``default_threads``) in the one-person pass (and live mode), 1 in
            the several-people pass, whose searches for newcomers take a thread of their own. Does not
            change the result; 2 on a quiet 2-core machine makes the one-person pass 20 % faster, on a
            busy one about 2x slower (docs/benchmarks.md §7.4).
        world: put the motion into a gravity-aligned world frame (:mod:`diffmesh.pipelines.world`).
        static_camera: take the camera as not moving (skip measuring its rotation and travel).
        camera_travel: for a camera that turns, also measure its travel from the floor's texture
            (:mod:`diffmesh.geometry.camera_travel`: one more decode of the video) and take it out of
            the world trajectories.
        foot_cleanup: keep planted feet still in the world frame.
        max_people: None (the default): every person the detector finds; N > 1: up to N people followed
            at once (:mod:`diffmesh.pipelines.people`, :mod:`diffmesh.pipelines.infer_people`); 1: one
            person (the single-person detector and tracker, the fastest). A keypoint file gives one person.
        person: keep only the person with this track id (not with ``max_people=1`` or a keypoint file).
    """

    start: int = 0
    end: int | None = None
    keypoints_file: str | None = None
    track_id: int | None = None
    min_detection_confidence: float = 0.3
    detector_model: str = DEFAULT_DETECTOR_MODEL
    max_gap: int = 10
    stride: int | None = None
    flip: bool = False
    fov_y_deg: float | None = None
    focal_px: float | None = None
    smooth_sigma: float = 2.0
    normalization: str | None = None
    detector_blend: float | None = None
    fast: bool = True
    device: str = "cpu"
    batch_windows: int = 8
    threads: int = 0
    detector_threads: int = 0
    world: bool = True
    static_camera: bool = False
    camera_travel: bool = True
    foot_cleanup: bool = True
    max_people: int | None = None
    person: int | None = None

    @property
    def several_people(self) -> bool:
        """Whether the run follows several people (:mod:`~diffmesh.pipelines.infer_people`): the default,
        unless ``max_people=1`` or the keypoints come from a file."""
        return self.max_people != 1 and not self.keypoints_file

    @property
    def follower_threads(self) -> int:
        """XNNPACK threads of each detector that follows a person: ``detector_threads``, or for 0 half
        the cores (at most 4, :func:`~diffmesh.pipelines.threads.default_threads`) with one person and 1
        with several (their searches for newcomers take a thread of their own)."""
        from diffmesh.pipelines.threads import default_threads

        return self.detector_threads or (1 if self.several_people else default_threads())

    def __post_init__(self) -> None:
        if self.normalization not in (None, "segment", "window"):
            raise ValueError(f"normalization must be 'segment', 'window' or None (the model's own), got {self.normalization!r}")
        if self.max_people is not None and (isinstance(self.max_people, bool) or not isinstance(self.max_people, int) or self.max_people < 1):
            raise ValueError(f"max_people must be an integer >= 1 (1: one person, N > 1: up to N people) or None (everyone "
                             f"found), got {self.max_people!r}")  # fmt: skip
        if isinstance(self.detector_threads, bool) or not isinstance(self.detector_threads, int) or self.detector_threads < 0:
            raise ValueError(f"detector_threads must be an integer >= 0 (0: the default for the pass), got {self.detector_threads!r}")
        if self.person is not None and not self.several_people:
            why = "a keypoint file gives one person (pick it with track_id)" if self.keypoints_file else "max_people=1 follows one"
            raise ValueError(f"person={self.person} picks one of several people's track ids, but {why}; drop one of them")
        if self.keypoints_file and self.max_people not in (None, 1):
            raise ValueError(f"max_people={self.max_people} needs the detector; a keypoint file gives one person (pick it with track_id)")
        if self.detector_blend is not None and not 0.0 <= self.detector_blend <= 1.0:
            raise ValueError(f"detector_blend must be in [0, 1] (0: off) or None (the model's own), got {self.detector_blend!r}")
        check_detector_model(self.detector_model)
        if self.keypoints_file and self.detector_model != DEFAULT_DETECTOR_MODEL:
            raise ValueError(f"detector_model={self.detector_model!r} picks the detector's model; a keypoint file replaces the detector (drop one)")
        if isinstance(self.max_gap, bool) or not isinstance(self.max_gap, int) or self.max_gap < 0:
            raise ValueError(f"max_gap must be an integer >= 0 (frames; 0: never interpolate), got {self.max_gap!r}")
        if self.threads < 0:
            raise ValueError(f"threads must be >= 0 (0: the default, half the cores), got {self.threads}")

    @property
    def measure_focal(self) -> bool:
        """Measure the focal length from the camera's turn: neither ``focal_px`` nor ``fov_y_deg`` is given."""
        return self.focal_px is None and self.fov_y_deg is None

    @property
    def accel_mode(self) -> str:
        """The :func:`diffmesh.accel.accelerate` mode of these settings."""
        return "auto" if self.fast else "parity"

    def model_stage_parts(self) -> dict[str, Any]:
        """The settings in the model stage's cache key: all but the frame range and keypoint
        source (already in the keypoints key) and those that do not change the result."""
        neutral = ("start", "end", "keypoints_file", "detector_model", "track_id", "device", "batch_windows", "threads", "detector_threads", "max_people", "person",
                   *_WORLD_SETTINGS)  # fmt: skip
        return {k: v for k, v in asdict(self).items() if k not in neutral}

    def world_stage_parts(self) -> dict[str, Any]:
        """The settings in the world stage's cache key."""
        return {k: getattr(self, k) for k in _WORLD_SETTINGS}


_WORLD_SETTINGS = ("world", "static_camera", "camera_travel", "foot_cleanup")


class StageClock:
    """Wall-clock seconds per stage (``summary.json``'s ``stage_seconds``): ``with clock("track"): ...``."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        self.seconds[stage] = time.perf_counter() - t0

    def elapsed(self) -> float:
        """Seconds since the clock was made."""
        return time.perf_counter() - self.started
