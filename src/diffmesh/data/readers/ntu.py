"""NTU RGB+D action data: pyskl ``ntu60_hrnet.pkl`` / ``ntu120_hrnet.pkl`` / ``ntu120_hrnet_oneshot.pkl`` (DATA.md §3.2, §5.5).

:class:`NTUActionDataset` is the official ``NTURGBD`` / ``NTURGBD1Shot``: per sample
``make_cam`` → two-person tracking → COCO→H36M → confidence appended → temporal resampling to
``clip_len`` (indices drawn **once** at construction: random for training, deterministic
otherwise, DEVIATIONS D-E8) → a zero second person for single-person samples; per item
``random_move`` (training) and ``crop_scale``. Samples are built lazily from the raw
keypoints (the official code materialises every resampled clip: ~5 GB for NTU-60 at 243
frames).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from diffmesh.conventions import COCO_JOINTS, coco_to_h36m
from diffmesh.data.readers._io import PathLike, item_rng, read_pickle, require_mapping
from diffmesh.data.transforms import RandomSource, human_tracking, make_cam, random_move, resample
from diffmesh.geometry.crop import crop_scale

logger = logging.getLogger(__name__)

__all__ = ["NTU_FILES", "ONESHOT_CLASSES", "read_ntu_pkl", "NTUActionDataset", "oneshot_aux_labels"]

NTU_FILES = {
    "ntu60": "action/ntu60_hrnet.pkl",
    "ntu120": "action/ntu120_hrnet.pkl",
    "ntu120_oneshot": "action/ntu120_hrnet_oneshot.pkl",
}

#: The 20 one-shot evaluation classes of NTU-120 (0-based): every 6th class.
ONESHOT_CLASSES: tuple[int, ...] = tuple(range(0, 120, 6))
_NUM_PERSONS = 2
_ANNOTATION_KEYS = ("frame_dir", "label", "img_shape", "total_frames", "keypoint", "keypoint_score")


def read_ntu_pkl(path: PathLike) -> dict:
    """Load and validate a pyskl NTU pickle (``split`` and ``annotations`` keys)."""
    data = require_mapping(read_pickle(path, "an NTU action pickle (data/action/ntu*_hrnet*.pkl)"), ("split", "annotations"), path)
    annotations = data["annotations"]
    if not isinstance(annotations, Sequence) or not annotations:
        raise ValueError(f"{str(path)!r}: 'annotations' should be a non-empty list of dicts")
    for i, ann in enumerate(annotations):
        require_mapping(ann, _ANNOTATION_KEYS, path, f"annotations[{i}]")
        kp = np.asarray(ann["keypoint"])
        if kp.ndim != 4 or kp.shape[2:] != (len(COCO_JOINTS), 2) or kp.shape[1] != ann["total_frames"]:
            raise ValueError(
                f"{str(path)!r}: annotations[{i}].keypoint has shape {list(kp.shape)}, expected "
                f"[M, total_frames={ann['total_frames']}, 17, 2] (COCO order, pixels)"
            )
        if np.shape(ann["keypoint_score"]) != kp.shape[:3]:
            raise ValueError(
                f"{str(path)!r}: annotations[{i}].keypoint_score has shape {list(np.shape(ann['keypoint_score']))}, "
                f"expected {list(kp.shape[:3])}"
            )
    return dict(data)


def oneshot_aux_labels(labels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """One-shot auxiliary training set: ``(keep [N] bool, new_labels [K])``.

    Drops the :data:`ONESHOT_CLASSES` and re-indexes the other 100 classes to 0..99 in
    ascending order of their original id.
    """
    old2new = {cid: i for i, cid in enumerate(sorted(set(range(120)) - set(ONESHOT_CLASSES)))}
    labels = np.asarray(labels)
    keep = ~np.isin(labels, ONESHOT_CLASSES)
    return keep, np.array([old2new[int(x)] for x in labels[keep]], dtype=np.int64)


class NTUActionDataset(Dataset):
    """NTU skeleton clips ``[2, clip_len, 17, 3]`` (x̃, ỹ, confidence; H36M order) with labels.

    Args:
        path: the pickle.
        split: a key of its ``split`` dict (``xsub_train``, ``xsub_val``, ``xview_*``,
            ``oneshot_train``, ``oneshot_val``), or ``None`` for every sample (the one-shot
            auxiliary training set, with ``oneshot_aux=True``).
        clip_len: frames per sample (243 for NTU-60, 100 for one-shot).
        train: random temporal resampling and (with ``random_move``) augmentation; default as
            officially: ``"train"`` in the split name (or ``split=None``), never for ``oneshot_*``.
        random_move: per-item smooth similarity transform (training only).
        scale_range: ``crop_scale`` ratio range: ``(1, 3)`` train, ``(2, 2)`` test.
        oneshot_aux: drop the 20 one-shot classes and re-index the rest to 0..99.
        seed: seed of construction draws and of the per-item random source.
        rng: construction random source (temporal resampling); defaults to
            ``np.random.default_rng(seed)``. Pass ``official_global_rng()`` after
            ``np.random.seed(0)`` to replay the official indices.
        reorder_confidence: the official code appends ``keypoint_score`` as stored, i.e. in
            COCO order (and not swapped by the two-person tracking), next to H36M-ordered coordinates
            (DATA.md §5.5 "COCO → H36M; confidence appended"); ``True`` converts the
            confidence to H36M order (a correction for new training runs only).
    """

    def __init__(
        self,
        path: PathLike,
        split: str | None,
        clip_len: int = 243,
        train: bool | None = None,
        random_move: bool = True,
        scale_range: tuple[float, float] = (1.0, 1.0),
        oneshot_aux: bool = False,
        seed: int = 0,
        rng: RandomSource | None = None,
        reorder_confidence: bool = False,
    ) -> None:
        self.reorder_confidence = reorder_confidence
        self.path = Path(path)
        data = read_ntu_pkl(self.path)
        annotations = data["annotations"]
        if split is not None:
            if split not in data["split"]:
                raise ValueError(f"split {split!r} not in {str(self.path)!r}; available: {sorted(data['split'])}")
            members = set(data["split"][split])
            annotations = [a for a in annotations if a["frame_dir"] in members]
        if train is None:
            train = (split is None or "train" in split) and not (split is not None and "oneshot" in split)
        self.train = train
        labels = np.array([int(a["label"]) for a in annotations], dtype=np.int64)
        if oneshot_aux:
            keep, labels = oneshot_aux_labels(labels)
            annotations = [a for a, k in zip(annotations, keep) if k]
        rng = np.random.default_rng(seed) if rng is None else rng
        # Temporal resampling is drawn once, here, in sample order (official behaviour).
        self.frame_index = [resample(int(a["total_frames"]), clip_len, rng=rng if train else None) for a in annotations]
        self.annotations = annotations
        self.labels = labels
        self.clip_len = clip_len
        self.random_move = random_move and train
        self.scale_range = tuple(scale_range)
        self.seed = seed
        self.epoch = 0
        logger.info("NTU %s: %d samples from %s", split, len(annotations), self.path)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.annotations)

    def motion(self, index: int) -> np.ndarray:
        """The pre-processed (not augmented) sample ``[2, clip_len, 17, 3]`` float32."""
        ann = self.annotations[index]
        cam = make_cam(np.asarray(ann["keypoint"]), ann["img_shape"])  # [M, T, 17, 2]
        cam = coco_to_h36m(human_tracking(cam))
        conf = np.asarray(ann["keypoint_score"])[..., None]  # [M, T, 17, 1]
        if self.reorder_confidence:
            conf = coco_to_h36m(conf)
        idx = self.frame_index[index]
        motion = np.concatenate((cam[:, idx], conf[:, idx]), axis=-1)  # [M, clip_len, 17, 3]
        if motion.shape[0] == 1:  # a zero second person (then moved/normalised like the first)
            motion = np.concatenate((motion, np.zeros_like(motion)), axis=0)
        return motion[:_NUM_PERSONS].astype(np.float32)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        motion = self.motion(index)
        rng = item_rng(self.seed, self.epoch, index)
        if self.random_move:
            motion = random_move(motion, rng)
        if self.scale_range:
            motion = crop_scale(motion, self.scale_range, rng=rng)
        return motion.astype(np.float32), int(self.labels[index])
