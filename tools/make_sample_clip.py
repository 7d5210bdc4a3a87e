"""Make ``src/diffmesh/assets/sample_clip.mp4``, the clip ``diffmesh demo`` runs on.

The shipped open body model walks across a plain room for 4 s (100 frames, 25 fps, 640x480),
rendered by ``diffmesh.render`` and encoded with PyAV (H.264, crf 23). Everything comes from
this repository: no third-party footage, no licence question. Deterministic up to the encoder.

    python tools/make_sample_clip.py [--out src/diffmesh/assets/sample_clip.mp4]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from diffmesh.pipelines.sample import render_motion_video, walking_motion

FRAMES, FPS, WIDTH, HEIGHT = 100, 25.0, 640, 480


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "src/diffmesh/assets/sample_clip.mp4"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    render_motion_video(args.out, walking_motion(FRAMES, FPS), WIDTH, HEIGHT, crf=23)
    logging.info("wrote %s (%d bytes)", args.out, Path(args.out).stat().st_size)


if __name__ == "__main__":
    main()
