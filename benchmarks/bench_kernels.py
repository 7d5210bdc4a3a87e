"""Which float32 kernels should the encoder use on this CPU? The whole model, side by side.

    python benchmarks/bench_kernels.py --models diffmesh motionbert-pose3d --frames 16 243

``bench_gemm.py`` rates single products; this times whole models in parity mode under each
encoder kernel choice that :func:`diffmesh.accel.make_plan` can make (oneDNN on pre-packed
weights, or MKL through ``F.linear``), beside the plain model, in interleaved rounds so that
the drift of shared cores cancels. The choice is forced through the plan's inputs (the CPU's
vendor), the same path a user's machine takes; everything else (chunking, the body model's
packed blend shapes) is as the plan makes it. The first call's outputs are compared with the
plain model's. Prints a Markdown table of median frames/s.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_models' helpers

import diffmesh  # noqa: E402
from bench_models import make_inputs, smpl_sized_body, time_model  # noqa: E402
from diffmesh.accel import accelerate, cpu_capability, cpu_model_name  # noqa: E402


def variants(plain: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """The plain model and parity mode with each encoder kernel choice (same CPU otherwise)."""
    cap = cpu_capability()
    # make_plan picks MKL for the encoder on AMD without AVX-512 and oneDNN elsewhere (if this torch has it)
    onednn = dataclasses.replace(cap, vendor="GenuineIntel")
    mkl = dataclasses.replace(cap, vendor="AuthenticAMD", isa="AVX2")  # parity mode: isa picks kernels only
    out = {"reference (plain model)": accelerate(plain, "reference")}
    out[f"parity, {accelerate(plain, 'parity', capability=onednn).accel_plan.float32_kernels} encoder"] = accelerate(
        plain, "parity", capability=onednn)  # fmt: skip
    out["parity, mkl encoder"] = accelerate(plain, "parity", capability=mkl)
    return out


def largest_difference(a: object, b: object) -> float:
    """Largest absolute difference over the tensors of two model outputs."""
    if isinstance(a, torch.Tensor):
        return float((a.float() - b.float()).abs().max())
    if dataclasses.is_dataclass(a):
        return max((largest_difference(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)), default=0.0)
    if isinstance(a, (tuple, list)):
        return max((largest_difference(x, y) for x, y in zip(a, b)), default=0.0)
    if isinstance(a, dict):
        return max((largest_difference(a[k], b[k]) for k in a), default=0.0)
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=["diffmesh", "diffmesh-fusion", "motionbert-pose3d"])
    parser.add_argument("--batches", nargs="*", type=int, default=[1, 8])
    parser.add_argument("--frames", nargs="*", type=int, default=[16])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-seconds", type=float, default=2.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cap = cpu_capability()
    print(f"# {cpu_model_name()}, {cap.vendor}, capability {cap.isa}; torch {torch.__version__}, {args.threads} threads")
    print(f"# frames/s, median of {args.rounds} interleaved rounds (each round: every variant once)")
    body = smpl_sized_body()
    print("| model | batch | frames | variant | frames/s | rounds | largest difference from the plain model |")
    print("|---|---:|---:|---|---:|---|---:|")
    for name in args.models:
        spec = diffmesh.get_spec(name)
        own_body = spec.weights is not None and spec.body_model is not None
        plain = diffmesh.create_model(name) if own_body else diffmesh.create_model(name, body_model=body)
        models = variants(plain.eval())
        for frames in args.frames:
            if spec.architecture.startswith("diffmesh") and frames != 16:
                continue  # the DiffMesh head takes 16-frame clips only
            for batch in args.batches:
                x, kwargs = make_inputs(spec, batch, frames, "cpu")
                with torch.inference_mode():
                    ref = models["reference (plain model)"](x, **kwargs)
                    diffs = {k: largest_difference(m(x, **kwargs), ref) for k, m in models.items()}
                rates: dict[str, list[float]] = {k: [] for k in models}
                for _ in range(args.rounds):
                    for k, m in models.items():
                        rates[k].append(batch * frames / time_model(m, x, kwargs, args.min_seconds, warmup=True))
                for k, r in rates.items():
                    rounds = ", ".join(f"{v:.1f}" for v in r)
                    print(f"| {name} | {batch} | {frames} | {k} | {statistics.median(r):.1f} | {rounds} | {diffs[k]:.1e} |", flush=True)


if __name__ == "__main__":
    main()
