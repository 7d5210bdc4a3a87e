"""Stage helpers shared by the one-person recipe (:mod:`diffmesh.pipelines.infer`) and the
several-people recipe (:mod:`diffmesh.pipelines.infer_people`): a cached stage, the model and
placement of one track, the person boxes that keep people out of the camera-motion background."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from concurrent.futures import Future
from typing import Protocol, TypeVar

import numpy as np
from torch import nn

from diffmesh.pipelines.cache import StageCache
from diffmesh.pipelines.model import ModelBundle
from diffmesh.pipelines.placement import PlacedMesh, place_mesh
from diffmesh.pipelines.prediction import predict_mesh
from diffmesh.pipelines.settings import InferSettings, Progress
from diffmesh.pipelines.tracking import Track

logger = logging.getLogger(__name__)

__all__ = ["cached_stage", "person_boxes", "predict_and_place", "warn_if_untrained"]


class _Arrays(Protocol):
    def to_arrays(self) -> dict[str, np.ndarray]: ...


A = TypeVar("A", bound=_Arrays)


def cached_stage(
    cache: StageCache,
    stage: str,
    key: str,
    cached: list[str],
    load: Callable[[dict[str, np.ndarray]], A],
    compute: Callable[[], A],
    hit: dict[str, np.ndarray] | None = None,
) -> A:
    """``stage``'s cached result (``hit``, or looked up now; then ``stage`` is added to ``cached``),
    else ``compute()``, stored in the cache."""
    hit = cache.load(stage, key) if hit is None else hit
    if hit is not None:
        cached.append(stage)
        return load(hit)
    value = compute()
    cache.save(stage, key, value.to_arrays())
    return value


def predict_and_place(
    model: Future[nn.Module] | None, bundle: ModelBundle, trk: Track, K: np.ndarray, settings: InferSettings,
    progress: Progress,
) -> PlacedMesh:  # fmt: skip
    """Windows → network → blended body parameters, then placed in the camera frame."""
    assert model is not None, "the network is prepared whenever the model stage is not cached"
    normalization = settings.normalization or bundle.normalization
    mesh = predict_mesh(model.result(), trk, settings.flip, settings.stride, settings.batch_windows, progress, normalization)
    return place_mesh(bundle.body_model, mesh, trk, K, settings.smooth_sigma)


def person_boxes(keypoints: np.ndarray, has_person: np.ndarray, min_confidence: float = 0.3,
                 margin: float = 0.15) -> np.ndarray:  # fmt: skip
    """``[N, 4]`` x0, y0, x1, y1 around each frame's confident keypoints, enlarged by ``margin`` of the
    box's height on every side (the whole body, hair and clothes); NaN rows without a person."""
    xy = np.where((keypoints[..., 2:3] >= min_confidence) & has_person[:, None, None], keypoints[..., :2], np.nan)
    with warnings.catch_warnings():  # all-NaN rows (no person) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanmin(xy, 1), np.nanmax(xy, 1)
    pad = margin * (hi[:, 1:2] - lo[:, 1:2])
    return np.concatenate([lo - pad, hi + pad], 1)


def warn_if_untrained(bundle: ModelBundle) -> None:
    if not bundle.trained:
        logger.warning(
            "UNTRAINED MODEL: %s. The meshes follow the detected person's position but not their pose; "
            "pass --checkpoint/--config for real results",
            bundle.weights,
        )
