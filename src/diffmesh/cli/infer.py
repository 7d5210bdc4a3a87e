"""``diffmesh infer VIDEO -o OUT`` and ``diffmesh demo``: argument parsing and progress only.

The work is done by :func:`diffmesh.pipelines.infer.run`; this module turns arguments into its
settings and model choice (:func:`diffmesh.pipelines.load_model`) and reports progress per
stage on stderr (:class:`StageProgress`).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

from diffmesh.pipelines.blazepose_models import DEFAULT_DETECTOR_MODEL, DETECTOR_MODELS

logger = logging.getLogger("diffmesh.cli")

SAMPLE_CLIP = "sample_clip.mp4"


def sample_clip_path() -> Path:
    """The short walking clip shipped in the package (``diffmesh/assets/sample_clip.mp4``)."""
    p = Path(str(resources.files("diffmesh") / "assets" / SAMPLE_CLIP))
    if not p.is_file():
        raise FileNotFoundError(f"the sample clip {str(p)!r} is missing from this install; reinstall diffmesh")
    return p


class StageProgress:
    """Progress of each stage (``detect``, ``model``, ``render``) on stderr.

    On a terminal: a live tqdm bar per stage with rate and ETA. Otherwise (a log file, CI): a
    plain log line every :attr:`LOG_EVERY_S` seconds while a stage runs, and one when a stage that
    logged ends; quick stages log nothing.
    """

    #: Seconds between log lines when stderr is not a terminal.
    LOG_EVERY_S = 10.0

    def __init__(self, terminal: bool | None = None) -> None:
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        # measured now: while the detector runs, fd 2 is a pipe (diffmesh.pipelines.native_logs)
        self.columns = shutil.get_terminal_size().columns
        self.bars: dict[str, Any] = {}
        self.started: dict[str, float] = {}
        self.logged: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.terminal:
            self._bar(stage, done, total)
        else:
            self._log(stage, done, total)

    def _bar(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = tqdm(total=total, desc=f"{stage:6s}", unit="frame", file=sys.stderr, ncols=self.columns)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
            del self.bars[stage]

    def _log(self, stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        t0 = self.started.setdefault(stage, now)
        if done >= total:
            self.started.pop(stage)
            if self.logged.pop(stage, None) is not None:
                logger.info("[%s] %d/%d frames in %.1f s", stage, done, total, now - t0)
        elif now - self.logged.get(stage, t0) >= self.LOG_EVERY_S:
            self.logged[stage] = now
            rate = done / max(now - t0, 1e-9)
            logger.info("[%s] %d/%d frames, %.1f frames/s, %.0f s left", stage, done, total, rate, (total - done) / max(rate, 1e-9))

    def close(self) -> None:
        """Close bars of stages that did not finish (a failed run)."""
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()


def add_infer_arguments(p: argparse.ArgumentParser, video: bool = True) -> None:
    if video:
        p.add_argument("video", help="input video file (anything FFmpeg reads: mp4, mov, avi, mkv, ...)")
    g = p.add_argument_group("model")
    g.add_argument("--model", default=None, help="a packaged model by name (`diffmesh list`); default: the package's default model")
    g.add_argument("--checkpoint", default=None, help="official mesh checkpoint (.bin); default: the package's default model")
    g.add_argument("--config", default=None, help="the checkpoint's official YAML config")
    g.add_argument("--data-root", default=None, help="official data/mesh folder: SMPL instead of the open body model (with --checkpoint/--config)")
    g.add_argument("--device", default="cpu", help="torch device for the model (cpu, cuda)")
    g.add_argument("--flip", action="store_true", help="flip test-time augmentation (2x model cost)")
    g.add_argument("--normalization", choices=("segment", "window"), default=None,
                   help="which frames share one 2-D crop box: the whole segment (official) or each network window "
                        "(what the packaged weights were trained with); default: the model's own")
    g.add_argument("--detector-blend", type=float, default=None, metavar="W",
                   help="turn the body's limbs toward the average of the network's joints and the detector's own 3-D "
                        "joints, the detector's share W in [0, 1] (0: off); default: the model's own (packaged weights "
                        "0.5, official checkpoints 0)")
    g.add_argument("--no-fast", action="store_true", help="float32 everywhere (fast mode uses bf16 products only on CPUs with native bf16; "
                   "`diffmesh info` shows this machine's plan)")
    g = p.add_argument_group("input")
    g.add_argument("--keypoints", default=None, help="AlphaPose Halpe-26/COCO-17 JSON for this video instead of the detector")
    g.add_argument("--track-id", type=int, default=None, help="with --keypoints: keep only this AlphaPose track (idx)")
    g.add_argument("--detector-model", choices=DETECTOR_MODELS, default=DEFAULT_DETECTOR_MODEL,
                   help="BlazePose landmark model: lite (fastest), full (default, inside mediapipe's wheel) or heavy (most "
                   "accurate, ~3x the detector's time); docs/benchmarks.md 5.5 measures each")
    g.add_argument("--start", type=int, default=0, help="first frame (0-based)")
    g.add_argument("--end", type=int, default=None, help="stop before this frame")
    g.add_argument("--fov", type=float, default=None, help="vertical field of view in degrees (default 50)")
    g.add_argument("--focal", type=float, default=None, help="focal length in pixels, if known (overrides --fov)")
    g.add_argument("--max-gap", type=int, default=10, help="interpolate up to this many missing frames; longer gaps split")
    g.add_argument("--max-people", type=int, default=None, help="follow at most N people at once (default: everyone found; 1: "
                   "one person, the fastest). With several, each gets OUT/people/<track id>/, all in one world frame, and the "
                   "overlay draws everyone")  # fmt: skip
    g.add_argument("--person", type=int, default=None, help="keep only the person with this track id (summary.json lists them)")
    g = p.add_argument_group("world frame")
    g.add_argument("--static-camera", action="store_true", help="the camera does not move: skip measuring its rotation and "
                   "travel from the background (faster; a panning camera then turns the world)")
    g.add_argument("--no-camera-travel", action="store_true", help="measure only how the camera turns, not how it travels "
                   "(skips a second decode; a travelling camera's motion then stays in the trajectories)")
    g.add_argument("--no-world", action="store_true", help="camera-frame results only: no floor, world frame or foot contacts")
    g.add_argument("--no-foot-cleanup", action="store_true", help="keep the world motion as estimated (planted feet may slide)")
    if video:
        g = p.add_argument_group("live")
        g.add_argument("--live", action="store_true", help="VIDEO is a live source (camera /dev/video0, stream URL, or a "
                       "file read at its own frame rate): results as they come in OUT/live.jsonl")  # fmt: skip
        g.add_argument("--live-stride", type=int, default=4, help="frames between network calls in live mode (default 4)")
        g.add_argument("--live-delay", type=int, default=0, metavar="FRAMES", help="live mode: each result waits for this "
                       "many newer frames, which the network sees (smoother, more accurate; default 0; at most 12 with "
                       "the default stride)")  # fmt: skip
        g.add_argument("--live-seconds", type=float, default=None, help="stop a live run after this many seconds")
        g.add_argument("--live-no-pacing", action="store_true", help="read a file as fast as it decodes (no dropped frames)")
        g.add_argument("--live-preview", default=None, metavar="[HOST:]PORT", help="live mode: serve the newest frame "
                       "with the body drawn on it at http://HOST:PORT/ (MJPEG; any browser; HOST defaults to 127.0.0.1)")
        g.add_argument("--vmc", default=None, metavar="HOST:PORT", help="live mode: also send each frame's body to an "
                       "avatar program over the VMC protocol (OSC/UDP), e.g. 127.0.0.1:39539 (VSeeFace, VMC4B, EVMC4U)")
    g = p.add_argument_group("outputs")
    g.add_argument("--side-view", action="store_true", help="overlay.mp4 also shows the mesh from the side")
    g.add_argument("--no-overlay", action="store_true", help="do not render overlay.mp4")
    g.add_argument("--no-animation", action="store_true", help="do not write animation.glb / motion.bvh")
    g.add_argument("--obj", action="store_true", help="also write one OBJ mesh per frame into obj/")
    g.add_argument("--export-frame", choices=("world", "camera"), default="world",
                   help="animation.glb / motion.bvh in the world frame (feet on the floor at y=0; default) or in the "
                   "camera frame turned Y-up")
    g.add_argument("--render-backend", default="auto", choices=("auto", "opengl", "torch"))
    g.add_argument("--no-cache", action="store_true", help="recompute every stage (ignore OUT/.cache)")
    g.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch CPU threads (0: half the cores, at most 4; stays fast when other programs keep the cores "
        "busy). More threads are faster only on a quiet machine; results are the same",
    )
    g.add_argument(
        "--detector-threads",
        type=int,
        default=0,
        metavar="N",
        help="threads of each BlazePose detector that follows a person (0: half the cores, at most 4, for one "
        "person (--max-people 1, --live), else 1). 2 on a quiet 2-core machine makes --max-people 1 about 20%% "
        "faster, on a busy one about 2x slower; results are the same",
    )


def _run(args: argparse.Namespace, video: str, out: str) -> int:
    from diffmesh.pipelines import InferSettings, load_model, run

    settings = InferSettings(
        start=args.start,
        end=args.end,
        keypoints_file=args.keypoints,
        track_id=args.track_id,
        detector_model=args.detector_model,
        max_gap=args.max_gap,
        flip=args.flip,
        normalization=args.normalization,
        detector_blend=args.detector_blend,
        fov_y_deg=args.fov,
        focal_px=args.focal,
        fast=not args.no_fast,
        device=args.device,
        threads=args.threads,
        detector_threads=args.detector_threads,
        world=not args.no_world,
        static_camera=args.static_camera,
        camera_travel=not args.no_camera_travel,
        foot_cleanup=not args.no_foot_cleanup,
        max_people=args.max_people,
        person=args.person,
    )
    bundle = load_model(args.checkpoint, args.config, args.data_root, args.device, args.model,
                        detector_3d=args.keypoints is None)  # fmt: skip
    progress = StageProgress()
    try:
        summary = run(
            video,
            out,
            settings,
            bundle,
            side_view=args.side_view,
            overlay=not args.no_overlay,
            animation=not args.no_animation,
            obj=args.obj,
            export_frame=args.export_frame,
            render_backend=args.render_backend,
            use_cache=not args.no_cache,
            progress=progress,
        )
    finally:
        progress.close()
    fps = summary.frames_processed / max(summary.stage_seconds.get("total", 0.0), 1e-9)
    print(
        f"{summary.frames_processed} frames ("
        f"{f'{summary.frames_without_person} without a person' if summary.frames_without_anyone is None else f'{summary.frames_without_anyone} without anyone'}) in "
        f"{summary.stage_seconds['total']:.1f} s ({fps:.1f} frames/s) -> {summary.output_dir}/: {', '.join(summary.outputs)}"
    )
    if len(summary.people) > 1:  # one person: the line above says it all
        for person in summary.people:
            print(f"person {person['track_id']}: detected in {person['frames_detected']} frames from frame "
                  f"{person['first_frame']} -> {summary.output_dir}/{person['output']}/")
    if not summary.trained:
        print("note: no trained weights yet: the meshes are placed on the person but their pose is not recovered")
    return 0


def cmd_infer(args: argparse.Namespace) -> int:
    """``diffmesh infer VIDEO -o OUT`` (``--live SOURCE``: :func:`_run_live`)."""
    if args.live:
        return _run_live(args)
    if args.vmc is not None:
        raise ValueError(f"--vmc {args.vmc!r} sends live results: add --live")
    if args.live_preview is not None:
        raise ValueError(f"--live-preview {args.live_preview!r} shows a live run: add --live")
    if args.live_delay:
        raise ValueError(f"--live-delay {args.live_delay} delays live results: add --live (an offline run sees every frame)")
    return _run(args, args.video, args.output)


def _run_live(args: argparse.Namespace) -> int:
    """``diffmesh infer SOURCE --live -o OUT``: causal windows, results as they come (docs/inference.md)."""
    from diffmesh.pipelines import InferSettings, load_model
    from diffmesh.pipelines.live import run_live
    from diffmesh.pipelines.live_preview import parse_preview_address
    from diffmesh.pipelines.model import prepare_model
    from diffmesh.pipelines.stages import detector_blend_weight
    from diffmesh.pipelines.threads import default_threads, torch_threads
    from diffmesh.pipelines.vmc import parse_vmc_address

    if args.max_people is not None or args.person is not None:
        raise ValueError("--live follows one person; leave out --max-people/--person, or run on a file without --live")
    if args.vmc is not None:
        parse_vmc_address(args.vmc)  # a bad address fails before the model loads
    if args.live_preview is not None:
        parse_preview_address(args.live_preview)
    bundle = load_model(args.checkpoint, args.config, args.data_root, args.device, args.model)
    settings = InferSettings(fast=not args.no_fast, device=args.device, threads=args.threads, detector_blend=args.detector_blend,
                             max_people=1, detector_threads=args.detector_threads)  # live follows one person  # fmt: skip
    with torch_threads(settings.threads or default_threads()):
        model = prepare_model(bundle, settings)
        summary = run_live(args.video, args.output, model, bundle.body_model, args.live_stride,
                           realtime=not args.live_no_pacing, max_seconds=args.live_seconds, vmc=args.vmc,
                           detector_model=args.detector_model, detector_blend=detector_blend_weight(bundle, settings),
                           preview=args.live_preview, delay=args.live_delay,
                           detector_threads=settings.follower_threads)  # fmt: skip
    print(
        f"live: {summary.frames_processed} of {summary.frames_read} frames processed ({summary.frames_dropped} dropped, "
        f"{summary.processed_fps:.1f} frames/s), latency median {summary.latency_ms_median:.0f} ms, "
        f"95th percentile {summary.latency_ms_p95:.0f} ms -> {args.output}/live.jsonl"
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """``diffmesh demo [-o OUT]``: the full pipeline on the shipped sample clip."""
    clip = sample_clip_path()
    logger.info("demo: running the pipeline on the shipped sample clip %s", clip)
    return _run(args, str(clip), args.output)


def add_source_arguments(p: argparse.ArgumentParser) -> None:
    """The video, output and keypoint arguments shared by ``embed``, ``pose`` and ``action``."""
    p.add_argument("video", help="input video file (anything FFmpeg reads)")
    p.add_argument("-o", "--output", required=True, help="output folder (created)")
    p.add_argument("--keypoints", default=None, help="AlphaPose Halpe-26/COCO-17 JSON for this video instead of the detector")
    p.add_argument("--track-id", type=int, default=None, help="with --keypoints: keep only this AlphaPose track (idx)")
    p.add_argument("--detector-model", choices=DETECTOR_MODELS, default=DEFAULT_DETECTOR_MODEL,
                   help="BlazePose landmark model: lite (fastest), full (default, inside mediapipe's wheel) or heavy (most "
                   "accurate, ~3x the detector's time); docs/benchmarks.md 5.5 measures each")
    p.add_argument("--start", type=int, default=0, help="first frame (0-based)")
    p.add_argument("--end", type=int, default=None, help="stop before this frame")
    p.add_argument("--max-gap", type=int, default=10, help="interpolate up to this many missing frames; longer gaps split")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: half the cores, at most 4)")


def source_settings(args: argparse.Namespace) -> Any:
    """The :class:`~diffmesh.pipelines.InferSettings` of :func:`add_source_arguments`' arguments."""
    from diffmesh.pipelines import InferSettings

    return InferSettings(start=args.start, end=args.end, keypoints_file=args.keypoints, track_id=args.track_id,
                         detector_model=args.detector_model, max_gap=args.max_gap, threads=args.threads)  # fmt: skip


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
