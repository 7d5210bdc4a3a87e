"""Tests for diffmesh.render: real pixels from both backends against analytic geometry."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import torch

import diffmesh.render.renderer as renderer_mod
from diffmesh.render import (
    Renderer,
    icosphere,
    mannequin,
    opengl_unavailable_reason,
    overlay_sequence,
    read_png,
    render_side_view,
    side_view_camera,
    write_png,
)
from diffmesh.render.core import AMBIENT, DIFFUSE
from diffmesh.render.torch_raster import TorchRasterizer

W, H = 320, 240
K = np.array([[300.0, 0.0, 159.5], [0.0, 300.0, 119.5], [0.0, 0.0, 1.0]])
_GL_REASON = opengl_unavailable_reason()
BACKENDS = [
    "torch",
    pytest.param("opengl", marks=pytest.mark.skipif(_GL_REASON is not None, reason=f"OpenGL path: {_GL_REASON}")),
]


def _project(verts: np.ndarray, k: np.ndarray = K) -> np.ndarray:
    p = verts @ k.T
    return p[:, :2] / p[:, 2:3]


def _hull_area(pts: np.ndarray) -> float:
    """Area of the 2-D convex hull (Andrew's monotone chain + shoelace)."""
    pts = sorted(map(tuple, np.round(pts, 9)))

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    hull = np.array(lower[:-1] + upper[:-1])
    x, y = hull[:, 0], hull[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _sphere(radius: float, center: tuple[float, float, float], subdivisions: int = 4):
    v, f = icosphere(subdivisions)
    return v * radius + np.array(center), f


def _quad(z: float, half: float = 0.5, x0: float = 0.0, y0: float = 0.0):
    corners = [(-half, -half), (half, -half), (half, half), (-half, half)]
    v = np.array([[x0 + dx, y0 + dy, z] for dx, dy in corners])
    return v, np.array([[0, 1, 2], [0, 2, 3]])


def _gradient() -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    return np.stack([xx * 255 // W, yy * 255 // H, np.full_like(xx, 90)], axis=-1).astype(np.uint8)


@pytest.fixture(params=BACKENDS)
def renderer(request):
    with Renderer(W, H, backend=request.param) as r:
        yield r


# --- geometry of the silhouette -------------------------------------------------------------------


def test_sphere_silhouette_area_bbox_and_depth(renderer):
    radius, z = 0.5, 3.0
    verts, faces = _sphere(radius, (0.0, 0.0, z))
    res = renderer.render(verts, faces, K)
    area = int(res.mask.sum())
    # Exact for a convex polyhedron: its silhouette is the convex hull of the projected vertices.
    uv = _project(verts)
    assert area == pytest.approx(_hull_area(uv), rel=0.01)
    # Analytic: a sphere of radius r at depth z projects to a disc of radius f*r/sqrt(z^2-r^2).
    disc = math.pi * (300.0 * radius / math.sqrt(z * z - radius * radius)) ** 2
    assert area == pytest.approx(disc, rel=0.02)
    # Bounding box of covered pixel centres vs the projected vertices.
    rows, cols = np.nonzero(res.mask)
    assert abs(cols.min() - uv[:, 0].min()) <= 1.0 and abs(cols.max() - uv[:, 0].max()) <= 1.0
    assert abs(rows.min() - uv[:, 1].min()) <= 1.0 and abs(rows.max() - uv[:, 1].max()) <= 1.0
    # The nearest surface point is (0, 0, z - r): the centre pixel of the image.
    assert res.depth[120, 160] == pytest.approx(z - radius, abs=2e-3)
    assert (res.depth[res.mask] >= z - radius - 1e-4).all() and (res.depth[res.mask] <= z).all()
    assert (res.depth[~res.mask] == 0).all()


def test_tilted_plane_depth_is_exact(renderer):
    # Plane through (0, 0, 2) with normal n: z at pixel (u, v) is d / (n . K^-1 [u, v, 1]).
    n = np.array([0.3, -0.2, 1.0])
    n /= np.linalg.norm(n)
    d = float(n @ np.array([0.0, 0.0, 2.0]))
    xy = np.array([[-0.6, -0.5], [0.6, -0.5], [0.6, 0.5], [-0.6, 0.5]])
    zs = (d - xy @ n[:2]) / n[2]
    verts = np.concatenate([xy, zs[:, None]], axis=1)
    res = renderer.render(verts, np.array([[0, 1, 2], [0, 2, 3]]), K)
    rows, cols = np.nonzero(res.mask)
    rays = np.linalg.solve(K, np.stack([cols, rows, np.ones_like(cols)]).astype(np.float64))  # [3, N]
    expected = d / (n @ rays)
    np.testing.assert_allclose(res.depth[rows, cols], expected, rtol=1e-4)


def test_image_orientation_y_down_x_right(renderer):
    verts, faces = _sphere(0.1, (0.4, 0.3, 3.0), subdivisions=2)  # right of and below the optical axis
    rows, cols = np.nonzero(renderer.render(verts, faces, K).mask)
    assert cols.mean() == pytest.approx(159.5 + 300 * 0.4 / 3.0, abs=1.0)
    assert rows.mean() == pytest.approx(119.5 + 300 * 0.3 / 3.0, abs=1.0)


def test_nearest_surface_wins_in_any_face_order(renderer):
    far_v, far_f = _quad(4.0, half=0.8)
    near_v, near_f = _quad(2.0, half=0.2, x0=0.1)
    verts = np.concatenate([far_v, near_v])
    faces = np.concatenate([far_f, near_f + 4])
    a = renderer.render(verts, faces, K)
    b = renderer.render(verts, faces[::-1].copy(), K)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.depth, b.depth)
    near_only = renderer.render(near_v, near_f, K)
    assert np.allclose(a.depth[near_only.mask], 2.0)
    far_visible = a.mask & ~near_only.mask
    assert np.allclose(a.depth[far_visible], 4.0)


# --- shading and compositing ----------------------------------------------------------------------


def test_background_kept_outside_mask_and_not_modified(renderer):
    bg = _gradient()
    bg_before = bg.copy()
    verts, faces = _sphere(0.4, (0.0, 0.0, 3.0), subdivisions=3)
    res = renderer.render(verts, faces, K, background=bg, color=(0.9, 0.2, 0.2))
    np.testing.assert_array_equal(bg, bg_before)
    assert res.image.dtype == np.uint8 and res.image.shape == (H, W, 3)
    np.testing.assert_array_equal(res.image[~res.mask], bg[~res.mask])
    # Lambertian shading bounds: ambient*color <= pixel <= (ambient+diffuse)*color (+ rounding).
    red = res.image[res.mask][:, 0].astype(float) / 255
    assert red.min() >= AMBIENT * 0.9 - 0.01 and red.max() <= (AMBIENT + DIFFUSE) * 0.9 + 0.01
    # The headlight is above-left of the camera: the upper-left of the sphere is brighter than the lower-right.
    rows, cols = np.nonzero(res.mask)
    r0, c0 = rows.mean(), cols.mean()
    img = res.image[res.mask]
    upper_left = img[(rows < r0 - 15) & (cols < c0 - 15)][:, 0].mean()
    lower_right = img[(rows > r0 + 15) & (cols > c0 + 15)][:, 0].mean()
    assert upper_left > lower_right + 20


def test_alpha_blends_and_winding_does_not_matter(renderer):
    bg = _gradient()
    verts, faces = _sphere(0.4, (0.0, 0.0, 3.0), subdivisions=3)
    solid = renderer.render(verts, faces, K, background=bg)
    flipped = renderer.render(verts, faces[:, ::-1].copy(), K, background=bg)
    np.testing.assert_array_equal(solid.image, flipped.image)
    half = renderer.render(verts, faces, K, background=bg, alpha=0.5)
    m = solid.mask
    expected = 0.5 * solid.image[m].astype(float) + 0.5 * bg[m].astype(float)
    assert np.abs(half.image[m].astype(float) - expected).max() <= 1.01


def test_flat_shading_and_torch_tensor_inputs(renderer):
    verts, faces = _sphere(0.4, (0.0, 0.0, 3.0), subdivisions=1)
    flat = renderer.render(torch.from_numpy(verts).float(), torch.from_numpy(faces), torch.from_numpy(K), smooth=False)
    smooth = renderer.render(verts, faces, K)
    np.testing.assert_array_equal(flat.mask, smooth.mask)
    # Flat shading: few distinct colours (one per visible face), smooth: many.
    assert len(np.unique(flat.image[flat.mask], axis=0)) < 60 < len(np.unique(smooth.image[smooth.mask], axis=0))


def test_off_screen_and_behind_camera(renderer):
    bg = _gradient()
    verts, faces = _sphere(0.3, (10.0, 0.0, 3.0), subdivisions=2)  # off to the right
    res = renderer.render(verts, faces, K, background=bg)
    assert not res.mask.any()
    np.testing.assert_array_equal(res.image, bg)
    behind, bf = _sphere(0.3, (0.0, 0.0, -3.0), subdivisions=2)
    assert not renderer.render(behind, bf, K).mask.any()
    # Straddling the near plane: the faces behind it are dropped, the rest still draws without error.
    straddle, sf = _sphere(1.0, (0.0, 0.0, 0.5), subdivisions=3)
    res = renderer.render(straddle, sf, K)
    assert res.mask.any() and (res.depth[res.mask] > renderer.znear).all()


# --- both backends agree --------------------------------------------------------------------------


@pytest.mark.skipif(_GL_REASON is not None, reason=f"needs the OpenGL fast path: {_GL_REASON}")
@pytest.mark.parametrize("dist", [2.2, 6.0])
def test_backends_agree_on_posed_body(dist):
    verts, faces = mannequin()
    verts = verts + np.array([0.05, 0.0, dist])
    bg = _gradient()
    with Renderer(W, H, backend="torch") as rt, Renderer(W, H, backend="opengl") as rg:
        a = rt.render(verts, faces, K, background=bg)
        b = rg.render(verts, faces, K, background=bg)
    iou = (a.mask & b.mask).sum() / (a.mask | b.mask).sum()
    assert iou > 0.98
    both = a.mask & b.mask
    assert np.abs(a.image[both].astype(int) - b.image[both].astype(int)).mean() < 2.0
    assert np.median(np.abs(a.depth[both] - b.depth[both])) < 1e-4


# --- the torch rasteriser itself ------------------------------------------------------------------


def test_torch_chunking_gives_identical_fragments():
    verts, faces = mannequin(subdivisions=2)
    verts = verts + np.array([0.0, 0.0, 2.0])
    args = (verts.astype(np.float32), faces, K, np.array([0.7, 0.7, 0.7], np.float32), True, 0.01)
    big = TorchRasterizer(W, H).draw(*args)
    small = TorchRasterizer(W, H, chunk_pixels=997).draw(*args)
    np.testing.assert_array_equal(big.pix, small.pix)
    np.testing.assert_array_equal(big.depth, small.depth)


def test_posed_body_bbox_matches_projected_vertices():
    verts, faces = mannequin()
    verts = verts + np.array([0.0, 0.0, 5.0])
    res = Renderer(W, H, backend="torch").render(verts, faces, K)
    uv = _project(verts)
    rows, cols = np.nonzero(res.mask)
    assert abs(cols.min() - uv[:, 0].min()) <= 1.0 and abs(cols.max() - uv[:, 0].max()) <= 1.0
    assert abs(rows.min() - uv[:, 1].min()) <= 1.0 and abs(rows.max() - uv[:, 1].max()) <= 1.0
    assert rows.max() - rows.min() == pytest.approx(300 * 1.75 / 5.0, rel=0.05)  # ~1.75 m tall at 5 m


def _posed_open_body():
    """The shipped open body model, posed, in the camera frame 3 m away."""
    from diffmesh.body import load

    model = load("open")
    pose = torch.zeros(1, 23, 3)
    pose[0, 15, 2], pose[0, 16, 2] = -1.1, 1.1  # shoulders: arms down-ish (sign only matters visually)
    pose[0, 3, 0], pose[0, 4, 0], pose[0, 0, 0] = 0.6, 0.2, -0.4  # knees bent, left hip flexed
    # Global rotation of pi about x: SMPL frame (y up, facing +z) -> OpenCV camera (y down, facing us).
    out = model(
        betas=torch.zeros(1, 10), body_pose=pose, global_orient=torch.tensor([[math.pi, 0.0, 0.0]]),
        transl=torch.tensor([[0.0, 0.0, 3.0]]),
    )
    return out.vertices[0].detach().double().numpy(), model.faces.numpy()


def test_open_body_model_renders():
    verts, faces = _posed_open_body()
    res = Renderer(W, H, backend="torch").render(verts, faces, K)
    rows, cols = np.nonzero(res.mask)
    uv = _project(verts)
    # Within 2 px: a pointed extremity (finger tip, top of the head) can end between pixel centres.
    assert abs(rows.min() - uv[:, 1].min()) <= 2.0 and abs(rows.max() - uv[:, 1].max()) <= 2.0
    assert abs(cols.min() - uv[:, 0].min()) <= 2.0 and abs(cols.max() - uv[:, 0].max()) <= 2.0
    assert uv[:, 1].max() - uv[:, 1].min() > 100  # upright, about 1.7 m tall at 3 m (f = 300 px)


@pytest.mark.skipif(_GL_REASON is not None, reason=f"needs the OpenGL fast path: {_GL_REASON}")
def test_backends_agree_on_open_body_model():
    verts, faces = _posed_open_body()
    with Renderer(W, H, backend="torch") as rt, Renderer(W, H, backend="opengl") as rg:
        a, b = rt.render(verts, faces, K), rg.render(verts, faces, K)
    assert (a.mask & b.mask).sum() / (a.mask | b.mask).sum() > 0.98


def test_culling_back_faces_changes_nothing_on_a_closed_body(renderer):
    """The overlay culls back faces: on the body model (closed, wound outward) the image, mask and depth
    are the same (a few pixels of near-ties at the silhouette's folds may go either way on the GPU path),
    and an inward-wound sphere culled that way shows only its far inside."""
    verts, faces = _posed_open_body()
    bg = _gradient()
    full = renderer.render(verts, faces, K, background=bg, alpha=0.8)
    culled = renderer.render(verts, faces, K, background=bg, alpha=0.8, cull_back_faces=True)
    np.testing.assert_array_equal(full.mask, culled.mask)
    differ = (full.image != culled.image).any(axis=2).sum()
    assert differ <= (0 if renderer.backend == "torch" else 0.002 * full.mask.sum()), differ
    assert np.abs(full.depth - culled.depth).max() < 1e-3
    # normals computed elsewhere (the overlay's posing thread) shade the same, to a level of rounding
    from diffmesh.render.core import vertex_normals

    normals = vertex_normals(torch.from_numpy(verts).float(), torch.from_numpy(faces)).numpy()
    given = renderer.render(verts, faces, K, background=bg, alpha=0.8, cull_back_faces=True, normals=normals)
    np.testing.assert_array_equal(given.mask, culled.mask)
    assert np.abs(given.image.astype(int) - culled.image.astype(int)).max() <= 1
    # the state does not stick: the next frame without culling draws both sides again
    sv, sf = _sphere(0.4, (0.0, 0.0, 3.0), subdivisions=3)
    inward = sf[:, ::-1].copy()
    far_side = renderer.render(sv, inward, K, cull_back_faces=True)
    near_side = renderer.render(sv, inward, K)
    np.testing.assert_array_equal(far_side.mask, near_side.mask)
    assert np.median(far_side.depth[far_side.mask]) > np.median(near_side.depth[near_side.mask]) + 0.3


# --- side view and sequences ----------------------------------------------------------------------


def test_side_view_camera_turns_about_vertical_axis():
    # A rod along the camera x axis becomes a rod along z after a 90 degree turn: seen end-on, it is small.
    verts, faces = mannequin(subdivisions=1)
    verts = verts + np.array([1.0, 0.3, 4.0])  # off-centre in the main view
    side, k_side = side_view_camera(verts, K, W, H, angle_deg=90.0)
    centroid = verts.mean(0)
    np.testing.assert_allclose(side.mean(0)[:2], [0.0, 0.0], atol=1e-5)  # re-centred on the optical axis
    assert side.mean(0)[2] == pytest.approx(centroid[2], abs=1e-4)  # same depth, same scale
    np.testing.assert_allclose(np.ptp(side[:, 0]), np.ptp(verts[:, 2]), rtol=1e-5)  # x extent <- z extent
    np.testing.assert_allclose(np.ptp(side[:, 1]), np.ptp(verts[:, 1]), rtol=1e-5)  # vertical unchanged
    with Renderer(W, H, backend="torch") as r:
        res = render_side_view(r, verts, faces, K)
    rows, cols = np.nonzero(res.mask)
    assert rows.min() > 0 and cols.min() > 0 and rows.max() < H - 1 and cols.max() < W - 1
    assert (res.image[~res.mask] == 255).all()
    # Too close to fit: the camera backs off so the whole mesh stays inside the image.
    near, _ = side_view_camera(verts - np.array([0, 0, 3.5]), K, W, H)
    uv = _project(near.astype(np.float64), k_side)
    assert uv[:, 1].min() >= 0 and uv[:, 1].max() <= H - 1


def test_overlay_sequence_streams_frames():
    verts, faces = _sphere(0.3, (0.0, 0.0, 3.0), subdivisions=2)
    consumed = []

    def frames():
        for i in range(3):
            consumed.append(i)
            yield np.full((H, W, 3), 40 * i, np.uint8)

    meshes = (verts + np.array([0.1 * i, 0.0, 0.0]) for i in range(3))
    it = overlay_sequence(frames(), meshes, faces, K, backend="torch")
    first = next(it)
    assert consumed == [0] and first.shape == (H, W, 3)
    rest = list(it)
    assert len(rest) == 2 and (rest[1][0, 0] == 80).all()
    side = list(overlay_sequence(frames(), [verts] * 3, faces, np.stack([K] * 3), side_view=True, backend="torch"))
    assert len(side) == 3 and side[0].shape == (H, 2 * W, 3)
    with pytest.raises(ValueError, match="different lengths"):
        list(overlay_sequence(frames(), [verts] * 2, faces, K, backend="torch"))


# --- backend selection and errors -----------------------------------------------------------------


def test_auto_falls_back_to_torch_and_says_why(monkeypatch, caplog):
    monkeypatch.setattr(renderer_mod, "opengl_unavailable_reason", lambda: "moderngl not installed (pip install x)")
    with caplog.at_level(logging.INFO, logger="diffmesh.render"):
        r = Renderer(W, H, backend="auto")
    assert r.backend == "torch"
    assert "moderngl not installed" in caplog.text
    with pytest.raises(RuntimeError, match="moderngl not installed"):
        Renderer(W, H, backend="opengl")


@pytest.mark.skipif(_GL_REASON is not None, reason=f"needs the OpenGL fast path: {_GL_REASON}")
def test_auto_picks_opengl_when_available(caplog):
    with caplog.at_level(logging.INFO, logger="diffmesh.render"):
        with Renderer(W, H) as r:
            assert r.backend == "opengl"
    assert "opengl" in caplog.text


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(verts_cam=np.zeros((5, 2))), r"verts_cam must have shape \[V, 3\].*\(5, 2\)"),
        (dict(verts_cam=np.zeros((2, 5, 3))), r"verts_cam must have shape \[V, 3\]"),
        (dict(verts_cam=np.full((4, 3), np.nan)), "NaN"),
        (dict(faces=np.array([[0, 1, 9]])), r"faces index vertices in \[0, 9\].*4 vertices"),
        (dict(faces=np.array([[0, 1, -1]])), r"faces index vertices in \[-1, 1\]"),
        (dict(faces=np.zeros((2, 4), int)), r"faces must have shape \[F, 3\].*\(2, 4\)"),
        (dict(faces=np.zeros((2, 3), np.float32)), "faces must be an integer array"),
        (dict(K=np.eye(3)[:, :2]), r"K must be a \[3, 3\].*\(3, 2\)"),
        (dict(K=np.zeros((3, 3))), "K must have the form"),
        (
            dict(background=np.zeros((H, W, 3), np.float32)),
            r"background must be a uint8 RGB image of shape \[240, 320, 3\].*float32",
        ),
        (dict(background=np.zeros((10, 10, 3), np.uint8)), r"background must be a uint8.*\(10, 10, 3\)"),
        (dict(color=(1.0, 2.0, 0.0)), r"color must be 3 floats in \[0, 1\]"),
        (dict(alpha=1.5), r"alpha must be in \[0, 1\]"),
        (dict(normals=np.zeros((3, 3))), r"normals must be floating point of shape \[4, 3\].*\(3, 3\); pass normals=None"),
        (dict(normals=np.full((4, 3), np.inf)), "normals contains NaN or inf"),
    ],
)
def test_bad_inputs_raise_value_errors_naming_the_value(kwargs, match):
    verts, faces = _quad(2.0)
    args = dict(verts_cam=verts, faces=faces, K=K)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        Renderer(W, H, backend="torch").render(**args)


