"""Rolled copies of the held-out video benchmark: each clip seen by its camera turned about its optical
axis (a tilted, "Dutch" camera), to measure what the world stage's floor does when the camera is not
level (docs/benchmarks.md §6.6). A build-time tool; the copies are not committed.

    python tools/roll_video_benchmark.py OUT [--degrees 10] [--clips benchmarks/data/video_v1]

For a pinhole camera with square pixels, turning the camera by an angle about its optical axis turns
the image by that angle about the principal point, exactly; scaling it about that point is a longer
focal length. Each frame is rotated and enlarged just enough that no corner falls outside the
original image (black wedges would be straight edges to the line search), and the truth is turned
and its focal length scaled with it (``K``, ``R_w2c``, ``t_w2c``, ``joints_cam``, ``joints_2d``,
``bbox_xyxy``, ``height_px``). Clips alternate the sign of the roll (even: +, odd: -).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import cv2
import numpy as np

from diffmesh.io.video import VideoWriter, iter_frames, probe_video

logger = logging.getLogger("roll_video_benchmark")

CLIPS = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "video_v1"


def roll_clip(video: Path, truth: Path, out: Path, degrees: float) -> None:
    """Write ``out/<name>.mp4`` and ``out/<name>.npz``: the clip and its truth, the camera rolled by ``degrees``."""
    g = dict(np.load(truth, allow_pickle=True))
    K = g["K"].astype(np.float64)
    if abs(K[0, 0] - K[1, 1]) > 1e-6 * K[0, 0] or abs(K[0, 1]) > 0:
        raise ValueError(f"{truth}: a roll is an image rotation only for square pixels and no skew, got K={K.tolist()}")
    info = probe_video(video)
    # the smallest zoom about the principal point that keeps the rotated image covering the frame
    cx, cy = float(K[0, 2]), float(K[1, 2])
    corners = np.array([[0, 0], [info.width - 1, 0], [0, info.height - 1], [info.width - 1, info.height - 1]], float) - [cx, cy]
    r = np.radians(degrees)
    back = corners @ np.array([[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]])  # each output corner in the source
    half = np.array([min(cx, info.width - 1 - cx), min(cy, info.height - 1 - cy)])
    zoom = float(np.max(np.abs(back) / half))
    M = cv2.getRotationMatrix2D((cx, cy), degrees, zoom)  # [2, 3]: image points -> rolled, zoomed image
    Rz = np.eye(3)
    Rz[:2, :2] = M[:, :2] / zoom  # the camera's turn: K' Rz K^-1 is M with K' = K, focal lengths times zoom
    with VideoWriter(out / video.name, info.fps, info.width, info.height, threads=1) as writer:
        for frame in iter_frames(video, threads=1):
            writer.write(cv2.warpAffine(frame.image, M, (info.width, info.height), flags=cv2.INTER_LINEAR))
    g["K"] = (K * np.array([[zoom, 1.0, 1.0], [1.0, zoom, 1.0], [1.0, 1.0, 1.0]])).astype(g["K"].dtype)
    g["height_px"] = (g["height_px"] * zoom).astype(g["height_px"].dtype)
    g["R_w2c"] = np.einsum("ij,njk->nik", Rz, g["R_w2c"]).astype(g["R_w2c"].dtype)
    g["t_w2c"] = (g["t_w2c"] @ Rz.T).astype(g["t_w2c"].dtype)
    g["joints_cam"] = (g["joints_cam"] @ Rz.T).astype(g["joints_cam"].dtype)
    g["joints_2d"] = (g["joints_2d"] @ M[:, :2].T + M[:, 2]).astype(g["joints_2d"].dtype)
    x0, y0, x1, y1 = np.moveaxis(g["bbox_xyxy"].astype(np.float64), -1, 0)
    corners = np.stack([np.stack([x0, y0], -1), np.stack([x1, y0], -1), np.stack([x0, y1], -1), np.stack([x1, y1], -1)], 1)
    turned = corners @ M[:, :2].T + M[:, 2]  # [N, 4, 2]
    g["bbox_xyxy"] = np.concatenate([turned.min(1), turned.max(1)], -1).astype(g["bbox_xyxy"].dtype)
    camera = json.loads(str(g["camera"]))
    camera["roll_deg"] = degrees  # about the optical axis
    camera["focal_px"] = float(g["K"][0, 0])
    g["camera"] = np.array(json.dumps(camera))
    np.savez(out / truth.name, **g)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--degrees", type=float, default=10.0)
    p.add_argument("--clips", type=Path, default=CLIPS)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    videos = sorted(args.clips.glob("*.mp4"))
    if not videos:
        raise SystemExit(f"no clips (*.mp4 with a *.npz beside) in {args.clips}")
    for i, video in enumerate(videos):
        degrees = args.degrees if i % 2 == 0 else -args.degrees
        roll_clip(video, video.with_suffix(".npz"), args.out, degrees)
        logger.info("%s rolled %+.1f degrees", video.stem, degrees)


if __name__ == "__main__":
    main()
