"""Which BlazePose landmark model the detector runs: ``lite``, ``full`` or ``heavy``.

The mediapipe 0.10.21 wheel bundles only the ``full`` landmark model; its legacy pose solution
downloads ``lite`` (``model_complexity=0``) and ``heavy`` (``2``) into site-packages on first use,
which fails offline. The package ships both (``diffmesh/assets/blazepose``, taken unchanged from
the npm package ``@mediapipe/pose`` 0.5.1675469404, Apache-2.0; provenance and checksums in that
folder's README) and points mediapipe at them instead: while a detector is built,
:func:`landmark_model` gives mediapipe a resource folder of links to the wheel's person detector
and ``full`` model and to the shipped ``lite`` and ``heavy`` files, and turns its download step
off. Nothing is written into site-packages and nothing is fetched.

Measured (docs/benchmarks.md §5.5): ``heavy`` is the most accurate and the slowest (about 3x
``full``'s time per frame), ``lite`` the fastest.

The same hook sets how many threads the graph's networks run on (:func:`landmark_model`'s
``threads``; mediapipe's desktop graph uses one and has no setting for it).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["DETECTOR_MODELS", "DEFAULT_DETECTOR_MODEL", "check_detector_model", "landmark_model", "model_complexity", "model_status"]

#: The landmark models, in mediapipe's ``model_complexity`` order.
DETECTOR_MODELS = ("lite", "full", "heavy")
DEFAULT_DETECTOR_MODEL = "full"

_ASSETS = Path(__file__).resolve().parent.parent / "assets" / "blazepose"
#: sha-256 of the shipped files (checked once per process before mediapipe reads them).
_SHIPPED = {
    "lite": "f17bfbecadb61c3be1baa8b8d851cc6619c870a87167b32848ad20db306b9d61",
    "heavy": "59e42d71bcd44cbdbabc419f0ff76686595fd265419566bd4009ef703ea8e1fe",
}
_LANDMARK = "mediapipe/modules/pose_landmark/pose_landmark_{}.tflite"
_DETECTION = "mediapipe/modules/pose_detection/pose_detection.tflite"
_resource_dir: Path | None = None
_patching = threading.Lock()  # mediapipe's module globals are swapped while a detector is built


def check_detector_model(name: str) -> str:
    """``name`` if it is one of :data:`DETECTOR_MODELS`, else a ValueError that says so."""
    if name not in DETECTOR_MODELS:
        raise ValueError(f"detector model {name!r} is not one of {', '.join(DETECTOR_MODELS)} (BlazePose landmark models)")
    return name


def model_complexity(name: str) -> int:
    """mediapipe's ``model_complexity`` for a landmark model name."""
    return DETECTOR_MODELS.index(check_detector_model(name))


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.symlink(src, dst)
    except OSError:  # no symlinks (Windows without the privilege): a copy
        shutil.copyfile(src, dst)


def _shipped(name: str) -> Path:
    path = _ASSETS / f"pose_landmark_{name}.tflite"
    if not path.is_file():
        raise FileNotFoundError(f"the BlazePose {name} model is missing from the package ({path}); reinstall diffmesh")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != _SHIPPED[name]:
        raise ValueError(f"{path} is damaged (sha-256 {digest[:12]}…, expected {_SHIPPED[name][:12]}…); reinstall diffmesh")
    return path


def model_status() -> dict[str, str]:
    """Where each landmark model comes from, or what is wrong with it (``diffmesh info``)."""
    status = {DEFAULT_DETECTOR_MODEL: "in the mediapipe wheel"}
    for name in _SHIPPED:
        try:
            status[name] = f"shipped ({_shipped(name)})"
        except (FileNotFoundError, ValueError) as err:
            status[name] = str(err)
    return {name: status[name] for name in DETECTOR_MODELS}


def _resources(mp_root: Path) -> Path:
    """A folder laid out like mediapipe's resources (created once per process, removed at exit)."""
    global _resource_dir
    if _resource_dir is None:
        folder = Path(tempfile.mkdtemp(prefix="diffmesh-blazepose-"))
        atexit.register(shutil.rmtree, folder, True)
        _link(mp_root / _DETECTION, folder / _DETECTION)
        _link(mp_root / _LANDMARK.format("full"), folder / _LANDMARK.format("full"))
        for name in _SHIPPED:
            _link(_shipped(name), folder / _LANDMARK.format(name))
        _resource_dir = folder
    return _resource_dir


@contextmanager
def landmark_model(mp: Any, name: str, threads: int = 1) -> Iterator[int]:
    """While a pose solution is built inside the block, it reads the ``name`` landmark model and its
    networks run on ``threads`` XNNPACK threads; yields its ``model_complexity``. ``full`` on one
    thread changes nothing (the wheel's own files and graph).

    mediapipe's desktop graph runs each network on one thread and its pose solution has no setting
    for it: the thread count is written into the expanded graph's inference nodes
    (``InferenceCalculatorOptions.delegate.xnnpack.num_threads``) as the solution builds it. XNNPACK
    splits each layer's outputs between its threads, so the landmarks are the same to the bit
    (``tests/test_blazepose_models.py``).
    """
    complexity = model_complexity(name)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"detector threads must be an integer >= 1, got {threads!r}")
    if name == DEFAULT_DETECTOR_MODEL and threads == 1:
        yield complexity
        return
    from mediapipe.python import solution_base
    from mediapipe.python.solutions import pose as pose_solution

    if name != DEFAULT_DETECTOR_MODEL:
        with _patching:
            folder = _resources(Path(mp.__file__).resolve().parent.parent)
    real_util, real_download = solution_base.resource_util, pose_solution._download_oss_pose_landmark_model
    real_options = solution_base.SolutionBase._modify_calculator_options

    class _Resources:  # the solution sets mediapipe's resource folder to the wheel's: ours instead
        @staticmethod
        def set_resource_dir(_: str) -> None:
            real_util.set_resource_dir(str(folder))

    threaded = []

    def _options(self: Any, graph: Any, params: Any) -> None:  # called once with the expanded graph
        real_options(self, graph, params)
        _set_network_threads(graph, threads)
        threaded.append(True)

    with _patching:
        if name != DEFAULT_DETECTOR_MODEL:
            solution_base.resource_util = _Resources()
            pose_solution._download_oss_pose_landmark_model = lambda _: None
        solution_base.SolutionBase._modify_calculator_options = _options
        try:
            yield complexity
        finally:
            solution_base.resource_util = real_util
            pose_solution._download_oss_pose_landmark_model = real_download
            solution_base.SolutionBase._modify_calculator_options = real_options
    if not threaded:
        raise RuntimeError("mediapipe's pose solution was built without its calculator options: the detector's "
                           "threads could not be set (mediapipe 0.10.21 expected)")


def _set_network_threads(graph: Any, threads: int) -> None:
    """Set XNNPACK's thread count in every inference node of an expanded mediapipe graph."""
    from mediapipe.calculators.tensor import inference_calculator_pb2

    ext = inference_calculator_pb2.InferenceCalculatorOptions.ext
    nodes = [n for n in graph.node if n.calculator.startswith("InferenceCalculator")]
    if not nodes:
        raise RuntimeError("mediapipe's pose graph has no inference node to give threads to (mediapipe 0.10.21 expected)")
    for node in nodes:
        node.options.Extensions[ext].delegate.xnnpack.num_threads = threads
