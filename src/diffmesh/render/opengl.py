"""OpenGL fast path: moderngl on a headless EGL context (Mesa llvmpipe on CPU machines).

Optional: needs ``pip install 'diffmesh[render]'`` (moderngl) and an EGL driver (``libEGL.so.1``; on
Debian/Ubuntu the packages ``libegl1 libegl-mesa0 libgl1-mesa-dri``, usually already present). Nothing
is imported or created at module import; :func:`opengl_unavailable_reason` probes once per process.

The projection reproduces the torch backend exactly: OpenCV pixel centres (pixel ``j`` spans window
coordinates ``[j, j+1)``, so ``x_window = u + 0.5``), image rows top-down (the framebuffer is read back
bottom-up and flipped), camera-frame z written to a float32 colour channel as depth, and the same
two-sided Lambertian shading.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from diffmesh.geometry.camera import project
from diffmesh.render.core import AMBIENT, DIFFUSE, LIGHT_DIR_CAM, Fragments, face_normals, vertex_normals

_VERTEX_SHADER = """
#version 330
uniform mat4 proj;           // camera frame (OpenCV axes) -> clip space
in vec3 in_pos;
in vec3 in_normal;
out vec3 v_normal;
out float v_z;
void main() {
    gl_Position = proj * vec4(in_pos, 1.0);
    v_normal = in_normal;
    v_z = in_pos.z;          // interpolated perspective-correctly -> exact camera depth
}
"""

_FRAGMENT_SHADER = """
#version 330
uniform vec3 color;
uniform vec3 light_dir;
uniform float ambient;
uniform float diffuse;
in vec3 v_normal;
in float v_z;
out vec4 f_out;              // rgb = shaded colour in [0, 1], a = camera z (0 = background)
void main() {
    vec3 n = normalize(v_normal);
    if (!gl_FrontFacing) n = -n;   // two-sided lighting, as in the torch backend
    float lam = max(dot(n, light_dir), 0.0);
    f_out = vec4(color * (ambient + diffuse * lam), v_z);
}
"""


@functools.lru_cache(maxsize=1)
def opengl_unavailable_reason() -> str | None:
    """None if a moderngl EGL context can be created here, else a short reason (probed once per process)."""
    try:
        import moderngl  # noqa: F401
    except ImportError:
        return "moderngl not installed (pip install 'diffmesh[render]')"
    try:
        ctx = _create_context()
    except Exception as exc:  # EGL missing, no driver, ... : any failure means "not available"
        return f"moderngl could not create a headless EGL context ({type(exc).__name__}: {exc})"
    ctx.release()
    return None


def _create_context() -> Any:
    import moderngl

    return moderngl.create_standalone_context(backend="egl")


def projection_matrix(K: np.ndarray, width: int, height: int, znear: float, zfar: float) -> np.ndarray:
    """4x4 clip matrix for OpenCV-frame points with OpenCV pixel centres, y up in NDC (row-major)."""
    fx, s, cx = K[0]
    fy, cy = K[1, 1], K[1, 2]
    P = np.zeros((4, 4), dtype=np.float64)
    # x_ndc = 2 * (u + 0.5) / W - 1 with u = (fx x + s y) / z + cx
    P[0] = [2 * fx / width, 2 * s / width, 2 * (cx + 0.5) / width - 1.0, 0.0]
    # y_ndc = 1 - 2 * (v + 0.5) / H: image row 0 is the top (largest window y); flipped at readback
    P[1] = [0.0, -2 * fy / height, 1.0 - 2 * (cy + 0.5) / height, 0.0]
    P[2] = [0.0, 0.0, (zfar + znear) / (zfar - znear), -2 * zfar * znear / (zfar - znear)]
    P[3] = [0.0, 0.0, 1.0, 0.0]
    return P


class OpenGLRasterizer:
    """Offscreen moderngl renderer with its own EGL context. Call :meth:`close` to free it."""

    name = "opengl"

    def __init__(self, width: int, height: int) -> None:
        import moderngl

        self.width = width
        self.height = height
        self._ctx = _create_context()
        ctx = self._ctx
        with ctx:
            self._prog = ctx.program(vertex_shader=_VERTEX_SHADER, fragment_shader=_FRAGMENT_SHADER)
            self._prog["light_dir"].value = LIGHT_DIR_CAM
            self._prog["ambient"].value = AMBIENT
            self._prog["diffuse"].value = DIFFUSE
            self._color_tex = ctx.texture((width, height), 4, dtype="f4")
            self._depth_rb = ctx.depth_renderbuffer((width, height))
            self._fbo = ctx.framebuffer(color_attachments=[self._color_tex], depth_attachment=self._depth_rb)
            ctx.enable(moderngl.DEPTH_TEST)
            ctx.disable(moderngl.CULL_FACE)
            # Seen through proj (y flipped to GL's y-up), a face whose winding normal points at the
            # camera is counter-clockwise on screen: the GL default front face.
            ctx.front_face = "ccw"
            self._renderer_string = str(ctx.info.get("GL_RENDERER", "unknown"))
        self._culling = False  # CULL_FACE (GL's default cull_face: "back")
        self._vbo: Any = None
        self._ibo: Any = None
        self._vao: Any = None

    def describe(self) -> str:
        import moderngl

        return f"moderngl {moderngl.__version__} on EGL ({self._renderer_string})"

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.release()
            self._ctx = None

    def _buffers(self, n_vert: int, n_idx: int) -> None:
        """(Re)allocate vertex/index buffers when the mesh grows."""
        if self._vbo is not None and n_vert * 24 <= self._vbo.size and n_idx * 4 <= self._ibo.size:
            return
        for obj in (self._vao, self._vbo, self._ibo):
            if obj is not None:
                obj.release()
        self._vbo = self._ctx.buffer(reserve=max(n_vert, 1) * 24)
        self._ibo = self._ctx.buffer(reserve=max(n_idx, 1) * 4)
        self._vao = self._ctx.vertex_array(
            self._prog, [(self._vbo, "3f 3f", "in_pos", "in_normal")], index_buffer=self._ibo, index_element_size=4
        )

    @torch.no_grad()
    def draw(
        self,
        verts: np.ndarray,
        faces: np.ndarray,
        K: np.ndarray,
        color: np.ndarray,
        smooth: bool,
        znear: float,
        cull_back_faces: bool = False,
        normals: np.ndarray | None = None,
    ) -> Fragments:
        """Rasterise checked inputs (faces already limited to those in front of ``znear``)."""
        if self._ctx is None:
            raise RuntimeError("this OpenGL renderer was closed; create a new Renderer")
        W, H = self.width, self.height
        empty = Fragments(
            pix=np.zeros(0, np.int64), rgb=np.zeros((0, 3), np.float32), depth=np.zeros(0, np.float32)
        )
        if faces.shape[0] == 0:
            return empty
        v_t, f_t = torch.from_numpy(verts), torch.from_numpy(faces)
        if smooth:
            vn = vertex_normals(v_t, f_t).numpy() if normals is None else normals
            data = np.concatenate([verts, vn], axis=1)  # [V, 6]
            index = faces.astype(np.int32)
        else:
            # Flat shading needs a normal per face: un-index the mesh (3 vertices per face).
            normals = np.repeat(face_normals(v_t, f_t).numpy(), 3, axis=0)
            data = np.concatenate([verts[faces.reshape(-1)], normals], axis=1)
            index = np.arange(faces.size, dtype=np.int32)
        # the depth range and the mesh's box (only it is cleared and read back): from every vertex when
        # all are in front (a range and box that hold the used ones'), else from the used vertices
        used = verts if verts[:, 2].min() > 0 else verts[np.unique(faces)]
        near = float(used[:, 2].min()) * 0.5  # > znear: only faces fully in front were passed in
        far = float(used[:, 2].max()) * 2.0 + 1.0
        box = _pixel_box(used, K, W, H)
        if box is None:
            return empty
        x0, y0, w, h = box
        gl_box = (x0, H - y0 - h, w, h)  # GL rows count from the bottom
        with self._ctx:
            self._buffers(data.shape[0], index.size)
            self._vbo.orphan(self._vbo.size)
            self._vbo.write(np.ascontiguousarray(data, dtype=np.float32).tobytes())
            self._ibo.write(np.ascontiguousarray(index).tobytes())
            self._prog["proj"].write(projection_matrix(K, W, H, near, far).T.astype(np.float32).tobytes())
            self._prog["color"].value = tuple(float(c) for c in color)
            if cull_back_faces != self._culling:
                import moderngl

                (self._ctx.enable if cull_back_faces else self._ctx.disable)(moderngl.CULL_FACE)
                self._culling = cull_back_faces
            self._fbo.use()
            self._fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0, viewport=gl_box)
            self._vao.render(vertices=index.size)
            raw = self._fbo.read(viewport=gl_box, components=4, dtype="f4")
        buf = np.frombuffer(raw, dtype=np.float32).reshape(h, w, 4)[::-1]  # GL rows are bottom-up
        rows, cols = np.nonzero(buf[:, :, 3] > 0.0)
        covered = buf[rows, cols]
        pix = (rows + y0) * W + (cols + x0)  # row-major, as over the whole image
        return Fragments(pix=pix.astype(np.int64), rgb=np.ascontiguousarray(covered[:, :3]), depth=covered[:, 3].copy())


def _pixel_box(points: np.ndarray, K: np.ndarray, width: int, height: int) -> tuple[int, int, int, int] | None:
    """``(x0, y0, w, h)``: the image rectangle (rows from the top) that holds every pixel whose centre
    the triangles between ``points`` (camera frame, in front of it) can cover, with a pixel to spare;
    ``None`` when it misses the image."""
    uv = project(points, K)
    u, v = uv[:, 0], uv[:, 1]
    x0, x1 = max(0, int(np.floor(u.min())) - 1), min(width, int(np.ceil(u.max())) + 2)
    y0, y1 = max(0, int(np.floor(v.min())) - 1), min(height, int(np.ceil(v.max())) + 2)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1 - x0, y1 - y0
