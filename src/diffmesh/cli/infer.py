"""``diffmesh infer VIDEO -o OUT`` and ``diffmesh demo``: argument parsing and progress only.

The work is done by :func:`diffmesh.pipelines.infer.run`; this module turns arguments into its
settings and reports progress per stage on stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from importlib import resources
from pathlib import Path

logger = logging.getLogger("diffmesh.cli")

SAMPLE_CLIP = "sample_clip.mp4"


def sample_clip_path() -> Path:
    """The short walking clip shipped in the package (``diffmesh/assets/sample_clip.mp4``)."""
    p = Path(str(resources.files("diffmesh") / "assets" / SAMPLE_CLIP))
    if not p.is_file():
        raise FileNotFoundError(f"the sample clip {str(p)!r} is missing from this install; reinstall diffmesh")
    return p


class _StageProgress:
    """Prints ``[stage] done/total`` per stage: in place on a terminal, every 25 % otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last: dict[str, int] = {}
        self.t0: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.t0.setdefault(stage, time.perf_counter())
        quarter = 4 * done // max(total, 1)
        if self.tty:
            rate = done / max(time.perf_counter() - self.t0[stage], 1e-6)
            end = "\n" if done >= total else ""
            sys.stderr.write(f"\r[{stage:6s}] {done}/{total} frames ({rate:.0f} frames/s){end}")
            sys.stderr.flush()
        elif self.last.get(stage) != quarter:
            self.last[stage] = quarter
            logger.info("[%s] %d/%d frames", stage, done, total)


def add_infer_arguments(p: argparse.ArgumentParser, video: bool = True) -> None:
    if video:
        p.add_argument("video", help="input video file (anything FFmpeg reads: mp4, mov, avi, mkv, ...)")
    g = p.add_argument_group("model")
    g.add_argument("--checkpoint", default=None, help="official mesh checkpoint (.bin); default: the package's default model")
    g.add_argument("--config", default=None, help="the checkpoint's official YAML config")
    g.add_argument("--data-root", default=None, help="official data/mesh folder: SMPL instead of the open body model (with --checkpoint/--config)")
    g.add_argument("--device", default="cpu", help="torch device for the model (cpu, cuda)")
    g.add_argument("--flip", action="store_true", help="flip test-time augmentation (2x model cost)")
    g.add_argument("--no-fast", action="store_true", help="float32 everywhere instead of bf16 matmuls on CPU")
    g = p.add_argument_group("input")
    g.add_argument("--keypoints", default=None, help="AlphaPose Halpe-26/COCO-17 JSON for this video instead of the detector")
    g.add_argument("--track-id", type=int, default=None, help="with --keypoints: keep only this AlphaPose track (idx)")
    g.add_argument("--start", type=int, default=0, help="first frame (0-based)")
    g.add_argument("--end", type=int, default=None, help="stop before this frame")
    g.add_argument("--fov", type=float, default=None, help="vertical field of view in degrees (default 50)")
    g.add_argument("--focal", type=float, default=None, help="focal length in pixels, if known (overrides --fov)")
    g.add_argument("--max-gap", type=int, default=10, help="interpolate up to this many missing frames; longer gaps split")
    g = p.add_argument_group("outputs")
    g.add_argument("--side-view", action="store_true", help="overlay.mp4 also shows the mesh from the side")
    g.add_argument("--no-overlay", action="store_true", help="do not render overlay.mp4")
    g.add_argument("--no-animation", action="store_true", help="do not write animation.glb / motion.bvh")
    g.add_argument("--obj", action="store_true", help="also write one OBJ mesh per frame into obj/")
    g.add_argument("--render-backend", default="auto", choices=("auto", "opengl", "torch"))
    g.add_argument("--no-cache", action="store_true", help="recompute every stage (ignore OUT/.cache)")
    g.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch CPU threads for the model (0: torch default, one per core); 1 is faster when other "
        "processes keep the cores busy (results are the same)",
    )


def _run(args: argparse.Namespace, video: str, out: str) -> int:
    import os

    import torch

    # mediapipe's C++ logs harmless INFO/WARNING lines (XNNPACK, feedback manager) to stderr;
    # the command line keeps stderr for our progress and errors. Set here, at the edge, not in the library.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    from diffmesh.pipelines.infer import InferSettings, load_model, run

    if args.threads:
        torch.set_num_threads(args.threads)
    settings = InferSettings(
        start=args.start,
        end=args.end,
        keypoints_file=args.keypoints,
        track_id=args.track_id,
        max_gap=args.max_gap,
        flip=args.flip,
        fov_y_deg=args.fov,
        focal_px=args.focal,
        fast=not args.no_fast,
        device=args.device,
    )
    bundle = load_model(args.checkpoint, args.config, args.data_root, args.device)
    summary = run(
        video,
        out,
        settings,
        bundle,
        side_view=args.side_view,
        overlay=not args.no_overlay,
        animation=not args.no_animation,
        obj=args.obj,
        render_backend=args.render_backend,
        use_cache=not args.no_cache,
        progress=_StageProgress(),
    )
    fps = summary.frames_processed / max(summary.stage_seconds.get("total", 0.0), 1e-9)
    print(
        f"{summary.frames_processed} frames ({summary.frames_without_person} without a person) in "
        f"{summary.stage_seconds['total']:.1f} s ({fps:.1f} frames/s) -> {summary.output_dir}/: {', '.join(summary.outputs)}"
    )
    if not summary.trained:
        print("note: no trained weights yet: the meshes are placed on the person but their pose is not recovered")
    return 0


def cmd_infer(args: argparse.Namespace) -> int:
    """``diffmesh infer VIDEO -o OUT``."""
    return _run(args, args.video, args.output)


def cmd_demo(args: argparse.Namespace) -> int:
    """``diffmesh demo [-o OUT]``: the full pipeline on the shipped sample clip."""
    clip = sample_clip_path()
    logger.info("demo: running the pipeline on the shipped sample clip %s", clip)
    return _run(args, str(clip), args.output)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``infer`` and ``demo`` subcommands."""
    p = sub.add_parser("infer", help="recover 3-D meshes from a video (outputs: result.npz, overlay.mp4, animation.glb, ...)")
    add_infer_arguments(p)
    p.add_argument("-o", "--output", required=True, help="output folder (created)")
    p.set_defaults(func=cmd_infer)

    p = sub.add_parser("demo", help="run the video pipeline on the shipped sample clip")
    add_infer_arguments(p, video=False)
    p.add_argument("-o", "--output", default="diffmesh_demo", help="output folder (default ./diffmesh_demo)")
    p.set_defaults(func=cmd_demo)
