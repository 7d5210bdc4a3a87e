"""The focal length and the scene's vertical from a background's straight lines (diffmesh.geometry.vanishing),
on drawn rooms with a known camera and on a real rendered clip of the held-out benchmark."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from diffmesh.geometry.camera_motion import RotationTracker
from diffmesh.geometry.vanishing import SceneLines, calibrate, line_segments, nearest_axis, vanishing_points
from diffmesh.pipelines.floor import SCENE_UP_MAX_DEG, scene_up


def _camera(f: float, pitch_deg: float, yaw_deg: float, height: float = 1.6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """K, world→camera rotation (rows: right, down, forward; the world is z up) and the camera centre."""
    p, y = math.radians(pitch_deg), math.radians(yaw_deg)
    fwd = np.array([math.cos(p) * math.sin(y), math.cos(p) * math.cos(y), -math.sin(p)])
    right = np.array([math.cos(y), -math.sin(y), 0.0])
    R = np.stack([right, np.cross(fwd, right), fwd])
    return np.array([[f, 0, 320.0], [0, f, 240.0], [0, 0, 1]]), R, np.array([0.0, 0.0, height])


def _room(f: float, pitch_deg: float, yaw_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """A 640x480 picture of a tiled floor and a back wall with vertical boards; and the true up (camera axes)."""
    K, R, C = _camera(f, pitch_deg, yaw_deg)
    img = np.full((480, 640, 3), 200, np.uint8)
    img[:240] = (170, 180, 200)  # some shading so the picture is not flat

    def draw(a: np.ndarray, b: np.ndarray) -> None:
        pa, pb = R @ (a - C), R @ (b - C)
        if pa[2] < 0.2 and pb[2] < 0.2:
            return
        if pa[2] < 0.2 or pb[2] < 0.2:  # clip to in front of the camera
            t = (0.2 - pa[2]) / (pb[2] - pa[2])
            (pa, pb) = (pa + t * (pb - pa), pb) if pa[2] < 0.2 else (pa, pa + t * (pb - pa))
        ua, ub = (K @ pa)[:2] / pa[2], (K @ pb)[:2] / pb[2]
        if np.abs(np.r_[ua, ub]).max() < 1e5:
            cv2.line(img, tuple(int(round(v)) for v in ua), tuple(int(round(v)) for v in ub), (60, 50, 40), 2, cv2.LINE_AA)

    for i in np.arange(-6, 6.01, 0.6):  # floor tiles
        draw(np.array([i, 0.5, 0.0]), np.array([i, 12.0, 0.0]))
        draw(np.array([-6.0, 0.5 + i + 6, 0.0]), np.array([6.0, 0.5 + i + 6, 0.0]))
    for i in np.arange(-6, 6.01, 0.5):  # boards on the back wall
        draw(np.array([i, 12.0, 0.0]), np.array([i, 12.0, 3.0]))
    return img, R @ np.array([0.0, 0.0, 1.0])


@pytest.mark.parametrize("f, pitch, yaw", [(900.0, 15.0, 25.0), (600.0, 30.0, -35.0), (1300.0, 2.0, 40.0)])
def test_a_tiled_room_gives_the_focal_length_and_the_vertical(f: float, pitch: float, yaw: float) -> None:
    img, true_up = _room(f, pitch, yaw)
    lines = SceneLines()
    lines.add(img, None)
    axes = lines.result()
    assert axes is not None
    assert abs(axes.focal_px / f - 1) < 0.08, (axes.focal_px, f)  # measured 0.1-6.4 %
    up, angle = nearest_axis(axes.axes, np.array([0.0, -1.0, 0.0]))
    assert math.degrees(math.acos(min(1.0, float(up @ true_up)))) < 2.0  # measured 0.1-1.5 degrees
    np.testing.assert_allclose(axes.axes @ axes.axes.T, np.eye(3), atol=1e-9)  # an orthonormal triad


def test_people_are_masked_and_a_blank_or_one_direction_scene_gives_nothing() -> None:
    img, _ = _room(900.0, 15.0, 25.0)
    everything = line_segments(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY))
    masked = line_segments(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), np.array([[200.0, 150.0, 440.0, 400.0]]))
    assert 0 < len(masked) < len(everything)
    mid = 0.5 * (masked[:, :2] + masked[:, 2:])
    assert not ((mid[:, 0] > 200) & (mid[:, 0] < 440) & (mid[:, 1] > 150) & (mid[:, 1] < 400)).any()
    blank = SceneLines()
    blank.add(np.random.default_rng(0).integers(90, 110, (480, 640, 3), dtype=np.uint8))
    assert blank.result() is None
    stripes = np.full((480, 640), 200, np.uint8)  # one family of parallel lines: one vanishing point, no focal length
    for x in range(20, 640, 40):
        cv2.line(stripes, (x, 0), (x, 479), 40, 2)
    points = vanishing_points(line_segments(stripes))
    assert len(points) == 1 and calibrate(points, 640, 480) is None


def test_the_world_takes_the_scene_vertical_only_near_the_bodies_up() -> None:
    axes = np.eye(3)[[0, 2, 1]] * np.array([[1], [1], [-1]])  # rows: x, z, -y (camera axes): -y is up
    near = np.array([0.05, -1.0, 0.1]) / np.linalg.norm([0.05, -1.0, 0.1])
    np.testing.assert_allclose(scene_up(axes, near), [0.0, -1.0, 0.0])  # the sign follows the bodies
    np.testing.assert_allclose(scene_up(axes, -near), [0.0, 1.0, 0.0])
    tilt = math.radians(SCENE_UP_MAX_DEG + 5)
    far = np.array([math.sin(tilt) / math.sqrt(2), -math.cos(tilt), math.sin(tilt) / math.sqrt(2)])
    assert scene_up(axes, far) is None and scene_up(None, near) is None


def test_a_static_benchmark_clip_gives_its_focal_length_and_floor(tmp_path: Path) -> None:
    """`12_kick` of the held-out benchmark (a tiled floor and walls, static camera, 819 px): the
    rotation tracker's scene lines give the focal length and the floor normal."""
    tracker, truth = _track_benchmark_clip("12_kick")
    motion = tracker.result(estimate_focal=True)
    assert motion.focal_from == "lines" and abs(motion.focal_px / 819.0 - 1) < 0.05, motion.focal_px
    up = scene_up(motion.scene_axes, np.array([0.0, -1.0, 0.0]))
    true_up = truth["R_w2c"][0][:, 2]
    assert math.degrees(math.acos(min(1.0, float(up @ true_up)))) < 2.0


