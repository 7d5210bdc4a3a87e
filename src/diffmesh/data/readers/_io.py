"""Shared file checks and per-item random sources of the official-data readers."""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

PathLike = str | os.PathLike[str]


def read_pickle(path: PathLike, what: str) -> Any:
    """Load an official pickle; errors name the path and what the file should be.

    Args:
        path: the file.
        what: a short description with the official location, e.g.
            ``"the H36M pose table (data/motion3d/h36m_sh_conf_cam_source_final.pkl)"``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found at {str(path)!r}; see docs/data.md for where to put it")
    with path.open("rb") as f:
        try:
            return pickle.load(f)
        except Exception as exc:  # noqa: BLE001 - re-raised with the path
            raise ValueError(f"{str(path)!r} is not a readable pickle ({exc}); expected {what}") from exc


def require_mapping(obj: Any, keys: Iterable[str], path: PathLike, where: str = "") -> Mapping[str, Any]:
    """Check that ``obj`` is a dict holding ``keys``; the error names the missing key."""
    loc = f"{str(path)!r}{' [' + where + ']' if where else ''}"
    if not isinstance(obj, Mapping):
        raise ValueError(f"{loc} should be a dict with keys {sorted(keys)}, got {type(obj).__name__}")
    missing = [k for k in keys if k not in obj]
    if missing:
        raise ValueError(f"{loc} lacks key {missing[0]!r} (has {sorted(map(str, obj))}); expected keys {sorted(keys)}")
    return obj


def require_shape(arr: Any, expected: tuple[int | None, ...], path: PathLike, key: str, min_last: int | None = None) -> np.ndarray:
    """Check an array's shape (``None`` = any size; ``min_last`` = last axis at least this)."""
    a = np.asarray(arr)
    shape = tuple(a.shape)
    ok = len(shape) == len(expected) and all(e is None or s == e for s, e in zip(shape, expected))
    if ok and min_last is not None:
        ok = shape[-1] >= min_last
    if not ok:
        want = "[" + ", ".join("N" if e is None else str(e) for e in expected) + "]"
        if min_last is not None:
            want += f" (last axis >= {min_last})"
        raise ValueError(f"{str(path)!r}: {key!r} has shape {list(shape)}, expected {want}")
    return a


def item_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The random source of one sample: independent of DataLoader workers and reproducible.

    Official datasets draw from the process-global generators, so every DataLoader worker
    repeats the same stream (DEVIATIONS D-E8); keying on ``(seed, epoch, index)`` avoids that.
    """
    return np.random.default_rng((seed, epoch, index))
