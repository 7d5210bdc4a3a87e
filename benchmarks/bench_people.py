#!/usr/bin/env python
"""Several people: ``diffmesh infer --max-people N`` on rendered scenes with known truth.

The scenes (``benchmarks/data/people_v1``, made by ``tools/make_people_benchmark.py``: 2-4 Anny
bodies crossing and hiding each other, static and panning cameras) go through the real user path,
one subprocess per scene and system::

    python benchmarks/bench_people.py                                   # --max-people 4 vs 1
    python benchmarks/bench_people.py --system all="--max-people 4" --out people.json

Every frame, the people a run returned (``OUT/people/<id>/result.npz``, or ``OUT/result.npz`` for
one person) are matched to the true people by their detected 2-D keypoints: the mean distance over
the confident limb keypoints, in units of the true person's height, below :data:`MATCH_HEIGHT`, one
to one, the closest pairs first. Scores per scene:

- ``recall``: matched (person, frame) pairs over the true ones in which the person is *visible*
  (at least :data:`VISIBLE` of their mesh in the picture and not hidden by another person);
- ``precision``: returned (track, frame) pairs with a person that matched a true person;
- ``id_switches``: per true person, how often the matched track id changes from the last one
  (CLEAR-MOT's IDSW), summed over people;
- ``pa_mpjpe_mm`` / ``mpjpe_mm``: limb-joint errors of the matched pairs (per-frame similarity
  alignment / hip-aligned), mean over people;
- ``floor_deg``, ``wa_mpjpe_mm``, ``w_mpjpe_mm``, ``rte_pct``: the world-frame scores of ``bench_video_accuracy.py`` of each
  true person's main track (the one matched most often), mean over people;
- ``still_wander_m``: for true people who stand still (hips within :data:`STILL_M` of their mean),
  the mean horizontal distance of their main track's world hips from their own mean (metres): what
  a travelling or panning camera leaves in a world trajectory;
- ``seconds``, ``frames_per_s``: wall time of the ``diffmesh infer`` run (one process, cold start).
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_video_accuracy import hip_midpoint, machine, score_3d, score_world, true_world_joints  # noqa: E402

from diffmesh.conventions import H36M_JOINTS, LIMB_JOINTS, limb_indices  # noqa: E402

logger = logging.getLogger("bench_people")

DEFAULT_SCENES = Path(__file__).resolve().parent / "data" / "people_v1"
#: A returned person matches a true one when their keypoints are on average closer than this many
#: true person heights.
MATCH_HEIGHT = 0.15
#: A true person counts for recall in frames where at least this fraction of their mesh is seen.
VISIBLE = 0.5
#: Keypoints below this confidence are not used for matching.
MIN_CONFIDENCE = 0.3
_LIMB = list(limb_indices(H36M_JOINTS))
METRICS = ("recall", "precision", "id_switches", "pa_mpjpe_mm", "mpjpe_mm", "floor_deg", "wa_mpjpe_mm", "w_mpjpe_mm",
           "rte_pct", "still_wander_m", "seconds", "frames_per_s", "people_found")  # fmt: skip
#: A true person whose hips stay within this many metres of their mean (horizontally) stands still: their
#: main track's world hips should too (``still_wander_m``).
STILL_M = 0.3
#: The world scores taken from bench_video_accuracy.score_world, per true person's main track.
_WORLD = ("floor_deg", "wa_mpjpe_mm", "w_mpjpe_mm", "rte_pct")


def load_scenes(folder: Path) -> list[dict]:
    if not folder.is_dir():
        raise FileNotFoundError(f"scene folder {str(folder)!r} does not exist; pass the folder made by tools/make_people_benchmark.py")
    scenes = []
    for npz in sorted(folder.glob("*.npz")):
        with np.load(npz, allow_pickle=False) as d:
            gt = {k: d[k] for k in d.files}
        if tuple(str(s) for s in gt["joint_names"]) != LIMB_JOINTS or gt["joints_cam"].ndim != 4:
            raise ValueError(f"{str(npz)!r} is not a several-people scene ([P, T, 12, 3] joints_cam of {list(LIMB_JOINTS)})")
        scenes.append({"name": npz.stem, "video": npz.with_suffix(".mp4"), "gt": gt})
    if not scenes:
        raise FileNotFoundError(f"scene folder {str(folder)!r} holds no NAME.mp4 + NAME.npz pairs")
    return scenes


def run_people(video: Path, out: Path, extra: list[str], timeout: float) -> tuple[list[dict[str, np.ndarray]], float]:
    """``diffmesh infer VIDEO -o OUT --no-overlay --no-animation EXTRA`` → every person's result.npz
    arrays (``people/<id>/``, else the one ``result.npz``) and the run's wall time."""
    cmd = [sys.executable, "-m", "diffmesh.cli", "infer", str(video), "-o", str(out), "--no-overlay", "--no-animation", *extra]
    logger.debug("running %s", shlex.join(cmd))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        logger.warning("%s: diffmesh infer exited %d: %s", video.name, proc.returncode, last)
        return [], seconds
    paths = sorted((out / "people").glob("*/result.npz")) or [out / "result.npz"]
    results = []
    for p in paths:
        with np.load(p, allow_pickle=False) as d:
            results.append({k: d[k] for k in d.files})
    return results, seconds