def test_one_family_of_vertical_lines_gives_the_floor_once_the_focal_length_is_known() -> None:
    """`13_kick` of the held-out benchmark: a plain floor and a wall of vertical stripes, one family of
    lines, so no focal length and no axes from the lines (the body-fitted floor was 9.2 degrees off).
    With a known focal length (here the true one, as ``--focal`` gives it) the stripes' vanishing point
    is the vertical; with a guessed one it is not used. The stage cache keeps the vanishing points."""
    from diffmesh.geometry.camera_motion import CameraMotion
    from diffmesh.pipelines.stages import scene_axes

    tracker, truth = _track_benchmark_clip("13_kick")
    motion = tracker.result()
    assert motion.scene_axes is None and motion.scene_points is not None
    motion = CameraMotion.from_arrays(motion.to_arrays())  # through the stage cache
    assert motion is not None and motion.scene_points is not None
    K = truth["K"].astype(np.float64)
    true_up = truth["R_w2c"][0][:, 2]
    for source in ("given", "measured"):
        up = scene_up(scene_axes(motion, K, source), np.array([0.0, -1.0, 0.0]))
        assert up is not None and math.degrees(math.acos(min(1.0, float(up @ true_up)))) < 1.0  # measured 0.0
    assert scene_axes(motion, K, "field of view") is None


def _track_benchmark_clip(name: str) -> tuple[RotationTracker, dict[str, np.ndarray]]:
    """A held-out benchmark clip through the rotation tracker with scene lines on (the true person box
    masked, as the detector's would be), and its ground truth."""
    from diffmesh.geometry.camera import default_intrinsics
    from diffmesh.io.video import iter_frames

    clip = Path(__file__).parents[1] / "benchmarks" / "data" / "video_v1" / name
    truth = dict(np.load(clip.with_suffix(".npz")))
    width, height = (int(x) for x in truth["image_size"])
    tracker = RotationTracker(default_intrinsics(width, height), scene_lines=True)
    for i, frame in enumerate(iter_frames(clip.with_suffix(".mp4"), threads=1)):
        kp = truth["joints_2d"][i]
        tracker.add(frame.image, np.array([[*kp.min(0), *kp.max(0)]]))
    return tracker, truth
