"""The run config of ``diffmesh train`` / ``diffmesh eval``: typed sections, read from YAML.

Two layouts of YAML are read into one :class:`RunConfig`:

* **official MotionBERT / DiffMesh configs, unchanged** (``configs/mesh/DM_ft_pw3d.yaml`` …):
  flat keys; the model variant follows from the keys
  (:func:`diffmesh.registry.variant_for_config`), the data from ``data_root``,
  ``dt_file_*``, ``subset_list`` …;
* **diffmesh configs** (``configs/*.yaml`` of this repository), which name a registered
  model and a ``data`` section, e.g. the synthetic motion engine::

      model: diffmesh
      model_overrides: {dim_feat: 64, depth: 2}
      body_model: open
      data: {type: synthetic, clip_len: 16, train_clips: 20000, val_clips: 256}
      epochs: 10
      batch_size: 32
      lr_backbone: 1.0e-4
      lr_head: 5.0e-4

Every key is declared once in :data:`diffmesh.training.config_keys.KEYS`; an unknown or
misspelt key is a ``ValueError`` naming the key, the file and its closest match.
``None`` in a field means "absent": the task's default applies (see docs/training.md).
:meth:`RunConfig.to_dict` writes the config back in its own layout, so that
``RunConfig.from_dict(rc.to_dict()) == rc`` (a run folder's checkpoints record it).
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diffmesh.files import PathLike, read_config
from diffmesh.training.config_keys import IGNORED, KEYS, Layout, keys_for, primary_keys

__all__ = [
    "DataConfig",
    "EvalConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "RunConfig",
    "ScheduleConfig",
    "SyntheticConfig",
    "TaskConfig",
    "load_run_config",
]


@dataclass(frozen=True)
class ModelConfig:
    """Which model: a registered variant (diffmesh configs) or the official keys' architecture;
    ``None`` hyper-parameters keep the variant's own."""

    variant: str | None = None
    model_version: str | None = None
    dim_in: int | None = None
    dim_feat: int | None = None
    dim_rep: int | None = None
    depth: int | None = None
    num_heads: int | None = None
    mlp_ratio: float | None = None
    maxlen: int | None = None
    num_joints: int | None = None
    hidden_dim: int | None = None
    dropout: float | None = None
    dropout_ratio: float | None = None
    action_classes: int | None = None
    clip_len: int | None = None
    diffusion_grad: bool | None = None
    refine_6d_convention: str | None = None
    body_model: str = "open"
    init_backbone: str | None = None
    init_weights: str | None = None


@dataclass(frozen=True)
class DataConfig:
    """The official datasets (official configs); ``clip_len`` ``None``: the task's default
    (243 frames for pose and action, 100 for one-shot, 16 for mesh)."""

    data_root: str | None = None
    dt_file: str | None = None
    dt_file_h36m: str | None = None
    dt_file_coco: str | None = None
    dt_file_pw3d: str | None = None
    subset_list: tuple[str, ...] = ("H36M-SH",)
    dataset: str = "ntu60_hrnet"
    data_split: str = "xsub"
    clip_len: int | None = None
    data_stride: int = 81
    flip: bool = True
    synthetic: bool = False
    no_conf: bool = False
    random_move: bool = True
    scale_range_train: tuple[float, ...] = (1.0, 3.0)
    scale_range_test: tuple[float, ...] = (2.0, 2.0)
    train_2d: bool = False
    train_pw3d: bool = False


