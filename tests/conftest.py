"""Shared fixtures: generated SMPL-format body models and tiny model configurations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from diffmesh.body import BodyModel, load
from tests._smpl_fixtures import make_h36m_regressor, make_smpl_arrays, write_mesh_folder

REFERENCE_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "reference"

#: A small encoder so model tests run in milliseconds: the one tiny configuration of the test
#: suite (``create_model(name, **TINY)``; also the ``tiny_config`` fixture).
TINY = {"dim_feat": 32, "dim_rep": 48, "depth": 2, "num_heads": 4, "mlp_ratio": 2, "maxlen": 27}


@pytest.fixture
def tiny_config() -> dict[str, Any]:
    """A fresh copy of :data:`TINY` (a test may change it freely)."""
    return dict(TINY)


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """One torch thread: on the shared 2-core test machine, 2 OpenMP threads make the many tiny ops
    of the tiny model 10-30x slower whenever another process holds a core (barrier waits on a
    descheduled worker). Results do not depend on the thread count. Use it module-wide with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def smpl_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated official-style ``data/mesh`` folder (6890 vertices, chumpy-style pickle)."""
    arrays = make_smpl_arrays(num_verts=6890, seed=0)
    return write_mesh_folder(tmp_path_factory.mktemp("mesh"), arrays)


@pytest.fixture(scope="session")
def small_body() -> BodyModel:
    """A generated SMPL-format body model with 480 vertices and an H36M regressor."""
    arrays = make_smpl_arrays(num_verts=480, seed=0)
    from diffmesh.body.loaders import body_model_from_smpl_arrays

    return body_model_from_smpl_arrays(arrays, J_regressor_h36m=make_h36m_regressor(480))


@pytest.fixture(scope="session")
def smpl_body(smpl_folder: Path) -> BodyModel:
    return load(smpl_folder)


def blazepose_like_detections(n: int, missing: list[range]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BlazePose-like rows for ``n`` frames: a person drifting across a 640x480 image, absent in ``missing``."""
    rng = np.random.default_rng(0)
    t = np.arange(n, dtype=np.float32)[:, None]
    kp33 = np.zeros((n, 33, 4), np.float32)
    kp33[..., 0] = 200 + 2 * t + rng.normal(0, 30, (n, 33))
    kp33[..., 1] = 240 + rng.normal(0, 80, (n, 33))
    kp33[..., 3] = rng.uniform(0.4, 1.0, (n, 33))
    world33 = rng.normal(0, 0.3, (n, 33, 3)).astype(np.float32)
    detected = np.ones(n, bool)
    for r in missing:
        detected[r] = False
    return kp33, world33, detected


@pytest.fixture
def one_opencv_thread() -> Iterator[None]:
    """One OpenCV thread for the test (``pytestmark = pytest.mark.usefixtures("one_opencv_thread")``): the
    test machine's other core is often busy; the camera measurements do not depend on the thread count."""
    import cv2

    old = cv2.getNumThreads()
    cv2.setNumThreads(1)
    yield
    cv2.setNumThreads(old)

