"""Several people's BlazePose keypoints with stable identities, from the single-person model.

mediapipe 0.10.21 ships only single-person BlazePose (COMPONENTS.md §7) and nothing may be
downloaded at run time, so people are found with several copies of it. Where they look is
:mod:`~diffmesh.pipelines.person_crops` (boxes, crops, tiles and the thresholds named below); what
they look like, :mod:`~diffmesh.pipelines.appearance`.

* **one detector per person** (:class:`~diffmesh.pipelines.keypoints.PoseDetector`, video mode)
  sees the whole frame while nobody else is followed (a lone person's keypoints do not depend on
  ``max_people``), else a square crop around the person's last box (``CROP_MARGIN`` times its larger
  side, inside the image where it fits, else padded; resized to ``CROP_SIZE``), the others' boxes
  painted over; landmarks are mapped back to image pixels. The crop stays put until the person
  drifts (``RECROP_SHIFT``): the detector's tracking and smoothing see a steady image;
* **discovery** (:mod:`~diffmesh.pipelines.discovery`): on frame 0, every ``discover_every`` frames
  and while nobody is followed, a static-image detector searches the frame (about once a second,
  :data:`TILE_SECONDS`, its tiles too) with the people found painted over. While one person is
  followed it searches on its own thread, its result taken ``discovery_lag`` frames later. A newcomer
  is followed *back* through the frames since the search before, and *forward* to the current frame;
  one lying from the feet of someone found (``SHADOW_FOOT_DISTANCE``, ``SHADOW_TILT_DEG``) is a shadow;
* **identity**: each person's detector keeps them. A detection that jumps (``refinds``) or whose
  box shrinks or grows by more than :data:`MAX_GROWTH` in one frame (half a person hidden by
  another, one skeleton over two people) is rejected, and so is one that, while two people
  overlap, looks more like the other person (:data:`~diffmesh.pipelines.person_track.SWITCH_MARGIN`). Looks (hue-saturation
  histograms of the torso and legs) are learnt while the person stands clear of everyone. A
  discovered person is a missing one if near their last box (``REFIND_IOU``, ``REFIND_DISTANCE``)
  and not clearly unlike them (:data:`~diffmesh.pipelines.person_track.UNLIKE_SIMILARITY`) or, anywhere, if they look like them
  (:data:`~diffmesh.pipelines.person_track.REID_SIMILARITY`); anyone else gets a new id (never reused). A person missing for more
  than ``max_gap`` frames is given up, or, once missing for ``discover_every`` frames, sooner when
  ``max_people`` are followed and someone new is in view (the places go to people in view; with
  every place held by someone in view, discovery does not run). Two detectors on one person (``DUPLICATE_IOU``,
  ``DUPLICATE_DISTANCE``): the older id keeps them, the younger gets a fresh detector.

People shorter than ``min_height`` pixels (landmark box) are ignored (BlazePose is unreliable
on small crops). Limits: someone entering where a person left less than ``max_gap`` frames before
inherits the id unless they look clearly different (:data:`~diffmesh.pipelines.person_track.UNLIKE_SIMILARITY`); a person jumping
out of their crop between two frames is found again only by the next discovery.
:meth:`~diffmesh.pipelines.people_keypoints.PeopleKeypoints.person` gives one person as the single-person
:class:`~diffmesh.pipelines.keypoints.FrameKeypoints`: later stages run unchanged.
"""

from __future__ import annotations

import logging
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from typing import Any

import numpy as np

from diffmesh.conventions import BLAZEPOSE_JOINTS, blazepose_to_h36m, blazepose_world_to_h36m
from diffmesh.io.video import iter_frames, probe_video
from diffmesh.pipelines.keypoints import CameraPass, PoseDetector, detector_source
from diffmesh.pipelines.blazepose_models import DEFAULT_DETECTOR_MODEL, check_detector_model
from diffmesh.pipelines.discovery import DISCOVERY_LAG, Pending, Searcher
from diffmesh.pipelines.native_logs import native_logs_to_logging
from diffmesh.pipelines.people_keypoints import PeopleKeypoints
from diffmesh.pipelines.person_track import Found, PersonTrack, drop_switches, learn_looks, recognise, unlike
from diffmesh.pipelines.person_crops import Crop, WholeFrame, box_height, landmark_box, refinds, same_person, shadow_of
from diffmesh.pipelines.settings import Progress, no_progress
from diffmesh.pipelines.threads import prefetch

