"""SMPL-format body models: pure LBS functions, a stateless layer and loaders.

``load("open")`` gives the shipped open body model; ``load(path)`` reads an official SMPL
``.pkl``/``.npz`` file or the official ``data/mesh`` folder (without chumpy or smplx).
"""

from __future__ import annotations

from diffmesh.body.layer import BodyModel, BodyModelOutput
# The function ``lbs`` is not re-exported: it would shadow the module ``diffmesh.body.lbs``.
from diffmesh.body.lbs import batch_rigid_transform, blend_shapes, vertices_to_joints
from diffmesh.body.loaders import (
    MeshAssets,
    body_model_from_smpl_arrays,
    load,
    load_smpl_file,
    load_smpl_folder,
    read_smpl_arrays,
)

__all__ = [
    "BodyModel",
    "BodyModelOutput",
    "MeshAssets",
    "batch_rigid_transform",
    "blend_shapes",
    "body_model_from_smpl_arrays",
    "load",
    "load_smpl_file",
    "load_smpl_folder",
    "read_smpl_arrays",
    "vertices_to_joints",
]
