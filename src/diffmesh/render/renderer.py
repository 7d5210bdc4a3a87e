"""The public renderer: backend selection, single frames, side views and streaming video overlays."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator
from typing import Literal

import numpy as np
import torch

from diffmesh.render.core import (
    DEFAULT_COLOR,
    DEFAULT_ZNEAR,
    ArrayLike,
    RenderResult,
    check_background,
    check_color,
    check_faces,
    check_intrinsics,
    check_normals,
    check_size,
    check_verts,
    composite,
    faces_in_front,
)
from diffmesh.render.opengl import OpenGLRasterizer, opengl_unavailable_reason
from diffmesh.render.torch_raster import TorchRasterizer

logger = logging.getLogger(__name__)

Backend = Literal["auto", "torch", "opengl"]
BACKENDS: tuple[str, ...] = ("auto", "torch", "opengl")
Background = np.ndarray | tuple[int, int, int] | None


class Renderer:
    """Draw a triangle mesh given in the camera frame into ``height x width`` RGB images.

    Args:
        width, height: image size in pixels.
        backend: ``"opengl"`` (moderngl + EGL; needs ``pip install 'diffmesh[render]'``),
            ``"torch"`` (pure PyTorch, always available) or ``"auto"`` (OpenGL when it works, else torch;
            the choice and the reason are logged at INFO).
        znear: faces with a vertex at camera ``z <= znear`` metres are not drawn.

    Use as a context manager, or call :meth:`close`, to free the OpenGL context promptly.
    """

    def __init__(self, width: int, height: int, backend: Backend = "auto", znear: float = DEFAULT_ZNEAR) -> None:
        self.width, self.height = check_size(width, height)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if not (znear > 0 and math.isfinite(znear)):
            raise ValueError(f"znear must be a positive number of metres, got {znear!r}")
        self.znear = float(znear)
        self._impl: TorchRasterizer | OpenGLRasterizer
        if backend == "torch":
            self._impl = TorchRasterizer(self.width, self.height)
            logger.info("diffmesh.render: using backend 'torch' (requested): %s", self._impl.describe())
        elif backend == "opengl":
            reason = opengl_unavailable_reason()
            if reason is not None:
                raise RuntimeError(
                    f"backend='opengl' is not available: {reason}. Use backend='auto' or 'torch', or install "
                    "moderngl (pip install 'diffmesh[render]') and an EGL driver (Debian: libegl1 libegl-mesa0 "
                    "libgl1-mesa-dri)"
                )
            self._impl = OpenGLRasterizer(self.width, self.height)
            logger.info("diffmesh.render: using backend 'opengl' (requested): %s", self._impl.describe())
        else:
            self._impl = _auto_backend(self.width, self.height)

    @property
    def backend(self) -> str:
        """The backend in use: ``"torch"`` or ``"opengl"``."""
        return self._impl.name

    def close(self) -> None:
        """Release the backend's resources (the OpenGL context). The renderer is unusable afterwards."""
        self._impl.close()

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Renderer(width={self.width}, height={self.height}, backend={self.backend!r})"

    def render(
        self,
        verts_cam: ArrayLike,
        faces: ArrayLike,
        K: ArrayLike,
        background: Background = None,
        color: tuple[float, float, float] = DEFAULT_COLOR,
        alpha: float = 1.0,
        smooth: bool = True,
        cull_back_faces: bool = False,
        normals: ArrayLike | None = None,
    ) -> RenderResult:
        """Render one mesh over a background.

        Args:
            verts_cam: ``[V, 3]`` vertices in the camera frame (metres; x right, y down, z forward).
            faces: ``[F, 3]`` integer vertex indices (0-based).
            K: ``[3, 3]`` pinhole intrinsics in pixels (OpenCV pixel centres).
            background: uint8 ``[H, W, 3]`` RGB image (not modified), an RGB tuple, or None for white.
            color: mesh RGB in [0, 1].
            alpha: mesh opacity in [0, 1] over the background.
            smooth: interpolate vertex normals (True) or shade each face flat (False).
            cull_back_faces: skip faces whose winding turns away from the camera. For a closed mesh
                wound outward (the body models) they are hidden anyway, so the image is the same and
                the rasteriser does about half the work; an open mesh shows no inside through its holes.
            normals: ``[V, 3]`` vertex normals for smooth shading, computed elsewhere (the overlay
                computes them on the thread that poses the body); None: from the faces here.

        Returns:
            :class:`RenderResult` with the composited ``image``, the coverage ``mask`` and ``depth``.
        """
        verts = check_verts(verts_cam)
        tri = check_faces(faces, verts.shape[0])
        vn = None if normals is None or not smooth else check_normals(normals, verts.shape[0])
        k = check_intrinsics(K)
        rgb, alpha = check_color(color, alpha)
        canvas = check_background(background, self.width, self.height)
        tri = faces_in_front(verts, tri, self.znear)
        frags = self._impl.draw(verts, tri, k, rgb, smooth, self.znear, cull_back_faces, vn)
        return composite(canvas, frags, alpha)


