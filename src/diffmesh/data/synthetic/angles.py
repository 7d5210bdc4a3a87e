"""Joint-angle space of the synthetic motions: the angle convention, per-joint limits, the
maps to and from local rotations, the root orientation and keyframe interpolation.

Angle convention (the body model's rest frame: metres, **Y up, the body faces +Z, +X is
the body's left**, T-pose). For joint ``j`` with angles ``(ax, ay, az)``::

    R_j = Rx(ax) · Rz(az) · Ry(ay) · REST_OFFSET_j

- ``ax``: flexion/extension, about the joint's X (left-right) axis. Hip flexion (thigh
  forward) is negative, knee flexion positive, spine flexion (bend forward) positive.
- ``ay``: twist about the vertical / limb axis (for the elbows: flexion, see below).
- ``az``: abduction / lateral bend about the Z (front-back) axis; positive moves a left
  limb outwards (+X), negative a right limb.
- ``REST_OFFSET`` is the identity except for the shoulders, where it lowers the T-pose arm
  to hang at the side (``Rz(∓π/2)``), so that shoulder angles read like hip angles: arm
  forward = negative ``ax``, arm out to the side = ``±az``, twist = ``ay``.
- Elbows bend about the upper arm's Y axis: left elbow flexion is negative ``ay``, right
  positive (the SMPL convention).

:data:`JOINT_LIMITS` bounds every angle; :func:`rotmats_to_angles` inverts
:func:`angles_to_rotmats` (unique while ``|az| < π/2``, which every limit respects), so the
limits can be checked on any pose, including a ``theta`` read back from a dataset.

Interpolation of rotations: keyframes are interpolated **in angle space** with a clamped
Catmull-Rom spline. Per-joint limits then hold by construction, and with the limits inside
``|az| < π/2`` the map to rotations is smooth (no gimbal flips).
"""

from __future__ import annotations

import math

import numpy as np

from diffmesh.conventions import NUM_SMPL_JOINTS, SMPL_JOINTS

__all__ = [
    "JOINT_LIMITS",
    "REST_OFFSETS",
    "angles_to_rotmats",
    "catmull_rom",
    "euler_xzy_to_rotmat",
    "root_rotmats",
    "rotmats_to_angles",
]

_J = {name: i for i, name in enumerate(SMPL_JOINTS)}

# (x, y, z) ranges in radians, in the convention of the module docstring. The root (row 0)
# is placed by the engine, not by these angles, so it is left at zero.
_LIMITS: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "left_hip": ((-2.1, 0.6), (-0.6, 0.6), (-0.35, 1.0)),
    "right_hip": ((-2.1, 0.6), (-0.6, 0.6), (-1.0, 0.35)),
    "spine1": ((-0.25, 0.5), (-0.35, 0.35), (-0.25, 0.25)),
    "left_knee": ((0.0, 2.4), (-0.15, 0.15), (-0.1, 0.1)),
    "right_knee": ((0.0, 2.4), (-0.15, 0.15), (-0.1, 0.1)),
    "spine2": ((-0.25, 0.5), (-0.35, 0.35), (-0.25, 0.25)),
    "left_ankle": ((-0.45, 0.8), (-0.3, 0.3), (-0.3, 0.3)),
    "right_ankle": ((-0.45, 0.8), (-0.3, 0.3), (-0.3, 0.3)),
    "spine3": ((-0.25, 0.5), (-0.35, 0.35), (-0.25, 0.25)),
    "left_foot": ((-0.6, 0.3), (-0.1, 0.1), (-0.1, 0.1)),
    "right_foot": ((-0.6, 0.3), (-0.1, 0.1), (-0.1, 0.1)),
    "neck": ((-0.4, 0.5), (-0.5, 0.5), (-0.3, 0.3)),
    "left_collar": ((-0.15, 0.15), (-0.2, 0.2), (-0.15, 0.35)),
    "right_collar": ((-0.15, 0.15), (-0.2, 0.2), (-0.35, 0.15)),
    "head": ((-0.4, 0.4), (-0.6, 0.6), (-0.3, 0.3)),
    "left_shoulder": ((-2.9, 0.9), (-1.2, 1.2), (-0.25, 1.45)),
    "right_shoulder": ((-2.9, 0.9), (-1.2, 1.2), (-1.45, 0.25)),
    "left_elbow": ((-0.8, 0.8), (-2.5, 0.0), (-0.2, 0.2)),
    "right_elbow": ((-0.8, 0.8), (0.0, 2.5), (-0.2, 0.2)),
    "left_wrist": ((-0.4, 0.4), (-0.6, 0.6), (-0.4, 0.4)),
    "right_wrist": ((-0.4, 0.4), (-0.6, 0.6), (-0.4, 0.4)),
    "left_hand": ((-0.2, 0.2), (-0.2, 0.2), (-0.2, 0.2)),
    "right_hand": ((-0.2, 0.2), (-0.2, 0.2), (-0.2, 0.2)),
}


def _build_limits() -> np.ndarray:
    limits = np.zeros((NUM_SMPL_JOINTS, 3, 2))
    for name, ranges in _LIMITS.items():
        limits[_J[name]] = ranges
    return limits


#: ``[24, 3, 2]`` (low, high) per joint and angle (x, y, z), radians; row 0 (root) unused.
JOINT_LIMITS: np.ndarray = _build_limits()
JOINT_LIMITS.setflags(write=False)


