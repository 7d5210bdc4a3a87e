"""The ``diffmesh`` command line: ``diffmesh list | demo | inspect``."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence

logger = logging.getLogger("diffmesh")


def _cmd_list(args: argparse.Namespace) -> int:
    from diffmesh.registry import get_spec, list_models

    for name in list_models():
        spec = get_spec(name)
        print(f"{name:34s} {spec.task:7s} {spec.official_config:40s} {spec.description}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    """Build a model, run it on the built-in walking example, print shapes and timing."""
    import torch

    import diffmesh
    from diffmesh.examples import walking_keypoints_2d

    torch.set_num_threads(args.threads) if args.threads else None
    t0 = time.perf_counter()
    model = diffmesh.create_model(args.model, body_model=args.body_model)
    build_s = time.perf_counter() - t0
    spec = diffmesh.get_spec(args.model)
    logger.warning("model %r is randomly initialised (no weights are shipped yet): shapes and timing only", args.model)
    frames = 16 if spec.task == "mesh" else args.frames
    x = torch.from_numpy(walking_keypoints_2d(frames))[None].repeat(args.batch, 1, 1, 1)
    if spec.task == "action":
        x = x[:, None]
    kwargs = {}
    if spec.architecture == "diffmesh_refine":
        kwargs = {"init_pose": torch.zeros(args.batch, frames, 72), "init_shape": torch.zeros(args.batch, frames, 10)}
    with torch.inference_mode():
        model(x, **kwargs)  # warm-up
        t0 = time.perf_counter()
        out = model(x, **kwargs)
        run_s = time.perf_counter() - t0
    print(f"model      {args.model} ({sum(p.numel() for p in model.parameters()):,} parameters, built in {build_s:.2f} s)")
    print(f"input      {list(x.shape)}")
    if hasattr(out, "verts"):
        for field in ("theta", "verts", "kp_3d"):
            print(f"{field:10s} {list(getattr(out, field).shape)}")
        print(f"body model {model.body_model.name} ({model.body_model.num_vertices} vertices)")
    else:
        print(f"output     {list(out.shape)}")
    n_frames = args.batch * frames
    print(f"time       {run_s * 1000:.1f} ms for {n_frames} frames ({n_frames / run_s:.1f} frames/s, {torch.get_num_threads()} threads)")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    """Load an official checkpoint strictly and report what it is."""
    from diffmesh.convert import load_official

    model = load_official(args.checkpoint, args.config, args.data_root)
    print(f"checkpoint {args.checkpoint}: {type(model).__name__}, {sum(p.numel() for p in model.parameters()):,} parameters")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diffmesh", description="Human mesh recovery from videos (DiffMesh / MotionBERT).")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list the registered model variants")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("demo", help="run a model on the built-in example and print shapes and timing")
    p.add_argument("--model", default="diffmesh", help="registered model name (see `diffmesh list`)")
    p.add_argument("--body-model", default="open", help="'open' (shipped), an SMPL .pkl/.npz file or an official data/mesh folder")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--frames", type=int, default=16, help="clip length for non-mesh models")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("inspect", help="load an official checkpoint strictly and report it")
    p.add_argument("checkpoint")
    p.add_argument("--config", required=True, help="the official YAML config")
    p.add_argument("--data-root", default=None, help="official data/mesh folder (mesh checkpoints)")
    p.set_defaults(func=_cmd_inspect)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except (ValueError, FileNotFoundError, ImportError, TypeError) as err:
        if args.verbose:
            raise
        print(f"diffmesh: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
