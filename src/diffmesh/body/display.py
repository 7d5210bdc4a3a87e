"""A lighter surface for drawing: the body model's mesh with fewer faces, on a subset of its vertices.

The overlay draws a body in every frame of a video. At 640x480 the open body model's 27,420 faces
are about one pixel each, and drawing them, with their vertex normals, is most of the overlay's
time (docs/benchmarks.md). :func:`decimate` removes vertices by *half-edge collapses* chosen by
quadric error (Garland and Heckbert's measure of how far the surface moves): a vertex merges into
a neighbour and the neighbour stays where it is. The vertices that remain are therefore vertices
of the body model, posed exactly by it (:func:`diffmesh.body.subset.vertex_subset`), and only the
faces are new.

The display mesh of the open body model is computed once by ``tools/build_display_mesh.py`` and
shipped as ``assets/open_body_display.npz``; :func:`display_mesh` returns it for that model and
``None`` for any other (an official SMPL model has 13,776 faces, the density aimed at here).
"""

from __future__ import annotations

import hashlib
import heapq
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from diffmesh.body.layer import BodyModel
from diffmesh.body.subset import vertex_subset

__all__ = ["DISPLAY_MESH_PATH", "DisplayMesh", "decimate", "display_body", "display_mesh", "mesh_digest"]

#: The shipped display mesh of the open body model (``tools/build_display_mesh.py``).
DISPLAY_MESH_PATH = Path(__file__).parent / "assets" / "open_body_display.npz"


@dataclass(frozen=True)
class DisplayMesh:
    """``faces [F', 3]`` indexing ``vertices [V']`` (ascending indices of the full model's vertices)."""

    vertices: np.ndarray
    faces: np.ndarray


def mesh_digest(faces: np.ndarray, num_vertices: int) -> str:
    """A short hash of a mesh's topology: which body model a display mesh was made for."""
    h = hashlib.sha256(np.ascontiguousarray(faces, dtype=np.int64).tobytes())
    h.update(str(num_vertices).encode())
    return h.hexdigest()[:16]


def display_mesh(body: BodyModel) -> DisplayMesh | None:
    """The shipped display mesh when ``body`` is the model it was made for (same faces), else None."""
    if not DISPLAY_MESH_PATH.exists():
        return None
    with np.load(DISPLAY_MESH_PATH) as a:
        if str(a["made_for"]) != mesh_digest(body.faces.cpu().numpy(), body.num_vertices):
            return None
        return DisplayMesh(a["vertices"].astype(np.int64), a["faces"].astype(np.int64))


def display_body(body: BodyModel) -> tuple[BodyModel, torch.Tensor, int]:
    """What to pose and draw for ``body``: ``(model, faces, V)``.

    With a display mesh (:func:`display_mesh`): the body model restricted to its vertices (exact for
    them; its first ``V`` output vertices are the display mesh's, the 24 joints follow) and the display
    faces. Otherwise ``body`` itself, its faces and its vertex count.
    """
    mesh = display_mesh(body)
    if mesh is None:
        return body, body.faces.cpu(), body.num_vertices
    keep = torch.zeros(body.num_vertices, dtype=torch.bool)
    keep[torch.from_numpy(mesh.vertices)] = True
    model = vertex_subset(body, keep, name=f"{body.name}-display")
    return model, torch.from_numpy(mesh.faces), len(mesh.vertices)


