"""One road for weights: declared checkpoint formats, ``create_model(name, checkpoint=, config=)``,
the variant an official config describes, hashing while reading, and refusing pickled code."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import diffmesh
from diffmesh.body import BodyModel
from diffmesh.cli import main
from diffmesh.files import sha256_file
from diffmesh.registry import variant_for_config
from diffmesh.weights import (
    MOTIONBERT_POSE,
    CheckpointMismatchError,
    UnsafeCheckpointError,
    load_backbone,
    read_checkpoint,
)
from tests._official import VARIANTS, official_config
from tests.conftest import TINY

#: A tiny model's hyper-parameters as an official YAML states them (with training keys it ignores).
TINY_YAML = {**TINY, "clip_len": 16, "lambda_diff": 0.001, "dt_file_pw3d": "mesh_det_pw3d.pkl", "epochs": 60, "flip": True}


def official_layout(model: torch.nn.Module, key: str, body: BodyModel | None = None, **extra: Any) -> dict[str, Any]:
    """``model`` saved as the official scripts save it: ``module.`` keys under ``key``, and a
    mesh model's SMPL buffers (``head.smpl.*``, with smplx's batch-64 dummies) alongside."""
    state = {f"module.{k}": v.clone() for k, v in model.state_dict().items()}
    if body is not None:
        smpl = {"v_template": body.v_template, "shapedirs": body.shapedirs, "posedirs": body.posedirs,
                "J_regressor": body.J_regressor, "parents": body.parents, "lbs_weights": body.lbs_weights,
                "faces_tensor": body.faces, "J_regressor_h36m": body.J_regressor_h36m,
                "betas": torch.zeros(64, 10), "global_orient": torch.zeros(64, 3)}  # fmt: skip
        state.update({f"module.head.smpl.{k}": v.clone() for k, v in smpl.items()})
    return {key: state, "epoch": 3, "lr": [1e-4, 1e-3], **extra}


class _RunsCode:
    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("echo this-must-never-run",))


# ------------------------------------------------------------------ create_model with a checkpoint


def test_official_mesh_checkpoint_loads_through_create_model(tmp_path: Path, small_body: BodyModel) -> None:
    trained = diffmesh.create_model("diffmesh", body_model=small_body, **TINY)
    path = tmp_path / "best_epoch.bin"
    torch.save(official_layout(trained, "model", small_body, best_jpe=np.float64(81.5)), path)  # numpy scalar as written
    model = diffmesh.create_model("diffmesh", checkpoint=path, config=TINY_YAML)
    info = model.weights_info
    assert (info.variant, info.format, info.file) == ("diffmesh", "diffmesh", str(path)) and info.trained
    assert info.sha256 == sha256_file(path)  # hashed from the bytes that were loaded
    assert not model.training
    # No data_root: the body model is rebuilt from the checkpoint's head.smpl.* buffers.
    assert torch.equal(model.body_model.v_template, small_body.v_template)
    x = torch.rand(1, 16, 17, 3)
    with torch.no_grad():
        torch.testing.assert_close(model(x).verts, trained.eval()(x).verts)
    # load_official picks the same variant from the config alone, then takes the same road.
    assert variant_for_config(TINY_YAML) == "diffmesh"
    again = diffmesh.models.load_official(path, TINY_YAML)
    assert again.weights_info == info


def test_official_encoder_checkpoint_and_its_declared_key(tmp_path: Path) -> None:
    encoder = diffmesh.create_model("motionbert", **TINY)
    path = tmp_path / "latest_epoch.bin"
    torch.save(official_layout(encoder, "model_pos", min_loss=np.float64(40.2)), path)
    model = diffmesh.create_model("motionbert", checkpoint=path, config={**TINY, "rootrel": True})
    assert model.weights_info.format == "motionbert-pose"
    for key, value in encoder.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    # The declared format is checked, never guessed around: an action/mesh layout is not an encoder's.
    torch.save(official_layout(encoder, "model"), tmp_path / "other.bin")
    with pytest.raises(CheckpointMismatchError, match=r"expected a 'model_pos' state dict of tensors, found entries \[epoch, lr, model\]"):
        diffmesh.create_model("motionbert", checkpoint=tmp_path / "other.bin", config=TINY)
    # An official pre-trained encoder initialises a mesh model's backbone (init_backbone).
    mesh = diffmesh.create_model("diffmesh", body_model="open", pretrained=False, **TINY)
    load_backbone(mesh, path, MOTIONBERT_POSE)
    assert torch.equal(mesh.backbone.joints_embed.weight, encoder.joints_embed.weight)


def test_checkpoint_keys_are_checked_against_the_declared_variant(tmp_path: Path, small_body: BodyModel) -> None:
    mb_mesh = diffmesh.create_model("motionbert-mesh", body_model=small_body, **TINY)
    ckpt = official_layout(mb_mesh, "model", small_body)
    with pytest.raises(CheckpointMismatchError) as err:
        diffmesh.models.load_official(ckpt, TINY_YAML)  # a DiffMesh config for a MotionBERT mesh checkpoint
    message = str(err.value)
    assert message.startswith("config <dict> describes 'diffmesh'; pass the config the checkpoint was trained with.")
    assert "unexpected keys: head.fc1.weight" in message and "missing keys: head.mesh_template" in message
    action = diffmesh.create_model("motionbert-action-ntu60", **TINY, hidden_dim=32)
    with_body = official_layout(action, "model", small_body)  # SMPL buffers in an action checkpoint
    with pytest.raises(CheckpointMismatchError, match="has body-model buffers .* but 'motionbert-action-ntu60' is not a mesh model"):
        diffmesh.create_model("motionbert-action-ntu60", checkpoint=with_body, **TINY, hidden_dim=32)


def test_training_run_checkpoint_is_a_declared_format_with_its_own_config(tmp_path: Path) -> None:
    from diffmesh.training.checkpoint import TrainState, load_checkpoint, save_checkpoint

    model = diffmesh.create_model("motionbert", **TINY)
    opt = torch.optim.AdamW(model.parameters())
    config = {"model": "motionbert", "model_overrides": dict(TINY), "data_root": tmp_path}  # a Path in the config
    path = save_checkpoint(tmp_path / "run.bin", model=model, optimizer=opt, scheduler=None, state=TrainState(),
                           config=config)  # fmt: skip
    payload = load_checkpoint(path)  # weights_only=True, numpy's RNG state included
    assert payload["config"]["data_root"] == str(tmp_path)
    assert isinstance(payload["rng"]["numpy"][1], np.ndarray)
    loaded = diffmesh.create_model("motionbert", checkpoint=path, checkpoint_format="training-run")
    assert loaded.weights_info.format == "training-run"
    assert torch.equal(loaded.joints_embed.weight, model.joints_embed.weight)
    with pytest.raises(CheckpointMismatchError, match=r"not a diffmesh training checkpoint \(format_version None, expected 1\)"):
        load_checkpoint(_save(tmp_path / "official.bin", official_layout(model, "model_pos")))


def _save(path: Path, obj: Any) -> Path:
    torch.save(obj, path)
    return path


# ------------------------------------------------------------------ the variant an official config describes


@pytest.mark.parametrize(
    ("variant", "name"),
    [("MB_pretrain", "motionbert"), ("MB_lite", "motionbert-lite"), ("pose3d_ft_h36m", "motionbert"),
     ("pose3d_ft_h36m_global_lite", "motionbert-lite"), ("action_ntu60_xsub", "motionbert-action-ntu60"),
     ("action_ntu120_oneshot", "motionbert-action-ntu120-oneshot"), ("MB_mesh_ft_pw3d", "motionbert-mesh"),
     ("DM_ft_pw3d", "diffmesh"), ("DM_ft_pw3d_refine_hybrik", "diffmesh-refine")],
)  # fmt: skip
def test_each_official_config_describes_one_variant(variant: str, name: str) -> None:
    assert variant in VARIANTS
    assert variant_for_config(official_config(variant)) == name


def test_config_that_describes_no_model() -> None:
    with pytest.raises(ValueError, match=r"config <dict> describes no model"):
        variant_for_config({"epochs": 3})
    assert variant_for_config({"model": "diffmesh-synthetic"}) == "diffmesh-synthetic"


# ------------------------------------------------------------------ safety and identity


def test_a_checkpoint_holding_code_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _save(tmp_path / "evil.bin", {"model_pos": {"temp_embed": torch.zeros(1)}, "payload": _RunsCode()})
    with pytest.raises(UnsafeCheckpointError) as err:
        diffmesh.create_model("motionbert", checkpoint=path)
    message = str(err.value)
    assert "\n" not in message and "weights_only" not in message
    assert f"{os.system.__module__}.system" in message  # posix.system: the global it would have called
    assert message.endswith("and loading it could run code")
    # The command line shows the same single line.
    config = tmp_path / "MB_lite.yaml"
    config.write_text("dim_feat: 256\nmlp_ratio: 4\n")
    assert main(["inspect", str(path), "--config", str(config)]) == 2
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert len(err_lines) == 1 and "could run code" in err_lines[0]


@pytest.mark.parametrize("zip_format", [True, False])
def test_objects_other_than_numeric_values_are_named(tmp_path: Path, zip_format: bool) -> None:
    import argparse

    for extra, named in ((argparse.Namespace(lr=1), "argparse.Namespace"), (np.array([None]), "numpy.dtypes.ObjectDType")):
        path = tmp_path / "ckpt.bin"
        torch.save({"model_pos": {"a": torch.zeros(1)}, "args": extra}, path, _use_new_zipfile_serialization=zip_format)
        with pytest.raises(UnsafeCheckpointError, match=rf"is refused: it holds {named}, not only tensors"):
            read_checkpoint(path, MOTIONBERT_POSE)


def test_unreadable_files_are_one_line_errors(tmp_path: Path) -> None:
    good = _save(tmp_path / "good.bin", {"model_pos": {"a": torch.zeros(1)}}).read_bytes()
    for name, data in (("junk.bin", b"not a checkpoint"), ("cut.bin", good[: len(good) // 2]), ("empty.bin", b"")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CheckpointMismatchError, match=rf"{name}' cannot be read \(.+\); it may be truncated") as err:
            read_checkpoint(tmp_path / name, MOTIONBERT_POSE)
        assert "\n" not in str(err.value) and "weights_only" not in str(err.value)


def test_inspect_reports_an_official_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    encoder = diffmesh.create_model("motionbert", **TINY)
    path = _save(tmp_path / "best_epoch.bin", official_layout(encoder, "model_pos"))
    config = tmp_path / "MB_tiny.yaml"
    config.write_text("".join(f"{k}: {v}\n" for k, v in TINY.items()))
    assert main(["inspect", str(path), "--config", str(config)]) == 0
    assert f"{sum(p.numel() for p in encoder.parameters()):,} parameters" in capsys.readouterr().out


def test_reading_hashes_the_bytes_it_loads(tmp_path: Path) -> None:
    path = _save(tmp_path / "w.bin", {"model_pos": {"a": torch.arange(3.0)}})
    ckpt = read_checkpoint(path, "motionbert-pose")
    assert ckpt.sha256 == sha256_file(path) and ckpt.file == str(path)
    assert read_checkpoint(ckpt, MOTIONBERT_POSE) is ckpt  # an already-read checkpoint is not read again
    with pytest.raises(ValueError, match="corrupt or from another version: sha256"):
        read_checkpoint(path, MOTIONBERT_POSE, sha256="0" * 64)
    with pytest.raises(ValueError, match="unknown checkpoint format 'official'"):
        read_checkpoint(path, "official")
