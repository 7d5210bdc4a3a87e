"""Pure PyTorch triangle rasteriser: the always-available backend (no system libraries, no GPU).

Algorithm (vectorised over faces, no Python loop over triangles):

1. Project the vertices with ``K`` and compute, per face, the integer pixel bounding box of the pixel
   centres it may cover and the three barycentric edge functions written relative to the box corner
   (``b_i(dx, dy) = base_i + A_i*dx + B_i*dy``), in float64 for precision.
2. Enumerate exactly the ``w*h`` candidate pixels of every box with one ``repeat_interleave`` (no
   padding to a common tile size), in chunks of at most ``chunk_pixels`` candidates to bound memory.
3. Keep candidates with all three barycentrics >= 0, and resolve visibility with one
   ``scatter_reduce('amax')`` on an int64 key that packs the float bits of 1/z (positive floats
   order like their bit patterns) above the face index: the nearest face wins, ties go to the larger index.
4. For the covered pixels only, recompute perspective-correct barycentrics, interpolate vertex normals,
   and shade (Lambertian, two-sided).
"""

from __future__ import annotations

import numpy as np
import torch

from diffmesh.render.core import AMBIENT, DIFFUSE, LIGHT_DIR_CAM, Fragments, face_normals, vertex_normals

_LOW32 = 0xFFFFFFFF


