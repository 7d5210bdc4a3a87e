"""Rotation conversions with the exact arithmetic of the official code.

Two 6-D rotation layouts meet in the DiffMesh code base and must never be confused, so
every function names the one it reads or writes:

* ``spin_columns`` (Zhou et al. / SPIN, read by :func:`rot6d_to_rotmat`): the 6-vector
  ``(d0..d5)`` is a 3x2 matrix in row-major order whose two *columns* are the first two
  columns of the rotation matrix, ``a1 = (d0, d2, d4)``, ``a2 = (d1, d3, d5)``.
* ``pytorch3d_rows`` (PyTorch3D ``matrix_to_rotation_6d``): the first two *rows* of the
  rotation matrix, flattened. The official refine head converts HybrIK poses with this
  layout and then decodes with ``spin_columns`` (ARCHITECTURE.md section 4.10).

All functions are pure torch, accept any leading batch dimensions ``...`` and take dtype
and device from their inputs. ``R @ v`` rotates a column vector ``v``.
"""

from __future__ import annotations

import torch

__all__ = [
    "rot6d_to_rotmat",
    "rotmat_to_rot6d_columns",
    "rotmat_to_rot6d_rows",
    "axis_angle_to_rotmat",
    "axis_angle_to_rotmat_pytorch3d",
    "axis_angle_to_rot6d_pytorch3d",
    "rotmat_to_axis_angle",
    "quaternion_to_rotmat",
]

# Normalisation floor of the 6-D decoding (ARCHITECTURE.md section 3.1 step 1).
_ROT6D_NORM_EPS = 1e-6
# Added to every axis-angle component before the norm in the official ``batch_rodrigues``.
_RODRIGUES_EPS = 1e-8
# Threshold on (R^T)_22 that splits the quaternion extraction cases (torchgeometry).
_QUAT_CASE_EPS = 1e-6
# Below this angle PyTorch3D uses a Taylor expansion for sin(a/2)/a.
_SMALL_ANGLE_EPS = 1e-6


def _check_last_dims(x: torch.Tensor, expected: tuple[int, ...], name: str) -> None:
    if x.ndim < len(expected) or tuple(x.shape[-len(expected) :]) != expected:
        shape = "[..., " + ", ".join(str(s) for s in expected) + "]"
        raise ValueError(f"{name} must have shape {shape}, got {list(x.shape)}")


def _normalize(v: torch.Tensor, eps: float) -> torch.Tensor:
    """``v / max(||v||, eps)`` over the last dimension (as ``F.normalize``)."""
    return v / v.norm(dim=-1, keepdim=True).clamp_min(eps)


def rot6d_to_rotmat(x: torch.Tensor) -> torch.Tensor:
    """Decode 6-D layout 'spin_columns' into rotation matrices (Gram-Schmidt).

    Args:
        x: ``[..., 6]``, read as a row-major 3x2 matrix whose columns are
            ``a1 = (d0, d2, d4)`` and ``a2 = (d1, d3, d5)``.

    Returns:
        ``[..., 3, 3]`` rotation matrices ``R = [b1 b2 b3]`` (as columns) with
        ``b1 = a1 / max(|a1|, 1e-6)``, ``b2`` = normalised part of ``a2`` orthogonal to
        ``b1``, ``b3 = b1 x b2``.
    """
    _check_last_dims(x, (6,), "rot6d (layout 'spin_columns')")
    m = x.reshape(*x.shape[:-1], 3, 2)  # [..., 6] -> [..., 3, 2] row-major
    a1, a2 = m[..., 0], m[..., 1]  # [..., 3] each: the two columns
    b1 = _normalize(a1, _ROT6D_NORM_EPS)
    b2 = _normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, _ROT6D_NORM_EPS)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-1)  # columns -> [..., 3, 3]


def rotmat_to_rot6d_columns(R: torch.Tensor) -> torch.Tensor:
    """Encode rotation matrices in 6-D layout 'spin_columns' (inverse of :func:`rot6d_to_rotmat`).

    Args:
        R: ``[..., 3, 3]`` rotation matrices.

    Returns:
        ``[..., 6]`` = the first two columns as a row-major 3x2 matrix,
        ``(R00, R01, R10, R11, R20, R21)``.
    """
    _check_last_dims(R, (3, 3), "R")
    return R[..., :, :2].reshape(*R.shape[:-2], 6)  # [..., 3, 2] -> [..., 6]


