"""AMASS-derived 3-D motion for pre-training (DATA.md §2.5, §3.1, §6).

The official pipeline turns AMASS into ``data/AMASS/amass_joints_h36m_60.pkl`` (a list of
``[17, T, 3]`` world joints in metres at ~60 fps, one per motion chunk) and then
``tools/convert_amass.py`` into 243-frame clips (stride 81) of pseudo-camera joints
``(X, −Z, Y)·0.298`` under ``MB3D_f243s81/AMASS/train`` (``data_input = None``). The clip
folder is read by :class:`diffmesh.data.readers.mb3d.MB3DClipDataset`; this module reads the
joint list and writes those clips.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import numpy as np

from diffmesh.conventions import NUM_H36M_JOINTS
from diffmesh.data.readers._io import PathLike, read_pickle, require_shape
from diffmesh.data.transforms import amass_to_camera, split_clips

logger = logging.getLogger(__name__)

__all__ = ["AMASS_JOINTS_FILE", "read_amass_joints", "amass_clips", "export_amass_clips"]

AMASS_JOINTS_FILE = "AMASS/amass_joints_h36m_60.pkl"


def read_amass_joints(path: PathLike) -> list[np.ndarray]:
    """The joint list → per motion ``[T, 17, 3]`` world joints (metres, z up)."""
    data = read_pickle(path, f"the AMASS joint list ({AMASS_JOINTS_FILE})")
    if not isinstance(data, (list, tuple)):
        raise ValueError(f"{str(path)!r} should hold a list of [17, T, 3] arrays, got {type(data).__name__}")
    return [
        require_shape(m, (NUM_H36M_JOINTS, None, 3), path, f"[{i}]").transpose(1, 0, 2)  # [17, T, 3] -> [T, 17, 3]
        for i, m in enumerate(data)
    ]


def amass_clips(motions: list[np.ndarray], n_frames: int = 243, stride: int = 81) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate motions in pseudo-camera units and cut clips.

    Args:
        motions: per motion ``[T, 17, 3]`` world joints.

    Returns:
        ``(labels [N, 17, 3] float32, clips [n_clips, n_frames])`` (short motions resampled
        deterministically, a short last motion dropped — as ``split_clips``).
    """
    if not motions:
        return np.zeros((0, NUM_H36M_JOINTS, 3), np.float32), np.zeros((0, n_frames), np.int64)
    labels = amass_to_camera(np.concatenate(motions, axis=0))
    ids = np.concatenate([np.full(len(m), i) for i, m in enumerate(motions)])
    return labels, split_clips(ids, n_frames, stride)


def export_amass_clips(motions: list[np.ndarray], root: PathLike, n_frames: int = 243, stride: int = 81) -> int:
    """Write ``<root>/train/%08d.pkl`` clips (``data_input = None``) and an empty ``<root>/test``; returns the count."""
    labels, clips = amass_clips(motions, n_frames, stride)
    out = Path(root) / "train"
    out.mkdir(parents=True, exist_ok=True)
    (Path(root) / "test").mkdir(exist_ok=True)  # the official test loader needs it (D-E11)
    for i, frames in enumerate(clips):
        with (out / f"{i:08d}.pkl").open("wb") as f:
            pickle.dump({"data_input": None, "data_label": labels[frames]}, f)
    logger.info("wrote %d AMASS clips to %s", len(clips), out)
    return len(clips)
