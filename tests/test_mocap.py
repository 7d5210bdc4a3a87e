"""The retargeted motion-capture clips (diffmesh.data.mocap): asset, split and augmentation."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from diffmesh.body import BodyModel, load
from diffmesh.conventions import SMPL_FLIP_PAIRS, SMPL_JOINTS
from diffmesh.data import mocap
from diffmesh.data.mocap import _rotations, augment
from diffmesh.data.synthetic.angles import JOINT_LIMITS, rotmats_to_angles
from diffmesh.geometry.rotations import axis_angle_to_rotmat, rotmat_to_axis_angle

FEET = [SMPL_JOINTS.index(n) for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")]


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return load("open")


def _posed(body: BodyModel, pose: np.ndarray, transl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Body-model vertices and joints at betas = 0."""
    p = torch.tensor(np.asarray(pose), dtype=torch.float32)
    with torch.no_grad():
        out = body(torch.zeros(1, 10), p[:, 1:], p[:, 0], torch.tensor(np.asarray(transl), dtype=torch.float32))
    return out.vertices.numpy(), out.joints.numpy()


def _foot_vertices(body: BodyModel) -> np.ndarray:
    return np.isin(body.lbs_weights.numpy().argmax(axis=1), FEET)


# ----------------------------------------------------------------------------- the asset


def test_split_is_declared_and_disjoint() -> None:
    assert mocap.HELD_OUT == ("run", "dance_b", "spinkick")
    assert len(mocap.list_clips()) == 15 and len(mocap.TRAIN_CLIPS) == 12
    assert set(mocap.TRAIN_CLIPS) | set(mocap.HELD_OUT) == set(mocap.list_clips())
    assert not set(mocap.TRAIN_CLIPS) & set(mocap.HELD_OUT)


@pytest.mark.parametrize("name", mocap.list_clips())
def test_every_clip_loads(name: str) -> None:
    clip = mocap.load_clip(name)
    T = clip.num_frames
    assert clip.name == name and clip.fps == 30.0 and T >= 20
    assert clip.pose_axis_angle.shape == (T, 24, 3) and clip.pose_axis_angle.dtype == np.float32
    assert clip.transl.shape == (T, 3) and clip.transl.dtype == np.float32
    assert np.isfinite(clip.pose_axis_angle).all() and np.isfinite(clip.transl).all()
    assert clip.category in {"locomotion", "jump", "acrobatics", "floor", "dance", "martial_arts"}
    assert clip.source.startswith("pybullet==3.2.7 ") and name in clip.source
    assert not clip.pose_axis_angle.flags.writeable  # shared cache: read-only


def test_total_duration_and_unknown_name() -> None:
    frames = sum(mocap.load_clip(n).num_frames for n in mocap.list_clips())
    assert 1000 < frames < 1100  # ~34 s at 30 fps
    with pytest.raises(ValueError, match="unknown motion-capture clip 'moonwalk'"):
        mocap.load_clip("moonwalk")


def test_rest_joints_are_the_open_model_joints(body: BodyModel) -> None:
    expected = (body.J_regressor @ body.v_template).numpy()
    np.testing.assert_allclose(mocap.rest_joints(), expected, atol=1e-5)  # float32 sums over 13,718 vertices


def test_clips_stand_on_the_floor(body: BodyModel) -> None:
    """Every clip touches y = 0 and never goes through it (lowest vertex per frame >= 0)."""
    for name in mocap.list_clips():
        clip = mocap.load_clip(name)
        frames = np.arange(0, clip.num_frames, 9)
        verts, _ = _posed(body, clip.pose_axis_angle[frames], clip.transl[frames])
        lowest = verts[..., 1].min(axis=1)
        assert lowest.min() > -1e-3, name
        assert lowest.min() < 0.01, name  # in contact


