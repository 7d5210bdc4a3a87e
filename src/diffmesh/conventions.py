"""Joint orders, kinematic trees and units: the one source of truth.

Every joint order is a tuple of names; index arrays are derived from them so that a
conversion is readable at the call site (``H36M_JOINTS.index("pelvis")``).
"""

from __future__ import annotations

#: Human3.6M 17-joint order, the only skeleton the MotionBERT / DiffMesh networks see.
H36M_JOINTS: tuple[str, ...] = (
    "pelvis",  # 0, root
    "right_hip",  # 1
    "right_knee",  # 2
    "right_ankle",  # 3
    "left_hip",  # 4
    "left_knee",  # 5
    "left_ankle",  # 6
    "spine",  # 7 (belly)
    "thorax",  # 8 (neck base)
    "nose",  # 9
    "head_top",  # 10
    "left_shoulder",  # 11
    "left_elbow",  # 12
    "left_wrist",  # 13
    "right_shoulder",  # 14
    "right_elbow",  # 15
    "right_wrist",  # 16
)
NUM_H36M_JOINTS = len(H36M_JOINTS)

#: Left/right pairs of H36M-17 (indices), used by flip augmentation and flip TTA.
H36M_FLIP_LEFT: tuple[int, ...] = (4, 5, 6, 11, 12, 13)
H36M_FLIP_RIGHT: tuple[int, ...] = (1, 2, 3, 14, 15, 16)

#: The 14-joint evaluation subset (drops pelvis, spine and nose).
H36M_EVAL_14: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16)

#: SMPL 24-joint order (index 0 is the global orientation in a pose vector).
SMPL_JOINTS: tuple[str, ...] = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hand",
    "right_hand",
)
NUM_SMPL_JOINTS = len(SMPL_JOINTS)

#: Parent of each SMPL joint (-1 for the root), SMPL's kinematic tree.
SMPL_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21,
)

#: Number of SMPL shape coefficients used by every head.
NUM_BETAS = 10

#: Maximum clip length of DSTformer's learned temporal embedding.
MAX_FRAMES = 243
