"""``diffmesh action VIDEO --checkpoint ... --config ...``: action classes over time (argument parsing only).

The work is done by :func:`diffmesh.pipelines.action.run_action`.
"""

from __future__ import annotations

import argparse

from diffmesh.cli.infer import add_source_arguments, source_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``action`` subcommand."""
    p = sub.add_parser("action", help="top-k NTU action classes over time with an official action checkpoint (actions.json)")
    add_source_arguments(p)
    p.add_argument("--checkpoint", default=None, help="official action checkpoint (best_epoch.bin of MB_ft_NTU60_xsub, ...)")
    p.add_argument("--config", default=None, help="the checkpoint's official YAML config")
    p.add_argument("--window", type=float, default=3.0, help="seconds per classified window (default 3)")
    p.add_argument("--stride", type=float, default=1.0, help="seconds between window starts (default 1)")
    p.add_argument("--top-k", type=int, default=5, help="classes listed per window (default 5)")
    p.add_argument("--reference", action="append", default=[], metavar="NAME=VIDEO",
                   help="one-shot model (MB_ft_NTU120_oneshot): a reference clip of action NAME; repeat per action")  # fmt: skip
    p.set_defaults(func=cmd_action)


def cmd_action(args: argparse.Namespace) -> int:
    from diffmesh.cli.infer import StageProgress
    from diffmesh.pipelines.action import load_action_model, run_action

    model = load_action_model(args.checkpoint, args.config)
    settings = source_settings(args)
    references = {}
    for item in args.reference:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--reference {item!r}: expected NAME=VIDEO, e.g. --reference wave=wave.mp4")
        references[name] = path
    progress = StageProgress()
    try:
        result = run_action(args.video, args.output, model, settings, args.window, args.stride, args.top_k, progress,
                            references)  # fmt: skip
    finally:
        progress.close()
    print("whole video: " + ", ".join(f"{t['class']} {t['score']:.2f}" for t in result["video"]))
    for w in result["windows"]:
        best = w["top"][0]
        print(f"{w['start_s']:7.2f}-{w['end_s']:.2f} s: {best['class']} ({best['score']:.2f})")
    print(f"-> {args.output}/actions.json")
    return 0