@dataclass(frozen=True)
class SyntheticConfig:
    """The synthetic motion engine (diffmesh configs' ``data:``); defaults are the engine's
    (:class:`diffmesh.data.synthetic.SyntheticMotionEngine`). ``clip_len`` ``None``: 16 for
    mesh models, 243 for pose models."""

    type: str | None = None
    clip_len: int | None = None
    train_clips: int = 1000
    val_clips: int = 0
    seed: int = 0
    families: tuple[str, ...] | None = None
    exclude_families: tuple[str, ...] = ()
    noise: bool = True
    mask_ratio: float = 0.05
    mask_T_ratio: float = 0.1
    beta_std: float = 1.0
    fps: float = 30.0
    mesh_vertex_stride: int = 1
    bank: str | None = None
    rendered: str | None = None
    rendered_window_stride: int = 4
    val_families: tuple[str, ...] | None = None
    val_exclude_families: tuple[str, ...] | None = None


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser groups and learning-rate decay (``lr_head`` ``None``: one group)."""

    epochs: int = 1
    batch_size: int = 32
    batch_size_img: int = 512
    lr_backbone: float = 1e-4
    lr_head: float | None = None
    weight_decay: float = 0.01
    lr_decay: float = 0.99


@dataclass(frozen=True)
class ScheduleConfig:
    """Which passes run when, how long, how often to log and save."""

    warmup_h36m: int | None = None
    warmup_coco: int | None = None
    pretrain_3d_curriculum: int = 0
    max_steps: int | None = None
    checkpoint_frequency: int = 0
    checkpoint_every_steps: int = 0
    log_every_steps: int = 10
    num_workers: int = 0


@dataclass(frozen=True)
class LossConfig:
    """Loss weights; ``None``: the task's default (:class:`diffmesh.losses.MeshLossWeights`;
    pose: ``lambda_scale`` 0.5, ``lambda_3d_velocity`` 20)."""

    lambda_3d: float | None = None
    lambda_scale: float | None = None
    lambda_3dv: float | None = None
    lambda_lv: float | None = None
    lambda_lg: float | None = None
    lambda_a: float | None = None
    lambda_av: float | None = None
    lambda_pose: float | None = None
    lambda_shape: float | None = None
    lambda_norm: float | None = None
    lambda_diff: float | None = None
    lambda_3d_velocity: float | None = None

    def given(self) -> dict[str, float]:
        """The weights the config sets."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass(frozen=True)
