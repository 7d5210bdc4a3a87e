"""Offscreen rendering of the held-out video benchmark: a clothed Anny body in a room (build time).

Read by ``tools/make_video_benchmark.py``. moderngl 5.13 on a standalone EGL context (Mesa
llvmpipe here). One shader: Lambert lighting from a directional light plus ambient, per-vertex
colours or a texture; the body's shadow is its mesh flattened onto the floor along the light.
Coordinates: Anny world (metres, Z up); cameras are OpenCV pinhole (x right, y down, z forward,
pixel centres at integer coordinates).
"""

from __future__ import annotations

import moderngl
import numpy as np

_VERT = """
#version 330
uniform mat4 mvp;
in vec3 in_pos; in vec3 in_normal; in vec3 in_color; in vec2 in_uv;
out vec3 v_normal; out vec3 v_color; out vec2 v_uv;
void main() { gl_Position = mvp * vec4(in_pos, 1.0); v_normal = in_normal; v_color = in_color; v_uv = in_uv; }
"""
_FRAG = """
#version 330
uniform vec3 light_dir; uniform float ambient; uniform int use_tex; uniform float alpha;
uniform sampler2D tex;
in vec3 v_normal; in vec3 v_color; in vec2 v_uv;
out vec4 f_color;
void main() {
    if (alpha < 0.99) { f_color = vec4(0.0, 0.0, 0.0, alpha); return; }  // shadow mask / darkening pass
    vec3 base = use_tex == 1 ? texture(tex, v_uv).rgb : v_color;
    float d = max(dot(normalize(v_normal), -light_dir), 0.0);
    vec3 c = base * (ambient + (1.0 - ambient) * d);
    f_color = vec4(pow(c, vec3(1.0 / 1.1)), 0.0);  // alpha 0: no shadow here yet
}
"""


def projection(K: np.ndarray, width: int, height: int, near: float = 0.05, far: float = 60.0) -> np.ndarray:
    """OpenCV intrinsics → OpenGL clip matrix acting on camera-frame points (pixel centres at +0.5)."""
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2] + 0.5, K[1, 2] + 0.5
    return np.array([
        [2 * fx / width, 0.0, 2 * cx / width - 1.0, 0.0],
        [0.0, -2 * fy / height, 1.0 - 2 * cy / height, 0.0],
        [0.0, 0.0, (far + near) / (far - near), -2 * far * near / (far - near)],
        [0.0, 0.0, 1.0, 0.0],
    ])  # fmt: skip


