"""Files a user names: their content hash and, for YAML run configs, their options.

One content hash for the whole package: a file's SHA-256 is its identity (packaged weights
are verified by it, checkpoints and configs key the video pipeline's cache by it).
:func:`read_hashed` reads a file once and hashes those same bytes, so a checkpoint is never
read a second time just to learn its identity.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["PathLike", "read_config", "read_hashed", "sha256_file"]

PathLike = str | os.PathLike[str]

_CHUNK = 1 << 20


def sha256_file(path: PathLike) -> str:
    """SHA-256 hex digest of a file's content (streamed, constant memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def read_hashed(path: PathLike) -> tuple[bytes, str]:
    """A file's bytes and their SHA-256 hex digest (equal to :func:`sha256_file`), read once."""
    data = Path(path).read_bytes()
    return data, hashlib.sha256(data).hexdigest()


def read_config(config: PathLike | Mapping[str, Any]) -> dict[str, Any]:
    """A YAML config file (path) or an already-parsed mapping -> a new dict of its options."""
    if isinstance(config, Mapping):
        return dict(config)
    path = Path(config)
    if not path.is_file():
        raise FileNotFoundError(
            f"config file {str(path)!r} does not exist; pass the official YAML config (e.g. configs/mesh/DM_ft_pw3d.yaml)"
        )
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("reading YAML configs needs PyYAML: pip install 'diffmesh[yaml]'") from exc
    with path.open() as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict):
        raise ValueError(f"config file {str(path)!r} does not contain a mapping of options")
    return data
