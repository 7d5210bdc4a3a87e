"""Builders: a :class:`~diffmesh.training.config.RunConfig` → model, task, data passes, loop settings.

The model variant is decided in one place, :func:`diffmesh.registry.variant_for_config`
(official configs: by their keys; diffmesh configs: ``model:``), and built by
:func:`diffmesh.create_model` with the config's hyper-parameters. Official configs follow
the official epoch structure (TRAINING.md §4–5: H36M pass while ``epoch < warmup_h36m``,
COCO single frames while ``epoch < warmup_coco``, then 3DPW) and validate on the 3DPW test
split (else H36M test); diffmesh configs train on the synthetic motion engine.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import Dataset

from diffmesh.losses import MeshLossWeights, PoseLossWeights
from diffmesh.training.config import RunConfig, load_run_config
from diffmesh.training.loop import Task, TrainConfig, TrainPass

logger = logging.getLogger(__name__)

__all__ = ["Run", "build_model", "build_run", "build_task", "train_config", "variant_of"]


@dataclass
class Run:
    """Everything :class:`~diffmesh.training.Trainer` needs, plus the validation data."""

    model: nn.Module
    task: Task
    passes: list[TrainPass]
    train_config: TrainConfig
    val_data: Dataset | None
    config: RunConfig


def train_config(rc: RunConfig, device: str = "cpu") -> TrainConfig:
    """The loop settings of a run."""
    o, s = rc.optim, rc.schedule
    return TrainConfig(
        epochs=o.epochs, batch_size=o.batch_size, lr_backbone=o.lr_backbone, lr_head=o.lr_head,
        weight_decay=o.weight_decay, lr_decay=o.lr_decay, seed=rc.seed,
        checkpoint_every_steps=s.checkpoint_every_steps, checkpoint_frequency=s.checkpoint_frequency,
        num_workers=s.num_workers, log_every_steps=s.log_every_steps, device=device, max_steps=s.max_steps,
    )  # fmt: skip


def variant_of(rc: RunConfig) -> str:
    """The registered variant the config describes."""
    from diffmesh.registry import get_spec, variant_for_config

    if not rc.is_official and not rc.model.variant:
        raise ValueError("config has no 'model': name a registered model (diffmesh list) or use an official config")
    return variant_for_config(rc.to_dict()) if rc.is_official else get_spec(str(rc.model.variant)).name


def build_model(rc: RunConfig, variant: str, body: nn.Module | None = None) -> nn.Module:
    """The variant with the config's hyper-parameters (and ``body`` for mesh models), then
    its encoder from ``init_backbone`` when the config names one."""
    import diffmesh
    from diffmesh.weights import load_backbone, load_weights_widened

    kwargs = {"body_model": body} if body is not None else {}
    model = diffmesh.create_model(variant, config=rc.to_dict(), **kwargs)
    if rc.model.init_backbone and rc.model.init_weights:
        raise ValueError("the config names both init_backbone and init_weights; keep one")
    if rc.model.init_backbone:
        load_backbone(model, rc.model.init_backbone)
    if rc.model.init_weights:
        load_weights_widened(model, _init_weights(rc.model.init_weights))
    return model


def _init_weights(source: str) -> Any:
    """``init_weights``: a registered model's packaged weights (by name), else a checkpoint path."""
    from diffmesh.registry import get_spec, list_models
    from diffmesh.weights import read_packaged

    if source not in list_models():
        return source
    spec = get_spec(source)
    if spec.weights is None:
        raise ValueError(f"init_weights {source!r} names a model without packaged weights; name one of the packaged models or a checkpoint")
    return read_packaged(spec.weights, spec.sha256)


def build_run(config: RunConfig | Mapping[str, Any] | str | Path, device: str = "cpu") -> Run:
    """Model, task, data passes and loop settings for a config (RunConfig, mapping or YAML path).

    The model is initialised from the config's ``seed`` (default 0), so a run is
    reproducible from its config alone and different seeds give different initialisations.
    """
    import torch

    rc = load_run_config(config)
    torch.manual_seed(rc.seed)
    return _build_official(rc, device) if rc.is_official else _build_ours(rc, device)


