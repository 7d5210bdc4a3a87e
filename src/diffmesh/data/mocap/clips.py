"""The shipped motion-capture clips: reading ``deepmimic.npz`` and the train / held-out split.

``deepmimic.npz`` (built by ``tools/retarget_mocap.py``, provenance in ``PROVENANCE.md``) holds
the 15 DeepMimic humanoid clips of pybullet 3.2.7 retargeted to the SMPL-24 body model:

- ``fps``: 30 (every clip);
- ``rest_joints`` ``[24, 3]``: the open body model's joints at betas = 0 (T-pose, metres);
- ``contact_points`` ``[K, 3]`` and ``contact_joints`` ``[K]``: a subset of the model's rest
  vertices (every 16th and all of the soles) and the joint that mostly moves each, to find the
  lowest body point of a pose cheaply (rigid skinning);
- per clip ``<name>/pose_axis_angle`` float32 ``[T, 24, 3]`` (SMPL local joint rotations,
  row 0 the global orientation in a Y-up world: metres, floor y = 0, +X the body's left at
  heading 0), ``<name>/transl`` float32 ``[T, 3]`` (the body model's ``transl``: with the open
  model at betas = 0 the body stands on the floor; the root joint is at ``transl + rest_joints[0]``,
  and ``rest_joints[0]`` is the origin up to 1e-7), ``<name>/loop`` (the clip is one cycle of a
  repeating motion), ``<name>/category`` and ``<name>/source`` (strings).
"""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass

import numpy as np

from diffmesh.conventions import NUM_SMPL_JOINTS

__all__ = [
    "MOCAP_FILE",
    "HELD_OUT",
    "TRAIN_CLIPS",
    "MocapClip",
    "list_clips",
    "load_clip",
    "rest_joints",
    "contact_points",
]

#: File name of the asset inside the ``diffmesh.data.mocap`` package data.
MOCAP_FILE = "deepmimic.npz"

#: Clips reserved for the held-out video benchmark: never used in training.
HELD_OUT: tuple[str, ...] = ("run", "dance_b", "spinkick")

_ALL_CLIPS: tuple[str, ...] = (
    "backflip", "cartwheel", "crawl", "dance_a", "dance_b", "getup_facedown", "getup_faceup",
    "jump", "kick", "punch", "roll", "run", "spin", "spinkick", "walk",
)  # fmt: skip

#: The 12 clips training may use (all but :data:`HELD_OUT`).
TRAIN_CLIPS: tuple[str, ...] = tuple(name for name in _ALL_CLIPS if name not in HELD_OUT)

_REBUILD = "reinstall diffmesh, or rebuild the asset with tools/retarget_mocap.py"


@dataclass(frozen=True)
class MocapClip:
    """One retargeted motion-capture clip (float32 arrays, ``T`` frames at ``fps``).

    Attributes:
        name: clip name (``list_clips()``).
        fps: frames per second (30).
        pose_axis_angle: ``[T, 24, 3]`` SMPL local joint rotations, axis-angle; row 0 is the
            global orientation in the Y-up world.
        transl: ``[T, 3]`` body-model translation, metres (floor at y = 0).
        category: ``locomotion``, ``jump``, ``acrobatics``, ``floor``, ``dance`` or ``martial_arts``.
        source: where the source clip comes from (package, version and file).
        loop: the clip is one cycle of a repeating motion (DeepMimic ``"Loop": "wrap"``).
    """

    name: str
    fps: float
    pose_axis_angle: np.ndarray
    transl: np.ndarray
    category: str
    source: str
    loop: bool

    @property
    def num_frames(self) -> int:
        return int(self.pose_axis_angle.shape[0])


@functools.lru_cache(maxsize=1)
def _arrays() -> dict[str, np.ndarray]:
    resource = importlib.resources.files("diffmesh.data.mocap").joinpath(MOCAP_FILE)
    if not resource.is_file():
        raise FileNotFoundError(
            f"the motion-capture asset {MOCAP_FILE} is missing from the diffmesh.data.mocap package data; {_REBUILD}"
        )
    with importlib.resources.as_file(resource) as path, np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    for value in arrays.values():
        value.setflags(write=False)
    return arrays


def list_clips() -> tuple[str, ...]:
    """Names of all 15 clips, held-out ones included (see :data:`HELD_OUT`, :data:`TRAIN_CLIPS`)."""
    return _ALL_CLIPS


def rest_joints() -> np.ndarray:
    """``[24, 3]`` the body model's rest joints the clips were retargeted to (read-only)."""
    return _arrays()["rest_joints"]


def contact_points() -> tuple[np.ndarray, np.ndarray]:
    """``(points [K, 3], joints [K])``: rest-pose body points and the joint that moves each (read-only)."""
    arrays = _arrays()
    return arrays["contact_points"], arrays["contact_joints"]


@functools.lru_cache(maxsize=None)
def load_clip(name: str) -> MocapClip:
    """Load one clip by name (cached; the arrays are read-only, copy before changing them)."""
    if name not in _ALL_CLIPS:
        raise ValueError(f"unknown motion-capture clip {name!r}; available: {', '.join(_ALL_CLIPS)}")
    arrays = _arrays()
    pose = arrays[f"{name}/pose_axis_angle"]
    transl = arrays[f"{name}/transl"]
    if pose.shape[1:] != (NUM_SMPL_JOINTS, 3) or transl.shape != (pose.shape[0], 3):
        raise ValueError(f"clip {name!r} in {MOCAP_FILE} has shapes {pose.shape} / {transl.shape}; {_REBUILD}")
    return MocapClip(
        name=name,
        fps=float(arrays["fps"]),
        pose_axis_angle=pose,
        transl=transl,
        category=str(arrays[f"{name}/category"]),
        source=str(arrays[f"{name}/source"]),
        loop=bool(arrays[f"{name}/loop"]),
    )
