"""Frames per second of diffmesh.render at 640x480 for each available backend.

Scene: the procedural mannequin (7,062 vertices, 14,080 faces, about the size of SMPL's 6,890/13,776),
turning a little every frame (new vertices each frame, as in a video), over a noisy background.
A frame is all-in: input checks, normals, rasterisation, shading, read-back and compositing into a
fresh uint8 image. Body heights of 1/3, 2/3 and ~0.95 of the image are measured. Frame rate is
1 / median frame time; the fastest frame is printed too, since a shared machine inflates the median.

    python benchmarks/bench_render.py --threads 2 --frames 60
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from diffmesh.render import (
    Renderer,
    intrinsics_from_fov,
    mannequin,
    opengl_unavailable_reason,
    render_side_view,
    write_png,
)

BODY_HEIGHT_M = 1.75


def _yaw(verts: np.ndarray, deg: float) -> np.ndarray:
    a = math.radians(deg)
    rot = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    return verts @ rot.T


def bench(
    backend: str, fraction: float, frames: int, width: int, height: int, side: bool
) -> tuple[float, float, float]:
    """Return (fps from the median frame time, fps from the fastest frame, mean covered image fraction)."""
    verts, faces = mannequin()
    K = intrinsics_from_fov(width, height, 50.0)
    dist = K[1, 1] * BODY_HEIGHT_M / (fraction * height)
    bg = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    seq = [(_yaw(verts, 3.0 * i) + np.array([0.0, 0.0, dist])).astype(np.float32) for i in range(frames)]
    with Renderer(width, height, backend=backend) as r:
        for v in seq[:5]:  # warm-up: shader compilation, allocator
            r.render(v, faces, K, background=bg)
        cover, times = 0.0, []
        for v in seq:
            t0 = time.perf_counter()
            res = r.render(v, faces, K, background=bg)
            if side:
                render_side_view(r, v, faces, K)
            times.append(time.perf_counter() - t0)
            cover += float(res.mask.mean())
    # The median frame time is robust to other processes briefly taking the cores.
    return 1.0 / float(np.median(times)), 1.0 / float(np.min(times)), cover / frames


def checkerboard(width: int, height: int, square: int = 40) -> np.ndarray:
    """A tinted checkerboard with a vertical gradient: orientation and y-down are easy to see on it."""
    yy, xx = np.mgrid[0:height, 0:width]
    check = ((yy // square + xx // square) % 2).astype(np.float32)
    ramp = yy / max(height - 1, 1)
    img = np.stack([150 + 60 * check, 120 + 50 * check + 60 * ramp, 90 + 40 * check + 100 * (1 - ramp)], axis=-1)
    return np.clip(img, 0, 255).astype(np.uint8)


def _open_body_posed() -> tuple[np.ndarray, np.ndarray] | None:
    """The shipped open body model in a walking-like pose, 3.2 m in front of the camera, or None."""
    try:
        from diffmesh.body import load

        model = load("open")
    except Exception as exc:  # optional: the asset may not be built
        print(f"# open body model image skipped: {exc}")
        return None
    pose = torch.zeros(1, 23, 3)
    pose[0, 15, 2], pose[0, 16, 2] = -1.1, 1.1  # shoulders (SMPL joints 16, 17): arms down
    pose[0, 0, 0], pose[0, 1, 0], pose[0, 3, 0] = -0.4, 0.3, 0.6  # hips and left knee: a stride
    pose[0, 17, 1] = -0.8  # right elbow
    out = model(
        betas=torch.zeros(1, 10), body_pose=pose, global_orient=torch.tensor([[math.pi, 0.35, 0.0]]),
        transl=torch.tensor([[0.0, 0.05, 3.2]]),
    )
    return out.vertices[0].detach().numpy().astype(np.float32), model.faces.numpy()


def save_images(out_dir: str, backends: list[str], width: int, height: int) -> None:
    """Write render_<backend>.png (main view | side view) and render_backend_diff.png."""
    import os

    verts, faces = mannequin()
    K = intrinsics_from_fov(width, height, 50.0)
    verts = (_yaw(verts, 20.0) + np.array([0.25, 0.1, K[1, 1] * BODY_HEIGHT_M / (0.75 * height)])).astype(np.float32)
    bg = checkerboard(width, height)
    images = {}
    for backend in backends:
        with Renderer(width, height, backend=backend) as r:
            main_view = r.render(verts, faces, K, background=bg).image
            side = render_side_view(r, verts, faces, K, background=(235, 235, 235)).image
        images[backend] = np.concatenate([main_view, side], axis=1)
        write_png(os.path.join(out_dir, f"render_{backend}.png"), images[backend])
    body = _open_body_posed()
    if body is not None:
        bverts, bfaces = body
        with Renderer(width, height, backend=backends[-1]) as r:
            main_view = r.render(bverts, bfaces, K, background=bg).image
            side = render_side_view(r, bverts, bfaces, K, background=(235, 235, 235)).image
        write_png(os.path.join(out_dir, "render_open_body.png"), np.concatenate([main_view, side], axis=1))
    if len(images) == 2:
        diff = np.abs(images["torch"].astype(np.int16) - images["opengl"].astype(np.int16)).max(axis=2)
        amplified = np.clip(diff * 50, 0, 255).astype(np.uint8)  # any difference of >= 5 levels is white
        write_png(os.path.join(out_dir, "render_backend_diff.png"), np.repeat(amplified[..., None], 3, axis=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--side-view", action="store_true", help="also render the side view every frame")
    parser.add_argument("--save-images", metavar="DIR", help="also write render_*.png example images to DIR")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    reason = opengl_unavailable_reason()
    backends = ["torch"] + (["opengl"] if reason is None else [])
    if args.save_images:
        save_images(args.save_images, backends, args.width, args.height)
    from diffmesh.accel.capability import cpu_model_name

    print(f"# {cpu_model_name()}, capability {torch.backends.cpu.get_cpu_capability()}, torch {torch.__version__}, {args.threads} threads, "
          f"{args.width}x{args.height}, {args.frames} frames, side view: {args.side_view}")
    if reason is not None:
        print(f"# opengl skipped: {reason}")
    print(f"{'backend':8s} {'body height':>11s} {'coverage':>9s} {'median ms':>9s} {'fps':>7s} {'best ms':>8s}")
    for backend in backends:
        for fraction in (1 / 3, 2 / 3, 0.95):
            fps, best, cover = bench(backend, fraction, args.frames, args.width, args.height, args.side_view)
            print(f"{backend:8s} {fraction:11.2f} {cover:9.3f} {1000 / fps:9.1f} {fps:7.1f} {1000 / best:8.1f}")


if __name__ == "__main__":
    main()
