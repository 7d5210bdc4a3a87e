"""Stage-result cache keyed by content, not by "the file exists".

A stage's key is a SHA-256 over its inputs' identities (a file's content hash, upstream keys)
and every setting that changes its result; its arrays are stored as
``<folder>/<stage>-<key[:16]>.npz`` and written atomically (temporary file + rename), so an
interrupted run never leaves a file that looks complete. Settings that do not change a stage
(render options) are simply not part of its key, so changing them re-uses the stage.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from diffmesh.io.exports import atomic_write

logger = logging.getLogger(__name__)

__all__ = ["StageCache", "stage_key"]

CACHE_FORMAT = 1


def stage_key(stage: str, **parts: Any) -> str:
    """Hash of a stage name and JSON-serialisable parts (keys sorted; floats by ``repr``)."""
    payload = json.dumps({"stage": stage, "format": CACHE_FORMAT, **parts}, sort_keys=True, default=repr)
    return hashlib.sha256(payload.encode()).hexdigest()


class StageCache:
    """npz files of stage results in ``folder`` (created on first write). ``enabled=False`` never reads."""

    def __init__(self, folder: str | os.PathLike[str], enabled: bool = True) -> None:
        self.folder = Path(folder)
        self.enabled = enabled

    def path(self, stage: str, key: str) -> Path:
        return self.folder / f"{stage}-{key[:16]}.npz"

    def load(self, stage: str, key: str) -> dict[str, np.ndarray] | None:
        """The stored arrays, or None (missing, disabled, or unreadable — then it is recomputed)."""
        p = self.path(stage, key)
        if not self.enabled or not p.is_file():
            return None
        try:
            with np.load(p, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (OSError, ValueError) as err:
            logger.warning("cache file %s is unreadable (%s); recomputing stage %r", p, err, stage)
            return None
        if str(data.pop("_key", "")) != key:
            return None
        logger.info("stage %r: re-using cached result %s", stage, p.name)
        return data

    def save(self, stage: str, key: str, arrays: dict[str, np.ndarray]) -> Path:
        """Write atomically; old results of the same stage are removed (one per stage)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        p = atomic_write(self.path(stage, key), lambda f: np.savez(f, _key=np.array(key), **arrays))
        for old in self.folder.glob(f"{stage}-*.npz"):
            if old != p:
                old.unlink(missing_ok=True)
        return p
