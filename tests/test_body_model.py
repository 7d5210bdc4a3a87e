"""Body model: LBS against an independent reference, the layer, and the loaders.

All tests use a generated SMPL-format model (``_smpl_fixtures``), never SMPL itself.
"""

from __future__ import annotations

import math
import pickle
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from diffmesh.accel.chunking import SKINNING_CHUNK, AcceleratedBodyModel
from diffmesh.body import BodyAssets, BodyModel, load, load_smpl_file, load_smpl_folder, read_smpl_arrays
from diffmesh.body.lbs import lbs
from diffmesh.conventions import SMPL_JOINTS, SMPL_PARENTS
from diffmesh.geometry.rotations import axis_angle_to_rotmat, rot6d_to_rotmat
from tests._smpl_fixtures import make_smpl_arrays, write_chumpy_pkl, write_mesh_folder, write_smpl_npz

NUM_BODY_JOINTS = len(SMPL_PARENTS) - 1


@pytest.fixture(scope="module")
def arrays() -> dict[str, Any]:
    return make_smpl_arrays(num_verts=480, seed=0)


@pytest.fixture(scope="module")
def model_files(arrays: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("smpl")
    return {
        "npz": write_smpl_npz(folder / "model.npz", arrays),
        "pkl": write_chumpy_pkl(folder / "model.pkl", arrays),
    }


@pytest.fixture(scope="module")
def model(model_files: dict[str, Path]) -> BodyModel:
    return load_smpl_file(model_files["npz"])


def _no_posedirs(model: BodyModel) -> BodyModel:
    """The same model without pose blend shapes, so that joints move vertices rigidly."""
    return BodyModel(
        model.v_template, model.shapedirs, torch.zeros_like(model.posedirs), model.J_regressor,
        model.parents, model.lbs_weights, model.faces,
    )  # fmt: skip


def _random_pose(n: int, seed: int, scale: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n, NUM_BODY_JOINTS * 3, generator=g) * scale,
        torch.randn(n, 3, generator=g) * scale,
    )


# --------------------------------------------------------------------------- reference LBS