def test_bad_renderer_arguments():
    with pytest.raises(ValueError, match="backend must be one of"):
        Renderer(W, H, backend="vulkan")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="width and height"):
        Renderer(0, H)
    with pytest.raises(ValueError, match="znear"):
        Renderer(W, H, backend="torch", znear=0.0)


def test_png_round_trip(tmp_path):
    img = _gradient()
    write_png(tmp_path / "x.png", img)
    np.testing.assert_array_equal(read_png(tmp_path / "x.png"), img)
    with pytest.raises(ValueError, match="uint8"):
        write_png(tmp_path / "y.png", img.astype(np.float32))


def test_png_is_standard_and_rgb(tmp_path):
    """write_png's files decode with another library to the same RGB pixels (not BGR), and read_png
    reads PNGs other writers made; a missing or broken file is a clear error."""
    from PIL import Image

    img = _gradient()
    write_png(tmp_path / "x.png", img)
    with Image.open(tmp_path / "x.png") as im:
        assert im.mode == "RGB" and np.array_equal(np.asarray(im), img)
    Image.fromarray(img[::-1].copy()).save(tmp_path / "pil.png")
    np.testing.assert_array_equal(read_png(tmp_path / "pil.png"), img[::-1])
    assert not list(tmp_path.glob(".*.part"))  # written atomically
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_png(tmp_path / "missing.png")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="not a readable PNG"):
        read_png(tmp_path / "bad.png")