def build_task(task: str, rc: RunConfig, val: Dataset | None, h36m_reader: Any = None) -> Task:
    """The task object (loss and evaluation) for ``task`` = mesh, pose3d or action."""
    from diffmesh.training.tasks import ActionTask, MeshTask, Pose3DTask

    # Official configs evaluate with flip test-time augmentation (`flip: True`); ours opt in.
    flip = rc.data.flip if rc.is_official else rc.evaluation.flip
    if task == "mesh":
        return MeshTask(MeshLossWeights.from_config(rc.loss.given()), rc.task.loss_type, val, flip=flip, per_frame=rc.task.per_frame)
    if task == "pose3d":
        scale = rc.loss.lambda_scale if rc.loss.lambda_scale is not None else 0.5
        velocity = rc.loss.lambda_3d_velocity if rc.loss.lambda_3d_velocity is not None else 20.0
        pose = Pose3DTask(PoseLossWeights(scale=scale, velocity=velocity), rc.task.rootrel, val, h36m_reader=h36m_reader, flip=flip)
        if not rc.is_official:  # pre-training augmentation of our configs (official: see train_2d)
            _set_masking(pose, rc)
        return pose
    return ActionTask(val)


def _set_masking(task: Any, rc: RunConfig) -> None:
    task.noise, task.mask_ratio, task.mask_T_ratio = rc.task.noise, rc.task.mask_ratio, rc.task.mask_T_ratio


# ------------------------------------------------------------------ diffmesh configs


def _build_ours(rc: RunConfig, device: str) -> Run:
    import diffmesh
    from diffmesh.body import load
    from diffmesh.data.synthetic import SyntheticMotionDataset, SyntheticMotionEngine

    spec = diffmesh.get_spec(variant_of(rc))
    body = load(rc.model.body_model) if spec.task == "mesh" else None
    model = build_model(rc, spec.name, body)
    syn = rc.synthetic
    if syn.type != "synthetic":
        raise ValueError(f"data.type {syn.type!r} is not supported in diffmesh configs; use 'synthetic' (official datasets: use an official config)")
    output = "mesh" if spec.task == "mesh" else "pose"
    clip_len = syn.clip_len if syn.clip_len is not None else (16 if output == "mesh" else 243)
    engine_args = {"families": syn.families, "exclude_families": syn.exclude_families, "noise": syn.noise,
                   "mask_ratio": syn.mask_ratio, "mask_T_ratio": syn.mask_T_ratio, "beta_std": syn.beta_std,
                   "fps": syn.fps, "mesh_vertex_stride": syn.mesh_vertex_stride}  # fmt: skip
    # the data keeps its own body model on the CPU: the model's moves to the training device (on a GPU,
    # a shared one made the engine's body-model passes fail with tensors on two devices)
    engine = SyntheticMotionEngine(copy.deepcopy(body) if body is not None else rc.model.body_model, clip_len=clip_len,
                                   seed=syn.seed, **engine_args)  # fmt: skip
    train: Dataset = SyntheticMotionDataset(syn.train_clips, "train", output, engine=engine)
    if syn.bank:
        # Pre-generated clips shared by runs (diffmesh.data.synthetic.bank), built on first use.
        from diffmesh.data.synthetic.bank import SyntheticClipBank, build_bank

        train = SyntheticClipBank(build_bank(train, syn.bank), train)  # type: ignore[arg-type]
    if body is not None and engine.mesh_model is not engine.body:
        # Train against the vertex sample the clips carry (exact for those vertices and
        # for the joints); the full model is put back for inference (mesh_model is not
        # part of the state dict).
        model.body_model = copy.deepcopy(engine.mesh_model)
    val_engine = engine
    if syn.val_families or syn.val_exclude_families:
        val_args = {**engine_args, "families": syn.val_families, "exclude_families": syn.val_exclude_families or ()}
        val_engine = SyntheticMotionEngine(engine.body, clip_len=clip_len, seed=syn.seed, **val_args)
    val = SyntheticMotionDataset(syn.val_clips, "val", output, engine=val_engine) if syn.val_clips else None
    tcfg = train_config(rc, device)
    from diffmesh.geometry.model_input import KEYPOINT_CHANNELS, model_input_channels

    channels = model_input_channels(model)
    if channels != KEYPOINT_CHANNELS:  # synthetic clips carry no detector 3-D: those channels read "unknown" (zeros)
        from diffmesh.data.rendered import PadChannels

        train = PadChannels(train, channels)
        val = PadChannels(val, channels) if val is not None else None
    passes = [TrainPass("synthetic", train, tcfg.batch_size)]
    if syn.rendered:
        if body is None:
            raise ValueError("data.rendered holds mesh ground truth; use it with a mesh model")
        from diffmesh.data.rendered import RenderedClipDataset

        rendered = RenderedClipDataset(syn.rendered, engine.mesh_model, clip_len, channels, syn.rendered_window_stride)
        passes.append(TrainPass("rendered", rendered, tcfg.batch_size))
    return Run(model, build_task(spec.task, rc, val), passes, tcfg, val, rc)


