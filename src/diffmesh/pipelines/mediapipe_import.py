"""Importing mediapipe, the one place that does: its version check, and matplotlib left out.

mediapipe's package imports its drawing helpers, which import ``matplotlib.pyplot`` for a plotting
function this package never calls: 0.5 s of the 0.65 s that importing mediapipe takes (measured on
an AMD EPYC, warm file cache), paid on the critical path of every detector run (the keypoint pass
cannot start before it, nor live mode). :func:`import_mediapipe` imports mediapipe with stand-ins in
the places of ``matplotlib`` and ``matplotlib.pyplot`` (when neither is imported yet) and takes them
out of ``sys.modules`` right after, so any later ``import matplotlib`` gets the real package; the
drawing helpers' own reference imports the real ``matplotlib.pyplot`` on first use.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["import_mediapipe"]


class _Deferred(types.ModuleType):
    """Stands in for a module not imported yet: the first attribute read imports the real one."""

    def __getattr__(self, attr: str) -> Any:
        if sys.modules.get(self.__name__) is self:  # still standing in (another thread's import)
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


@contextmanager
def _matplotlib_deferred() -> Iterator[None]:
    if "matplotlib" in sys.modules or "matplotlib.pyplot" in sys.modules:
        yield
        return
    package, pyplot = _Deferred("matplotlib"), _Deferred("matplotlib.pyplot")
    package.__dict__["pyplot"] = pyplot  # `import matplotlib.pyplot as plt` reads it from the package
    sys.modules["matplotlib"], sys.modules["matplotlib.pyplot"] = package, pyplot
    try:
        yield
    finally:
        for name, stub in (("matplotlib.pyplot", pyplot), ("matplotlib", package)):
            if sys.modules.get(name) is stub:
                del sys.modules[name]


def import_mediapipe() -> Any:
    """The ``mediapipe`` module (0.10.21, the last with the bundled pose solution), or ImportError
    saying how to install it."""
    try:
        with _matplotlib_deferred():
            import mediapipe as mp
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the 2-D keypoint detector needs mediapipe 0.10.21: pip install --no-deps mediapipe==0.10.21 "
            "absl-py attrs flatbuffers 'protobuf>=4.25.3,<5' matplotlib opencv-python-headless "
            "(see docs/inference.md), or pass --keypoints with an AlphaPose JSON file"
        ) from err
    if not hasattr(mp, "solutions") or not hasattr(mp.solutions, "pose"):
        raise ImportError(
            f"mediapipe {getattr(mp, '__version__', '?')} has no bundled pose model (removed after 0.10.21): "
            "pip install --no-deps mediapipe==0.10.21"
        )
    return mp
