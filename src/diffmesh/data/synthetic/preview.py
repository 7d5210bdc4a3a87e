"""Contact sheets of synthetic clips: mesh overlays with the floor grid, and 2-D skeletons.

Used to make ``docs/images/synthetic_*.png`` and to eyeball the engine after a change::

    python -m diffmesh.data.synthetic.preview docs/images --clip-len 48

Each sheet shows, for one clip, a few frames of the mesh drawn by :mod:`diffmesh.render`
from the clip's own camera over a grey background with the floor grid (``y = 0`` of the
world, 0.5 m spacing), then the 2-D panel: noise-free projected joints (thin, grey) and the
noisy detections fed to the network (coloured by side, dropped joints omitted).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from diffmesh.conventions import H36M_BONES, H36M_JOINTS
from diffmesh.data.synthetic.engine import SyntheticClip, SyntheticMotionEngine
from diffmesh.data.synthetic.motions import FAMILIES
from diffmesh.geometry.camera import project

logger = logging.getLogger(__name__)

__all__ = ["draw_line", "render_clip_sheet", "main"]

_COLORS = {"left": (40, 110, 230), "right": (230, 60, 40), "mid": (30, 30, 30)}


def draw_line(img: np.ndarray, p0: np.ndarray, p1: np.ndarray, color: Sequence[int], width: int = 1) -> None:
    """Draw a segment (pixels, float) into ``img [H, W, 3]`` in place, by dense stamping."""
    n = int(np.ceil(np.abs(p1 - p0).max())) + 1
    pts = p0[None] + (p1 - p0)[None] * np.linspace(0, 1, n)[:, None]  # [n, 2]
    h, w = img.shape[:2]
    r = width // 2
    for dx in range(-r, width - r):
        for dy in range(-r, width - r):
            x = np.round(pts[:, 0]).astype(int) + dx
            y = np.round(pts[:, 1]).astype(int) + dy
            ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
            img[y[ok], x[ok]] = color


def _floor_grid(img: np.ndarray, clip: SyntheticClip, K: np.ndarray, extent: float = 4.0, step: float = 0.5) -> None:
    centre = clip.transl_world.mean(0)
    c = np.round(centre[[0, 2]] / step) * step
    ticks = np.arange(-extent, extent + 1e-9, step)
    samples = np.linspace(-extent, extent, 200)
    for axis in (0, 1):
        for tick in ticks:
            pts = np.zeros((len(samples), 3))
            pts[:, 0 if axis == 0 else 2] = c[0 if axis == 0 else 1] + tick
            pts[:, 2 if axis == 0 else 0] = c[1 if axis == 0 else 0] + samples
            cam = pts @ clip.R_w2c.T.astype(np.float64) + clip.t_w2c
            cam = cam[cam[:, 2] > 0.2]
            if len(cam) < 2:
                continue
            uv = project(cam, K)
            for a, b in zip(uv[:-1], uv[1:]):
                if np.abs(b - a).max() < 200:
                    draw_line(img, a, b, (150, 150, 150))


def _skeleton(img: np.ndarray, xy: np.ndarray, conf: np.ndarray | None, width: int, thin: bool = False) -> None:
    for a, b in H36M_BONES:
        if conf is not None and (conf[a] <= 0 or conf[b] <= 0):
            continue
        side = next((s for s in ("left", "right") if H36M_JOINTS[b].startswith(s + "_")), "mid")
        color = (170, 170, 170) if thin else _COLORS[side]
        draw_line(img, xy[a], xy[b], color, width)


def render_clip_sheet(
    clip: SyntheticClip,
    faces: np.ndarray,
    frames: Sequence[int] | None = None,
    panel_height: int = 360,
    backend: str = "auto",
    zoom: bool = True,
) -> np.ndarray:
    """One row of panels for ``clip``: mesh overlays of ``frames`` and the 2-D skeleton panel.

    Args:
        clip: a clip generated with vertices (``output="full"``/``with_verts=True``).
        faces: ``[F, 3]`` the body model's triangles.
        frames: frame indices to show (default: 4 evenly spaced).
        panel_height: height of each panel in pixels (the clip's image is scaled to it).
        backend: renderer backend.
        zoom: frame the panels on the motion (its 2-D box over all frames, with a margin)
            instead of showing the whole camera image.

    Returns:
        uint8 ``[panel_height, W, 3]``.
    """
    from diffmesh.render import Renderer

    if clip.verts is None:
        raise ValueError("render_clip_sheet needs a clip with vertices (generate with with_verts=True)")
    T = clip.theta.shape[0]
    frames = list(frames) if frames is not None else sorted({int(round(x)) for x in np.linspace(0, T - 1, 4)})
    K = clip.K.astype(np.float64).copy()
    if zoom:  # a virtual crop: shift and scale the intrinsics onto the motion's box
        lo, hi = clip.joints_2d.reshape(-1, 2).min(0), clip.joints_2d.reshape(-1, 2).max(0)
        pad = 0.2 * (hi[1] - lo[1]) + 0.05 * (hi - lo).max()
        lo, hi = lo - pad, hi + pad
        K[0, 2] -= lo[0]
        K[1, 2] -= lo[1]
        w0, h0 = hi - lo
    else:
        w0, h0 = clip.image_size
    scale = panel_height / h0
    width, height = max(16, int(round(w0 * scale))), panel_height
    K[:2] *= scale
    offset = K[:2, 2] - clip.K[:2, 2].astype(np.float64) * scale  # pixel shift of the crop
    verts_cam = clip.verts.astype(np.float64) / 1000.0 + clip.joints_cam[:, :1].astype(np.float64)  # pelvis-rel mm -> m
    panels = []
    background = np.full((height, width, 3), 215, np.uint8)
    _floor_grid(background, clip, K)
    with Renderer(width, height, backend=backend) as renderer:  # type: ignore[arg-type]
        for t in frames:
            img = renderer.render(verts_cam[t], faces, K, background=background).image.copy()
            draw_line(img, np.array([4.0, 4.0]), np.array([4.0 + 40 * (t + 1) / T, 4.0]), (0, 0, 0), 3)  # time bar
            panels.append(img)
    sk = np.full((height, width, 3), 255, np.uint8)
    # The 2-D panel shows the last frame with detections (whole frames can be dropped).
    detected = [f for f in range(T) if (clip.keypoints_2d[f, :, 2] > 0).any()]
    t = detected[-1] if detected else frames[-1]
    _skeleton(sk, clip.joints_2d[t] * scale + offset, None, 1, thin=True)
    kp = clip.keypoints_2d[t]
    _skeleton(sk, kp[:, :2] * scale + offset, kp[:, 2], 2)  # dropped joints have confidence 0
    panels.append(sk)
    gap = np.full((height, 4, 3), 255, np.uint8)
    row = [p for panel in panels for p in (panel, gap)][:-1]
    return np.concatenate(row, axis=1)


def main(argv: Sequence[str] | None = None) -> None:
    """Write ``synthetic_<family>.png`` sheets (and an overview) into a folder."""
    from diffmesh.render import write_png

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--clip-len", type=int, default=48)
    p.add_argument("--families", nargs="*", default=list(FAMILIES))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--height", type=int, default=300)
    p.add_argument("--backend", default="auto")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    engine = SyntheticMotionEngine(clip_len=args.clip_len, seed=args.seed)
    faces = engine.body.faces.numpy()
    args.out.mkdir(parents=True, exist_ok=True)
    for family in args.families:
        fam_engine = SyntheticMotionEngine(
            engine.body, clip_len=args.clip_len, seed=args.seed, families=[family], image_size=(640, 480)
        )
        clip = fam_engine.generate("val", [0])[0]
        sheet = render_clip_sheet(clip, faces, panel_height=args.height, backend=args.backend)
        path = args.out / f"synthetic_{family}.png"
        write_png(path, sheet)
        logger.info("wrote %s (%s, %d frames)", path, family, args.clip_len)


if __name__ == "__main__":
    main()