class TorchRasterizer:
    """Rasterise and shade one triangle mesh into an ``height x width`` image on the CPU with torch.

    Args:
        width, height: image size in pixels.
        chunk_pixels: most candidate pixels processed at once (memory bound: ~60 bytes each).
    """

    name = "torch"

    def __init__(self, width: int, height: int, chunk_pixels: int = 2_000_000) -> None:
        self.width = width
        self.height = height
        self.chunk_pixels = chunk_pixels

    def close(self) -> None:
        """Nothing to release; present for symmetry with the OpenGL backend."""

    def describe(self) -> str:
        return f"pure PyTorch rasteriser (torch {torch.__version__}, {torch.get_num_threads()} threads)"

    @torch.no_grad()  # rendering is an output stage; nothing here is meant to be differentiated
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
        """Rasterise checked inputs (see ``diffmesh.render.core``) into sparse shaded fragments."""
        W, H = self.width, self.height
        v = torch.from_numpy(verts)  # [V, 3] float32
        f = torch.from_numpy(faces)  # [F, 3] int64
        empty = Fragments(
            pix=np.zeros(0, np.int64), rgb=np.zeros((0, 3), np.float32), depth=np.zeros(0, np.float32)
        )
        if f.shape[0] == 0:
            return empty

        # --- 1. per-face setup (float64: F is small, and it keeps large images exact) -----------------
        vd = v.double()
        z = vd[:, 2]
        safe_z = torch.where(z > znear, z, torch.ones_like(z))  # vertices behind the plane are dropped below
        u = (K[0, 0] * vd[:, 0] + K[0, 1] * vd[:, 1]) / safe_z + K[0, 2]
        w = K[1, 1] * vd[:, 1] / safe_z + K[1, 2]
        fu, fw, fz = u[f], w[f], z[f]  # [F, 3] each
        in_front = (fz > znear).all(dim=1)

        x0 = torch.ceil(fu.amin(dim=1)).clamp(min=0)
        x1 = torch.floor(fu.amax(dim=1)).clamp(max=W - 1)
        y0 = torch.ceil(fw.amin(dim=1)).clamp(min=0)
        y1 = torch.floor(fw.amax(dim=1)).clamp(max=H - 1)
        bw, bh = x1 - x0 + 1, y1 - y0 + 1
        # Twice the signed screen area; < 0 means the face turns its winding-front to the camera.
        area2 = (fu[:, 1] - fu[:, 0]) * (fw[:, 2] - fw[:, 0]) - (fu[:, 2] - fu[:, 0]) * (fw[:, 1] - fw[:, 0])
        keep = in_front & (bw > 0) & (bh > 0) & (area2.abs() > 1e-12)
        if cull_back_faces:
            keep &= area2 < 0
        kept = keep.nonzero().squeeze(1)  # [Fk] original face ids
        if kept.numel() == 0:
            return empty
        fu, fw, fz, area2 = fu[kept], fw[kept], fz[kept], area2[kept]
        x0, y0 = x0[kept], y0[kept]
        bw, bh = bw[kept].long(), bh[kept].long()

        # Barycentric b_i(x, y) = A_i x + B_i y + C_i, from the edge opposite corner i, divided by area2;
        # rewritten around the box corner (x0, y0) so per-pixel float32 arithmetic stays small.
        j, k = [1, 2, 0], [2, 0, 1]
        A = (fw[:, j] - fw[:, k]) / area2[:, None]  # [Fk, 3]
        B = (fu[:, k] - fu[:, j]) / area2[:, None]
        C = (fu[:, j] * fw[:, k] - fu[:, k] * fw[:, j]) / area2[:, None]
        base = A * x0[:, None] + B * y0[:, None] + C
        inv_z = 1.0 / fz  # [Fk, 3]; 1/z is affine in screen space
        # Per-face table gathered by every candidate: base(3) A(3) B(3) 1/z(3) -> [Fk, 12] float32.
        table = torch.cat([base, A, B, inv_z], dim=1).float()
        corner = (y0.long() * W + x0.long())  # [Fk] flat index of the box corner

        # --- 2-3. candidates in chunks, z-buffer by packed-key scatter ---------------------------------
        key_buf = torch.full((H * W,), -1, dtype=torch.int64)
        counts = bw * bh
        ends = torch.cumsum(counts, 0)
        start_face = 0
        n_faces = int(kept.numel())
        while start_face < n_faces:
            # Faces [start_face, stop_face) whose candidates fit in one chunk (at least one face).
            done = int(ends[start_face - 1]) if start_face > 0 else 0
            stop_face = int(torch.searchsorted(ends, done + self.chunk_pixels, right=True))
            stop_face = max(stop_face, start_face + 1)
            self._scatter_chunk(
                key_buf, table, corner, bw, counts, start_face, stop_face, done,
                int(ends[stop_face - 1]) - done,
            )
            start_face = stop_face

        # --- 4. shade the covered pixels --------------------------------------------------------------
        pix = (key_buf >= 0).nonzero().squeeze(1)  # [N]
        if pix.numel() == 0:
            return empty
        local = (key_buf[pix] & _LOW32)  # [N] index into kept faces
        dx = (pix % W - x0.long()[local]).float()
        dy = (pix // W - y0.long()[local]).float()
        t = table[local]  # [N, 12]
        b = t[:, 0:3] + t[:, 3:6] * dx[:, None] + t[:, 6:9] * dy[:, None]  # screen-space barycentrics
        pw = b.clamp(min=0.0) * t[:, 9:12]  # perspective weights b_i / z_i
        inv_depth = pw.sum(dim=1)
        depth = 1.0 / inv_depth
        pw = pw * depth[:, None]  # perspective-correct barycentrics, sum to 1

        fid = kept[local]
        if smooth:
            vn = vertex_normals(v, f) if normals is None else torch.from_numpy(normals)
            n = (pw[:, :, None] * vn[f[fid]]).sum(dim=1)  # [N, 3]
        else:
            n = face_normals(v, f)[fid]
        front = area2[local] < 0  # [N] pixel sees the face's front (winding) side
        n = torch.where(front[:, None], n, -n)
        n = torch.nn.functional.normalize(n, dim=1, eps=1e-12)
        light = torch.tensor(LIGHT_DIR_CAM, dtype=torch.float32)
        lam = (n @ light).clamp(min=0.0)
        rgb = torch.from_numpy(color)[None, :] * (AMBIENT + DIFFUSE * lam)[:, None]
        return Fragments(pix=pix.numpy(), rgb=rgb.numpy(), depth=depth.numpy())

    def _scatter_chunk(
        self,
        key_buf: torch.Tensor,
        table: torch.Tensor,
        corner: torch.Tensor,
        bw: torch.Tensor,
        counts: torch.Tensor,
        f0: int,
        f1: int,
        offset: int,
        n: int,
    ) -> None:
        """Test the ``n`` candidate pixels of faces ``[f0, f1)`` and fold them into ``key_buf``."""
        W = self.width
        face = torch.repeat_interleave(torch.arange(f0, f1), counts[f0:f1], output_size=n)  # [n]
        starts = torch.cumsum(counts[f0:f1], 0) - counts[f0:f1]  # [f1-f0] chunk-local start of each face
        local = torch.arange(n) - starts[face - f0]  # [n] index inside the face's box
        w_face = bw[face]
        dy = torch.div(local, w_face, rounding_mode="floor")
        dx = local - dy * w_face
        t = table[face]  # [n, 12]
        dxf, dyf = dx.float()[:, None], dy.float()[:, None]
        b = t[:, 0:3] + t[:, 3:6] * dxf + t[:, 6:9] * dyf  # [n, 3]
        inside = (b >= 0).all(dim=1)
        sel = inside.nonzero().squeeze(1)
        if sel.numel() == 0:
            return
        b, t, face = b[sel], t[sel], face[sel]
        inv_z = (b * t[:, 9:12]).sum(dim=1)  # > 0
        # Positive float32 bit patterns order like the floats: larger 1/z (nearer) -> larger key.
        key = (inv_z.view(torch.int32).to(torch.int64) << 32) | face
        pix = corner[face] + dy[sel] * W + dx[sel]
        key_buf.scatter_reduce_(0, pix, key, reduce="amax", include_self=True)
