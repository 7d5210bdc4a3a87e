"""``diffmesh embed VIDEO -o OUT``: the DSTformer motion representation of a video (argument parsing only).

The work is done by :func:`diffmesh.pipelines.embed.run_embed`.
"""

from __future__ import annotations

import argparse

from diffmesh.cli.infer import add_source_arguments, source_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``embed`` subcommand."""
    p = sub.add_parser("embed", help="the DSTformer motion representation [T, 17, dim_rep] of a video (embedding.npz)")
    add_source_arguments(p)
    p.add_argument("--checkpoint", default=None, help="official MotionBERT / DiffMesh checkpoint (.bin): its encoder; "
                   "default: the packaged weights' encoder (synthetic-trained)")  # fmt: skip
    p.add_argument("--config", default=None, help="the checkpoint's official YAML config")
    p.set_defaults(func=cmd_embed)


def cmd_embed(args: argparse.Namespace) -> int:
    from diffmesh.cli.infer import StageProgress
    from diffmesh.pipelines.embed import load_encoder, run_embed

    settings = source_settings(args)
    encoder = load_encoder(args.checkpoint, args.config)
    progress = StageProgress()
    try:
        path = run_embed(args.video, args.output, settings, encoder, progress)
    finally:
        progress.close()
    print(f"representation of {args.video} ({encoder.name}) -> {path}")
    return 0
