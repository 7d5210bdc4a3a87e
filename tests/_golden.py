"""Locate golden tensors (``../shared/reference/golden`` or ``$DIFFMESH_GOLDEN_DIR``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_REPO_ROOT = Path(__file__).resolve().parents[1]


def golden_dir() -> Path:
    """The golden folder: ``$DIFFMESH_GOLDEN_DIR`` if set, else ``<repo>/../shared/reference/golden``."""
    env = os.environ.get("DIFFMESH_GOLDEN_DIR")
    return Path(env) if env else _REPO_ROOT.parent / "shared" / "reference" / "golden"


def golden_path(name: str) -> Path:
    """Path of golden file ``name``; skips the test when absent (fails if ``DIFFMESH_REQUIRE_GOLDEN=1``)."""
    path = golden_dir() / name
    if not path.is_file():
        message = f"golden file {name} not found in {path.parent} (set DIFFMESH_GOLDEN_DIR)"
        if os.environ.get("DIFFMESH_REQUIRE_GOLDEN") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path
