"""Matrix-multiply rates behind the inference paths (CPU): GFLOP/s of one ``x Wᵀ + b``.

    python benchmarks/bench_gemm.py --threads 2

Columns: ``F.linear`` in float32 (PyTorch's default CPU path, MKL's SGEMM — what the official
code runs), oneDNN float32 on a pre-packed weight (:class:`diffmesh.accel.onednn.PackedLinear`,
our parity mode's encoder), ``F.linear`` in bfloat16, and oneDNN bfloat16 on a pre-packed
weight (fast mode). Shapes are the encoder's at batch 1 × 16 frames (272 tokens) and at a
256-frame chunk (4352 tokens), and the reverse loop's per-step product at batch 1
(17 tokens), where every path is latency-bound.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from diffmesh.accel.onednn import pack_weight, packed_linear

SHAPES = [  # (rows, in, out, what)
    (272, 512, 1536, "encoder qkv, batch 1"),
    (272, 1024, 512, "encoder fc2, batch 1"),
    (4352, 512, 1536, "encoder qkv, 256-frame chunk"),
    (17, 128, 384, "denoiser qkv, batch 1"),
    (16, 207, 20670, "SMPL pose blend shapes, 16 bodies"),
]


def seconds(fn, min_seconds: float) -> float:
    for _ in range(3):
        fn()
    best = float("inf")
    for _ in range(3):
        runs, start = 0, time.perf_counter()
        while time.perf_counter() - start < min_seconds / 3:
            fn()
            runs += 1
        best = min(best, (time.perf_counter() - start) / runs)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-seconds", type=float, default=1.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, GFLOP/s (µs per product)")
    print("| product | rows × in → out | F.linear fp32 (MKL) | oneDNN fp32 packed | F.linear bf16 | oneDNN bf16 packed |")
    print("|---|---|---:|---:|---:|---:|")
    for rows, fan_in, fan_out, what in SHAPES:
        x, w, b = torch.randn(rows, fan_in), torch.randn(fan_out, fan_in) * 0.05, torch.randn(fan_out)
        xb, wb, bb = x.bfloat16(), w.bfloat16(), b.bfloat16()
        pw, pwb = pack_weight(w), pack_weight(wb)
        cells = []
        for fn in (
            lambda: F.linear(x, w, b),
            lambda: packed_linear(x, w, b, pw),
            lambda: F.linear(xb, wb, bb),
            lambda: packed_linear(xb, wb, bb, pwb),
        ):
            s = seconds(fn, args.min_seconds)
            cells.append(f"{2 * rows * fan_in * fan_out / s / 1e9:.0f} ({s * 1e6:.0f})")
        print(f"| {what} | {rows} × {fan_in} → {fan_out} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
