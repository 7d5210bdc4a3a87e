"""The body blended with the detector's own 3-D joints (diffmesh.pipelines.detector_blend), on the
real open body model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from diffmesh.body import load
from diffmesh.pipelines import InferSettings
from diffmesh.pipelines.detector_blend import LIMB_CHAINS, blend_joints, refine_limbs
from diffmesh.pipelines.prediction import MeshSequence, h36m_joints
from diffmesh.registry import get_spec, list_models


@pytest.fixture(scope="module")
def body():
    return load("open")


def _rot(axis: str, deg: float) -> np.ndarray:
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    return {"x": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]), "y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
            "z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])}[axis]  # fmt: skip


def _mesh(n: int, knee_deg: float, elbow_deg: float, shoulder_deg: float) -> MeshSequence:
    """Upright in the camera frame (y down), knees, elbows and shoulders bent by the given angles."""
    rot = np.broadcast_to(np.eye(3), (n, 24, 3, 3)).copy()
    rot[:, 0] = np.diag([1.0, -1.0, -1.0])
    for knee in (4, 5):
        rot[:, knee] = _rot("x", knee_deg)
    for elbow, sign in ((18, 1), (19, -1)):
        rot[:, elbow] = _rot("y", sign * elbow_deg)
    for shoulder, sign in ((16, 1), (17, -1)):
        rot[:, shoulder] = _rot("z", sign * shoulder_deg)
    return MeshSequence(rot.astype(np.float32), np.zeros((n, 10), np.float32))


def _limb_angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles between the limb bones (the 8 of LIMB_CHAINS) of two ``[N, 17, 3]`` joint sets."""
    out = []
    for (_, j0, j1), (_, _, j2) in LIMB_CHAINS:
        for p, q in ((j0, j1), (j1, j2)):
            u, v = a[:, q] - a[:, p], b[:, q] - b[:, p]
            cos = (u * v).sum(1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
            out.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return np.stack(out, 1)


def test_blend_is_the_average_with_the_detector_turned_onto_the_network(body) -> None:
    ours = h36m_joints(body, _mesh(6, 10.0, 20.0, 0.0)).astype(np.float64)
    theirs = h36m_joints(body, _mesh(6, 60.0, 90.0, 40.0)).astype(np.float64)
    turned = theirs @ _rot("y", 35.0).T + [0.3, -0.1, 2.0]  # another orientation and origin (BlazePose's hips)
    valid = np.ones(6, bool)
    hip = lambda j: j - 0.5 * (j[:, 1] + j[:, 4])[:, None]  # noqa: E731
    np.testing.assert_allclose(blend_joints(ours, turned, valid, 0.0), hip(ours), atol=1e-9)
    # the same pose turned: the detector's joints come back in the network's orientation
    np.testing.assert_allclose(blend_joints(ours, ours @ _rot("y", 35.0).T, valid, 1.0, sigma=0), hip(ours), atol=1e-6)
    half = blend_joints(ours, turned, valid, 0.5, sigma=0)
    far = blend_joints(ours, turned, valid, 1.0, sigma=0)
    np.testing.assert_allclose(half, 0.5 * (hip(ours) + far), atol=1e-9)
    assert np.abs(far - hip(ours)).max() > 0.1  # the bent limbs are the detector's
    gap = valid.copy()
    gap[2] = False  # frames without a detection keep the network's body
    np.testing.assert_allclose(blend_joints(ours, turned, gap, 0.5)[2], hip(ours)[2], atol=1e-9)


def test_refine_limbs_turns_each_bone_toward_the_target(body) -> None:
    mesh = _mesh(4, 10.0, 20.0, 0.0)
    target = h36m_joints(body, _mesh(4, 70.0, 100.0, 45.0)).astype(np.float64)
    before = _limb_angles_deg(h36m_joints(body, mesh), target)
    refined = refine_limbs(body, mesh, target, np.array([True, True, False, True]))
    after = _limb_angles_deg(h36m_joints(body, refined), target)
    assert before[[0, 1, 3]].max() > 40 and after[[0, 1, 3]].max() < 10, (before.max(), after.max())  # measured 8.5
    twice = refine_limbs(body, mesh, target, np.array([True, True, False, True]), iterations=2)
    assert _limb_angles_deg(h36m_joints(body, twice), target)[[0, 1, 3]].max() < 5  # measured 3.7
    again = refine_limbs(body, mesh, target, np.array([True, True, False, True]), current=h36m_joints(body, mesh))
    np.testing.assert_allclose(again.rotmats, refined.rotmats, atol=1e-6)  # given joints: the same
    np.testing.assert_array_equal(refined.rotmats[2], mesh.rotmats[2])  # not a refined row: unchanged
    np.testing.assert_array_equal(refined.rotmats[:, 0], mesh.rotmats[:, 0])  # the root and torso are the network's
    np.testing.assert_array_equal(refined.rotmats[:, [3, 6, 9, 12, 15]], mesh.rotmats[:, [3, 6, 9, 12, 15]])
    R = refined.rotmats.astype(np.float64)
    np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), np.broadcast_to(np.eye(3), R.shape), atol=1e-5)
    with torch.no_grad():  # still a body of the body model: posing it works
        body(torch.from_numpy(refined.betas), torch.from_numpy(refined.rotmats[:, 1:]), torch.from_numpy(refined.rotmats[:, :1]))


