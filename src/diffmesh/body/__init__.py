"""SMPL-format body models: pure LBS functions, a stateless layer and loaders.

``load("open")`` gives the shipped open body model; ``load(path)`` reads an official SMPL
``.pkl``/``.npz`` file or the official ``data/mesh`` folder (without chumpy or smplx). A
loaded model carries its :class:`BodyAssets` (mean pose, shape and mesh) as ``.assets``.
"""

from __future__ import annotations

from diffmesh.body.layer import BodyModel, BodyModelOutput
# The function ``lbs`` is not re-exported: it would shadow the module ``diffmesh.body.lbs``.
from diffmesh.body.lbs import batch_rigid_transform, blend_shapes, vertices_to_joints
from diffmesh.body.loaders import (
    BodyAssets,
    body_model_from_smpl_arrays,
    load,
    load_open,
    load_smpl_file,
    load_smpl_folder,
    open_model_path,
    read_smpl_arrays,
)

__all__ = [
    "BodyAssets",
    "BodyModel",
    "BodyModelOutput",
    "batch_rigid_transform",
    "blend_shapes",
    "body_model_from_smpl_arrays",
    "load",
    "load_open",
    "load_smpl_file",
    "load_smpl_folder",
    "open_model_path",
    "read_smpl_arrays",
    "vertices_to_joints",
]
