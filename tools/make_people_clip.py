"""Make ``tests/data/people_clip.mp4``: two people side by side, the second entering mid-clip.

The test video of :mod:`diffmesh.pipelines.people` (multi-person keypoints). Composed only from
renders already in this repository: two clips of ``benchmarks/data/video_v1`` (Anny bodies in
procedural rooms, made by ``tools/make_video_benchmark.py``; sources and terms in
``benchmarks/data/PROVENANCE.md``; no third-party footage):

* left half, ``x < 320``: ``08_boxing.mp4`` (a boxer standing in place), columns 160..480 of
  the source, every frame;
* right half, ``x >= 320``: ``12_kick.mp4`` (a kicker), columns 170..490. Before frame
  :data:`ENTER` the right half shows that scene *without* its person (the person's box, from
  ``12_kick.npz``, inpainted with OpenCV over the union of the clip's boxes, in frame 0), so the
  kicker appears at frame :data:`ENTER` (a cut, as when someone steps out from behind a wall).

640x480, 30 fps, :data:`FRAMES` frames, H.264 crf 26 through :class:`diffmesh.io.video.VideoWriter`
(about 36 KB). Deterministic up to the encoder. Ground truth for the tests: the left person's
keypoints lie in ``x < 320``, the right person's in ``x >= 320``; the right person is visible
from frame :data:`ENTER` on.

    python tools/make_people_clip.py [--out tests/data/people_clip.mp4]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from diffmesh.io.video import VideoWriter, iter_frames

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "benchmarks" / "data" / "video_v1"

#: Frames in the clip, frame rate, and the size of the output (each source contributes one half).
FRAMES, FPS, WIDTH, HEIGHT = 48, 30.0, 640, 480
#: First frame in which the right person is visible.
ENTER = 15
#: (source clip, first source column) of the left and right halves; each half is WIDTH // 2 wide.
LEFT = ("08_boxing", 160)
RIGHT = ("12_kick", 170)


def _half(name: str, x0: int) -> list[np.ndarray]:
    frames = [f.image for f in iter_frames(SOURCES / f"{name}.mp4", 0, FRAMES, threads=1)]
    if len(frames) != FRAMES or frames[0].shape[:2] != (HEIGHT, WIDTH):
        raise ValueError(f"{name}.mp4: expected {FRAMES} frames of {WIDTH}x{HEIGHT}, got {len(frames)} of {frames[0].shape}")
    return [f[:, x0 : x0 + WIDTH // 2] for f in frames]


def _empty_scene(name: str, x0: int, image: np.ndarray) -> np.ndarray:
    """``image`` (one half of a frame of ``name``) with the person inpainted away."""
    import cv2

    boxes = np.load(SOURCES / f"{name}.npz")["bbox_xyxy"][:FRAMES]  # [T, 4] x0 y0 x1 y1 in source pixels
    pad = 25  # the rendered shadow and anti-aliased edges reach beyond the joint box
    left, top = int(boxes[:, 0].min()) - x0 - pad, int(boxes[:, 1].min()) - pad
    right, bottom = int(boxes[:, 2].max()) - x0 + pad, int(boxes[:, 3].max()) + pad
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[max(top, 0) : bottom, max(left, 0) : right] = 255
    return cv2.inpaint(np.ascontiguousarray(image), mask, 9, cv2.INPAINT_TELEA)


def make_people_clip(out: Path) -> None:
    left = _half(*LEFT)
    right = _half(*RIGHT)
    empty = _empty_scene(*RIGHT, right[0])
    with VideoWriter(out, FPS, WIDTH, HEIGHT, crf=26, threads=1) as writer:
        for t in range(FRAMES):
            writer.write(np.concatenate([left[t], right[t] if t >= ENTER else empty], axis=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "people_clip.mp4")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    make_people_clip(args.out)
    logging.info("wrote %s (%d bytes)", args.out, args.out.stat().st_size)


if __name__ == "__main__":
    main()
