"""Locate golden tensors (``../shared/reference/golden`` or ``$DIFFMESH_GOLDEN_DIR``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

_REPO_ROOT = Path(__file__).resolve().parents[1]


def golden_dir() -> Path:
    """The golden folder: ``$DIFFMESH_GOLDEN_DIR`` if set, else ``<repo>/../shared/reference/golden``."""
    env = os.environ.get("DIFFMESH_GOLDEN_DIR")
    return Path(env) if env else _REPO_ROOT.parent / "shared" / "reference" / "golden"


def skip_unless_ci(message: str) -> NoReturn:
    """Skip the test for a missing external file, or fail it in CI: ``DIFFMESH_REQUIRE_GOLDEN=1``
    (as ``.ci/run`` sets) or ``CI`` set — CI must never skip the parity and real-data tests."""
    if os.environ.get("DIFFMESH_REQUIRE_GOLDEN") == "1" or os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require_reference(path: Path, what: str) -> Path:
    """``path`` if it exists; else :func:`skip_unless_ci`."""
    if not path.is_file():
        skip_unless_ci(f"{what} not found at {path} (the reference files live in ../shared/reference)")
    return path


def golden_path(name: str) -> Path:
    """Path of golden file ``name`` (``$DIFFMESH_GOLDEN_DIR`` or ../shared/reference/golden)."""
    return require_reference(golden_dir() / name, f"golden file {name} (set DIFFMESH_GOLDEN_DIR)")
