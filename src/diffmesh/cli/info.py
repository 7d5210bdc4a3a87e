"""``diffmesh info``: what this machine will run — versions, CPU, acceleration plan, render backend, threads."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

__all__ = ["collect_info", "register"]


def collect_info(mode: str = "auto") -> dict[str, Any]:
    """The facts ``diffmesh info`` reports, as a JSON-ready dict."""
    import torch

    from diffmesh.accel import cpu_capability, cpu_model_name, make_plan
    from diffmesh.pipelines.blazepose_models import DEFAULT_DETECTOR_MODEL, model_status
    from diffmesh.pipelines.outputs import package_versions
    from diffmesh.pipelines.threads import default_threads
    from diffmesh.render.opengl import opengl_unavailable_reason

    cap = cpu_capability()
    gl_reason = opengl_unavailable_reason()
    return {
        "versions": package_versions(),
        "cpu": {
            "model": cpu_model_name(),
            "vendor": cap.vendor,
            "torch_capability": cap.isa,
            "native_bf16": cap.native_bf16,
            "capability_source": cap.source,
        },
        "acceleration": asdict(make_plan(mode, "cpu", cap)),
        "detector": {"default": DEFAULT_DETECTOR_MODEL} | model_status(),
        "render": {"backend": "opengl" if gl_reason is None else "torch", "opengl_unavailable": gl_reason},
        "threads": {"torch": torch.get_num_threads(), "pipeline_default": default_threads()},
        "cuda": torch.cuda.is_available(),
    }


def _as_text(info: dict[str, Any]) -> str:
    lines = []
    for section, values in info.items():
        if isinstance(values, dict):
            lines.append(f"{section}:")
            lines.extend(f"  {key:20s} {'-' if value is None else value}" for key, value in values.items())
        else:
            lines.append(f"{section}: {values}")
    return "\n".join(lines)


def _cmd_info(args: argparse.Namespace) -> int:
    info = collect_info(args.mode)
    print(json.dumps(info, indent=2) if args.json else _as_text(info))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``info`` subcommand."""
    from diffmesh.accel import MODES

    p = sub.add_parser("info", help="versions, CPU capability, acceleration plan, render backend and threads")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--mode", default="auto", choices=MODES, help="the acceleration mode to plan (default: auto, as `infer`)")
    p.set_defaults(func=_cmd_info)
