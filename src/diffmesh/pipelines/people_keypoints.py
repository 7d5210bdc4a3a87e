"""Several people's keypoints over one video, one row per person: what
:mod:`diffmesh.pipelines.people` finds and the later stages read (cached as named arrays)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffmesh.geometry.camera_motion import CameraMotion
from diffmesh.pipelines.keypoints import FrameKeypoints

__all__ = ["PeopleKeypoints"]


@dataclass
class PeopleKeypoints:
    """Several people's H36M-17 keypoints over the same frames, one row per person.

    Attributes:
        track_ids: ``[P]`` int64, each person's id, given when they are discovered and never
            reused. Rows are in order of first appearance (then larger people first).
        keypoints: ``[P, N, 17, 3]`` float32, x, y in full-image pixels and confidence; 0 where
            the person is not detected.
        world: ``[P, N, 17, 3]`` float32, BlazePose ``pose_world_landmarks`` as H36M-17 (metres,
            origin between the hips, camera axes); NaN where the person is not detected.
        detected: ``[P, N]`` bool.
        frame_indices: ``[N]`` int64 video frame index of each column.
        source: the detector (``"mediapipe-blazepose-people-0.10.21"``).
        camera: the camera's rotation (and focal length) measured on the same frames with everyone
            found kept out of the background (:func:`detect_people_video` with ``camera_K``), or None.
    """

    track_ids: np.ndarray
    keypoints: np.ndarray
    world: np.ndarray
    detected: np.ndarray
    frame_indices: np.ndarray
    source: str
    camera: CameraMotion | None = None

    def __len__(self) -> int:
        return len(self.track_ids)

    def person(self, p: int) -> FrameKeypoints:
        """Row ``p`` as the single-person :class:`FrameKeypoints` (world joints 0 where not detected)."""
        if not 0 <= p < len(self):
            raise ValueError(f"person index {p} is out of range: {len(self)} people were found; pass 0..{len(self) - 1}")
        detected = self.detected[p].copy()
        world = np.where(detected[:, None, None], np.nan_to_num(self.world[p]), 0.0).astype(np.float32)
        return FrameKeypoints(self.keypoints[p].copy(), detected, self.frame_indices.copy(), self.source, world)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Named arrays for the stage cache (:meth:`from_arrays` reads them back)."""
        arrays = {k: v for k, v in vars(self).items() if k != "camera"} | {"source": np.array(self.source)}
        return arrays | (self.camera.to_arrays() if self.camera is not None else {})

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> PeopleKeypoints:
        return cls(a["track_ids"], a["keypoints"], a["world"], a["detected"], a["frame_indices"], str(a["source"]),
                   CameraMotion.from_arrays(a))  # fmt: skip
