"""One person followed by :class:`~diffmesh.pipelines.people.PeopleDetector`: their detector, what it
sees (a crop or the whole frame), their last box, their detections frame by frame and their learnt
appearance (:mod:`~diffmesh.pipelines.appearance`), and how looks keep identities: learnt while a
person stands clear, a detection that jumped onto someone else dropped, a missing person recognised."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from diffmesh.pipelines.appearance import APPEARANCE_RATE, appearance, similarity
from diffmesh.pipelines.keypoints import PoseDetector
from diffmesh.pipelines.person_crops import Crop, WholeFrame, box_iou, landmark_box

logger = logging.getLogger(__name__)

__all__ = ["REID_MARGIN", "REID_SIMILARITY", "SWITCH_MARGIN", "UNLIKE_SIMILARITY", "Found", "PersonTrack",
           "drop_switches", "learn_looks", "recognise", "unlike"]  # fmt: skip

#: A missing person is recognised by appearance alone (anywhere, at a discovery) at this similarity
#: (Bhattacharyya coefficient, 1 = the same histograms) or more, and by :data:`REID_MARGIN` over any
#: other missing person. On the rendered several-people benchmark one person's similarity to
#: themselves over a clip is 0.81-1.0, to someone else at most 0.69 (median 0.3).
REID_SIMILARITY, REID_MARGIN = 0.75, 0.1
#: While two people's boxes overlap, a person's detection that looks more like the other one (by
#: this margin) is the detector having jumped onto them: rejected, the person is missing this frame.
SWITCH_MARGIN = 0.15

#: Below this similarity a person found where a missing one was last seen is someone else (a new id).
UNLIKE_SIMILARITY = 0.5


def unlike(track: PersonTrack, image: np.ndarray, landmarks: np.ndarray) -> bool:
    """``landmarks`` clearly look like someone other than ``track`` (similarity under :data:`UNLIKE_SIMILARITY`)."""
    if track.appearance is None or (a := appearance(image, landmarks)) is None:
        return False
    return similarity(a, track.appearance) < UNLIKE_SIMILARITY


#: One detection: landmarks ``[33, 4]`` (x, y, z image pixels, visibility), world ``[33, 3]`` or None.
Found = tuple[np.ndarray, "np.ndarray | None"]


@dataclass
class PersonTrack:
    """One followed person (see the module docstring)."""

    id: int
    box: np.ndarray  # the last detection's
    detector: PoseDetector
    crop: Crop | WholeFrame
    missed: int = 0  # frames since the last detection
    rows: dict[int, Found] = field(default_factory=dict)  # frame number → detection
    appearance: np.ndarray | None = None  # moving average of appearance where the person stands clear

    def learn(self, image: np.ndarray, landmarks: np.ndarray) -> None:
        a = appearance(image, landmarks)
        if a is None:
            return
        if self.appearance is None:
            self.appearance = a
        else:
            mixed = (1 - APPEARANCE_RATE) * self.appearance + APPEARANCE_RATE * a
            self.appearance = np.where(np.isnan(self.appearance), a, np.where(np.isnan(a), self.appearance, mixed))


def drop_switches(tracks: list[PersonTrack], image: np.ndarray, found: dict[int, Found]) -> None:
    """A detection overlapping another person's last box that looks like them (:data:`SWITCH_MARGIN`)
    is that person, not the track's: dropped from ``found`` (the track misses this frame)."""
    for track in [k for k in tracks if k.id in found and k.appearance is not None]:
        box = landmark_box(found[track.id][0])
        others = [k for k in tracks if k is not track and k.appearance is not None and box_iou(k.box, box) > 0.1]
        if not others or (a := appearance(image, found[track.id][0])) is None:
            continue
        own = similarity(a, track.appearance)
        if max(similarity(a, k.appearance) for k in others) > own + SWITCH_MARGIN:
            logger.debug("people: track %d's detection looks like another person; dropped", track.id)
            del found[track.id]


def learn_looks(tracks: list[PersonTrack], image: np.ndarray, found: dict[int, Found]) -> None:
    """Update the appearance of the people found whose box overlaps nobody else's."""
    boxes = {k.id: k.box for k in tracks if k.id in found}
    for track in (k for k in tracks if k.id in found):
        if all(box_iou(track.box, b) == 0.0 for i, b in boxes.items() if i != track.id):
            track.learn(image, found[track.id][0])


def recognise(image: np.ndarray, landmarks: np.ndarray, missing: list[PersonTrack]) -> PersonTrack | None:
    """The ``missing`` person whom ``landmarks`` look like (:data:`REID_SIMILARITY`, :data:`REID_MARGIN`), or None."""
    missing = [k for k in missing if k.appearance is not None]
    if not missing or (a := appearance(image, landmarks)) is None:
        return None
    scores = sorted(((similarity(a, k.appearance), n) for n, k in enumerate(missing)), reverse=True)
    best, n = scores[0]
    runner_up = scores[1][0] if len(scores) > 1 else 0.0
    return missing[n] if best >= REID_SIMILARITY and best >= runner_up + REID_MARGIN else None
