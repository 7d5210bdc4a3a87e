"""Weights packaged with diffmesh (see ``docs/model_card.md``).

The files live in this folder and are registered in :mod:`diffmesh.registry` with their
checksum; :func:`load_packaged` verifies it before loading. Format: a ``torch.save`` dict
``{"model", "model_overrides", "state_dict" (float16), "run", "dtype"}`` written by
``tools/default_weights.py export``; loaded with ``weights_only=True``.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["load_packaged", "packaged_path"]


def packaged_path(filename: str) -> Path:
    """Path of a packaged weights file (an error names it when the installation lacks it)."""
    path = Path(str(resources.files("diffmesh.weights").joinpath(filename)))
    if not path.is_file():
        raise FileNotFoundError(
            f"packaged weights {filename!r} are missing from this installation ({path}); reinstall diffmesh "
            "(pip install --force-reinstall diffmesh) or build the model with pretrained=False"
        )
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_packaged(model: nn.Module, spec: Any) -> nn.Module:
    """Load ``spec.weights`` into ``model`` after checking ``spec.sha256``."""
    path = packaged_path(spec.weights)
    actual = _sha256(path)
    if spec.sha256 is not None and actual != spec.sha256:
        raise ValueError(
            f"packaged weights {path} are corrupt or from another version: sha256 {actual}, registry says {spec.sha256}; "
            "reinstall diffmesh"
        )
    blob = torch.load(path, map_location="cpu", weights_only=True)
    state = {k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()}
    model.load_state_dict(state)
    return model