def test_retargeted_joints_regression(body: BodyModel) -> None:
    """Joints of two stored frames through the body model (pelvis, left knee, right ankle, head, wrists)."""
    reference = {
        ("walk", 10): [[-0.0169, 0.8939, 0.3430], [0.1346, 0.5419, 0.5125], [-0.0618, 0.0843, 0.2448],
                       [-0.0137, 1.5271, 0.4160], [0.2617, 0.8820, 0.3598], [-0.2853, 0.9125, 0.5059]],
        ("cartwheel", 40): [[1.0174, 0.8962, -0.2123], [0.7017, 0.8399, 0.1227], [1.3884, 1.4668, 0.2035],
                            [0.8708, 0.4009, -0.5898], [0.6662, 0.0611, -0.4407], [1.1700, 0.0733, -0.5825]],
    }  # fmt: skip
    joints = [SMPL_JOINTS.index(n) for n in ("pelvis", "left_knee", "right_ankle", "head", "left_wrist", "right_wrist")]
    for (name, frame), expected in reference.items():
        clip = mocap.load_clip(name)
        _, posed = _posed(body, clip.pose_axis_angle[frame : frame + 1], clip.transl[frame : frame + 1])
        np.testing.assert_allclose(posed[0, joints], expected, atol=2e-4, err_msg=f"{name} frame {frame}")


def test_forward_kinematics_matches_body_model(body: BodyModel) -> None:
    clip = mocap.load_clip("cartwheel")
    _, joints = _posed(body, clip.pose_axis_angle[::10], clip.transl[::10])
    fk = mocap.forward_kinematics(clip.pose_axis_angle[::10], clip.transl[::10])
    np.testing.assert_allclose(fk, joints, atol=1e-5)


def test_numpy_rotations_match_torch() -> None:
    rng = np.random.default_rng(0)
    aa = rng.normal(size=(2000, 3)) * 1.3
    aa[:5] *= 1e-9  # near the identity
    aa[5:10] *= (math.pi - 1e-7) / np.linalg.norm(aa[5:10], axis=1, keepdims=True)  # near pi
    R = _rotations.axis_angle_to_rotmat(aa)
    np.testing.assert_allclose(R, axis_angle_to_rotmat(torch.as_tensor(aa)).numpy(), atol=1e-7)
    expected = rotmat_to_axis_angle(torch.as_tensor(R)).numpy()
    np.testing.assert_allclose(_rotations.rotmat_to_axis_angle(R), expected, atol=1e-9)
    inside = np.linalg.norm(aa, axis=1) < math.pi - 1e-3  # unique there: the round trip gives aa back
    inside[:10] = False
    np.testing.assert_allclose(_rotations.rotmat_to_axis_angle(R[inside]), aa[inside], atol=1e-9)


# ----------------------------------------------------------------------------- augmentations


def test_mirror_twice_is_identity_and_mirrors_the_joints() -> None:
    clip = mocap.load_clip("kick")
    pose, transl = mocap.mirror(clip.pose_axis_angle, clip.transl)
    back_pose, back_transl = mocap.mirror(pose, transl)
    np.testing.assert_allclose(back_pose, clip.pose_axis_angle, atol=1e-6)
    np.testing.assert_allclose(back_transl, clip.transl, atol=1e-6)
    # The mirrored body's joints are the original joints mirrored (x negated, left <-> right).
    perm = np.arange(24)
    for a, b in SMPL_FLIP_PAIRS:
        perm[a], perm[b] = b, a
    original = mocap.forward_kinematics(clip.pose_axis_angle, clip.transl)
    mirrored = mocap.forward_kinematics(pose, transl)
    np.testing.assert_allclose(mirrored, original[:, perm] * np.array([-1.0, 1.0, 1.0]), atol=5e-3)


def test_heading_rotation_keeps_the_floor(body: BodyModel) -> None:
    clip = mocap.load_clip("getup_faceup")
    frames = slice(0, None, 8)
    pose, transl = mocap.rotate_heading(clip.pose_axis_angle[frames], clip.transl[frames], 2.1)
    v0, j0 = _posed(body, clip.pose_axis_angle[frames], clip.transl[frames])
    v1, j1 = _posed(body, pose, transl)
    np.testing.assert_allclose(v1[..., 1].min(axis=1), v0[..., 1].min(axis=1), atol=1e-4)  # same floor contact
    np.testing.assert_allclose(j1[..., 1], j0[..., 1], atol=1e-4)  # heights unchanged
    np.testing.assert_allclose(j1[0, 0, [0, 2]], j0[0, 0, [0, 2]], atol=1e-4)  # turned about the first root
    turned = (j0[:, 5] - j0[:, 0])[:, [0, 2]]  # a horizontal offset turns by the angle
    rotated = (j1[:, 5] - j1[:, 0])[:, [0, 2]]
    angle = np.arctan2(turned[:, 1], turned[:, 0]) - np.arctan2(rotated[:, 1], rotated[:, 0])
    np.testing.assert_allclose(np.cos(angle), math.cos(2.1), atol=1e-3)


