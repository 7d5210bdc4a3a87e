"""One training loop for every task.

A :class:`Task` turns a batch into a loss (and optionally evaluates); the :class:`Trainer`
does everything else the same way for pre-training, 3-D pose, action and mesh models:
optimizer groups, per-epoch learning-rate decay, deterministic data order, progress with
ETA, metric logs, atomic checkpoints, exact resume, and DistributedDataParallel under
``torchrun``.

Determinism and resume. The data order of epoch ``e`` is a permutation drawn from a
generator seeded with ``(seed, e)``; datasets with a ``set_epoch(e)`` method derive their
augmentation randomness from ``(seed, e, index)``; dropout draws from the global torch RNG,
whose state is saved in every checkpoint. A run resumed from a checkpoint written after
step ``k`` therefore continues with exactly the batches and random numbers of the
uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from diffmesh.training.checkpoint import TrainState, load_checkpoint, restore, save_checkpoint
from diffmesh.training.distributed import DistInfo, all_reduce_mean

logger = logging.getLogger(__name__)

LATEST = "latest_epoch.bin"
BEST = "best_epoch.bin"


class Task(Protocol):
    """What a task supplies to the loop."""

    #: Name of the validation metric used to select ``best_epoch.bin`` (``None``: no selection).
    selection_metric: str | None
    #: Whether a lower selection metric is better (MPJPE) or a higher one (accuracy).
    lower_is_better: bool

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        """The scalar loss to minimise and named terms to log."""
        ...

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Validation metrics (called on the main process, model in eval mode)."""
        ...


@dataclass
class TrainConfig:
    """Loop settings (a run config becomes this in :func:`diffmesh.training.build.train_config`).

    ``batch_size`` is the global batch: under ``torchrun`` each of the ``world_size``
    processes takes ``batch_size / world_size`` samples of every batch.
    """

    epochs: int
    batch_size: int
    lr_backbone: float = 1e-4
    lr_head: float | None = None  # None: one group at lr_backbone (pre-training, 3-D pose)
    weight_decay: float = 0.01
    lr_decay: float = 0.99
    seed: int = 0
    checkpoint_every_steps: int = 0  # also save latest_epoch.bin every N steps (0: epoch ends only)
    checkpoint_frequency: int = 0  # keep epoch_{e}.bin every N epochs (0: never)
    num_workers: int = 0
    log_every_steps: int = 10
    device: str = "cpu"
    max_steps: int | None = None  # stop after this many optimizer steps (tests, smoke runs)


class EpochSampler(Sampler[int]):
    """Epoch-seeded permutation, sharded for DDP: rank ``r`` of ``W`` takes the ``r``-th
    contiguous slice of every global batch, so ``W`` processes see exactly the samples of
    one process with the same global batch. ``skip_batches`` resumes mid-epoch."""


    def __init__(self, size: int, batch_size: int, seed: int, dist_info: DistInfo) -> None:
        if batch_size % dist_info.world_size:
            raise ValueError(
                f"batch_size={batch_size} is not divisible by the {dist_info.world_size} processes; "
                "choose a global batch size that is a multiple of the number of processes"
            )
        self.size = size
        self.batch_size = batch_size
        self.seed = seed
        self.info = dist_info
        self.epoch = 0
        self.skip_batches = 0

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        self.epoch = epoch
        self.skip_batches = skip_batches

    def global_batches(self) -> list[list[int]]:
        """The epoch's batches. One process keeps an incomplete last batch (as the official
        loaders do); several processes drop it, so every process runs the same number of
        equally sized steps and the averaged gradient equals the one-process gradient."""
        gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.size, generator=gen).tolist()
        batches = [order[i : i + self.batch_size] for i in range(0, self.size, self.batch_size)]
        if self.info.enabled and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        return batches

    def rank_indices(self) -> list[int]:
        """This process's samples of the remaining batches, in order."""
        indices: list[int] = []
        local = self.batch_size // self.info.world_size
        for batch in self.global_batches()[self.skip_batches :]:
            indices.extend(batch[self.info.rank * local : (self.info.rank + 1) * local])
        return indices

    def __iter__(self) -> Iterator[int]:
        return iter(self.rank_indices())

    def __len__(self) -> int:
        return len(self.rank_indices())

    def num_batches(self) -> int:
        """Batches per epoch, without drawing the permutation (see :meth:`global_batches`)."""
        full, rest = divmod(self.size, self.batch_size)
        return full + (1 if rest and not self.info.enabled else 0)


