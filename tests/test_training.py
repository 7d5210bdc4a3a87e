"""The training loop: exact resume after a kill, DDP equivalence, atomic checkpoints."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from diffmesh.training import DistInfo, EpochSampler, TrainConfig, Trainer, atomic_save, load_checkpoint
from diffmesh.training.checkpoint import TrainState

SCRIPT = Path(__file__).with_name("_train_script.py")
REPO = Path(__file__).resolve().parents[1]


def run_script(out: Path, *extra: str, launcher: list[str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'src'}", "OMP_NUM_THREADS": "1"}
    cmd = [*(launcher or [sys.executable]), str(SCRIPT), str(out), *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240, check=False)


def checkpoint_step(path: Path) -> int:
    try:
        return load_checkpoint(path)["train_state"]["global_step"]
    except (FileNotFoundError, ValueError):
        return 0


def test_killed_run_resumes_exactly(tmp_path: Path) -> None:
    reference = run_script(tmp_path / "ref")
    assert reference.returncode == 0, reference.stderr[-2000:]

    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'src'}", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(SCRIPT), str(out), "--sleep", "0.15"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while checkpoint_step(out / "latest_epoch.bin") < 4 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # at an arbitrary point: mid-step or mid-save
    proc.wait()
    killed_at = checkpoint_step(out / "latest_epoch.bin")
    assert 4 <= killed_at < 9, "the run should have been killed mid-training"
    assert not list(out.glob("*.tmp")) or all(p.name.startswith(".") for p in out.glob("*.tmp"))

    resumed = run_script(out, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    ref_weights = torch.load(tmp_path / "ref" / "final_weights.pt", weights_only=True)
    new_weights = torch.load(out / "final_weights.pt", weights_only=True)
    for key, value in ref_weights.items():
        assert torch.equal(value, new_weights[key]), f"{key} differs after resume"
    ref_losses = json.loads((tmp_path / "ref" / "losses_run.json").read_text())
    assert json.loads((out / "losses_resumed.json").read_text()) == ref_losses[killed_at:]


def test_two_processes_match_one_process(tmp_path: Path) -> None:
    single = run_script(tmp_path / "one", "--epochs", "2")
    assert single.returncode == 0, single.stderr[-2000:]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]  # a free port
    double = run_script(tmp_path / "two", "--epochs", "2", launcher=launcher)
    assert double.returncode == 0, double.stderr[-3000:]
    one = json.loads((tmp_path / "one" / "losses_run.json").read_text())
    two = json.loads((tmp_path / "two" / "losses_run.json").read_text())
    assert len(one) == len(two) == 6
    assert max(abs(a - b) for a, b in zip(one, two)) < 1e-5


def test_sampler_shards_cover_the_global_batches() -> None:
    one = EpochSampler(20, 4, seed=3, dist_info=DistInfo())
    one.set_epoch(2)
    shards = []
    for rank in range(2):
        s = EpochSampler(20, 4, seed=3, dist_info=DistInfo(rank=rank, world_size=2))
        s.set_epoch(2)
        shards.append(s.rank_indices())
    merged = [i for b in range(5) for r in range(2) for i in shards[r][2 * b : 2 * b + 2]]
    assert merged == list(one)
    other_epoch = EpochSampler(20, 4, seed=3, dist_info=DistInfo())
    other_epoch.set_epoch(3)
    assert list(other_epoch) != list(one)
    one.set_epoch(2, skip_batches=2)
    assert len(one) == 12
    with pytest.raises(ValueError, match="not divisible by the 3 processes"):
        EpochSampler(20, 4, seed=0, dist_info=DistInfo(rank=0, world_size=3))


def test_incomplete_last_batch_kept_in_one_process_only() -> None:
    assert EpochSampler(10, 4, 0, DistInfo()).num_batches() == 3
    assert EpochSampler(10, 4, 0, DistInfo(rank=1, world_size=2)).num_batches() == 2


def test_atomic_save_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "latest_epoch.bin"
    atomic_save({"ok": 1}, target)

    def broken_save(obj, f):  # noqa: ANN001
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        atomic_save({"ok": 2}, target)
    monkeypatch.undo()
    assert torch.load(target, weights_only=True) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["latest_epoch.bin"]


def test_checkpoint_contents_and_bad_files(tmp_path: Path) -> None:
    from tests._train_script import ToyPoseData, ToyTask

    from diffmesh.models import DSTformer, DSTformerConfig

    model = DSTformer(DSTformerConfig(dim_feat=16, dim_rep=16, depth=1, num_heads=2, maxlen=8))
    cfg = TrainConfig(epochs=1, batch_size=8, lr_backbone=1e-3, lr_decay=0.5, checkpoint_frequency=1, log_every_steps=1)
    trainer = Trainer(model, ToyTask(0.0), ToyPoseData(), cfg, tmp_path, run_config={"name": "toy"})
    trainer.fit()
    payload = load_checkpoint(tmp_path / "latest_epoch.bin")
    assert payload["config"] == {"name": "toy"} and payload["diffmesh_version"]
    assert TrainState(**payload["train_state"]).epoch == 1
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(5e-4)  # decayed once per epoch
    assert (tmp_path / "epoch_0.bin").is_file() and (tmp_path / "best_epoch.bin").is_file()
    assert (tmp_path / "metrics.jsonl").read_text().count("train/loss") == 3
    (tmp_path / "junk.bin").write_bytes(b"junk")
    with pytest.raises(ValueError, match="cannot be read"):
        load_checkpoint(tmp_path / "junk.bin")
    with pytest.raises(FileNotFoundError, match="nope.bin"):
        load_checkpoint(tmp_path / "nope.bin")


def test_backbone_and_head_groups(small_body) -> None:  # noqa: ANN001
    import diffmesh
    from diffmesh.training.loop import parameter_groups

    model = diffmesh.create_model("diffmesh", body_model=small_body, dim_feat=32, dim_rep=48, depth=1, num_heads=4)
    groups = parameter_groups(model, TrainConfig(epochs=1, batch_size=2, lr_backbone=8e-5, lr_head=7e-4))
    assert [g["name"] for g in groups] == ["backbone", "head"]
    assert [g["lr"] for g in groups] == [8e-5, 7e-4]
    assert sum(p.numel() for g in groups for p in g["params"]) == sum(p.numel() for p in model.parameters())


def test_validation_batches_go_to_the_models_device() -> None:
    """Validation ran the model on CPU batches (and read its outputs with .numpy()), so a run on a GPU
    failed at its first validation (seen on an H200). The loader now moves each batch, nested dicts
    included, to the model's device; PyTorch's "meta" device stands in for the GPU here."""
    from diffmesh.training.tasks import _loader

    class Pairs(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 3

        def __getitem__(self, i: int) -> dict:
            return {"input": torch.full((2, 17, 3), float(i)), "target": {"kp_3d": torch.zeros(2, 17, 3)}}

    model = torch.nn.Linear(3, 3).to("meta")
    batches = list(_loader(Pairs(), 2, model))
    assert [len(b["input"]) for b in batches] == [2, 1]
    assert all(b["input"].device.type == "meta" and b["target"]["kp_3d"].device.type == "meta" for b in batches)
    cpu = list(_loader(Pairs(), 3, torch.nn.Linear(3, 3)))
    assert cpu[0]["input"].device.type == "cpu" and torch.equal(cpu[0]["input"][2], torch.full((2, 17, 3), 2.0))
