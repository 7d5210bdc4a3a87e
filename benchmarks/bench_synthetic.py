"""Synthetic data engine throughput: clips/s per CPU worker (one thread, like a DataLoader worker).

Usage::

    python benchmarks/bench_synthetic.py                 # open body model (V = 13,718)
    python benchmarks/bench_synthetic.py --batch 32 --repeats 3

For each clip length (16 = mesh heads, 243 = pre-training) it times
``SyntheticMotionDataset.__getitems__`` (what a DataLoader worker calls for one batch) with
``output="mesh"`` (full mesh ``[T, V, 3]`` targets) and ``output="pose"`` (2-D input and 3-D
labels only). torch runs with one thread: DataLoader workers do the same.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from diffmesh.data.synthetic import SyntheticMotionDataset, SyntheticMotionEngine


def bench(dataset: SyntheticMotionDataset, batch: int, repeats: int) -> float:
    dataset.__getitems__(list(range(batch)))  # warm-up
    best = float("inf")
    for r in range(repeats):
        start = time.perf_counter()
        dataset.__getitems__(list(range((r + 1) * batch, (r + 2) * batch)))
        best = min(best, time.perf_counter() - start)
    return batch / best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--body-model", default="open")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--clip-lens", type=int, nargs="*", default=[16, 243])
    args = p.parse_args()
    torch.set_num_threads(1)
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread")
    base = SyntheticMotionEngine(args.body_model)
    V = base.body.num_vertices
    print("| T | output | V | batch | clips/s per worker | frames/s per worker |")
    print("|---|---|---|---|---|---|")
    for T in args.clip_lens:
        engine = SyntheticMotionEngine(base.body, clip_len=T)
        for output in ("mesh", "pose"):
            batch = args.batch if (T <= 32 or output == "pose") else max(1, args.batch // 4)
            ds = SyntheticMotionDataset(10**6, "train", output=output, engine=engine)  # type: ignore[arg-type]
            rate = bench(ds, batch, args.repeats)
            print(f"| {T} | {output} | {V if output == 'mesh' else '-'} | {batch} | {rate:.1f} | {rate * T:.0f} |")


if __name__ == "__main__":
    main()
