"""``diffmesh train CONFIG`` and ``diffmesh eval CONFIG --checkpoint FILE``.

Multi-GPU / multi-process: ``torchrun --nproc_per_node N -m diffmesh.cli train CONFIG -o OUT``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from diffmesh.training.config import RunConfig
    from diffmesh.training.distributed import DistInfo

logger = logging.getLogger("diffmesh.cli")

#: Numbers the official READMEs report (EVALUATION.md §5), by config file name.
OFFICIAL_REPORTED: dict[str, dict[str, float]] = {
    "MB_train_h36m": {"mpjpe": 39.2},
    "MB_ft_h36m": {"mpjpe": 37.2},
    "MB_ft_pw3d": {"mpve": 88.1},
}


#: Name of the run's config in its output folder (``diffmesh.training.config.load_run_config`` reads it).
RUN_CONFIG_FILE = "config.yaml"


def _read_config(path: str) -> RunConfig:
    """The typed run config of a YAML file; its name defaults to the file's stem."""
    from diffmesh.training.config import load_run_config

    rc = load_run_config(path)
    return rc if rc.name is not None else rc.with_values({"name": Path(path).stem})


def _cmd_train(args: argparse.Namespace) -> int:
    import torch

    from diffmesh.training import distributed

    cfg = _read_config(args.config)
    fields = {"epochs": "optim.epochs", "max_steps": "schedule.max_steps", "batch_size": "optim.batch_size", "seed": "seed"}
    cfg = cfg.with_values({path: getattr(args, arg) for arg, path in fields.items() if getattr(args, arg) is not None})
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.output)
    with distributed(args.device) as info:
        _train(cfg, args, out, info)
    if info.is_main:
        logger.info("finished: checkpoints in %s", out)
    return 0


def _train(cfg: RunConfig, args: argparse.Namespace, out: Path, info: DistInfo) -> None:
    from diffmesh.training import Trainer
    from diffmesh.training.build import build_run

    resume = out / "latest_epoch.bin"
    if out.is_dir() and resume.exists() and not args.resume:
        raise ValueError(f"{out} already holds a run (latest_epoch.bin); pass --resume to continue it or choose another -o folder")
    if args.resume and not resume.exists():
        raise FileNotFoundError(f"--resume: {resume} does not exist")
    if args.resume:
        _compare_with_saved(cfg, out)
    run = build_run(cfg, device=args.device)
    trainer = Trainer(run.model, run.task, run.passes, run.train_config, out, run_config=cfg.to_dict(), dist_info=info)
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        cfg.save(out / RUN_CONFIG_FILE)
    if args.resume:
        trainer.resume(resume)
    trainer.fit()


def _cmd_eval(args: argparse.Namespace) -> int:
    import torch

    from diffmesh.convert.official import load_official
    from diffmesh.training.checkpoint import load_checkpoint
    from diffmesh.training.build import build_run

    cfg = _read_config(args.config)
    run = build_run(cfg, device=args.device)
    if run.val_data is None:
        raise ValueError(f"config {args.config} defines no validation data")
    try:
        payload = load_checkpoint(args.checkpoint)
        run.model.load_state_dict(payload["model"])
        source = "diffmesh training checkpoint"
    except ValueError:
        model = load_official(args.checkpoint, cfg.to_dict(), data_root=cfg.data.data_root)
        run.model.load_state_dict(model.state_dict())
        source = "official checkpoint"
    run.model.eval()
    with torch.no_grad():
        metrics = run.task.evaluate(run.model)
    reported = OFFICIAL_REPORTED.get(str(cfg.name), {})
    print(f"{args.checkpoint} ({source}), config {cfg.name}:")
    print(f"  {'metric':14s} {'ours':>10s} {'official README':>16s}")
    for key, value in metrics.items():
        ref = f"{reported[key]:.1f}" if key in reported else "-"
        print(f"  {key:14s} {value:10.2f} {ref:>16s}")
    if args.json:
        Path(args.json).write_text(json.dumps(metrics, indent=2))
    return 0


def _compare_with_saved(cfg: RunConfig, out: Path) -> None:
    """Log the fields a resumed run changes relative to the config the run was started with."""
    from diffmesh.training.config import load_run_config

    saved_path = out / RUN_CONFIG_FILE
    if not saved_path.is_file():
        return
    saved, now = load_run_config(saved_path).to_dict(), cfg.to_dict()
    changed = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
    if changed:
        logger.warning("resuming %s with changed settings %s (the run started with %s)", out, changed, saved_path)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model from a config (official YAML or diffmesh config)")
    p.add_argument("config")
    p.add_argument("-o", "--output", required=True, help="run folder (checkpoints, metrics.jsonl, tensorboard/)")
    p.add_argument("--resume", action="store_true", help="continue exactly from OUTPUT/latest_epoch.bin")
    p.add_argument("--device", default="cpu", help="cpu or cuda (under torchrun: one process per GPU)")
    p.add_argument("--epochs", type=int, default=None, help="override the config's epochs")
    p.add_argument("--batch-size", type=int, default=None, help="override the config's (global) batch size")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (smoke runs)")
    p.add_argument("--seed", type=int, default=None, help="override the config's training seed (initialisation, order, augmentation)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads per process (0: default)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("eval", help="evaluate a checkpoint with the official metrics")
    p.add_argument("config")
    p.add_argument("--checkpoint", required=True, help="an official .bin or a diffmesh training checkpoint")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", default=None, help="also write the metrics to this JSON file")
    p.set_defaults(func=_cmd_eval)
