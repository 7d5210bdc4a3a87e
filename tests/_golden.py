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


def require_reference(path: Path, what: str) -> Path:
    """``path`` if it exists; else skip the test, or fail it when ``DIFFMESH_REQUIRE_GOLDEN=1``
    (as ``.ci/run`` sets: CI must never skip the parity tests)."""
    if not path.is_file():
        message = f"{what} not found at {path} (the reference files live in ../shared/reference)"
        if os.environ.get("DIFFMESH_REQUIRE_GOLDEN") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def golden_path(name: str) -> Path:
    """Path of golden file ``name`` (``$DIFFMESH_GOLDEN_DIR`` or ../shared/reference/golden)."""
    return require_reference(golden_dir() / name, f"golden file {name} (set DIFFMESH_GOLDEN_DIR)")
