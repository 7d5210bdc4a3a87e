"""Parameter-free noise schedules."""

from diffmesh.schedulers.ddim import DDIMScheduler

__all__ = ["DDIMScheduler"]
