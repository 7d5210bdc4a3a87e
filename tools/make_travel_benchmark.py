#!/usr/bin/env python
"""Render the travelling-camera benchmark: Anny bodies filmed by a camera that moves (build time).

The scenes of ``tools/make_people_benchmark.py`` (same bodies, rooms, motions, renderer, ground truth
and ``NAME.npz`` layout; same separate venv with ``anny``, see ``tools/make_video_benchmark.py``), with
cameras that *travel* instead of standing still or only turning::

    ANNY_CACHE_DIR=/work/scratch/anny-cache /work/venvs/anny/bin/python tools/make_travel_benchmark.py \
        benchmarks/data/travel_v1 --sheets /work/scratch/travel_sheets

- ``track``: a dolly shot beside a walker: the camera moves across with them and hardly turns, so
  in the picture the walker seems to walk on the spot while the room slides by;
- ``slide``: the camera travels ``travel_m`` across the stage, eased in and out, while it keeps the
  stage's centre in view (it travels and turns); a person who stays in place must stay put in the
  world.

``camera_motion`` in each ``NAME.npz`` is ``"track"`` or ``"slide"``; ``camera`` (JSON) gains
``travel_m``, the camera's travel in metres. Scored by ``benchmarks/bench_people.py --scenes``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_people_benchmark import PersonSpec, SceneSpec, make_scene  # noqa: E402
from make_video_benchmark import run_tool  # noqa: E402

GENERATOR = "tools/make_travel_benchmark.py v1"

SCENES: tuple[SceneSpec, ...] = (
    SceneSpec("track_walk", (PersonSpec("walk_away", (-2.0, 0.5), 90),), "track"),
    SceneSpec("slide_still", (PersonSpec("turn_bend", (0.0, 1.0), 15),), "slide", 3.0),
    SceneSpec("slide_two", (PersonSpec("reach", (-0.8, 1.2), 20), PersonSpec("boxing", (1.0, 1.8), -20)), "slide", -3.0),
    SceneSpec("track_cross", (PersonSpec("walk_away", (1.9, 0.3), -90), PersonSpec("wave_child", (0.0, 2.0), 0, "child")),
              "track"),
)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    def make(model, i: int, *rest) -> dict:
        return make_scene(model, i, SCENES[i], *rest, generator=GENERATOR)

    return run_tool(__doc__, 31, "scene", len(SCENES), make, GENERATOR, argv)


if __name__ == "__main__":
    raise SystemExit(main())