def parameter_groups(model: nn.Module, cfg: TrainConfig) -> list[dict[str, Any]]:
    """One group at ``lr_backbone``, or backbone/head groups (action and mesh models)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.lr_head is None or not hasattr(model, "backbone"):
        return [{"params": params, "lr": cfg.lr_backbone}]
    backbone_ids = {id(p) for p in model.backbone.parameters()}
    return [
        {"params": [p for p in params if id(p) in backbone_ids], "lr": cfg.lr_backbone, "name": "backbone"},
        {"params": [p for p in params if id(p) not in backbone_ids], "lr": cfg.lr_head, "name": "head"},
    ]


class MetricLog:
    """Metrics as JSON lines (always) and TensorBoard scalars (when ``tensorboard`` is installed)."""

    def __init__(self, folder: Path, enabled: bool) -> None:
        self.enabled = enabled
        self.path = folder / "metrics.jsonl"
        self.writer = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(log_dir=str(folder / "tensorboard"))
            except ImportError:
                logger.info("tensorboard is not installed: metrics go to %s only (pip install tensorboard)", self.path)

    def log(self, step: int, values: Mapping[str, float], prefix: str) -> None:
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps({"step": step, **{f"{prefix}/{k}": v for k, v in values.items()}}) + "\n")
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(f"{prefix}/{key}", value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def to_device(batch: Any, device: torch.device | str) -> Any:
    """``batch`` (tensors, or dicts, lists and tuples of them) with every tensor on ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, Sequence) and not isinstance(batch, str):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


@dataclass
class TrainPass:
    """One full sweep over a dataset inside an epoch (the official mesh scripts run an H36M,
    a COCO and a 3DPW pass per epoch, each with its own batch size; D-T8).

    ``until_epoch``: the pass runs in epochs ``< until_epoch`` only (``warmup_h36m`` /
    ``warmup_coco``); ``None`` = every epoch. ``from_epoch``: it runs from that epoch on.
    """

    name: str
    dataset: Dataset
    batch_size: int
    until_epoch: int | None = None
    from_epoch: int = 0  # pre-training's 2-D passes start at `pretrain_3d_curriculum`

    def active(self, epoch: int) -> bool:
        return epoch >= self.from_epoch and (self.until_epoch is None or epoch < self.until_epoch)


@dataclass
class FitResult:
    state: TrainState
    losses: list[float] = field(default_factory=list)  # every step's (all-reduced) loss


