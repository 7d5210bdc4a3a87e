"""Acceleration plans side by side: the plain model against each plan, interleaved rounds.

    python benchmarks/bench_accel.py --threads 1 --batches 1 8

Full-size DiffMesh with an SMPL-sized body model, 16-frame clips; frames/s, the median of
``--rounds`` rounds in which every contender runs once (interleaving cancels the drift of a
shared machine). Columns: ``reference`` (the plain model), ``parity`` with MKL and with
oneDNN packed float32 products, and ``fast`` on this CPU (left out with ``--no-fast``, e.g.
when the CPU is restricted to AVX2, where it equals parity). Results: docs/benchmarks.md 1.5.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for benchmarks.bench_models

import diffmesh  # noqa: E402
from diffmesh.accel import accelerate, make_plan  # noqa: E402
from diffmesh.accel import plan as plan_module  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batches", type=int, nargs="*", default=[1, 8])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-fast", action="store_true", help="leave fast mode out")
    args = parser.parse_args()

    from benchmarks.bench_models import smpl_sized_body

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = diffmesh.create_model("diffmesh", body_model=smpl_sized_body()).eval()
    contenders = {"reference": accelerate(model, "reference")}
    available = plan_module.onednn_available
    plan_module.onednn_available = lambda: False  # type: ignore[assignment]
    contenders["parity, MKL"] = accelerate(model, "parity")
    plan_module.onednn_available = available  # type: ignore[assignment]
    contenders["parity, oneDNN packed"] = accelerate(model, "parity")
    if not args.no_fast:
        contenders[f"fast ({make_plan('fast').dtype})"] = accelerate(model, "fast")
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, {make_plan('fast')}")
    print("| batch | " + " | ".join(contenders) + " |")
    print("|---:|" + "---:|" * len(contenders))
    for batch in args.batches:
        x = torch.rand(batch, 16, 17, 3)
        runs: dict[str, list[float]] = {k: [] for k in contenders}
        with torch.inference_mode():
            for m in contenders.values():
                m(x)  # warm-up: packing, allocations
            for _ in range(args.rounds):
                for name, m in contenders.items():
                    start = time.perf_counter()
                    m(x)
                    runs[name].append(time.perf_counter() - start)
        fps = [batch * 16 / statistics.median(v) for v in runs.values()]
        print(f"| {batch} | " + " | ".join(f"{f:.1f}" for f in fps) + " |", flush=True)


if __name__ == "__main__":
    main()