def test_refine_limbs_works_a_chunk_of_frames_at_a_time_with_the_same_result(body, monkeypatch) -> None:
    """Long videos: the float64 working copies cover CHUNK_FRAMES frames, and the result is the same to the bit."""
    import diffmesh.pipelines.detector_blend as blend

    g = np.random.default_rng(0)
    mesh = _mesh(9, 10.0, 20.0, 0.0)
    target = h36m_joints(body, _mesh(9, 70.0, 100.0, 45.0)).astype(np.float64) + g.normal(0, 0.01, (9, 17, 3))
    rows = np.array([1, 1, 0, 1, 1, 1, 0, 1, 1], bool)
    whole = refine_limbs(body, mesh, target, rows, iterations=2)
    monkeypatch.setattr(blend, "CHUNK_FRAMES", 2)
    np.testing.assert_array_equal(refine_limbs(body, mesh, target, rows, iterations=2).rotmats, whole.rotmats)


def test_bad_inputs_and_who_blends_by_default() -> None:
    j = np.zeros((3, 17, 3))
    with pytest.raises(ValueError, match=r"weight must be in \[0, 1\]"):
        blend_joints(j, j, np.ones(3, bool), 1.5)
    with pytest.raises(ValueError, match=r"\[N, 17, 3\]"):
        blend_joints(j, np.zeros((3, 12, 3)), np.ones(3, bool), 0.5)
    with pytest.raises(ValueError, match="detector_blend must be in"):
        InferSettings(detector_blend=-0.1)
    packaged = {m: get_spec(m).detector_blend for m in list_models() if get_spec(m).weights}
    assert packaged and all(w == 0.5 for w in packaged.values()), packaged
    assert all(get_spec(m).detector_blend == 0.0 for m in list_models() if not get_spec(m).weights)  # official: off


def test_snap_moves_joints_across_the_image_toward_the_keypoints() -> None:
    from diffmesh.pipelines.detector_blend import snap_to_keypoints

    K = np.array([[600.0, 0, 320], [0, 600.0, 240], [0, 0, 1]])
    rng = np.random.default_rng(1)
    joints = rng.normal(0, 0.3, (5, 17, 3)) + [0.1, 0.2, 4.0]
    proj = joints[..., :2] / joints[..., 2:3] * 600.0 + [320, 240]
    keypoints = np.concatenate([proj + [12.0, -8.0], np.ones((5, 17, 1))], -1)
    keypoints[:, 3, 2] = 0.2  # not confident: not moved
    rows = np.array([True, True, True, True, False])
    full = snap_to_keypoints(joints, keypoints, K, rows, 1.0, sigma=0)
    moved = full[..., :2] / full[..., 2:3] * 600.0 + [320, 240]
    np.testing.assert_allclose(moved[:4, [0, 1, 2, 4]], keypoints[:4, [0, 1, 2, 4], :2], atol=1e-6)  # onto them
    np.testing.assert_allclose(full[..., 2], joints[..., 2])  # at their own depth
    np.testing.assert_allclose(full[:, 3], joints[:, 3])
    np.testing.assert_allclose(full[4], joints[4])  # not a row to move
    half = snap_to_keypoints(joints, keypoints, K, rows, 0.5, sigma=0)
    np.testing.assert_allclose(half[:4] - joints[:4], 0.5 * (full[:4] - joints[:4]), atol=1e-9)
    still = np.repeat(joints[:1], 5, 0)  # a still body with the same offset in every frame: smoothing keeps it
    kp_still = np.repeat(keypoints[:1], 5, 0)
    np.testing.assert_allclose(snap_to_keypoints(still, kp_still, K, np.ones(5, bool), 1.0),
                               snap_to_keypoints(still, kp_still, K, np.ones(5, bool), 1.0, sigma=0), atol=1e-9)  # fmt: skip


def test_turn_torso_turns_the_body_so_its_hips_and_shoulders_follow(body) -> None:
    """The root turns by the rotation that takes the hips and shoulders onto the target's; the joints
    it returns are the posed body's; the rest of the pose and frames outside ``rows`` stay."""
    from diffmesh.pipelines.detector_blend import keypoint_share, turn_torso

    mesh = _mesh(3, 30.0, 40.0, 20.0)
    joints = h36m_joints(body, mesh).astype(np.float64)
    joints -= joints[:, :1]
    G = _rot("y", 25.0) @ _rot("x", -10.0)
    target = joints @ G.T
    turned, current = turn_torso(mesh, joints, target, np.array([True, False, True]))
    np.testing.assert_allclose(turned.rotmats[[0, 2], 0], (G @ mesh.rotmats[0, 0])[None].repeat(2, 0), atol=1e-5)
    np.testing.assert_array_equal(turned.rotmats[1], mesh.rotmats[1])  # not a row to turn
    np.testing.assert_array_equal(turned.rotmats[:, 1:], mesh.rotmats[:, 1:])  # only the root turns
    posed = h36m_joints(body, turned).astype(np.float64)
    np.testing.assert_allclose(posed - posed[:, :1], current, atol=1e-5)  # the joints it hands on are the body's
    np.testing.assert_allclose(current[[0, 2]], target[[0, 2]], atol=1e-5)
    assert keypoint_share(0.5) == 0.75 and keypoint_share(0.9) == 1.0 and keypoint_share(0.0) == 0.0
