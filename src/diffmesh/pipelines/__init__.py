"""Inference pipelines: video → 2-D keypoints → tracked, windowed model input → placed meshes → outputs.

``from diffmesh.pipelines import run, default_model`` — see :mod:`diffmesh.pipelines.infer` and
docs/inference.md. Importing this package needs neither PyAV nor mediapipe (they load on first use).
"""

from __future__ import annotations

from diffmesh.pipelines.infer import InferSettings, ModelBundle, RunSummary, default_model, load_model, run

__all__ = ["InferSettings", "ModelBundle", "RunSummary", "default_model", "load_model", "run"]