def vertex_normals(v: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals ``[V, 3]``."""
    fn = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, faces[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Low-frequency value noise in [0, 1], ``[size, size]`` (keeps the video small)."""
    g = rng.random((cells + 1, cells + 1))
    x = np.linspace(0, cells, size, endpoint=False)
    i, f = x.astype(int), x - x.astype(int)
    f = f * f * (3 - 2 * f)
    a = g[i][:, i] * (1 - f)[None, :] + g[i][:, i + 1] * f[None, :]
    b = g[i + 1][:, i] * (1 - f)[None, :] + g[i + 1][:, i + 1] * f[None, :]
    return a * (1 - f)[:, None] + b * f[:, None]


def make_texture(rng: np.random.Generator, kind: str, size: int = 256) -> np.ndarray:
    """A procedural texture ``uint8 [size, size, 3]``: tiles, planks, stripes or plain."""
    c1 = rng.uniform(0.15, 0.9, 3)
    c2 = np.clip(c1 * rng.uniform(0.55, 0.9) + rng.uniform(-0.1, 0.1, 3), 0, 1)
    u = np.arange(size) / size
    if kind == "tiles":
        n = int(rng.integers(2, 6))
        m = ((np.floor(u * n)[:, None] + np.floor(u * n)[None, :]) % 2)[..., None]
        img = c1 * (1 - m) + c2 * m
        grout = (np.minimum((u * n) % 1, 1 - (u * n) % 1) < 0.02)
        img[grout] = img[grout] * 0.6
        img[:, grout] = img[:, grout] * 0.6
    elif kind == "planks":
        n = int(rng.integers(3, 7))
        row = np.floor(u * n)
        shade = (0.85 + 0.15 * np.sin(row * 2.3))[:, None, None]
        grain = 0.9 + 0.1 * _smooth_noise(rng, size, 6)[..., None]
        img = np.broadcast_to(c1, (size, size, 3)) * shade * grain
        img[(u * n) % 1 < 0.03] *= 0.55
    elif kind == "stripes":
        n = int(rng.integers(3, 10))
        m = (np.sin(u * n * 2 * np.pi) > 0)[None, :, None]
        img = np.broadcast_to(np.where(m, c1, c2), (size, size, 3))
    else:  # plain with soft blotches
        img = c1 * (0.85 + 0.15 * _smooth_noise(rng, size, 4)[..., None])
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def _quad(corners: np.ndarray, normal: np.ndarray, uv_scale: tuple[float, float]) -> np.ndarray:
    """Two triangles ``[6, 11]`` (pos, normal, colour, uv) from four corners in order."""
    uv = np.array([[0, 0], [uv_scale[0], 0], [uv_scale[0], uv_scale[1]], [0, uv_scale[1]]], float)
    idx = [0, 1, 2, 0, 2, 3]
    rows = [np.concatenate([corners[i], normal, [1, 1, 1], uv[i]]) for i in idx]
    return np.array(rows, dtype="f4")


class SceneRenderer:
    """Renders one clip: a room (floor + three walls, textured) and a per-frame body mesh.

    Args:
        width, height: image size (even, for H.264).
        faces: ``[F, 3]`` body triangles; colors: ``[V, 3]`` body vertex colours in [0, 1].
        room_center: ``[2]`` horizontal centre of the room; half_size: half its width (m).
        rng: textures, colours and light are drawn from it.
    """

    def __init__(self, width: int, height: int, faces: np.ndarray, colors: np.ndarray,
                 room_center: np.ndarray, half_size: float, rng: np.random.Generator) -> None:  # fmt: skip
        self.width, self.height = width, height
        self.ctx = moderngl.create_standalone_context(backend="egl")
        self.prog = self.ctx.program(vertex_shader=_VERT, fragment_shader=_FRAG)
        self.fbo = self.ctx.simple_framebuffer((width, height), components=4)
        self.faces = np.ascontiguousarray(faces, dtype=np.int64)
        self.colors = np.asarray(colors, dtype="f4")
        az, el = rng.uniform(0, 2 * np.pi), rng.uniform(np.radians(35), np.radians(70))
        self.light = -np.array([np.cos(az) * np.cos(el), np.sin(az) * np.cos(el), np.sin(el)])
        self.ambient = float(rng.uniform(0.35, 0.55))
        self.sky = tuple(float(c) for c in rng.uniform(0.6, 0.95, 3))
        self.room = self._build_room(np.asarray(room_center, float), half_size, rng)
        self.body_vbo = self.ctx.buffer(reserve=len(self.faces) * 3 * 11 * 4)
        screen = _quad(np.array([[-1, -1, 0.0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]]), np.zeros(3), (1, 1))
        self.screen_vao = self.ctx.vertex_array(self.prog, [(self.ctx.buffer(screen.tobytes()), "3f 3f 3f 2f", "in_pos", "in_normal", "in_color", "in_uv")])  # fmt: skip
        self.body_vao = self.ctx.vertex_array(self.prog, [(self.body_vbo, "3f 3f 3f 2f", "in_pos", "in_normal", "in_color", "in_uv")])  # fmt: skip

    def _build_room(self, c: np.ndarray, h: float, rng: np.random.Generator) -> list:
        wall_h = float(rng.uniform(6.0, 9.0))
        floor_kind = rng.choice(["tiles", "planks", "plain"])
        x0, x1, y0, y1 = c[0] - h, c[0] + h, c[1] - h, c[1] + h
        parts = [(np.array([[x0, y0, 0], [x1, y0, 0], [x1, y1, 0], [x0, y1, 0]]), np.array([0, 0, 1.0]), floor_kind, (h / 1.5, h / 1.5))]
        walls = [  # inward normals
            (np.array([[x0, y1, 0], [x1, y1, 0], [x1, y1, wall_h], [x0, y1, wall_h]]), np.array([0, -1.0, 0])),
            (np.array([[x1, y0, 0], [x0, y0, 0], [x0, y0, wall_h], [x1, y0, wall_h]]), np.array([0, 1.0, 0])),
            (np.array([[x0, y0, 0], [x0, y1, 0], [x0, y1, wall_h], [x0, y0, wall_h]]), np.array([1.0, 0, 0])),
            (np.array([[x1, y1, 0], [x1, y0, 0], [x1, y0, wall_h], [x1, y1, wall_h]]), np.array([-1.0, 0, 0])),
        ]  # fmt: skip
        wall_kind = rng.choice(["stripes", "plain", "tiles"])
        for corners, normal in walls:
            parts.append((corners, normal, wall_kind, (h / 2.0, wall_h / 2.0)))
        room = []
        textures: dict[str, moderngl.Texture] = {}
        for corners, normal, kind, uv_scale in parts:
            if kind not in textures:
                tex = self.ctx.texture((256, 256), 3, make_texture(rng, kind).tobytes())
                tex.build_mipmaps()
                tex.repeat_x = tex.repeat_y = True
                textures[kind] = tex
            vbo = self.ctx.buffer(_quad(corners, normal, uv_scale).tobytes())
            vao = self.ctx.vertex_array(self.prog, [(vbo, "3f 3f 3f 2f", "in_pos", "in_normal", "in_color", "in_uv")])
            room.append((vao, textures[kind]))
        return room

    def _body_rows(self, v: np.ndarray, normals: np.ndarray) -> np.ndarray:
        f = self.faces.reshape(-1)
        rows = np.concatenate([v[f], normals[f], self.colors[f], np.zeros((len(f), 2))], axis=1)
        return rows.astype("f4")

    def render(self, verts_world: np.ndarray, K: np.ndarray, R_w2c: np.ndarray, t_w2c: np.ndarray) -> np.ndarray:
        """One frame ``uint8 [H, W, 3]`` (RGB, top row first)."""
        view = np.eye(4)
        view[:3, :3], view[:3, 3] = R_w2c, t_w2c
        mvp = (projection(K, self.width, self.height) @ view).astype("f4")
        self.fbo.color_mask = (True, True, True, True)  # clear() obeys the mask
        self.fbo.use()
        self.ctx.enable(moderngl.DEPTH_TEST)
        self.ctx.disable(moderngl.CULL_FACE)
        self.fbo.clear(*self.sky, 0.0, depth=1.0)
        self.prog["mvp"].write(mvp.T.tobytes())  # column-major
        self.prog["light_dir"].value = tuple(self.light)
        self.prog["ambient"].value = self.ambient
        self.prog["alpha"].value = 1.0
        self.prog["use_tex"].value = 1
        for vao, tex in self.room:
            tex.use(0)
            vao.render()
        # shadow: the body flattened onto the floor along the light. Its pixels get alpha = 0.45
        # (written, not blended: overlapping triangles darken once), then a full-screen pass
        # multiplies the colour by 1 - alpha.
        v = np.asarray(verts_world, dtype=np.float64)
        shadow = v - (v[:, 2:3] / self.light[2]) * self.light
        shadow[:, 2] = 0.004
        self.fbo.color_mask = (False, False, False, True)
        self.fbo.depth_mask = False
        self.fbo.use()  # moderngl applies the masks when the framebuffer is bound
        self.prog["alpha"].value = 0.45
        self.body_vbo.write(self._body_rows(shadow, np.zeros_like(shadow)).tobytes())
        self.body_vao.render()
        self.fbo.color_mask = (True, True, True, False)
        self.fbo.use()
        self.ctx.disable(moderngl.DEPTH_TEST)
        self.ctx.enable(moderngl.BLEND)
        self.ctx.blend_func = moderngl.ZERO, moderngl.ONE_MINUS_DST_ALPHA
        self.prog["mvp"].write(np.eye(4, dtype="f4").tobytes())
        self.screen_vao.render()
        self.ctx.disable(moderngl.BLEND)
        self.ctx.enable(moderngl.DEPTH_TEST)
        self.fbo.depth_mask = True
        self.fbo.use()
        self.prog["mvp"].write(mvp.T.tobytes())
        self.prog["alpha"].value = 1.0
        self.prog["use_tex"].value = 0
        self.body_vbo.write(self._body_rows(v, vertex_normals(v, self.faces)).tobytes())
        self.body_vao.render()
        img = np.frombuffer(self.fbo.read(components=3), dtype=np.uint8).reshape(self.height, self.width, 3)
        return img[::-1].copy()

    def release(self) -> None:
        self.ctx.release()
