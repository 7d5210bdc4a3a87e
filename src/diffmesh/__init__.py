"""DiffMesh: human mesh recovery from videos (DiffMesh, WACV 2025, and MotionBERT).

``import diffmesh`` needs only torch and numpy and has no side effects.
"""

from __future__ import annotations

__version__ = "0.1.0"

from diffmesh.registry import create_model, get_spec, list_models

__all__ = ["__version__", "create_model", "get_spec", "list_models"]
