"""Several people's BlazePose keypoints with stable identities, from the single-person model.

mediapipe 0.10.21 ships only single-person BlazePose (COMPONENTS.md §7) and nothing may be
downloaded at run time, so people are found with several copies of it. Where they look is
:mod:`~diffmesh.pipelines.person_crops` (boxes, crops, tiles and the thresholds named below); what
they look like, :mod:`~diffmesh.pipelines.appearance`.

* **one detector per person** (:class:`~diffmesh.pipelines.keypoints.PoseDetector`, video mode)
  sees the whole frame while nobody else is followed (as the one-person detector does: a lone
  person's keypoints do not depend on ``max_people``), else a square crop around the person's last box (``CROP_MARGIN`` times its larger side, inside
  the image where it fits, else padded; resized to ``CROP_SIZE``), the others' boxes painted over;
  landmarks are mapped back to image pixels. The crop stays put until the person drifts
  (``RECROP_SHIFT``): the detector's tracking and smoothing see a steady image;
* **discovery**: on frame 0, every ``discover_every`` frames and while nobody is followed, a
  static-image detector runs on the frame (then, about once a second, :data:`TILE_SECONDS`, on its
  tiles, ``TILE_FRACTION``) with the people
  found painted over (mean colour), until nobody new is found or ``max_people`` are followed. A
  newcomer is followed *back* through the frames since the last discovery. A newcomer lying from
  the feet of someone found (``SHADOW_FOOT_DISTANCE``, ``SHADOW_TILT_DEG``) is taken for their shadow;
* **identity**: each person's detector keeps them. A detection that jumps (``refinds``) or whose
  box shrinks or grows by more than :data:`MAX_GROWTH` in one frame (half a person hidden by
  another, one skeleton over two people) is rejected, and so is one that, while two people
  overlap, looks more like the other person (:data:`SWITCH_MARGIN`). Looks (hue-saturation
  histograms of the torso and legs) are learnt while the person stands clear of everyone. A
  discovered person is a missing one if near their last box (``REFIND_IOU``, ``REFIND_DISTANCE``)
  and not clearly unlike them (:data:`~diffmesh.pipelines.person_track.UNLIKE_SIMILARITY`) or, anywhere, if they look like them
  (:data:`REID_SIMILARITY`); anyone else gets a new id (never reused). A person missing for more
  than ``max_gap`` frames is given up, or, once missing for ``discover_every`` frames, sooner when
  ``max_people`` are followed and someone new is in view (the places go to people in view; with
  every place held by someone in view, discovery does not run). Two detectors on one person (``DUPLICATE_IOU``,
  ``DUPLICATE_DISTANCE``): the older id keeps them, the younger gets a fresh detector.

People shorter than ``min_height`` pixels (landmark box) are ignored: BlazePose is unreliable
on small crops. Limits: someone entering where a person left less than ``max_gap`` frames before
inherits the id unless they look clearly different (:data:`~diffmesh.pipelines.person_track.UNLIKE_SIMILARITY`); a person jumping
out of their crop between two frames is found again only by the next discovery.
:meth:`~diffmesh.pipelines.people_keypoints.PeopleKeypoints.person` gives one person as the single-person
:class:`~diffmesh.pipelines.keypoints.FrameKeypoints`: later stages run unchanged.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from typing import Any

import numpy as np

from diffmesh.conventions import BLAZEPOSE_JOINTS, blazepose_to_h36m, blazepose_world_to_h36m
from diffmesh.io.video import iter_frames, probe_video
from diffmesh.pipelines.keypoints import CameraPass, PoseDetector, detector_source
from diffmesh.pipelines.blazepose_models import DEFAULT_DETECTOR_MODEL, check_detector_model
from diffmesh.pipelines.appearance import appearance, similarity
from diffmesh.pipelines.native_logs import native_logs_to_logging
from diffmesh.pipelines.people_keypoints import PeopleKeypoints
from diffmesh.pipelines.person_track import Found, PersonTrack, unlike
from diffmesh.pipelines.person_crops import (
    MASK_PAD,
    REFIND_IOU,
    Crop,
    WholeFrame,
    box_height,
    box_iou,
    box_region,
    discovery_tiles,
    landmark_box,
    refinds,
    same_person,
    shadow_of,
)
from diffmesh.pipelines.settings import Progress, no_progress
from diffmesh.pipelines.threads import prefetch

logger = logging.getLogger(__name__)

__all__ = ["PeopleDetector", "detect_people", "detect_people_video"]

#: From one frame to the next a person's box height changes by less than this factor; a detection
#: that shrinks or grows more (a person half hidden by another, a skeleton spanning two people) is
#: rejected: the person is missing in that frame. Not while they are alone (as the one-person
#: detector: a spin kick's leg can grow the box faster).
MAX_GROWTH = 1.4
#: Frames between two scheduled searches for new people (the default of ``discover_every``).
DISCOVER_EVERY = 10
#: A video's discovery searches the frame's tiles (people too small for the whole frame's search) about
#: once per this many seconds (every scheduled discovery at 10 frames/s, every third at 30): six tile
#: searches every 10 frames made a one-person video's keypoint pass 1.5x slower than the one-person run's.
TILE_SECONDS = 1.0
#: A missing person is recognised by appearance alone (anywhere, at a discovery) at this similarity
#: (Bhattacharyya coefficient, 1 = the same histograms) or more, and by :data:`REID_MARGIN` over any
#: other missing person. On the rendered several-people benchmark one person's similarity to
#: themselves over a clip is 0.81-1.0, to someone else at most 0.69 (median 0.3).
REID_SIMILARITY, REID_MARGIN = 0.75, 0.1
#: While two people's boxes overlap, a person's detection that looks more like the other one (by
#: this margin) is the detector having jumped onto them: rejected, the person is missing this frame.
SWITCH_MARGIN = 0.15


class PeopleDetector:
    """Finds and follows up to ``max_people`` people, one frame at a time (see the module docstring).

    Call :meth:`detect` on consecutive frames of one video, then :meth:`result`; close it (or use
    it as a context manager). Arguments are those of :func:`detect_people`.
    """

    name = "mediapipe-blazepose-people"

    def __init__(self, max_people: int = 6, discover_every: int = DISCOVER_EVERY, max_gap: int = 30,
                 min_detection_confidence: float = 0.5, min_height: float = 64.0, tiles: bool = True,
                 detector_model: str = DEFAULT_DETECTOR_MODEL, first_frame: int = 0, tile_every: int = 1) -> None:  # fmt: skip
        self.detector_model = check_detector_model(detector_model)
        _check_arguments(max_people=max_people, discover_every=discover_every, max_gap=max_gap,
                         min_detection_confidence=min_detection_confidence, min_height=min_height, tile_every=tile_every)  # fmt: skip
        self.max_people, self.discover_every, self.max_gap, self.tile_every = max_people, discover_every, max_gap, tile_every
        self.min_detection_confidence, self.min_height, self.tiles = min_detection_confidence, min_height, bool(tiles)
        self.tracks: list[PersonTrack] = []  # followed now, oldest first
        self.finished: list[PersonTrack] = []
        self._next_id, self._frame = 0, 0
        self.first_frame = first_frame  # the video's frame number of the first frame passed, for messages
        self._size: tuple[int, int] | None = None
        # frames since the last discovery (number, image, fill): newcomers are followed back through them
        self._recent: deque[tuple[int, np.ndarray, np.ndarray]] = deque(maxlen=discover_every - 1)
        with ExitStack() as stack:  # kept open (pop_all) unless the detector fails to start
            # one redirection of native log lines for all the detectors opened and closed meanwhile
            stack.enter_context(native_logs_to_logging(logger))
            self._finder = PoseDetector(min_detection_confidence, static_image_mode=True, quiet=False, model=detector_model)
            stack.callback(self._finder.close)
            self._closing = stack.pop_all()
        self.version = self._finder.version
        self.source = detector_source(self.name, detector_model, self.version)

    def _new_detector(self) -> PoseDetector:
        return PoseDetector(self.min_detection_confidence, static_image_mode=False, quiet=False, model=self.detector_model)

    def detect(self, image: np.ndarray) -> dict[int, Found]:
        """Follow and discover people in the next frame (``uint8 [H, W, 3]`` RGB): ``{id: detection}``
        for this frame (people followed back into earlier frames show in :meth:`result` only)."""
        image = self._check_image(image)
        t, (h, w) = self._frame, image.shape[:2]
        self._frame += 1
        fill = image[::8, ::8].reshape(-1, 3).mean(0).astype(np.uint8)
        found = {k.id: r for k in self.tracks if (r := self._follow(k, image, fill)) is not None}
        self._drop_duplicates(found)
        self._drop_switches(image, found)
        for track in (k for k in self.tracks if k.id in found):
            track.box = landmark_box(found[track.id][0])
            target = self._view(track.box, w, h, alone=len(self.tracks) == 1)
            if not track.crop.close_to(target):
                if type(target) is not type(track.crop):  # whole frame <-> crop: its tracking state no longer fits
                    track.detector.close()
                    track.detector = self._new_detector()
                track.crop = target
        self._learn(image, found)
        if not self.tracks or t % self.discover_every == 0:
            # the tiles on every tile_every-th scheduled discovery only: they cost ~6 more detector runs
            self._discover(image, fill, found, t, self.tiles and t % (self.tile_every * self.discover_every) == 0)
            self._recent.clear()
        else:
            self._recent.append((t, image.copy(), fill))
        for track in list(self.tracks):
            track.missed = 0 if track.id in found else track.missed + 1
            if track.id in found:
                track.rows[t] = found[track.id]
            elif track.missed > self.max_gap:
                logger.debug("people: track %d given up at frame %d", track.id, t)
                self.tracks.remove(track)
                self.finished.append(track)
                track.detector.close()
        return found

    @staticmethod
    def _view(box: np.ndarray, w: int, h: int, alone: bool) -> Crop | WholeFrame:
        """What a person's detector sees: the whole frame while nobody else is followed, else a crop around them."""
        return WholeFrame() if alone else Crop.around(box, w, h)

    def _follow(self, track: PersonTrack, image: np.ndarray, fill: np.ndarray) -> Found | None:
        """``track``'s detector on its crop, the others seen in the last frame painted over."""
        others = [k.box for k in self.tracks if k is not track and k.missed == 0]
        result = track.detector.detect_with_world(track.crop.cut(image, fill, others, track.box))
        if result is None:
            return None
        landmarks = track.crop.to_image(result[0])
        box = landmark_box(landmarks)
        if box_height(box) < self.min_height or not refinds(track.box, box):
            return None  # too small, or someone away from where the person was
        if (not track.missed and isinstance(track.crop, Crop)
                and not 1 / MAX_GROWTH < box_height(box) / max(box_height(track.box), 1.0) < MAX_GROWTH):  # fmt: skip
            return None  # half a person (the other half hidden by someone) or two people in one box: not a body's motion
        return landmarks, result[1]

    def _drop_switches(self, image: np.ndarray, found: dict[int, Found]) -> None:
        """A detection overlapping another person's last box that looks like them (:data:`SWITCH_MARGIN`)
        is that person, not the track's: dropped (the track misses this frame)."""
        for track in [k for k in self.tracks if k.id in found and k.appearance is not None]:
            box = landmark_box(found[track.id][0])
            others = [k for k in self.tracks if k is not track and k.appearance is not None and box_iou(k.box, box) > 0.1]
            if not others or (a := appearance(image, found[track.id][0])) is None:
                continue
            own = similarity(a, track.appearance)
            if max(similarity(a, k.appearance) for k in others) > own + SWITCH_MARGIN:
                logger.debug("people: track %d's detection looks like another person; dropped", track.id)
                del found[track.id]

    def _learn(self, image: np.ndarray, found: dict[int, Found]) -> None:
        """Update the appearance of the people found whose box overlaps nobody else's."""
        boxes = {k.id: k.box for k in self.tracks if k.id in found}
        for track in (k for k in self.tracks if k.id in found):
            if all(box_iou(track.box, b) == 0.0 for i, b in boxes.items() if i != track.id):
                track.learn(image, found[track.id][0])

    def _recognise(self, image: np.ndarray, landmarks: np.ndarray, found: dict[int, Found]) -> PersonTrack | None:
        """The missing person whom ``landmarks`` look like (:data:`REID_SIMILARITY`, :data:`REID_MARGIN`), or None."""
        missing = [k for k in self.tracks if k.id not in found and k.appearance is not None]
        if not missing or (a := appearance(image, landmarks)) is None:
            return None
        scores = sorted(((similarity(a, k.appearance), n) for n, k in enumerate(missing)), reverse=True)
        best, n = scores[0]
        runner_up = scores[1][0] if len(scores) > 1 else 0.0
        return missing[n] if best >= REID_SIMILARITY and best >= runner_up + REID_MARGIN else None

    def _drop_duplicates(self, found: dict[int, Found]) -> None:
        """Two detectors on one person: the older id keeps it, the younger gets a fresh detector,
        which searches its own (unchanged) crop again."""
        kept: list[int] = []
        for track in [k for k in self.tracks if k.id in found]:  # oldest first
            twin = next((i for i in kept if same_person(found[i][0], found[track.id][0])), None)
            if twin is None:
                kept.append(track.id)
                continue
            logger.debug("people: track %d landed on track %d's person; restarting it", track.id, twin)
            del found[track.id]
            track.detector.close()
            track.detector = self._new_detector()

    def _discover(self, image: np.ndarray, fill: np.ndarray, found: dict[int, Found], t: int, tiled: bool) -> None:
        """Static detections on the frame, then on its tiles, with the people found so far painted over."""
        h, w = image.shape[:2]
        masked = image.copy()
        seen = [k.box for k in self.tracks if k.id in found]
        for box in seen:
            masked[box_region(box, MASK_PAD)] = fill
        new: list[Found] = []
        # views of `masked`: what is painted over shows in every window
        windows = [(0, 0, masked)] + [(x, y, masked[y : y + n, x : x + n]) for x, y, n in (discovery_tiles(w, h) if tiled else [])]
        for x0, y0, window in windows:
            for _ in range(self.max_people + 2):  # each find paints one more box over
                full = len(self.tracks) + len(new) >= self.max_people
                if full and all(k.id in found for k in self.tracks):  # nobody to find again either
                    return self._start(new, found, t, image)
                if (result := self._finder.detect_with_world(window)) is None:
                    break
                result = (result[0] + np.array([x0, y0, 0, 0], np.float32), result[1])  # to image pixels
                box = landmark_box(result[0])
                masked[box_region(box, MASK_PAD)] = fill
                if box_height(box) < self.min_height or any(box_iou(box, b) > REFIND_IOU for b in seen):
                    continue  # too small, or what painting left of someone already found
                seen.append(box)
                back = next((k for k in self.tracks if k.id not in found and refinds(k.box, box)
                             and not unlike(k, image, result[0])), None)  # fmt: skip
                back = back or self._recognise(image, result[0], found)
                if back is None:
                    shadowed = next((i for i, r in found.items() if shadow_of(result[0], r[0])), None)
                    if shadowed is not None:
                        logger.debug("people: frame %d: a detection at person %d's feet is taken for their shadow",
                                     self.first_frame + t, shadowed)  # fmt: skip
                        continue
                    if not full or self._make_room(found, t):
                        new.append(result)
                    continue
                logger.debug("people: track %d found again at frame %d", back.id, t)
                back.box, back.crop, found[back.id] = box, self._view(box, w, h, len(self.tracks) + len(new) == 1), result
                back.detector.close()  # its tracking state belongs to the old crop
                back.detector = self._new_detector()
        self._start(new, found, t, image)

    def _make_room(self, found: dict[int, Found], t: int) -> bool:
        """All places are taken and someone new is in view: the person missing longest, if missing since
        the last discovery or before (not a passing occlusion), is given up (a later return gets a new
        id), so that the places go to people in view."""
        missing = [k for k in self.tracks if k.id not in found and k.missed >= self.discover_every]
        if not missing:
            return False
        gone = max(missing, key=lambda k: k.missed)
        logger.info("people: frame %d: someone new in view while --max-people %d are followed; track %d, missing for "
                    "%d frames, is given up for them", self.first_frame + t, self.max_people, gone.id, gone.missed)  # fmt: skip
        self.tracks.remove(gone)
        self.finished.append(gone)
        gone.detector.close()
        return True

    def _start(self, new: list[Found], found: dict[int, Found], t: int, image: np.ndarray) -> None:
        """New tracks for newcomers, larger people first (the order of their ids). Someone alone gets
        their own detector's landmarks of this frame too, so that its tracking starts here as the
        one-person detector's does (a lone person's keypoints are that detector's, frame for frame)."""
        (h, w), alone = image.shape[:2], len(self.tracks) + len(new) == 1
        for result in sorted(new, key=lambda r: -box_height(landmark_box(r[0]))):
            box = landmark_box(result[0])
            detector = self._new_detector()
            if alone and (own := detector.detect_with_world(image)) is not None and same_person(own[0], result[0]):
                result, box = own, landmark_box(own[0])
            track = PersonTrack(self._next_id, box, detector, self._view(box, w, h, alone))
            self._next_id += 1
            self.tracks.append(track)
            found[track.id] = result
            self._follow_back(track)
            first = min(track.rows, default=t)
            logger.debug("people: new track %d at frame %d (from %d), %.0f px tall", track.id, t, first, box_height(box))

    def _follow_back(self, track: PersonTrack) -> None:
        """Follow a newcomer back through the frames since the last discovery, until lost."""
        box, crop = track.box, track.crop
        detector = self._new_detector()
        try:
            for s, image, fill in reversed(self._recent):
                others = [k.rows[s][0] for k in self.tracks if k is not track and s in k.rows]
                result = detector.detect_with_world(crop.cut(image, fill, [landmark_box(o) for o in others], box))
                if result is None:
                    break
                landmarks = crop.to_image(result[0])
                box = landmark_box(landmarks)
                if box_height(box) < self.min_height or any(same_person(o, landmarks) for o in others):
                    break
                track.rows[s] = (landmarks, result[1])
                if isinstance(crop, Crop):
                    target = Crop.around(box, image.shape[1], image.shape[0])
                    crop = crop if crop.close_to(target) else target
        finally:
            detector.close()

    def _check_image(self, image: np.ndarray) -> np.ndarray:
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"frame {self._frame} must be uint8 [H, W, 3] RGB, got {image.dtype} {list(image.shape)}; "
                             "decode with diffmesh.io.video.iter_frames")  # fmt: skip
        self._size = self._size or image.shape[:2]
        if image.shape[:2] != self._size:
            (h, w), (h0, w0) = image.shape[:2], self._size
            raise ValueError(f"frame {self._frame} is {w}x{h} but the first frame was {w0}x{h0}; pass frames of one video")
        return np.ascontiguousarray(image)

    def result(self) -> PeopleKeypoints:
        """Everyone found so far, rows in order of first appearance (then larger people first);
        ``frame_indices`` count the frames passed to :meth:`detect` from 0."""
        n = self._frame
        tracks = sorted(self.tracks + self.finished, key=lambda k: (min(k.rows), -box_height(landmark_box(k.rows[min(k.rows)][0]))))
        kp33 = np.zeros((len(tracks), n, len(BLAZEPOSE_JOINTS), 4), np.float32)
        world33 = np.full((len(tracks), n, len(BLAZEPOSE_JOINTS), 3), np.nan, np.float32)
        detected = np.zeros((len(tracks), n), bool)
        for p, track in enumerate(tracks):
            for t, (landmarks, world) in track.rows.items():
                kp33[p, t], detected[p, t] = landmarks, True
                world33[p, t] = np.nan if world is None else world
        keypoints = np.where(detected[..., None, None], blazepose_to_h36m(kp33), 0.0).astype(np.float32)
        world = np.where(detected[..., None, None], blazepose_world_to_h36m(world33), np.nan).astype(np.float32)
        ids = np.array([k.id for k in tracks], dtype=np.int64)
        return PeopleKeypoints(ids, keypoints, world, detected, np.arange(n, dtype=np.int64), self.source)

    def close(self) -> None:
        with self._closing:  # the finder and the log redirection close last, whatever happens
            for track in self.tracks:
                track.detector.close()
            self.tracks = []

    def __enter__(self) -> PeopleDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_arguments(**values: Any) -> None:
    """One-line errors for :func:`detect_people`'s numeric arguments."""

    def number(v: Any, kinds: tuple[type, ...] = (int, float, np.integer, np.floating)) -> bool:
        return isinstance(v, kinds) and not isinstance(v, bool) and bool(np.isfinite(v))

    rules = {  # name: (test, expectation, default)
        "max_people": (lambda v: number(v, (int, np.integer)) and v >= 1, "an integer >= 1", 6),
        "discover_every": (lambda v: number(v, (int, np.integer)) and v >= 1, "an integer >= 1 (frames)", DISCOVER_EVERY),
        "max_gap": (lambda v: number(v, (int, np.integer)) and v >= 0, "an integer >= 0 (frames)", 30),
        "min_detection_confidence": (lambda v: number(v) and 0 < v <= 1, "in (0, 1]", 0.5),
        "min_height": (lambda v: number(v) and v > 0, "a positive number of pixels", 64),
        "tile_every": (lambda v: number(v, (int, np.integer)) and v >= 1, "an integer >= 1 (discoveries)", 1),
    }
    for name, value in values.items():
        test, expected, default = rules[name]
        if not test(value):
            raise ValueError(f"{name} must be {expected}, got {value!r}; the default is {default}")


