"""Direct image alignment of a pure camera rotation: the measuring instrument of
:mod:`diffmesh.geometry.camera_motion` (its docstring explains the method and why).

A pure rotation ``Q`` maps one frame's pixels onto another's through the homography ``K Q K^-1``
whatever the depth. On a grey copy of a frame downscaled and built into a pyramid
(:class:`Pyramid`, people's boxes NaN), a keyframe gives sample pixels (:func:`select_samples`: the
strongest brightness gradients of each grid cell, with their Gauss-Newton terms) and
:class:`Aligner` finds the ``Q`` that lines another frame up with them: inverse-compositional
Gauss-Newton over three rotation parameters and a brightness offset, coarse to fine, residuals in
about pixels of misalignment and Huber-weighted.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

__all__ = ["AGREE_GREY", "Aligner", "Pyramid", "Samples", "median", "select_samples"]

#: A sample agrees with the alignment when its brightness differs by less than this (0-255 grey levels).
AGREE_GREY = 10.0
#: Gauss-Newton iterations per pyramid level (each level half the size of the one before), finest first;
#: four levels follow steps of about 3 degrees per frame at a 65-degree field of view.
ITERATIONS = (8, 8, 5, 3)
#: Sample grid: cells of this many pixels at the finest level (half at each coarser level) and the
#: strongest-gradient samples kept per cell, finest level first.
CELL_PX = 16
SAMPLES_PER_CELL = (6, 3, 2, 2)
#: Samples need a brightness gradient of at least this many grey levels per pixel (flat areas say nothing).
MIN_GRADIENT = 1.0
#: Residuals are divided by ``sqrt(|gradient|^2 + GRADIENT_FLOOR^2)`` (grey levels per pixel), which turns
#: them into about pixels of misalignment: every sample then counts alike, so that the few strong edges of
#: a moving shadow cannot outvote a faint but wide background texture.
GRADIENT_FLOOR = 2.0
#: Huber threshold in robust standard deviations (of those pixel residuals), and the deviation's floor (pixels).
HUBER_K = 0.7
MIN_SIGMA_PX = 0.05
#: Strength of the coarse levels' prior towards the starting rotation, in samples' worth of evidence.
PRIOR_SAMPLES = 0.3
#: An iteration moving the image by less than this (pixels of its level) ends the level.
CONVERGED_PX = 0.01
#: Person boxes are enlarged by this fraction of their width/height on each side, plus a few pixels.
BOX_MARGIN = 0.15
BOX_MARGIN_PX = 4.0


class Pyramid:
    """Frame size → the downscaled pyramid's sizes and per-level intrinsics; frames → NaN-masked pyramids."""

    def __init__(self, cv2: ModuleType, width: int, height: int, max_side: int, K: np.ndarray) -> None:
        self.cv2 = cv2
        self.size = (width, height)
        s = min(1.0, max_side / max(width, height))
        self.small = (max(16, round(width * s)), max(16, round(height * s)))
        scale = np.array([self.small[0] / width, self.small[1] / height])
        # Full-size pixel p → level-0 pixel scale * (p + 0.5) - 0.5 (cv2.resize); level l + 1 = level l / 2 (pyrDown).
        self.K: list[np.ndarray] = []
        a, c = scale, 0.5 * scale - 0.5
        for _ in ITERATIONS:
            A = np.array([[a[0], 0.0, c[0]], [0.0, a[1], c[1]], [0.0, 0.0, 1.0]])
            self.K.append(A @ K)
            a, c = a / 2, c / 2
        self.K_inv = [np.linalg.inv(k) for k in self.K]
        self.box_scale = scale

    def build(self, frame: np.ndarray, boxes_px: np.ndarray | None) -> list[np.ndarray]:
        """RGB frame → float32 grey images, finest first, NaN inside the enlarged person boxes (``[B, 4]``)."""
        cv2 = self.cv2
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if self.small != self.size:
            grey = cv2.resize(grey, self.small, interpolation=cv2.INTER_AREA)
        grey = grey.astype(np.float32)
        for box_px in boxes_px if boxes_px is not None else ():
            if not np.all(np.isfinite(box_px)):
                continue
            x0, y0, x1, y1 = box_px
            mx, my = BOX_MARGIN * abs(x1 - x0) + BOX_MARGIN_PX, BOX_MARGIN * abs(y1 - y0) + BOX_MARGIN_PX
            lo = np.floor(np.array([min(x0, x1) - mx, min(y0, y1) - my]) * self.box_scale).astype(int)
            hi = np.ceil(np.array([max(x0, x1) + mx, max(y0, y1) + my]) * self.box_scale).astype(int) + 1
            grey[max(lo[1], 0) : max(hi[1], 0), max(lo[0], 0) : max(hi[0], 0)] = np.nan
        levels = [grey]
        for _ in ITERATIONS[1:]:
            levels.append(cv2.pyrDown(levels[-1]))
        return levels


