"""Import official MotionBERT / DiffMesh checkpoints unchanged (CHECKPOINTS.md).

The official files are declared formats of :mod:`diffmesh.weights` (``motionbert-pose``,
``motionbert``, ``diffmesh``): read once with ``weights_only=True``, the ``module.`` prefix
of ``nn.DataParallel`` stripped, the body-model buffers of mesh checkpoints (``head.smpl.*``,
including smplx's batch-64 dummy parameters) split off to rebuild the body model (or
dropped when ``data_root`` is given), and every other key loaded 1:1 with its shape into the
variant the config describes; any mismatch raises :class:`CheckpointMismatchError`
naming the keys. The variant is picked from the config alone, by
:func:`diffmesh.registry.variant_for_config`; the checkpoint's keys are then checked
against it, never used to guess it.

This module is the import's public face: :func:`load_official` is
:func:`diffmesh.registry.load_official`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from diffmesh.files import read_config
from diffmesh.registry import get_spec, load_official, variant_for_config
from diffmesh.weights import CheckpointMismatchError, UnsafeCheckpointError, read_checkpoint, strict_load

__all__ = [
    "CheckpointMismatchError",
    "UnsafeCheckpointError",
    "architecture_from_config",
    "load_official",
    "read_checkpoint",
    "read_config",
    "strict_load",
    "variant_for_config",
]

# Architecture names of the old config classifier (``mesh``: MotionBERT's mesh model).
_LEGACY_NAMES = {"motionbert_mesh": "mesh"}


def architecture_from_config(cfg: Mapping[str, Any]) -> str | None:
    """Compatibility for :mod:`diffmesh.training.config`: the architecture of
    :func:`variant_for_config` under the old names (``"mesh"`` for MotionBERT's mesh model),
    ``None`` when the config describes no model. New code: ``variant_for_config``."""
    try:
        arch = get_spec(variant_for_config(cfg)).architecture
    except ValueError:
        return None
    return _LEGACY_NAMES.get(arch, arch)
