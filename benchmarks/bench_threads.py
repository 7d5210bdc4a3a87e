"""The pipeline's model stage against the torch thread count, on a quiet and on a busy machine.

    python benchmarks/bench_threads.py [--frames 150] [--threads 1 2] [--busy 0 1 2] [--repeats 3]

Times :func:`diffmesh.pipelines.prediction.predict_mesh` (default model, fast mode, 16-frame
windows, stride 8) on ``--frames`` frames of synthetic keypoints, for each torch thread count,
while 0, 1, ... other processes spin on the CPU (each a ``while True: pass`` loop, killed
afterwards). Prints the median ms/frame of ``--repeats`` runs (a run slower than 30 s is not
repeated) and the load average. This is what docs/inference.md's default for ``--threads``
rests on (docs/benchmarks.md §4.1).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def main() -> None:
    import numpy as np
    import torch

    from diffmesh.pipelines import InferSettings, default_model, prepare_model
    from diffmesh.pipelines.prediction import predict_mesh
    from diffmesh.pipelines.threads import default_threads
    from diffmesh.pipelines.tracking import track

    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--busy", type=int, nargs="+", default=[0, 1, 2], help="numbers of competing busy processes")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    kp = np.zeros((args.frames, 17, 3), np.float32)
    kp[..., :2] = 240 + 60 * rng.standard_normal((args.frames, 17, 2))
    kp[..., 2] = 0.9
    trk = track(kp, np.ones(args.frames, bool))
    model = prepare_model(default_model(), InferSettings())
    torch.set_num_threads(1)
    predict_mesh(model, trk)  # warm-up
    print(f"{os.cpu_count()} cores; default_threads() = {default_threads()}; load average at start "
          "%.2f %.2f %.2f" % os.getloadavg())  # fmt: skip
    print("| busy processes | torch threads | model stage ms/frame (median) | runs (s) | load |\n|---|---|---|---|---|")
    for busy in args.busy:
        spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
        try:
            time.sleep(1.0)
            for threads in args.threads:
                torch.set_num_threads(threads)
                runs: list[float] = []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    predict_mesh(model, trk)
                    runs.append(time.perf_counter() - t0)
                    if runs[-1] > 30:
                        break
                ms = 1000 * statistics.median(runs) / args.frames
                shown = ", ".join(f"{r:.2f}" for r in runs)
                print(f"| {busy} | {threads} | {ms:.1f} | {shown} | {os.getloadavg()[0]:.1f} |", flush=True)
        finally:
            for p in spinners:
                p.kill()
                p.wait()


if __name__ == "__main__":
    main()
