"""Reading model weights: one strict reader for every checkpoint diffmesh loads.

We know where weights come from, so each source is declared as a :class:`CheckpointFormat`
(the registry names the format of each variant) and read by :func:`read_checkpoint`; nothing
guesses a file's origin from its keys.

* ``motionbert-pose``: official MotionBERT ``train.py`` files (pre-training, 3-D pose); state
  dict under ``model_pos``, keys prefixed ``module.``; also epoch, lr, optimizer, min_loss.
* ``motionbert``: official MotionBERT action / mesh files; state dict under ``model``, keys
  prefixed ``module.``; mesh files also hold the SMPL buffers ``head.smpl.*``.
* ``diffmesh``: official DiffMesh files, laid out as ``motionbert`` mesh files.
* ``packaged``: ``diffmesh/weights/*.pt`` (``tools/default_weights.py export``): float16 state
  dict under ``state_dict``, with ``model``, ``model_overrides``, ``run``, ``dtype``.
* ``training-run``: ``diffmesh train`` checkpoints (:mod:`diffmesh.training.checkpoint`):
  ``format_version``, state dict under ``model``, optimizer, scheduler, RNG and train state, config.

A file is read from disk once and its SHA-256 computed from the same bytes
(:attr:`Checkpoint.sha256`, the weights' identity). Loading is ``torch.load(weights_only=True)``
with numeric NumPy scalars and arrays allowed (official ``best_epoch.bin`` files keep
``min_loss`` as a NumPy float; training checkpoints keep NumPy's RNG state): a file holding
any other Python object is refused with :class:`UnsafeCheckpointError`, in one line.

The packaged weights live in this folder, registered in :mod:`diffmesh.registry` with their
checksum, which :func:`read_packaged` verifies.
"""

from __future__ import annotations

import io
import logging
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from diffmesh.files import PathLike, read_hashed

logger = logging.getLogger(__name__)

__all__ = [
    "DIFFMESH",
    "FORMATS",
    "MOTIONBERT",
    "MOTIONBERT_POSE",
    "PACKAGED",
    "TRAINING_RUN",
    "TRAINING_RUN_VERSION",
    "INPUT_EMBEDDING",
    "Checkpoint",
    "CheckpointFormat",
    "CheckpointMismatchError",
    "UnsafeCheckpointError",
    "WeightsInfo",
    "checkpoint_format",
    "load_backbone",
    "load_weights_widened",
    "packaged_path",
    "read_checkpoint",
    "read_packaged",
    "strict_load",
]

#: How many offending keys an error lists before summarising.
_MAX_LISTED = 12


class CheckpointMismatchError(ValueError):
    """A checkpoint is not in its declared format, or does not fit the model it is loaded into."""


class UnsafeCheckpointError(ValueError):
    """A checkpoint holds Python objects other than tensors and plain values (loading them could run code)."""


@dataclass(frozen=True)
class CheckpointFormat:
    """How one source of weights lays out its files.

    Attributes:
        name: short name (``checkpoint_format=`` of :func:`diffmesh.create_model`).
        description: what writes such files, for messages.
        state_key: the top-level entry holding the model's state dict.
        prefix: stripped from every key that starts with it (``nn.DataParallel``'s ``module.``).
        body_prefix: body-model buffers (official mesh checkpoints' ``head.smpl.*``), split
            off into :attr:`Checkpoint.body_state` instead of being loaded into the network.
        marker: ``(key, value)`` the top level must hold (the training-run format version).
        float16: floating-point tensors are stored in float16 and restored to float32.
        hint: how to load files of another kind, appended to format errors.
    """

    name: str
    description: str
    state_key: str
    prefix: str = ""
    body_prefix: str | None = None
    marker: tuple[str, int] | None = None
    float16: bool = False
    hint: str = ""


_OFFICIAL_HINT = "pass the config the checkpoint was trained with (diffmesh.models.load_official picks the variant from it)"