class Trainer:
    """Runs a :class:`Task` on a dataset with the settings of a :class:`TrainConfig`."""

    def __init__(
        self,
        model: nn.Module,
        task: Task,
        train_data: Dataset | Sequence[TrainPass],
        cfg: TrainConfig,
        out_dir: str | Path,
        *,
        run_config: dict[str, Any] | None = None,
        dist_info: DistInfo | None = None,
        collate_fn: Any = None,
    ) -> None:
        self.cfg = cfg
        self.task = task
        self.info = dist_info or DistInfo()
        self.out_dir = Path(out_dir)
        self.run_config = dict(run_config or {})
        self.device = torch.device(cfg.device)
        torch.manual_seed(cfg.seed)
        self.model = model.to(self.device)
        self.train_model: nn.Module = self.model
        if self.info.enabled:
            # find_unused_parameters: DiffMesh's faithful mode and the encoder's unused 3-D
            # head leave parameters without gradient, as in the official code.
            self.train_model = nn.parallel.DistributedDataParallel(
                self.model,
                device_ids=[self.info.local_rank] if self.device.type == "cuda" else None,
                find_unused_parameters=True,
            )
        self.optimizer = torch.optim.AdamW(parameter_groups(self.model, cfg), lr=cfg.lr_backbone, weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=1, gamma=cfg.lr_decay)
        passes = list(train_data) if isinstance(train_data, (list, tuple)) else [TrainPass("train", train_data, cfg.batch_size)]
        if not passes:
            raise ValueError("no training data: pass a Dataset or a non-empty list of TrainPass")
        self.passes: list[TrainPass] = passes
        self.samplers = [
            EpochSampler(len(p.dataset), p.batch_size, cfg.seed + 7 * i, self.info)  # type: ignore[arg-type]
            for i, p in enumerate(passes)
        ]
        self.collate_fn = collate_fn
        self.state = TrainState()

    # ------------------------------------------------------------------ checkpoints
    def save(self, name: str = LATEST) -> Path | None:
        if not self.info.is_main:
            return None
        path = save_checkpoint(
            self.out_dir / name,
            model=self.model,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            state=self.state,
            config=self.run_config,
        )
        logger.debug("saved %s (epoch %d, step %d)", path, self.state.epoch, self.state.step_in_epoch)
        return path

    def resume(self, path: str | Path) -> None:
        """Continue exactly where the checkpoint at ``path`` left off."""
        payload = load_checkpoint(path)
        self.state = restore(payload, model=self.model, optimizer=self.optimizer, scheduler=self.scheduler)
        logger.info("resumed from %s at epoch %d, step %d", path, self.state.epoch, self.state.step_in_epoch)

    # ------------------------------------------------------------------ training
    def steps_in_epoch(self, epoch: int) -> int:
        return sum(s.num_batches() for p, s in zip(self.passes, self.samplers) if p.active(epoch))

    def _batches(self, epoch: int, skip: int) -> Iterator[Any]:
        """The epoch's batches, pass after pass, skipping the first ``skip`` (resume)."""
        for index, (train_pass, sampler) in enumerate(zip(self.passes, self.samplers)):
            if not train_pass.active(epoch):
                continue
            n = sampler.num_batches()
            if skip >= n:
                skip -= n
                continue
            yield from self._loader(index, epoch, skip)
            skip = 0

    def _loader(self, index: int, epoch: int, skip: int) -> DataLoader:
        train_pass, sampler = self.passes[index], self.samplers[index]
        sampler.set_epoch(epoch, skip)
        if hasattr(train_pass.dataset, "set_epoch"):
            train_pass.dataset.set_epoch(epoch)  # type: ignore[attr-defined]
        return DataLoader(
            train_pass.dataset,
            batch_size=train_pass.batch_size // self.info.world_size,
            sampler=sampler,
            num_workers=self.cfg.num_workers,
            collate_fn=self.collate_fn,
            generator=torch.Generator().manual_seed(self.cfg.seed * 7919 + epoch * 31 + index),
            persistent_workers=False,
            pin_memory=self.device.type == "cuda",
        )

    def _to_device(self, batch: Any) -> Any:
        return to_device(batch, self.device)

    def fit(self) -> FitResult:
        cfg = self.cfg
        self.out_dir.mkdir(parents=True, exist_ok=True)
        log = MetricLog(self.out_dir, self.info.is_main)
        result = FitResult(self.state)
        planned = sum(self.steps_in_epoch(e) for e in range(cfg.epochs))
        total_steps = planned if cfg.max_steps is None else min(cfg.max_steps, planned)
        start_time, start_step = time.perf_counter(), self.state.global_step
        try:
            while self.state.epoch < cfg.epochs:
                epoch = self.state.epoch
                steps_per_epoch = self.steps_in_epoch(epoch)
                self.train_model.train()
                for batch in self._batches(epoch, self.state.step_in_epoch):
                    loss, terms = self.task.loss(self.train_model, self._to_device(batch))
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    self.optimizer.step()
                    self.state.global_step += 1
                    self.state.step_in_epoch += 1
                    loss_value = float(all_reduce_mean(loss.detach(), self.info))
                    result.losses.append(loss_value)
                    if not math.isfinite(loss_value):
                        raise FloatingPointError(
                            f"loss became {loss_value} at epoch {epoch}, step {self.state.step_in_epoch}; "
                            "lower the learning rate or check the data (diffmesh train --resume restarts from the last checkpoint)"
                        )
                    if self.state.global_step % max(cfg.log_every_steps, 1) == 0 or self.state.global_step == total_steps:
                        self._progress(epoch, steps_per_epoch, total_steps, start_time, start_step, loss_value)
                        log.log(self.state.global_step, {"loss": loss_value, **terms}, "train")
                    if cfg.checkpoint_every_steps and self.state.global_step % cfg.checkpoint_every_steps == 0:
                        self.save(LATEST)
                    if cfg.max_steps is not None and self.state.global_step >= cfg.max_steps:
                        self.save(LATEST)
                        return result
                self._end_epoch(log)
            return result
        finally:
            log.close()

    def _end_epoch(self, log: MetricLog) -> None:
        cfg = self.cfg
        epoch = self.state.epoch
        metrics: dict[str, float] = {}
        if self.info.is_main and hasattr(self.task, "evaluate"):
            self.model.eval()
            with torch.no_grad():
                metrics = dict(self.task.evaluate(self.model))
            if metrics:
                logger.info("epoch %d validation: %s", epoch + 1, ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
                log.log(self.state.global_step, metrics, "val")
        self.scheduler.step()  # official: decay after the epoch's training and evaluation
        self.state.epoch += 1
        self.state.step_in_epoch = 0
        self.state.history.append({"epoch": epoch + 1, **metrics})
        improved = self._is_better(metrics)
        self.save(LATEST)
        if cfg.checkpoint_frequency and (epoch + 1) % cfg.checkpoint_frequency == 0:
            self.save(f"epoch_{epoch}.bin")
        if improved:
            self.save(BEST)

    def _is_better(self, metrics: Mapping[str, float]) -> bool:
        key = getattr(self.task, "selection_metric", None)
        if key is None or key not in metrics:
            return False
        value = metrics[key]
        best = self.state.best_metric
        better = best is None or (value < best if self.task.lower_is_better else value > best)
        if better:
            self.state.best_metric = value
        return better

    def _progress(self, epoch: int, steps_per_epoch: int, total: int, t0: float, s0: int, loss: float) -> None:
        if not self.info.is_main:
            return
        done = self.state.global_step - s0
        rate = done / max(time.perf_counter() - t0, 1e-9)
        eta = (total - self.state.global_step) / rate if rate > 0 else float("inf")
        lrs = "/".join(f"{g['lr']:.2e}" for g in self.optimizer.param_groups)
        logger.info(
            "epoch %d/%d step %d/%d | loss %.4f | lr %s | %.2f steps/s | ETA %s",
            epoch + 1, self.cfg.epochs, self.state.step_in_epoch, steps_per_epoch, loss, lrs, rate, _format_eta(eta),
        )  # fmt: skip


def _format_eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:d}:{minutes:02d}:{sec:02d}"