def _auto_backend(width: int, height: int) -> TorchRasterizer | OpenGLRasterizer:
    reason = opengl_unavailable_reason()
    if reason is None:
        try:
            impl: TorchRasterizer | OpenGLRasterizer = OpenGLRasterizer(width, height)
            logger.info("diffmesh.render: using backend 'opengl': %s", impl.describe())
            return impl
        except Exception as exc:  # the probe worked but this context did not: fall back, say why
            reason = f"OpenGL renderer creation failed ({type(exc).__name__}: {exc})"
    impl = TorchRasterizer(width, height)
    logger.info("diffmesh.render: using backend 'torch' because the OpenGL fast path is unavailable: %s", reason)
    return impl


def intrinsics_from_fov(width: int, height: int, fov_y_deg: float = 50.0) -> np.ndarray:
    """A pinhole ``K`` with square pixels, the principal point at the image centre and a vertical FOV."""
    width, height = check_size(width, height)
    if not (0.0 < fov_y_deg < 180.0):
        raise ValueError(f"fov_y_deg must be in (0, 180) degrees, got {fov_y_deg!r}")
    f = 0.5 * height / math.tan(math.radians(fov_y_deg) / 2)
    return np.array([[f, 0.0, (width - 1) / 2], [0.0, f, (height - 1) / 2], [0.0, 0.0, 1.0]])


def side_view_camera(
    verts_cam: ArrayLike,
    K: ArrayLike,
    width: int,
    height: int,
    angle_deg: float = 90.0,
    fill: float = 0.85,
) -> tuple[np.ndarray, np.ndarray]:
    """Rotate a mesh about the vertical axis through its centroid and choose a camera that sees it whole.

    The vertical axis is the camera's y axis (image "down"), so a person standing upright in the frame
    turns in place; ``angle_deg = 90`` shows them from their side (positive turns the mesh's near side to
    the image right). The mesh is re-centred on the optical axis at its original centroid depth (so its size
    stays stable across a sequence) and pushed back only as far as needed to fit ``fill`` of the image.

    Returns:
        ``(verts_side [V, 3] float32, K_side [3, 3])``: K's focal lengths, principal point at the centre.
    """
    verts = check_verts(verts_cam)
    k = check_intrinsics(K)
    width, height = check_size(width, height)
    if not (0.0 < fill <= 1.0):
        raise ValueError(f"fill must be in (0, 1], got {fill!r}")
    centroid = verts.astype(np.float64).mean(axis=0)
    a = math.radians(angle_deg)
    # Rotation about the camera y axis (right-handed, y down).
    rot = np.array([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]])
    local = (verts - centroid) @ rot.T  # [V, 3] about the centroid
    k_side = k.copy()
    k_side[0, 1] = 0.0
    k_side[0, 2] = (width - 1) / 2
    k_side[1, 2] = (height - 1) / 2
    # Distance at which every vertex projects inside fill * half-size of the image.
    half_w, half_h = fill * width / 2, fill * height / 2
    need = max(
        float(np.max(np.abs(local[:, 0]) * k_side[0, 0] / half_w - local[:, 2])),
        float(np.max(np.abs(local[:, 1]) * k_side[1, 1] / half_h - local[:, 2])),
    )
    depth = max(float(centroid[2]), need, float(np.max(-local[:, 2])) + 0.1)
    verts_side = (local + np.array([0.0, 0.0, depth])).astype(np.float32)
    return verts_side, k_side


