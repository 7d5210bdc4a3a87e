"""Axis-angle <-> rotation-matrix conversions in NumPy for the motion sampler.

The sampler works on small arrays (``T x 24`` rotations) in data-loading code, where torch's
element-wise kernels can cost milliseconds each from thread start-up on a busy machine. These
agree with :func:`diffmesh.geometry.rotations.axis_angle_to_rotmat` (to 1e-7: the official
conversion adds 1e-8 to each component) and :func:`~diffmesh.geometry.rotations.rotmat_to_axis_angle`
(to 1e-12), checked in ``tests/test_mocap.py``.
"""

from __future__ import annotations

import numpy as np

# Below this angle the Rodrigues coefficients use their Taylor expansions.
_SMALL_ANGLE = 1e-6


def axis_angle_to_rotmat(aa: np.ndarray) -> np.ndarray:
    """``[..., 3]`` axis-angle (radians) -> ``[..., 3, 3]`` rotation matrices (Rodrigues), float64."""
    aa = np.asarray(aa, dtype=np.float64)
    theta2 = np.sum(aa * aa, axis=-1)[..., None, None]
    theta = np.sqrt(theta2)
    small = theta < _SMALL_ANGLE
    safe = np.where(small, 1.0, theta)
    a = np.where(small, 1.0 - theta2 / 6.0, np.sin(theta) / safe)  # sin(t)/t
    b = np.where(small, 0.5 - theta2 / 24.0, (1.0 - np.cos(theta)) / (safe * safe))  # (1-cos t)/t^2
    x, y, z = aa[..., 0], aa[..., 1], aa[..., 2]
    o = np.zeros_like(x)
    K = np.stack([o, -z, y, z, o, -x, -y, x, o], axis=-1).reshape(*aa.shape[:-1], 3, 3)
    return np.eye(3) + a * K + b * (K @ K)


def rotmat_to_axis_angle(R: np.ndarray) -> np.ndarray:
    """``[..., 3, 3]`` rotation matrices -> ``[..., 3]`` axis-angle with angle in ``[0, pi]``, float64.

    Through the quaternion, taken from the largest of its four components' formulas (Shepperd).
    """
    R = np.asarray(R, dtype=np.float64)
    r00, r11, r22 = R[..., 0, 0], R[..., 1, 1], R[..., 2, 2]
    d21, d02, d10 = R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]
    s01, s02, s12 = R[..., 0, 1] + R[..., 1, 0], R[..., 0, 2] + R[..., 2, 0], R[..., 1, 2] + R[..., 2, 1]
    diag = np.stack([r00 + r11 + r22, r00 - r11 - r22, r11 - r00 - r22, r22 - r00 - r11], axis=-1)
    case = np.argmax(diag, axis=-1)
    s = 2.0 * np.sqrt(np.maximum(1.0 + np.take_along_axis(diag, case[..., None], -1)[..., 0], 1e-300))
    candidates = np.stack([
        np.stack([s / 4, d21 / s, d02 / s, d10 / s], -1),
        np.stack([d21 / s, s / 4, s01 / s, s02 / s], -1),
        np.stack([d02 / s, s01 / s, s / 4, s12 / s], -1),
        np.stack([d10 / s, s02 / s, s12 / s, s / 4], -1),
    ], axis=-2)  # [..., 4 cases, 4] (w, x, y, z)  # fmt: skip
    q = np.take_along_axis(candidates, case[..., None, None], -2)[..., 0, :]
    q = np.where(q[..., :1] < 0, -q, q)  # w >= 0: angle in [0, pi]
    v = q[..., 1:]
    sin_half = np.linalg.norm(v, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(sin_half, q[..., :1])
    return np.where(sin_half > 1e-12, v * angle / np.maximum(sin_half, 1e-300), 2.0 * v)