MOTIONBERT_POSE = CheckpointFormat(
    "motionbert-pose", "official MotionBERT pre-training / 3-D pose checkpoint", "model_pos", "module.", hint=_OFFICIAL_HINT
)
MOTIONBERT = CheckpointFormat(
    "motionbert", "official MotionBERT action / mesh checkpoint", "model", "module.", "head.smpl.", hint=_OFFICIAL_HINT
)
DIFFMESH = CheckpointFormat("diffmesh", "official DiffMesh checkpoint", "model", "module.", "head.smpl.", hint=_OFFICIAL_HINT)
PACKAGED = CheckpointFormat(
    "packaged",
    "diffmesh packaged weights file",
    "state_dict",
    float16=True,
    hint="reinstall diffmesh (pip install --force-reinstall diffmesh) or build the model with pretrained=False",
)
#: ``format_version`` of training-run checkpoints.
TRAINING_RUN_VERSION = 1
TRAINING_RUN = CheckpointFormat(
    "training-run",
    "diffmesh training checkpoint",
    "model",
    marker=("format_version", TRAINING_RUN_VERSION),
    hint="official .bin files load with diffmesh.models.load_official(checkpoint, config)",
)

#: The declared formats by name.
FORMATS: dict[str, CheckpointFormat] = {f.name: f for f in (MOTIONBERT_POSE, MOTIONBERT, DIFFMESH, PACKAGED, TRAINING_RUN)}


def checkpoint_format(fmt: CheckpointFormat | str) -> CheckpointFormat:
    """A :class:`CheckpointFormat` from itself or its name."""
    if isinstance(fmt, CheckpointFormat):
        return fmt
    try:
        return FORMATS[fmt]
    except (KeyError, TypeError):
        raise ValueError(f"unknown checkpoint format {fmt!r}; expected one of {sorted(FORMATS)}") from None


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint read by :func:`read_checkpoint`.

    Attributes:
        state: the network's state dict (prefix stripped, body-model buffers split off;
            float32 where the file stores float16).
        body_state: body-model buffers (``head.smpl.`` removed from their keys); empty
            unless the format declares them and the file has them.
        format: the format it was read as.
        file: the file it was read from (``None`` for an in-memory checkpoint).
        sha256: SHA-256 of the file's bytes (``None`` for an in-memory checkpoint).
        contents: the file's top-level entries as stored (training state, configs, ...).
    """

    state: dict[str, torch.Tensor] = field(repr=False)
    body_state: dict[str, torch.Tensor] = field(repr=False)
    format: CheckpointFormat
    file: str | None
    sha256: str | None
    contents: Mapping[str, Any] = field(repr=False)

    @property
    def where(self) -> str:
        """The file (quoted) or ``<dict>``, for messages."""
        return "<dict>" if self.file is None else repr(self.file)


@dataclass(frozen=True)
class WeightsInfo:
    """Which weights a model from :func:`diffmesh.create_model` carries (its ``weights_info``).

    Attributes:
        variant: the registry name it was built as.
        format: the :class:`CheckpointFormat` name of its weights, or ``None`` (random initialisation).
        file: the checkpoint file, or ``None``.
        sha256: SHA-256 of the weights file (its identity for caches), or ``None``.
    """

    variant: str
    format: str | None = None
    file: str | None = None
    sha256: str | None = None

    @property
    def trained(self) -> bool:
        return self.format is not None


# ------------------------------------------------------------------ reading files


def _numpy_globals() -> list[Any]:
    """Data-only NumPy constructors (numeric arrays and scalars), under the module names that
    NumPy 1 (``numpy.core``) and NumPy 2 (``numpy._core``) write into pickles."""
    multiarray = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
    dtypes = {type(np.dtype(code)) for code in "?bhilqpBHILQPefdgFDG"}  # numeric dtypes only, never object
    allowed: list[Any] = [np.ndarray, np.dtype, *sorted(dtypes, key=str)]
    for name in ("_reconstruct", "scalar"):
        fn = getattr(multiarray, name)
        allowed += [(fn, f"numpy.core.multiarray.{name}"), (fn, f"numpy._core.multiarray.{name}")]
    return allowed


_NAMED_IN_MESSAGE = re.compile(r"GLOBAL ([\w.]+)|but got <class '([\w.]+)'>")


def _refused_globals(data: bytes, message: str, allowed: list[Any]) -> list[str]:
    """The Python globals a refused file asks for (beyond those allowed), for a one-line message."""
    ok = {f"{a.__module__}.{a.__qualname__}" for a in allowed if not isinstance(a, tuple)}
    ok |= {a[1] for a in allowed if isinstance(a, tuple)}
    try:
        found = set(torch.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(data))) - ok
    except Exception:  # legacy (non-zip) files: only torch's message names it
        found = set()
    return sorted(found) or [a or b for a, b in _NAMED_IN_MESSAGE.findall(message)][:1]


def _torch_load(data: bytes, where: str) -> Any:
    """``torch.load(weights_only=True)`` of a file's bytes, with numeric NumPy values allowed;
    torch's multi-paragraph errors become one line."""
    allowed = _numpy_globals()
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for truncated, foreign or unsafe files
        message = str(err)
        if isinstance(err, pickle.UnpicklingError) and _NAMED_IN_MESSAGE.search(message):
            found = ", ".join(_refused_globals(data, message, allowed))
            raise UnsafeCheckpointError(
                f"checkpoint {where} is refused: it holds {found}, not only tensors and plain values, "
                "and loading it could run code"
            ) from None
        own_words = re.search(r"WeightsUnpickler error:\s*(.*?)\s*(?:Check the documentation|$)", message, re.S)
        reason = " ".join((own_words.group(1) if own_words else message).split()).split(". ")[0] or type(err).__name__
        raise CheckpointMismatchError(f"checkpoint {where} cannot be read ({reason}); it may be truncated or not a PyTorch file") from None