def test_tempo_change_resamples() -> None:
    clip = mocap.load_clip("walk")
    fast_pose, fast_transl = mocap.change_tempo(clip.pose_axis_angle, clip.transl, 2.0)
    assert fast_pose.shape[0] == (clip.num_frames - 1) // 2 + 1
    np.testing.assert_allclose(fast_transl, clip.transl[::2], atol=1e-6)
    slow_pose, slow_transl = mocap.change_tempo(clip.pose_axis_angle, clip.transl, 0.5)
    assert slow_pose.shape[0] == 2 * clip.num_frames - 1
    np.testing.assert_allclose(slow_transl[1], (clip.transl[0] + clip.transl[1]) / 2, atol=1e-6)
    # Midway rotation (slerp): equally far from both neighbours.
    R = _rotations.axis_angle_to_rotmat(np.stack([clip.pose_axis_angle[0], slow_pose[1], clip.pose_axis_angle[1]]))
    d0 = np.linalg.norm(_rotations.rotmat_to_axis_angle(np.swapaxes(R[0], -1, -2) @ R[1]), axis=-1)
    d1 = np.linalg.norm(_rotations.rotmat_to_axis_angle(np.swapaxes(R[1], -1, -2) @ R[2]), axis=-1)
    np.testing.assert_allclose(d0, d1, atol=1e-6)
    with pytest.raises(ValueError, match="tempo factor must be positive"):
        mocap.change_tempo(clip.pose_axis_angle, clip.transl, 0.0)


def test_mixing_keeps_feet_on_the_floor(body: BodyModel, monkeypatch: pytest.MonkeyPatch) -> None:
    lower, upper = mocap.load_clip("walk"), mocap.load_clip("punch")
    T = lower.num_frames
    mixed = mocap.mix_upper_lower(lower.pose_axis_angle, upper.pose_axis_angle[:T])
    np.testing.assert_array_equal(mixed[:, list(mocap.LOWER_BODY)], lower.pose_axis_angle[:, list(mocap.LOWER_BODY)])
    np.testing.assert_array_equal(mixed[:, list(mocap.UPPER_BODY)], upper.pose_axis_angle[:T, list(mocap.UPPER_BODY)])
    feet = _foot_vertices(body)
    verts, _ = _posed(body, mixed, lower.transl)
    assert verts[:, feet, 1].min() > -1e-3
    # Sampled motions with mixing forced: the feet stay above the floor (within 3 cm) and touch it.
    monkeypatch.setattr(augment, "MIX_PROBABILITY", 1.0)
    rng = np.random.default_rng(3)
    num_mixed = 0
    for _ in range(10):
        sample = mocap.draw_motion(rng, 16)
        num_mixed += len(sample.clips) == 2
        verts, _ = _posed(body, sample.pose_axis_angle, sample.transl)
        assert verts[:, feet, 1].min() > -0.03, sample
        assert verts[..., 1].min(axis=1).min() < 0.05, sample
    assert num_mixed >= 3
    with pytest.raises(ValueError, match="equal length"):
        mocap.mix_upper_lower(lower.pose_axis_angle, upper.pose_axis_angle)


