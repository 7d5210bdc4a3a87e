"""The typed run config: one key table, clear errors for unknown keys, exact round trips."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from diffmesh.registry import variant_for_config
from diffmesh.training.config import RunConfig, SyntheticConfig, load_run_config
from diffmesh.training.config_keys import IGNORED, KEYS
from tests._official import REFERENCE_DIR, VARIANTS, official_config

REPO = Path(__file__).resolve().parents[1]
OURS = sorted((REPO / "configs").rglob("*.yaml"))
REFERENCE = sorted((REFERENCE_DIR / "configs").rglob("*.yaml"))


def _round_trips(rc: RunConfig, tmp_path: Path) -> None:
    rc.save(tmp_path / "config.yaml")
    assert load_run_config(tmp_path / "config.yaml") == rc
    # A training checkpoint stores the config through JSON (lists, not tuples).
    assert RunConfig.from_dict(json.loads(json.dumps(rc.to_dict()))) == rc


@pytest.mark.parametrize("path", OURS, ids=lambda p: p.stem)
def test_every_config_of_the_repository_loads_and_round_trips(path: Path, tmp_path: Path) -> None:
    rc = load_run_config(path)
    assert rc.layout == "diffmesh" and rc.model.variant and rc.synthetic.type == "synthetic"
    _round_trips(rc, tmp_path)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_official_configs_load_and_describe_the_same_model(variant: str, tmp_path: Path) -> None:
    from diffmesh.training.build import variant_of

    path = official_config(variant)
    rc = load_run_config(path)
    assert rc.layout == "official"
    # The saved form still describes the same registered variant.
    assert variant_of(rc) == variant_for_config(path)
    _round_trips(rc, tmp_path)


@pytest.mark.skipif(not REFERENCE, reason="official reference configs not available")
def test_every_official_reference_config_loads(tmp_path: Path) -> None:
    for path in REFERENCE:
        rc = load_run_config(path)
        assert rc.layout == "official", path
        _round_trips(rc, tmp_path)


def test_official_values_arrive_in_their_fields() -> None:
    rc = load_run_config(official_config("DM_ft_pw3d"))
    assert (rc.optim.lr_backbone, rc.optim.lr_head) == (8e-5, 7e-4)
    assert rc.schedule.warmup_h36m == 20 and rc.loss.lambda_diff is not None and rc.data.flip
    pose = load_run_config(official_config("pose3d_ft_h36m"))
    assert pose.optim.lr_head is None and pose.optim.lr_backbone > 0  # learning_rate → lr_backbone
    assert pose.data.subset_list and isinstance(pose.data.subset_list, tuple)


def test_an_unknown_key_is_one_line_naming_key_file_and_match(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("model: diffmesh\nlamda_3d: 0.5\n")
    with pytest.raises(ValueError) as err:
        load_run_config(path)
    message = str(err.value)
    assert message == f"unknown key 'lamda_3d' in {path} (did you mean 'lambda_3d'?)"
    assert "\n" not in message
    with pytest.raises(ValueError, match=r"unknown key 'data.trian_clips' .*did you mean 'data.train_clips'"):
        RunConfig.from_dict({"model": "diffmesh", "data": {"type": "synthetic", "trian_clips": 3}})
    with pytest.raises(ValueError, match=r"unknown key 'lr_haed' in <dict> \(did you mean 'lr_head'\?\)"):
        RunConfig.from_dict({"dim_feat": 512, "lr_haed": 1e-3})
    with pytest.raises(ValueError, match=r"unknown key 'zzz' in <dict> \(the keys are listed in docs/training.md\)"):
        RunConfig.from_dict({"dim_feat": 512, "zzz": 1})


def test_layout_types_and_conflicts_are_checked() -> None:
    with pytest.raises(ValueError, match="'flip' .* belongs to official .*did you mean 'eval_flip'"):
        RunConfig.from_dict({"model": "diffmesh", "flip": True})
    with pytest.raises(ValueError, match="'per_frame' .* belongs to diffmesh"):
        RunConfig.from_dict({"dim_feat": 512, "per_frame": True})
    with pytest.raises(ValueError, match="optim.epochs in <dict> must be int, got 'ten'"):
        RunConfig.from_dict({"dim_feat": 512, "epochs": "ten"})
    with pytest.raises(ValueError, match="'learning_rate' .* both set optim.lr_backbone"):
        RunConfig.from_dict({"dim_feat": 512, "lr_backbone": 1e-4, "learning_rate": 2e-4})
    # Official keys the project does not read are accepted (and listed as ignored).
    rc = RunConfig.from_dict({"dim_feat": 512, "att_fuse": True, "finetune": False, "no_eval": False})
    assert rc == RunConfig.from_dict({"dim_feat": 512})
    assert RunConfig.from_dict({"dim_feat": 512, "lr_backbone": "1e-4"}).optim.lr_backbone == 1e-4


def test_with_values_replaces_fields_by_path() -> None:
    rc = load_run_config(REPO / "configs" / "tiny_synthetic_diffmesh.yaml")
    changed = rc.with_values({"optim.epochs": 3, "seed": 7, "schedule.max_steps": 2})
    assert (changed.optim.epochs, changed.seed, changed.schedule.max_steps) == (3, 7, 2)
    assert changed.optim.batch_size == rc.optim.batch_size
    with pytest.raises(ValueError, match="no field 'optim.epoch'"):
        rc.with_values({"optim.epoch": 3})


def test_synthetic_defaults_are_the_engines() -> None:
    from diffmesh.data.synthetic import SyntheticMotionEngine

    engine = inspect.signature(SyntheticMotionEngine).parameters
    ours = SyntheticConfig()
    for name in ("families", "exclude_families", "noise", "mask_ratio", "mask_T_ratio", "beta_std", "fps", "mesh_vertex_stride", "seed"):
        assert getattr(ours, name) == engine[name].default, name


def test_the_docs_list_every_key() -> None:
    docs = (REPO / "docs" / "training.md").read_text()
    missing = [k for k in [*KEYS, *IGNORED] if f"`{k}`" not in docs]
    assert not missing, f"docs/training.md does not list {missing}"
