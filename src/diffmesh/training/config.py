"""Turn a run config (YAML or dict) into model, task, data passes and loop settings.

Two kinds of config are accepted:

* **Official YAML configs, unchanged** (``configs/mesh/DM_ft_pw3d.yaml`` …) with their dataset
  paths: ``data_root``, ``dt_file_*``, ``subset_list`` … The architecture is read from the
  config as :func:`diffmesh.models.load_official` does, the data passes follow the official
  epoch structure (TRAINING.md §4–5: H36M pass while ``epoch < warmup_h36m``, COCO single
  frames while ``epoch < warmup_coco``, then 3DPW), and validation uses the 3DPW test split
  (else H36M test).
* **diffmesh configs** (``configs/*.yaml`` of this repository), which name a registered model
  and a ``data`` section, e.g. the synthetic motion engine::

      model: diffmesh
      model_overrides: {dim_feat: 64, depth: 2}
      body_model: open
      data: {type: synthetic, clip_len: 16, train_clips: 20000, val_clips: 256, exclude_families: [jump]}
      epochs: 10
      batch_size: 32
      lr_backbone: 1.0e-4
      lr_head: 5.0e-4

Loop settings (``epochs``, ``batch_size``, ``learning_rate`` or ``lr_backbone``/``lr_head``,
``weight_decay``, ``lr_decay``, ``checkpoint_frequency``) use the official key names.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import Dataset

from diffmesh.losses import MeshLossWeights, PoseLossWeights
from diffmesh.training.loop import Task, TrainConfig, TrainPass

logger = logging.getLogger(__name__)

#: Architecture keys of the registry for official configs (see diffmesh.convert.official).
_OFFICIAL_MODEL = {
    "dstformer": "motionbert",
    "mesh": "motionbert-mesh",
    "diffmesh": "diffmesh",
    "diffmesh_refine": "diffmesh-refine",
    "action_class": "motionbert-action-ntu60",
    "action_embed": "motionbert-action-ntu120-oneshot",
}
_MODEL_KEYS = (
    "dim_feat", "dim_rep", "depth", "num_heads", "mlp_ratio", "maxlen", "num_joints",
    "hidden_dim", "dropout", "clip_len", "action_classes", "dropout_ratio",
)  # fmt: skip


@dataclass
class Run:
    """Everything :class:`~diffmesh.training.Trainer` needs, plus the validation data."""

    model: nn.Module
    task: Task
    passes: list[TrainPass]
    train_config: TrainConfig
    val_data: Dataset | None
    config: dict[str, Any]


def train_config_from(cfg: dict[str, Any], device: str = "cpu") -> TrainConfig:
    """Loop settings from official key names."""
    lr_backbone = cfg.get("lr_backbone", cfg.get("learning_rate", 1e-4))
    return TrainConfig(
        epochs=int(cfg.get("epochs", 1)),
        batch_size=int(cfg.get("batch_size", 32)),
        lr_backbone=float(lr_backbone),
        lr_head=float(cfg["lr_head"]) if "lr_head" in cfg else None,
        weight_decay=float(cfg.get("weight_decay", 0.01)),
        lr_decay=float(cfg.get("lr_decay", 0.99)),
        seed=int(cfg.get("seed", 0)),
        checkpoint_every_steps=int(cfg.get("checkpoint_every_steps", 0)),
        checkpoint_frequency=int(cfg.get("checkpoint_frequency", 0)),
        num_workers=int(cfg.get("num_workers", 0)),
        log_every_steps=int(cfg.get("log_every_steps", 10)),
        device=device,
        max_steps=cfg.get("max_steps"),
    )


def is_official(cfg: dict[str, Any]) -> bool:
    return "model" not in cfg and "dim_feat" in cfg


def build_run(cfg: dict[str, Any], device: str = "cpu") -> Run:
    """Model, task, data passes and loop settings for a config dict.

    The model is initialised from the config's ``seed`` (default 0), so a run is
    reproducible from its config alone and different seeds give different initialisations.
    """
    import torch

    torch.manual_seed(int(cfg.get("seed", 0)))
    return _build_official(cfg, device) if is_official(cfg) else _build_ours(cfg, device)


# ------------------------------------------------------------------ diffmesh configs


def _build_ours(cfg: dict[str, Any], device: str) -> Run:
    import diffmesh
    from diffmesh.body import load

    name = cfg.get("model")
    if not name:
        raise ValueError("config has no 'model': name a registered model (diffmesh list) or use an official config")
    spec = diffmesh.get_spec(str(name))
    overrides = dict(cfg.get("model_overrides") or {})
    body = load(cfg.get("body_model", "open")) if spec.task == "mesh" else None
    model = diffmesh.create_model(spec.name, body_model=body, **overrides) if body is not None else diffmesh.create_model(spec.name, **overrides)
    data = dict(cfg.get("data") or {})
    if data.get("type") != "synthetic":
        raise ValueError(f"data.type {data.get('type')!r} is not supported in diffmesh configs; use 'synthetic' (official datasets: use an official config)")
    from diffmesh.data.synthetic import SyntheticMotionDataset, SyntheticMotionEngine

    output = "mesh" if spec.task == "mesh" else "pose"
    clip_len = int(data.get("clip_len", 16 if output == "mesh" else 243))
    engine_keys = ("families", "exclude_families", "noise", "mask_ratio", "mask_T_ratio", "beta_std", "fps", "mesh_vertex_stride")
    engine_args = {k: data[k] for k in engine_keys if k in data}
    engine = SyntheticMotionEngine(body if body is not None else cfg.get("body_model", "open"), clip_len=clip_len,
                                   seed=int(data.get("seed", 0)), **engine_args)
    train: Dataset = SyntheticMotionDataset(int(data.get("train_clips", 1000)), "train", output, engine=engine)
    if data.get("bank"):
        # Pre-generated clips shared by runs (diffmesh.data.synthetic.bank), built on first use.
        from diffmesh.data.synthetic.bank import SyntheticClipBank, build_bank

        train = SyntheticClipBank(build_bank(train, str(data["bank"])), train)  # type: ignore[arg-type]
    if body is not None and engine.mesh_model is not engine.body:
        # Train against the vertex sample the clips carry (exact for those vertices and
        # for the joints); the full model is put back for inference (mesh_model is not
        # part of the state dict).
        model.body_model = engine.mesh_model
    val_engine = engine
    if data.get("val_families") or data.get("val_exclude_families"):
        val_args = {**engine_args, "families": data.get("val_families"), "exclude_families": data.get("val_exclude_families", ())}
        val_engine = SyntheticMotionEngine(engine.body, clip_len=clip_len, seed=int(data.get("seed", 0)), **val_args)
    val_clips = int(data.get("val_clips", 0))
    val = SyntheticMotionDataset(val_clips, "val", output, engine=val_engine) if val_clips else None
    if cfg.get("init_backbone"):
        load_backbone(model, str(cfg["init_backbone"]))
    task = _task_for(spec.task, cfg, val)
    tcfg = train_config_from(cfg, device)
    return Run(model, task, [TrainPass("synthetic", train, tcfg.batch_size)], tcfg, val, cfg)


def load_backbone(model: nn.Module, checkpoint: str) -> None:
    """Initialise ``model``'s DSTformer encoder from a diffmesh training checkpoint of any
    model that has one (a pre-training run, or another mesh/action model)."""
    from diffmesh.training.checkpoint import load_checkpoint

    state = load_checkpoint(checkpoint)["model"]
    target = model.backbone if hasattr(model, "backbone") else model
    prefix = "backbone." if any(k.startswith("backbone.") for k in state) else ""
    encoder = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    own = target.state_dict()
    # A pre-training checkpoint also holds the 3-D pose head (head.*), which mesh models
    # replace; anything else missing or misshapen is an error.
    encoder = {k: v for k, v in encoder.items() if k in own or not k.startswith("head.")}
    missing = sorted(set(own) - set(encoder))
    unexpected = sorted(set(encoder) - set(own))
    wrong = sorted(k for k in set(own) & set(encoder) if own[k].shape != encoder[k].shape)
    if missing or unexpected or wrong:
        raise ValueError(
            f"init_backbone {checkpoint!r} does not fit this encoder: missing {missing[:5]}, unexpected {unexpected[:5]}, "
            f"shape mismatch {wrong[:5]}; pre-train with the same model_overrides (dim_feat, depth, ...)"
        )
    target.load_state_dict(encoder)
    logger.info("encoder initialised from %s (%d tensors)", checkpoint, len(encoder))


def _task_for(task: str, cfg: dict[str, Any], val: Dataset | None, h36m_reader: Any = None) -> Task:
    from diffmesh.training.tasks import ActionTask, MeshTask, Pose3DTask

    # Official configs evaluate with flip test-time augmentation (`flip: True`); ours opt in.
    flip = bool(cfg.get("flip", False)) if is_official(cfg) else bool(cfg.get("eval_flip", False))
    if task == "mesh":
        return MeshTask(MeshLossWeights.from_config(cfg), str(cfg.get("loss_type", "L1")), val, flip=flip,
                        per_frame=bool(cfg.get("per_frame", False)))  # fmt: skip
    if task == "pose3d":
        weights = PoseLossWeights(
            scale=float(cfg.get("lambda_scale", 0.5)), velocity=float(cfg.get("lambda_3d_velocity", 20.0))
        )
        pose = Pose3DTask(weights, bool(cfg.get("rootrel", True)), val, h36m_reader=h36m_reader, flip=flip)
        if not is_official(cfg):  # pre-training augmentation of our configs (official: see train_2d)
            pose.noise = bool(cfg.get("noise", False))
            pose.mask_ratio = float(cfg.get("mask_ratio", 0.0))
            pose.mask_T_ratio = float(cfg.get("mask_T_ratio", 0.0))
        return pose
    return ActionTask(val)


# ------------------------------------------------------------------ official configs


def _build_official(cfg: dict[str, Any], device: str) -> Run:
    import diffmesh
    from diffmesh.convert.official import architecture_from_config
    from diffmesh.registry import allowed_overrides

    arch = architecture_from_config(cfg)
    if arch not in _OFFICIAL_MODEL:
        raise ValueError(
            f"official {arch!r} configs are read for checkpoints (diffmesh inspect) but training them is not wired yet; "
            "supported: pre-training/3-D pose, action and mesh configs"
        )
    name = _OFFICIAL_MODEL[arch]
    overrides = {k: cfg[k] for k in _MODEL_KEYS if k in cfg and k in allowed_overrides(name)}
    tcfg = train_config_from(cfg, device)
    if arch == "action_class":
        # NTU-60 classification (TRAINING.md §3.1): the official scripts read
        # data/action/<dataset>.pkl; `data_root` (not an official key) moves that folder.
        from diffmesh.data.readers.ntu import NTUActionDataset

        path = Path(str(cfg.get("data_root", "data/action"))) / f"{cfg.get('dataset', 'ntu60_hrnet')}.pkl"
        if not path.is_file():
            raise FileNotFoundError(f"NTU skeleton file {str(path)!r} does not exist; put {path.name} in data/action or set data_root")
        split, clip_len = str(cfg.get("data_split", "xsub")), int(cfg.get("clip_len", 243))
        train = NTUActionDataset(path, f"{split}_train", clip_len=clip_len, random_move=bool(cfg.get("random_move", True)),
                                 scale_range=tuple(cfg.get("scale_range_train", (1, 3))))
        val = NTUActionDataset(path, f"{split}_val", clip_len=clip_len, train=False,
                               scale_range=tuple(cfg.get("scale_range_test", (2, 2))))
        model = diffmesh.create_model(name, **overrides)
        return Run(model, _task_for("action", cfg, val), [TrainPass("ntu", train, tcfg.batch_size)], tcfg, val, cfg)
    if arch == "action_embed":
        # NTU-120 one-shot (TRAINING.md §3.2): train on the 100 auxiliary classes of
        # ntu120_hrnet.pkl; validate with the 20 anchors and test samples of the one-shot file.
        from diffmesh.data.readers.ntu import NTUActionDataset
        from diffmesh.training.tasks import ClassPairs, OneShotTask

        folder = Path(str(cfg.get("data_root", "data/action")))
        aux_path, oneshot_path = folder / "ntu120_hrnet.pkl", folder / "ntu120_hrnet_oneshot.pkl"
        for path in (aux_path, oneshot_path):
            if not path.is_file():
                raise FileNotFoundError(f"NTU-120 file {str(path)!r} does not exist; put it in data/action or set data_root")
        clip_len = int(cfg.get("clip_len", 100))
        aux = NTUActionDataset(aux_path, None, clip_len=clip_len, oneshot_aux=True, random_move=bool(cfg.get("random_move", True)),
                               scale_range=tuple(cfg.get("scale_range_train", (1, 3))))
        test_scale = tuple(cfg.get("scale_range_test", (2, 2)))
        anchors = NTUActionDataset(oneshot_path, "oneshot_train", clip_len=clip_len, train=False, scale_range=test_scale)
        test = NTUActionDataset(oneshot_path, "oneshot_val", clip_len=clip_len, train=False, scale_range=test_scale)
        model = diffmesh.create_model(name, **overrides)
        task = OneShotTask(anchors, test, temperature=float(cfg.get("temp", 0.1)))
        # A batch of B pairs holds 2B samples: B = batch_size / 2 keeps the official 32 samples.
        pairs = ClassPairs(aux, aux.labels, seed=tcfg.seed)
        return Run(model, task, [TrainPass("ntu120-aux", pairs, max(1, tcfg.batch_size // 2))], tcfg, test, cfg)
    if arch == "dstformer":
        from diffmesh.data.readers.mb3d import MB3DClipDataset

        root = _existing(cfg, "data_root")
        subsets = list(cfg.get("subset_list", ["H36M-SH"]))
        train = MB3DClipDataset(root, subsets, "train", flip=bool(cfg.get("flip", True)), synthetic=bool(cfg.get("synthetic", False)))
        val: Dataset = MB3DClipDataset(root, subsets, "test", flip=False)
        reader = None
        table = root.parent / str(cfg.get("dt_file", ""))
        if "dt_file" in cfg and table.is_file():
            # The official evaluation: H36M test clips from the LCN table, de-normalised with
            # each clip's first camera, per-action Protocol #1/#2 (EVALUATION.md §1).
            from diffmesh.data.readers.h36m import H36MPoseDataset, H36MReader

            reader = H36MReader(table, n_frames=int(cfg.get("clip_len", 243)), stride_train=int(cfg.get("data_stride", 81)),
                                stride_test=int(cfg.get("clip_len", 243)), read_confidence=not cfg.get("no_conf", False))
            val = H36MPoseDataset(reader, "test", flip=False)
        elif "dt_file" in cfg:
            logger.warning("%s not found: validating on the MB3D test clips without the H36M protocol", table)
        model = diffmesh.create_model(name, **overrides)
        task = _task_for("pose3d", cfg, val, h36m_reader=reader)
        passes = [TrainPass("3d", train, tcfg.batch_size)]
        if cfg.get("train_2d", False):
            passes = _pretrain_2d_passes(root, cfg, tcfg.batch_size) + passes
            task.noise = bool(cfg.get("noise", False))  # type: ignore[attr-defined]
            task.mask_ratio = float(cfg.get("mask_ratio", 0.0))  # type: ignore[attr-defined]
            task.mask_T_ratio = float(cfg.get("mask_T_ratio", 0.0))  # type: ignore[attr-defined]
        return Run(model, task, passes, tcfg, val, cfg)

    from diffmesh.body import load
    from diffmesh.data.readers.mesh import MeshDataset, MeshReader

    root = _existing(cfg, "data_root")
    body = load(root)  # SMPL_NEUTRAL.pkl and the regressors in data/mesh
    model = diffmesh.create_model(name, body_model=body, **overrides)
    clip_len = int(cfg.get("clip_len", 16))
    flip = bool(cfg.get("flip", True))
    passes: list[TrainPass] = []
    val: Dataset | None = None
    sources = (("h36m", "dt_file_h36m", "warmup_h36m"), ("coco", "dt_file_coco", "warmup_coco"), ("pw3d", "dt_file_pw3d", None))
    for source, key, warmup in sources:
        if key not in cfg or (source == "pw3d" and not cfg.get("train_pw3d", False)):
            continue
        reader = MeshReader(root / str(cfg[key]), source, clip_len=1 if source == "coco" else clip_len)
        batch = int(cfg.get("batch_size_img", 512)) if source == "coco" else tcfg.batch_size
        passes.append(TrainPass(source, MeshDataset(reader, "train", body, flip=flip), batch, int(cfg[warmup]) if warmup and warmup in cfg else None))
        if source in ("h36m", "pw3d"):
            val = MeshDataset(reader, "test", body, flip=False)  # 3DPW test when configured, else H36M
    if not passes:
        raise ValueError("the mesh config names no training file (dt_file_h36m / dt_file_coco / dt_file_pw3d)")
    return Run(model, _task_for("mesh", cfg, val), passes, tcfg, val, cfg)


def _pretrain_2d_passes(root: Path, cfg: dict[str, Any], batch_size: int) -> list[TrainPass]:
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
    start = int(cfg.get("pretrain_3d_curriculum", 0))
    return [
        TrainPass("posetrack", Tagged(PoseTrackDataset2D(posetrack), KIND_2D_POSETRACK), batch_size, from_epoch=start),
        TrainPass("instavariety", Tagged(InstaVarietyDataset2D(insta), KIND_2D_OTHER), batch_size, from_epoch=start),
    ]


def _existing(cfg: dict[str, Any], key: str) -> Path:
    if key not in cfg:
        raise ValueError(f"the config has no {key!r}")
    path = Path(str(cfg[key]))
    if not path.exists():
        raise FileNotFoundError(f"{key} {str(path)!r} (from the config) does not exist; download the official data or fix the path")
    return path
