"""Multi-process training through ``torchrun``: one process per device, DistributedDataParallel.

``torchrun --nproc_per_node N -m diffmesh.cli train CONFIG`` sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK`` and ``MASTER_ADDR/PORT``; without them everything runs in one process.
The backend is NCCL on CUDA and gloo on CPU.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str = "cpu") -> DistInfo:
    """Join the process group when launched by torchrun; a no-op otherwise."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if device.startswith("cuda") else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    if device.startswith("cuda"):
        torch.cuda.set_device(local_rank)
    logger.info("process %d/%d (local rank %d), backend %s", rank, world_size, local_rank, backend)
    return DistInfo(rank, world_size, local_rank)


def all_reduce_mean(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Mean of a tensor over all processes (identity in one process)."""
    if not info.enabled:
        return value
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / info.world_size


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def shutdown(info: DistInfo, *, wait: bool = True) -> None:
    """Leave the process group: wait for every process (unless failing), then destroy it.

    A process that exits with its gloo group still alive can abort in the group's destructor
    ("terminate called without an active exception") while the others still work, so every
    process waits at a barrier and destroys the group before it exits.
    """
    if not (info.enabled and dist.is_initialized()):
        return
    if wait:
        dist.barrier()
    dist.destroy_process_group()


@contextmanager
def distributed(device: str = "cpu") -> Iterator[DistInfo]:
    """``with distributed(device) as info:`` joins the group (when under torchrun) and leaves it cleanly.

    On an error the barrier is skipped (the other processes may never reach it) and the group
    is only destroyed, so the launcher sees the failure instead of a hang.
    """
    info = init_distributed(device)
    try:
        yield info
    except BaseException:
        shutdown(info, wait=False)
        raise
    shutdown(info)
