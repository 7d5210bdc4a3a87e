"""Which mesh model, with which weights: decided once, at the pipeline's edge.

:func:`load_model` turns the command line's choice (an official checkpoint + config, or
nothing: the packaged default weights, :func:`default_model`) into a :class:`ModelBundle`:
the network (built on first use), a human-readable weights label, and the identity that
keys the model stage's cache. The recipe never decides this again; it asks
:func:`prepare_model` for the network to run, a separate copy accelerated by
:func:`diffmesh.accel.accelerate`, so the caller's model is never changed.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from diffmesh.accel import accelerate
from diffmesh.files import sha256_file
from diffmesh.pipelines.cache import stage_key
from diffmesh.pipelines.settings import InferSettings

__all__ = ["ModelBundle", "default_model", "load_model", "prepare_model"]

_RNG_LOCK = threading.Lock()  # building a network draws from torch's global generator: one at a time


class ModelBundle:
    """A mesh model and what it is, passed down the pipeline as one value.

    Args:
        model: the network, or a function that builds it (called once, on first use of
            :attr:`model`: a run whose model stage is cached never builds it).
        weights: human-readable source of the weights (file and config, or packaged file and checksum).
        trained: ``False`` for random weights (the pipeline then warns that poses are not recovered).
        identity: content hash of network + weights (+ body model), the model part of cache keys.
        body_model: the body model the network poses, on the CPU (the placement, world and overlay stages
            pose it there; a network on a GPU poses its own copy); required when ``model`` is a builder.
        name: what ``result.npz`` records as the model (default: the network's class name).
        normalization: which frames share one crop box when keypoints are normalised for this
            network (:data:`~diffmesh.pipelines.prediction.NORMALIZATIONS`; ``"segment"``: official).
        detector_blend: the detector's share in the blend with its own 3-D joints
            (:mod:`~diffmesh.pipelines.detector_blend`; 0, official checkpoints: off).
    """

    def __init__(
        self,
        model: nn.Module | Callable[[], nn.Module],
        weights: str,
        trained: bool,
        identity: str,
        *,
        body_model: nn.Module | None = None,
        name: str | None = None,
        normalization: str = "segment",
        detector_blend: float = 0.0,
    ) -> None:
        self._model = model if isinstance(model, nn.Module) else None
        self._build = None if isinstance(model, nn.Module) else model
        self._lock = threading.Lock()
        self._joints_body: nn.Module | None = None
        if self._model is None and (body_model is None or name is None):
            raise ValueError("a ModelBundle whose model is built on first use needs body_model= and name=")
        if body_model is None:
            body_model = getattr(self._model, "body_model", None)
            if body_model is None:
                raise ValueError(
                    f"{type(self._model).__name__} is not a mesh model (no body_model); the video pipeline needs a mesh "
                    "model such as diffmesh.create_model('diffmesh')"
                )
        off_cpu = {b.device.type for b in body_model.buffers()} - {"cpu"}
        if off_cpu:
            raise ValueError(
                f"the bundle's body model is on {', '.join(sorted(off_cpu))}; the placement, world and overlay stages "
                "pose it on the CPU: pass body_model=copy.deepcopy(network.body_model).cpu() (made before the network "
                "moves), or build the bundle with diffmesh.pipelines.model.default_model / load_model(device=...)"
            )
        self.body_model: nn.Module = body_model
        self.weights = weights
        self.trained = trained
        self.identity = identity
        self.name = name or type(self._model).__name__
        self.normalization = normalization
        self.detector_blend = detector_blend

    @property
    def model(self) -> nn.Module:
        """The network (built now if it was not yet)."""
        with self._lock:
            if self._model is None:
                assert self._build is not None
                self._model, self._build = self._build(), None
            return self._model

    @property
    def joints_body(self) -> nn.Module:
        """:attr:`body_model` restricted to the vertices its H36M joint regressor reads
        (:func:`~diffmesh.body.subset.joints_only`: the same joints to float rounding, ~3x faster to
        pose), built once: for the stages that need the body's joints, not its surface."""
        with self._lock:
            if self._joints_body is None:
                from diffmesh.body.subset import joints_only

                self._joints_body = joints_only(self.body_model)
            return self._joints_body

    def __repr__(self) -> str:
        return f"ModelBundle(name={self.name!r}, weights={self.weights!r}, trained={self.trained}, identity={self.identity!r})"


def default_model(
    device: str = "cpu", body_model: nn.Module | str = "open", name: str | None = None, detector_3d: bool = True
) -> ModelBundle:
    """The package's default mesh model: :data:`diffmesh.registry.DEFAULT_MESH_MODEL` (or, when the
    keypoints carry no 3-D joints, ``detector_3d=False``: :data:`~diffmesh.registry.DEFAULT_MESH_MODEL_WITHOUT_3D`;
    or another packaged mesh model, ``name``) with its packaged weights, trained by this project on synthetic
    data with the open body model (``docs/model_card.md``; official checkpoints through
    :func:`load_model` for research-grade accuracy). The network is built on first use of
    :attr:`ModelBundle.model`."""
    import diffmesh
    from diffmesh import body as body_lib
    from diffmesh.registry import DEFAULT_MESH_MODEL, DEFAULT_MESH_MODEL_WITHOUT_3D, PACKAGED, get_spec, list_models

    name = name or (DEFAULT_MESH_MODEL if detector_3d else DEFAULT_MESH_MODEL_WITHOUT_3D)
    spec = get_spec(name)
    if spec.source != PACKAGED or spec.task != "mesh":
        packaged = [m for m in list_models() if get_spec(m).source == PACKAGED and get_spec(m).task == "mesh"]
        raise ValueError(f"--model {name!r} is not a packaged mesh model; choose one of {', '.join(packaged)} "
                         "(official checkpoints: --checkpoint/--config)")  # fmt: skip
    body = body_lib.load(body_model) if isinstance(body_model, str) else body_model

    def build() -> nn.Module:
        with _RNG_LOCK:
            rng_state = torch.random.get_rng_state()
            try:
                model = diffmesh.create_model(name, body_model=_network_body(body, device))
            finally:
                torch.random.set_rng_state(rng_state)
        return model.to(device).eval()

    return ModelBundle(
        build,
        weights=f"{spec.name} (packaged synthetic-trained weights, sha256 {str(spec.sha256)[:12]}; docs/model_card.md)",
        trained=True,
        identity=f"{name}-{str(spec.sha256)[:16]}-{getattr(body, 'name', 'body')}",
        body_model=body,
        name=name,
        normalization=spec.input_normalization,
        detector_blend=spec.detector_blend,
    )


def load_model(
    checkpoint: str | None = None,
    config: str | None = None,
    data_root: str | None = None,
    device: str = "cpu",
    model: str | None = None,
    detector_3d: bool = True,
) -> ModelBundle:
    """The one place that decides which model and which weights a run uses.

    Args:
        checkpoint, config: an official mesh checkpoint (``.bin``) and its YAML config, loaded
            strictly by :func:`diffmesh.models.load_official`; both ``None``: :func:`default_model`.
        data_root: the official ``data/mesh`` folder (SMPL instead of the open body model); only
            with a checkpoint.
        device: torch device for the network.
        model: a packaged model's registry name (default :data:`~diffmesh.registry.DEFAULT_MESH_MODEL`);
            not with a checkpoint.
        detector_3d: the keypoints come with the detector's 3-D joints (BlazePose); ``False`` (keypoint
            files) makes the default :data:`~diffmesh.registry.DEFAULT_MESH_MODEL_WITHOUT_3D`.

    Raises:
        ValueError: an incomplete or contradictory choice, or a checkpoint that is not a mesh model.
    """
    if checkpoint is None and config is None:
        if data_root is not None:
            raise ValueError(
                f"--data-root {data_root!r} selects an official SMPL body model, which the packaged default weights "
                "(trained with the open body model) do not fit; pass an official --checkpoint/--config with it, "
                "or leave --data-root out"
            )
        return default_model(device, name=model, detector_3d=detector_3d)
    if model is not None:
        raise ValueError(f"--model {model!r} picks packaged weights and --checkpoint/--config official ones; pass one of them")
    if checkpoint is None or config is None:
        raise ValueError("--checkpoint and --config go together: pass both (the official .bin and its YAML config)")
    from diffmesh.models import load_official

    model = load_official(checkpoint, config, data_root)
    if not hasattr(model, "body_model"):
        raise ValueError(
            f"checkpoint {checkpoint!r} is not a mesh model ({type(model).__name__}); pass a mesh checkpoint "
            "(MB_ft_pw3d or DM_ft_pw3d with its config)"
        )
    # the checkpoint was hashed while it was read (one pass over the file)
    identity = stage_key("model", ckpt=model.weights_info.sha256, cfg=sha256_file(config), data_root=str(data_root))
    cpu_body = model.body_model
    model.body_model = _network_body(cpu_body, device)
    return ModelBundle(
        model.to(device).eval(), f"{checkpoint} ({Path(config).name})", True, identity, body_model=cpu_body,
        name=Path(config).name,
    )  # fmt: skip


def _network_body(body: nn.Module, device: str | torch.device) -> nn.Module:
    """The body model a network on ``device`` poses: the bundle's own on the CPU, else a copy that moves
    with the network, so the bundle's stays on the CPU where the placement, world and overlay stages pose it."""
    return body if str(device) == "cpu" else copy.deepcopy(body)


def prepare_model(bundle: ModelBundle, settings: InferSettings) -> nn.Module:
    """The network the model stage runs: a copy of ``bundle``'s, accelerated for
    ``settings.accel_mode`` on ``settings.device`` (its plan as ``.accel_plan``).
    ``bundle.model`` itself is never changed, so a later ``fast=False`` run with the same
    bundle runs float32."""
    return accelerate(bundle.model, settings.accel_mode, device=settings.device)
