"""Training checkpoints: atomic writes, everything needed to resume exactly.

A checkpoint holds the model, optimizer and scheduler states, every RNG state (Python,
NumPy, torch CPU and CUDA), the position in training (epoch and step within the epoch),
the best metric so far, the run's config and the code version. Files are written to a
temporary name in the same folder and renamed, so a run killed at any moment leaves either
the previous complete checkpoint or the new complete one, never a truncated file.
"""

from __future__ import annotations

import json
import logging
import os
import random
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diffmesh.weights import TRAINING_RUN, read_checkpoint
from diffmesh.weights import TRAINING_RUN_VERSION as FORMAT_VERSION

logger = logging.getLogger(__name__)


@dataclass
class TrainState:
    """Where training stands. ``step_in_epoch`` batches of ``epoch`` are done."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    best_metric: float | None = None
    history: list[dict[str, float]] = field(default_factory=list)


def rng_state() -> dict[str, Any]:
    """Every RNG state that training draws from."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file next to ``path``, fsync, then rename over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_checkpoint(
    path: str | os.PathLike,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: TrainState,
    config: dict[str, Any],
) -> Path:
    """Write a resumable checkpoint atomically."""
    import diffmesh

    payload = {
        "format_version": FORMAT_VERSION,
        "diffmesh_version": diffmesh.__version__,
        # Plain data only (paths as text), so that the file loads with weights_only=True.
        "config": json.loads(json.dumps(config, default=str)),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "train_state": asdict(state),
        "rng": rng_state(),
    }
    return atomic_save(payload, path)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`: its top-level dict.

    Read by :func:`diffmesh.weights.read_checkpoint` as the ``training-run`` format
    (``weights_only=True``; NumPy's RNG state is a numeric array, which that allows).
    """
    return dict(read_checkpoint(path, TRAINING_RUN).contents)


def restore(
    payload: dict[str, Any],
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
) -> TrainState:
    """Put model, optimizer, scheduler and RNGs back as they were; returns the train state."""
    model.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    if scheduler is not None and payload.get("scheduler") is not None:
        scheduler.load_state_dict(payload["scheduler"])
    set_rng_state(payload["rng"])
    return TrainState(**payload["train_state"])
