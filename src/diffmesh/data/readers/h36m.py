"""Human3.6M 3-D pose data: ``h36m_sh_conf_cam_source_final.pkl`` (DATA.md §3.1, §2.1).

:class:`H36MReader` is the official ``DataReaderH36M``: it normalises the detected 2-D
joints and the ``joint3d_image`` labels with the camera resolution (both axes divided by the
width), cuts the flat per-frame table into clips (index arrays, nothing copied per clip),
de-normalises predictions and runs the official per-action evaluation.
:class:`H36MPoseDataset` yields :class:`~diffmesh.data.types.PoseClip` samples from it —
the same samples as the ``MB3D_f243s81/H36M-SH`` clip folders that
:func:`export_mb3d_clips` writes (``tools/convert_h36m.py``).
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
from torch.utils.data import Dataset

from diffmesh.conventions import NUM_H36M_JOINTS
from diffmesh.data.readers._io import PathLike, item_rng, read_pickle, require_mapping, require_shape
from diffmesh.data.transforms import (
    RandomSource,
    denormalize_screen,
    h36m_camera_resolution,
    normalize_screen,
    split_clips,
)
from diffmesh.data.types import PoseClip
from diffmesh.geometry.flip import flip_data
from diffmesh.metrics import H36MPoseMetrics, evaluate_h36m_pose

logger = logging.getLogger(__name__)

__all__ = ["H36M_POSE_FILE", "H36MReader", "H36MPoseDataset", "h36m_input_2d", "export_mb3d_clips"]

#: Official location of the pose table, relative to the data root.
H36M_POSE_FILE = "motion3d/h36m_sh_conf_cam_source_final.pkl"

Split = Literal["train", "test"]
_SPLITS: tuple[str, ...] = ("train", "test")
_TABLE_KEYS = ("joint_2d", "camera_name", "source")
_EVAL_KEYS = ("action", "2.5d_factor", "joints_2.5d_image")


def _check_split(split: str) -> None:
    if split not in _SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def h36m_input_2d(
    table: Mapping[str, Any], path: PathLike, split: str, sample_stride: int = 1, read_confidence: bool = True
) -> np.ndarray:
    """Normalised network input ``[N, 17, 3]`` (x̃, ỹ, confidence) of one split of an H36M-style table.

    Shared by the pose table and ``mesh_det_h36m.pkl``. Confidence is ``confidence``
    (``[N,17]`` or ``[N,17,1]``) or ones when the key is absent; ``read_confidence=False``
    returns ``[N, 17, 2]``.
    """
    require_mapping(table, _TABLE_KEYS, path, split)
    n = len(table["joint_2d"])
    joint_2d = require_shape(table["joint_2d"], (n, NUM_H36M_JOINTS, None), path, f"{split}.joint_2d", min_last=2)
    cams = np.asarray(table["camera_name"])[::sample_stride]
    if len(np.asarray(table["camera_name"])) != n:
        raise ValueError(f"{str(path)!r}: {split}.camera_name has {len(table['camera_name'])} rows, joint_2d has {n}")
    res = h36m_camera_resolution(cams)  # [N, 2] (w, h)
    xy = normalize_screen(joint_2d[::sample_stride, :, :2], res[:, 0], res[:, 1])  # [N, 17, 2]
    if not read_confidence:
        return xy
    if "confidence" in table:
        conf = np.asarray(table["confidence"], dtype=np.float32)
        if conf.ndim == 2:
            conf = conf[:, :, None]
        require_shape(conf, (n, NUM_H36M_JOINTS, 1), path, f"{split}.confidence")
        conf = conf[::sample_stride]
    else:
        conf = np.ones((len(xy), NUM_H36M_JOINTS, 1), dtype=np.float32)
    return np.concatenate((xy, conf), axis=2)


class H36MReader:
    """The official ``DataReaderH36M`` over ``h36m_sh_conf_cam_source_final.pkl``.

    Args:
        path: the pickle (``<data_root>/motion3d/h36m_sh_conf_cam_source_final.pkl``).
        n_frames: clip length (243 officially).
        stride_train, stride_test: window steps (81 / 243).
        sample_stride: keep every k-th frame of the table (1 officially).
        read_confidence: append the detector confidence to the 2-D input.
        rng: random source for resampling videos shorter than a clip (``None`` →
            deterministic, DEVIATIONS D-E3).

    Normalised arrays are computed on first use and cached per split (the real train split
    has 1.56 M frames: ~320 MB per array); clips are ``[n_clips, n_frames]`` index arrays.
    """

    def __init__(
        self,
        path: PathLike,
        n_frames: int = 243,
        stride_train: int = 81,
        stride_test: int = 243,
        sample_stride: int = 1,
        read_confidence: bool = True,
        rng: RandomSource | None = None,
    ) -> None:
        self.path = Path(path)
        data = read_pickle(self.path, f"the H36M pose table ({H36M_POSE_FILE})")
        require_mapping(data, _SPLITS, self.path)
        for split in _SPLITS:
            require_mapping(data[split], (*_TABLE_KEYS, "joint3d_image"), self.path, split)
        self.data: Mapping[str, Mapping[str, Any]] = data
        self.n_frames = n_frames
        self.strides = {"train": stride_train, "test": stride_test}
        self.sample_stride = sample_stride
        self.read_confidence = read_confidence
        self._rng = rng
        self._cache: dict[tuple[str, str], np.ndarray] = {}

    def _cached(self, key: tuple[str, str], make: Any) -> np.ndarray:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def num_frames(self, split: Split) -> int:
        """Rows of the (sample-strided) table."""
        _check_split(split)
        return len(np.asarray(self.data[split]["source"])[:: self.sample_stride])

    def read_2d(self, split: Split) -> np.ndarray:
        """``[N, 17, 3]`` float32 normalised 2-D input (x̃, ỹ, confidence)."""
        _check_split(split)
        return self._cached(
            ("2d", split),
            lambda: h36m_input_2d(self.data[split], self.path, split, self.sample_stride, self.read_confidence),
        )

    def read_3d(self, split: Split) -> np.ndarray:
        """``[N, 17, 3]`` float32 normalised 3-D labels (x̃, ỹ, z̃ = 2z/w)."""
        _check_split(split)

        def make() -> np.ndarray:
            table = self.data[split]
            n = len(table["joint_2d"])
            j3d = require_shape(table["joint3d_image"], (n, NUM_H36M_JOINTS, None), self.path, f"{split}.joint3d_image", min_last=3)
            res = self.resolution(split)
            return normalize_screen(j3d[:: self.sample_stride, :, :3], res[:, 0], res[:, 1])

        return self._cached(("3d", split), make)

    def resolution(self, split: Split) -> np.ndarray:
        """``[N, 2]`` per-frame camera (width, height)."""
        _check_split(split)
        return self._cached(
            ("hw", split),
            lambda: h36m_camera_resolution(np.asarray(self.data[split]["camera_name"])[:: self.sample_stride]),
        )

    def clips(self, split: Split) -> np.ndarray:
        """``[n_clips, n_frames]`` frame indices (``split_clips`` with the split's stride)."""
        _check_split(split)
        return self._cached(
            ("clips", split),
            lambda: split_clips(
                np.asarray(self.data[split]["source"])[:: self.sample_stride], self.n_frames, self.strides[split], self._rng
            ),
        )

    def denormalize(self, pred_clips: np.ndarray) -> np.ndarray:
        """Test-clip predictions ``[n_clips, T, 17, 3]`` → pixel units with each clip's first-frame camera."""
        pred_clips = np.asarray(pred_clips)
        clips = self.clips("test")
        if pred_clips.shape[:2] != clips.shape:
            raise ValueError(
                f"predictions have shape {list(pred_clips.shape)}, expected [{clips.shape[0]}, {clips.shape[1]}, 17, 3] "
                "(one per test clip, in clip order)"
            )
        hw = self.resolution("test")[clips[:, 0]]  # [n_clips, 2]
        return denormalize_screen(pred_clips, hw[:, 0, None, None, None], hw[:, 1, None, None, None])

    def evaluate(self, pred_clips: np.ndarray, rootrel: bool = True) -> H36MPoseMetrics:
        """The official H36M protocol on normalised test-clip predictions ``[n_clips, T, 17, 3]``.

        ``rootrel=True`` zeroes the predicted root first (EVALUATION.md §1 step 2).
        """
        test = require_mapping(self.data["test"], _EVAL_KEYS, self.path, "test")
        pred = np.array(pred_clips, dtype=np.float64, copy=True)
        if rootrel:
            pred[:, :, 0, :] = 0
        pixels = self.denormalize(pred)
        s = self.sample_stride
        return evaluate_h36m_pose(
            pixels,
            self.clips("test"),
            actions=np.asarray(test["action"])[::s],
            factors=np.asarray(test["2.5d_factor"])[::s],
            gt_joints=np.asarray(test["joints_2.5d_image"])[::s],
            sources=np.asarray(test["source"])[::s],
        )


class H36MPoseDataset(Dataset):
    """H36M 2-D → 3-D clips as :class:`PoseClip` (``train.py`` with ``synthetic: False``).

    Args:
        reader: the table.
        split: ``"train"`` or ``"test"``.
        flip: random horizontal flip with p = 0.5 of input and label together (train split only).
        seed: seed of the per-sample random source (see :func:`set_epoch`).
    """

    def __init__(self, reader: H36MReader, split: Split, flip: bool = True, seed: int = 0) -> None:
        _check_split(split)
        self.reader = reader
        self.split = split
        self.flip = flip and split == "train"
        self.seed = seed
        self.epoch = 0
        self.clip_index = reader.clips(split)

    def set_epoch(self, epoch: int) -> None:
        """New augmentation draws per epoch (call before each epoch)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.clip_index)

    def __getitem__(self, index: int) -> PoseClip:
        frames = self.clip_index[index]
        x = self.reader.read_2d(self.split)[frames]  # [T, 17, 3] (fancy index: a copy)
        y = self.reader.read_3d(self.split)[frames]
        if self.flip and item_rng(self.seed, self.epoch, index).random() > 0.5:
            x, y = flip_data(x), flip_data(y)
        return PoseClip(input=x, label=y)


def export_mb3d_clips(reader: H36MReader, root: PathLike, splits: tuple[str, ...] = _SPLITS) -> dict[str, int]:
    """Write the ``MB3D_f243s81/H36M-SH/{train,test}/%08d.pkl`` clip files (``tools/convert_h36m.py``).

    Each file: ``{"data_input": float32 [T,17,3], "data_label": float32 [T,17,3]}``.

    Args:
        reader: source table.
        root: the ``H36M-SH`` folder (created).

    Returns:
        Number of clips written per split.
    """
    counts = {}
    for split in splits:
        _check_split(split)
        out = Path(root) / split
        out.mkdir(parents=True, exist_ok=True)
        x_all, y_all = reader.read_2d(split), reader.read_3d(split)  # type: ignore[arg-type]
        clips = reader.clips(split)  # type: ignore[arg-type]
        for i, frames in enumerate(clips):
            with (out / f"{i:08d}.pkl").open("wb") as f:
                pickle.dump({"data_input": x_all[frames], "data_label": y_all[frames]}, f)
        counts[split] = len(clips)
        logger.info("wrote %d %s clips to %s", len(clips), split, out)
    return counts

