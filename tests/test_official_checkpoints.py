"""Strict import of checkpoints shaped like every official ``statedict_*.json``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from diffmesh.convert import CheckpointMismatchError, load_official
from diffmesh.models import ActionNet, DSTformer, MeshRegressor
from tests._official import VARIANTS, official_checkpoint, official_config

NON_MESH = [v for v in VARIANTS if not v.startswith(("MB_mesh", "DM_"))]
MESH = [v for v in VARIANTS if v.startswith(("MB_mesh", "DM_"))]


def _consumed(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Every non-SMPL key of the checkpoint landed in the model unchanged."""
    ours = model.state_dict()
    for key, value in state.items():
        key = key.removeprefix("module.")
        if key.startswith("head.smpl."):
            continue
        assert key in ours, f"{key} was not consumed"
        assert torch.equal(ours[key], value), f"{key} changed on load"


@pytest.mark.parametrize("variant", NON_MESH)
def test_pose_and_action_checkpoints_load_strictly(variant: str) -> None:
    ckpt = official_checkpoint(variant)
    model = load_official(ckpt, official_config(variant))
    assert not model.training
    _consumed(model, next(iter(ckpt.values())))
    with torch.no_grad():
        if isinstance(model, ActionNet):
            out = model(torch.rand(2, 2, 5, 17, 3))
            classes = 60 if "ntu60" in variant else 2048
            assert out.shape == (2, classes)
        else:
            assert isinstance(model, DSTformer)
            x = torch.rand(1, 7, 17, 3)
            assert model(x).shape == (1, 7, 17, 3)
            assert model.get_representation(x).shape == (1, 7, 17, 512)


@pytest.mark.parametrize("variant", MESH)
def test_mesh_checkpoints_load_and_rebuild_body_model(variant: str) -> None:
    ckpt = official_checkpoint(variant)
    model = load_official(ckpt, official_config(variant))  # no data_root: SMPL from head.smpl.*
    assert isinstance(model, MeshRegressor)
    _consumed(model, ckpt["model"])
    smpl = {k.removeprefix("module.head.smpl."): v for k, v in ckpt["model"].items() if ".smpl." in k}
    assert torch.equal(model.body_model.v_template, smpl["v_template"])
    assert torch.equal(model.body_model.J_regressor_h36m, smpl["J_regressor_h36m"])
    kwargs = {}
    if "refine" in variant:
        kwargs = {"init_pose": torch.randn(1, 16, 72) * 0.2, "init_shape": torch.randn(1, 16, 10)}
    with torch.no_grad():
        out = model(torch.rand(1, 16, 17, 3), **kwargs)
    assert out.theta.shape == (1, 16, 82)
    assert out.verts.shape == (1, 16, 6890, 3)
    assert out.kp_3d.shape == (1, 16, 17, 3)
    assert out["theta"] is out.theta
    # kp_3d is regressed from the millimetre vertices with the checkpoint's H36M regressor.
    expected = torch.einsum("jv,btvc->btjc", smpl["J_regressor_h36m"], out.verts)
    torch.testing.assert_close(out.kp_3d, expected, rtol=1e-5, atol=1e-3)


def test_mesh_checkpoint_with_data_root_uses_the_folder(smpl_folder: Path) -> None:
    ckpt = official_checkpoint("DM_ft_pw3d")
    model = load_official(ckpt, official_config("DM_ft_pw3d"), data_root=smpl_folder)
    import numpy as np

    regressor = np.load(smpl_folder / "J_regressor_h36m_correct.npy")
    assert np.allclose(model.body_model.J_regressor_h36m.numpy(), regressor)


def test_checkpoint_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "best_epoch.bin"
    torch.save(official_checkpoint("MB_lite"), path)
    model = load_official(path, official_config("MB_lite"))
    assert model.config.dim_feat == 256


def test_wrong_shape_is_named() -> None:
    ckpt = official_checkpoint("MB_lite")
    ckpt["model_pos"]["module.blocks_st.2.attn_s.qkv.weight"] = torch.zeros(5, 5)
    with pytest.raises(CheckpointMismatchError, match=r"blocks_st\.2\.attn_s\.qkv\.weight: checkpoint \[5, 5\]"):
        load_official(ckpt, official_config("MB_lite"))


def test_extra_and_missing_keys_are_named() -> None:
    ckpt = official_checkpoint("DM_ft_pw3d")
    state = ckpt["model"]
    state["module.head.surprise.weight"] = torch.zeros(3)
    del state["module.head.head_shape.bias"]
    with pytest.raises(CheckpointMismatchError) as err:
        load_official(ckpt, official_config("DM_ft_pw3d"))
    assert "head.surprise.weight" in str(err.value)
    assert "head.head_shape.bias" in str(err.value)


def test_lite_checkpoint_with_full_config_is_refused() -> None:
    with pytest.raises(CheckpointMismatchError, match="temp_embed: checkpoint \\[1, 243, 1, 256\\] vs model \\[1, 243, 1, 512\\]"):
        load_official(official_checkpoint("MB_lite"), official_config("MB_pretrain"))


def test_checkpoint_that_does_not_match_its_config_is_refused() -> None:
    with pytest.raises(CheckpointMismatchError, match=r"DM_ft_pw3d\.yaml' describes 'diffmesh'; pass the config the checkpoint was trained with"):
        load_official(official_checkpoint("MB_mesh_ft_pw3d"), official_config("DM_ft_pw3d"))


def test_missing_checkpoint_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.bin"):
        load_official(tmp_path / "nope.bin", official_config("MB_lite"))


def test_corrupt_checkpoint_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.bin"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointMismatchError, match="broken.bin' cannot be read"):
        load_official(path, official_config("MB_lite"))


def test_diffusion_options_do_not_change_loading() -> None:
    ckpt = official_checkpoint("DM_ft_pw3d_refine_hybrik")
    model = load_official(ckpt, official_config("DM_ft_pw3d_refine_hybrik"), diffusion_grad=True, refine_6d_convention="spin_columns")
    assert model.head.diffusion_grad and model.head.refine_6d_convention == "spin_columns"
