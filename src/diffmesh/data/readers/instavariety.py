"""InstaVariety 2-D clips for pre-training (``data/motion2d/InstaVariety/{motion_all,id_all}.npy``; DATA.md §3.1).

:class:`InstaVarietyDataset2D` is the official ``InstaVDataset2D``: 81-frame clips, stride
27, of the concatenated per-clip tracks; clips whose first-frame root confidence is not above
``valid_threshold`` are dropped; per item ``crop_scale`` with a fresh ratio ~ U(0.25, 1),
joints with confidence 0 zeroed, random flip. The frame table is memory-mapped, clips are
index arrays.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from diffmesh.conventions import NUM_H36M_JOINTS
from diffmesh.data.readers._io import PathLike, item_rng, require_shape
from diffmesh.data.transforms import split_clips
from diffmesh.data.types import PoseClip
from diffmesh.geometry.crop import crop_scale
from diffmesh.geometry.flip import flip_data

logger = logging.getLogger(__name__)

__all__ = ["INSTAVARIETY_DIR", "InstaVarietyDataset2D"]

INSTAVARIETY_DIR = "motion2d/InstaVariety"


class InstaVarietyDataset2D(Dataset):
    """InstaVariety clips ``[n_frames, 17, 3]`` as :class:`PoseClip` (``label`` = the clean clip).

    Args:
        folder: folder with ``motion_all.npy`` (``[N, 17, 3]``) and ``id_all.npy`` (``[N]``).
        n_frames, stride: clip length and window step (81, 27).
        flip: random flip p = 0.5.
        valid_threshold: keep clips whose frame-0 root confidence exceeds it.
        scale_range: ``crop_scale`` ratio range, drawn per item.
        seed: seed of the per-item random source.
    """

    def __init__(
        self,
        folder: PathLike,
        n_frames: int = 81,
        stride: int = 27,
        flip: bool = True,
        valid_threshold: float = 0.0,
        scale_range: tuple[float, float] = (0.25, 1.0),
        seed: int = 0,
    ) -> None:
        folder = Path(folder)
        files = {name: folder / f"{name}.npy" for name in ("motion_all", "id_all")}
        for name, path in files.items():
            if not path.is_file():
                raise FileNotFoundError(f"InstaVariety {name}.npy not found at {str(path)!r}; expected <data_root>/{INSTAVARIETY_DIR}/{name}.npy")
        self.motion_all = require_shape(np.load(files["motion_all"], mmap_mode="r"), (None, NUM_H36M_JOINTS, 3), files["motion_all"], "motion_all")
        ids = np.load(files["id_all"])
        if ids.shape != (len(self.motion_all),):
            raise ValueError(f"{str(files['id_all'])!r} has shape {list(ids.shape)}, expected [{len(self.motion_all)}] (one clip id per frame)")
        clips = split_clips(ids, n_frames, stride)
        valid = np.asarray(self.motion_all[clips[:, 0], 0, 2]) > valid_threshold if len(clips) else np.zeros(0, bool)
        self.clip_index = clips[valid]
        self.flip = flip
        self.scale_range = tuple(scale_range)
        self.seed = seed
        self.epoch = 0
        logger.info("InstaVariety: %d clips (%d dropped as invalid)", len(self.clip_index), int((~valid).sum()))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.clip_index)

    def __getitem__(self, index: int) -> PoseClip:
        rng = item_rng(self.seed, self.epoch, index)
        motion = np.asarray(self.motion_all[self.clip_index[index]], dtype=np.float32)
        motion = crop_scale(motion, self.scale_range, rng=rng)
        motion[motion[:, :, 2] == 0] = 0
        if self.flip and rng.random() > 0.5:
            motion = flip_data(motion)
        return PoseClip(input=motion, label=motion.copy())
