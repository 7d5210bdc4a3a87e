"""Import of official MotionBERT / DiffMesh checkpoints."""

from diffmesh.convert.official import (
    CheckpointMismatchError,
    detect_architecture,
    load_official,
    read_checkpoint,
    read_config,
    strict_load,
)

__all__ = [
    "CheckpointMismatchError",
    "detect_architecture",
    "load_official",
    "read_checkpoint",
    "read_config",
    "strict_load",
]
