"""``motion.bvh`` of ``diffmesh pose``: H36M-17 joint positions as an animated BVH skeleton,
checked by forward kinematics with the independent reader in ``tests/_bvh.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from diffmesh.conventions import H36M_JOINTS
from diffmesh.io.motion import CAMERA_TO_Y_UP
from diffmesh.io.skeleton_bvh import H36M_PARENTS, median_bone_lengths, write_joints_bvh
from tests._bvh import Bvh, read_bvh

# A rest skeleton (Y up, facing +Z, left on +X, metres) with a non-T-pose layout at the pelvis
# and the thorax: the spine and the nose lean forward, the shoulders sit a little low.
_REST = np.array([
    [0, 0, 0], [-0.13, 0, 0], [0, -0.44, 0], [0, -0.45, 0], [0.13, 0, 0], [0, -0.44, 0], [0, -0.45, 0],
    [0, 0.23, 0.03], [0, 0.25, 0], [0, 0.10, 0.06], [0, 0.12, 0], [0.15, -0.01, 0], [0.28, 0, 0], [0.25, 0, 0],
    [-0.15, -0.01, 0], [-0.28, 0, 0], [-0.25, 0, 0],
])  # fmt: skip
_ONE_CHILD = [j for j in range(17) if H36M_PARENTS.count(j) == 1]  # joints whose one bone is exact


def _random_rotations(rng: np.random.Generator, shape: tuple[int, ...], max_angle: float) -> np.ndarray:
    axis = rng.normal(size=shape + (3,))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = rng.uniform(-max_angle, max_angle, shape)[..., None, None]
    K = np.zeros(shape + (3, 3))
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 2] = -axis[..., 2], axis[..., 1], -axis[..., 0]
    K = K - np.swapaxes(K, -1, -2)
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


def _rigid_motion(T: int, seed: int = 0, local: np.ndarray | None = None) -> np.ndarray:
    """``[T, 17, 3]`` camera-frame joints of the rest skeleton under random (or the given) local rotations."""
    rng = np.random.default_rng(seed)
    local = _random_rotations(rng, (T, 17), 1.2) if local is None else local
    glob = np.zeros_like(local)
    pos = np.zeros((T, 17, 3))
    pos[:, 0] = rng.normal(size=(T, 3)) + [0, 0, -4]  # in front of the camera after the turn
    for j in range(17):
        p = H36M_PARENTS[j]
        glob[:, j] = local[:, j] if p < 0 else glob[:, p] @ local[:, j]
        if p >= 0:
            pos[:, j] = pos[:, p] + np.einsum("tij,j->ti", glob[:, p], _REST[j])
    return pos @ CAMERA_TO_Y_UP.T  # the turn is its own inverse


def _fk_h36m(bvh: Bvh) -> np.ndarray:
    """``[T, 17, 3]`` forward kinematics of the file, in H36M order."""
    order = [bvh.names().index(name) for name in H36M_JOINTS]
    return np.stack([bvh.world_positions(t)[order] for t in range(len(bvh.frames))])


def _offsets_h36m(bvh: Bvh) -> np.ndarray:
    return np.stack([bvh.joints[bvh.names().index(name)].offset for name in H36M_JOINTS])


def test_a_rigid_skeleton_comes_back_exactly(tmp_path: Path) -> None:
    joints_cam = _rigid_motion(10)
    path = write_joints_bvh(tmp_path / "motion.bvh", joints_cam, fps=25.0)
    bvh = read_bvh(path)
    assert bvh.names()[0] == "pelvis" and sorted(bvh.names()) == sorted(H36M_JOINTS)
    assert bvh.frames.shape == (10, 6 + 3 * 16) and bvh.frame_time == pytest.approx(1 / 25)
    np.testing.assert_allclose(_fk_h36m(bvh), joints_cam @ CAMERA_TO_Y_UP.T, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(_offsets_h36m(bvh), axis=1), np.linalg.norm(_REST, axis=1), atol=1e-6)
    # End Sites continue the leaf bones (ankles, wrists, head top), half a bone long
    leaves = {j.name: j for j in bvh.joints if j.end_site is not None}
    assert sorted(leaves) == ["head_top", "left_ankle", "left_wrist", "right_ankle", "right_wrist"]
    np.testing.assert_allclose(leaves["left_wrist"].end_site, 0.5 * leaves["left_wrist"].offset, atol=1e-6)


def test_the_rest_pose_is_t_pose_like(tmp_path: Path) -> None:
    bvh = read_bvh(write_joints_bvh(tmp_path / "m.bvh", _rigid_motion(6), fps=30.0))
    unit = _offsets_h36m(bvh)[1:] / np.linalg.norm(_offsets_h36m(bvh)[1:], axis=1, keepdims=True)
    rest = dict(zip(H36M_JOINTS[1:], unit))
    for leg in ("right_knee", "right_ankle", "left_knee", "left_ankle"):
        np.testing.assert_allclose(rest[leg], [0, -1, 0], atol=1e-6)
    for up in ("spine", "thorax", "nose", "head_top"):
        np.testing.assert_allclose(rest[up], [0, 1, 0], atol=1e-6)
    for arm, side in (("left_elbow", 1), ("left_wrist", 1), ("right_elbow", -1), ("right_wrist", -1)):
        np.testing.assert_allclose(rest[arm], [side, 0, 0], atol=1e-6)
    # hips and shoulders keep the subject's layout about the spine and the nose bone (in _REST
    # the hips are square to the spine, the shoulders a little below square to the nose bone)
    np.testing.assert_allclose(rest["left_hip"], [1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(rest["right_hip"], [-1, 0, 0], atol=1e-6)
    assert rest["left_shoulder"][0] > 0.95 and rest["right_shoulder"][0] < -0.95
    assert rest["left_shoulder"][1] < -0.03 and rest["right_shoulder"][1] < -0.03


def test_noisy_joints_keep_every_single_child_bone_direction_and_the_median_lengths(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    joints_cam = _rigid_motion(12, seed=2) + rng.normal(scale=0.01, size=(12, 17, 3))
    bvh = read_bvh(write_joints_bvh(tmp_path / "m.bvh", joints_cam, fps=30.0))
    fk, want = _fk_h36m(bvh), joints_cam @ CAMERA_TO_Y_UP.T
    np.testing.assert_allclose(fk[:, 0], want[:, 0], atol=1e-6)  # the root follows the pelvis
    lengths = median_bone_lengths(joints_cam)
    np.testing.assert_allclose(np.linalg.norm(_offsets_h36m(bvh), axis=1), lengths, atol=1e-6)
    parents = list(H36M_PARENTS[1:])
    bone_fk, bone_in = fk[:, 1:] - fk[:, parents], want[:, 1:] - want[:, parents]  # [T, 16, 3]
    np.testing.assert_allclose(np.linalg.norm(bone_fk, axis=-1), np.broadcast_to(lengths[1:], (12, 16)), atol=1e-5)
    unit_fk = bone_fk / np.linalg.norm(bone_fk, axis=-1, keepdims=True)
    unit_in = bone_in / np.linalg.norm(bone_in, axis=-1, keepdims=True)
    exact = [c - 1 for c in range(1, 17) if H36M_PARENTS[c] in _ONE_CHILD]
    np.testing.assert_allclose(unit_fk[:, exact], unit_in[:, exact], atol=1e-4)
    # the three bones of the pelvis and of the thorax are a least-squares fit: close, not exact
    fitted = [c - 1 for c in range(1, 17) if H36M_PARENTS[c] not in _ONE_CHILD]
    cos = np.sum(unit_fk[:, fitted] * unit_in[:, fitted], axis=-1)
    assert cos.min() > np.cos(np.radians(15))


def test_bones_opposite_to_their_rest_direction_turn_half_a_turn(tmp_path: Path) -> None:
    local = np.broadcast_to(np.eye(3), (2, 17, 3, 3)).copy()
    local[:, 0] = np.diag([-1.0, 1.0, -1.0])  # the pelvis faces away
    local[1, H36M_JOINTS.index("left_shoulder")] = np.diag([-1.0, -1.0, 1.0])  # upper arm across the chest
    local[1, H36M_JOINTS.index("right_knee")] = np.diag([1.0, -1.0, -1.0])  # shin pointing up
    joints_cam = _rigid_motion(2, local=local)
    bvh = read_bvh(write_joints_bvh(tmp_path / "m.bvh", joints_cam, fps=30.0))
    np.testing.assert_allclose(_fk_h36m(bvh), joints_cam @ CAMERA_TO_Y_UP.T, atol=1e-5)


def test_frames_without_a_person_hold_the_last_valid_pose(tmp_path: Path) -> None:
    joints_cam = _rigid_motion(6, seed=3)
    valid = np.array([False, True, True, False, False, True])
    joints_cam[~valid] = np.nan
    bvh = read_bvh(write_joints_bvh(tmp_path / "m.bvh", joints_cam, fps=30.0, valid=valid))
    rows = bvh.frames
    np.testing.assert_array_equal(rows[0], rows[1])  # before the first valid frame: the first one
    np.testing.assert_array_equal(rows[3], rows[2])
    np.testing.assert_array_equal(rows[4], rows[2])
    np.testing.assert_allclose(_fk_h36m(bvh)[valid], (joints_cam @ CAMERA_TO_Y_UP.T)[valid], atol=1e-5)


def test_centimetres_scale_every_length(tmp_path: Path) -> None:
    joints_cam = _rigid_motion(4, seed=4)
    m = read_bvh(write_joints_bvh(tmp_path / "m.bvh", joints_cam, fps=30.0))
    cm = read_bvh(write_joints_bvh(tmp_path / "cm.bvh", joints_cam, fps=30.0, units="cm"))
    np.testing.assert_allclose(_offsets_h36m(cm), 100 * _offsets_h36m(m), atol=1e-4)
    np.testing.assert_allclose(cm.frames[:, :3], 100 * m.frames[:, :3], atol=1e-4)  # root positions
    np.testing.assert_allclose(cm.frames[:, 3:], m.frames[:, 3:], atol=1e-6)  # angles
    np.testing.assert_allclose(_fk_h36m(cm), 100 * (joints_cam @ CAMERA_TO_Y_UP.T), atol=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"joints": np.zeros((5, 16, 3))}, "shape [T, 17, 3]"),
        ({"joints": np.zeros((0, 17, 3))}, "shape [T, 17, 3]"),
        ({"joints": np.full((3, 17, 3), np.nan)}, "NaN or inf in valid frames [0, 1, 2]"),
        ({"valid": np.zeros(3, bool)}, "no person"),
        ({"valid": np.ones(4, bool)}, "valid must have shape [T=3]"),
        ({"fps": 0.0}, "fps must be a positive"),
        ({"fps": float("nan")}, "fps must be a positive"),
        ({"units": "mm"}, "units must be 'm' or 'cm'"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path: Path, kwargs: dict, message: str) -> None:
    args = {"joints": _rigid_motion(3), "fps": 30.0, "valid": None, "units": "m"} | kwargs
    with pytest.raises(ValueError) as err:
        write_joints_bvh(tmp_path / "m.bvh", **args)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not list(tmp_path.iterdir())
