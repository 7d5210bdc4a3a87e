"""Networks: the DSTformer encoder, task heads, the DiffMesh head, and model assembly."""

from diffmesh.convert.official import CheckpointMismatchError, load_official
from diffmesh.models.action import ActionHeadClassification, ActionHeadEmbed, ActionNet
from diffmesh.models.build import build_model
from diffmesh.models.diffmesh import DiffMeshHead, DiffMeshRefineHead, HeadOutput
from diffmesh.models.dstformer import DSTformer, DSTformerConfig
from diffmesh.models.mesh import MeshOutput, MeshRegressor, MotionBERTMeshHead, decode_smpl, pad_clip

__all__ = [
    "ActionHeadClassification",
    "ActionHeadEmbed",
    "ActionNet",
    "CheckpointMismatchError",
    "DSTformer",
    "DSTformerConfig",
    "DiffMeshHead",
    "DiffMeshRefineHead",
    "HeadOutput",
    "MeshOutput",
    "MeshRegressor",
    "MotionBERTMeshHead",
    "build_model",
    "decode_smpl",
    "load_official",
    "pad_clip",
]
