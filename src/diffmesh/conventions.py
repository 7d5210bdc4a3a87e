"""Joint orders, kinematic trees and units: the one source of truth.

Every joint order is a tuple of names; index arrays are derived from them so that a
conversion is readable at the call site (``H36M_JOINTS.index("pelvis")``).
"""

from __future__ import annotations

import numpy as np

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


def _mirror_name(name: str) -> str:
    for side, other in (("left_", "right_"), ("right_", "left_")):
        if name.startswith(side):
            return other + name[len(side) :]
    return name


def mirror_permutation(order: tuple[str, ...]) -> tuple[int, ...]:
    """For every joint of ``order``, the index of its mirror image (``left_x`` <-> ``right_x``;
    joints on the midline map to themselves): the joint permutation of a horizontal flip."""
    return tuple(order.index(_mirror_name(name)) for name in order)


#: Joint permutation of a horizontal flip of H36M-17 (the official ``joints_left`` (4, 5, 6,
#: 11, 12, 13) <-> ``joints_right`` (1, 2, 3, 14, 15, 16)); flip augmentation and flip TTA.
H36M_FLIP_PERM: tuple[int, ...] = mirror_permutation(H36M_JOINTS)

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

#: Joint permutation of a horizontal flip of SMPL-24 (the left/right swap of the official
#: ``flip_thetas``).
SMPL_FLIP_PERM: tuple[int, ...] = mirror_permutation(SMPL_JOINTS)

#: Number of SMPL shape coefficients used by every head.
NUM_BETAS = 10

#: Maximum clip length of DSTformer's learned temporal embedding.
MAX_FRAMES = 243

# ---------------------------------------------------------------------------------------------
# Other 2-D keypoint orders and their conversion to H36M-17 (DATA.md §1.3)

#: COCO-17 (NTU pyskl HRNet detections, COCO-format detectors).
COCO_JOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip

#: Halpe-26 (AlphaPose's in-the-wild model); 20-25 (feet) are not used by the conversion.
HALPE_JOINTS: tuple[str, ...] = COCO_JOINTS + (
    "head", "neck", "hip",
    "left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe", "left_heel", "right_heel",
)  # fmt: skip

#: PoseTrack-17: COCO with the eyes replaced by head_bottom / head_top.
POSETRACK_JOINTS: tuple[str, ...] = ("nose", "head_bottom", "head_top") + COCO_JOINTS[3:]

# H36M joints that are a straight copy of one joint of the source order (name -> source name);
# the remaining H36M joints (pelvis, spine, thorax, head_top) differ per source and are built
# in the conversion functions below.
_LIMB_COPIES: dict[str, str] = {
    "right_hip": "right_hip", "right_knee": "right_knee", "right_ankle": "right_ankle",
    "left_hip": "left_hip", "left_knee": "left_knee", "left_ankle": "left_ankle",
    "nose": "nose",
    "left_shoulder": "left_shoulder", "left_elbow": "left_elbow", "left_wrist": "left_wrist",
    "right_shoulder": "right_shoulder", "right_elbow": "right_elbow", "right_wrist": "right_wrist",
}  # fmt: skip


