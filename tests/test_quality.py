"""diffmesh.pipelines.quality: the keypoint fit of each frame, unsure stretches, the warning."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from diffmesh.pipelines.quality import POOR_FIT_PCT, keypoint_fit_pct, quality_report, stretches, warn_if_unsure

K = np.array([[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]])


def _projected(joints: np.ndarray) -> np.ndarray:
    uv = joints @ K.T
    return uv[..., :2] / uv[..., 2:3]


def _person(frames: int = 4) -> np.ndarray:
    """``[T, 17, 3]`` joints 3 m in front of the camera, spread over 1.8 m of height and 0.6 m of width."""
    rng = np.random.default_rng(0)
    joints = np.stack([rng.uniform(-0.3, 0.3, 17), np.linspace(-0.9, 0.9, 17), np.full(17, 3.0)], axis=1)
    return np.repeat(joints[None], frames, axis=0)


def test_the_fit_is_the_mean_distance_in_percent_of_the_body_size() -> None:
    joints = _person()
    kp = np.concatenate([_projected(joints), np.ones((4, 17, 1))], axis=2)
    size = 500.0 * 1.8 / 3.0  # px: the body's height in the image
    np.testing.assert_allclose(keypoint_fit_pct(joints, K, kp), 0.0, atol=1e-9)
    shifted = kp.copy()
    shifted[1, :, 0] += 15.0  # every keypoint 15 px to the right: the bounding box keeps its size
    shifted[2, 5, :2] += (30.0, 40.0)  # one joint 50 px off: 1/17 of 50 px on average (and the box grows a little)
    shifted[3, :, 2] = 0.1  # nobody sure: no fit
    shifted[3, 0, 2] = 0.2
    fit = keypoint_fit_pct(joints, K, shifted)
    assert fit[0] == pytest.approx(0.0, abs=1e-9) and fit[1] == pytest.approx(100 * 15.0 / size)
    assert 0.8 * 100 * 50 / 17 / (size + 40) < fit[2] <= 100 * 50 / 17 / size + 1e-9
    assert np.isnan(fit[3])
    low = kp.copy()
    low[0, :8, 2] = 0.3  # keypoints below the confidence threshold are not compared
    low[0, :8, :2] += 200.0
    assert keypoint_fit_pct(joints[:1], K, low[:1])[0] == pytest.approx(0.0, abs=1e-9)
    nan = joints.copy()
    nan[0] = np.nan  # no result in that frame
    assert np.isnan(keypoint_fit_pct(nan, K, kp)[0]) and np.isfinite(keypoint_fit_pct(nan, K, kp)[1:]).all()
    per_frame_K = np.repeat(K[None], 4, axis=0)
    np.testing.assert_allclose(keypoint_fit_pct(joints, per_frame_K, shifted), fit)


def test_stretches_bridge_short_gaps_and_drop_blips() -> None:
    flags = np.zeros(30, bool)
    flags[[2, 3, 4]] = True  # 3 frames: kept
    flags[[10, 11, 14, 15]] = True  # a gap of 2 frames: one stretch 10-15
    flags[[20, 24]] = True  # a gap of 3 frames and single frames: dropped
    flags[28:] = True  # 2 frames at the end: too short
    assert stretches(flags) == [(2, 5), (10, 16)]
    assert stretches(flags, bridge=0, min_frames=2) == [(2, 5), (10, 12), (14, 16), (28, 30)]
    assert stretches(np.zeros(5, bool)) == [] and stretches(np.ones(5, bool)) == [(0, 5)]


def test_the_report_counts_and_lists_in_video_frames() -> None:
    valid = np.ones(20, bool)
    valid[:4] = False  # nobody in the first 4 frames
    detected = valid.copy()
    detected[8:11] = False  # 3 frames filled in
    fit = np.full(20, 2.0)
    fit[12:16] = 7.5  # a poor fit
    fit[19] = 9.0  # one frame alone, 3 frames later: counted, not listed
    fit[2] = 50.0  # no result there: neither counted nor listed
    report = quality_report(valid, detected, fit, np.arange(100, 120))
    assert report["frames_poor_fit"] == 5 and report["frames_interpolated"] == 3 and report["poor_fit_above_pct"] == POOR_FIT_PCT
    assert report["keypoint_fit_pct_median"] == 2.0
    assert report["unsure"] == [{"start": 100, "end": 104, "why": "no person"}, {"start": 108, "end": 111, "why": "interpolated"},
                                {"start": 112, "end": 116, "why": "poor fit"}]  # fmt: skip
    assert quality_report(np.zeros(3, bool), np.zeros(3, bool), np.full(3, np.nan), np.arange(3))["keypoint_fit_pct_median"] is None


def test_the_warning_names_the_frames(caplog: pytest.LogCaptureFixture) -> None:
    report = {"frames_poor_fit": 12, "frames_interpolated": 0,
              "unsure": [{"start": 3, "end": 10, "why": "no person"}, {"start": 40, "end": 52, "why": "poor fit"}]}  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="diffmesh.pipelines.quality"):
        warn_if_unsure(report, 100, "person 2")
        warn_if_unsure({**report, "frames_poor_fit": 10}, 100)  # 10 %: not more than the share, no warning
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert message.startswith("person 2: of 100 frames with a person, 12 fit the keypoints poorly")
    assert f"{POOR_FIT_PCT:g}%" in message and message.endswith("frames 40-51 (summary.json's quality)")
    assert "interpolated" not in message
