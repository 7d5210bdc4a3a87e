"""The display mesh (:mod:`diffmesh.body.display`): fewer faces on the body model's own vertices."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from diffmesh import body as body_lib
from diffmesh.body.display import DISPLAY_MESH_PATH, decimate, display_body, display_mesh, mesh_digest
from diffmesh.body.subset import vertex_subset
from diffmesh.render import Renderer, icosphere


def _edge_uses(faces: np.ndarray) -> Counter[tuple[int, int]]:
    return Counter(tuple(sorted((int(a), int(b)))) for f in faces for a, b in ((f[0], f[1]), (f[1], f[2]), (f[2], f[0])))


def _euler(faces: np.ndarray) -> int:
    return len(np.unique(faces)) - len(_edge_uses(faces)) + len(faces)


@pytest.fixture(scope="module")
def body() -> body_lib.BodyModel:
    return body_lib.load("open")


def test_decimate_keeps_a_closed_sphere_closed_and_round() -> None:
    verts, faces = icosphere(4)  # 2,562 vertices, 5,120 faces on the unit sphere
    mesh = decimate(verts, faces, target_faces=1280)
    assert len(mesh.faces) <= 1280 and len(mesh.faces) >= 1200
    assert set(_edge_uses(mesh.faces).values()) == {2}  # every edge between two faces: no hole, no pinch
    assert _euler(mesh.faces) == 2  # still one sphere
    kept = verts[mesh.vertices]
    np.testing.assert_allclose(np.linalg.norm(kept, axis=1), 1.0, atol=1e-6)  # vertices stay where they were
    a, b, c = (kept[mesh.faces[:, k]] for k in range(3))
    assert (np.einsum("ij,ij->i", np.cross(b - a, c - a), a + b + c) > 0).all()  # every face still faces outward
    centroids = (a + b + c) / 3
    assert np.linalg.norm(centroids, axis=1).min() > 0.95  # the surface stays close to the sphere


def test_the_shipped_display_mesh_is_the_open_models_own(body: body_lib.BodyModel) -> None:
    mesh = display_mesh(body)
    assert mesh is not None, f"{DISPLAY_MESH_PATH} does not match the open body model; rebuild it (tools/build_display_mesh.py)"
    assert len(mesh.faces) <= body.faces.shape[0] // 4
    assert np.all(np.diff(mesh.vertices) > 0) and mesh.vertices[-1] < body.num_vertices
    assert mesh.faces.min() == 0 and mesh.faces.max() == len(mesh.vertices) - 1
    assert set(_edge_uses(mesh.faces).values()) == {2}
    assert _euler(mesh.faces) == _euler(body.faces.numpy())  # the same closed pieces (body, eyes, ...)
    with np.load(DISPLAY_MESH_PATH) as a:
        assert str(a["made_for"]) == mesh_digest(body.faces.numpy(), body.num_vertices)


def test_another_body_model_has_no_display_mesh(body: body_lib.BodyModel) -> None:
    other = vertex_subset(body, torch.arange(body.num_vertices) < body.num_vertices - 10)
    assert display_mesh(other) is None
    model, faces, n = display_body(other)
    assert model is other and n == other.num_vertices and torch.equal(faces, other.faces.cpu())


def test_display_body_poses_the_full_models_vertices_and_draws_the_same_silhouette(body: body_lib.BodyModel) -> None:
    model, faces, n = display_body(body)
    mesh = display_mesh(body)
    assert mesh is not None and n == len(mesh.vertices)
    g = torch.Generator().manual_seed(0)
    pose = 0.3 * torch.randn(2, 69, generator=g)
    betas = torch.randn(2, 10, generator=g)
    orient = torch.tensor([[np.pi, 0.0, 0.0]] * 2)  # upside down in the camera: y down
    with torch.no_grad():
        full = body(betas=betas, body_pose=pose, global_orient=orient).vertices
        shown = model(betas=betas, body_pose=pose, global_orient=orient).vertices[:, :n]
    torch.testing.assert_close(shown, full[:, torch.from_numpy(mesh.vertices)], atol=1e-5, rtol=0)

    K = np.array([[500.0, 0, 159.5], [0, 500.0, 119.5], [0, 0, 1]])
    at = np.array([0.0, 0.0, 4.0], np.float32)
    with Renderer(320, 240, backend="torch") as r:
        a = r.render(full[0].numpy() + at, body.faces.numpy(), K, cull_back_faces=True)
        b = r.render(shown[0].numpy() + at, faces.numpy(), K, cull_back_faces=True)
    assert a.mask.sum() > 3000
    assert (a.mask & b.mask).sum() / (a.mask | b.mask).sum() > 0.98
    both = a.mask & b.mask
    assert np.abs(a.image[both].astype(int) - b.image[both].astype(int)).mean() < 4  # shading within 4 of 255