def test_joint_noise_stays_in_limits_and_on_the_floor(body: BodyModel) -> None:
    clip = mocap.load_clip("walk")
    pose, transl = mocap.add_joint_noise(np.random.default_rng(0), clip.pose_axis_angle, clip.transl, 1.0)
    assert np.abs(pose - clip.pose_axis_angle).max() > 0.05  # it changes the pose
    np.testing.assert_allclose(pose[:, 0], clip.pose_axis_angle[:, 0], atol=1e-9)  # root untouched
    before = rotmats_to_angles(_rotations.axis_angle_to_rotmat(clip.pose_axis_angle))
    after = rotmats_to_angles(_rotations.axis_angle_to_rotmat(pose))
    lo = np.minimum(JOINT_LIMITS[..., 0], before) - 1e-6
    hi = np.maximum(JOINT_LIMITS[..., 1], before) + 1e-6
    assert np.all((after[:, 1:] >= lo[:, 1:]) & (after[:, 1:] <= hi[:, 1:]))
    v0, _ = _posed(body, clip.pose_axis_angle, clip.transl)
    v1, _ = _posed(body, pose, transl)
    np.testing.assert_allclose(v1[..., 1].min(axis=1), v0[..., 1].min(axis=1), atol=0.02)


def test_looping_window_has_no_jump_at_the_seam() -> None:
    class _Start:  # the window starts at frame 0
        def uniform(self, low: float, high: float) -> float:
            return 0.0

    clip = mocap.load_clip("walk")
    R, transl = augment._window(_Start(), clip, 3 * clip.num_frames, 1.0)  # type: ignore[arg-type]
    step = np.linalg.norm(np.diff(augment._joints(R, transl), axis=0), axis=-1).max(axis=1)  # [N - 1]
    T = clip.num_frames
    assert step[T - 3 : T + 2].max() <= step[: T - 3].max() + 1e-6  # around the first seam
    assert transl[-1, 2] - transl[0, 2] > 2.5 * (clip.transl[-1, 2] - clip.transl[0, 2])  # keeps walking


# ----------------------------------------------------------------------------- the sampler


def test_sample_motion_shapes_and_reproducibility() -> None:
    pose, transl = mocap.sample_motion(np.random.default_rng(7), 16)
    assert pose.shape == (16, 24, 3) and transl.shape == (16, 3)
    assert pose.dtype == np.float32 and transl.dtype == np.float32
    assert np.isfinite(pose).all() and np.isfinite(transl).all()
    np.testing.assert_allclose((transl[0] + mocap.rest_joints()[0])[[0, 2]], 0.0, atol=1e-6)
    again, _ = mocap.sample_motion(np.random.default_rng(7), 16)
    np.testing.assert_array_equal(pose, again)
    long_pose, _ = mocap.sample_motion(np.random.default_rng(1), 300, fps=25)  # longer than any clip
    assert long_pose.shape == (300, 24, 3) and np.isfinite(long_pose).all()
    with pytest.raises(ValueError, match="num_frames must be at least 1"):
        mocap.sample_motion(np.random.default_rng(0), 0)


def test_held_out_clips_are_never_sampled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tag every clip with a unique hand rotation and decode the tags of many sampled motions."""
    names = mocap.list_clips()
    tags = {name: 0.2 * (i + 1) for i, name in enumerate(names)}  # x-angle of both hands (kept by mirroring)
    hands = [SMPL_JOINTS.index("left_hand"), SMPL_JOINTS.index("right_hand")]

    def tagged(name: str) -> mocap.MocapClip:
        clip = mocap.load_clip(name)
        pose = np.array(clip.pose_axis_angle)
        pose[:, hands] = [tags[name], 0.0, 0.0]
        return dataclasses.replace(clip, pose_axis_angle=pose)

    monkeypatch.setattr(augment, "load_clip", tagged)
    rng = np.random.default_rng(11)
    seen = set()
    for _ in range(150):
        pose, _ = mocap.sample_motion(rng, 8)
        x = pose[:, hands, 0]  # noise moves a hand by less than 0.05 rad
        decoded = {names[int(i)] for i in np.rint(x / 0.2 - 1).astype(int).ravel()}
        assert not decoded & set(mocap.HELD_OUT), decoded
        seen |= decoded
    assert seen == set(mocap.TRAIN_CLIPS)
    # The recipe records the same, and asking for a held-out clip is refused.
    draws = [mocap.draw_motion(rng, 8) for _ in range(50)]
    assert not {c for d in draws for c in d.clips} & set(mocap.HELD_OUT)
    with pytest.raises(ValueError, match="reserved for the held-out video benchmark"):
        mocap.draw_motion(rng, 8, clips=("walk", "run"))
