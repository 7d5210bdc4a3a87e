"""Named model variants: each knows its architecture, official configuration, the format its
weights come in, and their licence. ``create_model(name)`` builds one; ``list_models()`` lists them.

Which model and which weights are decided here, once:

* ``create_model(name)``: random initialisation, or the packaged weights of a variant that
  has some (the synthetic-trained default weights, ``docs/model_card.md``; checksum verified).
* ``create_model(name, checkpoint=FILE, config=YAML, data_root=DIR)``: a checkpoint in the
  variant's declared :attr:`ModelSpec.source` format (official MotionBERT / DiffMesh
  ``.bin`` files, which cannot be redistributed or downloaded here), its config's model
  keys, and for mesh models the official ``data/mesh`` folder (else the SMPL buffers
  official mesh checkpoints carry).
* ``load_official(checkpoint, config)``: the variant an official config describes
  (:func:`variant_for_config`), then ``create_model`` as above.

Every checkpoint goes through :func:`diffmesh.weights.read_checkpoint` (read once, hashed,
``weights_only=True``) and is loaded strictly: every key and shape must match the variant.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from torch import nn

from diffmesh.files import PathLike, read_config
from diffmesh.models.build import ARCHITECTURES, BACKBONE_KEYS, HEAD_KEYS, build_model
from diffmesh.weights import (
    DIFFMESH,
    MOTIONBERT,
    MOTIONBERT_POSE,
    PACKAGED,
    Checkpoint,
    CheckpointFormat,
    CheckpointMismatchError,
    WeightsInfo,
    read_checkpoint,
    read_packaged,
    strict_load,
)

logger = logging.getLogger(__name__)

_MB_FULL = {"dim_feat": 512, "dim_rep": 512, "depth": 5, "num_heads": 8, "mlp_ratio": 2, "maxlen": 243, "num_joints": 17}
_MB_LITE = {**_MB_FULL, "dim_feat": 256, "mlp_ratio": 4}

_OFFICIAL_MB = "official MotionBERT release (Walter0807/MotionBERT model zoo); not redistributable here"
_OFFICIAL_DM = "official DiffMesh release (zczcwh/DiffMesh); not redistributable here"


@dataclass(frozen=True)
class ModelSpec:
    """A named variant.

    Attributes:
        name: registry name.
        architecture: key of :data:`diffmesh.models.build.ARCHITECTURES`.
        config: the official hyper-parameters the model is built from.
        official_config: the official YAML file these values come from.
        description: one line for ``diffmesh list``.
        weights_source: where trained weights come from.
        licence: licence of the weights.
        source: the :class:`~diffmesh.weights.CheckpointFormat` its trained weights come
            in (``checkpoint=`` files are read as this unless ``checkpoint_format=`` says otherwise).
        weights: packaged weights file in ``diffmesh/weights/`` (``None``: random initialisation).
        sha256: checksum of ``weights``.
        training_data: what packaged weights were trained on.
        reported: metrics (official READMEs for official variants; measured here for packaged weights).
        body_model: the body model packaged weights were trained with (the only one they fit).
        input_normalization: which frames share one 2-D crop box at inference
            (:data:`diffmesh.pipelines.prediction.NORMALIZATIONS`): ``"segment"`` (the official
            whole-video ``crop_scale``) or ``"window"`` (one box per network window, as the packaged
            weights were trained).
        detector_blend: the detector's share when the body is blended with its own 3-D joints
            (:mod:`diffmesh.pipelines.detector_blend`); 0 (official checkpoints: their outputs stay
            the official code's) turns it off.
    """

    name: str
    architecture: str
    config: Mapping[str, Any]
    official_config: str
    description: str
    weights_source: str
    licence: str
    source: CheckpointFormat
    weights: str | None = None
    sha256: str | None = None
    reported: Mapping[str, str] = field(default_factory=dict)
    training_data: str = ""
    body_model: str | None = None
    input_normalization: str = "segment"
    detector_blend: float = 0.0

    @property
    def task(self) -> str:
        return ARCHITECTURES[self.architecture]


def _spec(**kwargs: Any) -> ModelSpec:
    kwargs["config"] = MappingProxyType(dict(kwargs["config"]))
    kwargs["reported"] = MappingProxyType(dict(kwargs.get("reported", {})))
    return ModelSpec(**kwargs)


_REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        _spec(
            name="motionbert",
            architecture="dstformer",
            config=_MB_FULL,
            official_config="pretrain/MB_pretrain.yaml",
            description="MotionBERT encoder (42.5 M), pre-training configuration",
            weights_source=_OFFICIAL_MB,
            licence="Apache-2.0 (official code); weights per the official release",
            source=MOTIONBERT_POSE,
        ),
        _spec(
            name="motionbert-lite",
            architecture="dstformer",
            config=_MB_LITE,
            official_config="pretrain/MB_lite.yaml",
            description="MotionBERT-Lite encoder (16.0 M)",
            weights_source=_OFFICIAL_MB,
            licence="Apache-2.0 (official code); weights per the official release",
            source=MOTIONBERT_POSE,
        ),
        _spec(
            name="motionbert-pose3d",
            architecture="dstformer",
            config={**_MB_FULL, "rootrel": True},
            official_config="pose3d/MB_ft_h36m.yaml",
            description="3-D pose from 2-D keypoints, fine-tuned on H36M (root-relative)",
            weights_source=_OFFICIAL_MB,
            licence="Apache-2.0 (official code); weights per the official release",
            source=MOTIONBERT_POSE,
            reported={"H36M MPJPE (official README)": "37.2 mm"},
        ),
        _spec(
            name="motionbert-pose3d-global-lite",
            architecture="dstformer",
            config={**_MB_LITE, "rootrel": False},
            official_config="pose3d/MB_ft_h36m_global_lite.yaml",
            description="3-D pose, Lite, global (non-root-relative) output; the official in-the-wild demo model",
            weights_source=_OFFICIAL_MB,
            licence="Apache-2.0 (official code); weights per the official release",
            source=MOTIONBERT_POSE,
        ),
        _spec(
            name="motionbert-action-ntu60",
            architecture="action_class",
            config={**_MB_FULL, "action_classes": 60, "hidden_dim": 2048, "dropout_ratio": 0.5},
            official_config="action/MB_ft_NTU60_xsub.yaml",
            description="Action recognition, NTU-60 (60 classes), two persons averaged",
            weights_source=_OFFICIAL_MB,
            licence="Apache-2.0 (official code); weights per the official release",
            source=MOTIONBERT,
            reported={"NTU-60 x-sub top-1 (official README)": "97.2 %"},
        ),
        _spec(
            name="motionbert-action-ntu120-oneshot",
            architecture="action_embed",
            config={**_MB_FULL, "hidden_dim": 2048, "dropout_ratio": 0.1, "clip_len": 100},
            official_config="action/MB_ft_NTU120_oneshot.yaml",
            description="One-shot action recognition embedding (NTU-120), unit vectors of 2048",
            weights_source=_OFFICIAL_MB,
            licence="Apache-2.0 (official code); weights per the official release",
            source=MOTIONBERT,
        ),
        _spec(
            name="motionbert-mesh",
            architecture="motionbert_mesh",
            config={**_MB_FULL, "hidden_dim": 1024, "dropout": 0.1, "clip_len": 16},
            official_config="mesh/MB_ft_pw3d.yaml",
            description="MotionBERT mesh recovery (fc/BatchNorm SMPL head), fine-tuned with 3DPW",
            weights_source=_OFFICIAL_MB,
            licence="Apache-2.0 (official code); weights per the official release",
            source=MOTIONBERT,
            reported={"3DPW MPVE (official README)": "88.1 mm"},
        ),
        _spec(
            name="diffmesh",
            architecture="diffmesh",
            config={**_MB_FULL, "clip_len": 16},
            official_config="mesh/DM_ft_pw3d.yaml",
            description="DiffMesh: MotionBERT encoder + motion-aware diffusion SMPL head (16-frame clips)",
            weights_source=_OFFICIAL_DM,
            licence="official code licence; weights per the official release",
            source=DIFFMESH,
        ),
        _spec(
            name="diffmesh-refine",
            architecture="diffmesh_refine",
            config={**_MB_FULL, "clip_len": 16, "hidden_dim": 512, "dropout": 0.1},
            official_config="mesh/DM_ft_pw3d_refine_hybrik.yaml",
            description="DiffMesh refining an initial SMPL estimate (HybrIK) per frame",
            weights_source=_OFFICIAL_DM,
            licence="official code licence; weights per the official release",
            source=DIFFMESH,
        ),
        _spec(
            name="diffmesh-synthetic",
            architecture="diffmesh",
            config={**_MB_FULL, "dim_feat": 128, "dim_rep": 256, "depth": 2, "num_heads": 8, "maxlen": 16,
                    "clip_len": 16, "diffusion_grad": True},  # fmt: skip
            official_config="configs/default_weights/final.yaml (this project)",
            description="default weights: small DiffMesh (diffusion_grad) trained on synthetic motion only",
            weights_source="trained by this project on synthetic motion (tools/default_weights.py; docs/model_card.md)",
            licence="Apache-2.0 (trained here from generated data only)",
            source=PACKAGED,
            weights="diffmesh_synthetic.pt",
            sha256="f9a00f99c91020bb6be2327b632a4b58e3487a23863f0ccc4d1ffad3321c7015",
            training_data=(
                "synthetic motion only: diffmesh.data.synthetic engine, open body model, 8 procedural motion families "
                "(jump held out), random cameras, official detector-noise tables; encoder pre-trained on 12,000 "
                "2-D -> 3-D clips, then mesh training on 16,000 clips of 16 frames"
            ),
            body_model="open",
            input_normalization="window",
            detector_blend=0.5,
            reported={
                "held-out synthetic test, 256 clips (synthetic-trained)": "MPJPE 60.7 mm, PA-MPJPE 40.9 mm, MPVE 79.4 mm, accel error 4.77 mm/frame^2",
                "families seen in training, 192 clips": "MPJPE 55.8 mm, PA-MPJPE 35.8 mm, MPVE 71.1 mm, accel error 2.78",
                "held-out family 'jump', 64 clips": "MPJPE 75.2 mm, PA-MPJPE 56.1 mm, MPVE 104.4 mm, accel error 10.73",
            },
        ),
        _spec(
            name="diffmesh-fusion",
            architecture="diffmesh",
            config={**_MB_FULL, "dim_in": 6, "dim_feat": 128, "dim_rep": 256, "depth": 2, "num_heads": 8, "maxlen": 16,
                    "clip_len": 16, "diffusion_grad": True},  # fmt: skip
            official_config="configs/default_weights/fusion.yaml then fusion_stage2.yaml (this project)",
            description="the default: diffmesh-synthetic reading BlazePose's own 3-D joints too (6 input channels), "
            "fine-tuned on rendered clips through the real detector",
            weights_source="trained by this project (tools/render_training_clips.py, configs/default_weights/fusion.yaml, "
            "then fusion_stage2.yaml; docs/model_card.md)",
            licence="Apache-2.0 (trained here from generated data and CC0 assets only)",
            source=PACKAGED,
            weights="diffmesh_fusion.pt",
            sha256="9cda6d082259dd07fb530aba18d6e72cf78cf2c83394e4602cf7aed227f44e8e",
            training_data=(
                "diffmesh-synthetic's data, then clips of the open body model rendered in rooms and run through BlazePose "
                "(procedural families without jump, and the 12 DeepMimic training clips, augmented; stage 2: 817 clips, "
                "half with cameras up to 5 m high), mixed with synthetic clips whose 3-D channels are zero"
            ),
            body_model="open",
            input_normalization="window",
            detector_blend=0.5,
            reported={
                "held-out rendered video, 18 clips, limb PA-MPJPE, with the detector blend (the pipeline's default; "
                "synthetic-trained)": "82 mm (these weights alone 97, BlazePose world landmarks 94); hip-aligned MPJPE 134 mm "
                "(147; 152); reprojection 3.2 % of height (4.3 %); docs/benchmarks.md section 5.4",
                "held-out rendered video, 18 clips, limb PA-MPJPE (synthetic-trained)": "96.7 mm (diffmesh-synthetic 101.7, "
                "BlazePose world landmarks 93.9); hip-aligned MPJPE 147 mm (165; BlazePose 152); accel error 9.2 (9.5); "
                "torso facing 97.6 % (96.6 %; BlazePose 91.6 %); docs/benchmarks.md section 5.3",
                "stage 1 (before fusion_stage2.yaml)": "99.7 mm (diffmesh-synthetic 101.7, "
                "BlazePose world landmarks 93.9); hip-aligned MPJPE 157 mm (165); accel error 9.5 (9.5); torso facing 93 % (97 %); "
                "stills 102.5 mm (106.8); docs/benchmarks.md section 5.2",
            },
        ),
    )
}


#: The mesh model the video pipeline uses when no checkpoint is given (packaged weights): it reads the
#: detector's own 3-D joints too (docs/benchmarks.md §5.3) ...
DEFAULT_MESH_MODEL = "diffmesh-fusion"
#: ... and the one it uses when the keypoints carry no 3-D (AlphaPose files, ``--keypoints``).
DEFAULT_MESH_MODEL_WITHOUT_3D = "diffmesh-synthetic"


def list_models() -> list[str]:
    """Names of the registered variants."""
    return sorted(_REGISTRY)


def get_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of a registered variant."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; registered models: {', '.join(list_models())}") from None


def allowed_overrides(name: str) -> set[str]:
    """Hyper-parameters :func:`create_model` accepts as overrides for ``name``."""
    return set(BACKBONE_KEYS) | set(HEAD_KEYS[get_spec(name).architecture])


# ------------------------------------------------------------------ which variant a config describes


def _official_architecture(cfg: Mapping[str, Any]) -> str | None:
    """The architecture an official MotionBERT / DiffMesh config describes (its declared keys)."""
    if "model_version" in cfg:  # action configs
        return "action_embed" if cfg["model_version"] == "embed" else "action_class"
    dt_files = [str(cfg[k]) for k in ("dt_file_h36m", "dt_file_coco", "dt_file_pw3d") if k in cfg]
    if any("hybrik" in f for f in dt_files):
        return "diffmesh_refine"
    if "lambda_diff" in cfg:
        return "diffmesh"
    if dt_files:
        return "motionbert_mesh"  # DM_train_pw3d.yaml is byte-identical to MB_ft_pw3d.yaml (D-D13)
    if "dim_feat" in cfg:
        return "dstformer"
    return None


def variant_for_config(config: PathLike | Mapping[str, Any]) -> str:
    """The registered variant a config describes; the one place a config decides the model.

    A diffmesh config names its variant (``model:``). An official MotionBERT / DiffMesh
    YAML gives the architecture by its keys (``model_version`` → action; a HybrIK
    ``dt_file_*`` → DiffMesh refine; ``lambda_diff`` → DiffMesh; other ``dt_file_*`` →
    MotionBERT mesh; else the encoder), and the variant is the first registered one of that
    architecture whose declared hyper-parameters agree with the config's (else the first of
    that architecture; the config's model keys override its hyper-parameters anyway).
    """
    cfg = read_config(config)
    if "model" in cfg:
        return get_spec(str(cfg["model"])).name
    arch = _official_architecture(cfg)
    if arch is None:
        raise ValueError(
            f"config {_describe(config)} describes no model: expected an official MotionBERT/DiffMesh YAML "
            "(with dim_feat, model_version, dt_file_* ...) or a diffmesh config naming its model (model: NAME)"
        )
    candidates = [s for s in _REGISTRY.values() if s.architecture == arch and s.source is not PACKAGED]
    agree = [s for s in candidates if all(cfg[k] == v for k, v in s.config.items() if k in cfg)]
    return (agree or candidates)[0].name


def _describe(config: Any) -> str:
    return "<dict>" if isinstance(config, Mapping) else repr(str(config))


def _config_overrides(spec: ModelSpec, cfg: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The model keys of a config: a diffmesh config's ``model_overrides``, an official YAML's
    hyper-parameters (its training and data keys are not the model's)."""
    if "model" in cfg:
        if cfg["model"] != spec.name:
            raise ValueError(f"config {where} is for model {cfg['model']!r}, not {spec.name!r}; pass its own config")
        return dict(cfg.get("model_overrides") or {})
    allowed = allowed_overrides(spec.name)
    return {k: v for k, v in cfg.items() if k in allowed}


# ------------------------------------------------------------------ building


def _body_model(spec: ModelSpec, ckpt: Checkpoint | None, body_model: Any, data_root: PathLike | None, packaged: bool) -> nn.Module:
    """The body model of a mesh variant: ``data_root`` / ``body_model`` when given, else the
    SMPL buffers of an official mesh checkpoint, else the open model."""
    from diffmesh.body import BodyModel, load

    if body_model is not None and data_root is not None:
        raise ValueError("pass data_root= (the official data/mesh folder) or body_model=, not both")
    source = data_root if data_root is not None else body_model
    if source is None and ckpt is not None and ckpt.body_state:
        body = BodyModel.from_smpl_state_dict(ckpt.body_state)
        logger.debug("rebuilt the SMPL body model from the %d head.smpl.* buffers in %s", len(ckpt.body_state), ckpt.where)
        return body
    if source is None and ckpt is not None and ckpt.format.body_prefix:
        raise CheckpointMismatchError(
            f"mesh checkpoint {ckpt.where} carries no SMPL buffers ({ckpt.format.body_prefix}*); pass data_root= the official "
            "data/mesh folder (with SMPL_NEUTRAL.pkl and J_regressor_h36m_correct.npy) or body_model="
        )
    source = "open" if source is None else source
    body = load(source) if isinstance(source, (str, os.PathLike)) else source
    if not isinstance(body, BodyModel):
        raise ValueError(f"body_model must be a BodyModel, 'open' or a path, got {type(source).__name__}")
    if packaged and spec.body_model is not None and body.name != spec.body_model:
        raise ValueError(
            f"{spec.name!r} weights were trained with the {spec.body_model!r} body model; body_model {body.name!r} has another "
            f"shape space. Use body_model={spec.body_model!r} (or pretrained=False)"
        )
    return body


def create_model(
    name: str,
    *,
    checkpoint: PathLike | Mapping[str, Any] | Checkpoint | None = None,
    config: PathLike | Mapping[str, Any] | None = None,
    data_root: PathLike | None = None,
    checkpoint_format: CheckpointFormat | str | None = None,
    body_model: nn.Module | PathLike | None = None,
    pretrained: bool = True,
    **overrides: Any,
) -> nn.Module:
    """Build a registered variant in eval mode: with a checkpoint's weights, its packaged
    weights, or randomly initialised.

    The model's ``weights_info`` (:class:`~diffmesh.weights.WeightsInfo`) says which
    weights it carries (variant, format, file, SHA-256).

    Args:
        name: a name from :func:`list_models`.
        checkpoint: weights to load (file, loaded dict or
            :class:`~diffmesh.weights.Checkpoint`), read strictly as the variant's declared
            format: for official variants the official ``.bin`` (``module.`` prefix,
            ``model_pos``/``model``, mesh SMPL buffers ``head.smpl.*``).
        config: the checkpoint's config (YAML file or dict): an official YAML's model keys
            (``dim_feat``, ``depth``, ``clip_len`` ...) or a diffmesh config's
            ``model_overrides`` replace the variant's hyper-parameters. A training-run
            checkpoint's own config is used when this is omitted.
        data_root: mesh variants: the official ``data/mesh`` folder (SMPL_NEUTRAL.pkl, regressors,
            means) as the body model. Official mesh checkpoints carry the SMPL buffers, so
            it is optional with them.
        checkpoint_format: read ``checkpoint`` as this format instead of the declared one
            (e.g. ``"training-run"`` for a checkpoint of ``diffmesh train``).
        body_model: mesh variants only — a :class:`~diffmesh.body.BodyModel`, ``"open"``
            (the shipped licence-free model), or a path to an official SMPL file or
            ``data/mesh`` folder. Default: the checkpoint's SMPL buffers, else ``"open"``.
        pretrained: without ``checkpoint``: load the variant's packaged weights when it has
            some (checksum verified); ``False`` gives a random initialisation.
        **overrides: hyper-parameters replacing the official ones (e.g. ``depth=2``,
            ``dim_feat=64`` for a tiny model; ``diffusion_grad=True``;
            ``refine_6d_convention="spin_columns"``).

    Raises:
        CheckpointMismatchError: the checkpoint is not in its format or does not fit the
            variant (every missing, unexpected and misshapen key is named).
        UnsafeCheckpointError: the checkpoint holds objects other than tensors.
    """
    spec = get_spec(name)
    allowed = allowed_overrides(name)
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ValueError(f"{name!r} does not take {unknown}; accepted overrides: {sorted(allowed)}")
    ckpt = None
    if checkpoint is not None:
        ckpt = read_checkpoint(checkpoint, spec.source if checkpoint_format is None else checkpoint_format)
        if config is None and isinstance(ckpt.contents.get("config"), Mapping):
            config = ckpt.contents["config"]  # a training run records its config
    params = {**spec.config, **(_config_overrides(spec, read_config(config), _describe(config)) if config is not None else {})}
    params.update(overrides)
    packaged = ckpt is None and pretrained and spec.weights is not None
    if packaged:
        if params != dict(spec.config):
            changed = sorted(k for k in params if params[k] != spec.config.get(k))
            raise ValueError(
                f"{name!r} comes with packaged weights for its own configuration; overrides {changed} "
                "would not fit them: pass pretrained=False to build a differently shaped, untrained model"
            )
        ckpt = read_packaged(spec.weights, spec.sha256)
    body = None
    if spec.task == "mesh":
        body = _body_model(spec, ckpt, body_model, data_root, packaged)
    elif ckpt is not None and ckpt.body_state:
        raise CheckpointMismatchError(f"checkpoint {ckpt.where} has body-model buffers (head.smpl.*) but {name!r} is not a mesh model")
    model = build_model(spec.architecture, params, body)
    info = WeightsInfo(name)
    if ckpt is not None:
        where = f"checkpoint {ckpt.where} (key {ckpt.format.state_key!r}) for {name!r}"
        strict_load(model, ckpt.state, where=where)
        info = WeightsInfo(name, ckpt.format.name, ckpt.file, ckpt.sha256)
        logger.debug("loaded %s weights from %s: %d tensors", ckpt.format.name, ckpt.where, len(ckpt.state))
    model.weights_info = info
    return model.eval()


def load_official(
    checkpoint: PathLike | Mapping[str, Any] | Checkpoint,
    config: PathLike | Mapping[str, Any],
    data_root: PathLike | None = None,
    **kwargs: Any,
) -> nn.Module:
    """An official MotionBERT / DiffMesh checkpoint with its YAML config, as the variant the
    config describes: ``create_model(variant_for_config(config), checkpoint=..., config=...,
    data_root=...)``. ``kwargs`` go to :func:`create_model` (``body_model=``, and head options
    that do not change the weights, e.g. ``diffusion_grad=True``).

    Returns:
        pose/pre-train checkpoints: :class:`~diffmesh.models.DSTformer` (``[B,T,17,3]``
        → ``[B,T,17,3]``, and ``get_representation``); action: ``ActionNet``
        (``[B,M,T,17,3]`` → ``[B,C]``); mesh: ``MeshRegressor`` returning a
        :class:`~diffmesh.models.MeshOutput` (``theta [B,T,82]``, ``verts [B,T,6890,3]`` mm,
        ``kp_3d [B,T,17,3]`` mm).
    """
    cfg = read_config(config)
    name = variant_for_config(cfg)
    try:
        return create_model(name, checkpoint=checkpoint, config=cfg, data_root=data_root, **kwargs)
    except CheckpointMismatchError as err:
        raise CheckpointMismatchError(
            f"config {_describe(config)} describes {name!r}; pass the config the checkpoint was trained with. {err}"
        ) from None