def detect_people(
    frames: Iterable[np.ndarray],
    *,
    max_people: int = 6,
    discover_every: int = DISCOVER_EVERY,
    max_gap: int = 30,
    min_detection_confidence: float = 0.5,
    min_height: float = 64.0,
    tiles: bool = True,
    tile_every: int = 1,
    progress: Progress = no_progress,
    camera_K: np.ndarray | None = None,
    estimate_focal: bool = False,
    detector_model: str = DEFAULT_DETECTOR_MODEL,
    first_frame: int = 0,
    listener: Callable[[int, list[PersonTrack]], None] | None = None,
) -> PeopleKeypoints:
    """Find and follow people through consecutive frames (see the module docstring).

    Args:
        frames: ``uint8 [H, W, 3]`` RGB images of one video, in order.
        max_people: most people followed at once (when one is given up, another may be found).
        discover_every: frames between two searches for new people (also searched: the first
            frame, and every frame while nobody is followed).
        max_gap: a person missing for more than this many frames is given up (a new id if found later).
        min_detection_confidence: BlazePose person-detector threshold.
        min_height: people shorter than this many pixels (landmark box) are ignored.
        tiles: discovery on scheduled frames also searches overlapping tiles of the frame
            (``TILE_FRACTION``), finding people ~2x smaller, for ~6 more detector runs;
            ``tile_every``: only every this-many-th scheduled discovery does (frame 0 always).
        progress: ``progress("detect", done, total)`` per frame (``total`` 0 when unknown).
        camera_K: ``[3, 3]`` intrinsics: also measure the camera's rotation on the same frames, with
            everyone found in a frame kept out of the background (:class:`~diffmesh.pipelines.keypoints.CameraPass`);
            ``estimate_focal``: and its focal length where it turns enough.
        detector_model: the BlazePose landmark model (:mod:`diffmesh.pipelines.blazepose_models`).
        first_frame: the video's number of the first frame, for log messages.
        listener: ``listener(t, tracks)`` after frame ``t`` (from 0) with the people followed then
            (their ``rows`` hold every detection so far, newcomers' earlier frames included).

    Returns:
        :class:`PeopleKeypoints` with ``frame_indices`` ``0, 1, ...``.

    Raises:
        ValueError: a bad argument, frames of different sizes or types, or no frames.
    """
    total = len(frames) if hasattr(frames, "__len__") else 0
    with PeopleDetector(max_people, discover_every, max_gap, min_detection_confidence, min_height, tiles, detector_model,
                        first_frame, tile_every) as det, \
            CameraPass(camera_K) as camera:  # fmt: skip
        for count, image in enumerate(frames, 1):
            found = det.detect(image)
            camera.add(image, {i: landmarks for i, (landmarks, _) in found.items()})
            if listener is not None:
                listener(count - 1, det.tracks)
            progress("detect", count, total)
        people = det.result()
        people.camera = camera.result(estimate_focal) if people.detected.shape[1] else None
    if not people.detected.shape[1]:
        raise ValueError("frames is empty; pass at least one uint8 [H, W, 3] RGB frame")
    rates = ", ".join(f"id {i}: {d.mean():.0%}" for i, d in zip(people.track_ids, people.detected))
    logger.info("people: %d found in %d frames (detected in %s)", len(people), people.detected.shape[1], rates or "-")
    return people


