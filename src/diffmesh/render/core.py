"""Shared pieces of both rasterisers: input checks, camera conventions, normals, shading, compositing.

Conventions (identical in the torch and the OpenGL backend, so their pixels agree):

- ``verts_cam`` are in the camera frame, metres, OpenCV axes: x right, y down, z forward.
- ``K`` is a pinhole matrix ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` in pixels. A point projects to
  ``u = (fx*x + s*y)/z + cx``, ``v = fy*y/z + cy``; pixel ``(row=i, col=j)`` has its *centre* at
  ``(u, v) = (j, i)`` (OpenCV convention, not the OpenGL ``+0.5`` one). A pixel belongs to a triangle
  when its centre lies inside the projected triangle.
- Faces with any vertex at ``z <= znear`` are not drawn (no partial clipping).
- Lighting is Lambertian, two-sided: a normal is flipped when its triangle is seen from the back,
  so meshes with either winding order shade the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor

# Unit vector from the surface towards the light, camera frame (x right, y down, z forward): a
# "headlight" placed a little above and to the left of the camera, so silhouettes keep some relief.
LIGHT_DIR_CAM: tuple[float, float, float] = tuple(
    (np.array([-0.3, -0.4, -1.0]) / np.linalg.norm([-0.3, -0.4, -1.0])).tolist()
)  # type: ignore[assignment]
AMBIENT = 0.35
DIFFUSE = 0.65
DEFAULT_ZNEAR = 0.01  # metres
DEFAULT_COLOR: tuple[float, float, float] = (0.65, 0.74, 0.86)  # light blue-grey, in [0, 1]


class RenderResult:
    """One rendered frame.

    Attributes:
        image: uint8 ``[H, W, 3]`` RGB, the mesh composited over the background.
        mask: bool ``[H, W]``, True where the mesh covers the pixel centre.
        depth: float32 ``[H, W]``, camera-frame z (metres) of the visible surface; 0 outside ``mask``.

    ``mask`` and ``depth`` are built from the covered pixels when first read: the video overlay
    reads only ``image``, and two full-frame arrays a frame cost its drawing thread 0.5 ms.
    """

    __slots__ = ("image", "_frags", "_mask", "_depth")

    def __init__(self, image: np.ndarray, frags: Fragments) -> None:
        self.image, self._frags = image, frags
        self._mask: np.ndarray | None = None
        self._depth: np.ndarray | None = None

    @property
    def mask(self) -> np.ndarray:
        if self._mask is None:
            height, width = self.image.shape[:2]
            mask = np.zeros(height * width, dtype=bool)
            mask[self._frags.pix] = True
            self._mask = mask.reshape(height, width)
        return self._mask

    @property
    def depth(self) -> np.ndarray:
        if self._depth is None:
            height, width = self.image.shape[:2]
            depth = np.zeros(height * width, dtype=np.float32)
            depth[self._frags.pix] = self._frags.depth
            self._depth = depth.reshape(height, width)
        return self._depth


@dataclass(frozen=True)
class Fragments:
    """Sparse rasteriser output: the covered pixels only (backend-internal).

    ``pix`` int64 ``[N]`` flat pixel indices ``row*W + col``; ``rgb`` float32 ``[N, 3]`` shaded colour in
    [0, 1]; ``depth`` float32 ``[N]`` camera z in metres.
    """

    pix: np.ndarray
    rgb: np.ndarray
    depth: np.ndarray


def _to_numpy(x: ArrayLike, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise ValueError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}") from exc


def check_size(width: int, height: int) -> tuple[int, int]:
    """Validate an image size in pixels and return it as ints."""
    if isinstance(width, bool) or isinstance(height, bool) or int(width) != width or int(height) != height:
        raise ValueError(f"width and height must be integers, got width={width!r}, height={height!r}")
    width, height = int(width), int(height)
    if not (1 <= width <= 16384 and 1 <= height <= 16384):
        raise ValueError(f"width and height must be in [1, 16384] pixels, got {width}x{height}")
    return width, height


def check_verts(verts_cam: ArrayLike) -> np.ndarray:
    """Return ``verts_cam`` as a float32 ``[V, 3]`` array, or raise ValueError naming the problem."""
    v = _to_numpy(verts_cam, "verts_cam")
    if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] == 0:
        raise ValueError(
            f"verts_cam must have shape [V, 3] (one mesh, camera frame, metres), got shape {tuple(v.shape)}; "
            "for a sequence pass one [V, 3] array per frame"
        )
    if not np.issubdtype(v.dtype, np.floating):
        raise ValueError(f"verts_cam must be floating point, got dtype {v.dtype}")
    v = np.ascontiguousarray(v, dtype=np.float32)
    if not np.isfinite(v).all():
        raise ValueError("verts_cam contains NaN or inf values; every vertex must be finite")
    return v


def check_normals(normals: ArrayLike, num_verts: int) -> np.ndarray:
    """Return vertex ``normals`` as a float32 ``[V, 3]`` array (any length: shading normalises them)."""
    n = _to_numpy(normals, "normals")
    if n.shape != (num_verts, 3) or not np.issubdtype(n.dtype, np.floating):
        raise ValueError(f"normals must be floating point of shape [{num_verts}, 3] (one per vertex), got {n.dtype} "
                         f"{tuple(n.shape)}; pass normals=None to compute them from the faces")
    n = np.ascontiguousarray(n, dtype=np.float32)
    if not np.isfinite(n).all():
        raise ValueError("normals contains NaN or inf values; every normal must be finite")
    return n


def check_faces(faces: ArrayLike, num_verts: int) -> np.ndarray:
    """Return ``faces`` as an int64 ``[F, 3]`` array with indices in ``[0, num_verts)``."""
    f = _to_numpy(faces, "faces")
    if f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f"faces must have shape [F, 3] (triangles), got shape {tuple(f.shape)}")
    if f.dtype.kind not in "iu":
        raise ValueError(f"faces must be an integer array, got dtype {f.dtype}")
    f = np.ascontiguousarray(f, dtype=np.int64)
    if f.size and (f.min() < 0 or f.max() >= num_verts):
        raise ValueError(
            f"faces index vertices in [{int(f.min())}, {int(f.max())}] but verts_cam has {num_verts} vertices; "
            f"indices must be in [0, {num_verts - 1}] (0-based)"
        )
    return f


def check_intrinsics(K: ArrayLike) -> np.ndarray:
    """Return ``K`` as a float64 ``[3, 3]`` pinhole matrix, or raise ValueError."""
    k = _to_numpy(K, "K")
    if k.shape != (3, 3):
        raise ValueError(
            "K must be a [3, 3] pinhole matrix [[fx, s, cx], [0, fy, cy], [0, 0, 1]] in pixels, "
            f"got shape {tuple(k.shape)}"
        )
    k = np.asarray(k, dtype=np.float64)
    if not np.isfinite(k).all():
        raise ValueError(f"K must be finite, got {k.tolist()}")
    if not np.allclose(k[2], [0.0, 0.0, 1.0]) or k[1, 0] != 0.0:
        raise ValueError(f"K must have the form [[fx, s, cx], [0, fy, cy], [0, 0, 1]], got {k.tolist()}")
    if k[0, 0] <= 0 or k[1, 1] <= 0:
        raise ValueError(f"K must have positive focal lengths fx, fy (pixels), got fx={k[0, 0]}, fy={k[1, 1]}")
    return k


def check_background(
    background: np.ndarray | tuple[int, int, int] | None, width: int, height: int
) -> np.ndarray:
    """Return a fresh uint8 ``[H, W, 3]`` canvas: a copy of ``background``, or a plain colour (white if None)."""
    if background is None:
        background = (255, 255, 255)
    if isinstance(background, tuple):
        if len(background) != 3 or not all(0 <= int(c) <= 255 for c in background):
            raise ValueError(f"a background colour must be 3 ints in [0, 255], got {background!r}")
        canvas = np.empty((height, width, 3), dtype=np.uint8)
        canvas[:] = np.asarray(background, dtype=np.uint8)
        return canvas
    bg = _to_numpy(background, "background")
    if bg.shape != (height, width, 3) or bg.dtype != np.uint8:
        raise ValueError(
            f"background must be a uint8 RGB image of shape [{height}, {width}, 3] (the renderer's size), "
            f"got dtype {bg.dtype} and shape {tuple(bg.shape)}; convert with np.clip(x, 0, 255).astype(np.uint8) "
            "or create the Renderer with the frame's size"
        )
    return np.array(bg, dtype=np.uint8, order="C", copy=True)


def check_color(color: tuple[float, float, float], alpha: float) -> tuple[np.ndarray, float]:
    """Validate an RGB colour in [0, 1] and an opacity in [0, 1]."""
    c = np.asarray(color, dtype=np.float32)
    if c.shape != (3,) or not np.isfinite(c).all() or c.min() < 0.0 or c.max() > 1.0:
        raise ValueError(f"color must be 3 floats in [0, 1] (r, g, b), got {color!r}")
    if not (0.0 <= float(alpha) <= 1.0):
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    return c, float(alpha)


def vertex_normals(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Area-weighted unit vertex normals, ``[V, 3]``, following the faces' winding (vectorised)."""
    v0, v1, v2 = (verts.index_select(0, faces[:, k]) for k in range(3))  # the corners (faster than verts[faces])
    face_n = torch.linalg.cross(v1 - v0, v2 - v0)  # [F, 3], |n| = 2*area
    vn = torch.zeros_like(verts)
    vn.index_add_(0, faces.reshape(-1), face_n[:, None].expand(-1, 3, -1).reshape(-1, 3))  # = repeat_interleave(3, 0)
    return torch.nn.functional.normalize(vn, dim=1, eps=1e-12)


def face_normals(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Unit face normals ``[F, 3]`` following the faces' winding."""
    tri = verts[faces]
    n = torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    return torch.nn.functional.normalize(n, dim=1, eps=1e-12)


def faces_in_front(verts: np.ndarray, faces: np.ndarray, znear: float) -> np.ndarray:
    """The faces whose three vertices all lie in front of the near plane (``z > znear``)."""
    ok_vert = verts[:, 2] > znear
    if ok_vert.all():
        return faces
    return faces[ok_vert[faces].all(axis=1)]


def composite(canvas: np.ndarray, frags: Fragments, alpha: float) -> RenderResult:
    """Blend shaded fragments into ``canvas`` (modified in place) and build the result."""
    flat = canvas.reshape(-1, 3)
    rgb255 = frags.rgb * 255.0
    if alpha < 1.0:
        rgb255 = alpha * rgb255 + (1.0 - alpha) * flat[frags.pix].astype(np.float32)
    flat[frags.pix] = np.clip(rgb255 + 0.5, 0, 255).astype(np.uint8)
    return RenderResult(canvas, frags)
