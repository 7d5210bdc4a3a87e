"""Task adapters: how each task turns a batch into a loss and evaluates (TRAINING.md).

Batches are collated :mod:`diffmesh.data.types` samples, so official and synthetic data
go through the same code.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from diffmesh.data.augment import add_detection_noise, mask_joints_and_frames
from diffmesh.geometry.flip import flip_thetas
from diffmesh.geometry.model_input import flip_input
from diffmesh.losses import MeshLossWeights, PoseLossWeights, loss_2d_weighted, mesh_loss, pose3d_loss
from diffmesh.metrics import evaluate_mesh, evaluate_mesh_accel, flip_average, mpjpe, p_mpjpe
from diffmesh.training.loop import to_device

logger = logging.getLogger(__name__)


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def _loader(data: Dataset, batch_size: int, model: nn.Module) -> Iterable[Any]:
    """Validation batches in order, on ``model``'s device (a training run's model may be on a GPU)."""
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    for batch in DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=0):
        yield to_device(batch, device)


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().cpu().numpy()


#: ``kind`` of a pose batch (see :class:`Tagged`): 3-D clips, PoseTrack 2-D, InstaVariety 2-D.
KIND_3D, KIND_2D_POSETRACK, KIND_2D_OTHER = 0, 1, 2


class Tagged(Dataset):
    """A dataset whose samples get a ``kind`` entry, so one pose task can treat 2-D and 3-D
    passes differently (the official pre-training loop knows them by loader)."""

    def __init__(self, dataset: Dataset, kind: int) -> None:
        self.dataset, self.kind = dataset, kind

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {**self.dataset[index], "kind": self.kind}


class Pose3DTask:
    """2-D → 3-D pose (pre-training on 3-D clips and the 3-D pose task).

    Loss ``L_mpjpe + 0.5·L_nmpjpe + 20·L_vel`` on (root-relative when ``rootrel``) targets;
    validation MPJPE / P-MPJPE in the data's normalised units ×1000 (mm-like for synthetic
    data, whose labels are in metres).
    """

    lower_is_better = True

    def __init__(
        self,
        weights: PoseLossWeights = PoseLossWeights(),
        rootrel: bool = True,
        val_data: Dataset | None = None,
        val_batch_size: int = 32,
        h36m_reader: Any = None,
        flip: bool = False,
    ) -> None:
        self.weights = weights
        self.rootrel = rootrel
        self.val_data = val_data
        self.val_batch_size = val_batch_size
        #: With an :class:`~diffmesh.data.readers.h36m.H36MReader`, validation is the official
        #: H36M protocol (EVALUATION.md §1) on ``val_data`` = its test clips in order.
        self.h36m_reader = h36m_reader
        self.flip = flip
        self.selection_metric = "mpjpe" if val_data is not None else None
        self.last_h36m_metrics: Any = None
        #: Pre-training augmentation (TRAINING.md §1; DATA.md §5.3-5.4): detection noise on
        #: 3-D and PoseTrack batches, then joint/frame masking on every batch. Draws come
        #: from the global torch RNG (saved in checkpoints, so resumes stay exact).
        self.noise = False
        self.mask_ratio = 0.0
        self.mask_T_ratio = 0.0

    def _augment(self, x: torch.Tensor, noise: bool) -> torch.Tensor:
        if noise:
            x = add_detection_noise(x)
        return mask_joints_and_frames(x, mask_ratio=self.mask_ratio, mask_T_ratio=self.mask_T_ratio)

    def _target(self, label: torch.Tensor) -> torch.Tensor:
        return label - label[:, :, 0:1] if self.rootrel else label

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        kind = batch.get("kind")
        if kind is not None and int(kind[0]) != KIND_3D:
            # 2-D clips (PoseTrack has ground truth, InstaVariety pseudo-labels): the
            # confidence-weighted 2-D error against the clean clip, confidence taken before
            # noise/masking; root-relative like the 3-D targets.
            label = batch["label"]
            x = self._augment(batch["input"], noise=self.noise and int(kind[0]) == KIND_2D_POSETRACK)
            target = self._target(label)
            loss = loss_2d_weighted(model(x), target, label[..., 2:3])
            return loss, {"loss_2d": float(loss.detach())}
        x = self._augment(batch["input"], noise=self.noise)
        terms = pose3d_loss(model(x), self._target(batch["label"]), self.weights)
        return terms.total, {k: float(v.detach()) for k, v in terms.as_dict().items() if k != "total"}

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        if self.val_data is None:
            return {}
        net = _unwrap(model)
        if self.h36m_reader is not None:
            preds = [
                _numpy(flip_average(net, batch["input"]) if self.flip else net(batch["input"]))
                for batch in _loader(self.val_data, self.val_batch_size, net)
            ]
            metrics = self.h36m_reader.evaluate(np.concatenate(preds), rootrel=self.rootrel)
            self.last_h36m_metrics = metrics
            logger.info("H36M protocol, per action (mm):\n%s", metrics.table())
            return {"mpjpe": float(metrics.mpjpe), "p_mpjpe": float(metrics.p_mpjpe)}
        errs, pa_errs = [], []
        for batch in _loader(self.val_data, self.val_batch_size, net):
            pred = flip_average(net, batch["input"]) if self.flip else net(batch["input"])
            if self.rootrel:
                pred = pred - pred[:, :, 0:1]
            gt = self._target(batch["label"])
            p = _numpy(pred.reshape(-1, 17, 3)) * 1000
            g = _numpy(gt.reshape(-1, 17, 3)) * 1000
            errs.append(mpjpe(p, g))
            pa_errs.append(p_mpjpe(p, g))
        return {"mpjpe": float(np.concatenate(errs).mean()), "pa_mpjpe": float(np.concatenate(pa_errs).mean())}


class MeshTask:
    """Mesh recovery (MotionBERT mesh head, DiffMesh, DiffMesh refine).

    Loss: the official ``MeshLoss`` total (TRAINING.md §4.1; ``lambda_diff`` for DiffMesh).
    Validation: MPVE, 14-joint MPJPE and PA-MPJPE (mm) and DiffMesh's acceleration error;
    ``best_epoch.bin`` by the lowest 14-joint MPJPE, as the official scripts select.
    """

    lower_is_better = True
    selection_metric: str | None = "mpjpe"

    def __init__(
        self,
        weights: MeshLossWeights = MeshLossWeights(),
        loss_type: str = "L1",
        val_data: Dataset | None = None,
        val_batch_size: int = 16,
        flip: bool = False,
        per_frame: bool = False,
    ) -> None:
        self.weights = weights
        self.loss_type = loss_type
        self.val_data = val_data
        self.val_batch_size = val_batch_size
        self.flip = flip
        #: Run the model on every frame of the clips on its own, as a 1-frame input (the
        #: per-frame baseline); losses and metrics are those of the whole clips.
        self.per_frame = per_frame
        if val_data is None:
            self.selection_metric = None

    @staticmethod
    def _forward(model: nn.Module, batch: dict[str, Any], per_frame: bool = False) -> Any:
        if per_frame:
            return _forward_per_frame(model, batch)
        kwargs = {}
        if "init_pose" in batch:
            kwargs = {"init_pose": batch["init_pose"], "init_shape": batch["init_shape"]}
        return model(batch["input"], **kwargs)

    def loss(self, model: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        out = self._forward(model, batch, self.per_frame)
        terms = mesh_loss(out, batch["target"], self.weights, self.loss_type)  # type: ignore[arg-type]
        return terms.total, {k: float(v.detach()) for k, v in terms.as_dict().items() if k != "total"}

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        if self.val_data is None:
            return {}
        return evaluate_mesh_model(_unwrap(model), self.val_data, self.val_batch_size, flip=self.flip, per_frame=self.per_frame)


def _forward_per_frame(model: nn.Module, batch: dict[str, Any]) -> Any:
    """``model`` on each frame of ``batch["input"]`` ``[B, T, 17, 3]`` as a 1-frame clip;
    outputs folded back to ``[B, T, ...]`` (``loss_diff`` stays per frame)."""
    if "init_pose" in batch:
        raise ValueError("per-frame evaluation is not defined for the refine head (init_pose inputs)")
    x = batch["input"]
    b, t = x.shape[:2]
    out = model(x.reshape(b * t, 1, *x.shape[2:]))
    per_frame = {f.name: getattr(out, f.name) for f in dataclasses.fields(out) if f.name != "loss_diff"}
    return dataclasses.replace(out, **{k: v.reshape(b, t, *v.shape[2:]) for k, v in per_frame.items() if v is not None})


def _flip_tta(model: nn.Module, batch: dict[str, Any], out: Any, per_frame: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """EVALUATION.md §2 step 2: run on the mirrored input, mirror the pose back (betas kept),
    regenerate the mesh with the body model, average vertices and joints with ``out``."""
    flipped = {**batch, "input": flip_input(batch["input"])}
    if "init_pose" in batch:  # refine: mirrored initial pose, unchanged betas
        flipped["init_pose"] = flip_thetas(batch["init_pose"])
    out_f = MeshTask._forward(model, flipped, per_frame)
    b, t = out_f.theta.shape[:2]
    pose = flip_thetas(out_f.theta[..., :72]).reshape(b * t, 72)
    body = model.body_model(betas=out_f.theta[..., 72:].reshape(b * t, -1), body_pose=pose[:, 3:], global_orient=pose[:, :3])
    verts_f = (body.vertices * 1000.0).reshape(out.verts.shape)
    kp_f = torch.einsum("jv,btvc->btjc", model.body_model.J_regressor_h36m, verts_f)
    return (out.verts + verts_f) / 2, (out.kp_3d + kp_f) / 2


@torch.no_grad()
def evaluate_mesh_model(
    model: nn.Module, data: Dataset, batch_size: int = 16, flip: bool = False, per_frame: bool = False
) -> dict[str, float]:
    """Official mesh metrics of ``model`` over ``data`` (EVALUATION.md §2), in mm; ``flip``
    adds the official flip test-time augmentation; ``per_frame`` runs a 1-frame model on
    every frame of the clips.

    Batches are scored as they come (every metric is a plain mean over frames, or over
    clips for the acceleration error, so the frame-weighted batch means are exactly the
    official whole-set means) and memory stays that of one batch.
    """
    sums: dict[str, float] = {}
    frames = clips = 0
    accel_sum = 0.0
    for batch in _loader(data, batch_size, model):
        out = MeshTask._forward(model, batch, per_frame)
        verts, kp_3d = _flip_tta(model, batch, out, per_frame) if flip else (out.verts, out.kp_3d)
        b, t = kp_3d.shape[:2]
        gt_v, gt_j = batch["target"]["verts"], batch["target"]["kp_3d"]
        kp, kp_gt = _numpy(kp_3d.reshape(-1, 17, 3)), _numpy(gt_j.reshape(-1, 17, 3))
        m = evaluate_mesh(_numpy(verts.reshape(-1, *verts.shape[-2:])), _numpy(gt_v.reshape(-1, *verts.shape[-2:])),
                          kp, kp_gt).as_dict()  # fmt: skip
        for key, value in m.items():
            sums[key] = sums.get(key, 0.0) + value * b * t
        frames += b * t
        if t >= 3:
            accel_sum += evaluate_mesh_accel(kp, kp_gt, clip_len=t) * b
            clips += b
    if not frames:
        raise ValueError("the validation dataset is empty")
    metrics = {key: value / frames for key, value in sums.items()}
    if clips:
        metrics["accel_error"] = accel_sum / clips
    return metrics


class ActionTask:
    """Action classification: cross-entropy on the logits; validation top-1 accuracy (%)."""

    lower_is_better = False

    def __init__(self, val_data: Dataset | None = None, val_batch_size: int = 32) -> None:
        self.val_data = val_data
        self.val_batch_size = val_batch_size
        self.selection_metric = "top1" if val_data is not None else None

    def loss(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        x, label = batch
        loss = F.cross_entropy(model(x), label)
        return loss, {"cross_entropy": float(loss.detach())}

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        if self.val_data is None:
            return {}
        correct = total = 0
        net = _unwrap(model)
        for x, label in _loader(self.val_data, self.val_batch_size, net):
            correct += int((net(x).argmax(dim=-1) == label).sum())
            total += len(label)
        return {"top1": 100.0 * correct / max(total, 1)}


class ClassPairs(Dataset):
    """Items are two samples of one class: ``(x [2, ...], label)``.

    The official one-shot training draws batches with ``MPerClassSampler(m=2)`` so that every
    anchor of the supervised contrastive loss has a positive; pairing each sample with another
    of its class (drawn from ``(seed, epoch, index)``) gives the same guarantee with the loop's
    ordinary sampler. A class with a single sample is paired with itself.
    """

    def __init__(self, dataset: Dataset, labels: Any, seed: int = 0) -> None:
        self.dataset = dataset
        self.labels = np.asarray(labels)
        self.by_class = {int(c): np.flatnonzero(self.labels == c) for c in np.unique(self.labels)}
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        label = int(self.labels[index])
        others = self.by_class[label][self.by_class[label] != index]
        rng = np.random.default_rng((self.seed, self.epoch, index))
        partner = int(rng.choice(others)) if len(others) else index
        first, _ = self.dataset[index]
        second, _ = self.dataset[partner]
        return np.stack([first, second]), label


class OneShotTask:
    """One-shot action recognition (TRAINING.md §3.2): supervised contrastive loss (τ = 0.1)
    on unit embeddings; validation: each test sample takes the label of the most similar of the
    one-shot anchors; accuracy in %."""

    lower_is_better = False

    def __init__(
        self,
        anchors: Dataset | None = None,
        test: Dataset | None = None,
        temperature: float = 0.1,
        val_batch_size: int = 32,
    ) -> None:
        self.anchors, self.test = anchors, test
        self.temperature = temperature
        self.val_batch_size = val_batch_size
        self.selection_metric = "oneshot_acc" if anchors is not None and test is not None else None

    def loss(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        from diffmesh.losses import supcon_loss

        pairs, label = batch  # [B, 2, M, T, J, C], [B]
        emb = model(pairs.flatten(0, 1))  # [2B, D], unit vectors
        loss = supcon_loss(emb[:, None], label.repeat_interleave(2), self.temperature)
        return loss, {"supcon": float(loss.detach())}

    @torch.no_grad()
    def _embed(self, model: nn.Module, data: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
        embs, labels = [], []
        net = _unwrap(model)
        for x, label in _loader(data, self.val_batch_size, net):
            embs.append(net(x))
            labels.append(label)
        return torch.cat(embs), torch.cat(labels)

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        if self.anchors is None or self.test is None:
            return {}
        anchor_emb, anchor_label = self._embed(model, self.anchors)
        test_emb, test_label = self._embed(model, self.test)
        nearest = (test_emb @ anchor_emb.T).argmax(dim=1)  # cosine similarity of unit vectors
        return {"oneshot_acc": 100.0 * float((anchor_label[nearest] == test_label).float().mean())}
