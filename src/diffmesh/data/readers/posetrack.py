"""PoseTrack18 2-D tracks for pre-training (``data/motion2d/posetrack18_annotations/train/*.json``; DATA.md §3.1, §6).

:class:`PoseTrackDataset2D` is the official ``PoseTrackDataset2D``: per annotation file,
keypoints grouped by ``track_id``; per track the first 30 frames, skipped if the summed
visibility is ≤ 306, ``crop_scale`` with one ratio ~ U(0.25, 1) drawn at construction,
PoseTrack→H36M, joints with confidence 0 zeroed, skipped unless the root is visible in every
frame. Items are :class:`~diffmesh.data.types.PoseClip` with ``label`` = the clean clip
(x, y, visibility: the 2-D loss target and weight), randomly flipped (p = 0.5).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from diffmesh.conventions import POSETRACK_JOINTS, posetrack_to_h36m
from diffmesh.data.readers._io import PathLike, item_rng, require_mapping
from diffmesh.data.transforms import RandomSource
from diffmesh.data.types import PoseClip
from diffmesh.geometry.crop import crop_scale
from diffmesh.geometry.flip import flip_data

logger = logging.getLogger(__name__)

__all__ = ["POSETRACK_DIR", "read_posetrack_tracks", "PoseTrackDataset2D"]

POSETRACK_DIR = "motion2d/posetrack18_annotations/train"
#: Frames kept per track.
TRACK_FRAMES = 30
#: A track is kept only if its summed visibility exceeds this (of 30 × 17 = 510).
MIN_VISIBILITY_SUM = 306


def read_posetrack_tracks(folder: PathLike) -> list[np.ndarray]:
    """All tracks of all ``*.json`` files (sorted), each ``[n_frames, 17, 3]`` in annotation order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"PoseTrack annotation folder {str(folder)!r} not found; expected <data_root>/{POSETRACK_DIR}")
    tracks: list[np.ndarray] = []
    for path in sorted(folder.glob("*.json")):
        with path.open() as f:
            try:
                content = json.load(f)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{str(path)!r} is not valid JSON ({exc}); expected a PoseTrack18 annotation file") from exc
        require_mapping(content, ("annotations",), path)
        motions: dict = defaultdict(list)
        for i, ann in enumerate(content["annotations"]):
            require_mapping(ann, ("track_id", "keypoints"), path, f"annotations[{i}]")
            kp = np.asarray(ann["keypoints"], dtype=np.float64)
            if kp.size != 3 * len(POSETRACK_JOINTS):
                raise ValueError(
                    f"{str(path)!r}: annotations[{i}].keypoints has {kp.size} values, expected 51 (17 × x, y, visibility)"
                )
            motions[ann["track_id"]].append(kp.reshape(-1, 3))
        tracks.extend(np.stack(m) for m in motions.values())
    return tracks


class PoseTrackDataset2D(Dataset):
    """Filtered 30-frame PoseTrack clips ``[30, 17, 3]`` (H36M order, normalised).

    Args:
        folder: the annotation folder.
        flip: random flip p = 0.5.
        scale_range: ``crop_scale`` ratio range (drawn once per track at construction).
        seed: seed of the construction draws and of the per-item flips.
        rng: construction random source (default ``np.random.default_rng(seed)``;
            ``official_global_rng()`` replays the official draws).
    """

    def __init__(
        self,
        folder: PathLike,
        flip: bool = True,
        scale_range: tuple[float, float] = (0.25, 1.0),
        seed: int = 0,
        rng: RandomSource | None = None,
    ) -> None:
        rng = np.random.default_rng(seed) if rng is None else rng
        kept = []
        for motion in read_posetrack_tracks(folder):
            if len(motion) < TRACK_FRAMES:
                continue
            motion = motion[:TRACK_FRAMES]
            if np.sum(motion[:, :, 2]) <= MIN_VISIBILITY_SUM:
                continue
            motion = posetrack_to_h36m(crop_scale(motion, scale_range, rng=rng))
            motion[motion[:, :, 2] == 0] = 0
            if np.sum(motion[:, 0, 2]) < TRACK_FRAMES:  # root visible everywhere (root-relative targets)
                continue
            kept.append(motion.astype(np.float32))
        self.motions = np.stack(kept) if kept else np.zeros((0, TRACK_FRAMES, 17, 3), np.float32)
        self.flip = flip
        self.seed = seed
        self.epoch = 0
        logger.info("PoseTrack: kept %d tracks from %s", len(self.motions), folder)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.motions)

    def __getitem__(self, index: int) -> PoseClip:
        motion = self.motions[index].copy()
        if self.flip and item_rng(self.seed, self.epoch, index).random() > 0.5:
            motion = flip_data(motion)
        return PoseClip(input=motion, label=motion.copy())