def reference_lbs(
    arrays: dict[str, Any], betas: np.ndarray, rotmats: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Straightforward float64 SMPL on the *file* layout, one sample and one joint at a time."""
    parents = list(SMPL_PARENTS)
    S = betas.shape[1]
    verts_out, joints_out = [], []
    for beta, R in zip(betas, rotmats):
        v_shaped = arrays["v_template"] + arrays["shapedirs"][:, :, :S] @ beta  # [V, 3]
        J = arrays["J_regressor"] @ v_shaped  # [24, 3]
        feature = np.concatenate([(R[j] - np.eye(3)).ravel() for j in range(1, 24)])  # [207]
        v_posed = v_shaped + arrays["posedirs"] @ feature  # [V, 3, 207] @ [207] -> [V, 3]
        world = []
        for j in range(24):
            local = np.eye(4)
            local[:3, :3] = R[j]
            local[:3, 3] = J[j] - (J[parents[j]] if parents[j] >= 0 else 0.0)
            world.append(local if parents[j] < 0 else world[parents[j]] @ local)
        skin = []
        for j in range(24):
            unpose = np.eye(4)
            unpose[:3, 3] = -J[j]
            skin.append(world[j] @ unpose)
        v_h = np.concatenate([v_posed, np.ones((len(v_posed), 1))], axis=1)  # [V, 4]
        verts = np.zeros_like(v_posed)
        for j in range(24):
            verts += arrays["weights"][:, j : j + 1] * (v_h @ skin[j].T)[:, :3]
        verts_out.append(verts)
        joints_out.append(np.stack([w[:3, 3] for w in world]))
    return np.stack(verts_out), np.stack(joints_out)


def test_lbs_matches_reference_float64(model: BodyModel, arrays: dict[str, Any]) -> None:
    aa_body, aa_root = _random_pose(3, seed=1, scale=0.8)
    rotmats = axis_angle_to_rotmat(torch.cat([aa_root, aa_body], 1).reshape(3, 24, 3).double())
    betas = torch.randn(3, 10, dtype=torch.float64)
    d = {k: torch.as_tensor(np.ascontiguousarray(v)) for k, v in arrays.items() if isinstance(v, np.ndarray)}
    verts, joints = lbs(
        betas, rotmats, d["v_template"], d["shapedirs"],
        d["posedirs"].reshape(-1, 207).T,  # [V, 3, 207] -> [3V, 207] -> [207, 3V]
        d["J_regressor"], model.parents, d["weights"],
    )  # fmt: skip
    ref_verts, ref_joints = reference_lbs(arrays, betas.numpy(), rotmats.numpy())
    np.testing.assert_allclose(verts.numpy(), ref_verts, atol=1e-12, rtol=0)
    np.testing.assert_allclose(joints.numpy(), ref_joints, atol=1e-12, rtol=0)


def test_body_model_float32_matches_reference(model: BodyModel, arrays: dict[str, Any]) -> None:
    aa_body, aa_root = _random_pose(4, seed=2, scale=0.8)
    betas = torch.randn(4, 10)
    out = model(betas, aa_body, aa_root)
    rotmats = out.rotmats.double().numpy()
    ref_verts, ref_joints = reference_lbs(arrays, betas.double().numpy(), rotmats)
    # float32 buffers vs a float64 reference: rounding of coordinates of ~1 m.
    np.testing.assert_allclose(out.vertices.double().numpy(), ref_verts, atol=1e-6, rtol=0)
    np.testing.assert_allclose(out.joints.double().numpy(), ref_joints, atol=1e-6, rtol=0)


def test_accelerated_body_skins_in_chunks_with_the_same_values(model: BodyModel, arrays: dict[str, Any]) -> None:
    """The accelerated twin poses batches above SKINNING_CHUNK chunk by chunk (cache-sized);
    every body must come out as when posed alone, as the plain model, and as the float64 reference."""
    n = SKINNING_CHUNK + 5
    aa_body, aa_root = _random_pose(n, seed=3, scale=0.8)
    betas = torch.randn(n, 10)
    plain = model(betas, aa_body, aa_root)
    model = AcceleratedBodyModel.sharing(model)
    out = model(betas, aa_body, aa_root)
    torch.testing.assert_close(out.vertices, plain.vertices, atol=1e-6, rtol=0)
    for i in (0, SKINNING_CHUNK - 1, SKINNING_CHUNK, n - 1):
        alone = model(betas[i : i + 1], aa_body[i : i + 1], aa_root[i : i + 1])
        torch.testing.assert_close(out.vertices[i : i + 1], alone.vertices, atol=1e-6, rtol=0)
        torch.testing.assert_close(out.joints[i : i + 1], alone.joints, atol=1e-6, rtol=0)
    ref_verts, _ = reference_lbs(arrays, betas.double().numpy(), out.rotmats.double().numpy())
    np.testing.assert_allclose(out.vertices.double().numpy(), ref_verts, atol=1e-6, rtol=0)


def test_accelerated_pose_blend_product_matches_and_copies(model: BodyModel) -> None:
    """Without autograd the accelerated twin's pose blend-shape product runs through oneDNN on
    a packed copy of posedirs: same vertices as the autograd path, and the model still copies
    and pickles. The plain model is left as it was (its buffers are shared, not copied)."""
    import copy

    plain = model
    model = AcceleratedBodyModel.sharing(plain)
    assert type(plain) is BodyModel and model.posedirs is plain.posedirs
    aa_body, aa_root = _random_pose(5, seed=4, scale=0.8)
    betas = torch.randn(5, 10)
    ref = model(betas, aa_body, aa_root).vertices
    with torch.no_grad():
        out = model(betas, aa_body, aa_root).vertices
        torch.testing.assert_close(out, ref, atol=1e-6, rtol=0)
        for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
            torch.testing.assert_close(clone(betas, aa_body, aa_root).vertices, out, atol=0, rtol=0)


# --------------------------------------------------------------------------- layer behaviour


def test_zero_pose_zero_betas_is_template(model: BodyModel) -> None:
    n = 2
    out = model(torch.zeros(n, 10), torch.zeros(n, 69), torch.zeros(n, 3))
    assert out.vertices.shape == (n, 480, 3) and out.joints.shape == (n, 24, 3)
    assert out.joints_h36m is None
    # Identity transforms up to float32 rounding of (J_parent + (J - J_parent)) - J.
    torch.testing.assert_close(out.vertices, model.v_template.expand(n, -1, -1), atol=1e-6, rtol=0)
    rest_joints = model.J_regressor @ model.v_template
    torch.testing.assert_close(out.joints, rest_joints.expand(n, -1, -1), atol=1e-6, rtol=0)


def test_elbow_rotation_moves_descendants_rigidly(model: BodyModel) -> None:
    rigid = _no_posedirs(model)
    elbow = SMPL_JOINTS.index("left_elbow")
    subtree = {j for j in range(24) if _is_ancestor(elbow, j)}
    assert subtree == {elbow, SMPL_JOINTS.index("left_wrist"), SMPL_JOINTS.index("left_hand")}

    body_pose = torch.zeros(1, 23, 3)
    body_pose[0, elbow - 1] = torch.tensor([0.0, 0.0, math.pi / 2])  # 90 deg about z
    out = rigid(torch.zeros(1, 10), body_pose, torch.zeros(1, 3))
    verts, template = out.vertices[0], rigid.v_template

    w_subtree = rigid.lbs_weights[:, sorted(subtree)].sum(1)
    untouched = w_subtree == 0
    fully_moved = w_subtree == 1
    assert untouched.sum() > 0 and fully_moved.sum() > 0 and (~untouched & ~fully_moved).sum() > 0
    torch.testing.assert_close(verts[untouched], template[untouched], atol=1e-6, rtol=0)

    pivot = (rigid.J_regressor @ template)[elbow]
    Rz = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    expected = (template[fully_moved] - pivot) @ Rz.T + pivot
    torch.testing.assert_close(verts[fully_moved], expected, atol=1e-6, rtol=0)
    # Joints below the elbow rotate about it too; the elbow itself stays.
    torch.testing.assert_close(out.joints[0, elbow], pivot, atol=1e-6, rtol=0)
    wrist = SMPL_JOINTS.index("left_wrist")
    rest = rigid.J_regressor @ template
    torch.testing.assert_close(out.joints[0, wrist], (rest[wrist] - pivot) @ Rz.T + pivot, atol=1e-6, rtol=0)


def _is_ancestor(ancestor: int, joint: int) -> bool:
    while joint >= 0:
        if joint == ancestor:
            return True
        joint = SMPL_PARENTS[joint]
    return False


def test_axis_angle_and_rotmat_inputs_agree(model: BodyModel) -> None:
    aa_body, aa_root = _random_pose(3, seed=3)
    betas = torch.randn(3, 10)
    ref = model(betas, aa_body, aa_root)
    body_R = axis_angle_to_rotmat(aa_body.reshape(3, 23, 3))
    root_R = axis_angle_to_rotmat(aa_root)
    for body, root in [
        (body_R, root_R[:, None]),  # [N,23,3,3], [N,1,3,3]
        (body_R, root_R),  # [N,3,3]
        (aa_body.reshape(3, 23, 3), aa_root[:, None]),  # [N,23,3], [N,1,3]
    ]:
        out = model(betas, body, root)
        torch.testing.assert_close(out.vertices, ref.vertices)
        torch.testing.assert_close(out.rotmats, ref.rotmats)


def test_betas_shift_vertices_by_shapedirs(model: BodyModel) -> None:
    betas = torch.zeros(2, 10)
    betas[0, 3] = 2.0
    betas[1, 0] = -1.0
    out = model(betas, torch.zeros(2, 69), torch.zeros(2, 3))
    expected = model.v_template + torch.einsum("ns,vks->nvk", betas, model.shapedirs)
    torch.testing.assert_close(out.vertices, expected, atol=1e-6, rtol=0)


def test_betas_padding_truncation_and_broadcast(model: BodyModel) -> None:
    aa_body, aa_root = _random_pose(2, seed=4)
    betas = torch.randn(2, 10)
    ref = model(betas, aa_body, aa_root).vertices
    short = betas.clone()
    short[:, 6:] = 0
    torch.testing.assert_close(model(betas[:, :6], aa_body, aa_root).vertices, model(short, aa_body, aa_root).vertices)
    torch.testing.assert_close(model(torch.cat([betas, torch.ones(2, 5)], 1), aa_body, aa_root).vertices, ref)
    one = model(betas[:1], aa_body, aa_root).vertices
    torch.testing.assert_close(one[0], ref[0])


def test_transl_and_h36m_joints(tmp_path: Path, arrays: dict[str, Any]) -> None:
    body = load(write_mesh_folder(tmp_path / "mesh", arrays))
    aa_body, aa_root = _random_pose(2, seed=5)
    betas = torch.randn(2, 10)
    transl = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]])
    base = body(betas, aa_body, aa_root)
    moved = body(betas, aa_body, aa_root, transl=transl)
    torch.testing.assert_close(moved.vertices, base.vertices + transl[:, None])
    torch.testing.assert_close(moved.joints, base.joints + transl[:, None])
    assert base.joints_h36m is not None and base.joints_h36m.shape == (2, 17, 3)
    torch.testing.assert_close(base.joints_h36m, torch.einsum("jv,nvk->njk", body.J_regressor_h36m, base.vertices))


def test_bad_pose_shapes_raise(model: BodyModel) -> None:
    betas = torch.zeros(2, 10)
    with pytest.raises(ValueError, match=r"body_pose has shape \[2, 24, 3\].*\[N, 23, 3, 3\]"):
        model(betas, torch.zeros(2, 24, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"global_orient has shape \[2, 4\]"):
        model(betas, torch.zeros(2, 69), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"betas has shape \[3, 10\]"):
        model(torch.zeros(3, 10), torch.zeros(2, 69), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"batch size"):
        model(betas, torch.zeros(2, 69), torch.zeros(1, 3))


def test_bad_buffer_shapes_raise(model: BodyModel) -> None:
    with pytest.raises(ValueError, match=r"posedirs must have shape \[207, 1440\].*got \[206, 1440\]"):
        BodyModel(model.v_template, model.shapedirs, model.posedirs[1:], model.J_regressor,
                  model.parents, model.lbs_weights, model.faces)  # fmt: skip
    with pytest.raises(ValueError, match=r"lbs_weights must have shape \[480, 24\]"):
        BodyModel(model.v_template, model.shapedirs, model.posedirs, model.J_regressor,
                  model.parents, model.lbs_weights.T, model.faces)  # fmt: skip
    bad_parents = model.parents.clone()
    bad_parents[5] = 7
    with pytest.raises(ValueError, match=r"parents"):
        BodyModel(model.v_template, model.shapedirs, model.posedirs, model.J_regressor,
                  bad_parents, model.lbs_weights, model.faces)  # fmt: skip


def test_buffers_are_not_persistent_and_no_parameters(model: BodyModel) -> None:
    wrapper = torch.nn.Module()
    wrapper.smpl = model
    assert wrapper.state_dict() == {}
    assert list(model.parameters()) == []
    assert model.name == "smpl" and model.num_betas == 10
    assert model.parents.dtype == torch.int64 and model.faces.dtype == torch.int64


def test_gradients_flow(model: BodyModel) -> None:
    rot6d = torch.randn(2, 24, 6, requires_grad=True)
    betas = torch.randn(2, 10, requires_grad=True)
    R = rot6d_to_rotmat(rot6d)
    out = model(betas, R[:, 1:], R[:, :1])
    out.vertices.square().sum().backward()
    assert rot6d.grad is not None and torch.isfinite(rot6d.grad).all() and rot6d.grad.abs().sum() > 0
    assert betas.grad is not None and torch.isfinite(betas.grad).all()


# --------------------------------------------------------------------------- state dict import


def _official_state_dict(model: BodyModel, prefix: str = "module.head.smpl.") -> dict[str, torch.Tensor]:
    sd = {
        "betas": torch.zeros(64, 10), "global_orient": torch.zeros(64, 3), "body_pose": torch.zeros(64, 69),
        "shapedirs": model.shapedirs, "faces_tensor": model.faces, "v_template": model.v_template,
        "J_regressor": model.J_regressor, "posedirs": model.posedirs, "parents": model.parents,
        "lbs_weights": model.lbs_weights, "J_regressor_extra": torch.rand(9, model.num_vertices),
        "J_regressor_h36m": torch.rand(17, model.num_vertices),
        "vertex_joint_selector.extra_joints_idxs": torch.arange(21),
    }  # fmt: skip
    return {prefix + k: v for k, v in sd.items()}


def test_from_smpl_state_dict_round_trip(model: BodyModel) -> None:
    for prefix in ("module.head.smpl.", ""):
        sd = _official_state_dict(model, prefix)
        loaded = BodyModel.from_smpl_state_dict(sd)
        for name, buffer in model.named_buffers():
            assert torch.equal(buffer, dict(loaded.named_buffers())[name]), name
        assert torch.equal(loaded.J_regressor_h36m, sd[prefix + "J_regressor_h36m"])
        assert torch.equal(loaded.J_regressor_extra, sd[prefix + "J_regressor_extra"])
        aa_body, aa_root = _random_pose(2, seed=6)
        torch.testing.assert_close(
            loaded(torch.ones(2, 10), aa_body, aa_root).vertices, model(torch.ones(2, 10), aa_body, aa_root).vertices
        )


def test_from_smpl_state_dict_names_missing_keys(model: BodyModel) -> None:
    sd = _official_state_dict(model)
    del sd["module.head.smpl.posedirs"], sd["module.head.smpl.faces_tensor"]
    with pytest.raises(ValueError, match=r"module\.head\.smpl\.posedirs.*module\.head\.smpl\.faces_tensor"):
        BodyModel.from_smpl_state_dict(sd)
    sd = _official_state_dict(model, "")
    sd["J_regressor_h36m"] = torch.zeros(16, model.num_vertices)
    with pytest.raises(ValueError, match=r"J_regressor_h36m must have shape \[17, 480\].*got \[16, 480\]"):
        BodyModel.from_smpl_state_dict(sd)


# --------------------------------------------------------------------------- loaders


def test_pkl_and_npz_give_identical_buffers(model_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    # Neither chumpy nor scipy may be needed to read the official-style pickle.
    monkeypatch.setitem(sys.modules, "chumpy", None)
    monkeypatch.setitem(sys.modules, "scipy", None)
    from_pkl = load_smpl_file(model_files["pkl"])
    from_npz = load_smpl_file(model_files["npz"])
    buffers_npz = dict(from_npz.named_buffers())
    for name, buffer in from_pkl.named_buffers():
        assert buffer.dtype == buffers_npz[name].dtype
        assert torch.equal(buffer, buffers_npz[name]), name
    assert from_pkl.parents.tolist() == list(SMPL_PARENTS)
    assert from_pkl.v_template.dtype == torch.float32


def test_pkl_entries_are_plain_arrays(model_files: dict[str, Path], arrays: dict[str, Any]) -> None:
    entries = read_smpl_arrays(model_files["pkl"])
    for key in ("v_template", "shapedirs", "posedirs", "weights", "J_regressor", "J"):
        assert isinstance(entries[key], np.ndarray), key
    np.testing.assert_array_equal(entries["J_regressor"], arrays["J_regressor"])
    assert entries["bs_style"] == "lbs"


def test_unsafe_pickle_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"v_template": types.SimpleNamespace()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match=r"types\.SimpleNamespace"):
        read_smpl_arrays(path)


def test_num_betas_truncation(model_files: dict[str, Path]) -> None:
    assert load_smpl_file(model_files["npz"], num_betas=4).shapedirs.shape == (480, 3, 4)
    with pytest.raises(ValueError, match=r"num_betas=16"):
        load_smpl_file(model_files["npz"], num_betas=16)


def test_malformed_npz_names_key(tmp_path: Path, arrays: dict[str, Any]) -> None:
    bad = dict(arrays, posedirs=arrays["posedirs"].reshape(480 * 3, 207))
    with pytest.raises(ValueError, match=r"'posedirs' must have shape \[480, 3, P\], got \[1440, 207\]"):
        load_smpl_file(write_smpl_npz(tmp_path / "bad.npz", bad))
    incomplete = {k: v for k, v in arrays.items() if k != "weights"}
    with pytest.raises(ValueError, match=r"missing the SMPL entries \['weights'\]"):
        load_smpl_file(write_smpl_npz(tmp_path / "incomplete.npz", incomplete))


def test_missing_files_are_named(tmp_path: Path, arrays: dict[str, Any]) -> None:
    with pytest.raises(FileNotFoundError, match=r"SMPL_NEUTRAL\.pkl.*open body model"):
        load_smpl_folder(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"nothing\.pkl"):
        load_smpl_file(tmp_path / "nothing.pkl")
    with pytest.raises(FileNotFoundError, match=r"does_not_exist"):
        load(tmp_path / "does_not_exist")
    folder = write_mesh_folder(tmp_path / "mesh", arrays)
    (folder / "J_regressor_h36m_correct.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"J_regressor_h36m_correct\.npy"):
        load_smpl_folder(folder)


def test_load_mesh_folder(tmp_path: Path, arrays: dict[str, Any]) -> None:
    write_mesh_folder(tmp_path / "data" / "mesh", arrays)
    for root in (tmp_path / "data" / "mesh", tmp_path / "data"):  # the folder or its parent
        body = load_smpl_folder(root)
        assets = body.assets
        assert isinstance(assets, BodyAssets)
        assert assets.init_pose is not None and assets.init_pose.shape == (144,)
        assert assets.init_pose.dtype == torch.float32
        assert assets.init_shape is not None and assets.init_shape.shape == (10,)
        assert assets.mean_vertices is not None and assets.mean_vertices.shape == (480, 3)
        assert assets.mesh_template is None  # derived from mean_vertices by the mesh heads
        assert body.J_regressor_h36m.shape == (17, 480)
        assert body.J_regressor_extra.shape == (9, 480)
        assert torch.equal(load(root).assets.init_pose, assets.init_pose)  # load(folder) is the same road
    bare = write_mesh_folder(tmp_path / "bare", arrays, with_means=False)
    assets = load_smpl_folder(bare).assets
    assert assets.init_pose is None and assets.init_shape is None and assets.mean_vertices is None


def test_load_dispatch(model_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(load(model_files["pkl"]), BodyModel)
    assert isinstance(load(str(model_files["npz"])), BodyModel)
    assert load(model_files["npz"]).assets is None  # a bare model file has no means
    with pytest.raises(ValueError, match=r"unsupported body-model source"):
        load(__file__)  # an existing file that is no body model

    # "open" is the shipped asset, read by the same module ...
    assert load("open").name == "open"
    # ... which says clearly when the installation lacks it.
    monkeypatch.setattr("diffmesh.body.loaders.OPEN_MODEL_FILE", "missing_open_body_model.npz")
    with pytest.raises(FileNotFoundError, match=r"open body model asset missing_open_body_model\.npz is missing"):
        load("open")
