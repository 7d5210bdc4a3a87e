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

from diffmesh.files import read_config
from diffmesh.registry import load_official, variant_for_config
from diffmesh.weights import CheckpointMismatchError, UnsafeCheckpointError, read_checkpoint, strict_load

__all__ = [
    "CheckpointMismatchError",
    "UnsafeCheckpointError",
    "load_official",
    "read_checkpoint",
    "read_config",
    "strict_load",
    "variant_for_config",
]
