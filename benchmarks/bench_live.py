#!/usr/bin/env python
"""Live mode's speed: ``diffmesh infer CLIP --live`` on a file read in real time, as a camera would be.

Renders a walking person at 640x480 and the camera's frame rate (default 30 frames/s, 10 s) once,
then runs the user's command on it, one subprocess per run, the systems interleaved::

    python benchmarks/bench_live.py                                        # the default, 3 runs
    python benchmarks/bench_live.py --system d0= --system d4="--live-delay 4" --runs 2

Each run reads the file at its own frame rate (the capture thread drops what the machine cannot
keep up with) and writes ``live_summary.json``; the table gives, per run and as medians per system:
frames/s processed (frames with a body out, per second of the run), frames dropped of those read,
and the capture-to-result latency (median and 95th percentile over the frames). The issue's bar
(docs/inference.md, Live mode): at least 25 frames/s and a 95th percentile within 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

logger = logging.getLogger("bench_live")

COLUMNS = ("processed_fps", "frames_dropped", "latency_ms_median", "latency_ms_p95")


def make_clip(path: Path, fps: float, seconds: float, width: int, height: int) -> None:
    from diffmesh.pipelines.sample import render_motion_video, walking_motion

    render_motion_video(path, walking_motion(round(fps * seconds), fps), width, height)


def run_live(clip: Path, out: Path, extra: list[str], timeout: float) -> dict:
    """``diffmesh infer CLIP --live -o OUT EXTRA`` → its ``live_summary.json``."""
    cmd = [sys.executable, "-m", "diffmesh.cli", "infer", str(clip), "--live", "-o", str(out), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    summary = out / "live_summary.json"
    if proc.returncode != 0 or not summary.is_file():
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise SystemExit(f"{shlex.join(cmd)} exited {proc.returncode}: {last}")
    return json.loads(summary.read_text())


def main() -> None:
    import torch

    from diffmesh.accel.capability import cpu_model_name

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--system", action="append", metavar="NAME=ARGS",
                    help="a column: name and extra `diffmesh infer --live` arguments (repeatable; default: default=)")
    ap.add_argument("--runs", type=int, default=3, help="runs per system, interleaved (default 3)")
    ap.add_argument("--fps", type=float, default=30.0, help="the clip's frame rate (default 30)")
    ap.add_argument("--seconds", type=float, default=10.0, help="the clip's length (default 10 s)")
    ap.add_argument("--size", default="640x480", help="WIDTHxHEIGHT (default 640x480)")
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--out", help="write the runs as JSON here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    width, height = (int(v) for v in args.size.lower().split("x"))
    systems = {}
    for spec in args.system or ["default="]:
        name, _, extra = spec.partition("=")
        systems[name] = shlex.split(extra)

    work = Path(tempfile.mkdtemp(prefix="bench_live_"))
    clip = work / "walk.mp4"
    make_clip(clip, args.fps, args.seconds, width, height)
    print(f"# {cpu_model_name()}, capability {torch.backends.cpu.get_cpu_capability()}, {os.cpu_count()} cores; "
          f"torch {torch.__version__}; clip {width}x{height}, {args.fps:g} frames/s, {args.seconds:g} s; "
          f"load average at start {os.getloadavg()[0]:.2f}")
    print("| system | run | frames/s processed | dropped | latency median, ms | latency p95, ms |")
    print("|---|---:|---:|---:|---:|---:|")
    runs: dict[str, list[dict]] = {name: [] for name in systems}
    for r in range(args.runs):
        for name, extra in systems.items():
            s = run_live(clip, work / f"{name}_{r}", extra, args.timeout)
            runs[name].append(s)
            print(f"| {name} | {r + 1} | {s['processed_fps']:.1f} | {s['frames_dropped']} of {s['frames_read']} | "
                  f"{s['latency_ms_median']:.0f} | {s['latency_ms_p95']:.0f} |", flush=True)
    for name, values in runs.items():
        med = {c: statistics.median(v[c] for v in values) for c in COLUMNS}
        print(f"| **{name}, median** | | **{med['processed_fps']:.1f}** | {med['frames_dropped']:.0f} | "
              f"**{med['latency_ms_median']:.0f}** | **{med['latency_ms_p95']:.0f}** |")
    print(f"# load average at end {os.getloadavg()[0]:.2f}")
    if args.out:
        Path(args.out).write_text(json.dumps({"systems": {k: shlex.join(v) for k, v in systems.items()}, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
