"""Normalise 2-D keypoints and cut any-length sequences into overlapping, blended windows.

The official demo cuts a video into consecutive, non-overlapping ``clip_len`` chunks, so the
prediction jumps at every chunk border. Here windows overlap (``stride < clip_len``) and each
frame's outputs are a weighted mean over the windows that contain it, with triangular weights
that fall to near zero at a window's ends: the blend has no seams.

- :func:`plan_windows` — window starts covering ``[0, n)``; short sequences get one padded window;
- :class:`WindowBlender` — accumulates per-window outputs; rotation matrices are averaged and
  projected back onto SO(3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "Window",
    "WindowBlender",
    "plan_windows",
    "window_weights",
]


def project_to_so3(m: torch.Tensor) -> torch.Tensor:
    """Nearest rotation matrices ``[..., 3, 3]`` to (weighted sums of) rotation matrices (chordal mean)."""
    u, _, vh = torch.linalg.svd(m)
    d = torch.det(u @ vh)
    fix = torch.ones(m.shape[:-2] + (3,), dtype=m.dtype, device=m.device)
    fix[..., 2] = torch.sign(d)
    return (u * fix[..., None, :]) @ vh


@dataclass(frozen=True)
class Window:
    """Frames ``start <= i < start + length`` of a sequence, fed as one ``clip_len`` clip
    (``length < clip_len`` only for sequences shorter than a clip: padded by repeating the last frame)."""

    start: int
    length: int


def plan_windows(n: int, clip_len: int, stride: int) -> list[Window]:
    """Windows covering ``[0, n)``: starts ``0, stride, 2·stride, …`` and a last one ending at ``n``."""
    if n < 1 or clip_len < 1 or not (1 <= stride <= clip_len):
        raise ValueError(f"need n >= 1, clip_len >= 1 and 1 <= stride <= clip_len; got n={n}, clip_len={clip_len}, stride={stride}")
    if n <= clip_len:
        return [Window(0, n)]
    starts = list(range(0, n - clip_len + 1, stride))
    if starts[-1] != n - clip_len:
        starts.append(n - clip_len)
    return [Window(s, clip_len) for s in starts]


def window_weights(length: int) -> np.ndarray:
    """Triangular blending weights ``[length]``: ``min(t + 1, length − t)``, highest mid-window."""
    t = np.arange(length)
    return np.minimum(t + 1, length - t).astype(np.float32)


class WindowBlender:
    """Accumulate per-window outputs of a sequence of ``n`` frames into blended per-frame outputs.

    Holds only the per-frame parameters (a few hundred floats per frame), never images.
    ``add(window, rotmats [L, 24, 3, 3], betas [L, 10], kp_3d [L, 17, 3])`` (the window's real
    frames), then :meth:`result`.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.rot = torch.zeros(n, 24, 3, 3, dtype=torch.float64)
        self.betas = torch.zeros(n, 10, dtype=torch.float64)
        self.kp = torch.zeros(n, 17, 3, dtype=torch.float64)
        self.w = torch.zeros(n, dtype=torch.float64)

    def add(self, window: Window, rotmats: torch.Tensor, betas: torch.Tensor, kp_3d: torch.Tensor) -> None:
        sl = slice(window.start, window.start + window.length)
        w = torch.from_numpy(window_weights(window.length)).double()
        self.rot[sl] += w[:, None, None, None] * rotmats.double()
        self.betas[sl] += w[:, None] * betas.double()
        self.kp[sl] += w[:, None, None] * kp_3d.double()
        self.w[sl] += w

    def result(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(rotmats [n, 24, 3, 3], betas [n, 10], kp_3d [n, 17, 3])`` float32."""
        if (self.w <= 0).any():
            missing = int(torch.nonzero(self.w <= 0)[0])
            raise RuntimeError(f"frame {missing} is covered by no window (bug in the window plan)")
        w = self.w
        rot = project_to_so3(self.rot / w[:, None, None, None])
        return rot.float(), (self.betas / w[:, None]).float(), (self.kp / w[:, None, None]).float()