def _face_quadrics(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """``[V, 4, 4]``: per vertex, the sum of its faces' plane quadrics weighted by face area."""
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    n = np.cross(b - a, c - a)
    area2 = np.linalg.norm(n, axis=1)
    n = n / np.maximum(area2, 1e-20)[:, None]
    plane = np.concatenate([n, -(n * a).sum(1, keepdims=True)], axis=1)  # [F, 4]
    kf = 0.5 * area2[:, None, None] * plane[:, :, None] * plane[:, None, :]
    q = np.zeros((len(verts), 4, 4))
    for k in range(3):
        np.add.at(q, faces[:, k], kf)
    return q


def decimate(verts: np.ndarray, faces: np.ndarray, target_faces: int, max_turn_deg: float = 60.0) -> DisplayMesh:
    """Half-edge collapses by least quadric error until at most ``target_faces`` faces remain.

    A collapse ``u -> v`` is refused when it would break the surface: ``u`` on a border, the two
    vertices sharing neighbours other than the corners of their common faces (the link condition:
    it would pinch the mesh), or one of ``u``'s other faces turning by more than ``max_turn_deg`` or
    becoming degenerate. The remaining vertices keep their places.

    Args:
        verts: ``[V, 3]`` rest vertices (the template).
        faces: ``[F, 3]`` triangles.
        target_faces: faces to keep at most (collapses stop earlier when none is allowed).
    """
    verts = np.asarray(verts, np.float64)
    faces = np.array(faces, np.int64)
    n_v = len(verts)
    quad = _face_quadrics(verts, faces)
    homo = np.concatenate([verts, np.ones((n_v, 1))], axis=1)
    vert_faces: list[set[int]] = [set() for _ in range(n_v)]
    for f, tri in enumerate(faces):
        for x in tri:
            vert_faces[x].add(f)
    edge_count: dict[tuple[int, int], int] = {}
    for tri in faces:
        for x, y in ((tri[0], tri[1]), (tri[1], tri[2]), (tri[2], tri[0])):
            key = (min(x, y), max(x, y))
            edge_count[key] = edge_count.get(key, 0) + 1
    border = np.zeros(n_v, bool)
    for (x, y), count in edge_count.items():
        if count != 2:
            border[x] = border[y] = True
    alive_face = np.ones(len(faces), bool)
    stamp = np.zeros(n_v, np.int64)
    min_cos = np.cos(np.radians(max_turn_deg))

    def neighbours(x: int) -> set[int]:
        return {int(y) for f in vert_faces[x] for y in faces[f]} - {x}

    def cost(u: int, v: int) -> float:
        q = quad[u] + quad[v]
        return float(homo[v] @ q @ homo[v])

    heap: list[tuple[float, int, int, int, int]] = []

    def push(u: int, v: int) -> None:
        if not border[u]:
            heapq.heappush(heap, (cost(u, v), int(u), int(v), int(stamp[u]), int(stamp[v])))

    for x, y in edge_count:
        push(x, y)
        push(y, x)

    def allowed(u: int, v: int) -> bool:
        shared = vert_faces[u] & vert_faces[v]
        if len(neighbours(u) & neighbours(v)) != len(shared):
            return False
        for f in vert_faces[u] - shared:
            tri = faces[f]
            p = verts[tri]
            before = np.cross(p[1] - p[0], p[2] - p[0])
            p = np.where((tri == u)[:, None], verts[v], p)
            after = np.cross(p[1] - p[0], p[2] - p[0])
            na, nb = np.linalg.norm(after), np.linalg.norm(before)
            if na < 1e-12 or float(after @ before) < min_cos * na * nb:
                return False
        return True

    n_faces = len(faces)
    while n_faces > target_faces and heap:
        _, u, v, su, sv = heapq.heappop(heap)
        if su != stamp[u] or sv != stamp[v] or not vert_faces[u] or not vert_faces[v]:
            continue  # stale: a vertex was collapsed away or its neighbourhood changed
        if v not in neighbours(u) or not allowed(u, v):
            continue
        shared = vert_faces[u] & vert_faces[v]
        for f in shared:
            alive_face[f] = False
            for x in faces[f]:
                vert_faces[x].discard(f)
        n_faces -= len(shared)
        for f in vert_faces[u]:
            faces[f][faces[f] == u] = v
            vert_faces[v].add(f)
        vert_faces[u] = set()
        quad[v] += quad[u]
        touched = neighbours(v) | {v}
        for x in touched:
            stamp[x] += 1
        for x in touched:
            for y in neighbours(x):
                push(x, y)
                if y not in touched:
                    push(y, x)
    kept = np.flatnonzero([bool(s) for s in vert_faces])
    remap = np.full(n_v, -1, np.int64)
    remap[kept] = np.arange(len(kept))
    return DisplayMesh(kept, remap[faces[alive_face]])

