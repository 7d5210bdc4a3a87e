"""Inference pipelines: video → 2-D keypoints → tracked, windowed model input → placed meshes → outputs.

``from diffmesh.pipelines import run, load_model`` — the recipe is :func:`diffmesh.pipelines.infer.run`,
one module per stage beside it (docs/inference.md). Importing this package needs neither PyAV
nor mediapipe (they load on first use).
"""

from __future__ import annotations

from diffmesh.pipelines.infer import run
from diffmesh.pipelines.model import ModelBundle, default_model, load_model, prepare_model
from diffmesh.pipelines.outputs import RunSummary
from diffmesh.pipelines.settings import InferSettings

__all__ = ["InferSettings", "ModelBundle", "RunSummary", "default_model", "load_model", "prepare_model", "run"]