def _listed(keys: Any) -> str:
    keys = sorted(map(str, keys))
    return "[" + ", ".join(keys[:_MAX_LISTED]) + (f", ... ({len(keys)} in all)" if len(keys) > _MAX_LISTED else "") + "]"


def read_checkpoint(
    source: PathLike | Mapping[str, Any] | Checkpoint, fmt: CheckpointFormat | str, *, sha256: str | None = None
) -> Checkpoint:
    """Read a checkpoint in its declared format, strictly.

    Args:
        source: the file, the dict it holds (already loaded) or a :class:`Checkpoint`
            (returned as it is when read in the same format).
        fmt: the :class:`CheckpointFormat` (or its name) the source is declared to have.
        sha256: the file's expected SHA-256; a file with another is refused before unpickling.

    Raises:
        FileNotFoundError: no such file.
        UnsafeCheckpointError: the file holds objects other than tensors and plain values.
        CheckpointMismatchError: unreadable, or not laid out as ``fmt`` declares.
        ValueError: the checksum is not ``sha256``.
    """
    fmt = checkpoint_format(fmt)
    hint = f"; {fmt.hint}" if fmt.hint else ""
    if isinstance(source, Checkpoint):
        if source.format != fmt:
            raise CheckpointMismatchError(f"checkpoint {source.where} was read as {source.format.name!r}, but {fmt.name!r} is declared here")
        return source
    digest = file = None
    if isinstance(source, Mapping):
        raw: Any = source
        where = "<dict>"
    else:
        file = str(source)
        path = Path(file)
        where = repr(file)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {where} does not exist")
        data, digest = read_hashed(path)
        if sha256 is not None and digest != sha256:
            raise ValueError(f"{fmt.description} {where} is corrupt or from another version: sha256 {digest}, expected {sha256}{hint}")
        raw = _torch_load(data, where)
    if not isinstance(raw, Mapping):
        raise CheckpointMismatchError(f"checkpoint {where} holds a {type(raw).__name__}, expected the dict of a {fmt.description}")
    if fmt.marker is not None and raw.get(fmt.marker[0]) != fmt.marker[1]:
        key, value = fmt.marker
        raise CheckpointMismatchError(
            f"checkpoint {where} is not a {fmt.description} ({key} {raw.get(key)!r}, expected {value}){hint}"
        )
    state = raw.get(fmt.state_key)
    if not isinstance(state, Mapping) or not state or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointMismatchError(
            f"checkpoint {where} is not a {fmt.description}: expected a {fmt.state_key!r} state dict of tensors, "
            f"found entries {_listed(raw)}{hint}"
        )
    stripped = {(k[len(fmt.prefix) :] if fmt.prefix and k.startswith(fmt.prefix) else k): v for k, v in state.items()}
    if fmt.float16:
        stripped = {k: v.float() if v.is_floating_point() else v for k, v in stripped.items()}
    body: dict[str, torch.Tensor] = {}
    if fmt.body_prefix:
        body = {k[len(fmt.body_prefix) :]: v for k, v in stripped.items() if k.startswith(fmt.body_prefix)}
        stripped = {k: v for k, v in stripped.items() if not k.startswith(fmt.body_prefix)}
    return Checkpoint(stripped, body, fmt, file, digest, raw)


# ------------------------------------------------------------------ loading into models