# ------------------------------------------------------------------ official configs


def _build_official(rc: RunConfig, device: str) -> Run:
    import diffmesh

    spec = diffmesh.get_spec(variant_of(rc))
    tcfg = train_config(rc, device)
    builders = {"action_class": _official_action, "action_embed": _official_oneshot, "dstformer": _official_pose}
    return builders.get(spec.architecture, _official_mesh)(rc, spec.name, tcfg)


def _action_folder(rc: RunConfig) -> Path:
    # The official scripts read data/action/<dataset>.pkl; `data_root` moves that folder.
    return Path(rc.data.data_root or "data/action")


def _official_action(rc: RunConfig, variant: str, tcfg: TrainConfig) -> Run:
    """NTU-60 classification (TRAINING.md §3.1)."""
    from diffmesh.data.readers.ntu import NTUActionDataset

    d = rc.data
    path = _action_folder(rc) / f"{d.dataset}.pkl"
    if not path.is_file():
        raise FileNotFoundError(f"NTU skeleton file {str(path)!r} does not exist; put {path.name} in data/action or set data_root")
    clip_len = d.clip_len or 243
    train = NTUActionDataset(path, f"{d.data_split}_train", clip_len=clip_len, random_move=d.random_move,
                             scale_range=d.scale_range_train)  # fmt: skip
    val = NTUActionDataset(path, f"{d.data_split}_val", clip_len=clip_len, train=False, scale_range=d.scale_range_test)
    model = build_model(rc, variant)
    return Run(model, build_task("action", rc, val), [TrainPass("ntu", train, tcfg.batch_size)], tcfg, val, rc)


