"""Import of official MotionBERT / DiffMesh checkpoints."""

from diffmesh.convert.official import (
    CheckpointMismatchError,
    UnsafeCheckpointError,
    load_official,
    read_checkpoint,
    read_config,
    strict_load,
    variant_for_config,
)

__all__ = [
    "CheckpointMismatchError",
    "UnsafeCheckpointError",
    "load_official",
    "read_checkpoint",
    "read_config",
    "strict_load",
    "variant_for_config",
]
