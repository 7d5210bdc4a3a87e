"""``diffmesh embed VIDEO -o OUT``: the DSTformer motion representation of a video (argument parsing only).

The work is done by :func:`diffmesh.pipelines.embed.run_embed`.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``embed`` subcommand."""
    p = sub.add_parser("embed", help="the DSTformer motion representation [T, 17, dim_rep] of a video (embedding.npz)")
    p.add_argument("video", help="input video file (anything FFmpeg reads)")
    p.add_argument("-o", "--output", required=True, help="output folder (created)")
    p.add_argument("--checkpoint", default=None, help="official MotionBERT / DiffMesh checkpoint (.bin): its encoder; "
                   "default: the packaged weights' encoder (synthetic-trained)")  # fmt: skip
    p.add_argument("--config", default=None, help="the checkpoint's official YAML config")
    p.add_argument("--keypoints", default=None, help="AlphaPose Halpe-26/COCO-17 JSON for this video instead of the detector")
    p.add_argument("--track-id", type=int, default=None, help="with --keypoints: keep only this AlphaPose track (idx)")
    p.add_argument("--start", type=int, default=0, help="first frame (0-based)")
    p.add_argument("--end", type=int, default=None, help="stop before this frame")
    p.add_argument("--max-gap", type=int, default=10, help="interpolate up to this many missing frames; longer gaps split")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: half the cores, at most 4)")
    p.set_defaults(func=cmd_embed)


def cmd_embed(args: argparse.Namespace) -> int:
    from diffmesh.cli.infer import StageProgress
    from diffmesh.pipelines.embed import load_encoder, run_embed
    from diffmesh.pipelines.settings import InferSettings

    settings = InferSettings(start=args.start, end=args.end, keypoints_file=args.keypoints, track_id=args.track_id,
                             max_gap=args.max_gap, threads=args.threads)  # fmt: skip
    encoder = load_encoder(args.checkpoint, args.config)
    progress = StageProgress()
    try:
        path = run_embed(args.video, args.output, settings, encoder, progress)
    finally:
        progress.close()
    print(f"representation of {args.video} ({encoder.name}) -> {path}")
    return 0
