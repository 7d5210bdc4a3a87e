"""Train, evaluate and export the default weights (issue: synthetic default weights + head ablation).

Every step is a ``diffmesh train`` run of a committed config (``configs/default_weights/``),
so each run is reproducible on its own; this script only sequences them and scores them on
the held-out synthetic test set::

    python tools/default_weights.py pretrain                 # stage 1: encoder on 2-D -> 3-D
    python tools/default_weights.py ablation --seeds 0 1 2   # stage 2: four heads x seeds
    python tools/default_weights.py evaluate --json runs/default_weights/results.json
    python tools/default_weights.py export runs/default_weights/diffmesh_s0 -o src/diffmesh/weights/diffmesh_synthetic.pt

The held-out test set: ``split="test"`` of the synthetic engine (motion seeds never used in
training), seed 0, open body model with all 13,718 vertices, split into the families seen
in training and the ``jump`` family that no training stage ever saw.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs" / "default_weights"
RUNS = Path("runs") / "default_weights"
ARMS = ("motionbert", "diffmesh", "diffmesh_grad", "perframe")
HELD_OUT = ("jump",)
EVAL_BATCH = 32

logger = logging.getLogger("default_weights")


def _train(config: Path, out: Path, seed: int, threads: int) -> subprocess.Popen[bytes]:
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "diffmesh.cli", "train", str(config), "-o", str(out), "--seed", str(seed), "--threads", str(threads)]
    if (out / "latest_epoch.bin").exists():
        cmd.append("--resume")
    logger.info("%s", " ".join(cmd))
    log = open(out.with_suffix(".log"), "ab")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)


def _finished(out: Path) -> bool:
    return (out / "done").exists()


def _run_all(jobs: list[tuple[Path, Path, int]], parallel: int) -> None:
    threads = max(1, (os.cpu_count() or 2) // parallel)
    pending = [j for j in jobs if not _finished(j[1])]
    running: list[tuple[subprocess.Popen[bytes], Path, float]] = []
    while pending or running:
        while pending and len(running) < parallel:
            config, out, seed = pending.pop(0)
            running.append((_train(config, out, seed, threads), out, time.perf_counter()))
        time.sleep(2)
        for proc, out, start in list(running):
            if proc.poll() is None:
                continue
            running.remove((proc, out, start))
            if proc.returncode:
                raise SystemExit(f"{out}: training failed (exit {proc.returncode}); see {out.with_suffix('.log')}")
            (out / "done").write_text(f"{time.perf_counter() - start:.1f}\n")
            logger.info("%s finished in %.0f s", out, time.perf_counter() - start)


def cmd_pretrain(args: argparse.Namespace) -> None:
    _run_all([(CONFIGS / "pretrain.yaml", RUNS / "pretrain", 0)], parallel=1)


def cmd_ablation(args: argparse.Namespace) -> None:
    if not (RUNS / "pretrain" / "best_epoch.bin").exists():
        raise SystemExit("run `python tools/default_weights.py pretrain` first (the arms start from its encoder)")
    # Build the shared clip bank once before runs start in parallel.
    from diffmesh.cli.train import _read_config
    from diffmesh.training.build import build_run

    build_run(_read_config(str(CONFIGS / "mesh_diffmesh.yaml")))
    jobs = [(CONFIGS / f"mesh_{arm}.yaml", RUNS / f"{arm}_s{seed}", seed) for seed in args.seeds for arm in args.arms]
    _run_all(jobs, args.parallel)


# ------------------------------------------------------------------ evaluation


def test_sets(clips: int, seed: int = 0) -> dict[str, list[Any]]:
    """The held-out test clips, generated once: ``seen`` families (3/4) and ``held_out`` (1/4)."""
    from diffmesh.body import load
    from diffmesh.data.synthetic import FAMILIES, SyntheticMotionDataset, SyntheticMotionEngine

    body = load("open")
    seen = [f for f in FAMILIES if f not in HELD_OUT]
    sets = {}
    for name, families, n in (("seen", seen, clips - clips // 4), ("held_out", list(HELD_OUT), clips // 4)):
        engine = SyntheticMotionEngine(body, clip_len=16, seed=seed, families=families)
        sets[name] = SyntheticMotionDataset(n, "test", "mesh", engine=engine).__getitems__(list(range(n)))
    return sets


def load_run(run: Path, fast: bool = False) -> tuple[Any, bool]:
    """The model of a training run with the full open body model; ``(model, per_frame)``."""
    import diffmesh
    from diffmesh.training.checkpoint import load_checkpoint
    from diffmesh.training.config import RunConfig

    payload = load_checkpoint(run / "latest_epoch.bin")
    cfg = RunConfig.from_dict(payload["config"], where=str(run / "latest_epoch.bin"))
    model = diffmesh.create_model(str(cfg.model.variant), config=cfg.to_dict(), body_model="open")
    model.load_state_dict(payload["model"])
    model.eval()
    if fast:
        from diffmesh.accel import accelerate

        model = accelerate(model, "auto")
    return model, cfg.task.per_frame


def score(model: Any, per_frame: bool, sets: dict[str, list[Any]]) -> dict[str, dict[str, float]]:
    """Official mesh metrics per test subset, plus ``all`` (frame-weighted, i.e. over all clips)."""
    import torch

    from diffmesh.training.tasks import evaluate_mesh_model

    with torch.no_grad():
        out = {name: evaluate_mesh_model(model, clips, EVAL_BATCH, per_frame=per_frame) for name, clips in sets.items()}
    total = sum(len(clips) for clips in sets.values())
    out["all"] = {k: sum(out[n][k] * len(sets[n]) for n in sets) / total for k in out["seen"]}
    return out


def fast_deviation(model: Any, fast: Any, per_frame: bool, sets: dict[str, list[Any]]) -> dict[str, float]:
    """Mean distance (mm) between parity-mode and fast-mode joints and vertices."""
    import torch
    from torch.utils.data import DataLoader

    from diffmesh.training.tasks import MeshTask

    dj, dv = [], []
    with torch.no_grad():
        for clips in sets.values():
            for batch in DataLoader(clips, batch_size=EVAL_BATCH):
                ref, out = MeshTask._forward(model, batch, per_frame), MeshTask._forward(fast, batch, per_frame)
                dj.append((out.kp_3d - ref.kp_3d).norm(dim=-1).flatten())
                dv.append((out.verts - ref.verts).norm(dim=-1).mean(-1).flatten())
    j = torch.cat(dj)
    return {"joints_mean": float(j.mean()), "joints_max": float(j.max()), "vertices_mean": float(torch.cat(dv).mean())}


def cmd_evaluate(args: argparse.Namespace) -> None:
    import numpy as np

    sets = test_sets(args.clips)
    results: dict[str, Any] = {"test_clips": args.clips, "held_out_families": list(HELD_OUT), "runs": {}}
    runs = [p for p in Path(args.runs).iterdir() if (p / "done").exists() and p.name != "pretrain"]
    for run in sorted(runs):
        cached = run / f"heldout_{args.clips}.json"
        if cached.exists() and cached.stat().st_mtime > (run / "latest_epoch.bin").stat().st_mtime and run.name not in args.fast:
            results["runs"][run.name] = json.loads(cached.read_text())  # scored before, same weights
            continue
        model, per_frame = load_run(run)
        start = time.perf_counter()
        results["runs"][run.name] = score(model, per_frame, sets)
        cached.write_text(json.dumps(results["runs"][run.name]))
        logger.info("%s: %s (%.0f s)", run.name, results["runs"][run.name]["all"], time.perf_counter() - start)
        if args.fast and run.name in args.fast:
            fast, _ = load_run(run, fast=True)
            results["runs"][run.name + "+fast"] = score(fast, per_frame, sets)
            results["runs"][run.name + "+fast"]["deviation_mm"] = fast_deviation(model, fast, per_frame, sets)
    summary: dict[str, Any] = {}
    for arm in ARMS:
        per_seed = [v for k, v in results["runs"].items() if "+" not in k and k.rsplit("_s", 1)[0] == arm]
        if not per_seed:
            continue
        summary[arm] = {
            subset: {m: [float(np.mean([r[subset][m] for r in per_seed])), float(np.std([r[subset][m] for r in per_seed]))]
                     for m in per_seed[0][subset]}
            for subset in per_seed[0]
        }  # fmt: skip
        summary[arm]["seeds"] = len(per_seed)
    results["summary"] = summary
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1))
    print(markdown_table(summary))


def markdown_table(summary: dict[str, Any]) -> str:
    lines = ["| head | subset | MPJPE | PA-MPJPE | MPVE | accel error |", "|---|---|---|---|---|---|"]
    for arm, subsets in summary.items():
        for subset in ("all", "seen", "held_out"):
            m = subsets[subset]
            cells = [f"{m[k][0]:.1f} ± {m[k][1]:.1f}" for k in ("mpjpe", "pa_mpjpe", "mpve", "accel_error")]
            lines.append(f"| {arm} | {subset} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------ export


def cmd_export(args: argparse.Namespace) -> None:
    """Write the run's weights (fp16 state dict + config) as the packaged default weights."""
    import torch

    from diffmesh.training.checkpoint import load_checkpoint

    payload = load_checkpoint(Path(args.run) / "latest_epoch.bin")
    cfg = payload["config"]
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in payload["model"].items()}
    blob = {"model": cfg["model"], "model_overrides": dict(cfg.get("model_overrides") or {}), "state_dict": state,
            "run": Path(args.run).name, "dtype": "float16"}  # fmt: skip
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    torch.save(blob, tmp)
    os.replace(tmp, out)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"{out}: {out.stat().st_size / 1e6:.2f} MB, sha256 {digest}")

    # The fixed subset the test suite re-scores (tests/test_default_weights.py): the first
    # clips of the held-out test split, all families, scored with the exported fp16 weights.
    import diffmesh
    from diffmesh.data.synthetic import FAMILIES, SyntheticMotionDataset, SyntheticMotionEngine
    from diffmesh.training.tasks import evaluate_mesh_model

    model = diffmesh.create_model(cfg["model"], body_model="open", pretrained=False, **blob["model_overrides"])
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    model.eval()
    subset = {"clips": args.subset_clips, "seed": 0, "families": list(FAMILIES), "per_frame": bool(cfg.get("per_frame", False))}
    engine = SyntheticMotionEngine(model.body_model, clip_len=16, seed=subset["seed"], families=subset["families"])
    data = SyntheticMotionDataset(subset["clips"], "test", "mesh", engine=engine)
    from diffmesh.geometry.model_input import KEYPOINT_CHANNELS, model_input_channels

    if model_input_channels(model) != KEYPOINT_CHANNELS:  # a fusion network: synthetic clips have no detector 3-D
        from diffmesh.data.rendered import PadChannels

        data = PadChannels(data, model_input_channels(model))
    with torch.no_grad():
        metrics = evaluate_mesh_model(model, data, batch_size=subset["clips"], per_frame=subset["per_frame"])
    subset["metrics"] = {k: round(v, 4) for k, v in metrics.items()}
    subset["weights_sha256"] = digest
    target = Path(args.subset_json)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(subset, indent=1) + "\n")
    print(f"{target}: {subset['metrics']}")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(required=True)
    s = sub.add_parser("pretrain")
    s.set_defaults(func=cmd_pretrain)
    s = sub.add_parser("ablation")
    s.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    s.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    s.add_argument("--parallel", type=int, default=2, help="runs at once (threads split between them)")
    s.set_defaults(func=cmd_ablation)
    s = sub.add_parser("evaluate")
    s.add_argument("--clips", type=int, default=256)
    s.add_argument("--runs", default=str(RUNS), help="folder of the training runs")
    s.add_argument("--json", default=str(RUNS / "results.json"))
    s.add_argument("--fast", nargs="*", default=[], help="runs to score in fast inference mode too")
    s.set_defaults(func=cmd_evaluate)
    s = sub.add_parser("export")
    s.add_argument("run")
    s.add_argument("-o", "--output", required=True, help="e.g. src/diffmesh/weights/diffmesh_synthetic.pt")
    s.add_argument("--subset-clips", type=int, default=8, help="test clips the test suite re-scores")
    s.add_argument("--subset-json", default=str(ROOT / "tests" / "data" / "default_weights_subset.json"),
                   help="where the re-scored subset is recorded (one file per packaged model)")
    s.set_defaults(func=cmd_export)
    args = p.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