def strict_load(model: nn.Module, state: Mapping[str, torch.Tensor], *, where: str = "checkpoint") -> None:
    """Load ``state`` into ``model`` requiring identical keys and shapes.

    Raises :class:`CheckpointMismatchError` listing missing keys, unexpected keys and shape
    mismatches (with both shapes).
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k}: checkpoint {list(state[k].shape)} vs model {list(expected[k].shape)}"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    if missing or unexpected or wrong:
        parts = []
        for label, items in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", wrong)):
            if items:
                listed = "; ".join(items[:_MAX_LISTED]) + (f"; ... ({len(items)} in all)" if len(items) > _MAX_LISTED else "")
                parts.append(f"{label}: {listed}")
        raise CheckpointMismatchError(f"{where} does not match the model ({type(model).__name__}): " + " | ".join(parts))
    model.load_state_dict(dict(state), strict=True)


def load_backbone(model: nn.Module, checkpoint: PathLike | Mapping[str, Any] | Checkpoint,
                  fmt: CheckpointFormat | str = TRAINING_RUN) -> None:  # fmt: skip
    """Initialise ``model``'s DSTformer encoder from the encoder of another model's checkpoint
    (a pre-training run, or a mesh/action model); the config's ``init_backbone``.

    Every encoder tensor must be present with its shape; a pre-training checkpoint's 3-D pose
    head (``head.*`` of a bare encoder) is left out, any other extra key is an error.

    Args:
        model: a bare encoder or a model with a ``backbone``.
        checkpoint: the checkpoint (file, loaded dict or :class:`Checkpoint`).
        fmt: its format (default: a diffmesh training run; ``"motionbert-pose"`` for an
            official pre-trained MotionBERT).
    """
    ckpt = read_checkpoint(checkpoint, fmt)
    target = model.backbone if hasattr(model, "backbone") else model
    state = ckpt.state
    prefix = "backbone." if any(k.startswith("backbone.") for k in state) else ""
    own = target.state_dict()
    encoder = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    encoder = {k: v for k, v in encoder.items() if k in own or not k.startswith("head.")}
    try:
        strict_load(target, encoder, where=f"init_backbone {ckpt.where}")
    except CheckpointMismatchError as err:
        raise CheckpointMismatchError(
            f"{err}; it does not fit this encoder: pre-train with the same model_overrides (dim_feat, depth, ...)"
        ) from None
    logger.info("encoder initialised from %s (%d tensors)", ckpt.where, len(encoder))


#: The encoder's per-joint input layer: the only tensor :func:`load_weights_widened` widens.
INPUT_EMBEDDING = "backbone.joints_embed.weight"


def load_weights_widened(model: nn.Module, checkpoint: PathLike | Checkpoint) -> None:
    """Initialise the whole ``model`` from another model's weights (a training-run checkpoint, or
    packaged weights read by :func:`read_packaged`); the config's ``init_weights``.

    Every tensor must match, except that the input embedding may gain channels: a network that
    reads the detector's 3-D joints (``dim_in`` 6) starts from a 3-channel one with zero weights
    on the new channels, so it begins exactly where the 3-channel network was.
    """
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else read_checkpoint(checkpoint, TRAINING_RUN)
    state = {k: v.float() if v.is_floating_point() else v for k, v in ckpt.state.items()}
    own = model.state_dict()
    if INPUT_EMBEDDING in state and INPUT_EMBEDDING in own:
        old, new = state[INPUT_EMBEDDING], own[INPUT_EMBEDDING]
        if old.shape[0] == new.shape[0] and old.shape[1] < new.shape[1]:
            state[INPUT_EMBEDDING] = torch.cat([old, old.new_zeros(old.shape[0], new.shape[1] - old.shape[1])], 1)
    strict_load(model, state, where=f"init_weights {ckpt.where}")
    logger.info("model initialised from %s (%d tensors)", ckpt.where, len(state))


# ------------------------------------------------------------------ packaged weights


def packaged_path(filename: str) -> Path:
    """Path of a packaged weights file (an error names it when the installation lacks it)."""
    path = Path(str(resources.files("diffmesh.weights").joinpath(filename)))
    if not path.is_file():
        raise FileNotFoundError(
            f"packaged weights {filename!r} are missing from this installation ({path}); reinstall diffmesh "
            "(pip install --force-reinstall diffmesh) or build the model with pretrained=False"
        )
    return path


def read_packaged(filename: str, sha256: str | None) -> Checkpoint:
    """Read packaged weights, refusing a file whose checksum is not the registered ``sha256``."""
    return read_checkpoint(packaged_path(filename), PACKAGED, sha256=sha256)
