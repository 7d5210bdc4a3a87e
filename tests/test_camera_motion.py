"""The camera's rotation from the background (``diffmesh.geometry.camera_motion``): rendered clips of
a panning camera with known rotations, the static sample clip, a picture rotated by a known
homography, and bad input."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from diffmesh.geometry.camera import default_intrinsics
from diffmesh.geometry.camera_motion import (
    MIN_POINTS,
    camera_rotations_from_video,
    estimate_rotations,
    rotation_angles_deg,
)
from diffmesh.io.video import iter_frames

REPO = Path(__file__).resolve().parents[1]
CLIPS = REPO / "benchmarks" / "data" / "video_v1"
SAMPLE_CLIP = REPO / "src" / "diffmesh" / "assets" / "sample_clip.mp4"


pytestmark = pytest.mark.usefixtures("one_opencv_thread")


def _errors_deg(rotations: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``[N]`` angle between estimated and true ``[N, 3, 3]`` rotations."""
    return rotation_angles_deg(np.swapaxes(truth, 1, 2) @ rotations)


def _is_rotation(R: np.ndarray) -> bool:
    return np.allclose(R @ np.swapaxes(R, -1, -2), np.eye(3), atol=1e-9) and np.allclose(np.linalg.det(R), 1.0)


# The clips with the largest pans (of 18; 03_dance_b is portrait, 480x640). Measured at the default
# 320 px (mean / max error, degrees): 01_run 0.19 / 0.27, 03_dance_b 0.12 / 0.26, 06_walk_away 0.09 /
# 0.15. The errors come from the renders' faint floor texture and from the person and shadow that the
# camera follows (they say "no rotation"); the bounds leave about twice the measured error for other
# OpenCV / FFmpeg builds.
@pytest.mark.parametrize("name", ["01_run", "03_dance_b", "06_walk_away"])
def test_a_panning_camera_is_recovered_from_the_rendered_clip(name: str) -> None:
    gt = np.load(CLIPS / f"{name}.npz")
    R_w2c = gt["R_w2c"].astype(np.float64)
    truth = R_w2c[0] @ np.swapaxes(R_w2c, 1, 2)  # frame t camera -> frame 0 camera
    n = len(R_w2c)
    calls: list[tuple[str, int, int]] = []
    motion = camera_rotations_from_video(
        CLIPS / f"{name}.mp4", 0, n, gt["K"], gt["bbox_xyxy"], progress=lambda *a: calls.append(a)
    )
    err = _errors_deg(motion.rotations, truth)
    assert err.mean() < 0.4 and err.max() < 0.8, f"{name}: error mean {err.mean():.3f}, max {err.max():.3f} deg"
    assert motion.rotations.shape == (n, 3, 3) and motion.rotations.dtype == np.float64
    assert np.array_equal(motion.rotations[0], np.eye(3)) and _is_rotation(motion.rotations)
    assert motion.tracked[0] == 0 and motion.tracked[1:].min() >= MIN_POINTS  # every frame measured
    assert not motion.static and motion.angles_deg().max() > 15
    assert calls == [("camera", i, n) for i in range(1, n + 1)]


def test_a_static_camera_reads_static() -> None:
    """The sample clip: a fixed camera, a plain room (two gradients and a horizon) and a walking
    person, whose boxes come from the known background."""
    from diffmesh.pipelines.sample import background_image

    frames = [f.image for f in iter_frames(SAMPLE_CLIP, threads=1)]
    h, w = frames[0].shape[:2]
    step = 4  # every 4th pixel finds the person (and is 16 times faster); the box grows by a step
    background = background_image(w, h)[::step, ::step].astype(np.int16)
    boxes = []
    for frame in frames:
        ys, xs = np.nonzero(np.abs(frame[::step, ::step].astype(np.int16) - background).max(axis=-1) > 30)
        boxes.append([step * (xs.min() - 1), step * (ys.min() - 1), step * (xs.max() + 1), step * (ys.max() + 1)])
    motion = estimate_rotations(frames, default_intrinsics(w, h), np.array(boxes, float))
    assert motion.static
    assert motion.angles_deg().max() < 0.05  # measured 0.002
    assert motion.tracked[1:].min() >= MIN_POINTS  # measured, not held


