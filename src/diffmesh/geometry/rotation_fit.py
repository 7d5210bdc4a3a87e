"""Rotations fitted to directions and point sets, in NumPy (batched over leading dimensions).

* :func:`shortest_rotation`: the least rotation taking one unit direction onto another (a bone's
  swing: no twist about it);
* :func:`fit_rotation`: the rotation that best maps one set of points or directions onto another
  (Kabsch, reflections excluded).

``R @ v`` rotates a column vector ``v``. Used by the BVH skeleton export
(:mod:`diffmesh.io.skeleton_bvh`) and the detector blend (:mod:`diffmesh.pipelines.detector_blend`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["fit_rotation", "shortest_rotation"]


def shortest_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[..., 3, 3]`` the smallest rotations taking unit vectors ``a [..., 3]`` onto unit ``b [..., 3]``
    (broadcast against each other).

    ``R = I + K + K^2 / (1 + a.b)`` with ``K`` the cross-product matrix of ``a x b`` (the identity
    where either vector is zero); opposite vectors (no unique smallest rotation) turn half a turn
    about an axis perpendicular to ``a``.
    """
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    v = np.cross(a, b)
    c = (a * b).sum(-1)
    K = np.zeros(a.shape[:-1] + (3, 3))
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    K = K - K.swapaxes(-1, -2)
    zero = (np.abs(a).sum(-1) == 0) | (np.abs(b).sum(-1) == 0)
    opposite = (c < -1.0 + 1e-9) & ~zero
    R = np.eye(3) + K + K @ K / np.maximum(1.0 + c, 1e-9)[..., None, None]
    if opposite.any():
        ao = a[opposite]
        helper = np.eye(3)[np.argmin(np.abs(ao), axis=-1)]  # the axis least aligned with a
        u = np.cross(ao, helper)
        u /= np.linalg.norm(u, axis=-1, keepdims=True)
        R[opposite] = 2.0 * u[..., :, None] * u[..., None, :] - np.eye(3)
    return R


def fit_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[..., 3, 3]`` rotations ``G`` minimising ``sum_k |G a_k - b_k|^2`` for point sets or directions
    ``a, b [..., K, 3]`` (broadcast; centre point sets first). A reflection never comes out: where one
    would fit better, the weakest axis is flipped."""
    H = np.einsum("...ki,...kj->...ij", a, b)  # sum_k a_k b_k^T
    U, _, Vt = np.linalg.svd(H)
    V, Ut = Vt.swapaxes(-1, -2), U.swapaxes(-1, -2)
    d = np.sign(np.linalg.det(V @ Ut))
    D = np.broadcast_to(np.eye(3), H.shape).copy()
    D[..., 2, 2] = np.where(d == 0, 1.0, d)
    return V @ D @ Ut
