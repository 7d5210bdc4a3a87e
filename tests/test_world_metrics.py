"""World-frame metrics (:mod:`diffmesh.world_metrics`: W-MPJPE, WA-MPJPE, RTE, floor angle, foot sliding,
jitter) on motions with known answers, and the video benchmark's world scoring on fabricated results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from diffmesh.conventions import H36M_JOINTS, limb_indices
from diffmesh.metrics import mpjpe
from diffmesh.world_metrics import (
    floor_angle_error_deg,
    foot_sliding_mm,
    foot_sliding_true_contact_mm,
    jitter,
    root_trajectory_error,
    true_foot_contact,
    w_mpjpe,
    wa_mpjpe,
)
from tests._benchmarks import video_benchmark

REPO = Path(__file__).resolve().parents[1]
CLIPS = REPO / "tests" / "data" / "video_benchmark"
FPS = 30.0
#: Anny's world (z up) → diffmesh's world (y up): x stays, z becomes y, y becomes −z.
Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def _rotation(axis: np.ndarray, deg: float) -> np.ndarray:
    """Rodrigues: rotation by ``deg`` about ``axis``."""
    k = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    a = np.radians(deg)
    return np.eye(3) + np.sin(a) * K + (1 - np.cos(a)) * K @ K


def _walk(T: int = 120, J: int = 12, seed: int = 0) -> np.ndarray:
    """``[T, J, 3]`` metres, z up: a body-sized joint cloud walking an arc with a little sway."""
    rng = np.random.default_rng(seed)
    body = rng.normal(size=(J, 3)) * [0.2, 0.2, 0.4] + [0, 0, 0.9]
    t = np.arange(T) / FPS
    root = np.stack([1.5 * np.sin(0.4 * t), 1.5 * (1 - np.cos(0.4 * t)), 0.02 * np.sin(6 * t)], axis=1)
    sway = 0.05 * np.sin(3 * t)[:, None, None] * rng.normal(size=(1, J, 3))
    return body[None] + root[:, None] + sway


# ------------------------------------------------------------------ W-MPJPE, WA-MPJPE, RTE


def test_perfect_prediction_scores_zero() -> None:
    gt = _walk()
    assert np.allclose(w_mpjpe(gt, gt), 0, atol=1e-6) and np.allclose(wa_mpjpe(gt, gt), 0, atol=1e-6)
    assert np.allclose(root_trajectory_error(gt[:, 0], gt[:, 0]), 0, atol=1e-6)
    assert np.allclose(floor_angle_error_deg([0, 0, 1], np.tile([0, 0, 1.0], (5, 1))), 0)
    assert jitter(np.zeros((10, 3, 3)), FPS) == 0


def test_a_rigidly_moved_world_scores_zero_after_alignment_only() -> None:
    gt = _walk()
    # The same motion in another world frame: y up instead of z up, turned and shifted.
    R = _rotation([0, 1, 0], 70) @ Z_UP_TO_Y_UP
    offset = np.array([2.0, 0.0, -5.0])
    pred = gt @ R.T + offset
    assert np.abs(w_mpjpe(pred, gt)).max() < 1e-6
    assert np.abs(wa_mpjpe(pred, gt)).max() < 1e-6
    assert np.abs(root_trajectory_error(pred[:, 0], gt[:, 0])).max() < 1e-6
    assert mpjpe(pred, gt).min() * 1000 > 1000  # unaligned, the frames differ by metres
    # A pure shift: unaligned MPJPE is the shift (0.3, 0, 0.4) m = 500 mm, aligned errors vanish.
    shifted = gt + [0.3, 0.0, 0.4]
    assert np.allclose(mpjpe(shifted, gt) * 1000, 500)
    assert np.abs(w_mpjpe(shifted, gt)).max() < 1e-6
    # Jitter and sliding do not depend on the frame (sliding: each in its own up axis).
    assert jitter(pred, FPS) == pytest.approx(jitter(gt, FPS), rel=1e-9)
    contact = np.ones((len(gt), 2), dtype=bool)
    assert foot_sliding_mm(pred[:, :2], contact, up_axis=1) == pytest.approx(foot_sliding_mm(gt[:, :2], contact, up_axis=2))


def test_w_mpjpe_aligns_by_the_first_two_frames_of_each_segment_only() -> None:
    gt = _walk(T=150)
    drift = np.zeros((150, 1, 3))
    drift[2:100] = [0.0, 0.03, 0.04]  # from frame 2 on, 50 mm off: unseen by the first-two-frame fit
    err = w_mpjpe(gt + drift, gt)
    assert err.shape == (150,)
    assert np.allclose(err[:2], 0, atol=1e-6) and np.allclose(err[2:100], 50)
    # Frame 100 starts a new segment, fitted on frames 100-101 alone.
    assert np.allclose(err[100:], 0, atol=1e-6)
    # WA-MPJPE fits the whole segment: the offset is spread and mostly removed.
    assert wa_mpjpe(gt + drift, gt)[:100].mean() < 5
    # A segment per frame pair: every segment is fitted where it is scored.
    assert np.abs(w_mpjpe(gt + drift, gt, segment=2)).max() < 1e-6


def test_w_mpjpe_fits_scale_as_published_unless_told_not_to() -> None:
    gt = _walk()
    big = 1.5 * gt + [0.1, 0.2, 0.3]
    assert np.abs(w_mpjpe(big, gt)).max() < 1e-6 and np.abs(wa_mpjpe(big, gt)).max() < 1e-6
    assert w_mpjpe(big, gt, with_scale=False).mean() > 100
    with pytest.raises(ValueError, match="finite"):
        w_mpjpe(np.full_like(gt, np.nan), gt)


def test_root_trajectory_error_known_value() -> None:
    gt = _walk()[:, 0]
    path = np.linalg.norm(np.diff(gt, axis=0), axis=1).sum()
    k = 0.8  # the prediction travels 80 % of the way: rigid alignment cannot fix the scale
    centre = gt.mean(axis=0)
    pred = centre + k * (gt - centre)
    expected = (1 - k) * np.linalg.norm(gt - centre, axis=1) / path * 100
    assert np.allclose(root_trajectory_error(pred, gt), expected, atol=1e-6)
    assert np.isnan(root_trajectory_error(gt[:3], gt[:3])).all()  # a 3-frame path is under 1 m: undefined


# ------------------------------------------------------------------ floor, feet, jitter


def test_floor_angle_of_a_known_tilt() -> None:
    up_cam = np.array([0.0, -1.0, 0.0])  # a level camera: up is −y
    tilted = _rotation([1, 0, 0], 12.5) @ up_cam
    assert floor_angle_error_deg(tilted, up_cam) == pytest.approx(12.5)
    assert floor_angle_error_deg(3 * tilted, up_cam) == pytest.approx(12.5)  # length does not matter
    per_frame = np.stack([_rotation([0, 0, 1], d) @ up_cam for d in (0, 1e-4, 30, 180)])
    assert np.allclose(floor_angle_error_deg(up_cam, per_frame), [0, 1e-4, 30, 180], atol=1e-9)


def test_foot_sliding_of_a_known_slide() -> None:
    T = 20
    feet = np.zeros((T, 2, 3))  # y up
    feet[:, 0, 0] = 0.005 * np.arange(T)  # left foot slides 5 mm/frame along x
    feet[:, 0, 1] = 0.01 * np.arange(T)  # ... and rises: vertical motion is not sliding
    contact = np.zeros((T, 2), dtype=bool)
    contact[:, 0] = True
    assert foot_sliding_mm(feet, contact) == pytest.approx(5.0)
    contact[:, 1] = True  # the right foot stands still: half the planted steps slide 0
    assert foot_sliding_mm(feet, contact) == pytest.approx(2.5)
    alternate = np.zeros((T, 2), dtype=bool)
    alternate[::2] = True  # never planted in two consecutive frames
    assert np.isnan(foot_sliding_mm(feet, alternate))
    feet[5] = np.nan  # steps touching a missing frame are skipped
    assert foot_sliding_mm(feet, contact) == pytest.approx(2.5)


def test_foot_sliding_where_the_true_foot_is_planted() -> None:
    T = 40
    true_feet = np.zeros((T, 2, 3))  # z up: ankles 8 cm above the floor, planted ...
    true_feet[..., 2] = 0.08
    true_feet[20:, :, 2] = 0.5  # ... until frame 20, then lifted
    contact = true_foot_contact(true_feet, FPS)
    assert contact[:20].all() and not contact[20:].any()
    pred = np.zeros((T, 2, 3))  # y up: slides 3 mm/frame along z while planted, 20 mm/frame after
    pred[:, :, 2] = np.concatenate([0.003 * np.arange(20), 0.057 + 0.02 * np.arange(1, 21)])[:, None]
    assert foot_sliding_true_contact_mm(pred, true_feet, FPS) == pytest.approx(3.0)
    fast = true_feet.copy()
    fast[:, :, 0] = 0.5 / FPS * np.arange(T)[:, None]  # 0.5 m/s: too fast to be planted
    assert not true_foot_contact(fast, FPS).any()


def test_jitter_of_constant_velocity_and_of_a_cubic() -> None:
    t = np.arange(30) / FPS
    line = (np.array([0.3, -1.2, 0.7]) * t[:, None])[:, None] + np.zeros((1, 4, 3))
    assert abs(jitter(line, FPS)) < 1e-6
    a = 2.0  # x = a t³: jerk 6a = 12 m/s³, whatever the frame rate
    for fps in (25.0, 30.0, 60.0):
        t = np.arange(40) / fps
        cubic = np.zeros((40, 2, 3))
        cubic[..., 0] = (a * t**3)[:, None]
        assert jitter(cubic, fps) == pytest.approx(6 * a, rel=1e-6)
        cubic[10] = np.nan  # windows over the missing frame are skipped
        assert jitter(cubic, fps) == pytest.approx(6 * a, rel=1e-6)
    assert np.isnan(jitter(line[:3], FPS))


# ------------------------------------------------------------------ the benchmark's world scores


def _fabricated_result(gt: dict[str, np.ndarray], world: bool) -> dict[str, np.ndarray]:
    """A result.npz whose camera (and, with ``world``, world) outputs are the truth."""
    T = len(gt["joints_cam"])
    limb = list(limb_indices(H36M_JOINTS))
    cam = np.zeros((T, len(H36M_JOINTS), 3), np.float32)
    cam[:, limb] = gt["joints_cam"]
    res = {"frame_indices": np.arange(T), "valid": np.ones(T, bool), "joints_3d_cam": cam,
           "keypoints_2d": np.zeros((T, len(H36M_JOINTS), 3), np.float32), "K": np.tile(gt["K"], (T, 1, 1))}  # fmt: skip
    res["keypoints_2d"][:, limb, :2] = gt["joints_2d"]
    res["keypoints_2d"][:, limb, 2] = 1.0
    if world:
        R, t = gt["R_w2c"].astype(np.float64), gt["t_w2c"].astype(np.float64)
        true_world = np.einsum("tji,tkj->tki", R, cam - t[:, None])  # Anny's world, z up
        to_y_up, origin = _rotation([0, 1, 0], 40) @ Z_UP_TO_Y_UP, np.array([1.0, 0.0, 2.0])
        res["joints_3d_world"] = (true_world @ to_y_up.T + origin).astype(np.float32)
        res["joints_3d_world_raw"] = res["joints_3d_world"] + np.float32(0.01) * np.arange(T, dtype=np.float32)[:, None, None]
        res["floor_normal_cam"] = R[:, :, 2].astype(np.float32)
        feet_true = true_world[:, [H36M_JOINTS.index("left_ankle"), H36M_JOINTS.index("right_ankle")]]
        res["foot_contact"] = true_foot_contact(feet_true, float(gt["fps"]))
    return res


def test_benchmark_world_scores_of_the_truth_are_near_zero() -> None:
    bench = video_benchmark()
    gt = dict(np.load(CLIPS / "00_run.npz"))
    frames = np.arange(len(gt["joints_cam"]))
    s = bench.score_result(_fabricated_result(gt, world=True), gt, frames)
    assert set(bench.METRICS) <= set(s)
    assert s["floor_deg"] < 0.01 and s["w_mpjpe_mm"] < 0.1 and s["wa_mpjpe_mm"] < 0.1 and s["rte_pct"] < 0.01, s
    # Sliding of the truth itself (its ankles roll while planted), the same for both contact labels.
    true_slide = s["slide_mm"]
    assert 0 < true_slide < 10 and s["slide_own_mm"] == pytest.approx(true_slide)
    assert s["raw_slide_mm"] > true_slide  # the raw joints drift 10 mm/frame
    assert s["raw_jitter"] == pytest.approx(s["jitter"], rel=1e-3)  # ... at a constant speed: no jerk
    for m in ("cam_w_mpjpe_mm", "cam_wa_mpjpe_mm", "cam_slide_mm", "cam_jitter"):
        assert np.isfinite(s[m]), m
    assert np.isfinite(s["pa_mpjpe_mm"]) and s["pa_mpjpe_mm"] < 1e-3  # camera-frame scores unchanged
    # A static camera's single floor normal is compared with every frame's.
    res = _fabricated_result(gt, world=True)
    res["floor_normal_cam"] = res["floor_normal_cam"][0]
    assert np.isfinite(bench.score_world(res, gt, frames)["floor_deg"])


def test_benchmark_world_scores_without_world_keys_are_nan() -> None:
    bench = video_benchmark()
    gt = dict(np.load(CLIPS / "08_boxing.npz"))
    frames = np.arange(len(gt["joints_cam"]))
    s = bench.score_result(_fabricated_result(gt, world=False), gt, frames)
    world_only = [m for m in bench.WORLD_METRICS if not m.startswith("cam_")]
    assert all(np.isnan(s[m]) for m in world_only), s
    assert 1 < s["cam_wa_mpjpe_mm"] < 100  # the true camera frame, off the world only by the camera's small pan
    assert np.isnan(s["cam_rte_pct"])  # boxing hardly travels: RTE undefined
    assert all(np.isnan(v) for v in bench.score_world(None, gt, frames).values())
    no_truth = {k: v for k, v in gt.items() if k not in ("R_w2c", "t_w2c")}
    assert all(np.isnan(v) for v in bench.score_world(_fabricated_result(gt, world=True), no_truth, frames).values())
    # A photo (one frame): no crash, no trajectory scores.
    one = bench.score_result(_fabricated_result(gt, world=True), gt, frames[:1])
    assert np.isnan(one["w_mpjpe_mm"]) and np.isnan(one["jitter"]) and one["floor_deg"] < 0.01
    # Summary and markdown: world tables without any value are left out.
    per_clip = {"a": {"default": s}}
    summary = bench.summarize(per_clip, {"a": "boxing"})
    table = bench.markdown(summary, {"boxing": 1, "mean": 1})
    assert "limb PA-MPJPE" in table and "W-MPJPE100 (mm), camera-frame" in table
    assert "floor normal" not in table and "before clean-up" not in table
