"""Frames/s per stage and end to end of ``diffmesh infer`` at 640x480 (the default model, fast mode).

    python benchmarks/bench_pipeline.py [--frames 200] [--threads 2]

Makes a walking clip with :mod:`diffmesh.pipelines.sample`, times each stage alone (decode,
detect, model+placement, render, encode), then the whole pipeline through
:func:`diffmesh.pipelines.run` (uncached), and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")


def main() -> None:
    import numpy as np
    import torch

    from diffmesh.io.video import VideoWriter, iter_frames
    from diffmesh.pipelines import InferSettings, default_model, run
    from diffmesh.pipelines.keypoints import PoseDetector
    from diffmesh.pipelines.sample import render_motion_video, walking_motion
    from diffmesh.render import Renderer

    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    tmp = Path(tempfile.mkdtemp())
    video = tmp / "walk.mp4"
    render_motion_video(video, walking_motion(args.frames, 25.0), 640, 480)
    n = args.frames
    rows = []

    t0 = time.perf_counter()
    frames = [f.image for f in iter_frames(video)]
    rows.append(("decode (PyAV)", n / (time.perf_counter() - t0)))
    with PoseDetector() as det:
        det.detect(frames[0])  # warm-up
        t0 = time.perf_counter()
        for f in frames:
            det.detect(f)
        rows.append(("detect (BlazePose, tracking mode)", n / (time.perf_counter() - t0)))
    bundle = default_model()
    from diffmesh.models.fast import to_fast_inference

    model = to_fast_inference(bundle.model)
    x = torch.randn(8, 16, 17, 3)
    with torch.inference_mode():
        model(x)
        t0 = time.perf_counter()
        for _ in range(3):
            model(x)
    rows.append(("model (diffmesh bf16, 16-frame windows, stride 8 ⇒ 2 windows/frame)", 3 * 8 * 16 / (time.perf_counter() - t0) / 2))
    body = bundle.model.body_model
    faces = body.faces.numpy()
    with torch.inference_mode():
        verts = body(betas=torch.zeros(16, 10), body_pose=torch.zeros(16, 23, 3), global_orient=torch.tensor([[np.pi, 0, 0]]).repeat(16, 1)).vertices.numpy()
    verts[..., 2] += 3.0
    K = np.array([[515.0, 0, 319.5], [0, 515.0, 239.5], [0, 0, 1]])
    with Renderer(640, 480) as r:
        r.render(verts[0], faces, K, background=frames[0])
        t0 = time.perf_counter()
        for i, f in enumerate(frames):
            r.render(verts[i % 16], faces, K, background=f, alpha=0.8)
        rows.append((f"render ({r.backend})", n / (time.perf_counter() - t0)))
    t0 = time.perf_counter()
    with VideoWriter(tmp / "enc.mp4", 25, 640, 480) as w:
        for f in frames:
            w.write(f)
    rows.append(("encode (libx264 veryfast)", n / (time.perf_counter() - t0)))
    del frames
    t0 = time.perf_counter()
    s = run(video, tmp / "out", InferSettings(), default_model(), use_cache=False)
    total = time.perf_counter() - t0
    rows.append(("**end to end** (`run`, uncached, incl. model build and exports)", n / total))
    print(f"| stage ({n} frames, 640x480, {args.threads} threads) | frames/s | ms/frame |\n|---|---|---|")
    for name, fps in rows:
        print(f"| {name} | {fps:.1f} | {1000 / fps:.1f} |")
    print("\nrun() stage seconds:", s.stage_seconds)


if __name__ == "__main__":
    main()
