"""Shared fixtures: generated SMPL-format body models and tiny model configurations."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from diffmesh.body import BodyModel, load
from tests._smpl_fixtures import make_h36m_regressor, make_smpl_arrays, write_mesh_folder

REFERENCE_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "reference"

#: A small encoder so model tests run in milliseconds.
TINY = {"dim_feat": 32, "dim_rep": 48, "depth": 2, "num_heads": 4, "mlp_ratio": 2, "maxlen": 27}


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)


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
