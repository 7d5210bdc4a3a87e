"""One factory that turns an architecture name and flat hyper-parameters into a model.

:func:`diffmesh.create_model` (named variants, with or without a checkpoint) goes through
:func:`build_model`, so there is one place where config keys become constructor arguments.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from diffmesh.body.loaders import BodyAssets
from diffmesh.models.action import ActionHeadClassification, ActionHeadEmbed, ActionNet
from diffmesh.models.diffmesh import TEMPLATE_VERTICES, DiffMeshHead, DiffMeshRefineHead
from diffmesh.models.dstformer import DSTformer, DSTformerConfig
from diffmesh.models.mesh import MeshRegressor, MotionBERTMeshHead

logger = logging.getLogger(__name__)

#: Architectures and the task their output serves.
ARCHITECTURES: dict[str, str] = {
    "dstformer": "pose3d",  # bare encoder with its 3-D head (pre-training and 3-D pose)
    "action_class": "action",
    "action_embed": "action",
    "motionbert_mesh": "mesh",
    "diffmesh": "mesh",
    "diffmesh_refine": "mesh",
}

#: Config keys that configure the encoder (the values the official factory passes).
BACKBONE_KEYS = ("dim_in", "dim_feat", "dim_rep", "depth", "num_heads", "mlp_ratio", "maxlen", "num_joints")
#: Config keys each head reads; every other key (training, data) is ignored by the model.
HEAD_KEYS: dict[str, tuple[str, ...]] = {
    "dstformer": (),
    "action_class": ("action_classes", "hidden_dim", "dropout_ratio"),
    "action_embed": ("hidden_dim", "dropout_ratio"),
    "motionbert_mesh": ("hidden_dim", "dropout"),
    "diffmesh": ("clip_len", "diffusion_grad"),
    "diffmesh_refine": ("clip_len", "hidden_dim", "dropout", "diffusion_grad", "refine_6d_convention"),
}


def backbone_config(params: Mapping[str, Any]) -> DSTformerConfig:
    """Encoder hyper-parameters from a flat config (defaults: MotionBERT full)."""
    values = {k: params[k] for k in BACKBONE_KEYS if k in params and params[k] is not None}
    return DSTformerConfig(**values)


def resample_template(vertices: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A ``[6890, 3]`` DiffMesh start template from a mean mesh with any vertex count.

    The template path only embeds a constant (the loop's start state), so a body model
    with V ≠ 6890 vertices supplies its mean mesh sampled at 6890 evenly spaced vertex
    indices (repeating vertices when V < 6890). SMPL meshes pass through unchanged.
    """
    verts = torch.as_tensor(vertices).detach().to("cpu", torch.float32).reshape(-1, 3)  # a body model on a GPU too
    if verts.shape[0] == TEMPLATE_VERTICES:
        return verts.clone()
    idx = torch.linspace(0, verts.shape[0] - 1, TEMPLATE_VERTICES).round().long()
    return verts[idx]


#: Identity rotation in the 'spin_columns' 6-D layout (columns (1,0,0) and (0,1,0)).
IDENTITY_6D = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def mean_assets(body_model: nn.Module) -> BodyAssets:
    """The :class:`~diffmesh.body.BodyAssets` a mesh head starts from, every field needed filled.

    Takes the body model's own ``assets`` (the official ``smpl_mean_params.npz`` /
    ``smpl_mean_vertices.npy``, or the open model's means) where they exist, else the rest
    pose (identity rotations), zero betas and the template mesh. Returns ``init_pose``
    ``[144]`` (6-D), ``init_shape`` ``[10]`` and the DiffMesh start template
    ``mesh_template`` ``[6890, 3]`` (the body's own, else resampled from its mean mesh).
    """
    own = getattr(body_model, "assets", None) or BodyAssets()
    init_pose = own.init_pose if own.init_pose is not None else torch.tensor(IDENTITY_6D).repeat(24)
    init_shape = own.init_shape if own.init_shape is not None else torch.zeros(10)
    if own.mesh_template is not None:
        template = resample_template(own.mesh_template)
    else:
        template = resample_template(own.mean_vertices if own.mean_vertices is not None else body_model.v_template)
    return dataclasses.replace(
        own,
        init_pose=torch.as_tensor(init_pose, dtype=torch.float32).reshape(-1),
        init_shape=torch.as_tensor(init_shape, dtype=torch.float32).reshape(-1),
        mesh_template=template,
    )


def build_model(architecture: str, params: Mapping[str, Any] | None = None, body_model: nn.Module | None = None) -> nn.Module:
    """Build a randomly initialised model.

    Args:
        architecture: one of :data:`ARCHITECTURES`.
        params: flat hyper-parameters (official YAML key names; missing keys take the
            official defaults).
        body_model: required for mesh architectures; mesh heads start from its
            :func:`mean_assets` (official checkpoints carry their own).
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; expected one of {sorted(ARCHITECTURES)}")
    p = dict(params or {})
    backbone = DSTformer(backbone_config(p))
    dim_rep = backbone.config.dim_rep
    num_joints = backbone.config.num_joints
    if architecture == "dstformer":
        return backbone
    if architecture == "action_class":
        head: nn.Module = ActionHeadClassification(
            dim_rep=dim_rep,
            num_classes=int(p.get("action_classes", 60)),
            num_joints=num_joints,
            hidden_dim=int(p.get("hidden_dim", 2048)),
            dropout_ratio=float(p.get("dropout_ratio", 0.5)),
        )
        return ActionNet(backbone, head)
    if architecture == "action_embed":
        head = ActionHeadEmbed(
            dim_rep=dim_rep,
            num_joints=num_joints,
            hidden_dim=int(p.get("hidden_dim", 2048)),
            dropout_ratio=float(p.get("dropout_ratio", 0.1)),
        )
        return ActionNet(backbone, head)

    if body_model is None:
        raise ValueError(
            f"architecture {architecture!r} produces meshes and needs a body model: pass body_model= "
            "(diffmesh.body.load('open') for the shipped open model, or an official SMPL file/folder)"
        )
    assets = mean_assets(body_model)
    if architecture == "motionbert_mesh":
        head = MotionBERTMeshHead(
            dim_rep=dim_rep,
            num_joints=num_joints,
            hidden_dim=int(p.get("hidden_dim", 1024)),
            dropout_ratio=float(p.get("dropout", 0.1)),
            init_pose=assets.init_pose,
            init_shape=assets.init_shape,
        )
    elif architecture == "diffmesh":
        head = DiffMeshHead(
            dim_rep=dim_rep,
            clip_len=int(p.get("clip_len", 16)),
            num_joints=num_joints,
            diffusion_grad=bool(p.get("diffusion_grad", False)),
            init_pose=assets.init_pose,
            init_shape=assets.init_shape,
            mesh_template=assets.mesh_template,
        )
    else:
        head = DiffMeshRefineHead(
            dim_rep=dim_rep,
            clip_len=int(p.get("clip_len", 16)),
            num_joints=num_joints,
            hidden_dim=int(p.get("hidden_dim", 512)),
            dropout=float(p.get("dropout", 0.1)),
            diffusion_grad=bool(p.get("diffusion_grad", False)),
            refine_6d_convention=str(p.get("refine_6d_convention", "pytorch3d_rows")),
            mesh_template=assets.mesh_template,
        )
    return MeshRegressor(backbone, head, body_model)