logger = logging.getLogger(__name__)

__all__ = ["PeopleDetector", "detect_people", "detect_people_video"]

#: From one frame to the next a person's box height changes by less than this factor; a detection
#: that shrinks or grows more (a person half hidden by another, a skeleton spanning two people) is rejected:
#: the person is missing in that frame. Not while they are alone (a spin kick's leg can grow the box faster).
MAX_GROWTH = 1.4
#: Frames between two scheduled searches for new people (the default of ``discover_every``).
DISCOVER_EVERY = 10
#: A video's discovery searches the frame's tiles (people too small for the whole frame's search) about
#: once per this many seconds (every scheduled discovery at 10 frames/s, every third at 30): six tile
#: searches every 10 frames made a one-person video's keypoint pass 1.5x slower than the one-person run's.
TILE_SECONDS = 1.0


class PeopleDetector:
    """Finds and follows up to ``max_people`` people, one frame at a time (see the module docstring).

    Call :meth:`detect` on consecutive frames of one video, then :meth:`result`; close it (or use
    it as a context manager). Arguments are those of :func:`detect_people`.
    """

    name = "mediapipe-blazepose-people"

    def __init__(self, max_people: int | None = None, discover_every: int = DISCOVER_EVERY, max_gap: int = 30,
                 min_detection_confidence: float = 0.5, min_height: float = 64.0, tiles: bool = True,
                 detector_model: str = DEFAULT_DETECTOR_MODEL, first_frame: int = 0, tile_every: int = 1,
                 discovery_lag: int = DISCOVERY_LAG, detector_threads: int = 1) -> None:  # fmt: skip
        self.detector_model, self.detector_threads = check_detector_model(detector_model), detector_threads
        _check_arguments(max_people=max_people, discover_every=discover_every, max_gap=max_gap,
                         min_detection_confidence=min_detection_confidence, min_height=min_height, tile_every=tile_every,
                         discovery_lag=discovery_lag, detector_threads=detector_threads)  # fmt: skip
        self.max_people = sys.maxsize if max_people is None else max_people  # None: no cap
        self.discover_every, self.max_gap, self.tile_every = discover_every, max_gap, tile_every
        self.lag = min(discovery_lag, discover_every - 1)  # a search's result is taken before the next search
        self.min_detection_confidence, self.min_height, self.tiles = min_detection_confidence, min_height, bool(tiles)
        self.tracks: list[PersonTrack] = []  # followed now, oldest first
        self.finished: list[PersonTrack] = []
        self._next_id, self._frame = 0, 0
        self.first_frame = first_frame  # the video's frame number of the first frame passed, for messages
        self._size: tuple[int, int] | None = None
        # the last frames (number, image, fill): newcomers are followed back (to the search before) and forward through them
        self._frames: deque[tuple[int, np.ndarray, np.ndarray]] = deque(maxlen=discover_every + self.lag)
        self._last_search = -1  # the frame of the last search for people
        self._pending: Pending | None = None  # a search beside the followers, its result not yet taken
        with ExitStack() as stack:  # kept open (pop_all) unless the detector fails to start
            # one redirection of native log lines for all the detectors opened and closed meanwhile
            stack.enter_context(native_logs_to_logging(logger))
            self._finder = PoseDetector(min_detection_confidence, static_image_mode=True, quiet=False, model=detector_model)
            stack.callback(self._finder.close)
            self._searcher = Searcher(self._finder, min_height)
            stack.callback(self._searcher.close)  # before the finder it uses
            self._closing = stack.pop_all()
        self.version = self._finder.version
        self.source = detector_source(self.name, detector_model, self.version)

    def _new_detector(self) -> PoseDetector:
        return PoseDetector(self.min_detection_confidence, static_image_mode=False, quiet=False, model=self.detector_model,
                            threads=self.detector_threads)

    def detect(self, image: np.ndarray) -> dict[int, Found]:
        """Follow and discover people in the next frame (``uint8 [H, W, 3]`` RGB): ``{id: detection}``
        for this frame (people followed back into earlier frames show in :meth:`result` only)."""
        image = self._check_image(image)
        t, (h, w) = self._frame, image.shape[:2]
        self._frame += 1
        fill = image[::8, ::8].reshape(-1, 3).mean(0).astype(np.uint8)
        if self._pending is not None and (self._pending.frame + self.lag == t or not self.tracks):
            self._take_pending(t)
        others = {k.id: [o.box for o in self.tracks if o is not k and o.missed == 0] for k in self.tracks}  # seen last frame
        found = {k.id: r for k in self.tracks if (r := self._follow(k, image, fill, others[k.id])) is not None}
        self._drop_duplicates(found)
        drop_switches(self.tracks, image, found)
        for track in (k for k in self.tracks if k.id in found):
            track.box = landmark_box(found[track.id][0])
            self._look_at(track, w, h)
        learn_looks(self.tracks, image, found)
        kept = image.copy()
        if not self.tracks or t % self.discover_every == 0:
            # the tiles on every tile_every-th scheduled discovery only: they cost ~6 more detector runs
            tiled = self.tiles and t % (self.tile_every * self.discover_every) == 0
            # beside the follower while one person is followed (whose view, the whole frame, does not change with
            # others found); in line otherwise: with several people, who is painted over must be known at once
            self._search(kept, fill, found, t, tiled, self.lag if len(self.tracks) == 1 else 0)
        self._frames.append((t, kept, fill))
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

    def _look_at(self, track: PersonTrack, w: int, h: int) -> None:
        """Move ``track``'s view to its last box (a new detector when it changes between whole frame and crop)."""
        target = self._view(track.box, w, h, alone=len(self.tracks) == 1)
        if not track.crop.close_to(target):
            if type(target) is not type(track.crop):  # whole frame <-> crop: its tracking state no longer fits
                track.detector.close()
                track.detector = self._new_detector()
            track.crop = target

    def _others_at(self, track: PersonTrack, s: int) -> list[np.ndarray]:
        """The landmarks of everyone else found in frame ``s``."""
        return [k.rows[s][0] for k in self.tracks if k is not track and s in k.rows]

    def _follow(self, track: PersonTrack, image: np.ndarray, fill: np.ndarray, others: list[np.ndarray]) -> Found | None:
        """``track``'s detector on its crop, the ``others`` boxes painted over."""
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

    def _search(self, image: np.ndarray, fill: np.ndarray, found: dict[int, Found], t: int, tiled: bool, lag: int) -> None:
        """Search frame ``t`` for people (:func:`~diffmesh.pipelines.discovery.search`), the result taken now
        or, with ``lag``, on the searcher's thread and taken ``lag`` frames on (:meth:`_take_pending`)."""
        seen = [k.box for k in self.tracks if k.id in found]
        if (room := self.max_people - len(seen)) > 0:  # places not held by someone in view
            job = self._searcher.submit(image, fill, seen, tiled, room)
            if lag:
                self._pending = Pending(t, self._last_search, image, job)
            else:
                self._take(t, image, found, job.result(), self._last_search, t)
        self._last_search = t

    def _take_pending(self, now: int) -> None:
        """The pending search's people, as of its frame, followed forward to frame ``now`` (not included)."""
        pending, self._pending = self._pending, None
        found = {k.id: k.rows[pending.frame] for k in self.tracks if pending.frame in k.rows}
        self._take(pending.frame, pending.image, found, pending.result.result(), pending.after, now)

    def _take(self, t: int, image: np.ndarray, found: dict[int, Found], results: list[Found], after: int, now: int) -> None:
        """Who a search of frame ``t`` found: a missing person found again, a shadow, or a newcomer (followed
        back to frame ``after``, not included). ``found``: the detections of frame ``t``, updated here. When
        the search ran beside the followers, its people are followed forward to frame ``now``."""
        h, w = image.shape[:2]
        new: list[Found] = []
        for result in results:
            full = len(self.tracks) + len(new) >= self.max_people
            if full and all(k.id in found for k in self.tracks):  # nobody to find again either
                break
            box = landmark_box(result[0])
            # missing at frame t and since (a person found again by their own detector meanwhile keeps those rows)
            missing = [k for k in self.tracks if k.id not in found and not any(s in k.rows for s in range(t, now))]
            back = next((k for k in missing if refinds(k.box, box) and not unlike(k, image, result[0])), None)
            back = back or recognise(image, result[0], missing)
            if back is None:
                shadowed = next((i for i, r in found.items() if shadow_of(result[0], r[0])), None)
                if shadowed is not None:
                    logger.debug("people: frame %d: a detection at person %d's feet is taken for their shadow",
                                 self.first_frame + t, shadowed)  # fmt: skip
                elif not full or self._make_room(found, t):
                    new.append(result)
                continue
            logger.debug("people: track %d found again at frame %d", back.id, t)
            back.box, back.crop, found[back.id] = box, self._view(box, w, h, len(self.tracks) + len(new) == 1), result
            back.detector.close()  # its tracking state belongs to the old crop
            back.detector = self._new_detector()
            back.rows[t] = result
            self._follow_forward(back, t, now)
        self._start(new, found, t, image, after, now)

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

    def _start(self, new: list[Found], found: dict[int, Found], t: int, image: np.ndarray, after: int, now: int) -> None:
        """New tracks for newcomers of frame ``t``, larger people first (the order of their ids), followed
        back to frame ``after`` and forward to frame ``now`` (neither included). Someone alone gets their
        own detector's landmarks of this frame too, so that its tracking starts here as the one-person
        detector's does (a lone person's keypoints are that detector's, frame for frame)."""
        (h, w), alone = image.shape[:2], len(self.tracks) + len(new) == 1
        for result in sorted(new, key=lambda r: -box_height(landmark_box(r[0]))):
            box = landmark_box(result[0])
            detector = self._new_detector()
            if alone and (own := detector.detect_with_world(image)) is not None and same_person(own[0], result[0]):
                result, box = own, landmark_box(own[0])
            track = PersonTrack(self._next_id, box, detector, self._view(box, w, h, alone))
            self._next_id += 1
            self.tracks.append(track)
            found[track.id] = track.rows[t] = result
            self._follow_back(track, after, t)
            self._follow_forward(track, t, now)
            first = min(track.rows, default=t)
            logger.debug("people: new track %d at frame %d (from %d), %.0f px tall", track.id, t, first, box_height(box))

    def _follow_back(self, track: PersonTrack, after: int, t: int) -> None:
        """Follow a newcomer of frame ``t`` back through the frames since frame ``after``, until lost."""
        frames = [f for f in reversed(self._frames) if after < f[0] < t]
        if not frames:
            return
        box, crop = track.box, track.crop
        detector = self._new_detector()
        try:
            for s, image, fill in frames:
                others = self._others_at(track, s)
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

    def _follow_forward(self, track: PersonTrack, t: int, now: int) -> None:
        """Follow someone found at frame ``t`` by a search taken late through the frames up to ``now``
        (not included) with their own detector, as :meth:`detect` would have."""
        track.missed = 0
        for s, image, fill in (f for f in self._frames if t < f[0] < now):
            others = self._others_at(track, s)
            result = self._follow(track, image, fill, [landmark_box(o) for o in others])
            if result is None or any(same_person(o, result[0]) for o in others):
                track.missed += 1
                continue
            track.rows[s], track.missed, track.box = result, 0, landmark_box(result[0])
            self._look_at(track, image.shape[1], image.shape[0])

    @property
    def settled(self) -> int:
        """The last frame whose detections no longer change (a pending search may add people to later ones)."""
        return (self._pending.frame if self._pending is not None else self._frame) - 1

    def finish(self) -> None:
        """Take a pending search's result (after the last frame; :meth:`result` does it too)."""
        if self._pending is not None:
            self._take_pending(self._frame)

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
        self.finish()
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
        "max_people": (lambda v: v is None or number(v, (int, np.integer)) and v >= 1, "an integer >= 1 or None (everyone)", None),
        "discover_every": (lambda v: number(v, (int, np.integer)) and v >= 1, "an integer >= 1 (frames)", DISCOVER_EVERY),
        "max_gap": (lambda v: number(v, (int, np.integer)) and v >= 0, "an integer >= 0 (frames)", 30),
        "min_detection_confidence": (lambda v: number(v) and 0 < v <= 1, "in (0, 1]", 0.5),
        "min_height": (lambda v: number(v) and v > 0, "a positive number of pixels", 64),
        "tile_every": (lambda v: number(v, (int, np.integer)) and v >= 1, "an integer >= 1 (discoveries)", 1),
        "discovery_lag": (lambda v: number(v, (int, np.integer)) and v >= 0, "an integer >= 0 (frames)", DISCOVERY_LAG),
        "detector_threads": (lambda v: number(v, (int, np.integer)) and v >= 1, "an integer >= 1", 1),
    }
    for name, value in values.items():
        test, expected, default = rules[name]
        if not test(value):
            raise ValueError(f"{name} must be {expected}, got {value!r}; the default is {default}")


