"""Training: one loop for every task, checkpoints that resume exactly, DDP through torchrun."""

from diffmesh.training.build import Run, build_run
from diffmesh.training.checkpoint import TrainState, atomic_save, load_checkpoint, save_checkpoint
from diffmesh.training.config import RunConfig, load_run_config
from diffmesh.training.distributed import DistInfo, distributed, init_distributed
from diffmesh.training.loop import EpochSampler, Task, TrainConfig, Trainer, TrainPass

__all__ = [
    "DistInfo",
    "EpochSampler",
    "Run",
    "RunConfig",
    "Task",
    "TrainConfig",
    "TrainPass",
    "TrainState",
    "Trainer",
    "atomic_save",
    "build_run",
    "distributed",
    "init_distributed",
    "load_checkpoint",
    "load_run_config",
    "save_checkpoint",
]
