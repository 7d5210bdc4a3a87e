"""A file of pre-generated synthetic clips, shared by many training runs.

Generating a clip costs more than reading it back, and an ablation trains several models
on the *same* clips, so :func:`build_bank` generates a :class:`SyntheticMotionDataset` once
and stores what cannot be recomputed cheaply — the normalised 2-D input, the 3-D labels,
the SMPL parameters and the H36M joints — in one ``.npz`` file (about 12 KB per 16-frame
clip). :class:`SyntheticClipBank` serves the clips back; mesh clips get their vertices
from the stored parameters with the engine's :attr:`~SyntheticMotionEngine.mesh_model`
exactly as the engine computes them (one batched body-model call per batch), so a bank
clip equals the generated clip bit for bit.

The file records the generating settings (:func:`bank_key`); opening a bank with an engine
whose settings differ is an error rather than a silent mix of data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from diffmesh.data.synthetic.engine import SyntheticMotionDataset, SyntheticMotionEngine
from diffmesh.data.types import MeshClip, PoseClip

logger = logging.getLogger(__name__)

__all__ = ["SyntheticClipBank", "bank_key", "build_bank"]

_PELVIS = 0


def bank_key(dataset: SyntheticMotionDataset) -> str:
    """A digest of everything that determines the dataset's clips."""
    e = dataset.engine
    settings = {
        "length": dataset.length,
        "split": dataset.split,
        "body": e.body.name,
        "body_vertices": e.body.num_vertices,
        "clip_len": e.clip_len,
        "fps": e.fps,
        "seed": e.seed,
        "families": list(e.families),
        "noise": e.noise,
        "noise_model": repr(e.noise_model),
        "mask": [e.mask_ratio, e.mask_T_ratio],
        "beta": [e.beta_std, e.beta_clip],
        "camera": repr(e.camera),
        "image_size": e.image_size,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def build_bank(dataset: SyntheticMotionDataset, path: str | Path, batch_size: int = 64) -> Path:
    """Generate every clip of ``dataset`` and write them to ``path`` (atomically).

    Returns ``path``. An existing file with the same :func:`bank_key` is kept as it is.
    """
    path = Path(path)
    key = bank_key(dataset)
    if path.is_file():
        with np.load(path) as f:
            if str(f["key"]) == key:
                logger.info("clip bank %s is up to date (%d clips)", path, dataset.length)
                return path
        logger.info("clip bank %s was made with other settings: regenerating", path)
    n, T = dataset.length, dataset.engine.clip_len
    arrays = {
        "input": np.zeros((n, T, 17, 3), np.float32),
        "label": np.zeros((n, T, 17, 3), np.float32),
        "theta": np.zeros((n, T, 82), np.float32),
        "kp_3d": np.zeros((n, T, 17, 3), np.float32),
    }
    start = time.perf_counter()
    for lo in range(0, n, batch_size):
        ids = list(range(lo, min(n, lo + batch_size)))
        clips = dataset.engine.generate(dataset.split, ids, with_verts=False)
        for i, clip in zip(ids, clips):
            arrays["input"][i], arrays["label"][i] = clip.input, clip.label
            arrays["theta"][i], arrays["kp_3d"][i] = clip.theta, clip.kp_3d
        done = ids[-1] + 1
        if done == n or (lo // batch_size) % 20 == 19:
            elapsed = time.perf_counter() - start
            logger.info("clip bank %s: %d/%d clips, %.0f s, ETA %.0f s", path.name, done, n, elapsed, elapsed / done * (n - done))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, key=np.array(key), **arrays)
    os.replace(tmp, path)
    return path


class SyntheticClipBank(Dataset):
    """Clips of a file written by :func:`build_bank`, in the dataset's output format.

    Args:
        path: the bank file.
        dataset: the (ungenerated) dataset the bank was built from — its engine supplies the
            body model for vertices, and its settings must match the file's.
    """

    def __init__(self, path: str | Path, dataset: SyntheticMotionDataset) -> None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"clip bank {str(path)!r} does not exist; build it with build_bank(dataset, path)")
        with np.load(path) as f:
            if str(f["key"]) != bank_key(dataset):
                raise ValueError(
                    f"clip bank {str(path)!r} was generated with other settings than this dataset "
                    f"(key {str(f['key'])} != {bank_key(dataset)}); rebuild it with build_bank"
                )
            self._arrays = {k: f[k] for k in ("input", "label", "theta", "kp_3d")}
        self.dataset, self.output = dataset, dataset.output
        self.engine: SyntheticMotionEngine = dataset.engine

    def __len__(self) -> int:
        return len(self._arrays["input"])

    def __getitems__(self, indices: Sequence[int]) -> list[MeshClip | PoseClip]:
        idx = np.asarray(indices, dtype=np.int64)
        if len(idx) and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"clip index out of range for a bank of {len(self)} clips: {idx.min()}..{idx.max()}")
        inp = self._arrays["input"][idx]
        if self.output == "pose":
            label = self._arrays["label"][idx]
            return [PoseClip(input=inp[i], label=label[i]) for i in range(len(idx))]
        theta, kp_3d = self._arrays["theta"][idx], self._arrays["kp_3d"][idx]
        B, T = theta.shape[:2]
        pose = torch.from_numpy(theta.reshape(B * T, 82))
        with torch.no_grad():
            # The engine's own call (same inputs, same model): bit-identical vertices.
            out = self.engine.mesh_model(pose[:, 72:], pose[:, 3:72], pose[:, :3])
            pelvis = out.joints_h36m[:, _PELVIS : _PELVIS + 1] * 1000.0  # type: ignore[index]
            verts = (out.vertices * 1000.0 - pelvis).reshape(B, T, -1, 3).numpy()
        return [
            MeshClip(input=inp[i], target={"theta": theta[i], "kp_3d": kp_3d[i], "verts": verts[i]})  # type: ignore[typeddict-item]
            for i in range(B)
        ]

    def __getitem__(self, index: int) -> MeshClip | PoseClip:
        if index < 0:
            index += len(self)
        return self.__getitems__([index])[0]
