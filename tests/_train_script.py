"""A tiny training run for the loop tests: ``python tests/_train_script.py OUT [--resume] ...``.

Trains a 1-block DSTformer on a deterministic random dataset. The task adds input noise
from the global torch RNG and the dataset derives per-sample noise from (epoch, index), so
an exact resume needs both the RNG state and the data order to be restored.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import torch

from diffmesh.models import DSTformer, DSTformerConfig
from diffmesh.training import TrainConfig, Trainer, distributed


class ToyPoseData(torch.utils.data.Dataset):
    def __init__(self, size: int = 24, frames: int = 4) -> None:
        gen = torch.Generator().manual_seed(123)
        self.x = torch.rand(size, frames, 17, 3, generator=gen)
        self.y = torch.rand(size, frames, 17, 3, generator=gen)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        noise = torch.randn(self.x[i].shape, generator=torch.Generator().manual_seed(self.epoch * 1000 + i)) * 0.01
        return {"input": self.x[i] + noise, "label": self.y[i]}


class ToyTask:
    selection_metric = "err"
    lower_is_better = True

    def __init__(self, sleep: float) -> None:
        self.sleep = sleep

    def loss(self, model, batch):
        time.sleep(self.sleep)
        x = batch["input"] + torch.randn_like(batch["input"]) * 0.01  # global RNG
        loss = (model(x) - batch["label"]).abs().mean()
        return loss, {"l1": float(loss.detach())}

    def evaluate(self, model):
        return {"err": 1.0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--sleep", type=float, default=0.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    torch.set_num_threads(1)
    with distributed("cpu") as info:  # the same clean exit as `diffmesh train`
        torch.manual_seed(0)
        model = DSTformer(DSTformerConfig(dim_feat=16, dim_rep=16, depth=1, num_heads=2, maxlen=8))
        cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr_backbone=1e-3, lr_decay=0.9,
                          checkpoint_every_steps=1, log_every_steps=1)
        trainer = Trainer(model, ToyTask(args.sleep), ToyPoseData(), cfg, args.out, dist_info=info, run_config={"toy": True})
        if args.resume:
            trainer.resume(Path(args.out) / "latest_epoch.bin")
        result = trainer.fit()
        if info.is_main:
            torch.save(model.state_dict(), Path(args.out) / "final_weights.pt")
            (Path(args.out) / f"losses_{'resumed' if args.resume else 'run'}.json").write_text(json.dumps(result.losses))
    sys.exit(0)


if __name__ == "__main__":
    main()
