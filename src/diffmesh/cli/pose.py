"""``diffmesh pose VIDEO -o OUT --checkpoint ... --config ...``: 3-D joints per frame (argument parsing only).

The work is done by :func:`diffmesh.pipelines.pose.run_pose` (the official ``infer_wild.py`` recipe).
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``pose`` subcommand."""
    p = sub.add_parser("pose", help="3-D joints (H36M-17) per frame with an official MotionBERT pose checkpoint (X3D.npy)")
    p.add_argument("video", help="input video file (anything FFmpeg reads)")
    p.add_argument("-o", "--output", required=True, help="output folder (created)")
    p.add_argument("--checkpoint", default=None, help="official 3-D pose checkpoint (best_epoch.bin of MB_ft_h36m, "
                   "MB_ft_h36m_global_lite or MB_pretrain)")  # fmt: skip
    p.add_argument("--config", default=None, help="the checkpoint's official YAML config")
    p.add_argument("--pixel", action="store_true", help="the official --pixel normalisation; X3D.npy in pixels")
    p.add_argument("--keypoints", default=None, help="AlphaPose Halpe-26/COCO-17 JSON for this video instead of the detector")
    p.add_argument("--track-id", type=int, default=None, help="with --keypoints: keep only this AlphaPose track (idx)")
    p.add_argument("--start", type=int, default=0, help="first frame (0-based)")
    p.add_argument("--end", type=int, default=None, help="stop before this frame")
    p.add_argument("--max-gap", type=int, default=10, help="interpolate up to this many missing frames; longer gaps split")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: half the cores, at most 4)")
    p.set_defaults(func=cmd_pose)


def cmd_pose(args: argparse.Namespace) -> int:
    from diffmesh.cli.infer import StageProgress
    from diffmesh.pipelines.pose import load_pose_model, run_pose
    from diffmesh.pipelines.settings import InferSettings

    model = load_pose_model(args.checkpoint, args.config)
    settings = InferSettings(start=args.start, end=args.end, keypoints_file=args.keypoints, track_id=args.track_id,
                             max_gap=args.max_gap, threads=args.threads)  # fmt: skip
    progress = StageProgress()
    try:
        path = run_pose(args.video, args.output, model, settings, args.pixel, progress)
    finally:
        progress.close()
    print(f"3-D pose of {args.video} ({model.name}) -> {path} and pose3d.npz")
    return 0
