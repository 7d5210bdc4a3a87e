"""``diffmesh train`` / ``diffmesh eval`` end to end: synthetic data and official configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from diffmesh.cli import main
from diffmesh.convert.official import read_config
from diffmesh.training import Trainer
from diffmesh.training.build import build_run
from diffmesh.training.checkpoint import load_checkpoint
from diffmesh.training.config import RunConfig, load_run_config
from tests._official import official_config
from tests._official_data import write_mesh_det_pkl
from tests._smpl_fixtures import make_smpl_arrays, write_mesh_folder

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "configs" / "tiny_synthetic_diffmesh.yaml"


@pytest.mark.slow
def test_tiny_synthetic_training_learns_and_beats_the_mean_pose(tmp_path: Path) -> None:
    """A few hundred steps of DiffMesh on synthetic clips lower the loss and beat the
    constant mean-pose prediction (the untrained model) on held-out clips."""
    torch.set_num_threads(2)
    cfg = read_config(TINY_CONFIG)
    cfg.update(epochs=4, max_steps=200, log_every_steps=1, lr_backbone=3e-3, lr_head=3e-3)
    run = build_run(cfg)
    before = run.task.evaluate(run.model.eval())
    result = Trainer(run.model, run.task, run.passes, run.train_config, tmp_path, run_config=cfg).fit()
    after = run.task.evaluate(run.model.eval())
    first, last = sum(result.losses[:20]) / 20, sum(result.losses[-20:]) / 20
    # Measured (quiet 2-core machine, 130 s): loss 480 -> 394, held-out 14-joint MPJPE
    # 330 -> 281 mm, MPVE 405 -> 339 mm. The untrained model predicts the mean pose.
    assert last < 0.9 * first, (first, last)
    assert after["mpjpe"] < 0.9 * before["mpjpe"], (before, after)
    assert after["mpve"] < before["mpve"]


def test_train_and_eval_commands_on_synthetic_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(["train", str(TINY_CONFIG), "-o", str(out), "--max-steps", "3"]) == 0
    assert (out / "latest_epoch.bin").is_file() and (out / "metrics.jsonl").is_file()
    # The run folder records its typed config; it reads back equal to the checkpoint's copy.
    saved = load_run_config(out / "config.yaml")
    assert saved.schedule.max_steps == 3 and saved.name == TINY_CONFIG.stem
    assert RunConfig.from_dict(load_checkpoint(out / "latest_epoch.bin")["config"]) == saved
    # An existing run is not overwritten by accident ...
    assert main(["train", str(TINY_CONFIG), "-o", str(out), "--max-steps", "4"]) == 2
    assert "--resume" in capsys.readouterr().err
    # ... and --resume continues it.
    assert main(["train", str(TINY_CONFIG), "-o", str(out), "--max-steps", "4", "--resume"]) == 0
    assert main(["eval", str(TINY_CONFIG), "--checkpoint", str(out / "latest_epoch.bin"), "--json", str(tmp_path / "m.json")]) == 0
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert {"mpve", "mpjpe", "pa_mpjpe", "accel_error"} <= set(metrics)
    assert "official README" in capsys.readouterr().out


def test_official_mesh_config_trains_on_official_files(tmp_path: Path) -> None:
    """DM_ft_pw3d.yaml unchanged except its paths (and a smaller encoder to keep the test fast)."""
    root = tmp_path / "data" / "mesh"
    write_mesh_folder(root, make_smpl_arrays(6890, seed=0))
    write_mesh_det_pkl(root / "mesh_det_pw3d.pkl", "pw3d")
    write_mesh_det_pkl(root / "mesh_det_coco.pkl", "coco")
    write_mesh_det_pkl(root / "mesh_det_h36m.pkl", "h36m",
                       train_videos=(("s_01_act_02_subact_01_ca_01", 40),), test_videos=(("s_09_act_02_subact_01_ca_02", 32),))
    cfg = yaml.safe_load(official_config("DM_ft_pw3d").read_text())
    cfg.update(data_root=str(root), dim_feat=32, dim_rep=32, depth=1, num_heads=4, batch_size=4, batch_size_img=8, max_steps=6)
    run = build_run(cfg)
    assert [p.name for p in run.passes] == ["h36m", "coco", "pw3d"]
    assert [p.until_epoch for p in run.passes] == [20, 100, None]
    assert run.passes[1].dataset[0]["input"].shape[0] == 1  # COCO: single frames
    assert run.train_config.lr_backbone == 8e-5 and run.train_config.lr_head == 7e-4
    result = Trainer(run.model, run.task, run.passes, run.train_config, tmp_path / "run", run_config=cfg).fit()
    assert len(result.losses) == 6 and all(torch.isfinite(torch.tensor(result.losses)))
    metrics = run.task.evaluate(run.model.eval())
    assert metrics["mpjpe"] > 0


def test_bad_configs_are_explained(tmp_path: Path) -> None:
    cfg = read_config(TINY_CONFIG)
    with pytest.raises(ValueError, match="data.type 'files' is not supported"):
        build_run({**cfg, "data": {"type": "files"}})
    official = yaml.safe_load(official_config("DM_ft_pw3d").read_text())
    with pytest.raises(FileNotFoundError, match="data_root 'data/nowhere'"):
        build_run({**official, "data_root": "data/nowhere"})
    with pytest.raises(ValueError, match="unknown model"):
        build_run({**cfg, "model": "nope"})


def test_official_pose_config_evaluates_with_the_h36m_protocol(tmp_path: Path) -> None:
    """MB_ft_h36m.yaml with its paths: MB3D clips for training, the H36M table for the
    official per-action protocol with flip TTA."""
    from tests._official_data import write_h36m_pose_pkl, write_mb3d_clips

    motion3d = tmp_path / "data" / "motion3d"
    write_h36m_pose_pkl(motion3d / "h36m_sh_conf_cam_source_final.pkl")
    write_mb3d_clips(motion3d / "MB3D_f243s81", "H36M-SH", "train", n_clips=2, n_frames=27)
    write_mb3d_clips(motion3d / "MB3D_f243s81", "H36M-SH", "test", n_clips=1, n_frames=27)
    cfg = yaml.safe_load(official_config("pose3d_ft_h36m").read_text())
    cfg.update(data_root=str(motion3d / "MB3D_f243s81"), dim_feat=16, dim_rep=16, depth=1, num_heads=2,
               clip_len=27, maxlen=27, batch_size=2, max_steps=1)
    run = build_run(cfg)
    assert run.task.h36m_reader is not None and run.task.flip
    Trainer(run.model, run.task, run.passes, run.train_config, tmp_path / "run", run_config=cfg).fit()
    metrics = run.task.evaluate(run.model.eval())
    assert set(metrics) == {"mpjpe", "p_mpjpe"} and all(v > 0 for v in metrics.values())
    assert run.task.last_h36m_metrics.per_action  # the per-action table


def test_mesh_flip_tta(small_body) -> None:  # noqa: ANN001
    import diffmesh
    from diffmesh.data.synthetic import SyntheticMotionDataset, SyntheticMotionEngine
    from diffmesh.training.tasks import evaluate_mesh_model

    model = diffmesh.create_model("diffmesh", body_model=small_body, dim_feat=32, dim_rep=32, depth=1, num_heads=4)
    val = SyntheticMotionDataset(2, "val", "mesh", engine=SyntheticMotionEngine(small_body, clip_len=16))
    plain = evaluate_mesh_model(model.eval(), val, flip=False)
    tta = evaluate_mesh_model(model.eval(), val, flip=True)
    assert all(torch.isfinite(torch.tensor(v)) for v in tta.values())
    assert tta["mpve"] != plain["mpve"]


def test_official_action_config_trains_on_ntu_skeletons(tmp_path: Path) -> None:
    from tests._official_data import write_ntu_pkl

    write_ntu_pkl(tmp_path / "ntu60_hrnet.pkl", n_samples=12, num_classes=60)
    cfg = yaml.safe_load(official_config("action_ntu60_xsub").read_text())
    cfg.update(data_root=str(tmp_path), dim_feat=16, dim_rep=16, depth=1, num_heads=2, hidden_dim=32,
               clip_len=27, maxlen=27, batch_size=4, max_steps=2)
    run = build_run(cfg)
    x, label = run.passes[0].dataset[0]
    assert tuple(x.shape) == (2, 27, 17, 3)
    result = Trainer(run.model, run.task, run.passes, run.train_config, tmp_path / "run", run_config=cfg).fit()
    assert len(result.losses) == 2
    assert 0 <= run.task.evaluate(run.model.eval())["top1"] <= 100


def test_official_pretrain_config_runs_the_2d_curriculum(tmp_path: Path) -> None:
    """MB_pretrain.yaml with its paths: PoseTrack and InstaVariety passes (2-D loss, noise,
    masking) from `pretrain_3d_curriculum`, then the AMASS + H36M-SH 3-D pass."""
    from tests._official_data import write_h36m_pose_pkl, write_instavariety, write_mb3d_clips, write_posetrack_json

    from diffmesh.training.tasks import Pose3DTask

    data = tmp_path / "data"
    mb3d = data / "motion3d" / "MB3D_f243s81"
    write_h36m_pose_pkl(data / "motion3d" / "h36m_sh_conf_cam_source_final.pkl")
    write_mb3d_clips(mb3d, "H36M-SH", "train", n_clips=2, n_frames=81)
    write_mb3d_clips(mb3d, "H36M-SH", "test", n_clips=1, n_frames=81)
    write_mb3d_clips(mb3d, "AMASS", "train", n_clips=2, n_frames=81, with_input=False)
    write_posetrack_json(data / "motion2d" / "posetrack18_annotations" / "train")
    write_instavariety(data / "motion2d" / "InstaVariety")
    cfg = yaml.safe_load(official_config("MB_pretrain").read_text())
    cfg.update(data_root=str(mb3d), dim_feat=16, dim_rep=16, depth=1, num_heads=2, batch_size=2,
               clip_len=81, pretrain_3d_curriculum=1, epochs=2, log_every_steps=1)
    run = build_run(cfg)
    assert [p.name for p in run.passes] == ["posetrack", "instavariety", "3d"]
    assert [p.active(0) for p in run.passes] == [False, False, True]
    assert isinstance(run.task, Pose3DTask) and run.task.noise and run.task.mask_ratio == 0.05
    trainer = Trainer(run.model, run.task, run.passes, run.train_config, tmp_path / "run", run_config=cfg)
    result = trainer.fit()
    assert len(result.losses) == trainer.steps_in_epoch(0) + trainer.steps_in_epoch(1)
    assert trainer.steps_in_epoch(1) > trainer.steps_in_epoch(0)  # the 2-D passes joined in epoch 1
    assert all(torch.isfinite(torch.tensor(result.losses)))
    lines = (tmp_path / "run" / "metrics.jsonl").read_text()
    assert "train/loss_2d" in lines and "train/loss_3d_pos" in lines


def test_official_oneshot_config_trains_with_supcon(tmp_path: Path) -> None:
    from tests._official_data import write_ntu_pkl

    from diffmesh.training.tasks import ClassPairs, OneShotTask

    write_ntu_pkl(tmp_path / "ntu120_hrnet.pkl", n_samples=16, num_classes=5)
    write_ntu_pkl(tmp_path / "ntu120_hrnet_oneshot.pkl", n_samples=10, num_classes=5, oneshot=True)
    cfg = yaml.safe_load(official_config("action_ntu120_oneshot").read_text())
    cfg.update(data_root=str(tmp_path), dim_feat=16, dim_rep=16, depth=1, num_heads=2, hidden_dim=32,
               clip_len=27, maxlen=27, batch_size=8, max_steps=2)
    run = build_run(cfg)
    assert isinstance(run.task, OneShotTask)
    pairs = run.passes[0].dataset
    # Class 0 is a one-shot class: its 4 samples leave the auxiliary set, the rest re-index to 0..3.
    assert isinstance(pairs, ClassPairs) and len(pairs) == 12 and set(pairs.labels.tolist()) == {0, 1, 2, 3}
    x, label = pairs[0]
    assert x.shape == (2, 2, 27, 17, 3)
    result = Trainer(run.model, run.task, run.passes, run.train_config, tmp_path / "run", run_config=cfg).fit()
    assert len(result.losses) == 2 and all(torch.isfinite(torch.tensor(result.losses)))
    assert 0 <= run.task.evaluate(run.model.eval())["oneshot_acc"] <= 100


def test_official_refine_config_trains_on_hybrik_files(tmp_path: Path) -> None:
    """DM_ft_pw3d_refine_hybrik.yaml: the *_w_hybrik_pred* files feed the initial pose/betas."""
    root = tmp_path / "data" / "mesh"
    write_mesh_folder(root, make_smpl_arrays(6890, seed=0))
    cfg = yaml.safe_load(official_config("DM_ft_pw3d_refine_hybrik").read_text())
    write_mesh_det_pkl(root / cfg["dt_file_pw3d"], "pw3d", with_hybrik=True)
    write_mesh_det_pkl(root / cfg["dt_file_coco"], "coco", with_hybrik=True)
    write_mesh_det_pkl(root / cfg["dt_file_h36m"], "h36m", with_hybrik=True,
                       train_videos=(("s_01_act_02_subact_01_ca_01", 40),), test_videos=(("s_09_act_02_subact_01_ca_02", 32),))
    cfg.update(data_root=str(root), dim_feat=32, dim_rep=32, depth=1, num_heads=4, hidden_dim=16,
               batch_size=4, batch_size_img=8, max_steps=3)
    run = build_run(cfg)
    assert "init_pose" in run.passes[0].dataset[0]
    result = Trainer(run.model, run.task, run.passes, run.train_config, tmp_path / "run", run_config=cfg).fit()
    assert len(result.losses) == 3 and all(torch.isfinite(torch.tensor(result.losses)))
    assert run.task.evaluate(run.model.eval())["mpjpe"] > 0
