"""Mesh-recovery data: ``mesh_det_{h36m,pw3d,coco}.pkl`` and the ``*_w_hybrik_pred*`` variants (DATA.md §3.3).

:class:`MeshReader` is the official ``DataReaderH36M`` / ``DataReaderMesh`` for these files
(H36M: camera-resolution normalisation; 3DPW: square r = 1920; COCO: r = 640 and 1-frame
clips). :class:`MeshDataset` is the official ``MotionSMPL``: per clip it regenerates the
ground truth with a body model exactly as DATA.md §3.3 (body(theta) ×1000 → J_regressor_h36m
→ pelvis-relative) and yields :class:`~diffmesh.data.types.MeshClip` samples; for the
refine files it adds the HybrIK estimate as ``init_pose`` / ``init_shape``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from diffmesh.body import BodyModel
from diffmesh.conventions import NUM_BETAS, NUM_H36M_JOINTS, NUM_SMPL_JOINTS
from diffmesh.data.readers._io import PathLike, item_rng, read_pickle, require_mapping, require_shape
from diffmesh.data.readers.h36m import h36m_input_2d
from diffmesh.data.transforms import (
    COCO_RESOLUTION,
    PW3D_RESOLUTION,
    RandomSource,
    normalize_square,
    split_clips,
)
from diffmesh.data.types import MeshClip
from diffmesh.geometry.flip import flip_data, flip_thetas

logger = logging.getLogger(__name__)

__all__ = ["MESH_FILES", "MeshReader", "MeshDataset", "mesh_ground_truth"]

MeshSource = Literal["h36m", "pw3d", "coco"]

#: Official file names (relative to ``<data_root>/mesh``): plain and with HybrIK predictions.
MESH_FILES: dict[str, tuple[str, str]] = {
    "h36m": ("mesh_det_h36m.pkl", "mesh_det_h36m_w_hybrik_pred.pkl"),
    "pw3d": ("mesh_det_pw3d.pkl", "mesh_det_pw3d_w_hybrik_pred_hr48_w.pkl"),
    "coco": ("mesh_det_coco.pkl", "mesh_det_coco_w_hybrik_pred.pkl"),
}
_SQUARE_RESOLUTION = {"pw3d": PW3D_RESOLUTION, "coco": COCO_RESOLUTION}
_POSE_DIM = 3 * NUM_SMPL_JOINTS
_METRES_TO_MM = 1000.0


class MeshReader:
    """One mesh file: normalised 2-D input, SMPL parameters and clip indices per split.

    Args:
        path: the pickle (``<data_root>/mesh/mesh_det_*.pkl``).
        source: ``"h36m"`` (camera normalisation; needs ``camera_name``), ``"pw3d"`` (r = 1920)
            or ``"coco"`` (r = 640; clips are single frames whatever ``clip_len``).
        clip_len: frames per clip (16 officially).
        stride_train: window step of the train split (8); test clips never overlap.
        sample_stride: keep every k-th row (1 officially).
        rng: random source for resampling videos shorter than a clip (``None`` → deterministic).
    """

    def __init__(
        self,
        path: PathLike,
        source: MeshSource,
        clip_len: int = 16,
        stride_train: int = 8,
        sample_stride: int = 1,
        rng: RandomSource | None = None,
    ) -> None:
        if source not in MESH_FILES:
            raise ValueError(f"source must be one of {sorted(MESH_FILES)}, got {source!r}")
        self.path = Path(path)
        self.source = source
        data = read_pickle(self.path, f"the {source} mesh file (data/mesh/{MESH_FILES[source][0]})")
        require_mapping(data, ("train", "test"), self.path)
        keys = ["joint_2d", "source", "smpl_pose", "smpl_shape"]
        keys += ["camera_name"] if source == "h36m" else ["confidence"]
        self.has_hybrik = all("pred_smpl_pose" in data[s] and "pred_smpl_shape" in data[s] for s in ("train", "test"))
        for split in ("train", "test"):
            table = require_mapping(data[split], keys, self.path, split)
            n = len(table["joint_2d"])
            require_shape(table["joint_2d"], (n, NUM_H36M_JOINTS, None), self.path, f"{split}.joint_2d", min_last=2)
            require_shape(table["smpl_pose"], (n, _POSE_DIM), self.path, f"{split}.smpl_pose")
            require_shape(table["smpl_shape"], (n, NUM_BETAS), self.path, f"{split}.smpl_shape")
            if len(table["source"]) != n:
                raise ValueError(f"{str(self.path)!r}: {split}.source has {len(table['source'])} rows, joint_2d has {n}")
            if self.has_hybrik:
                require_shape(table["pred_smpl_pose"], (n, _POSE_DIM), self.path, f"{split}.pred_smpl_pose")
                require_shape(table["pred_smpl_shape"], (n, NUM_BETAS), self.path, f"{split}.pred_smpl_shape")
        self.data: Mapping[str, Mapping[str, Any]] = data
        if source == "coco":
            clip_len, stride_train, stride_test = 1, 1, 1
        else:
            stride_test = clip_len
        self.clip_len = clip_len
        self.strides = {"train": stride_train, "test": stride_test}
        self.sample_stride = sample_stride
        self._rng = rng
        self._cache: dict[tuple[str, str], np.ndarray] = {}

    def _table(self, split: str) -> Mapping[str, Any]:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return self.data[split]

    def read_2d(self, split: Literal["train", "test"]) -> np.ndarray:
        """``[N, 17, 3]`` float32 normalised 2-D input and confidence (unclipped, as stored)."""
        table = self._table(split)
        key = ("2d", split)
        if key not in self._cache:
            if self.source == "h36m":
                self._cache[key] = h36m_input_2d(table, self.path, split, self.sample_stride)
            else:
                n = len(table["joint_2d"])
                xy = normalize_square(np.asarray(table["joint_2d"])[:: self.sample_stride, :, :2], _SQUARE_RESOLUTION[self.source])
                conf = np.asarray(table["confidence"], dtype=np.float32)
                if conf.ndim == 2:
                    conf = conf[:, :, None]
                require_shape(conf, (n, NUM_H36M_JOINTS, 1), self.path, f"{split}.confidence")
                self._cache[key] = np.concatenate((xy, conf[:: self.sample_stride]), axis=2)
        return self._cache[key]

    def clips(self, split: Literal["train", "test"]) -> np.ndarray:
        """``[n_clips, clip_len]`` row indices."""
        table = self._table(split)
        key = ("clips", split)
        if key not in self._cache:
            ids = np.asarray(table["source"])[:: self.sample_stride]
            self._cache[key] = split_clips(ids, self.clip_len, self.strides[split], self._rng)
        return self._cache[key]

    def smpl(self, split: Literal["train", "test"], frames: np.ndarray, hybrik: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``(pose [T, 72], shape [T, 10])`` float32 of the given rows (HybrIK estimate with ``hybrik=True``)."""
        table = self._table(split)
        if hybrik and not self.has_hybrik:
            raise ValueError(
                f"{str(self.path)!r} has no pred_smpl_pose/pred_smpl_shape; use a *_w_hybrik_pred* file for the refine task"
            )
        prefix = "pred_" if hybrik else ""
        rows = np.asarray(frames) * self.sample_stride
        pose = np.asarray(table[prefix + "smpl_pose"])[rows].astype(np.float32)
        shape = np.asarray(table[prefix + "smpl_shape"])[rows].astype(np.float32)
        return pose, shape


