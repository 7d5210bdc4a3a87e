"""Procedural meshes for tests, benchmarks and demos (no assets): an icosphere and a posed mannequin."""

from __future__ import annotations

import math

import numpy as np


def icosphere(subdivisions: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Unit sphere: ``(verts [V, 3] float64, faces [F, 3] int64)``, outward (counter-clockwise) winding.

    ``V = 10 * 4**s + 2`` and ``F = 20 * 4**s`` for ``s`` subdivisions (s=3: 642 / 1280).
    """
    if not (0 <= subdivisions <= 7):
        raise ValueError(f"subdivisions must be in [0, 7], got {subdivisions!r}")
    t = (1.0 + math.sqrt(5.0)) / 2.0
    verts = [
        (-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t),
        (0, -1, -t), (0, 1, -t), (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1),
    ]
    faces = np.array([
        (0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4), (11, 10, 2),
        (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9), (4, 9, 5),
        (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1),
    ], dtype=np.int64)
    v = np.array(verts, dtype=np.float64)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    for _ in range(subdivisions):
        # Split every edge once (unique midpoints), each face into 4.
        edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])  # [3F, 2]
        edges_sorted = np.sort(edges, axis=1)
        uniq, inverse = np.unique(edges_sorted, axis=0, return_inverse=True)
        mid = v[uniq[:, 0]] + v[uniq[:, 1]]
        mid /= np.linalg.norm(mid, axis=1, keepdims=True)
        m = inverse.reshape(3, -1).T + len(v)  # [F, 3] midpoint ids of edges 01, 12, 20
        a, b, c = faces[:, 0], faces[:, 1], faces[:, 2]
        faces = np.concatenate([
            np.stack([a, m[:, 0], m[:, 2]], 1), np.stack([b, m[:, 1], m[:, 0]], 1),
            np.stack([c, m[:, 2], m[:, 1]], 1), m,
        ])
        v = np.concatenate([v, mid])
    return v, faces


# Mannequin joints in metres, OpenCV-like body frame (x = subject's left... seen from the front: image
# right, y down, z away from the viewer), feet at y = 0.9, head top near y = -0.9 (about 1.75 m tall).
_JOINTS = {
    "pelvis": (0.0, 0.0, 0.0), "chest": (0.0, -0.45, 0.0), "neck": (0.0, -0.6, 0.0), "head": (0.0, -0.75, 0.0),
    "l_shoulder": (0.19, -0.5, 0.0), "l_elbow": (0.3, -0.24, -0.05), "l_wrist": (0.36, 0.0, -0.12),
    "r_shoulder": (-0.19, -0.5, 0.0), "r_elbow": (-0.36, -0.3, 0.05), "r_wrist": (-0.5, -0.1, 0.08),
    "l_hip": (0.1, 0.0, 0.0), "l_knee": (0.12, 0.42, -0.08), "l_ankle": (0.13, 0.85, 0.02),
    "r_hip": (-0.1, 0.0, 0.0), "r_knee": (-0.12, 0.43, 0.03), "r_ankle": (-0.14, 0.86, 0.1),
}
# (from joint, to joint, radius in metres): each part is an ellipsoid spanning the segment; the torso is
# flattened front-to-back (radius x 1.0 across, x 0.65 in depth).
_PARTS = [
    ("pelvis", "chest", 0.175), ("neck", "head", 0.045), ("head", "head", 0.11),
    ("l_shoulder", "l_elbow", 0.05), ("l_elbow", "l_wrist", 0.042),
    ("r_shoulder", "r_elbow", 0.05), ("r_elbow", "r_wrist", 0.042),
    ("l_hip", "l_knee", 0.075), ("l_knee", "l_ankle", 0.055),
    ("r_hip", "r_knee", 0.075), ("r_knee", "r_ankle", 0.055),
]


def mannequin(subdivisions: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A posed stick-figure body of 11 ellipsoids, centred on the pelvis, about 1.75 m tall.

    Body frame: x to the image right, y down, z away from a viewer in front. With ``subdivisions=3``
    it has 7,062 vertices and 14,080 faces (the size of a SMPL-like mesh). Returns float64 verts, int64 faces.
    """
    sv, sf = icosphere(subdivisions)
    all_v, all_f = [], []
    for i, (j0, j1, radius) in enumerate(_PARTS):
        p0, p1 = np.array(_JOINTS[j0]), np.array(_JOINTS[j1])
        axis = p1 - p0
        length = float(np.linalg.norm(axis))
        if length < 1e-9:  # a sphere (the head)
            v = sv * radius + p0
        else:
            d = axis / length
            # Orthonormal frame with the segment direction as local y.
            helper = np.array([0.0, 0.0, 1.0]) if abs(d[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
            e0 = np.cross(d, helper)
            e0 /= np.linalg.norm(e0)
            e2 = np.cross(e0, d)  # (e0, d, e2) right-handed: keeps the outward winding
            depth_ratio = 0.65 if i == 0 else 1.0
            scale = np.array([radius, length / 2 + radius * 0.6, radius * depth_ratio])
            local = sv * scale
            v = (p0 + p1) / 2 + local[:, 0:1] * e0 + local[:, 1:2] * d + local[:, 2:3] * e2
        all_f.append(sf + i * len(sv))
        all_v.append(v)
    return np.concatenate(all_v), np.concatenate(all_f)
