"""Model-input geometry: flips, the crop-box normalisation, pinhole cameras, and the import rules."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from diffmesh.conventions import H36M_FLIP_PERM, H36M_JOINTS, SMPL_FLIP_PAIRS, SMPL_FLIP_PERM, SMPL_JOINTS
from diffmesh.data import transforms as T
from diffmesh.geometry.camera import Camera, look_at, project
from diffmesh.geometry.crop import CropBox, crop_box, crop_scale, normalize_in_box
from diffmesh.geometry.flip import flip_data, flip_smpl_rotmats, flip_thetas
from diffmesh.geometry.rotations import axis_angle_to_rotmat

# --------------------------------------------------------------------------- flips


def test_flip_permutations_are_the_official_ones() -> None:
    # Official joints_left / joints_right of H36M-17.
    left, right = (4, 5, 6, 11, 12, 13), (1, 2, 3, 14, 15, 16)
    expected = list(range(17))
    for a, b in zip(left, right):
        expected[a], expected[b] = b, a
    assert list(H36M_FLIP_PERM) == expected
    for perm, names in ((H36M_FLIP_PERM, H36M_JOINTS), (SMPL_FLIP_PERM, SMPL_JOINTS)):
        assert sorted(perm) == list(range(len(names)))  # a permutation ...
        assert all(perm[perm[i]] == i for i in range(len(names)))  # ... and an involution
    assert SMPL_JOINTS[SMPL_FLIP_PERM[SMPL_JOINTS.index("left_wrist")]] == "right_wrist"
    assert SMPL_FLIP_PERM[SMPL_JOINTS.index("spine3")] == SMPL_JOINTS.index("spine3")
    assert all(SMPL_FLIP_PERM[a] == b for a, b in SMPL_FLIP_PAIRS) and len(SMPL_FLIP_PAIRS) == 9


def test_flip_data_is_an_involution_on_numpy_and_torch() -> None:
    x = np.random.default_rng(0).normal(size=(3, 17, 4))
    np.testing.assert_array_equal(flip_data(flip_data(x)), x)
    xt = torch.from_numpy(x)
    torch.testing.assert_close(flip_data(xt), torch.from_numpy(flip_data(x)))
    out = flip_data(x)
    np.testing.assert_array_equal(out[:, 4, 0], -x[:, 1, 0])  # left hip <- mirrored right hip
    np.testing.assert_array_equal(out[:, 0, 1:], x[:, 0, 1:])  # y, z, conf untouched
    with pytest.raises(ValueError, match=r"\[..., 17, D\]"):
        flip_data(np.zeros((3, 16, 2)))


def test_flip_thetas_forms_and_rotation_mirror() -> None:
    pose = np.random.default_rng(1).normal(0, 0.5, size=(5, 72)).astype(np.float32)
    flipped = flip_thetas(pose)
    np.testing.assert_allclose(flip_thetas(flipped), pose)
    np.testing.assert_allclose(flip_thetas(pose.reshape(5, 24, 3)).reshape(5, 72), flipped)
    # Mirroring a rotation R about x = 0 gives M R M with M = diag(-1, 1, 1).
    r = axis_angle_to_rotmat(torch.from_numpy(pose.reshape(5, 24, 3))[:, 0])
    m = torch.diag(torch.tensor([-1.0, 1.0, 1.0]))
    r_flip = axis_angle_to_rotmat(torch.from_numpy(flipped.reshape(5, 24, 3))[:, 0])
    torch.testing.assert_close(r_flip, m @ r @ m, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="82-d"):
        flip_thetas(np.zeros((2, 82)))


def test_flip_smpl_rotmats_is_flip_thetas_on_rotations() -> None:
    pose = torch.from_numpy(np.random.default_rng(2).normal(0, 0.6, size=(2, 3, 24, 3)))
    rotmats = axis_angle_to_rotmat(pose.reshape(-1, 3)).reshape(2, 3, 24, 3, 3)
    expected = axis_angle_to_rotmat(flip_thetas(pose).reshape(-1, 3)).reshape(2, 3, 24, 3, 3)
    torch.testing.assert_close(flip_smpl_rotmats(rotmats), expected, atol=1e-7, rtol=0)
    torch.testing.assert_close(flip_smpl_rotmats(flip_smpl_rotmats(rotmats)), rotmats, atol=0, rtol=0)
    with pytest.raises(ValueError, match=r"\[..., 24, 3, 3\]"):
        flip_smpl_rotmats(rotmats[..., :17, :, :])


# --------------------------------------------------------------------------- crop box


def _keypoints(seed: int = 0, dtype: type = np.float64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate((rng.uniform(100, 400, (5, 17, 2)), np.ones((5, 17, 1))), -1).astype(dtype)


def test_crop_scale_box_and_degenerate_cases() -> None:
    motion = _keypoints()
    out = crop_scale(motion, (1, 1))
    assert out[..., :2].min() == pytest.approx(-1) or out[..., :2].max() == pytest.approx(1)
    # Larger ratio -> body occupies a smaller part of [-1, 1]; needs an rng for a random range.
    with pytest.raises(ValueError, match="rng"):
        crop_scale(motion, (1, 3))
    out2 = crop_scale(motion, (2, 2))
    assert np.abs(out2[..., :2]).max() <= 0.5 + 1e-9
    a = crop_scale(motion, (1, 3), rng=np.random.default_rng(5))
    b = crop_scale(motion, (1, 3), rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    few = motion.copy()
    few[..., 2] = 0
    few[0, :3, 2] = 1
    assert not crop_scale(few).any()  # < 4 confident joints -> zeros
    # Official global-RNG replay: same draw as np.random.uniform after seeding.
    np.random.seed(0)
    expected = np.random.uniform(1, 3, 1)[0]
    np.random.seed(0)
    replay = crop_scale(motion, (1, 3), rng=T.official_global_rng())
    manual = crop_scale(motion, (expected, expected))
    np.testing.assert_allclose(replay, manual)
    with pytest.raises(ValueError, match=r"\[..., J, 3\]"):
        crop_scale(motion[..., :2])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_crop_scale_is_crop_box_then_normalize_in_box(dtype: type) -> None:
    motion = _keypoints(3, dtype)
    motion[1, 4] = (900.0, -50.0, 0.0)  # undetected: not framed, still normalised and clipped
    box = crop_box(motion)
    out = normalize_in_box(motion, box)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, crop_scale(motion))  # bit for bit: one implementation
    confident = motion[..., 2] != 0
    xy = motion[confident][:, :2]
    # The square is centred on the confident joints' tight box, whose longer side it equals.
    np.testing.assert_allclose([box.x0 + box.size / 2, box.y0 + box.size / 2], (xy.min(0) + xy.max(0)) / 2, rtol=1e-6)
    assert box.size == pytest.approx(np.ptp(xy, axis=0).max(), rel=1e-6)
    assert np.abs(out[confident][:, :2]).max() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_array_equal(out[1, 4], [1.0, -1.0, 0.0])  # clipped to [-1, 1]
    np.testing.assert_allclose(box.denormalize(box.normalize(motion[..., :2])), motion[..., :2], rtol=1e-5)


def _official_crop_scale(motion: np.ndarray, ratio: float) -> np.ndarray:
    """The official arithmetic step by step (DATA.md §2.3), intermediate stored in the input dtype."""
    result = motion.copy()
    valid = motion[motion[..., 2] != 0][:, :2]
    xmin, xmax, ymin, ymax = valid[:, 0].min(), valid[:, 0].max(), valid[:, 1].min(), valid[:, 1].max()
    scale = max(xmax - xmin, ymax - ymin) * ratio
    xs, ys = (xmin + xmax - scale) / 2, (ymin + ymax - scale) / 2
    result[..., :2] = (motion[..., :2] - [xs, ys]) / scale
    result[..., :2] = (result[..., :2] - 0.5) * 2
    return np.clip(result, -1, 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_crop_scale_keeps_the_official_arithmetic_bit_for_bit(dtype: type) -> None:
    motion = _keypoints(4, dtype)
    motion[2, 5:9, 2] = 0
    ratio = np.random.default_rng(9).uniform(1, 3, 1)[0]  # a float64 ratio, as drawn
    expected = _official_crop_scale(motion, ratio)
    out = crop_scale(motion, (1, 3), rng=np.random.default_rng(9))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(crop_scale(motion), _official_crop_scale(motion, 1.0))


def test_crop_box_needs_four_distinct_confident_joints() -> None:
    motion = _keypoints()
    motion[..., 2] = 0
    motion[0, :3, 2] = 1
    with pytest.raises(ValueError, match="at least 4 joints"):
        crop_box(motion)
    point = np.tile([[[10.0, 20.0, 1.0]]], (1, 17, 1))
    with pytest.raises(ValueError, match="one point"):
        crop_box(point)
    assert crop_box(_keypoints(), ratio=2.0).size == pytest.approx(2 * crop_box(_keypoints()).size)
    box = CropBox(x0=10.0, y0=20.0, size=100.0)
    np.testing.assert_allclose(box.normalize(np.array([[10.0, 20.0], [110.0, 120.0]])), [[-1, -1], [1, 1]])


# --------------------------------------------------------------------------- cameras


def test_look_at_camera_sees_its_target_on_the_optical_axis() -> None:
    eye, target = np.array([2.0, 1.5, 3.0]), np.array([0.0, 1.0, 0.0])
    R, t = look_at(eye, target, roll=0.1)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    K = np.array([[800.0, 0.0, 320.0], [0.0, 800.0, 240.0], [0.0, 0.0, 1.0]])
    cam = Camera(K=K, R_w2c=R, t_w2c=t, width=640, height=480)
    np.testing.assert_allclose(cam.center_world, eye, atol=1e-12)
    target_cam = cam.world_to_camera(target)
    assert target_cam[2] == pytest.approx(np.linalg.norm(target - eye))
    np.testing.assert_allclose(project(target_cam, K), [320.0, 240.0], atol=1e-9)
    # Y up in the world is up (smaller v) in the image without roll.
    R0, t0 = look_at(eye, target)
    above = project(R0 @ (target + [0.0, 0.1, 0.0]) + t0, K)
    assert above[1] < 240.0 and above[0] == pytest.approx(320.0)
    with pytest.raises(ValueError, match="straight up or down"):
        look_at(np.array([0.0, 3.0, 0.0]), np.zeros(3))


def test_project_pinhole_with_skew() -> None:
    K = np.array([[500.0, 2.0, 100.0], [0.0, 400.0, 50.0], [0.0, 0.0, 1.0]])
    p = np.array([[0.2, -0.1, 2.0], [0.0, 0.0, 4.0]], dtype=np.float32)
    uv = project(p, K)
    assert uv.dtype == np.float64
    np.testing.assert_allclose(uv, [[500 * 0.1 + 2 * -0.05 + 100, 400 * -0.05 + 50], [100, 50]], rtol=1e-6)


# --------------------------------------------------------------------------- import rules


def test_geometry_metrics_and_conventions_import_nothing_from_data() -> None:
    """The model-input conventions are leaves: importing them (and metrics, losses) loads no
    ``diffmesh.data`` module."""
    code = (
        "import sys\n"
        "import diffmesh.conventions, diffmesh.geometry, diffmesh.geometry.camera, diffmesh.geometry.crop\n"
        "import diffmesh.geometry.flip, diffmesh.metrics, diffmesh.losses\n"
        "print(sorted(m for m in sys.modules if m.startswith('diffmesh.data')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
