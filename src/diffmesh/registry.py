"""Named model variants: each knows its architecture, official configuration, weights source
and licence. ``create_model(name)`` builds one; ``list_models()`` lists them.

The official weights cannot be redistributed or downloaded at run time; a variant whose
``weights`` is ``None`` is built with random initialisation. Use
:func:`diffmesh.models.load_official` with a downloaded official checkpoint for
research-grade weights.

Variants with packaged ``weights`` (the synthetic-trained default weights, see
``docs/model_card.md``) load them, checksum verified, unless ``pretrained=False``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from torch import nn

from diffmesh.models.build import ARCHITECTURES, BACKBONE_KEYS, HEAD_KEYS, build_model, mean_assets

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
        weights: packaged weights file in ``diffmesh/weights/`` (``None``: random initialisation).
        sha256: checksum of ``weights``.
        training_data: what packaged weights were trained on.
        reported: metrics (official READMEs for official variants; measured here for packaged weights).
        body_model: the body model packaged weights were trained with (the only one they fit).
    """

    name: str
    architecture: str
    config: Mapping[str, Any]
    official_config: str
    description: str
    weights_source: str
    licence: str
    weights: str | None = None
    sha256: str | None = None
    reported: Mapping[str, str] = field(default_factory=dict)
    training_data: str = ""
    body_model: str | None = None

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
        ),
        _spec(
            name="motionbert-lite",
            architecture="dstformer",
            config=_MB_LITE,
            official_config="pretrain/MB_lite.yaml",
            description="MotionBERT-Lite encoder (16.0 M)",
            weights_source=_OFFICIAL_MB,
            licence="Apache-2.0 (official code); weights per the official release",
        ),
        _spec(
            name="motionbert-pose3d",
            architecture="dstformer",
            config={**_MB_FULL, "rootrel": True},
            official_config="pose3d/MB_ft_h36m.yaml",
            description="3-D pose from 2-D keypoints, fine-tuned on H36M (root-relative)",
            weights_source=_OFFICIAL_MB,
            licence="Apache-2.0 (official code); weights per the official release",
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
        ),
        _spec(
            name="motionbert-action-ntu60",
            architecture="action_class",
            config={**_MB_FULL, "action_classes": 60, "hidden_dim": 2048, "dropout_ratio": 0.5},
            official_config="action/MB_ft_NTU60_xsub.yaml",
            description="Action recognition, NTU-60 (60 classes), two persons averaged",
            weights_source=_OFFICIAL_MB,
            licence="Apache-2.0 (official code); weights per the official release",
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
        ),
        _spec(
            name="motionbert-mesh",
            architecture="motionbert_mesh",
            config={**_MB_FULL, "hidden_dim": 1024, "dropout": 0.1, "clip_len": 16},
            official_config="mesh/MB_ft_pw3d.yaml",
            description="MotionBERT mesh recovery (fc/BatchNorm SMPL head), fine-tuned with 3DPW",
            weights_source=_OFFICIAL_MB,
            licence="Apache-2.0 (official code); weights per the official release",
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
        ),
        _spec(
            name="diffmesh-refine",
            architecture="diffmesh_refine",
            config={**_MB_FULL, "clip_len": 16, "hidden_dim": 512, "dropout": 0.1},
            official_config="mesh/DM_ft_pw3d_refine_hybrik.yaml",
            description="DiffMesh refining an initial SMPL estimate (HybrIK) per frame",
            weights_source=_OFFICIAL_DM,
            licence="official code licence; weights per the official release",
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
            weights="diffmesh_synthetic.pt",
            sha256="f9a00f99c91020bb6be2327b632a4b58e3487a23863f0ccc4d1ffad3321c7015",
            training_data=(
                "synthetic motion only: diffmesh.data.synthetic engine, open body model, 8 procedural motion families "
                "(jump held out), random cameras, official detector-noise tables; encoder pre-trained on 12,000 "
                "2-D -> 3-D clips, then mesh training on 16,000 clips of 16 frames"
            ),
            body_model="open",
            reported={
                "held-out synthetic test, 256 clips (synthetic-trained)": "MPJPE 60.7 mm, PA-MPJPE 40.9 mm, MPVE 79.4 mm, accel error 4.77 mm/frame^2",
                "families seen in training, 192 clips": "MPJPE 55.8 mm, PA-MPJPE 35.8 mm, MPVE 71.1 mm, accel error 2.78",
                "held-out family 'jump', 64 clips": "MPJPE 75.2 mm, PA-MPJPE 56.1 mm, MPVE 104.4 mm, accel error 10.73",
            },
        ),
    )
}


#: The mesh model the video pipeline uses when no checkpoint is given (packaged weights).
DEFAULT_MESH_MODEL = "diffmesh-synthetic"


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


def create_model(
    name: str, *, body_model: nn.Module | str | None = "open", pretrained: bool = True, **overrides: Any
) -> nn.Module:
    """Build a registered variant in eval mode: randomly initialised, or with its packaged weights.

    Args:
        name: a name from :func:`list_models`.
        body_model: mesh variants only — a :class:`~diffmesh.body.BodyModel`, ``"open"``
            (the shipped licence-free model), or a path to an official SMPL file or
            ``data/mesh`` folder. Ignored by other variants.
        pretrained: load the variant's packaged weights when it has some (checksum
            verified); ``False`` gives a random initialisation.
        **overrides: hyper-parameters replacing the official ones (e.g. ``depth=2``,
            ``dim_feat=64`` for a tiny model; ``diffusion_grad=True``;
            ``refine_6d_convention="spin_columns"``).
    """
    spec = get_spec(name)
    allowed = allowed_overrides(name)
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ValueError(f"{name!r} does not take {unknown}; accepted overrides: {sorted(allowed)}")
    with_weights = pretrained and spec.weights is not None
    if with_weights and overrides:
        raise ValueError(
            f"{name!r} comes with packaged weights for its own configuration; overrides {sorted(overrides)} "
            "would not fit them: pass pretrained=False to build a differently shaped, untrained model"
        )
    params = {**spec.config, **overrides}
    kwargs: dict[str, Any] = {}
    body = None
    if spec.task == "mesh":
        from diffmesh.body import BodyModel, load

        body = load(body_model) if isinstance(body_model, str) else body_model
        if not isinstance(body, BodyModel):
            raise ValueError(f"body_model must be a BodyModel, 'open' or a path, got {type(body_model).__name__}")
        if with_weights and spec.body_model is not None and body.name != spec.body_model:
            raise ValueError(
                f"{name!r} weights were trained with the {spec.body_model!r} body model; body_model {body.name!r} has another "
                f"shape space. Use body_model={spec.body_model!r} (or pretrained=False)"
            )
        kwargs = mean_assets(body)
    model = build_model(spec.architecture, params, body, **kwargs)
    if with_weights:
        from diffmesh.weights import load_packaged

        load_packaged(model, spec)
    return model.eval()