def _rx(a: np.ndarray) -> np.ndarray:
    c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([i, o, o, o, c, -s, o, s, c], axis=-1).reshape(*a.shape, 3, 3)


def _ry(a: np.ndarray) -> np.ndarray:
    c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([c, o, s, o, i, o, -s, o, c], axis=-1).reshape(*a.shape, 3, 3)


def _rz(a: np.ndarray) -> np.ndarray:
    c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([c, -s, o, s, c, o, o, o, i], axis=-1).reshape(*a.shape, 3, 3)


def _build_rest_offsets() -> np.ndarray:
    offsets = np.tile(np.eye(3), (NUM_SMPL_JOINTS, 1, 1))
    # Lower the T-pose arms to hang at the sides: left arm (+X) rotates by -π/2 about Z
    # to point down (-Y), right arm (-X) by +π/2.
    offsets[_J["left_shoulder"]] = _rz(np.array(-math.pi / 2))
    offsets[_J["right_shoulder"]] = _rz(np.array(math.pi / 2))
    return offsets


#: ``[24, 3, 3]`` fixed rotation applied before the joint's angles (identity except shoulders).
REST_OFFSETS: np.ndarray = _build_rest_offsets()
REST_OFFSETS.setflags(write=False)


def euler_xzy_to_rotmat(angles: np.ndarray) -> np.ndarray:
    """``Rx(ax) · Rz(az) · Ry(ay)`` for angles ``[..., 3]`` ordered (x, y, z) → ``[..., 3, 3]``."""
    return _rx(angles[..., 0]) @ _rz(angles[..., 2]) @ _ry(angles[..., 1])


def angles_to_rotmats(angles: np.ndarray) -> np.ndarray:
    """Local joint rotations from joint angles.

    Args:
        angles: ``[..., 24, 3]`` (x, y, z) angles per SMPL joint, radians.

    Returns:
        ``[..., 24, 3, 3]`` local rotations ``Rx·Rz·Ry·REST_OFFSET`` (row 0 too; the engine
        replaces it with the global orientation).
    """
    if angles.shape[-2:] != (NUM_SMPL_JOINTS, 3):
        raise ValueError(f"angles must have shape [..., 24, 3], got {list(angles.shape)}")
    return euler_xzy_to_rotmat(angles) @ REST_OFFSETS


def rotmats_to_angles(rotmats: np.ndarray) -> np.ndarray:
    """Inverse of :func:`angles_to_rotmats` (exact while ``|az| < π/2``).

    Args:
        rotmats: ``[..., 24, 3, 3]`` local joint rotations.

    Returns:
        ``[..., 24, 3]`` (x, y, z) angles.
    """
    if rotmats.shape[-3:] != (NUM_SMPL_JOINTS, 3, 3):
        raise ValueError(f"rotmats must have shape [..., 24, 3, 3], got {list(rotmats.shape)}")
    M = rotmats @ np.swapaxes(REST_OFFSETS, -1, -2)
    # M = Rx Rz Ry: row 0 = (cz·cy, −sz, cz·sy); M[1,1] = cx·cz; M[2,1] = sx·cz.
    az = np.arcsin(np.clip(-M[..., 0, 1], -1.0, 1.0))
    ay = np.arctan2(M[..., 0, 2], M[..., 0, 0])
    ax = np.arctan2(M[..., 2, 1], M[..., 1, 1])
    return np.stack([ax, ay, az], axis=-1)


def root_rotmats(heading: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """World orientation of the body (world = body model frame: Y up).

    ``R = Ry(heading) · Rx(pitch) · Rz(roll)``: heading turns the body about the vertical
    (heading 0 = facing +Z), pitch leans it forward (positive), roll sideways.

    Args:
        heading, pitch, roll: ``[T]`` radians.

    Returns:
        ``[T, 3, 3]``.
    """
    return _ry(heading) @ _rx(pitch) @ _rz(roll)


def catmull_rom(keys: np.ndarray, num_frames: int) -> np.ndarray:
    """Smooth (C¹) interpolation through evenly spaced keyframes.

    Args:
        keys: ``[K, ...]`` keyframe values, ``K >= 2``; key 0 sits at frame 0 and key
            ``K-1`` at frame ``num_frames - 1``.
        num_frames: ``T``.

    Returns:
        ``[T, ...]``; the curve passes through every key (end tangents are one-sided).
    """
    K = keys.shape[0]
    if K < 2:
        raise ValueError(f"catmull_rom needs at least 2 keyframes, got {K}")
    u = np.linspace(0.0, K - 1, num_frames)  # position in key units
    i1 = np.minimum(np.floor(u).astype(int), K - 2)
    f = (u - i1).reshape(-1, *([1] * (keys.ndim - 1)))
    padded = np.concatenate([2 * keys[:1] - keys[1:2], keys, 2 * keys[-1:] - keys[-2:-1]])  # [K+2, ...]
    p0, p1, p2, p3 = padded[i1], padded[i1 + 1], padded[i1 + 2], padded[i1 + 3]
    return 0.5 * (
        2 * p1 + (p2 - p0) * f + (2 * p0 - 5 * p1 + 4 * p2 - p3) * f**2 + (3 * p1 - p0 - 3 * p2 + p3) * f**3
    )
