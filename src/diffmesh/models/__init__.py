"""Networks: the DSTformer encoder, task heads, the DiffMesh head, and model assembly."""

from __future__ import annotations

from typing import Any

from torch import nn

from diffmesh.models.action import ActionHeadClassification, ActionHeadEmbed, ActionNet
from diffmesh.models.build import build_model
from diffmesh.models.diffmesh import DiffMeshHead, DiffMeshRefineHead, HeadOutput
from diffmesh.models.dstformer import DSTformer, DSTformerConfig
from diffmesh.models.mesh import MeshOutput, MeshRegressor, MotionBERTMeshHead, decode_smpl, pad_clip
from diffmesh.weights import CheckpointMismatchError

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


def load_official(checkpoint: Any, config: Any, data_root: Any = None, **kwargs: Any) -> nn.Module:
    """An official checkpoint with its YAML config: :func:`diffmesh.registry.load_official`
    (the variant the config describes, then :func:`diffmesh.create_model`)."""
    from diffmesh.registry import load_official as load  # the registry builds on this package: imported on use

    return load(checkpoint, config, data_root, **kwargs)
