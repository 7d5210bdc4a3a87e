"""Training: one loop for every task, checkpoints that resume exactly, DDP through torchrun."""

from diffmesh.training.checkpoint import TrainState, atomic_save, load_checkpoint, save_checkpoint
from diffmesh.training.distributed import DistInfo, init_distributed
from diffmesh.training.loop import EpochSampler, Task, TrainConfig, Trainer, TrainPass

__all__ = [
    "DistInfo",
    "EpochSampler",
    "Task",
    "TrainConfig",
    "TrainPass",
    "TrainState",
    "Trainer",
    "atomic_save",
    "init_distributed",
    "load_checkpoint",
    "save_checkpoint",
]
