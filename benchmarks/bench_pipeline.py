"""Frames/s per stage and end to end of ``diffmesh infer`` at 640x480 (the default model, fast mode).

    python benchmarks/bench_pipeline.py [--frames 200] [--threads 2]
    python benchmarks/bench_pipeline.py --video walk3000.mp4 --threads 1   # end to end + peak RSS only
    python benchmarks/bench_pipeline.py --frames 600 --ahead-ab 3           # end to end with / without running windows ahead
    python benchmarks/bench_pipeline.py --frames 150 --detectors 3           # BlazePose lite / full / heavy alone
    python benchmarks/bench_pipeline.py --frames 600 --people-ab 3 [--video V]   # one person: the several-people path's cost
    python benchmarks/bench_pipeline.py --overlay OUT --video V --repeats 3       # the overlay pass alone, on a run's result

Makes a walking clip with :mod:`diffmesh.pipelines.sample`, times each stage alone (decode,
detect, model, render, encode, and the render pass as ``run`` does it), then the whole pipeline
through :func:`diffmesh.pipelines.run` (uncached), and prints a Markdown table. With ``--video``
only the end-to-end run is timed (in a fresh process, so the peak RSS printed is the pipeline's).
With ``--ahead-ab R`` only the end-to-end run is timed, R times each with and without the network
running windows ahead beside the detector (:mod:`diffmesh.pipelines.speculation`), interleaved;
with ``--detectors R`` only the detector, each BlazePose landmark model R times, interleaved; with
``--people-ab R`` (on ``--video`` if given) the keypoint pass of the one-person detector against the
several-people one (searches in line, and beside the follower as by default), then end to end with
``max_people=1`` against ``max_people=4``, R times each, interleaved: medians of the paired ratios.
With ``--overlay OUT`` only the overlay pass (``render_overlay``: decode, pose, draw, encode) is timed
on the one-person ``OUT/result.npz`` of an earlier ``diffmesh infer V -o OUT --max-people 1``, R times:
run it with ``PYTHONPATH`` set to two copies of ``src`` to compare code versions.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")


def main() -> None:
    import numpy as np
    import torch

    from diffmesh.io.video import VideoWriter, iter_frames, probe_video
    from diffmesh.pipelines import InferSettings, default_model, run
    from diffmesh.pipelines.keypoints import PoseDetector
    from diffmesh.pipelines.sample import render_motion_video, walking_motion
    from diffmesh.render import Renderer

    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--video", help="time only run() on this video and print its peak RSS")
    ap.add_argument("--ahead-ab", type=int, default=0, metavar="R",
                    help="only end to end, R runs each with and without windows run ahead (interleaved), medians")
    ap.add_argument("--detectors", type=int, default=0, metavar="R",
                    help="only the detector: lite, full and heavy R times each on the same frames (interleaved), medians")
    ap.add_argument("--people-ab", type=int, default=0, metavar="R",
                    help="one person's video: keypoint pass and end to end, one-person against several-people path, R times each")
    ap.add_argument("--overlay", metavar="OUT", help="only the overlay pass, on OUT/result.npz of a run of --video")
    ap.add_argument("--repeats", type=int, default=3, help="rounds of --overlay")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    tmp = Path(tempfile.mkdtemp())
    from diffmesh.accel.capability import cpu_model_name

    print(f"# {cpu_model_name()}, capability {torch.backends.cpu.get_cpu_capability()}, {os.cpu_count()} cores, torch {torch.__version__}")
    print("load average at start: %.2f %.2f %.2f" % os.getloadavg())
    if args.overlay:
        overlay_alone(Path(args.video), Path(args.overlay), args.repeats, tmp)
        return
    if args.people_ab:
        video = Path(args.video) if args.video else tmp / "walk.mp4"
        if not args.video:
            render_motion_video(video, walking_motion(args.frames, 25.0), 640, 480)
        people_ab(video, args.people_ab, tmp)
        return
    if args.video:
        n = probe_video(args.video).num_frames
        t0 = time.perf_counter()
        s = run(args.video, tmp / "out", InferSettings(), None, use_cache=False)
        total = time.perf_counter() - t0
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"end to end: {n} frames in {total:.1f} s = {n / total:.1f} frames/s; peak RSS {rss_mb:.0f} MB")
        print("run() stage seconds:", s.stage_seconds)
        print("load average at end: %.2f %.2f %.2f" % os.getloadavg())
        return
    video = tmp / "walk.mp4"
    render_motion_video(video, walking_motion(args.frames, 25.0), 640, 480)
    n = args.frames
    if args.ahead_ab:
        ahead_ab(video, n, args.ahead_ab, tmp)
        return
    if args.detectors:
        detectors(video, args.detectors)
        return
    rows = []

    t0 = time.perf_counter()
    frames = [f.image for f in iter_frames(video, threads=1)]
    rows.append(("decode (PyAV, 1 thread as in run)", n / (time.perf_counter() - t0)))
    with PoseDetector() as det:
        det.detect(frames[0])  # warm-up
        t0 = time.perf_counter()
        for f in frames:
            det.detect(f)
        rows.append(("detect (BlazePose, tracking mode)", n / (time.perf_counter() - t0)))
    bundle = default_model()
    from diffmesh.accel import accelerate

    model = accelerate(bundle.model, "auto")
    plan = model.accel_plan
    from diffmesh.geometry.model_input import model_input_channels

    x = torch.randn(8, 16, 17, model_input_channels(bundle.model))
    with torch.inference_mode():
        model(x)
        t0 = time.perf_counter()
        for _ in range(3):
            model(x)
    rows.append((f"model ({bundle.name} {plan.dtype}, 16-frame windows, stride 8 ⇒ 2 windows/frame)", 3 * 8 * 16 / (time.perf_counter() - t0) / 2))
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
    with VideoWriter(tmp / "enc.mp4", 25, 640, 480, threads=1) as w:
        for f in frames:
            w.write(f)
    rows.append(("encode (libx264 veryfast, 1 thread as in run)", n / (time.perf_counter() - t0)))
    del frames
    from diffmesh.pipelines.overlay import render_overlay
    from diffmesh.pipelines.prediction import MeshSequence

    info = probe_video(video)
    rot = np.broadcast_to(np.eye(3, dtype=np.float32), (n, 24, 3, 3)).copy()
    rot[:, 0] = np.diag([1.0, -1.0, -1.0]).astype(np.float32)  # upright in the camera frame
    mesh = MeshSequence(rot, np.zeros((n, 10), np.float32))
    transl = np.tile(np.array([[0.0, 0.2, 3.0]], np.float32), (n, 1))
    t0 = time.perf_counter()
    render_overlay(info, 0, n, body, mesh, transl, np.ones(n, bool), K, tmp / "overlay.mp4")
    rows.append(("render pass as in `run` (decode + pose + draw + encode, overlapped, incl. renderer start)", n / (time.perf_counter() - t0)))
    t0 = time.perf_counter()
    s = run(video, tmp / "out", InferSettings(), None, use_cache=False)
    total = time.perf_counter() - t0
    rows.append(("**end to end** (`run`, uncached, incl. model build and exports)", n / total))
    print(f"| stage ({n} frames, 640x480, {args.threads} threads) | frames/s | ms/frame |\n|---|---|---|")
    for name, fps in rows:
        print(f"| {name} | {fps:.1f} | {1000 / fps:.1f} |")
    print("\nrun() stage seconds:", s.stage_seconds)
    print("load average at end: %.2f %.2f %.2f" % os.getloadavg())


def overlay_alone(video: Path, out: Path, repeats: int, tmp: Path) -> None:
    """The overlay pass of a finished one-person run, ``repeats`` times: wall and process CPU seconds."""
    import numpy as np

    from diffmesh.body import load
    from diffmesh.io.video import probe_video
    from diffmesh.pipelines.overlay import render_overlay
    from diffmesh.pipelines.prediction import MeshSequence

    r = np.load(out / "result.npz")
    first, n = int(r["frame_indices"][0]), len(r["frame_indices"])
    mesh = MeshSequence(r["pose_rotmat"].astype(np.float32), r["betas"].astype(np.float32))
    body, info = load("open"), probe_video(video)  # the packaged weights' body model
    walls, cpus = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        render_overlay(info, first, first + n, body, mesh, r["transl"].astype(np.float32), r["valid"], r["K"][0], tmp / "overlay.mp4")
        c1 = resource.getrusage(resource.RUSAGE_SELF)
        walls.append(time.perf_counter() - t0)
        cpus.append(c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime)
    print(f"overlay pass, {n} frames: wall {' / '.join(f'{w:.2f}' for w in walls)} s (median {sorted(walls)[len(walls) // 2]:.2f}), "
          f"process CPU {' / '.join(f'{c:.2f}' for c in cpus)} s")


def detectors(video: Path, repeats: int) -> None:
    """Each BlazePose landmark model over the same decoded frames (tracking mode), interleaved; frames/s."""
    import statistics

    from diffmesh.io.video import iter_frames
    from diffmesh.pipelines.blazepose_models import DETECTOR_MODELS
    from diffmesh.pipelines.keypoints import PoseDetector

    frames = [f.image for f in iter_frames(video, threads=1)]
    fps: dict[str, list[float]] = {m: [] for m in DETECTOR_MODELS}
    for r in range(repeats):
        for model in DETECTOR_MODELS if r % 2 == 0 else DETECTOR_MODELS[::-1]:
            with PoseDetector(model=model) as det:
                det.detect(frames[0])  # warm-up
                t0 = time.perf_counter()
                for f in frames:
                    det.detect_with_world(f)
                fps[model].append(len(frames) / (time.perf_counter() - t0))
    print(f"| BlazePose landmark model ({len(frames)} frames, 640x480, tracking mode) | frames/s (median of {repeats}) | ms/frame |")
    print("|---|---|---|")
    for model, values in fps.items():
        med = statistics.median(values)
        print(f"| {model} | {med:.1f} | {1000 / med:.1f} |")
    print("load average at end: %.2f %.2f %.2f" % os.getloadavg())


def ahead_ab(video: Path, n: int, repeats: int, tmp: Path) -> None:
    """End to end with and without windows run ahead, interleaved; per-run and median frames/s."""
    import statistics

    from diffmesh.pipelines import InferSettings, run
    from diffmesh.pipelines import infer as infer_module

    real = infer_module._speculator
    fps: dict[str, list[float]] = {"ahead": [], "after": []}
    for r in range(repeats):
        for name in ("ahead", "after") if r % 2 == 0 else ("after", "ahead"):
            infer_module._speculator = real if name == "ahead" else (lambda *a: None)
            t0 = time.perf_counter()
            s = run(video, tmp / f"out-{name}", InferSettings(), None, use_cache=False)
            fps[name].append(n / (time.perf_counter() - t0))
            print(f"run {r + 1} {name}: {fps[name][-1]:.1f} frames/s; stage seconds {s.stage_seconds}", flush=True)
    infer_module._speculator = real
    for name, values in fps.items():
        print(f"{name}: median {statistics.median(values):.1f} frames/s ({', '.join(f'{v:.1f}' for v in values)})")
    print("load average at end: %.2f %.2f %.2f" % os.getloadavg())


def people_ab(video: Path, repeats: int, tmp: Path) -> None:
    """A one-person video through the one-person path and the several-people path, interleaved: the
    keypoint pass alone (searches in line and beside the follower) and end to end; seconds and the
    medians of the per-repeat ratios to the one-person path."""
    import statistics

    from diffmesh.io.video import probe_video
    from diffmesh.pipelines import InferSettings, run
    from diffmesh.pipelines.keypoints import detect_video
    from diffmesh.pipelines.people import detect_people_video

    info = probe_video(video)
    n = info.num_frames
    passes = {
        "one-person detector": lambda: detect_video(info, 0, n),
        "several-people detector, searches in line": lambda: detect_people_video(video, max_people=4, discovery_lag=0),
        "several-people detector, searches beside (default)": lambda: detect_people_video(video, max_people=4),
        "end to end, max_people=1": lambda: run(video, tmp / "out-one", InferSettings(max_people=1), None, use_cache=False),
        "end to end, max_people=4": lambda: run(video, tmp / "out-four", InferSettings(max_people=4), None, use_cache=False),
    }
    seconds: dict[str, list[float]] = {name: [] for name in passes}
    for r in range(repeats):
        for name in passes if r % 2 == 0 else list(passes)[::-1]:
            t0 = time.perf_counter()
            passes[name]()
            seconds[name].append(time.perf_counter() - t0)
            print(f"run {r + 1} {name}: {seconds[name][-1]:.2f} s", flush=True)
    print(f"\n| {video.name}, {n} frames | seconds (median of {repeats}) | frames/s | ratio to the one-person path (median of pairs) |")
    print("|---|---|---|---|")
    for name, values in seconds.items():
        base = seconds["end to end, max_people=1" if name.startswith("end") else "one-person detector"]
        ratio = statistics.median(v / b for v, b in zip(values, base))
        med = statistics.median(values)
        print(f"| {name} | {med:.2f} | {n / med:.1f} | {ratio:.2f}x |")
    print("load average at end: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
