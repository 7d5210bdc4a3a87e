"""One person followed by :class:`~diffmesh.pipelines.people.PeopleDetector`: their detector, what it
sees (a crop or the whole frame), their last box, their detections frame by frame and their learnt
appearance (:mod:`~diffmesh.pipelines.appearance`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from diffmesh.pipelines.appearance import APPEARANCE_RATE, appearance, similarity
from diffmesh.pipelines.keypoints import PoseDetector
from diffmesh.pipelines.person_crops import Crop, WholeFrame

__all__ = ["UNLIKE_SIMILARITY", "Found", "PersonTrack", "unlike"]

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