def _official_oneshot(rc: RunConfig, variant: str, tcfg: TrainConfig) -> Run:
    """NTU-120 one-shot (TRAINING.md §3.2): train on the 100 auxiliary classes of
    ntu120_hrnet.pkl; validate with the 20 anchors and test samples of the one-shot file."""
    from diffmesh.data.readers.ntu import NTUActionDataset
    from diffmesh.training.tasks import ClassPairs, OneShotTask

    d, folder = rc.data, _action_folder(rc)
    aux_path, oneshot_path = folder / "ntu120_hrnet.pkl", folder / "ntu120_hrnet_oneshot.pkl"
    for path in (aux_path, oneshot_path):
        if not path.is_file():
            raise FileNotFoundError(f"NTU-120 file {str(path)!r} does not exist; put it in data/action or set data_root")
    clip_len = d.clip_len or 100
    aux = NTUActionDataset(aux_path, None, clip_len=clip_len, oneshot_aux=True, random_move=d.random_move,
                           scale_range=d.scale_range_train)  # fmt: skip
    anchors = NTUActionDataset(oneshot_path, "oneshot_train", clip_len=clip_len, train=False, scale_range=d.scale_range_test)
    test = NTUActionDataset(oneshot_path, "oneshot_val", clip_len=clip_len, train=False, scale_range=d.scale_range_test)
    model = build_model(rc, variant)
    task = OneShotTask(anchors, test, temperature=rc.task.temp)
    # A batch of B pairs holds 2B samples: B = batch_size / 2 keeps the official 32 samples.
    pairs = ClassPairs(aux, aux.labels, seed=tcfg.seed)
    return Run(model, task, [TrainPass("ntu120-aux", pairs, max(1, tcfg.batch_size // 2))], tcfg, test, rc)


def _official_pose(rc: RunConfig, variant: str, tcfg: TrainConfig) -> Run:
    """Pre-training and 3-D pose: MB3D clips; the H36M protocol when ``dt_file`` exists."""
    from diffmesh.data.readers.mb3d import MB3DClipDataset

    d = rc.data
    root = _existing(d.data_root)
    train = MB3DClipDataset(root, list(d.subset_list), "train", flip=d.flip, synthetic=d.synthetic)
    val: Dataset = MB3DClipDataset(root, list(d.subset_list), "test", flip=False)
    reader = None
    table = root.parent / str(d.dt_file or "")
    if d.dt_file is not None and table.is_file():
        # The official evaluation: H36M test clips from the LCN table, de-normalised with
        # each clip's first camera, per-action Protocol #1/#2 (EVALUATION.md §1).
        from diffmesh.data.readers.h36m import H36MPoseDataset, H36MReader

        clip_len = d.clip_len or 243
        reader = H36MReader(table, n_frames=clip_len, stride_train=d.data_stride, stride_test=clip_len, read_confidence=not d.no_conf)
        val = H36MPoseDataset(reader, "test", flip=False)
    elif d.dt_file is not None:
        logger.warning("%s not found: validating on the MB3D test clips without the H36M protocol", table)
    model = build_model(rc, variant)
    task = build_task("pose3d", rc, val, h36m_reader=reader)
    passes = [TrainPass("3d", train, tcfg.batch_size)]
    if d.train_2d:
        passes = _pretrain_2d_passes(root, rc, tcfg.batch_size) + passes
        _set_masking(task, rc)
    return Run(model, task, passes, tcfg, val, rc)


def _official_mesh(rc: RunConfig, variant: str, tcfg: TrainConfig) -> Run:
    """Mesh (MotionBERT, DiffMesh, DiffMesh refine): H36M, COCO and 3DPW passes."""
    from diffmesh.body import load
    from diffmesh.data.readers.mesh import MeshDataset, MeshReader

    d = rc.data
    root = _existing(d.data_root)
    body = load(root)  # SMPL_NEUTRAL.pkl and the regressors in data/mesh
    model = build_model(rc, variant, body)
    body = copy.deepcopy(body)  # the datasets' own, on the CPU: the model's moves to the training device
    clip_len = d.clip_len or 16
    passes: list[TrainPass] = []
    val: Dataset | None = None
    sources = (("h36m", d.dt_file_h36m, rc.schedule.warmup_h36m), ("coco", d.dt_file_coco, rc.schedule.warmup_coco),
               ("pw3d", d.dt_file_pw3d if d.train_pw3d else None, None))  # fmt: skip
    for source, file, until_epoch in sources:
        if file is None:
            continue
        reader = MeshReader(root / file, source, clip_len=1 if source == "coco" else clip_len)
        batch = rc.optim.batch_size_img if source == "coco" else tcfg.batch_size
        passes.append(TrainPass(source, MeshDataset(reader, "train", body, flip=d.flip), batch, until_epoch))
        if source in ("h36m", "pw3d"):
            val = MeshDataset(reader, "test", body, flip=False)  # 3DPW test when configured, else H36M
    if not passes:
        raise ValueError("the mesh config names no training file (dt_file_h36m / dt_file_coco / dt_file_pw3d)")
    return Run(model, build_task("mesh", rc, val), passes, tcfg, val, rc)


def _pretrain_2d_passes(root: Path, rc: RunConfig, batch_size: int) -> list[TrainPass]:
    """PoseTrack then InstaVariety passes from epoch ``pretrain_3d_curriculum`` (TRAINING.md §1).

    The official scripts read ``data/motion2d/...`` next to ``data/motion3d``."""
    from diffmesh.data.readers.instavariety import InstaVarietyDataset2D
    from diffmesh.data.readers.posetrack import PoseTrackDataset2D
    from diffmesh.training.tasks import KIND_2D_OTHER, KIND_2D_POSETRACK, Tagged

    motion2d = root.parent.parent / "motion2d"
    posetrack, insta = motion2d / "posetrack18_annotations" / "train", motion2d / "InstaVariety"
    for folder in (posetrack, insta):
        if not folder.is_dir():
            raise FileNotFoundError(f"pre-training 2-D data {str(folder)!r} does not exist (train_2d: True); see docs/data.md")
    start = rc.schedule.pretrain_3d_curriculum
    return [
        TrainPass("posetrack", Tagged(PoseTrackDataset2D(posetrack), KIND_2D_POSETRACK), batch_size, from_epoch=start),
        TrainPass("instavariety", Tagged(InstaVarietyDataset2D(insta), KIND_2D_OTHER), batch_size, from_epoch=start),
    ]


def _existing(data_root: str | None) -> Path:
    if data_root is None:
        raise ValueError("the config has no 'data_root'")
    path = Path(data_root)
    if not path.exists():
        raise FileNotFoundError(f"data_root {str(path)!r} (from the config) does not exist; download the official data or fix the path")
    return path
