"""Mesh rendering over video frames: solid shading, a side view, streaming overlays.

Two backends with identical projection and shading:

- ``"torch"``: a pure PyTorch/NumPy rasteriser, always available (no GPU, no system packages);
- ``"opengl"``: moderngl on a headless EGL context, used automatically when it works
  (``pip install 'diffmesh[render]'``).

Example::

    from diffmesh.render import Renderer, overlay_sequence
    with Renderer(640, 480) as r:               # backend="auto"
        out = r.render(verts_cam, faces, K, background=frame).image

Nothing is imported from moderngl or created at import time.
"""

from __future__ import annotations

from diffmesh.render.core import RenderResult, vertex_normals
from diffmesh.render.opengl import opengl_unavailable_reason
from diffmesh.render.png import read_png, write_png
from diffmesh.render.renderer import (
    BACKENDS,
    Renderer,
    intrinsics_from_fov,
    overlay_sequence,
    render_side_view,
    side_view_camera,
)
from diffmesh.render.shapes import icosphere, mannequin

__all__ = [
    "BACKENDS",
    "RenderResult",
    "Renderer",
    "icosphere",
    "intrinsics_from_fov",
    "mannequin",
    "opengl_unavailable_reason",
    "overlay_sequence",
    "read_png",
    "render_side_view",
    "side_view_camera",
    "vertex_normals",
    "write_png",
]
