"""Import official MotionBERT / DiffMesh checkpoints unchanged (CHECKPOINTS.md).

Strict and reporting: the ``module.`` prefix of ``nn.DataParallel`` is stripped, the body
model buffers (``head.smpl.*``, including smplx's batch-64 dummy parameters) are consumed
to rebuild the body model or dropped deliberately, every other key must match the model
1:1 with the same shape, and any mismatch raises :class:`CheckpointMismatchError`
naming the keys. Files are read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from diffmesh.models.build import ARCHITECTURES, build_model

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike

#: Prefix every official checkpoint key carries (all official training used DataParallel).
DATAPARALLEL_PREFIX = "module."
#: Body-model buffers inside mesh checkpoints; constants derived from the SMPL files.
SMPL_PREFIX = "head.smpl."
#: How many offending keys an error lists before summarising.
_MAX_LISTED = 12


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the model its config describes."""


def read_config(config: PathLike | Mapping[str, Any]) -> dict[str, Any]:
    """An official YAML config (path) or an already-parsed mapping → dict."""
    if isinstance(config, Mapping):
        return dict(config)
    path = Path(config)
    if not path.is_file():
        raise FileNotFoundError(f"config file {str(path)!r} does not exist; pass the official YAML config (e.g. configs/mesh/DM_ft_pw3d.yaml)")
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("reading YAML configs needs PyYAML: pip install 'diffmesh[yaml]'") from exc
    with path.open() as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict):
        raise ValueError(f"config file {str(path)!r} does not contain a mapping of options")
    return data


