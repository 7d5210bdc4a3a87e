"""The synthetic motion engine and the detection-noise / masking augmentation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from diffmesh.body import BodyModel, load
from diffmesh.data.augment import (
    OFFICIAL_NOISE,
    add_detection_noise,
    mask_joints_and_frames,
    offset_confidence,
    sample_detection_offsets,
)
from diffmesh.data.synthetic import (
    FAMILIES,
    JOINT_LIMITS,
    SPLIT_SIZE,
    SyntheticMotionDataset,
    SyntheticMotionEngine,
    motion_seed,
)
from diffmesh.data.synthetic.angles import angles_to_rotmats, catmull_rom, rotmats_to_angles
from diffmesh.geometry.camera import project
from diffmesh.geometry.rotations import axis_angle_to_rotmat

FPS = 30.0


@pytest.fixture(scope="module")
def open_body() -> BodyModel:
    return load("open")


@pytest.fixture(scope="module")
def engine(open_body: BodyModel) -> SyntheticMotionEngine:
    return SyntheticMotionEngine(open_body, clip_len=16)


@pytest.fixture(scope="module")
def family_clips(open_body: BodyModel) -> dict[str, list]:
    """Two 2-second pose-only clips per family (no noise, no dropping: exact geometry)."""
    out = {}
    for family in FAMILIES:
        eng = SyntheticMotionEngine(open_body, clip_len=60, families=[family], noise=False, mask_ratio=0.0)
        out[family] = eng.generate("train", [0, 1], with_verts=False)
    return out


# ----------------------------------------------------------------------------- engine


def test_deterministic_from_seed(open_body: BodyModel) -> None:
    a = SyntheticMotionEngine(open_body, clip_len=16, seed=3).generate("train", [5, 6])
    b = SyntheticMotionEngine(open_body, clip_len=16, seed=3).generate("train", [6, 5])[::-1]  # order-free
    for x, y in zip(a, b):
        assert x.family == y.family and x.motion_seed == y.motion_seed
        for name in ("input", "theta", "kp_3d", "verts", "label", "K", "keypoints_2d"):
            np.testing.assert_array_equal(getattr(x, name), getattr(y, name))
    c = SyntheticMotionEngine(open_body, clip_len=16, seed=4).generate("train", [5])[0]
    assert not np.allclose(a[0].theta, c.theta)


def test_splits_are_disjoint(engine: SyntheticMotionEngine) -> None:
    seeds = {s: {motion_seed(s, i) for i in (0, 1, 2, SPLIT_SIZE - 1)} for s in ("train", "val", "test")}
    assert not (seeds["train"] & seeds["val"]) and not (seeds["train"] & seeds["test"]) and not (seeds["val"] & seeds["test"])
    ranges = [(motion_seed(s, 0), motion_seed(s, SPLIT_SIZE - 1)) for s in ("train", "val", "test")]
    assert ranges[0][1] < ranges[1][0] and ranges[1][1] < ranges[2][0]
    train, test = engine.generate("train", [0])[0], engine.generate("test", [0])[0]
    assert not np.allclose(train.theta, test.theta)
    with pytest.raises(ValueError, match="split must be one of"):
        motion_seed("dev", 0)
    with pytest.raises(ValueError, match="clip index"):
        motion_seed("train", SPLIT_SIZE)


def test_family_selection_and_errors(open_body: BodyModel) -> None:
    eng = SyntheticMotionEngine(open_body, clip_len=4, exclude_families=["jump", "run"])
    assert set(eng.families) == set(FAMILIES) - {"jump", "run"}
    fams = {c.family for c in eng.generate("train", range(40), with_verts=False)}
    assert "jump" not in fams and "run" not in fams and len(fams) >= 5
    only = SyntheticMotionEngine(open_body, clip_len=4, families=["sit"]).generate("val", [0, 1], with_verts=False)
    assert {c.family for c in only} == {"sit"}
    with pytest.raises(ValueError, match="unknown motion families"):
        SyntheticMotionEngine(open_body, families=["dance"])
    with pytest.raises(ValueError, match="no motion family left"):
        SyntheticMotionEngine(open_body, families=["walk"], exclude_families=["walk"])
    with pytest.raises(ValueError, match="clip_len"):
        SyntheticMotionEngine(open_body, clip_len=0)


def test_missing_h36m_regressor_is_explained(small_body: BodyModel) -> None:
    body = BodyModel(
        small_body.v_template, small_body.shapedirs, small_body.posedirs, small_body.J_regressor,
        small_body.parents, small_body.lbs_weights, small_body.faces,
    )  # fmt: skip
    with pytest.raises(ValueError, match="J_regressor_h36m"):
        SyntheticMotionEngine(body)


def test_dataset_formats_match_types(engine: SyntheticMotionEngine, open_body: BodyModel) -> None:
    T, V = 16, open_body.num_vertices
    mesh = SyntheticMotionDataset(8, "train", output="mesh", engine=engine)
    clip = mesh[0]
    assert set(clip) == {"input", "target"} and set(clip["target"]) == {"theta", "kp_3d", "verts"}
    assert clip["input"].shape == (T, 17, 3) and clip["input"].dtype == np.float32
    assert clip["target"]["theta"].shape == (T, 82) and clip["target"]["kp_3d"].shape == (T, 17, 3)
    assert clip["target"]["verts"].shape == (T, V, 3)
    assert all(a.dtype == np.float32 for a in clip["target"].values())
    assert np.abs(clip["input"]).max() <= 1.0 and clip["input"][..., 2].min() >= 0.0
    np.testing.assert_allclose(clip["target"]["kp_3d"][:, 0], 0.0, atol=1e-3)  # pelvis-relative

    pose = SyntheticMotionDataset(8, "val", output="pose", engine=engine)
    p = pose[-1]
    assert set(p) == {"input", "label"} and p["label"].shape == (T, 17, 3) and p["label"].dtype == np.float32

    batch = next(iter(DataLoader(mesh, batch_size=3)))  # batched through __getitems__
    assert batch["input"].shape == (3, T, 17, 3) and batch["target"]["verts"].shape == (3, T, V, 3)
    torch.testing.assert_close(batch["input"][1], torch.from_numpy(mesh[1]["input"]))
    with pytest.raises(IndexError):
        mesh.__getitems__([8])
    with pytest.raises(ValueError, match="output must be"):
        SyntheticMotionDataset(1, "train", output="video", engine=engine)  # type: ignore[arg-type]


def test_ground_truth_matches_body_model(engine: SyntheticMotionEngine, open_body: BodyModel) -> None:
    """Targets are regenerated from theta exactly as the official readers do (DATA.md §3.3)."""
    clips = engine.generate("train", [0, 1, 2])
    for c in clips:
        theta = torch.from_numpy(c.theta)
        out = open_body(theta[:, 72:], theta[:, 3:72], theta[:, :3], transl=torch.from_numpy(c.transl_cam))
        verts_mm = out.vertices * 1000.0
        joints_mm = out.joints_h36m * 1000.0
        pelvis = joints_mm[:, :1]
        np.testing.assert_allclose(c.kp_3d, (joints_mm - pelvis).numpy(), atol=0.05)
        np.testing.assert_allclose(c.verts, (verts_mm - pelvis).numpy(), atol=0.05)
        # with transl_cam the body is where the camera sees it; its joints project to joints_2d
        np.testing.assert_allclose(c.joints_cam, out.joints_h36m.numpy(), atol=1e-4)
        np.testing.assert_allclose(c.joints_2d, project(c.joints_cam.astype(np.float64), c.K), atol=0.05)
        assert (c.joints_cam[..., 2] > 0.5).all()
        # inside the image
        w, h = c.image_size
        assert (c.joints_2d >= 0).all() and (c.joints_2d[..., 0] <= w).all() and (c.joints_2d[..., 1] <= h).all()
    # pose-only clips use a reduced body model: same joints
    pose = engine.generate("train", [0], with_verts=False)[0]
    np.testing.assert_allclose(pose.kp_3d, clips[0].kp_3d, atol=0.05)
    np.testing.assert_allclose(pose.input, clips[0].input, atol=1e-4)


def test_global_orientation_is_camera_frame(engine: SyntheticMotionEngine) -> None:
    """Upright bodies: in the camera frame (y down) the head is above the pelvis (smaller y)
    and the world's up axis seen by the camera agrees with the body's up axis."""
    for c in engine.generate("val", range(6), with_verts=False):
        head_minus_pelvis = c.kp_3d[:, 10] - c.kp_3d[:, 0]  # mm, camera axes
        up_cam = c.R_w2c @ np.array([0.0, 1.0, 0.0])  # world up in camera coordinates
        cos = (head_minus_pelvis @ up_cam) / np.linalg.norm(head_minus_pelvis, axis=-1)
        assert (cos > 0.5).all(), c.family
        assert up_cam[1] < -0.5  # the camera is upright: world up is image up (y down)


def test_2d_input_is_projection_plus_noise(open_body: BodyModel) -> None:
    exact = SyntheticMotionEngine(open_body, clip_len=16, noise=False, mask_ratio=0.0)
    for c in exact.generate("train", [0, 1]):
        np.testing.assert_allclose(c.input[..., :2], c.crop_box.normalize(c.joints_2d), atol=1e-4)
        assert (c.input[..., 2] == 1).all()
        np.testing.assert_allclose(c.input[..., :2].min(), -1.0, atol=1e-4)  # the box is tight
        np.testing.assert_allclose(c.label[..., :2], c.input[..., :2], atol=1e-4)
        np.testing.assert_allclose(c.label[0, 0, 2], 0.0, atol=1e-6)  # depth relative to frame-0 pelvis

    noisy = SyntheticMotionEngine(open_body, clip_len=32)
    errors, heights, kept = [], [], []
    for c in noisy.generate("train", range(6), with_verts=False):
        keep = c.keypoints_2d[..., 2] > 0
        err = np.linalg.norm(c.keypoints_2d[..., :2] - c.joints_2d, axis=-1)
        heights.append(np.ptp(c.joints_2d[..., 1], axis=1).mean())
        errors.append(np.median(err[keep]) / heights[-1])
        kept.append(keep.mean())
        clean = c.crop_box.normalize(c.joints_2d)
        dropped = ~(np.abs(c.input).sum(-1) > 0)
        assert (np.abs(c.input[..., :2] - clean)[~dropped] < 0.2).all()
        np.testing.assert_array_equal(dropped, ~keep)  # dropped joints are (0, 0, 0)
        # normalised with the box of the detected joints (crop_scale, ratio 1)
        np.testing.assert_allclose(
            c.input[..., :2][keep], c.crop_box.normalize(c.keypoints_2d[..., :2])[keep], atol=1e-4
        )
        assert np.isclose(np.abs(c.input[..., :2][keep]).max(), 1.0, atol=1e-4)
    # detector-like: a few pixels on a body of a few hundred (0.2 %..3 % of its height)
    assert 0.002 < np.median(errors) < 0.03, errors
    assert 0.75 < np.mean(kept) < 0.95  # 5 % joints and 10 % frames dropped


def test_joint_limits_respected(family_clips: dict[str, list]) -> None:
    lim = JOINT_LIMITS[1:]
    for family, clips in family_clips.items():
        theta = torch.from_numpy(np.stack([c.theta[:, :72] for c in clips])).reshape(-1, 24, 3)
        angles = rotmats_to_angles(axis_angle_to_rotmat(theta).double().numpy())[:, 1:]  # [N, 23, 3]
        assert (angles >= lim[..., 0] - 1e-4).all() and (angles <= lim[..., 1] + 1e-4).all(), family


def test_angle_parameterisation_roundtrip() -> None:
    rng = np.random.default_rng(0)
    angles = rng.uniform(JOINT_LIMITS[..., 0], JOINT_LIMITS[..., 1], size=(50, 24, 3))
    np.testing.assert_allclose(rotmats_to_angles(angles_to_rotmats(angles)), angles, atol=1e-9)
    # knee flexion moves the ankle backwards (-Z), hip flexion the knee forwards (+Z)
    R = angles_to_rotmats(np.zeros((24, 3)))
    assert np.allclose(R[16] @ [1, 0, 0], [0, -1, 0]) and np.allclose(R[17] @ [-1, 0, 0], [0, -1, 0])
    knee = np.zeros((24, 3))
    knee[4, 0] = 1.0
    assert (angles_to_rotmats(knee)[4] @ [0, -1, 0])[2] < -0.5
    hip = np.zeros((24, 3))
    hip[1, 0] = -1.0
    assert (angles_to_rotmats(hip)[1] @ [0, -1, 0])[2] > 0.5
    keys = rng.normal(size=(5, 3))
    curve = catmull_rom(keys, 41)
    np.testing.assert_allclose(curve[::10], keys, atol=1e-12)


def _world_joints(c) -> np.ndarray:
    """H36M joints in the world frame (metres, Y up)."""
    return (c.joints_cam.astype(np.float64) - c.t_w2c) @ c.R_w2c.astype(np.float64)


def test_every_family_is_plausible(family_clips: dict[str, list]) -> None:
    for family, clips in family_clips.items():
        for c in clips:
            world = _world_joints(c)
            # upright: the head top is above the pelvis; pelvis at a human height
            assert (world[:, 10, 1] > world[:, 0, 1] + 0.2).all(), family
            assert 0.3 < world[:, 0, 1].mean() < 1.4, family
            # on the floor: the lowest ankle is near the floor (jumps leave it briefly)
            ankle = world[:, [3, 6], 1].min(1)
            limit = {"jump": 0.6, "run": 0.3, "random": 0.3}.get(family, 0.2)  # flight, tiptoe
            assert (ankle > -0.05).all() and (ankle < limit).all(), (family, ankle.min(), ankle.max())
            # smooth: joints move less than 0.3 m between frames at 30 fps (9 m/s); a running
            # swing foot peaks at 11-15 m/s here (real runners: about 2.5x the running speed)
            step = np.linalg.norm(np.diff(world, axis=0), axis=-1).max()
            assert step < (0.5 if family == "run" else 0.3), (family, step)
            # limbs do not bend backwards: knee flexion >= 0 in the angles
            assert (c.joint_angles[:, [4, 5], 0] >= 0).all()


def test_gaits_alternate_feet_at_human_speed(family_clips: dict[str, list]) -> None:
    speeds = {}
    for family in ("walk", "run", "squat", "arms", "sit"):
        v = []
        for c in family_clips[family]:
            world = _world_joints(c)
            pelvis = world[:, 0, [0, 2]]
            v.append(np.linalg.norm(pelvis[-1] - pelvis[0]) / ((len(world) - 1) / FPS))
            if family in ("walk", "run"):
                # along the direction of travel, the ankles swap places several times
                travel = np.gradient(pelvis, axis=0)
                travel /= np.linalg.norm(travel, axis=-1, keepdims=True)
                lead = ((world[:, 6, [0, 2]] - world[:, 3, [0, 2]]) * travel).sum(-1)
                swaps = np.count_nonzero(np.diff(np.sign(lead)) != 0)
                assert swaps >= 2, (family, swaps)
        speeds[family] = float(np.mean(v))
    assert 0.6 < speeds["walk"] < 2.0, speeds
    assert 1.8 < speeds["run"] < 5.5, speeds
    assert speeds["run"] > speeds["walk"] * 1.5
    for family in ("squat", "arms", "sit"):
        assert speeds[family] < 0.5, speeds


def test_jump_leaves_the_floor(family_clips: dict[str, list]) -> None:
    lifted = [(_world_joints(c)[:, [3, 6], 1].min(1) > 0.15).any() for c in family_clips["jump"]]
    assert any(lifted)


# ----------------------------------------------------------------------------- augment


def test_noise_statistics_match_tables() -> None:
    """Frame 0 carries key frame 0 plus jitter: its moments follow the mixture in the tables."""
    gen = torch.Generator().manual_seed(0)
    n = 20_000
    delta = sample_detection_offsets(n, 2, gen, share_jitter=False)[:, 0].double()  # [n, 17, 2]
    w = OFFICIAL_NOISE.weight[:, None]
    mean, std, r = OFFICIAL_NOISE.mean, OFFICIAL_NOISE.std, OFFICIAL_NOISE.uniform_range
    exp_mean = w * mean
    exp_var = w * (std**2 + mean**2) + (1 - w) * r**2 / 12 - exp_mean**2 + OFFICIAL_NOISE.jitter_std**2
    se = (exp_var / n).sqrt()
    assert ((delta.mean(0) - exp_mean).abs() < 5 * se).all()
    np.testing.assert_allclose(delta.var(0).numpy(), exp_var.numpy(), rtol=0.06)
    # confidence: c = a/(d+a) + b d + N(m, s^2), clipped
    conf = offset_confidence(delta.float(), gen).double()
    assert conf.min() >= 0 and conf.max() <= 1
    d = delta.norm(dim=-1)
    a, b, m = OFFICIAL_NOISE.a, OFFICIAL_NOISE.b, OFFICIAL_NOISE.m
    unclipped = a / (d + a) + b * d + m
    assert abs(float(conf.mean() - unclipped.mean())) < 0.04  # clipping only trims the tails


def test_noise_interpolates_keyframes_and_shares_jitter() -> None:
    x = torch.zeros(3, 243, 17, 2)
    gen = torch.Generator().manual_seed(1)
    out = add_detection_noise(x, gen)
    assert out.shape == (3, 243, 17, 3)
    delta = out[..., :2]
    # smooth in time apart from the jitter: consecutive differences are jitter-sized
    assert (delta[:, 1:] - delta[:, :-1]).std() < 0.01
    # official: the jitter is shared by the batch -> sample differences are jitter-free (piecewise linear)
    diff = delta[0] - delta[1]
    second = diff[2:] - 2 * diff[1:-1] + diff[:-2]
    assert second.abs().median() < 1e-6
    with pytest.raises(ValueError, match=r"\[B, T, 17"):
        add_detection_noise(torch.zeros(243, 17, 2), gen)
    # reproducible from the generator
    torch.testing.assert_close(add_detection_noise(x, torch.Generator().manual_seed(1)), out)


def test_masking_ratios_and_shared_frames() -> None:
    gen = torch.Generator().manual_seed(2)
    x = torch.ones(64, 243, 17, 3)
    out = mask_joints_and_frames(x, gen, 0.05, 0.1)
    zero = (out == 0).all(-1)  # [B, T, J]
    frame_dropped = zero.all(-1)  # [B, T]
    assert (frame_dropped == frame_dropped[:1]).all()  # one frame mask for the whole batch
    assert 0.04 < frame_dropped[0].float().mean() < 0.17
    joint_rate = zero[~frame_dropped].float().mean()
    assert 0.04 < joint_rate < 0.06
    per_sample = mask_joints_and_frames(x, gen, 0.05, 0.1, share_frame_mask=False)
    fd = (per_sample == 0).all(-1).all(-1)
    assert not (fd == fd[:1]).all()
    torch.testing.assert_close(mask_joints_and_frames(x, gen, 0.0, 0.1), x)  # official: both ratios needed
    with pytest.raises(ValueError, match="probability"):
        mask_joints_and_frames(x, gen, 1.5, 0.1)


def test_confidence_tracks_offset_size() -> None:
    gen = torch.Generator().manual_seed(3)
    small = offset_confidence(torch.zeros(20_000, 2), gen).mean()
    large = offset_confidence(torch.full((20_000, 2), 0.03 / math.sqrt(2)), gen).mean()
    assert small > large  # a/(d+a) falls faster than b·d rises at detector-sized offsets