def rotmat_to_rot6d_rows(R: torch.Tensor) -> torch.Tensor:
    """Encode rotation matrices in 6-D layout 'pytorch3d_rows' (first two rows).

    Args:
        R: ``[..., 3, 3]`` rotation matrices.

    Returns:
        ``[..., 6]`` = ``(R00, R01, R02, R10, R11, R12)``. Decoding this with
        :func:`rot6d_to_rotmat` does *not* give ``R`` back (it gives a different rotation
        in general); that mismatch is part of the official refine head.
    """
    _check_last_dims(R, (3, 3), "R")
    return R[..., :2, :].reshape(*R.shape[:-2], 6)  # [..., 2, 3] -> [..., 6]


def quaternion_to_rotmat(q: torch.Tensor) -> torch.Tensor:
    """Unit quaternion ``(w, x, y, z)`` to rotation matrix (official ``quat_to_rotmat``).

    Args:
        q: ``[..., 4]`` quaternions, normalised here first.

    Returns:
        ``[..., 3, 3]`` rotation matrices.
    """
    _check_last_dims(q, (4,), "quaternion")
    q = q / q.norm(dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    w2, x2, y2, z2 = w * w, x * x, y * y, z * z
    wx, wy, wz = w * x, w * y, w * z
    xy, xz, yz = x * y, x * z, y * z
    entries = (
        w2 + x2 - y2 - z2, 2 * xy - 2 * wz, 2 * wy + 2 * xz,
        2 * wz + 2 * xy, w2 - x2 + y2 - z2, 2 * yz - 2 * wx,
        2 * xz - 2 * wy, 2 * wx + 2 * yz, w2 - x2 - y2 + z2,
    )  # fmt: skip
    return torch.stack(entries, dim=-1).reshape(*q.shape[:-1], 3, 3)  # [..., 9] -> [..., 3, 3]


def axis_angle_to_rotmat(v: torch.Tensor) -> torch.Tensor:
    """Axis-angle to rotation matrix, the official ``batch_rodrigues`` (losses, GT, flip-TTA).

    The angle is ``|v + 1e-8|`` (1e-8 added to every component, so a zero vector gives the
    identity without NaN), the quaternion ``(cos(a/2), sin(a/2) v/a)`` is normalised and
    turned into a matrix with the standard formula.

    Args:
        v: ``[..., 3]`` axis-angle vectors (radians).

    Returns:
        ``[..., 3, 3]`` rotation matrices.
    """
    _check_last_dims(v, (3,), "axis-angle")
    angle = (v + _RODRIGUES_EPS).norm(dim=-1, keepdim=True)  # [..., 1]
    axis = v / angle
    half = angle * 0.5
    q = torch.cat((torch.cos(half), torch.sin(half) * axis), dim=-1)  # [..., 4] (w, x, y, z)
    return quaternion_to_rotmat(q)


def axis_angle_to_rotmat_pytorch3d(v: torch.Tensor) -> torch.Tensor:
    """Axis-angle to rotation matrix with PyTorch3D's arithmetic (the refine head's path).

    Quaternion ``(cos(a/2), v * sin(a/2)/a)`` with ``a = |v|`` and the Taylor expansion
    ``sin(a/2)/a ~ 1/2 - a^2/48`` below ``a = 1e-6``; the quaternion is *not* normalised,
    instead the matrix uses ``s = 2/|q|^2``:
    ``R = I + s * [[-(y^2+z^2), xy-zw, xz+yw], [xy+zw, -(x^2+z^2), yz-xw], [xz-yw, yz+xw, -(x^2+y^2)]]``.

    Args:
        v: ``[..., 3]`` axis-angle vectors (radians).

    Returns:
        ``[..., 3, 3]`` rotation matrices.
    """
    _check_last_dims(v, (3,), "axis-angle")
    angle = v.norm(dim=-1, keepdim=True)  # [..., 1]
    half = angle * 0.5
    small = angle.abs() < _SMALL_ANGLE_EPS
    # Guard the division so that the unused branch never produces NaN (also in backward).
    safe_angle = torch.where(small, torch.ones_like(angle), angle)
    sin_half_over_angle = torch.where(
        small, 0.5 - angle * angle / 48, torch.sin(half) / safe_angle
    )
    w = torch.cos(half)[..., 0]
    x, y, z = (v * sin_half_over_angle).unbind(-1)
    two_s = 2.0 / (w * w + x * x + y * y + z * z)
    entries = (
        1 - two_s * (y * y + z * z), two_s * (x * y - z * w), two_s * (x * z + y * w),
        two_s * (x * y + z * w), 1 - two_s * (x * x + z * z), two_s * (y * z - x * w),
        two_s * (x * z - y * w), two_s * (y * z + x * w), 1 - two_s * (x * x + y * y),
    )  # fmt: skip
    return torch.stack(entries, dim=-1).reshape(*v.shape[:-1], 3, 3)  # [..., 9] -> [..., 3, 3]


def axis_angle_to_rot6d_pytorch3d(aa: torch.Tensor) -> torch.Tensor:
    """Per-joint axis-angle to 6-D layout 'pytorch3d_rows' (the refine head's HybrIK input).

    Args:
        aa: ``[..., J, 3]`` or flat ``[..., 3J]`` (e.g. ``[..., 72]`` or ``[..., 24, 3]``).

    Returns:
        ``[..., 6J]`` (``[..., 144]`` for SMPL), joint-major: six values per joint.
    """
    if aa.ndim >= 2 and aa.shape[-1] == 3:
        joints = aa  # [..., J, 3]
        lead = aa.shape[:-2]
    elif aa.ndim >= 1 and aa.shape[-1] % 3 == 0 and aa.shape[-1] > 0:
        lead = aa.shape[:-1]
        joints = aa.reshape(*lead, -1, 3)  # [..., 3J] -> [..., J, 3]
    else:
        raise ValueError(
            f"axis-angle poses must have shape [..., J, 3] or [..., 3J] (e.g. [..., 72]), "
            f"got {list(aa.shape)}"
        )
    rot6d = rotmat_to_rot6d_rows(axis_angle_to_rotmat_pytorch3d(joints))  # [..., J, 6]
    return rot6d.reshape(*lead, -1)  # [..., J, 6] -> [..., 6J]


def rotmat_to_axis_angle(R: torch.Tensor) -> torch.Tensor:
    """Rotation matrix to axis-angle, the old torchgeometry/kornia algorithm used for ``theta``.

    Matrix -> quaternion with four cases selected on ``Q = R^T`` (table in
    ARCHITECTURE.md section 3.1), then quaternion -> axis-angle via ``atan2``; NaN -> 0.
    Forward values are those of the official code; the divisions are guarded so that the
    backward pass has no NaN at the identity.

    Args:
        R: ``[..., 3, 3]`` rotation matrices.

    Returns:
        ``[..., 3]`` axis-angle vectors (radians), angle in ``[0, pi]``.
    """
    _check_last_dims(R, (3, 3), "R")
    Q = R.transpose(-1, -2)
    q00, q01, q02 = Q[..., 0, 0], Q[..., 0, 1], Q[..., 0, 2]
    q10, q11, q12 = Q[..., 1, 0], Q[..., 1, 1], Q[..., 1, 2]
    q20, q21, q22 = Q[..., 2, 0], Q[..., 2, 1], Q[..., 2, 2]

    t0 = 1 + q00 - q11 - q22
    t1 = 1 - q00 + q11 - q22
    t2 = 1 - q00 - q11 + q22
    t3 = 1 + q00 + q11 + q22
    c0 = torch.stack((q12 - q21, t0, q01 + q10, q20 + q02), dim=-1)  # [..., 4] (w, x, y, z)
    c1 = torch.stack((q20 - q02, q01 + q10, t1, q12 + q21), dim=-1)
    c2 = torch.stack((q01 - q10, q20 + q02, q12 + q21, t2), dim=-1)
    c3 = torch.stack((t3, q12 - q21, q20 - q02, q01 - q10), dim=-1)

    d2 = q22 < _QUAT_CASE_EPS
    d0_gt_d1 = q00 > q11
    d0_lt_neg_d1 = q00 < -q11
    case0 = (d2 & d0_gt_d1)[..., None]
    case1 = (d2 & ~d0_gt_d1)[..., None]
    case2 = (~d2 & d0_lt_neg_d1)[..., None]
    cand = torch.where(case0, c0, torch.where(case1, c1, torch.where(case2, c2, c3)))
    t = torch.where(case0, t0[..., None], torch.where(case1, t1[..., None],
                    torch.where(case2, t2[..., None], t3[..., None])))  # fmt: skip
    quat = cand / torch.sqrt(t) * 0.5  # same operation order as the official code

    w = quat[..., 0]
    xyz = quat[..., 1:]
    sin_sq = (xyz * xyz).sum(-1)
    has_axis = sin_sq > 0.0
    sin = torch.sqrt(torch.where(has_axis, sin_sq, torch.ones_like(sin_sq)))
    sin = torch.where(has_axis, sin, torch.zeros_like(sin))
    two_theta = 2.0 * torch.where(w < 0.0, torch.atan2(-sin, -w), torch.atan2(sin, w))
    safe_sin = torch.where(has_axis, sin, torch.ones_like(sin))
    k = torch.where(has_axis, two_theta / safe_sin, torch.full_like(sin, 2.0))
    aa = xyz * k[..., None]
    return torch.where(torch.isnan(aa), torch.zeros_like(aa), aa)
