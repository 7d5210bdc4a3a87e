"""Acceleration plans side by side: the plain model against each plan, interleaved rounds.

    python benchmarks/bench_accel.py --threads 2 --batches 1 8
    python benchmarks/bench_accel.py --models diffmesh motionbert-pose3d --frames 16 243 --no-fast

Frames/s, the median of ``--rounds`` rounds in which every contender runs once (interleaving
cancels the drift of a shared machine). Contenders: ``reference`` (the plain model), ``parity``
with each float32 encoder kernel :func:`diffmesh.accel.make_plan` can choose (oneDNN on
pre-packed weights, MKL through ``F.linear``), and ``fast`` as this CPU's plan makes it (left
out with ``--no-fast``; it equals parity without native bf16). The kernel choice is forced
through the plan's own input, the CPU's vendor and vector level, so everything else (chunking,
the body model's packed blend shapes) is what the plan gives. ``plan`` marks the contender
this machine's parity mode uses. Mesh models without packaged weights decode with an
SMPL-sized body model (the official SMPL layer's cost). The last column is the largest
difference of each contender's outputs from the plain model's. Results: docs/benchmarks.md 1.5, 1.9.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for benchmarks.bench_models

import diffmesh  # noqa: E402
from diffmesh.accel import accelerate, cpu_capability, cpu_model_name, make_plan  # noqa: E402


def contenders(plain: torch.nn.Module, fast: bool) -> dict[str, torch.nn.Module]:
    cap = cpu_capability()
    mine = make_plan("parity").float32_kernels
    out = {"reference": accelerate(plain, "reference")}
    # make_plan: MKL for the encoder on AMD without AVX-512, oneDNN packed elsewhere (where torch has it)
    for cpu in (dataclasses.replace(cap, vendor="GenuineIntel"), dataclasses.replace(cap, vendor="AuthenticAMD", isa="AVX2")):
        model = accelerate(plain, "parity", capability=cpu)
        kernels = model.accel_plan.float32_kernels
        out[f"parity, {kernels}{' (plan)' if kernels == mine else ''}"] = model
    if fast:
        out[f"fast ({make_plan('fast').dtype})"] = accelerate(plain, "fast")
    return out


def largest_difference(a: object, b: object) -> float:
    """Largest absolute difference over the tensors of two model outputs."""
    if isinstance(a, torch.Tensor):
        return float((a.float() - b.float()).abs().max())
    if dataclasses.is_dataclass(a):
        return max((largest_difference(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)), default=0.0)
    if isinstance(a, (tuple, list)):
        return max((largest_difference(x, y) for x, y in zip(a, b)), default=0.0)
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=["diffmesh"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", type=int, nargs="*", default=[1, 8])
    parser.add_argument("--frames", type=int, nargs="*", default=[16], help="clip lengths (DiffMesh heads: 16 only)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-fast", action="store_true", help="leave fast mode out")
    args = parser.parse_args()

    from benchmarks.bench_models import make_inputs, smpl_sized_body

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cap = cpu_capability()
    print(f"# {cpu_model_name()} ({cap.vendor}), capability {cap.isa}, native bf16 {cap.native_bf16}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; frames/s, median of {args.rounds} rounds")  # fmt: skip
    print("| model | batch | frames | contender | frames/s | largest difference from the plain model |")
    print("|---|---:|---:|---|---:|---:|")
    body = smpl_sized_body()
    for name in args.models:
        spec = diffmesh.get_spec(name)
        own_body = spec.weights is not None and spec.body_model is not None
        plain = (diffmesh.create_model(name) if own_body else diffmesh.create_model(name, body_model=body)).eval()
        models = contenders(plain, not args.no_fast)
        for frames in args.frames:
            if spec.architecture.startswith("diffmesh") and frames != 16:
                continue
            for batch in args.batches:
                x, kwargs = make_inputs(spec, batch, frames, "cpu")
                runs: dict[str, list[float]] = {k: [] for k in models}
                with torch.inference_mode():
                    ref = models["reference"](x, **kwargs)
                    diffs = {k: largest_difference(m(x, **kwargs), ref) for k, m in models.items()}  # and warm-up
                    for _ in range(args.rounds):
                        for k, m in models.items():
                            start = time.perf_counter()
                            m(x, **kwargs)
                            runs[k].append(time.perf_counter() - start)
                for k, v in runs.items():
                    print(f"| {name} | {batch} | {frames} | {k} | {batch * frames / statistics.median(v):.1f} | {diffs[k]:.1e} |",
                          flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
