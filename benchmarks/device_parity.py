"""Every registered variant's outputs on a device against the plain model on the CPU.

The golden tests (tests/test_golden_models.py) pin the CPU to the official code; this script
carries that to another device (CUDA) and to the accelerated modes: the same weights (random where
none are packaged, seeded) and inputs, the plain float32 model on the CPU as the reference, each
mode of :func:`diffmesh.accel.accelerate` on ``--device``. It prints the largest absolute
difference over every output tensor and the largest relative to the reference's scale (max |ref|).
The GPU check (``tools/gpu_check.sh``) runs it; on a machine without a GPU ``--device cpu`` shows
what the CPU's own fast mode changes.

    python benchmarks/device_parity.py --device cuda
    python benchmarks/device_parity.py --device cpu --models diffmesh-fusion --modes parity fast
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
from typing import Any

import torch

from bench_models import make_inputs, smpl_sized_body

import diffmesh  # noqa: E402  (bench_models put the repository on sys.path)
from diffmesh.accel import accelerate, make_plan  # noqa: E402


def tensors(out: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    """The floating-point tensors of a model's output (a tensor, dataclass, dict or tuple), by name."""
    if isinstance(out, torch.Tensor):
        return {prefix or "output": out} if out.is_floating_point() else {}
    if dataclasses.is_dataclass(out):
        items = [(f.name, getattr(out, f.name)) for f in dataclasses.fields(out)]
    elif isinstance(out, dict):
        items = list(out.items())
    elif isinstance(out, (tuple, list)):
        items = [(str(i), v) for i, v in enumerate(out)]
    else:
        return {}
    found: dict[str, torch.Tensor] = {}
    for name, value in items:
        found |= tensors(value, f"{prefix}.{name}" if prefix else str(name))
    return found


def compare(reference: dict[str, torch.Tensor], other: dict[str, torch.Tensor]) -> tuple[float, float, str]:
    """(largest absolute difference, largest difference relative to max |reference|, the output it is in)."""
    worst_abs, worst_rel, where = 0.0, 0.0, "-"
    for name, ref in reference.items():
        if "loss" in name:  # a training loss (the DiffMesh head's diffusion loss), not an output
            continue
        got = other[name].detach().to("cpu", torch.float64)
        diff = (got - ref.double()).abs().max().item()
        rel = diff / max(ref.double().abs().max().item(), 1e-12)
        if rel > worst_rel:
            worst_rel, where = rel, name
        worst_abs = max(worst_abs, diff)
    return worst_abs, worst_rel, where


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--models", nargs="*", default=diffmesh.list_models())
    parser.add_argument("--modes", nargs="*", default=["parity", "fast"], choices=["reference", "parity", "fast", "bf16"])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--frames", type=int, default=16, help="clip length (the DiffMesh heads take 16 only)")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"--device {args.device}: this torch ({torch.__version__}) sees no CUDA device; use --device cpu", file=sys.stderr)
        return 2
    body = smpl_sized_body()
    print(f"# torch {torch.__version__}, reference: plain float32 on the CPU; device {args.device}")
    for mode in args.modes:
        print(f"# {make_plan(mode, args.device)}")
    print("| model | mode | max abs difference (any output) | largest relative to max |reference| | in |")
    print("|---|---|---:|---:|---|")
    for name in args.models:
        spec = diffmesh.get_spec(name)
        own_body = spec.weights is not None and spec.body_model is not None
        torch.manual_seed(0)
        plain = (diffmesh.create_model(name) if own_body else diffmesh.create_model(name, body_model=body)).eval()
        frames = 16 if spec.architecture.startswith("diffmesh") else args.frames
        torch.manual_seed(1)
        x, kwargs = make_inputs(spec, args.batch, frames, "cpu")
        with torch.inference_mode():
            reference = {k: v.detach().clone() for k, v in tensors(plain(x, **kwargs)).items()}
            for mode in args.modes:
                model = accelerate(copy.deepcopy(plain).to(args.device), mode)
                out = tensors(model(x.to(args.device), **{k: v.to(args.device) for k, v in kwargs.items()}))
                worst_abs, worst_rel, where = compare(reference, out)
                print(f"| {name} | {mode} | {worst_abs:.3g} | {worst_rel:.3g} | {where} |", flush=True)
                del model
    return 0


if __name__ == "__main__":
    sys.exit(main())