def _check_keypoints(x: np.ndarray, num_joints: int, order: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim < 2 or x.shape[-2] != num_joints:
        raise ValueError(
            f"{order} keypoints must have shape [..., {num_joints}, C], got {list(x.shape)}; "
            f"check that the detector's joint order is {order}"
        )
    # Official code writes into np.zeros (float64); keep float32/float64 inputs as they are.
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def _copy_limbs(x: np.ndarray, source: tuple[str, ...]) -> np.ndarray:
    y = np.zeros((*x.shape[:-2], NUM_H36M_JOINTS, x.shape[-1]), dtype=x.dtype)
    for target, name in _LIMB_COPIES.items():
        y[..., H36M_JOINTS.index(target), :] = x[..., source.index(name), :]
    return y


def halpe_to_h36m(x: np.ndarray) -> np.ndarray:
    """Halpe-26 ``[..., 26, C]`` → H36M-17 ``[..., 17, C]`` (official ``halpe2h36m``).

    pelvis = Hip (19), thorax = Neck (18), head_top = Head (17), spine = midpoint of Neck and
    Hip; every channel (including a confidence) is copied or averaged alike.
    """
    x = _check_keypoints(x, len(HALPE_JOINTS), "Halpe-26")
    y = _copy_limbs(x, HALPE_JOINTS)
    hip, neck = x[..., HALPE_JOINTS.index("hip"), :], x[..., HALPE_JOINTS.index("neck"), :]
    y[..., 0, :] = hip
    y[..., 7, :] = (neck + hip) * 0.5
    y[..., 8, :] = neck
    y[..., 10, :] = x[..., HALPE_JOINTS.index("head"), :]
    return y


def coco_to_h36m(x: np.ndarray) -> np.ndarray:
    """COCO-17 ``[..., 17, C]`` → H36M-17 ``[..., 17, C]`` (official ``coco2h36m``, NTU data).

    pelvis = mid-hips, thorax = mid-shoulders, spine = mid(pelvis, thorax), head_top = mid-eyes;
    every channel (including a confidence) is averaged alike.
    """
    x = _check_keypoints(x, len(COCO_JOINTS), "COCO-17")
    y = _copy_limbs(x, COCO_JOINTS)
    j = COCO_JOINTS.index
    y[..., 0, :] = (x[..., j("left_hip"), :] + x[..., j("right_hip"), :]) * 0.5
    y[..., 8, :] = (x[..., j("left_shoulder"), :] + x[..., j("right_shoulder"), :]) * 0.5
    y[..., 7, :] = (y[..., 0, :] + y[..., 8, :]) * 0.5
    y[..., 10, :] = (x[..., j("left_eye"), :] + x[..., j("right_eye"), :]) * 0.5
    return y


def posetrack_to_h36m(x: np.ndarray) -> np.ndarray:
    """PoseTrack-17 ``[..., 17, 3]`` (x, y, visibility) → H36M-17 (official ``posetrack2h36m``).

    pelvis = mid-hips, thorax = head_bottom, head_top = head_top, spine = mid(pelvis, thorax);
    the confidence of the two averaged joints is the minimum of their sources' (a joint built
    from an invisible one is invisible).
    """
    x = _check_keypoints(x, len(POSETRACK_JOINTS), "PoseTrack-17")
    if x.shape[-1] < 3:
        raise ValueError(f"PoseTrack keypoints need a visibility channel: shape [..., 17, 3], got {list(x.shape)}")
    y = _copy_limbs(x, POSETRACK_JOINTS)
    j = POSETRACK_JOINTS.index
    lhip, rhip = x[..., j("left_hip"), :], x[..., j("right_hip"), :]
    y[..., 0, :] = (lhip + rhip) * 0.5
    y[..., 8, :] = x[..., j("head_bottom"), :]
    y[..., 7, :] = (y[..., 0, :] + y[..., 8, :]) * 0.5
    y[..., 10, :] = x[..., j("head_top"), :]
    y[..., 0, 2] = np.minimum(lhip[..., 2], rhip[..., 2])
    y[..., 7, 2] = np.minimum(y[..., 0, 2], y[..., 8, 2])
    return y


# ---------------------------------------------------------------------------------------------
# Skeleton structure used by the limb / angle losses and the flips

#: The 16 H36M bones as (parent, child) joint indices (limb-length and angle losses).
H36M_BONES: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8),
    (8, 9), (9, 10), (8, 11), (11, 12), (12, 13), (8, 14), (14, 15), (15, 16),
)  # fmt: skip

#: The 18 bone pairs (indices into :data:`H36M_BONES`) whose angles the angle losses compare.
H36M_BONE_ANGLE_PAIRS: tuple[tuple[int, int], ...] = (
    (0, 3), (0, 6), (3, 6), (0, 1), (1, 2), (3, 4), (4, 5), (6, 7), (7, 10),
    (7, 13), (8, 13), (10, 13), (7, 8), (8, 9), (10, 11), (11, 12), (13, 14), (14, 15),
)  # fmt: skip

#: Left/right SMPL joint pairs swapped by the SMPL pose flip, :data:`SMPL_FLIP_PERM` as pairs.
SMPL_FLIP_PAIRS: tuple[tuple[int, int], ...] = tuple(
    (i, SMPL_FLIP_PERM[i])
    for i, name in enumerate(SMPL_JOINTS)
    if name.startswith("left_")
)


# ---------------------------------------------------------------------------------------------
# BlazePose-33 (mediapipe, the video pipeline's detector) and its conversion to H36M-17
#
# Following the COCO/Halpe rows of DATA.md §1.3 where BlazePose has the same landmark:
#
# ============  ==============================================================================
# H36M          BlazePose-33 source
# ============  ==============================================================================
# pelvis        avg(23 left_hip, 24 right_hip)                (Halpe "Hip" is this midpoint)
# r/l hip       24 / 23;  r/l knee 26 / 25;  r/l ankle 28 / 27
# spine         avg(pelvis, thorax)                           (as the COCO row)
# thorax        avg(11 left_shoulder, 12 right_shoulder)      (as the COCO row)
# nose          0 nose
# head_top      eye_mid + HEAD_TOP_EXTRAPOLATION · (eye_mid − thorax); BlazePose has no head top
# l/r shoulder  11 / 12;  l/r elbow 13 / 14;  l/r wrist 15 / 16
# ============  ==============================================================================
#
# Confidences of averaged joints are averaged (the official "avg applies to every channel"
# rule); the head top takes the minimum of its sources' confidences. BlazePose's per-landmark
# ``visibility`` is the confidence.

#: mediapipe BlazePose landmark order (33).
BLAZEPOSE_JOINTS: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip

#: The head top lies this fraction of the thorax→eyes vector beyond the eyes (H36M-17 head
#: top vs. thorax and eyes of the shipped open body model: (0.773-0.68)/(0.68-0.54) ≈ 0.65).
HEAD_TOP_EXTRAPOLATION = 0.65


def blazepose_to_h36m(kp33: np.ndarray) -> np.ndarray:
    """BlazePose-33 ``[..., 33, C]`` (x, y[, z], confidence last) → H36M-17 ``[..., 17, 3]``
    (x, y, confidence), float32; the rows are in the table above."""
    kp33 = np.asarray(kp33, dtype=np.float32)
    if kp33.ndim < 2 or kp33.shape[-2] != len(BLAZEPOSE_JOINTS) or kp33.shape[-1] < 3:
        raise ValueError(f"BlazePose keypoints must be [..., 33, 3 or 4] (x, y[, z], confidence), got {list(kp33.shape)}")
    src = np.concatenate([kp33[..., :2], kp33[..., -1:]], axis=-1)  # [..., 33, 3]: z dropped
    out = _copy_limbs(src, BLAZEPOSE_JOINTS)  # [..., 17, 3]
    b, j = BLAZEPOSE_JOINTS.index, H36M_JOINTS.index
    out[..., j("pelvis"), :] = 0.5 * (src[..., b("left_hip"), :] + src[..., b("right_hip"), :])
    out[..., j("thorax"), :] = 0.5 * (src[..., b("left_shoulder"), :] + src[..., b("right_shoulder"), :])
    out[..., j("spine"), :] = 0.5 * (out[..., j("pelvis"), :] + out[..., j("thorax"), :])
    eyes = 0.5 * (src[..., b("left_eye"), :] + src[..., b("right_eye"), :])
    thorax = out[..., j("thorax"), :]
    out[..., j("head_top"), :2] = eyes[..., :2] + HEAD_TOP_EXTRAPOLATION * (eyes[..., :2] - thorax[..., :2])
    out[..., j("head_top"), 2] = np.minimum(eyes[..., 2], thorax[..., 2])
    return out


def blazepose_world_to_h36m(world33: np.ndarray) -> np.ndarray:
    """BlazePose's 3-D ``pose_world_landmarks`` ``[..., 33, 3]`` (metres, origin between the hips)
    → H36M-17 ``[..., 17, 3]`` float32, by the rows of :func:`blazepose_to_h36m` in 3-D (the head
    top extrapolated from thorax and eyes in 3-D too). The pelvis comes out at the origin."""
    w = np.asarray(world33, dtype=np.float32)
    if w.ndim < 2 or w.shape[-2:] != (len(BLAZEPOSE_JOINTS), 3):
        raise ValueError(f"BlazePose world landmarks must be [..., 33, 3] (x, y, z metres), got {list(w.shape)}")
    out = _copy_limbs(w, BLAZEPOSE_JOINTS)
    b, j = BLAZEPOSE_JOINTS.index, H36M_JOINTS.index
    out[..., j("pelvis"), :] = 0.5 * (w[..., b("left_hip"), :] + w[..., b("right_hip"), :])
    out[..., j("thorax"), :] = 0.5 * (w[..., b("left_shoulder"), :] + w[..., b("right_shoulder"), :])
    out[..., j("spine"), :] = 0.5 * (out[..., j("pelvis"), :] + out[..., j("thorax"), :])
    eyes = 0.5 * (w[..., b("left_eye"), :] + w[..., b("right_eye"), :])
    out[..., j("head_top"), :] = eyes + HEAD_TOP_EXTRAPOLATION * (eyes - out[..., j("thorax"), :])
    return out


# ---------------------------------------------------------------------------------------------
# Limb joints shared by every body and keypoint order

#: The 12 limb joints whose definitions agree across H36M-17, SMPL-24, COCO-17, BlazePose-33 and
#: the Anny body model (hips, knees, ankles, shoulders, elbows, wrists), in H36M order. The
#: trunk and head joints (pelvis, spine, thorax, neck/nose, head top) are defined differently by
#: each and are left out of cross-skeleton comparisons such as the held-out video benchmark.
LIMB_JOINTS: tuple[str, ...] = tuple(name for name in H36M_JOINTS if name in _LIMB_COPIES and name != "nose")


def limb_indices(order: tuple[str, ...]) -> tuple[int, ...]:
    """Indices of :data:`LIMB_JOINTS` in a joint order (``H36M_JOINTS``, ``SMPL_JOINTS``,
    ``BLAZEPOSE_JOINTS``, ``COCO_JOINTS``, ...): ``x[..., limb_indices(order), :]`` is ``[..., 12, C]``."""
    missing = [name for name in LIMB_JOINTS if name not in order]
    if missing:
        raise ValueError(f"joint order {order[:3]}... has no {missing}; expected one that names all of {LIMB_JOINTS}")
    return tuple(order.index(name) for name in LIMB_JOINTS)