def render_side_view(
    renderer: Renderer,
    verts_cam: ArrayLike,
    faces: ArrayLike,
    K: ArrayLike,
    angle_deg: float = 90.0,
    background: Background = (255, 255, 255),
    color: tuple[float, float, float] = DEFAULT_COLOR,
) -> RenderResult:
    """Render the mesh turned by ``angle_deg`` about its vertical axis on a plain background.

    The camera is chosen by :func:`side_view_camera` (same focal length as ``K``, mesh centred).
    """
    verts_side, k_side = side_view_camera(verts_cam, K, renderer.width, renderer.height, angle_deg)
    return renderer.render(verts_side, faces, k_side, background=background, color=color)


def overlay_sequence(
    frames: Iterable[np.ndarray],
    verts_cam: Iterable[ArrayLike],
    faces: ArrayLike,
    K: ArrayLike | Iterable[ArrayLike],
    renderer: Renderer | None = None,
    color: tuple[float, float, float] = DEFAULT_COLOR,
    alpha: float = 1.0,
    side_view: bool = False,
    backend: Backend = "auto",
) -> Iterator[np.ndarray]:
    """Stream video frames with the mesh drawn over them; never holds more than one frame.

    Args:
        frames: uint8 ``[H, W, 3]`` RGB frames (any iterable, e.g. a video reader).
        verts_cam: one ``[V, 3]`` camera-frame mesh per frame (an iterable, or an array ``[T, V, 3]``).
        faces: ``[F, 3]`` shared by all frames.
        K: one ``[3, 3]`` for the whole video, or one per frame (``[T, 3, 3]`` or an iterable).
        renderer: reuse a renderer; by default one is created from the first frame's size (and closed
            when the iterator finishes).
        side_view: also draw the mesh turned 90 deg on white, to the right: frames become ``[H, 2W, 3]``.

    Yields:
        uint8 ``[H, W, 3]`` (or ``[H, 2W, 3]``) frames. Raises ValueError if ``frames`` and ``verts_cam``
        have different lengths (after yielding the frames they share).
    """
    if isinstance(K, (np.ndarray, torch.Tensor)):
        k_ndim: int | None = K.ndim
    else:
        k_ndim = np.ndim(K) if isinstance(K, (list, tuple)) else None  # generators: per frame
    per_frame_k = k_ndim != 2
    k_iter: Iterator[ArrayLike] = iter(K) if per_frame_k else iter(())  # type: ignore[arg-type]
    own = renderer is None
    frame_it, vert_it = iter(frames), iter(verts_cam)
    index = 0
    try:
        while True:
            frame = next(frame_it, None)
            verts = next(vert_it, None)
            if frame is None and verts is None:
                return
            if frame is None or verts is None:
                longer = "verts_cam" if frame is None else "frames"
                raise ValueError(
                    f"frames and verts_cam have different lengths: {longer} has more than {index} items; "
                    "pass one mesh per frame"
                )
            if per_frame_k:
                k_frame = next(k_iter, None)
                if k_frame is None:
                    raise ValueError(f"K has fewer per-frame matrices than frames (ran out at frame {index})")
            else:
                k_frame = K  # type: ignore[assignment]
            if renderer is None:
                if not isinstance(frame, np.ndarray) or frame.ndim != 3:
                    raise ValueError(f"frames must be uint8 [H, W, 3] arrays, got {type(frame).__name__}")
                renderer = Renderer(frame.shape[1], frame.shape[0], backend=backend)
            out = renderer.render(verts, faces, k_frame, background=frame, color=color, alpha=alpha).image
            if side_view:
                side = render_side_view(renderer, verts, faces, k_frame, color=color).image
                out = np.concatenate([out, side], axis=1)
            yield out
            index += 1
    finally:
        if own and renderer is not None:
            renderer.close()
