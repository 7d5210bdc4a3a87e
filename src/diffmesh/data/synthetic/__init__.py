"""The synthetic motion engine: procedural motions of a body model seen by random cameras.

Produces clips in the in-memory formats of :mod:`diffmesh.data.types` (``MeshClip``,
``PoseClip``), so the training code consumes synthetic and official data alike; see
``docs/synthetic_data.md``.

Example::

    from diffmesh.data.synthetic import SyntheticMotionDataset
    train = SyntheticMotionDataset(100_000, "train", clip_len=16, exclude_families=["jump"])
    clip = train[0]            # {"input": [16, 17, 3], "target": {"theta", "kp_3d", "verts"}}
"""

from __future__ import annotations

from diffmesh.data.synthetic.angles import JOINT_LIMITS
from diffmesh.data.synthetic.camera import CameraRanges, sample_camera
from diffmesh.data.synthetic.engine import (
    H36M_METRES_PER_UNIT,
    SPLIT_SIZE,
    SPLITS,
    SyntheticClip,
    SyntheticMotionDataset,
    SyntheticMotionEngine,
    motion_seed,
)
from diffmesh.data.synthetic.motions import FAMILIES, Motion, generate_motion

__all__ = [
    "FAMILIES",
    "H36M_METRES_PER_UNIT",
    "JOINT_LIMITS",
    "SPLITS",
    "SPLIT_SIZE",
    "CameraRanges",
    "Motion",
    "SyntheticClip",
    "SyntheticMotionDataset",
    "SyntheticMotionEngine",
    "generate_motion",
    "motion_seed",
    "sample_camera",
]
