"""The ``MB3D_f243s81`` clip folders (``H36M-SH`` and ``AMASS`` subsets; DATA.md §3.1).

One clip per ``%08d.pkl`` file: ``{"data_input": float32 [243,17,3] | None,
"data_label": float32 [243,17,3]}``. :class:`MB3DClipDataset` is the official
``MotionDataset3D``: files read lazily in sorted order per subset; training samples either
use the stored 2-D detections (flipped together with the label, p = 0.5) or, with
``synthetic=True`` (pre-training), a 2-D input derived from the (possibly flipped) 3-D label
with confidence 1 (DATA.md §5.2; detection noise and masking are applied later on the batch,
:mod:`diffmesh.data.augment`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from torch.utils.data import Dataset

from diffmesh.conventions import NUM_H36M_JOINTS
from diffmesh.data.readers._io import PathLike, item_rng, read_pickle, require_mapping, require_shape
from diffmesh.data.types import PoseClip
from diffmesh.geometry.flip import flip_data

logger = logging.getLogger(__name__)

__all__ = ["MB3D_ROOT", "MB3DClipDataset", "read_mb3d_clip"]

#: Official location of the clip folders, relative to the data root.
MB3D_ROOT = "motion3d/MB3D_f243s81"


def read_mb3d_clip(path: PathLike) -> tuple[np.ndarray | None, np.ndarray]:
    """One clip file → ``(data_input [T,17,3] or None, data_label [T,17,3])`` as float32."""
    clip = require_mapping(read_pickle(path, f"an MB3D clip file ({MB3D_ROOT}/<subset>/<split>/%08d.pkl)"), ("data_input", "data_label"), path)
    label = require_shape(clip["data_label"], (None, NUM_H36M_JOINTS, 3), path, "data_label").astype(np.float32)
    x = clip["data_input"]
    if x is not None:
        x = require_shape(x, (len(label), NUM_H36M_JOINTS, 3), path, "data_input").astype(np.float32)
    return x, label


class MB3DClipDataset(Dataset):
    """Clips of one or more subsets of an ``MB3D_f243s81`` folder as :class:`PoseClip`.

    Args:
        root: the ``MB3D_f243s81`` folder.
        subsets: e.g. ``("AMASS", "H36M-SH")`` (pre-training) or ``("H36M-SH",)``.
        split: ``"train"`` or ``"test"``. A subset without the split folder is skipped with a
            warning (AMASS has no test split; the official code needs an empty folder, D-E11).
        flip: random flip p = 0.5 (train split only).
        synthetic: pre-training mode: input = (x̃, ỹ, 1) of the label (train split only).
        seed: seed of the per-sample random source (:meth:`set_epoch` for new draws).
    """

    def __init__(
        self,
        root: PathLike,
        subsets: Sequence[str],
        split: Literal["train", "test"],
        flip: bool = True,
        synthetic: bool = False,
        seed: int = 0,
    ) -> None:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"MB3D clip folder {str(root)!r} not found; expected <data_root>/{MB3D_ROOT}")
        files: list[Path] = []
        for subset in subsets:
            folder = root / subset / split
            if not folder.is_dir():
                if not (root / subset).is_dir():
                    raise FileNotFoundError(
                        f"subset folder {str(root / subset)!r} not found; available: {sorted(p.name for p in root.iterdir() if p.is_dir())}"
                    )
                logger.warning("%s has no %r split; skipping it", root / subset, split)
                continue
            files.extend(sorted(folder.glob("*.pkl")))
        self.files = files
        self.split = split
        self.flip = flip and split == "train"
        self.synthetic = synthetic and split == "train"
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> PoseClip:
        path = self.files[index]
        x, label = read_mb3d_clip(path)
        flip = self.flip and item_rng(self.seed, self.epoch, index).random() > 0.5
        if self.synthetic:
            if flip:
                label = flip_data(label)
            x = np.ones_like(label)
            x[..., :2] = label[..., :2]  # no detection: ground-truth x, y with confidence 1
        elif x is None:
            raise ValueError(
                f"{str(path)!r} has data_input None (an AMASS clip); it can only be used with synthetic=True"
            )
        elif flip:
            x, label = flip_data(x), flip_data(label)
        return PoseClip(input=x, label=label)
