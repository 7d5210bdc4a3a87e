"""The one table of run-config keys: each YAML key → the :class:`~diffmesh.training.config.RunConfig`
field it sets.

Two layouts of YAML are read (see :mod:`diffmesh.training.config`):

* ``official`` — the official MotionBERT / DiffMesh configs, unchanged (flat keys);
* ``diffmesh`` — this project's configs (``model: NAME``, ``model_overrides: {...}``,
  ``data: {type: synthetic, ...}``); nested keys are written ``section.key`` here.

A key of the wrong layout, a key missing from this table or a misspelt one is an error that
names the key and its closest match. Official keys that this project deliberately does not
read are listed in :data:`IGNORED` with the reason (loading them is not an error).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Layout = Literal["official", "diffmesh"]
OFFICIAL: tuple[Layout, ...] = ("official",)
OURS: tuple[Layout, ...] = ("diffmesh",)
BOTH: tuple[Layout, ...] = ("official", "diffmesh")


@dataclass(frozen=True)
class Key:
    """Where a YAML key goes: ``field`` is ``section.name`` of :class:`RunConfig` (or a
    top-level field name); ``layouts`` are the config layouts that may use the key."""

    field: str
    layouts: tuple[Layout, ...] = BOTH
    doc: str = ""


_MODEL_HYPER = ("dim_in", "dim_feat", "dim_rep", "depth", "num_heads", "mlp_ratio", "maxlen", "num_joints",
                "hidden_dim", "dropout", "dropout_ratio", "action_classes")  # fmt: skip
_LAMBDAS = ("lambda_3d", "lambda_scale", "lambda_3dv", "lambda_lv", "lambda_lg", "lambda_a", "lambda_av",
            "lambda_pose", "lambda_shape", "lambda_norm", "lambda_diff", "lambda_3d_velocity")  # fmt: skip
_SYNTHETIC = ("type", "clip_len", "train_clips", "val_clips", "seed", "families", "exclude_families", "noise",
              "mask_ratio", "mask_T_ratio", "beta_std", "fps", "mesh_vertex_stride", "bank", "val_families",
              "val_exclude_families")  # fmt: skip

#: YAML key (nested keys as ``section.key``) → field. When two keys set one field, the first
#: listed is the one a saved config writes.
KEYS: dict[str, Key] = {
    "name": Key("name", doc="run name (default: the config file's name)"),
    "seed": Key("seed", doc="initialisation, data order and augmentation seed"),
    # model
    "model": Key("model.variant", OURS, "registered variant (diffmesh list); official configs: from their keys"),
    "model_version": Key("model.model_version", OFFICIAL, "action head: class or embed"),
    **{k: Key(f"model.{k}", OFFICIAL, "model hyper-parameter") for k in _MODEL_HYPER},
    **{f"model_overrides.{k}": Key(f"model.{k}", OURS, "model hyper-parameter") for k in _MODEL_HYPER},
    "model_overrides.clip_len": Key("model.clip_len", OURS, "DiffMesh head clip length"),
    "model_overrides.diffusion_grad": Key("model.diffusion_grad", OURS, "gradient through the reverse loop"),
    "model_overrides.refine_6d_convention": Key("model.refine_6d_convention", OURS, "refine head 6-D layout"),
    "body_model": Key("model.body_model", OURS, "open, or a path to official SMPL files"),
    "init_backbone": Key("model.init_backbone", OURS, "training checkpoint whose encoder initialises the model"),
    "init_weights": Key("model.init_weights", OURS, "packaged model name or training checkpoint that initialises the whole model"),
    # official datasets
    "data_root": Key("data.data_root", OFFICIAL, "data folder (mesh: data/mesh; pose: MB3D clips; action: data/action)"),
    "dt_file": Key("data.dt_file", OFFICIAL, "H36M pose table, relative to data_root's parent"),
    "dt_file_h36m": Key("data.dt_file_h36m", OFFICIAL, "mesh: H36M file in data_root"),
    "dt_file_coco": Key("data.dt_file_coco", OFFICIAL, "mesh: COCO file in data_root"),
    "dt_file_pw3d": Key("data.dt_file_pw3d", OFFICIAL, "mesh: 3DPW file in data_root"),
    "subset_list": Key("data.subset_list", OFFICIAL, "MB3D subsets"),
    "dataset": Key("data.dataset", OFFICIAL, "NTU skeleton file name"),
    "data_split": Key("data.data_split", OFFICIAL, "NTU split"),
    "clip_len": Key("data.clip_len", OFFICIAL, "frames per clip (default per task)"),
    "data_stride": Key("data.data_stride", OFFICIAL, "H36M training clip stride"),
    "flip": Key("data.flip", OFFICIAL, "flip augmentation in training and flip TTA in evaluation"),
    "synthetic": Key("data.synthetic", OFFICIAL, "MB3D: also read synthetic clips"),
    "no_conf": Key("data.no_conf", OFFICIAL, "drop the 2-D confidence channel"),
    "random_move": Key("data.random_move", OFFICIAL, "NTU random-move augmentation"),
    "scale_range_train": Key("data.scale_range_train", OFFICIAL, "NTU training scale range"),
    "scale_range_test": Key("data.scale_range_test", OFFICIAL, "NTU test scale range"),
    "train_2d": Key("data.train_2d", OFFICIAL, "pre-training: add the PoseTrack / InstaVariety 2-D passes"),
    "train_pw3d": Key("data.train_pw3d", OFFICIAL, "mesh: train on 3DPW too"),
    # synthetic data (diffmesh configs)
    **{f"data.{k}": Key(f"synthetic.{k}", OURS, "synthetic motion engine") for k in _SYNTHETIC},
    "data.rendered": Key("synthetic.rendered", OURS, "folder of clips rendered and run through BlazePose (tools/render_training_clips.py): a second pass"),
    "data.rendered_window_stride": Key("synthetic.rendered_window_stride", OURS, "frames between the rendered clips' training windows"),
    # optimisation
    "epochs": Key("optim.epochs"),
    "batch_size": Key("optim.batch_size", doc="global batch"),
    "batch_size_img": Key("optim.batch_size_img", OFFICIAL, "mesh: COCO single-frame batch"),
    "lr_backbone": Key("optim.lr_backbone", doc="encoder learning rate"),
    "learning_rate": Key("optim.lr_backbone", doc="pose configs' single learning rate"),
    "lr_head": Key("optim.lr_head", doc="head learning rate (absent: one group)"),
    "weight_decay": Key("optim.weight_decay"),
    "lr_decay": Key("optim.lr_decay", doc="per-epoch learning-rate factor"),
    # schedule
    "warmup_h36m": Key("schedule.warmup_h36m", OFFICIAL, "mesh: H36M pass while epoch < this"),
    "warmup_coco": Key("schedule.warmup_coco", OFFICIAL, "mesh: COCO pass while epoch < this"),
    "pretrain_3d_curriculum": Key("schedule.pretrain_3d_curriculum", OFFICIAL, "2-D passes from this epoch"),
    "max_steps": Key("schedule.max_steps", doc="stop after this many steps"),
    "checkpoint_frequency": Key("schedule.checkpoint_frequency", doc="keep epoch_{e}.bin every N epochs"),
    "checkpoint_every_steps": Key("schedule.checkpoint_every_steps", doc="save latest_epoch.bin every N steps"),
    "log_every_steps": Key("schedule.log_every_steps"),
    "num_workers": Key("schedule.num_workers", doc="data-loader workers"),
    # losses and task options
    **{k: Key(f"loss.{k}", doc="loss weight (absent: the task's default)") for k in _LAMBDAS},
    "loss_type": Key("task.loss_type", doc="mesh: L1 or MSE"),
    "rootrel": Key("task.rootrel", doc="pose: root-relative targets"),
    "per_frame": Key("task.per_frame", OURS, "mesh head on every frame alone"),
    "temp": Key("task.temp", OFFICIAL, "one-shot SupCon temperature"),
    "noise": Key("task.noise", doc="pre-training: 2-D input noise"),
    "mask_ratio": Key("task.mask_ratio", doc="pre-training: joint masking"),
    "mask_T_ratio": Key("task.mask_T_ratio", doc="pre-training: frame masking"),
    # evaluation
    "eval_flip": Key("evaluation.flip", OURS, "flip TTA in evaluation"),
}

#: Official keys this project reads on purpose from no code (loading them is not an error).
IGNORED: dict[str, str] = {
    "att_fuse": "the encoder always fuses its two streams (DEVIATIONS D-M2)",
    "dropout_loc": "read by no official code (ARCHITECTURE §5)",
    "finetune": "initialise from another run with init_backbone / diffmesh create_model",
    "partial_train": "null in every official config",
    "no_eval": "evaluation always runs (DEVIATIONS D-T1)",
    "gt_2d": "False in every official config; inputs are the detected 2-D poses",
    "sample_stride": "1 in every official config",
    "d2c_params_path": "the detection-noise model is packaged (diffmesh.data.synthetic)",
    "noise_path": "the detection-noise model is packaged (diffmesh.data.synthetic)",
    "n_views": "one-shot training always pairs two views (training.tasks.ClassPairs)",
}


def keys_for(layout: Layout) -> list[str]:
    """Every key a config of ``layout`` may hold (ignored official keys included)."""
    return [k for k, key in KEYS.items() if layout in key.layouts] + (list(IGNORED) if layout == "official" else [])


def primary_keys(layout: Layout) -> dict[str, str]:
    """Field → the key a saved config of ``layout`` writes it under (the first listed)."""
    out: dict[str, str] = {}
    for k, key in KEYS.items():
        if layout in key.layouts:
            out.setdefault(key.field, k)
    return out