def _textured(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Smooth random texture at three scales, RGB uint8."""
    rng = np.random.default_rng(seed)
    grey = np.zeros((height, width), np.float32)
    for sigma, amplitude in ((2, 40), (6, 60), (20, 80)):
        grey += amplitude * cv2.GaussianBlur(rng.standard_normal((height, width)).astype(np.float32), (0, 0), sigma)
    grey = (grey - grey.min()) / (grey.max() - grey.min()) * 255
    return np.repeat(grey[:, :, None], 3, axis=2).astype(np.uint8)


def test_a_known_rotation_homography_is_recovered() -> None:
    """Frames seen from one centre (pure rotation), cut out of a picture twice the frame's size by
    ``K R K_canvas^-1``, with a 'person' (a patch that moves on its own) inside its box."""
    w, h = 320, 240
    K = np.array([[260.0, 0.0, 159.5], [0.0, 250.0, 119.5], [0.0, 0.0, 1.0]])
    K_canvas = K + np.array([[0, 0, w / 2], [0, 0, h / 2], [0, 0, 0]])
    canvas, patch = _textured(2 * w, 2 * h, seed=0), _textured(40, 80, seed=1)
    truth, frames, boxes = [], [], []
    for t in range(12):
        deg = np.array([0.4, -1.0, 0.3]) * t  # tilt, pan, roll (degrees)
        R_c2t = cv2.Rodrigues(np.radians(deg))[0]  # frame 0 camera -> frame t camera
        frame = cv2.warpPerspective(canvas, K @ R_c2t @ np.linalg.inv(K_canvas), (w, h), flags=cv2.INTER_LINEAR)
        x0, y0 = 60 + 6 * t, 100
        frame[y0 : y0 + 80, x0 : x0 + 40] = np.roll(patch, 5 * t, axis=0)
        truth.append(R_c2t.T)
        frames.append(frame)
        boxes.append([x0, y0, x0 + 39, y0 + 79])
    motion = estimate_rotations(iter(frames), K, np.array(boxes, float))
    err = _errors_deg(motion.rotations, np.stack(truth))
    assert err.max() < 0.03, f"error max {err.max():.4f} deg"  # measured 0.002
    assert not motion.static and motion.tracked[1:].min() >= MIN_POINTS


def test_several_people_boxes_are_all_kept_out() -> None:
    """Two 'people' (patches moving on their own, one entering at frame 4) with one box each per frame
    (``[N, B, 4]``, NaN while absent); ``[N, 4]`` is the same as ``[N, 1, 4]``."""
    w, h = 320, 240
    K = np.array([[260.0, 0.0, 159.5], [0.0, 250.0, 119.5], [0.0, 0.0, 1.0]])
    K_canvas = K + np.array([[0, 0, w / 2], [0, 0, h / 2], [0, 0, 0]])
    canvas, patch = _textured(2 * w, 2 * h, seed=0), _textured(40, 80, seed=1)
    truth, frames, boxes = [], [], []
    for t in range(10):
        R_c2t = cv2.Rodrigues(np.radians(np.array([0.3, -0.8, 0.2]) * t))[0]
        frame = cv2.warpPerspective(canvas, K @ R_c2t @ np.linalg.inv(K_canvas), (w, h), flags=cv2.INTER_LINEAR)
        row = []
        for x0, first in ((40 + 5 * t, 0), (240 - 4 * t, 4)):
            if t >= first:
                frame[100:180, x0 : x0 + 40] = np.roll(patch, 7 * t + x0, axis=0)
                row.append([x0, 100, x0 + 39, 179])
            else:
                row.append([np.nan] * 4)
        truth.append(R_c2t.T)
        frames.append(frame)
        boxes.append(row)
    boxes_px = np.array(boxes, float)  # [N, 2, 4]
    motion = estimate_rotations(frames, K, boxes_px)
    assert _errors_deg(motion.rotations, np.stack(truth)).max() < 0.03
    one, one_as_list = estimate_rotations(frames, K, boxes_px[:, 0]), estimate_rotations(frames, K, boxes_px[:, :1])
    np.testing.assert_array_equal(one.rotations, one_as_list.rotations)


def test_frames_without_background_hold_the_rotation_and_warn_once(caplog: pytest.LogCaptureFixture) -> None:
    """Black frames say nothing: they hold the last rotation, and so does the first frame after them
    (it has no keyframe to be measured against; it becomes the new one). Later frames are measured
    again."""
    K = default_intrinsics(160, 120)
    picture = _textured(320, 240)
    K_canvas = K + np.array([[0, 0, 80], [0, 0, 60], [0, 0, 0]])
    pans = [cv2.Rodrigues(np.radians([0.0, deg, 0.0]))[0] for deg in (0.0, 1.0, 2.0)]  # frame 0 camera -> later
    view = [cv2.warpPerspective(picture, K @ R @ np.linalg.inv(K_canvas), (160, 120)) for R in pans]
    black = np.zeros((120, 160, 3), np.uint8)
    frames = [view[0], view[1], black, black, black, view[1], view[2]]
    with caplog.at_level(logging.WARNING, logger="diffmesh.geometry.camera_motion"):
        motion = estimate_rotations(frames, K)
    assert (motion.tracked[[1, 6]] >= MIN_POINTS).all() and (motion.tracked[[0, 2, 3, 4, 5]] == 0).all()
    truth = np.stack([pans[i].T for i in (0, 1, 1, 1, 1, 1, 2)])
    assert _errors_deg(motion.rotations, truth).max() < 0.02  # measured 0.005
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "4 of 7 frames held" in warnings[0].getMessage()


def test_a_background_without_texture_is_taken_as_still_without_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """A plain wall (or a blank video) gives nothing to measure in any frame: the camera is still, and
    the log says so plainly (INFO) rather than warning about every frame."""
    K = default_intrinsics(160, 120)
    frames = [np.full((120, 160, 3), 90, np.uint8) for _ in range(6)]
    with caplog.at_level(logging.INFO, logger="diffmesh.geometry.camera_motion"):
        motion = estimate_rotations(frames, K)
    assert motion.static and np.allclose(motion.rotations, np.eye(3))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("too little texture" in r.getMessage() for r in caplog.records)


def _frames(n: int = 3, size: tuple[int, int] = (48, 64)) -> list[np.ndarray]:
    return [_textured(size[1], size[0], seed=i) for i in range(n)]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"K": np.eye(3)[:2]}, r"K must be a finite \[3, 3\] pinhole intrinsics matrix .* got shape \[2, 3\]"),
        ({"K": np.diag([0.0, 100.0, 1.0])}, r"positive focal lengths, got shape \[3, 3\] with diagonal"),
        ({"frames": []}, r"frames is empty; pass at least one RGB uint8"),
        ({"frames": [np.zeros((48, 64, 3), np.float32)]}, r"frame 0 must be an RGB uint8 .* got float32 \[48, 64, 3\]"),
        ({"frames": [np.zeros((48, 64), np.uint8)]}, r"frame 0 must be an RGB uint8 .* got uint8 \[48, 64\]"),
        ({"frames": _frames(1) + _frames(1, (40, 64))}, r"frame 1 is 64x40 but frame 0 was 64x48"),
        ({"person_boxes": np.zeros((3, 2))}, r"person_boxes must be \[N, 4\]"),
        ({"person_boxes": np.zeros((2, 4))}, r"person_boxes has 2 rows for 3 frames"),
        ({"frames": iter(_frames(3)), "person_boxes": np.zeros((2, 4))}, r"has 2 rows but frames has more"),
        ({"frames": iter(_frames(3)), "person_boxes": np.zeros((4, 4))}, r"person_boxes has 4 rows for 3 frames"),
    ],
)
def test_bad_input_is_one_clear_error(kwargs: dict, match: str) -> None:
    args = {"frames": _frames(3), "K": default_intrinsics(64, 48), "person_boxes": None, **kwargs}
    with pytest.raises(ValueError, match=match) as err:
        estimate_rotations(args["frames"], args["K"], args["person_boxes"])
    assert "\n" not in str(err.value)


def test_video_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        camera_rotations_from_video(tmp_path / "missing.mp4", 0, 10, default_intrinsics(640, 480))
    with pytest.raises(ValueError, match=r"K must be a finite \[3, 3\]") as err:
        camera_rotations_from_video(SAMPLE_CLIP, 0, 10, np.ones(9))
    assert "\n" not in str(err.value)


def test_the_keypoint_pass_measures_the_camera_on_the_same_frames() -> None:
    """``detect_video(camera_K=...)``: the real detector and the rotation tracker on one decode of a
    panning clip; the person's box comes from each frame's own detection. Same bounds as above."""
    from diffmesh.io.video import probe_video
    from diffmesh.pipelines.keypoints import FrameKeypoints, detect_video

    gt = np.load(CLIPS / "06_walk_away.npz")
    R_w2c = gt["R_w2c"].astype(np.float64)
    truth = R_w2c[0] @ np.swapaxes(R_w2c, 1, 2)
    info = probe_video(CLIPS / "06_walk_away.mp4")
    kps = detect_video(info, 0, info.num_frames, camera_K=gt["K"])
    assert kps.camera is not None and kps.detected.all()
    err = _errors_deg(kps.camera.rotations, truth)
    assert err.mean() < 0.4 and err.max() < 0.8, f"error mean {err.mean():.3f}, max {err.max():.3f} deg"
    back = FrameKeypoints.from_arrays(kps.to_arrays())  # the stage cache keeps the rotations
    assert back.camera is not None and np.array_equal(back.camera.rotations, kps.camera.rotations)
    assert back.camera.static == kps.camera.static is False
    assert detect_video(info, 0, 5).camera is None  # no intrinsics: not measured
    # under the assumed focal length (the pipeline's default) the pass measures the true one (654 px)
    guessed = detect_video(info, 0, info.num_frames, camera_K=default_intrinsics(640, 480), estimate_focal=True)
    assert guessed.camera is not None and abs(guessed.camera.focal_px / float(gt["K"][0, 0]) - 1) < 0.05
    assert FrameKeypoints.from_arrays(guessed.to_arrays()).camera.focal_px == guessed.camera.focal_px


# Measured (default 50-degree field of view: 515 px assumed at 640x480; true boxes): 06_walk_away
# 655 px (true 654), 00_run 1468 (1467), 01_run 1400 (1349), 03_dance_b 857 (857); 07_walk_away
# (a pan too fast for its keyframes) and static cameras: none.
@pytest.mark.parametrize("name", ["06_walk_away", "00_run"])
def test_the_focal_length_is_measured_from_a_panning_camera(name: str) -> None:
    from diffmesh.geometry.camera_motion import RotationTracker

    gt = np.load(CLIPS / f"{name}.npz")
    R_w2c = gt["R_w2c"].astype(np.float64)
    truth = R_w2c[0] @ np.swapaxes(R_w2c, 1, 2)
    frames = [f.image for f in iter_frames(CLIPS / f"{name}.mp4", threads=1)]
    K = default_intrinsics(frames[0].shape[1], frames[0].shape[0])
    tracker = RotationTracker(K)
    for frame, box in zip(frames, gt["bbox_xyxy"]):
        tracker.add(frame, box)
    assumed = tracker.result()
    measured = tracker.result(estimate_focal=True)
    true_focal = float(gt["K"][0, 0])
    assert assumed.focal_px is None and measured.focal_px is not None
    assert abs(measured.focal_px / true_focal - 1) < 0.05, (measured.focal_px, true_focal)
    # the rotations, rescaled for it, are much nearer the truth than under the assumed focal length
    before, after = _errors_deg(assumed.rotations, truth).mean(), _errors_deg(measured.rotations, truth).mean()
    assert after < 0.5 * before and after < 3.0, (before, after)
    assert _is_rotation(measured.rotations)


def test_no_focal_length_from_a_camera_that_does_not_turn() -> None:
    from diffmesh.geometry.camera_motion import RotationTracker

    frames = [f.image for f in iter_frames(CLIPS / "08_boxing.mp4", threads=1)][:40]
    tracker = RotationTracker(default_intrinsics(640, 480))
    for frame in frames:
        tracker.add(frame, None)
    focal, costs = tracker.estimate_focal()
    assert focal is None and np.isnan(costs).all()  # the turn says nothing: only the scene's lines can
    assert tracker.result(estimate_focal=True).focal_from in ("", "lines")
