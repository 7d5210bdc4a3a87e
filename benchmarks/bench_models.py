"""Throughput and peak memory of every registered variant on CPU (or CUDA).

Prints a Markdown table: frames/s (input frames per second; action models count every
sample's frames once, with two persons each) for batch × clip length × mode, and the
process's peak resident memory during that configuration.

    python benchmarks/bench_models.py --threads 2                    # everything
    python benchmarks/bench_models.py --models diffmesh --batches 1 8 --frames 16

Modes: those of :func:`diffmesh.accel.accelerate` (``reference``: the plain model;
``parity``: float32 with this CPU's faster kernels and chunking; ``fast``: bf16 where the CPU
has it natively, else as parity; ``bf16``: bf16 whatever the CPU). Mesh models use a generated
SMPL-format body model with SMPL's sizes (6890 vertices, 207 pose blend shapes), so the
cost equals the official SMPL layer's; variants with packaged weights (``diffmesh-synthetic``)
use the body model they were trained with. Weights are random where none are packaged:
speed does not depend on them.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests._smpl_fixtures

import diffmesh  # noqa: E402
from diffmesh.accel import accelerate, make_plan  # noqa: E402


def smpl_sized_body() -> torch.nn.Module:
    from diffmesh.body import body_model_from_smpl_arrays
    from tests._smpl_fixtures import make_h36m_regressor, make_smpl_arrays

    return body_model_from_smpl_arrays(make_smpl_arrays(6890), J_regressor_h36m=make_h36m_regressor(6890))


def reset_peak_rss() -> None:
    """Reset the kernel's peak-RSS counter of this process (Linux)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def make_inputs(spec: diffmesh.registry.ModelSpec, batch: int, frames: int, device: str) -> tuple[torch.Tensor, dict]:
    x = torch.rand(batch, frames, 17, spec.config.get("dim_in", 3), device=device)
    kwargs: dict = {}
    if spec.task == "action":
        x = torch.rand(batch, 2, frames, 17, 3, device=device)
    if spec.architecture == "diffmesh_refine":
        kwargs = {"init_pose": torch.randn(batch, frames, 72, device=device) * 0.2,
                  "init_shape": torch.zeros(batch, frames, 10, device=device)}
    return x, kwargs


def count_gflop(model: Callable[..., Any], x: torch.Tensor, kwargs: dict) -> float:
    """Floating-point operations of one ``model(x, **kwargs)`` call, in GFLOP (a multiply-add is 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(x, **kwargs)
    return counter.get_total_flops() / 1e9


def float32_peak_gflops(threads: int) -> float:
    """An estimate of the float32 peak: ``threads`` cores x 2 FMA units x vector lanes (16 with AVX-512,
    8 with AVX2, 4 otherwise) x 2 flops x the clock ``/proc/cpuinfo`` reports (3 GHz if it says nothing)."""
    lanes = {"AVX512": 16, "AVX2": 8}.get(torch.backends.cpu.get_cpu_capability(), 4)
    ghz = 3.0
    try:
        with open("/proc/cpuinfo") as f:
            mhz = [float(line.split(":")[1]) for line in f if line.startswith("cpu MHz")]
        ghz = max(mhz) / 1000 if mhz else ghz
    except OSError:
        pass
    return threads * 2 * lanes * 2 * ghz


def time_model(model: Callable[..., Any], x: torch.Tensor, kwargs: dict, min_seconds: float, warmup: bool) -> float:
    """Seconds per ``model(x, **kwargs)`` call (any callable), under inference mode: an optional
    warm-up call, then calls until ``min_seconds`` have passed."""
    sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)
    with torch.inference_mode():
        if warmup:
            model(x, **kwargs)
            sync()
        runs, start = 0, time.perf_counter()
        while True:
            model(x, **kwargs)
            sync()
            runs += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                return elapsed / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=diffmesh.list_models())
    parser.add_argument("--batches", nargs="*", type=int, default=[1, 32])
    parser.add_argument("--frames", nargs="*", type=int, default=[16, 243])
    parser.add_argument("--modes", nargs="*", default=["reference", "parity", "fast"], choices=["reference", "parity", "fast", "bf16"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--min-seconds", type=float, default=2.0, help="time each configuration at least this long")
    parser.add_argument("--parameters", action="store_true", help="mesh models: time predict_parameters (rotations "
                        "and betas, what the video pipeline calls) beside forward (which also poses the body model)")
    parser.add_argument("--flops", action="store_true", help="also count each call's floating-point operations "
                        "(torch's FlopCounterMode on the plain model) and print GFLOP/s and the share of --peak-gflops")
    parser.add_argument("--peak-gflops", type=float, default=None, help="the machine's float32 peak for --flops "
                        "(default: threads x 2 FMA units x vector lanes x 2 x the clock in /proc/cpuinfo, an estimate)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    body = smpl_sized_body()
    print(f"# torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads, "
          f"cpu capability {torch.backends.cpu.get_cpu_capability()}")
    for mode in args.modes:
        print(f"# {make_plan(mode, args.device)}")
    peak = args.peak_gflops or float32_peak_gflops(torch.get_num_threads())
    if args.flops:
        print(f"# float32 peak used for the share: {peak:.0f} GFLOP/s")
        print("| model | batch | frames | mode | frames/s | ms/call | peak RSS MiB | GFLOP/call | GFLOP/s | share of peak |")
        print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    else:
        print("| model | batch | frames | mode | frames/s | ms/call | peak RSS MiB |")
        print("|---|---:|---:|---|---:|---:|---:|")
    for name in args.models:
        spec = diffmesh.get_spec(name)
        for mode in args.modes:
            # Packaged weights fit only their own body model (the open one for diffmesh-synthetic).
            own_body = spec.weights is not None and spec.body_model is not None
            plain = (diffmesh.create_model(name) if own_body else diffmesh.create_model(name, body_model=body)).to(args.device)
            model = accelerate(plain, mode)
            for frames in args.frames:
                if spec.architecture.startswith("diffmesh") and frames != 16:
                    continue  # the DiffMesh head takes 16-frame clips only
                for batch in args.batches:
                    gc.collect()
                    reset_peak_rss()
                    x, kwargs = make_inputs(spec, batch, frames, args.device)
                    # Large inputs run for tens of seconds: a warm-up call would only double that.
                    calls = [(mode, model)]
                    if args.parameters and hasattr(model, "predict_parameters") and not kwargs:
                        calls.append((f"{mode}, parameters only", model.predict_parameters))
                    for label, call in calls:
                        seconds = time_model(call, x, kwargs, args.min_seconds, warmup=batch * frames <= 2048)
                        fps = batch * frames / seconds
                        row = f"| {name} | {batch} | {frames} | {label} | {fps:.1f} | {seconds * 1000:.1f} | {peak_rss_mib():.0f} |"
                        if args.flops:  # counted on the plain model: oneDNN's packed products are invisible to the counter
                            gflop = count_gflop(plain.predict_parameters if "parameters" in label else plain, x, kwargs)
                            row += f" {gflop:.2f} | {gflop / seconds:.1f} | {100 * gflop / seconds / peak:.0f} % |"
                        print(row, flush=True)
            del model, plain


if __name__ == "__main__":
    main()