@dataclass
class Samples:
    """One pyramid level of a keyframe: sample pixels, their brightness and Gauss-Newton terms.

    Attributes:
        xy: ``[n, 2]`` level pixels.
        grey: ``[n]`` brightness (0-255).
        to_px: ``[n]`` ``1 / sqrt(|gradient|^2 + GRADIENT_FLOOR^2)``: brightness residual → about
            pixels of misalignment along the gradient.
        J: ``[n, 4]`` the change of ``grey * to_px`` per unit rotation (3, radians; rays rotated by
            ``exp([w]x)``) and per unit brightness offset (1).
    """

    xy: np.ndarray
    grey: np.ndarray
    to_px: np.ndarray
    J: np.ndarray


def select_samples(cv2: ModuleType, image: np.ndarray, K: np.ndarray, cell: int, per_cell: int) -> Samples:
    """The ``per_cell`` strongest-gradient pixels of each ``cell x cell`` block of ``image``."""
    gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3, scale=1 / 8)  # grey levels per pixel
    gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3, scale=1 / 8)
    mag2 = np.nan_to_num(gx * gx + gy * gy, nan=0.0)  # NaN: next to the person or the border
    mag2[:2], mag2[-2:], mag2[:, :2], mag2[:, -2:] = 0.0, 0.0, 0.0, 0.0
    rows, cols = image.shape[0] // cell, image.shape[1] // cell
    blocks = mag2[: rows * cell, : cols * cell].reshape(rows, cell, cols, cell).transpose(0, 2, 1, 3)
    blocks = blocks.reshape(rows * cols, cell * cell)  # [cells, pixels of a cell]
    k = min(per_cell, cell * cell)
    best = np.argpartition(-blocks, k - 1, axis=1)[:, :k]  # [cells, k]
    cells = np.arange(rows * cols)[:, None]
    strong = blocks[cells, best] >= MIN_GRADIENT**2
    y = ((cells // cols) * cell + best // cell)[strong]
    x = ((cells % cols) * cell + best % cell)[strong]
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    X, Y = (x - cx) / fx, (y - cy) / fy  # the ray (X, Y, 1)
    to_px = 1.0 / np.sqrt(mag2[y, x].astype(np.float64) + GRADIENT_FLOOR**2)
    gxs, gys = gx[y, x] * fx * to_px, gy[y, x] * fy * to_px
    # The ray rotated by exp([w]x) ~ (X, Y, 1) + w x (X, Y, 1) projects to (X', Y') with
    # dX'/dw = (-XY, 1 + X^2, -Y) and dY'/dw = (-1 - Y^2, XY, X); chain rule through the gradient.
    J = np.stack([-gxs * X * Y - gys * (1 + Y * Y), gxs * (1 + X * X) + gys * X * Y, gys * X - gxs * Y, to_px], axis=1)
    return Samples(np.stack([x, y], axis=1).astype(np.float64), image[y, x].astype(np.float64), to_px, J)


def median(values: np.ndarray) -> float:
    return float(np.partition(values, len(values) // 2)[len(values) // 2])


class Aligner:
    """Aligns frames to a keyframe: ``align`` returns ``Q`` (keyframe rays → frame rays) and the agreeing samples."""

    def __init__(self, cv2: ModuleType, pyramid: Pyramid) -> None:
        self.cv2, self.pyramid = cv2, pyramid
        self.levels: list[Samples] = []

    def set_keyframe(self, images: list[np.ndarray]) -> None:
        self.levels = [
            select_samples(self.cv2, image, K, max(4, CELL_PX >> lvl), n)
            for lvl, (image, K, n) in enumerate(zip(images, self.pyramid.K, SAMPLES_PER_CELL))
        ]

    @property
    def num_samples(self) -> int:
        return len(self.levels[0].xy)

    def _residual(self, image: np.ndarray, lvl: int, Q: np.ndarray) -> np.ndarray:
        """Frame brightness at the keyframe samples moved by ``K Q K^-1``, minus theirs (NaN: not seen)."""
        s, K = self.levels[lvl], self.pyramid.K[lvl]
        H = K @ Q @ self.pyramid.K_inv[lvl]
        p = s.xy @ H[:, :2].T + H[:, 2]  # [n, 3]
        uv = (p[:, :2] / p[:, 2:3]).astype(np.float32)
        cv2 = self.cv2
        seen = cv2.remap(image, uv[None, :, 0], uv[None, :, 1], cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=float("nan"))[0]
        return seen.astype(np.float64) - s.grey

    def align(self, images: list[np.ndarray], Q: np.ndarray) -> tuple[np.ndarray, int, int]:
        """Refine ``Q`` (the starting guess) coarse to fine.

        Returns ``(Q, agree, seen)``: the finest level's samples that agree with ``Q`` and that are
        in view (not outside the frame, not in the person's box).

        Inverse compositional Gauss-Newton: the keyframe's terms ``J`` are fixed, each step ``w`` is
        undone on the frame's side (``Q <- Q exp(-[w]x)``).
        """
        rodrigues = self.cv2.Rodrigues
        Q_start, agree, seen = Q, 0, 0
        for lvl in reversed(range(len(self.levels))):
            s, f = self.levels[lvl], self.pyramid.K[lvl][0, 0]
            if len(s.xy) < 8:
                continue
            # Coarse levels only: a prior worth PRIOR_SAMPLES samples holds Q where a level sees nothing
            # (blur erases the faint texture that pins a pan over a background of horizontal lines).
            lam = PRIOR_SAMPLES * f * f if lvl > 0 else 0.0
            bias = None
            for _ in range(ITERATIONS[lvl]):
                r = self._residual(images[lvl], lvl, Q)
                ok = np.isfinite(r)
                if ok.sum() < 8:
                    break
                r = r[ok]
                bias = median(r) if bias is None else bias
                if lvl == 0:  # measured before the step: the finest level's last step is tiny
                    agree, seen = int(np.count_nonzero(np.abs(r - bias) < AGREE_GREY)), len(r)
                J, rn = s.J[ok], r * s.to_px[ok]  # rn: about pixels
                dev = np.abs(r - bias) * s.to_px[ok]
                sigma = max(MIN_SIGMA_PX, 1.4826 * median(dev))
                Jw = J * np.minimum(1.0, HUBER_K * sigma / np.maximum(dev, 1e-12))[:, None]  # Huber weights
                A, b = Jw.T @ J, Jw.T @ rn
                A[np.diag_indices(3)] += lam + 1e-9 * np.trace(A[:3, :3]) + 1e-12
                if lam:
                    b[:3] += lam * rodrigues(Q_start.T @ Q)[0][:, 0]  # (A + lam) w = b + lam log(Q_start^T Q)
                step = np.linalg.solve(A, b)
                Q, bias = Q @ rodrigues(-step[:3])[0], step[3]
                if np.linalg.norm(step[:3]) * f < CONVERGED_PX:
                    break
        return Q, agree, seen