def mesh_ground_truth(
    body_model: BodyModel, pose: torch.Tensor, shape: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Regenerate mesh ground truth (DATA.md §3.3): body(pose, shape) ×1000 → H36M joints → pelvis-relative.

    Batched and device-agnostic (the training loop may call it on a GPU batch).

    Args:
        body_model: a body model with ``J_regressor_h36m`` (SMPL neutral officially).
        pose: ``[N, 72]`` axis-angle (joint 0 = global orientation).
        shape: ``[N, 10]`` betas.

    Returns:
        ``(verts [N, V, 3], kp_3d [N, 17, 3])`` in mm, both relative to the regressed pelvis.
    """
    if body_model.J_regressor_h36m is None:
        raise ValueError(
            f"body model {body_model.name!r} has no H36M joint regressor; mesh ground truth needs one "
            "(J_regressor_h36m_correct.npy in the official data/mesh folder, or diffmesh.body.load('open'))"
        )
    if pose.ndim != 2 or pose.shape[1] != _POSE_DIM or shape.ndim != 2 or shape.shape[0] != pose.shape[0]:
        raise ValueError(f"pose must be [N, 72] and shape [N, 10], got {list(pose.shape)} and {list(shape.shape)}")
    out = body_model(betas=shape, body_pose=pose[:, 3:], global_orient=pose[:, :3])
    verts = out.vertices * _METRES_TO_MM  # [N, V, 3] mm
    kp_3d = torch.einsum("jv,nvc->njc", body_model.J_regressor_h36m, verts)  # [N, 17, 3]
    pelvis = kp_3d[:, :1]
    return verts - pelvis, kp_3d - pelvis


class MeshDataset(Dataset):
    """Mesh clips with regenerated ground truth (official ``MotionSMPL``), as :class:`MeshClip`.

    Args:
        reader: the mesh file.
        split: ``"train"`` or ``"test"``.
        body_model: body model for the ground truth (the official code uses SMPL neutral;
            numbers are only comparable with that model).
        flip: random flip p = 0.5 of the 2-D input (``flip_data``) and of the GT and HybrIK
            poses (``flip_thetas``); train split only.
        with_init: add the HybrIK ``init_pose``/``init_shape`` (default: when the file has them).
        seed: seed of the per-sample random source (:meth:`set_epoch` for new draws).
    """

    def __init__(
        self,
        reader: MeshReader,
        split: Literal["train", "test"],
        body_model: BodyModel,
        flip: bool = True,
        with_init: bool | None = None,
        seed: int = 0,
    ) -> None:
        self.reader = reader
        self.split = split
        self.clip_index = reader.clips(split)
        self.body_model = body_model
        self.flip = flip and split == "train"
        self.with_init = reader.has_hybrik if with_init is None else with_init
        if self.with_init and not reader.has_hybrik:
            raise ValueError(f"with_init=True but {str(reader.path)!r} has no HybrIK predictions (pred_smpl_pose)")
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.clip_index)

    def __getitem__(self, index: int) -> MeshClip:
        frames = self.clip_index[index]
        x = self.reader.read_2d(self.split)[frames]  # [T, 17, 3] copy
        x[..., 2] = np.clip(x[..., 2], 0, 1)
        pose, shape = self.reader.smpl(self.split, frames)
        init = self.reader.smpl(self.split, frames, hybrik=True) if self.with_init else None
        if self.flip and item_rng(self.seed, self.epoch, index).random() > 0.5:
            x = flip_data(x)
            pose = flip_thetas(pose)
            if init is not None:
                init = (flip_thetas(init[0]), init[1])  # betas are not mirrored
        with torch.no_grad():  # ground truth: no graph needed
            verts, kp_3d = mesh_ground_truth(self.body_model, torch.from_numpy(pose), torch.from_numpy(shape))
        sample = MeshClip(
            input=x.astype(np.float32),
            target={
                "theta": np.concatenate((pose, shape), axis=-1),
                "kp_3d": kp_3d.numpy().astype(np.float32),
                "verts": verts.numpy().astype(np.float32),
            },
        )
        if init is not None:
            sample["init_pose"], sample["init_shape"] = init
        return sample
