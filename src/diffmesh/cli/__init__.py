"""The ``diffmesh`` command line: ``diffmesh list | infer | demo | train | eval | inspect | info | embed | pose | action | view``."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Sequence

logger = logging.getLogger("diffmesh")

#: Names of the settings (and camera) arguments that errors quote, as the flags of infer, demo, pose and
#: embed that set them (:func:`main` prints every error through :func:`in_flag_names`).
_FLAG_OF = {
    "max_people": "--max-people", "person": "--person", "threads": "--threads", "detector_threads": "--detector-threads",
    "detector_blend": "--detector-blend", "detector_model": "--detector-model", "fov_y_deg": "--fov", "focal_px": "--focal",
    "max_gap": "--max-gap", "normalization": "--normalization", "track_id": "--track-id",
}  # fmt: skip
# a name where an error quotes it (before "must" or "="), never a word of prose ("one person")
_QUOTED_NAME = re.compile(r"(?<![\w-])(" + "|".join(_FLAG_OF) + r")(?=\s+must\b|=)")


def in_flag_names(message: str) -> str:
    """``message`` with the settings' argument names replaced by the flags a command-line user typed
    (``max_people must be ...`` -> ``--max-people must be ...``)."""
    return _QUOTED_NAME.sub(lambda m: _FLAG_OF[m[1]], message)


def _cmd_list(args: argparse.Namespace) -> int:
    from diffmesh.registry import get_spec, list_models

    for name in list_models():
        spec = get_spec(name)
        source = "packaged weights (synthetic-trained)" if spec.weights else spec.official_config
        print(f"{name:34s} {spec.task:7s} {source:40s} {spec.description}")
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

    from diffmesh.cli import action, embed, info, infer, pose, train, view

    infer.register(sub)  # infer, demo
    embed.register(sub)
    pose.register(sub)
    action.register(sub)
    train.register(sub)  # train, eval
    info.register(sub)
    view.register(sub)

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
    except (ValueError, OSError, ImportError, TypeError, FloatingPointError) as err:  # OSError: missing, unreadable, unwritable files
        if args.verbose:
            raise
        print(f"diffmesh: error: {in_flag_names(str(err))}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