def read_checkpoint(checkpoint: PathLike | Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], str]:
    """Model state dict of an official checkpoint with the ``module.`` prefix removed.

    Accepts the file path, the loaded dict (``model_pos`` for bare encoders, ``model`` for
    action/mesh models; training state such as ``optimizer`` is ignored) or a bare
    state dict. Returns the state dict and the top-level key it came from.
    """
    if isinstance(checkpoint, Mapping):
        raw: Any = checkpoint
        where = "<dict>"
    else:
        path = Path(checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
        where = str(path)
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for corrupt or unsafe files
            raise CheckpointMismatchError(f"cannot read checkpoint {where!r}: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise CheckpointMismatchError(f"checkpoint {where!r} holds a {type(raw).__name__}, expected a dict")
    source = next((k for k in ("model_pos", "model") if k in raw), None)
    state = raw[source] if source else raw
    if not isinstance(state, Mapping) or not state or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointMismatchError(
            f"checkpoint {where!r} has no model weights: expected a 'model_pos' or 'model' state dict, "
            f"found keys {sorted(raw)[:_MAX_LISTED]}"
        )
    stripped = {(k[len(DATAPARALLEL_PREFIX) :] if k.startswith(DATAPARALLEL_PREFIX) else k): v for k, v in state.items()}
    return stripped, source or "state_dict"


def detect_architecture(state: Mapping[str, torch.Tensor]) -> str:
    """The architecture a stripped official state dict belongs to (declared key signatures)."""
    keys = set(state)
    if "head.fc_ds.0.weight" in keys:
        return "diffmesh_refine" if "head.fc2.0.weight" in keys else "diffmesh"
    if "head.head_pose.weight" in keys:
        return "motionbert_mesh"
    if "head.fc1.weight" in keys and "backbone.temp_embed" in keys:
        return "action_class" if "head.fc2.weight" in keys else "action_embed"
    if "temp_embed" in keys and "blocks_st.0.attn_s.qkv.weight" in keys:
        return "dstformer"
    raise CheckpointMismatchError(
        "the checkpoint matches no known MotionBERT/DiffMesh layout; first keys: " + ", ".join(sorted(keys)[:_MAX_LISTED])
    )


def architecture_from_config(cfg: Mapping[str, Any]) -> str | None:
    """What an official config says about the architecture, where it says anything."""
    if "model_version" in cfg:
        return "action_embed" if cfg["model_version"] == "embed" else "action_class"
    dt_files = " ".join(str(cfg.get(k, "")) for k in ("dt_file_h36m", "dt_file_coco", "dt_file_pw3d"))
    if "hybrik" in dt_files:
        return "diffmesh_refine"
    if "lambda_diff" in cfg:
        return "diffmesh"
    if "dt_file_h36m" in cfg or "dt_file_pw3d" in cfg:
        return "mesh"  # MotionBERT mesh config; DM_train_pw3d.yaml is byte-identical to it (D-D13)
    if "dim_feat" in cfg:
        return "dstformer"
    return None


def _check_config_matches(arch: str, cfg_arch: str | None, where: str) -> None:
    if cfg_arch is None:
        return
    compatible = {
        "dstformer": {"dstformer"},
        "action_class": {"action_class"},
        "action_embed": {"action_embed"},
        "mesh": {"motionbert_mesh", "diffmesh"},
        "diffmesh": {"diffmesh"},
        "diffmesh_refine": {"diffmesh_refine"},
    }[cfg_arch]
    if arch not in compatible:
        raise CheckpointMismatchError(
            f"checkpoint {where} is a {arch!r} model but its config describes {cfg_arch!r}; "
            "pass the config the checkpoint was trained with"
        )


def strict_load(model: nn.Module, state: Mapping[str, torch.Tensor], *, where: str = "checkpoint") -> None:
    """Load ``state`` into ``model`` requiring identical keys and shapes.

    Raises :class:`CheckpointMismatchError` listing missing keys, unexpected keys and shape
    mismatches (with both shapes).
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k}: checkpoint {list(state[k].shape)} vs model {list(expected[k].shape)}"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    if missing or unexpected or wrong:
        parts = []
        for label, items in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", wrong)):
            if items:
                listed = "; ".join(items[:_MAX_LISTED]) + (f"; ... ({len(items)} in all)" if len(items) > _MAX_LISTED else "")
                parts.append(f"{label}: {listed}")
        raise CheckpointMismatchError(f"{where} does not match the model ({type(model).__name__}): " + " | ".join(parts))
    model.load_state_dict(dict(state), strict=True)


def load_official(
    checkpoint: PathLike | Mapping[str, Any],
    config: PathLike | Mapping[str, Any],
    data_root: PathLike | None = None,
    *,
    body_model: nn.Module | None = None,
    **overrides: Any,
) -> nn.Module:
    """Load an official checkpoint into an eval-mode model.

    Args:
        checkpoint: official ``.bin`` file (dict with ``model_pos`` or ``model``, keys
            prefixed ``module.``), or the loaded dict.
        config: the official YAML config file (or its dict).
        data_root: the official ``data/mesh`` folder (SMPL_NEUTRAL.pkl, regressors) for
            mesh checkpoints. When omitted, the body model is rebuilt from the SMPL buffers
            official mesh checkpoints carry (``head.smpl.*``).
        body_model: a ready :class:`~diffmesh.body.BodyModel` to use instead.
        **overrides: head options that do not change the weights, e.g.
            ``diffusion_grad=True`` or ``refine_6d_convention="spin_columns"``.

    Returns:
        pose/pre-train checkpoints: :class:`~diffmesh.models.DSTformer` (``[B,T,17,3]``
        → ``[B,T,17,3]``, and ``get_representation``); action: ``ActionNet``
        (``[B,M,T,17,3]`` → ``[B,C]``); mesh: ``MeshRegressor`` returning a
        :class:`~diffmesh.models.MeshOutput` (``theta [B,T,82]``, ``verts [B,T,6890,3]`` mm,
        ``kp_3d [B,T,17,3]`` mm).
    """
    where = repr(str(checkpoint)) if not isinstance(checkpoint, Mapping) else "<dict>"
    cfg = read_config(config)
    state, source = read_checkpoint(checkpoint)
    arch = detect_architecture(state)
    _check_config_matches(arch, architecture_from_config(cfg), where)
    if arch == "action_class" and "action_classes" not in cfg:
        cfg["action_classes"] = int(state["head.fc2.weight"].shape[0])
    params = {**cfg, **overrides}

    body = body_model
    smpl_state = {k[len(SMPL_PREFIX) :]: v for k, v in state.items() if k.startswith(SMPL_PREFIX)}
    state = {k: v for k, v in state.items() if not k.startswith(SMPL_PREFIX)}
    if ARCHITECTURES[arch] == "mesh" and body is None:
        from diffmesh.body import BodyModel, load

        if data_root is not None:
            body = load(data_root)
        elif smpl_state:
            body = BodyModel.from_smpl_state_dict(smpl_state)
            logger.info("rebuilt the SMPL body model from the %d head.smpl.* buffers in %s", len(smpl_state), where)
        else:
            raise CheckpointMismatchError(
                f"mesh checkpoint {where} carries no SMPL buffers (head.smpl.*); pass data_root= the official "
                "data/mesh folder (with SMPL_NEUTRAL.pkl and J_regressor_h36m_correct.npy) or body_model="
            )
    elif smpl_state and ARCHITECTURES[arch] != "mesh":
        raise CheckpointMismatchError(f"checkpoint {where} has head.smpl.* keys but is not a mesh model")

    model = build_model(arch, params, body)
    strict_load(model, state, where=f"checkpoint {where} (key {source!r})")
    logger.info("loaded %s checkpoint %s: %d tensors", arch, where, len(state))
    return model.eval()