def detect_people_video(path: str | os.PathLike[str], start: int = 0, end: int | None = None, **kw: Any) -> PeopleKeypoints:
    """:func:`detect_people` on frames ``[start, end)`` of a video (``end=None``: to its last frame),
    with video frame indices. Keyword arguments are :func:`detect_people`'s; ``tile_every`` defaults
    to about one tile search per :data:`TILE_SECONDS` of video.

    Raises:
        FileNotFoundError, ValueError: no such video, a bad frame range, or a truncated file.
    """
    info = probe_video(path)
    end = info.num_frames if end is None else end
    if not 0 <= start < end <= info.num_frames:
        raise ValueError(f"frame range start={start}, end={end} does not fit {str(path)!r} ({info.num_frames} frames); "
                         f"pass 0 <= start < end <= {info.num_frames}")  # fmt: skip
    progress: Progress = kw.pop("progress", no_progress)
    kw.setdefault("tile_every", max(1, round(TILE_SECONDS * info.fps / kw.get("discover_every", DISCOVER_EVERY))))
    n = end - start
    # one decoder thread (the prefetcher) beside the single-threaded detectors
    frames = (frame.image for frame in prefetch(iter_frames(path, start, end, threads=1)))
    people = detect_people(frames, progress=lambda stage, done, _: progress(stage, done, n), first_frame=start, **kw)
    if (got := people.detected.shape[1]) != n:
        raise ValueError(f"{str(path)!r} is truncated or corrupt: {got} of the {n} frames it declares could be "
                         "decoded; re-encode it (ffmpeg -i in.mp4 out.mp4) or pass an earlier end")  # fmt: skip
    people.frame_indices = np.arange(start, end, dtype=np.int64)
    return people
