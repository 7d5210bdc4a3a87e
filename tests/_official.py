"""Build checkpoints in the official format from the ``statedict_*.json`` layouts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from diffmesh.conventions import SMPL_PARENTS
from tests._golden import require_reference

REFERENCE_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "reference"

#: statedict JSON → (official config file, top-level checkpoint key).
VARIANTS: dict[str, tuple[str, str]] = {
    "MB_pretrain": ("motionbert/pretrain/MB_pretrain.yaml", "model_pos"),
    "MB_lite": ("motionbert/pretrain/MB_lite.yaml", "model_pos"),
    "pose3d_ft_h36m": ("motionbert/pose3d/MB_ft_h36m.yaml", "model_pos"),
    "pose3d_ft_h36m_global_lite": ("motionbert/pose3d/MB_ft_h36m_global_lite.yaml", "model_pos"),
    "action_ntu60_xsub": ("motionbert/action/MB_ft_NTU60_xsub.yaml", "model"),
    "action_ntu120_oneshot": ("motionbert/action/MB_ft_NTU120_oneshot.yaml", "model"),
    "MB_mesh_ft_pw3d": ("motionbert/mesh/MB_ft_pw3d.yaml", "model"),
    "DM_ft_pw3d": ("diffmesh/mesh/DM_ft_pw3d.yaml", "model"),
    "DM_ft_pw3d_refine_hybrik": ("diffmesh/mesh/DM_ft_pw3d_refine_hybrik.yaml", "model"),
}


def reference_file(relative: str) -> Path:
    return require_reference(REFERENCE_DIR / relative, f"reference file {relative}")


def layout(variant: str) -> list[tuple[str, list[int]]]:
    return [(k, s) for k, s in json.loads(reference_file(f"statedict_{variant}.json").read_text())]


def _tensor_for(key: str, shape: list[int], gen: torch.Generator) -> torch.Tensor:
    name = key.rsplit(".", 1)[-1]
    if name == "num_batches_tracked":
        return torch.tensor(7, dtype=torch.int64)
    if key.endswith("smpl.parents"):
        return torch.tensor(SMPL_PARENTS, dtype=torch.int64)
    if key.endswith("smpl.faces_tensor"):
        return torch.randint(0, 6890, shape, generator=gen)
    if key.endswith("extra_joints_idxs"):
        return torch.randint(0, 6890, shape, generator=gen)
    if name == "running_var":
        return torch.rand(shape, generator=gen) + 0.5
    if "smpl.lbs_weights" in key:
        w = torch.rand(shape, generator=gen)
        return w / w.sum(dim=1, keepdim=True)
    if "J_regressor" in key:
        w = torch.rand(shape, generator=gen)
        return w / w.sum(dim=1, keepdim=True)
    if key.endswith("smpl.v_template") or key.endswith("mesh_template"):
        return torch.randn(shape, generator=gen) * 0.3
    if "smpl.shapedirs" in key or "smpl.posedirs" in key:
        return torch.randn(shape, generator=gen) * 1e-3
    if key.endswith(("smpl.betas", "smpl.global_orient", "smpl.body_pose")):
        return torch.zeros(shape)
    return torch.randn(shape, generator=gen) * 0.02


def official_checkpoint(variant: str, seed: int = 0) -> dict[str, Any]:
    """A checkpoint dict exactly as the official scripts save it (``module.`` keys)."""
    gen = torch.Generator().manual_seed(seed)
    state = {key: _tensor_for(key, shape, gen) for key, shape in layout(variant)}
    return {VARIANTS[variant][1]: state, "epoch": 3, "lr": [1e-4, 1e-3]}


def official_config(variant: str) -> Path:
    return reference_file("configs/" + VARIANTS[variant][0])
