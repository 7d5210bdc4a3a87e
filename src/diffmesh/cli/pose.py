"""``diffmesh pose VIDEO -o OUT [--checkpoint ... --config ...]``: 3-D joints per frame (argument parsing only).

The work is done by :func:`diffmesh.pipelines.pose.run_pose`: the packaged model (metres) or an
official checkpoint (the official ``infer_wild.py`` recipe).
"""

from __future__ import annotations

import argparse
import dataclasses

from diffmesh.cli.infer import add_source_arguments, source_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``pose`` subcommand."""
    p = sub.add_parser("pose", help="3-D joints (H36M-17) per frame (X3D.npy): the packaged model (metres), or an "
                       "official MotionBERT pose checkpoint")  # fmt: skip
    add_source_arguments(p)
    p.add_argument("--checkpoint", default=None, help="official 3-D pose checkpoint (best_epoch.bin of MB_ft_h36m, "
                   "MB_ft_h36m_global_lite or MB_pretrain); default: the packaged model, whose joints are blended with "
                   "the detector's own 3-D joints (metres)")  # fmt: skip
    p.add_argument("--config", default=None, help="the checkpoint's official YAML config")
    p.add_argument("--detector-blend", type=float, default=None, metavar="W",
                   help="packaged model: the detector's share in [0, 1] (0: the network's joints alone); default 0.5")
    p.add_argument("--pixel", action="store_true", help="the official --pixel normalisation; X3D.npy in pixels (official checkpoints)")
    p.add_argument("--no-overlay", action="store_true", help="skip skeleton.mp4 (the 2-D keypoints beside the 3-D skeleton)")
    p.add_argument("--no-bvh", action="store_true", help="skip motion.bvh (the joints as an animated BVH skeleton)")
    p.set_defaults(func=cmd_pose)


def cmd_pose(args: argparse.Namespace) -> int:
    from diffmesh.cli.infer import StageProgress
    from diffmesh.pipelines.pose import load_pose_model, run_pose

    if args.pixel and args.checkpoint is None:
        raise ValueError("--pixel is the official checkpoints' pixel normalisation; the packaged model writes metres "
                         "(drop --pixel, or pass --checkpoint/--config)")  # fmt: skip
    model = load_pose_model(args.checkpoint, args.config, detector_3d=args.keypoints is None)
    settings = dataclasses.replace(source_settings(args), detector_blend=args.detector_blend)
    progress = StageProgress()
    try:
        path = run_pose(args.video, args.output, model, settings, args.pixel, progress, overlay=not args.no_overlay,
                        bvh=not args.no_bvh)  # fmt: skip
    finally:
        progress.close()
    extra = ("" if args.no_bvh or not (path.parent / "motion.bvh").exists() else ", motion.bvh")
    extra += "" if args.no_overlay else ", skeleton.mp4"
    print(f"3-D pose of {args.video} ({model.name}) -> {path} and pose3d.npz{extra}")
    return 0
