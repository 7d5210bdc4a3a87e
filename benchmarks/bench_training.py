"""Training throughput on CPU: clips/s and peak memory, for the tiny and the official sizes.

    python benchmarks/bench_training.py --threads 2

For each model size it times optimizer steps of DiffMesh (faithful mode) and the MotionBERT
mesh head on 16-frame synthetic clips (open body model), separating the data engine from the
model step, so one can see whether the engine keeps up (it runs in DataLoader workers in a
real run). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torch.utils.data import default_collate

import diffmesh
from diffmesh.body import load
from diffmesh.data.synthetic import SyntheticMotionDataset, SyntheticMotionEngine
from diffmesh.losses import MeshLossWeights, mesh_loss

SIZES = {
    "tiny": {"dim_feat": 32, "dim_rep": 32, "depth": 1, "num_heads": 4, "mlp_ratio": 2, "maxlen": 16},
    "official": {},
}


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    body = load("open")
    data = SyntheticMotionDataset(10_000, "train", "mesh", engine=SyntheticMotionEngine(body, clip_len=16))
    print(f"# torch {torch.__version__}, {args.threads} threads, batch {args.batch_size} x 16 frames, open body model")
    print("| model | size | data clips/s | train step clips/s | peak RSS MiB |")
    print("|---|---|---:|---:|---:|")
    for name in ("diffmesh", "motionbert-mesh"):
        for size, overrides in SIZES.items():
            model = diffmesh.create_model(name, body_model=body, **overrides).train()
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
            weights = MeshLossWeights() if name == "diffmesh" else MeshLossWeights(lambda_diff=0.0)
            data_s = step_s = 0.0
            for step in range(args.steps + 1):  # the first step warms up and is not timed
                t0 = time.perf_counter()
                batch = default_collate(data.__getitems__(list(range(step * args.batch_size, (step + 1) * args.batch_size))))
                t1 = time.perf_counter()
                loss = mesh_loss(model(batch["input"]), batch["target"], weights).total
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                t2 = time.perf_counter()
                if step:
                    data_s += t1 - t0
                    step_s += t2 - t1
            n = args.steps * args.batch_size
            print(f"| {name} | {size} | {n / data_s:.1f} | {n / step_s:.1f} | {peak_rss_mib():.0f} |", flush=True)


if __name__ == "__main__":
    main()