def detect_people(
    frames: Iterable[np.ndarray],
    *,
    max_people: int | None = None,
    discover_every: int = DISCOVER_EVERY,
    max_gap: int = 30,
    min_detection_confidence: float = 0.5,
    min_height: float = 64.0,
    tiles: bool = True, tile_every: int = 1,
    progress: Progress = no_progress,
    camera_K: np.ndarray | None = None,
    estimate_focal: bool = False,
    detector_model: str = DEFAULT_DETECTOR_MODEL,
    first_frame: int = 0,
    listener: Callable[[int, list[PersonTrack]], None] | None = None,
    discovery_lag: int = DISCOVERY_LAG, detector_threads: int = 1,
) -> PeopleKeypoints:
    """Find and follow people through consecutive frames (see the module docstring).

    Args:
        frames: ``uint8 [H, W, 3]`` RGB images of one video, in order.
        max_people: most people followed at once (when one is given up, another may be found); None:
            everyone found.
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
        discovery_lag: frames between a scheduled search's frame and the frame its result is taken
            (:data:`~diffmesh.pipelines.discovery.DISCOVERY_LAG`; at most ``discover_every - 1``): the
            search runs on its own thread meanwhile. 0: in line (frame 0 and while nobody is followed, always).
        detector_threads: XNNPACK threads of each followed person's detector (the searches keep one).
        listener: ``listener(t, tracks)`` after each frame with the people followed then: their ``rows``
            hold every detection so far, newcomers' earlier frames included, final up to frame ``t``
            (from 0; a search taken late may still add detections after it).

    Returns:
        :class:`PeopleKeypoints` with ``frame_indices`` ``0, 1, ...``.

    Raises:
        ValueError: a bad argument, frames of different sizes or types, or no frames.
    """
    total = len(frames) if hasattr(frames, "__len__") else 0
    with PeopleDetector(max_people, discover_every, max_gap, min_detection_confidence, min_height, tiles, detector_model,
                        first_frame, tile_every, discovery_lag, detector_threads) as det, \
            CameraPass(camera_K) as camera:  # fmt: skip
        for count, image in enumerate(frames, 1):
            found = det.detect(image)
            camera.add(image, {i: landmarks for i, (landmarks, _) in found.items()})
            if listener is not None:
                listener(det.settled, det.tracks)
            progress("detect", count, total)
        det.finish()
        if listener is not None and det.settled >= 0:
            listener(det.settled, det.tracks)
        people = det.result()
        people.camera = camera.result(estimate_focal) if people.detected.shape[1] else None
    if not people.detected.shape[1]:
        raise ValueError("frames is empty; pass at least one uint8 [H, W, 3] RGB frame")
    rates = ", ".join(f"id {i}: {d.mean():.0%}" for i, d in zip(people.track_ids, people.detected))
    if len(people):  # nobody: the caller's error says so
        logger.info("people: %d found in %d frames (detected in %s)", len(people), people.detected.shape[1], rates)
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