def per_frame(res: dict[str, np.ndarray], T: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A result's limb keypoints ``[T, 12, 3]``, limb joints ``[T, 12, 3]`` and ``valid [T]`` by video frame."""
    kp, joints, valid = np.zeros((T, 12, 3)), np.zeros((T, 12, 3)), np.zeros(T, bool)
    for i, f in enumerate(res["frame_indices"]):
        if 0 <= f < T and bool(res["valid"][i]) and np.isfinite(res["joints_3d_cam"][i]).all():
            kp[f], joints[f], valid[f] = res["keypoints_2d"][i, _LIMB], res["joints_3d_cam"][i, _LIMB], True
    return kp, joints, valid


def match(kp: np.ndarray, valid: np.ndarray, gt: dict[str, np.ndarray]) -> np.ndarray:
    """``[R, T]`` returned person → true person index matched in each frame (-1: none)."""
    R, T = kp.shape[:2]
    P = gt["joints_2d"].shape[0]
    out = np.full((R, T), -1)
    for t in range(T):
        pairs = []
        for r in range(R):
            if not valid[r, t]:
                continue
            conf = kp[r, t, :, 2] >= MIN_CONFIDENCE
            if conf.sum() < 4:
                continue
            for p in range(P):
                d = np.linalg.norm(kp[r, t, conf, :2] - gt["joints_2d"][p, t, conf], axis=-1).mean()
                cost = d / max(float(gt["height_px"][p, t]), 1.0)
                if cost < MATCH_HEIGHT:
                    pairs.append((cost, r, p))
        used_r, used_p = set(), set()
        for _, r, p in sorted(pairs):
            if r not in used_r and p not in used_p:
                out[r, t] = p
                used_r.add(r)
                used_p.add(p)
    return out


def score_scene(results: list[dict[str, np.ndarray]], gt: dict[str, np.ndarray]) -> dict[str, float]:
    P, T = gt["joints_cam"].shape[:2]
    nan = float("nan")
    if not results:
        return {"recall": 0.0, "precision": nan, "id_switches": 0, "pa_mpjpe_mm": nan, "mpjpe_mm": nan, "people_found": 0
                } | dict.fromkeys(_WORLD, nan)  # fmt: skip
    frames = [per_frame(r, T) for r in results]
    kp = np.stack([f[0] for f in frames])
    joints = np.stack([f[1] for f in frames])
    valid = np.stack([f[2] for f in frames])
    ids = [int(r["track_id"]) if "track_id" in r else 0 for r in results]
    m = match(kp, valid, gt)  # [R, T]
    seen = gt["visible"] >= VISIBLE  # [P, T]
    matched = np.zeros((P, T), bool)
    for r in range(len(results)):
        for t in np.flatnonzero(m[r] >= 0):
            matched[m[r, t], t] = True
    out = {"recall": float((matched & seen).sum() / max(seen.sum(), 1)),
           "precision": float((m >= 0).sum() / max(valid.sum(), 1)), "people_found": len(results)}  # fmt: skip
    switches, pa, mp = 0, [], []
    world: dict[str, list[float]] = {k: [] for k in _WORLD}
    wander: list[float] = []
    for p in range(P):
        last = None
        for t in range(T):
            rows = np.flatnonzero(m[:, t] == p)
            if len(rows):
                if last is not None and ids[rows[0]] != last:
                    switches += 1
                last = ids[rows[0]]
        counts = [(m[r] == p).sum() for r in range(len(results))]
        if max(counts) == 0:
            continue
        pred = np.zeros((T, 12, 3))
        use = np.zeros(T, bool)
        for r in range(len(results)):
            pred[m[r] == p] = joints[r, m[r] == p]
            use |= m[r] == p
        s = score_3d(pred, gt["joints_cam"][p], use)
        pa.append(s["pa_mpjpe_mm"])
        mp.append(s["mpjpe_mm"])
        main = int(np.argmax(counts))
        person_gt = {"R_w2c": gt["R_w2c"], "t_w2c": gt["t_w2c"], "joints_cam": gt["joints_cam"][p], "fps": gt["fps"]}
        w = score_world(results[main], person_gt, np.arange(T))
        for k in _WORLD:
            world[k].append(w[k])
        wander.append(_still_wander(results[main], person_gt))
    mean = lambda v: float(np.nanmean(v)) if np.isfinite(v).any() else nan  # noqa: E731
    return out | {"id_switches": switches, "pa_mpjpe_mm": mean(np.array(pa, float)), "mpjpe_mm": mean(np.array(mp, float))
                  } | {k: mean(np.array(v, float)) for k, v in world.items()} | {"still_wander_m": mean(np.array(wander, float))}  # fmt: skip


def _still_wander(res: dict[str, np.ndarray], gt: dict[str, np.ndarray]) -> float:
    """For a true person who stands still (hips within :data:`STILL_M` of their mean, horizontally): the
    mean horizontal distance (metres) of the returned world hips from their own mean; NaN otherwise
    (or without world keys)."""
    true_hips = hip_midpoint(true_world_joints(gt, np.arange(len(gt["joints_cam"]))))[:, :2]  # Anny: z up
    if np.linalg.norm(true_hips - true_hips.mean(0), axis=1).max() > STILL_M or "joints_3d_world" not in res:
        return float("nan")
    J = np.asarray(res["joints_3d_world"], np.float64)[np.asarray(res["valid"], bool)]
    hips = 0.5 * (J[:, H36M_JOINTS.index("left_hip")] + J[:, H36M_JOINTS.index("right_hip")])[:, [0, 2]]  # y up
    return float(np.linalg.norm(hips - hips.mean(0), axis=1).mean()) if len(hips) else float("nan")


def markdown(per_scene: dict[str, dict[str, dict[str, float]]], info: dict[str, dict]) -> str:
    systems = list(next(iter(per_scene.values())))
    lines = []
    for metric in METRICS:
        lines += [f"**{metric}**", "", "| scene | people | camera | " + " | ".join(systems) + " |",
                  "|---|---|---|" + "---|" * len(systems)]  # fmt: skip
        for name, scores in per_scene.items():
            cells = [_fmt(scores[s].get(metric, float("nan")), metric) for s in systems]
            lines.append(f"| {name} | {info[name]['people']} | {info[name]['camera']} | " + " | ".join(cells) + " |")
        means = [_fmt(_mean([per_scene[n][s].get(metric, float("nan")) for n in per_scene]), metric) for s in systems]
        lines += ["| **mean** | | | " + " | ".join(means) + " |", ""]
    return "\n".join(lines)


def _mean(values: list[float]) -> float:
    a = np.asarray(values, float)
    return float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")


def _fmt(v: float, metric: str) -> str:
    if not np.isfinite(v):
        return "–"
    if metric in ("recall", "precision"):
        return f"{100 * v:.0f} %"
    if metric in ("id_switches", "people_found"):
        return f"{v:.1f}" if v != int(v) else f"{int(v)}"
    if metric == "still_wander_m":
        return f"{v:.2f}"
    return f"{v:.1f}" if metric in ("floor_deg", "seconds", "frames_per_s") else f"{v:.0f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenes", type=Path, default=DEFAULT_SCENES)
    ap.add_argument("--system", action="append", metavar="NAME=ARGS",
                    help='a column: name and extra `diffmesh infer` arguments (repeatable; default: '
                         '"people=--max-people 4" and "one=--max-people 1"); "{focal}" stands for the '
                         'scene\'s true focal length (e.g. "known=--focal {focal}")')  # fmt: skip
    ap.add_argument("--work", type=Path, default=None, help="folder for the runs' outputs (default: a temporary one)")
    ap.add_argument("--out", type=Path, default=None, help="write the scores as JSON here")
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--only", default=None, help="comma-separated scene names")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    systems = {}
    for spec in args.system or ["people=--max-people 4", "one=--max-people 1"]:
        name, _, extra = spec.partition("=")
        systems[name] = shlex.split(extra)
    scenes = load_scenes(args.scenes)
    if args.only:
        keep = set(args.only.split(","))
        scenes = [s for s in scenes if s["name"] in keep]
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_people_"))
    per_scene: dict[str, dict[str, dict[str, float]]] = {}
    info = {}
    for s in scenes:
        gt = s["gt"]
        P, T = gt["joints_cam"].shape[:2]
        info[s["name"]] = {"people": P, "camera": str(gt["camera_motion"]), "frames": T}
        per_scene[s["name"]] = {}
        for system, extra in systems.items():
            focal = f"{float(gt['K'][0, 0]):.1f}"  # "{focal}" in a system's arguments: the true focal length
            run_args = [a.replace("{focal}", focal) for a in extra]
            results, seconds = run_people(s["video"], work / system / s["name"], run_args, args.timeout)
            scores = score_scene(results, gt) | {"seconds": seconds, "frames_per_s": T / seconds}
            per_scene[s["name"]][system] = scores
            logger.info("%s %s: %s", s["name"], system, ", ".join(f"{k} {v:.3g}" for k, v in scores.items()))
    report = {"date": datetime.date.today().isoformat(), "machine": machine(), "systems": {k: shlex.join(v) for k, v in systems.items()},
              "scenes": info, "scores": per_scene}  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(markdown(per_scene, info))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