class TaskConfig:
    """Task options: mesh loss type, per-frame mesh head, pose targets, pre-training masking."""

    loss_type: str = "L1"
    rootrel: bool = True
    per_frame: bool = False
    temp: float = 0.1
    noise: bool = False
    mask_ratio: float = 0.0
    mask_T_ratio: float = 0.0


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation options of diffmesh configs (official configs: ``flip``, see DataConfig)."""

    flip: bool = False


_SECTIONS: dict[str, type] = {
    "model": ModelConfig, "data": DataConfig, "synthetic": SyntheticConfig, "optim": OptimConfig,
    "schedule": ScheduleConfig, "loss": LossConfig, "task": TaskConfig, "evaluation": EvalConfig,
}  # fmt: skip


@dataclass(frozen=True)
class RunConfig:
    """A training run, typed. ``layout`` says which YAML layout it was read from (and is
    written back in): ``official`` or ``diffmesh``."""

    layout: Layout = "diffmesh"
    name: str | None = None
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    evaluation: EvalConfig = field(default_factory=EvalConfig)

    @property
    def is_official(self) -> bool:
        return self.layout == "official"

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], where: str = "<dict>") -> RunConfig:
        """Parse a config mapping (``where`` names its file in error messages)."""
        layout: Layout = "diffmesh" if ("model" in raw or "data" in raw) else "official"
        values: dict[str, Any] = {}
        set_by: dict[str, str] = {}
        for key, value in _flatten(raw, layout, where).items():
            if layout == "official" and key in IGNORED:
                continue
            spec = KEYS.get(key)
            if spec is None or layout not in spec.layouts:
                raise ValueError(_unknown_key(key, layout, where))
            if spec.field in set_by and values[spec.field] != value:
                raise ValueError(f"keys {set_by[spec.field]!r} and {key!r} in {where} both set {spec.field}; give one of them")
            set_by[spec.field], values[spec.field] = key, value
        return cls.from_fields(values, layout=layout, where=where)

    @classmethod
    def from_fields(cls, values: Mapping[str, Any], layout: Layout = "diffmesh", where: str = "<dict>") -> RunConfig:
        """A config from field paths (``{"optim.epochs": 3, "seed": 1}``), values checked and converted."""
        return RunConfig(layout=layout).with_values(values, where=where)

    def with_values(self, values: Mapping[str, Any], where: str = "<overrides>") -> RunConfig:
        """A copy with fields replaced, by path (``{"optim.epochs": 3, "seed": 1}``)."""
        top: dict[str, Any] = {}
        sections: dict[str, dict[str, Any]] = {}
        for path, value in values.items():
            section, _, name = path.rpartition(".")
            owner = _SECTIONS[section] if section else RunConfig
            hints = typing.get_type_hints(owner)
            if name not in hints or (not section and name in _SECTIONS):
                raise ValueError(f"RunConfig has no field {path!r}")
            converted = _convert(value, hints[name], path, where)
            (sections.setdefault(section, {}) if section else top)[name] = converted
        for section, changes in sections.items():
            top[section] = dataclasses.replace(getattr(self, section), **changes)
        return dataclasses.replace(self, **top)

    def to_dict(self) -> dict[str, Any]:
        """The config in its own YAML layout (every set field; lists for sequences)."""
        out: dict[str, Any] = {}
        for path, key in primary_keys(self.layout).items():
            section, _, name = path.rpartition(".")
            value = getattr(getattr(self, section) if section else self, name)
            if value is None:
                continue
            value = list(value) if isinstance(value, tuple) else value
            outer, _, inner = key.rpartition(".")
            (out.setdefault(outer, {}) if outer else out)[inner] = value
        return out

    def save(self, path: PathLike) -> None:
        """Write the config as YAML (:func:`load_run_config` reads it back equal)."""
        import yaml

        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


def load_run_config(config: PathLike | Mapping[str, Any] | RunConfig) -> RunConfig:
    """A :class:`RunConfig` from a YAML file, a mapping, or a RunConfig (returned as is)."""
    if isinstance(config, RunConfig):
        return config
    where = "<dict>" if isinstance(config, Mapping) else str(config)
    return RunConfig.from_dict(read_config(config), where)


def _flatten(raw: Mapping[str, Any], layout: Layout, where: str) -> dict[str, Any]:
    """Top-level keys, and the nested sections of diffmesh configs as ``section.key``."""
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if layout == "diffmesh" and key in ("model_overrides", "data"):
            if value is None:
                continue
            if not isinstance(value, Mapping):
                raise ValueError(f"{key!r} in {where} must be a mapping of options, got {value!r}")
            flat.update({f"{key}.{sub}": v for sub, v in value.items()})
        else:
            flat[str(key)] = value
    return flat


def _unknown_key(key: str, layout: Layout, where: str) -> str:
    known = keys_for(layout)
    match = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"did you mean {match[0]!r}?" if match else "the keys are listed in docs/training.md"
    spec = KEYS.get(key)
    if spec is not None or key in IGNORED:
        other = "official MotionBERT/DiffMesh" if layout == "diffmesh" else "diffmesh (model: NAME)"
        return f"key {key!r} in {where} belongs to {other} configs, not to this {layout} config ({hint})"
    return f"unknown key {key!r} in {where} ({hint})"


def _convert(value: Any, hint: Any, path: str, where: str) -> Any:
    """``value`` as the field's type (YAML lists → tuples, ints → floats ...)."""
    args = typing.get_args(hint)
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args
    if value is None:
        if optional:
            return None
        raise ValueError(f"{path} in {where} may not be null")
    base = next(a for a in args if a is not type(None)) if optional else hint
    origin = typing.get_origin(base)
    try:
        if origin is tuple:
            if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
                raise TypeError
            item = typing.get_args(base)[0]
            return tuple(_convert(v, item, path, where) for v in value)
        if base is typing.Any or typing.get_origin(base) is typing.Literal:
            return value
        if base is bool:
            if not isinstance(value, bool):
                raise TypeError
            return value
        if base is int:
            if isinstance(value, bool) or float(value) != int(float(value)):
                raise TypeError
            return int(float(value))
        if base is float:
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if base is str:
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise TypeError
            return str(value)
    except (TypeError, ValueError):
        pass
    else:
        raise AssertionError(f"unhandled field type {base!r}")
    name = getattr(base, "__name__", str(base))
    raise ValueError(f"{path} in {where} must be {name}, got {value!r}")
