"""The world stage (diffmesh.pipelines.world): floor, world axes, foot contacts and clean-up, on the
real open body model posed with a known motion seen by a tilted camera."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from diffmesh.body import load
from diffmesh.pipelines.placement import PlacedMesh
from diffmesh.pipelines.prediction import MeshSequence, h36m_joints
from diffmesh.pipelines.floor import LEVEL_CAMERA
from diffmesh.pipelines.world import WorldMotion, fit_floor, foot_vertex_sets, people_in_world, world_from_placed, world_motion

FPS = 25.0


def _pitch(deg: float) -> np.ndarray:
    """Camera pitched down by ``deg``: a camera-frame point of the level camera → the tilted camera's frame."""
    a = math.radians(deg)
    return np.array([[1, 0, 0], [0, math.cos(a), math.sin(a)], [0, -math.sin(a), math.cos(a)]])


def _stepping(frames: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """A person standing upright 3 m in front of a level camera, turned 30 degrees, who glides to
    the right in three quick 0.25 m steps (1 m/s: the feet move) and drifts 3 mm a frame between
    them (a planted foot that slides, as estimates do). Returns (root rotation [3, 3], transl [T, 3])."""
    root = _rot_y(30.0) @ np.diag([1.0, -1.0, -1.0])  # upright in the y-down camera frame, then turned
    x = np.zeros(frames)
    for t in range(1, frames):
        x[t] = x[t - 1] + (0.25 / 6 if (t % 16) < 6 and t >= 10 else 0.003)
    transl = np.stack([x - 0.4, np.full(frames, 0.15), np.full(frames, 3.0)], 1)
    return root, transl


def _rot_y(deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])


def _placed(body, frames: int = 50, pitch_deg: float = 0.0) -> tuple[PlacedMesh, np.ndarray]:
    """:func:`_stepping` seen by a camera pitched down ``pitch_deg``; and the true "up" in that camera."""
    root, transl = _stepping(frames)
    P = _pitch(pitch_deg)
    rot = np.broadcast_to(np.eye(3), (frames, 24, 3, 3)).copy()
    rot[:, 0] = P @ root
    mesh = MeshSequence(rot.astype(np.float32), np.zeros((frames, 10), np.float32))
    joints = h36m_joints(body, mesh)  # root-relative, in the tilted camera's axes
    with torch.no_grad():
        rest = body(torch.zeros(1, 10), torch.zeros(1, 69), torch.zeros(1, 3)).joints[0, 0].numpy()
    transl = (transl + rest) @ P.T - rest  # the root's camera-frame position, turned with the camera
    up_true = P @ np.array([0.0, -1.0, 0.0])
    return PlacedMesh(mesh, joints, transl, transl, np.zeros(frames)), up_true


@pytest.fixture(scope="module")
def body():
    return load("open")


@pytest.mark.parametrize("pitch", [0.0, 25.0])
def test_floor_and_world_axes_from_a_walk(body, pitch: float) -> None:
    placed, up_true = _placed(body, pitch_deg=pitch)
    valid = np.ones(len(placed.transl), bool)
    w = world_from_placed(body, placed, valid, FPS)
    # the floor's normal in the camera frame is the true "up" (the body's and the camera's tilt differ by `pitch`)
    angle = math.degrees(math.acos(np.clip(w.floor_normal_cam @ up_true, -1, 1)))
    assert angle < 3.0, angle
    assert w.static_camera and w.floor_normal_cam.shape == (3,) and w.cam_to_world.shape == (50, 4, 4)
    # cam_to_world is a rigid transform mapping the camera-frame joints onto joints_raw
    A = w.cam_to_world.astype(np.float64)
    np.testing.assert_allclose(A[:, :3, :3] @ A[:, :3, :3].transpose(0, 2, 1), np.broadcast_to(np.eye(3), (50, 3, 3)), atol=1e-5)
    cam = placed.joints_m + placed.transl[:, None]
    np.testing.assert_allclose(np.einsum("nij,nkj->nki", A[:, :3, :3], cam) + A[:, None, :3, 3], w.joints_raw, atol=1e-4)
    # world: y up, the soles on the floor (y = 0), the pelvis about 0.9 m up, origin below the first root
    sets = foot_vertex_sets(body.lbs_weights.numpy())
    assert min(len(s) for s in sets) > 100
    assert abs(w.joints[0, 0, 0]) < 0.05 and abs(w.joints[0, 0, 2]) < 0.05
    assert 0.8 < np.median(w.joints[:, 0, 1]) < 1.0
    assert np.all(w.joints[:, [3, 6], 1] > 0.0) and np.median(w.joints[:, [3, 6], 1].min(1)) < 0.15
    # the person goes to the camera's right: +x in the world; the camera is on the +z side
    assert w.joints[-1, 0, 0] - w.joints[0, 0, 0] > 0.6
    cam_centre_world = A[0, :3, 3]
    assert cam_centre_world[2] > 2.5 and abs(cam_centre_world[0] - 0.4) < 0.1  # the person starts 0.4 m to its left


def test_several_people_share_one_world_frame(body) -> None:
    """Two people (the second 1.5 m further right, seen from frame 10 on): one floor and one
    cam_to_world for both, both standing on it; the first person alone gives world_from_placed's result."""
    first, _ = _placed(body, pitch_deg=15.0)
    second = PlacedMesh(first.mesh, first.joints_m, first.transl + [1.5, 0.0, 0.0], first.transl + [1.5, 0.0, 0.0],
                        first.reproj_px)  # fmt: skip
    valid = np.ones(len(first.transl), bool)
    late = valid.copy()
    late[:10] = False
    w1, w2 = people_in_world(body, [first, second], [valid, late], FPS)
    np.testing.assert_array_equal(w1.cam_to_world, w2.cam_to_world)
    np.testing.assert_array_equal(w1.floor_normal_cam, w2.floor_normal_cam)
    assert np.isnan(w2.joints[:10]).all() and np.isfinite(w2.joints[10:]).all()
    for w in (w1, w2):  # both on the floor, pelvis about 0.9 m up
        assert 0.8 < np.nanmedian(w.joints[:, 0, 1]) < 1.0
        placed_rows = np.isfinite(w.joints).all((1, 2))
        assert np.median(w.joints[placed_rows][:, [3, 6], 1].min(1)) < 0.15
    assert np.nanmedian(w2.joints[10:, 0, 0] - w1.joints[10:, 0, 0]) == pytest.approx(1.5, abs=0.1)
    alone = world_from_placed(body, first, valid, FPS)
    np.testing.assert_array_equal(people_in_world(body, [first], [valid], FPS)[0].joints, alone.joints)


def test_the_world_says_what_tilted_the_floor(body) -> None:
    """Planted soles tilt the floor only where they spread (in depth too); a person stepping sideways
    leaves the pitch to the bodies' posture; the scene's vertical wins over both. The stage cache keeps it."""
    sideways, up = _placed(body, frames=100)
    valid = np.ones(100, bool)
    w = world_from_placed(body, sideways, valid, FPS)
    assert w.floor_from == "body posture" and w.camera_motion == "static"
    spread_x, spread_z = w.planted_spread_m
    assert spread_x > 0.3 and spread_z < 0.15, w.planted_spread_m  # along the steps; in depth only the feet's own gap
    again = WorldMotion.from_arrays(w.to_arrays())
    assert (again.floor_from, again.planted_spread_m, again.camera_motion) == (w.floor_from, w.planted_spread_m, "static")
    # the same steps taken diagonally: now the soles spread both ways and tilt the floor
    depth = sideways.transl[:, 0] - sideways.transl[0, 0]
    transl = sideways.transl + np.stack([np.zeros(100), np.zeros(100), depth], 1)
    diagonal = PlacedMesh(sideways.mesh, sideways.joints_m, transl, transl, sideways.reproj_px)
    w = world_from_placed(body, diagonal, valid, FPS)
    assert w.floor_from == "planted soles" and min(w.planted_spread_m) > 0.3, w.planted_spread_m
    lines = world_from_placed(body, sideways, valid, FPS, scene_axes=np.array([up]))
    assert lines.floor_from == "scene lines"


def test_foot_cleanup_keeps_planted_feet_still(body) -> None:
    """Between steps the planted feet drift 3 mm a frame: the clean-up removes most of it and keeps
    the steps; without it the joints stay as they were."""
    placed, _ = _placed(body)
    valid = np.ones(len(placed.transl), bool)
    w = world_from_placed(body, placed, valid, FPS)
    raw = world_from_placed(body, placed, valid, FPS, clean_feet=False)
    assert w.foot_contact.any(1).mean() > 0.5
    before, after = w.sliding_mm
    assert before == pytest.approx(3.0, abs=0.5) and after < 1.0, (before, after)
    travelled = w.joints[-1, 0, 0] - w.joints[0, 0, 0]
    assert 0.6 < travelled < raw.joints[-1, 0, 0] - raw.joints[0, 0, 0]
    np.testing.assert_array_equal(raw.joints, raw.joints_raw)
    assert raw.sliding_mm[0] == raw.sliding_mm[1]
    # the clean-up moves the body only a few centimetres a frame, never wildly
    assert np.abs(np.diff(w.joints[:, 0], axis=0)).max() < 0.1


def test_a_rotating_camera_is_undone(body) -> None:
    """The camera pans 20 degrees during the clip: with its rotations the world trajectory is the
    walk's; the floor normal is reported per frame in each frame's camera."""
    placed, up_true = _placed(body)
    n = len(placed.transl)
    pan = np.radians(np.linspace(0, 20, n))
    # frame t camera = level camera turned by pan[t] about its y axis: X_t = Ry(pan)ᵀ X_0
    Ry = np.stack([np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]]) for a in pan])
    joints = np.einsum("nji,nkj->nki", Ry, placed.joints_m + placed.transl[:, None])
    transl_plus_root = placed.joints_m[:, 0] + placed.transl  # any point works for the check below
    feet = []
    from diffmesh.pipelines.prediction import body_sequence

    sets = foot_vertex_sets(body.lbs_weights.numpy())
    verts = np.concatenate([v.numpy() for _, _, v in body_sequence(body, placed.mesh.rotmats, placed.mesh.betas, vertices=True)])
    for s in sets:
        feet.append(np.einsum("nji,nkj->nki", Ry, verts[:, s] + placed.transl[:, None]))
    root = np.einsum("nji,njk->nik", Ry, placed.mesh.rotmats[:, 0])
    transl = np.einsum("nji,nj->ni", Ry, transl_plus_root) - placed.joints_m[:, 0]
    still = world_motion(joints, transl, root, (feet[0], feet[1]), np.zeros(3), FPS, cam_rotations=None, clean_feet=False)
    moving = world_motion(joints, transl, root, (feet[0], feet[1]), np.zeros(3), FPS, cam_rotations=Ry, clean_feet=False)
    assert not moving.static_camera and moving.floor_normal_cam.shape == (n, 3)
    ref = world_from_placed(body, placed, np.ones(n, bool), FPS, clean_feet=False)
    np.testing.assert_allclose(moving.joints, ref.joints, atol=2e-3)
    assert np.abs(still.joints - ref.joints).max() > 0.3  # ignoring the pan bends the walk


def test_a_travelling_camera_is_undone(body) -> None:
    """The camera travels 2 m sideways and 0.5 m forward while it pans 15 degrees: with its poses
    (rotations and centres, as :mod:`diffmesh.geometry.camera_travel` measures them) the world
    trajectory is the one a static camera gives; with the rotations alone it is not."""
    placed, _ = _placed(body)
    n = len(placed.transl)
    Ry = np.stack([_rot_y(a) for a in np.linspace(0, 15, n)])  # frame t camera into frame 0's
    c = np.stack([np.linspace(0, 2.0, n), np.zeros(n), np.linspace(0, 0.5, n)], 1)  # centres, frame 0's axes

    def seen(X: np.ndarray) -> np.ndarray:  # frame 0's camera coordinates -> frame t's: Ryᵀ (X - c)
        return np.einsum("nji,nkj->nki", Ry, X - c[:, None])

    from diffmesh.pipelines.prediction import body_sequence

    verts = np.concatenate([v.numpy() for _, _, v in body_sequence(body, placed.mesh.rotmats, placed.mesh.betas, vertices=True)])
    feet = [seen(verts[:, s] + placed.transl[:, None]) for s in foot_vertex_sets(body.lbs_weights.numpy())]
    joints = seen(placed.joints_m + placed.transl[:, None])
    root = np.einsum("nji,njk->nik", Ry, placed.mesh.rotmats[:, 0])
    transl = seen((placed.joints_m[:, 0] + placed.transl)[:, None])[:, 0] - placed.joints_m[:, 0]
    ref = world_from_placed(body, placed, np.ones(n, bool), FPS, clean_feet=False)
    moving = world_motion(joints, transl, root, (feet[0], feet[1]), np.zeros(3), FPS, cam_rotations=Ry, clean_feet=False,
                          cam_positions=c)  # fmt: skip
    np.testing.assert_allclose(moving.joints, ref.joints, atol=2e-3)
    # the camera's centre is the translation of cam_to_world; the floor's offset follows the camera
    centres = moving.cam_to_world[:, :3, 3]
    np.testing.assert_allclose(np.linalg.norm(centres - centres[0], axis=1), np.linalg.norm(c, axis=1), atol=1e-5)
    np.testing.assert_allclose(moving.floor_offset_cam, ref.floor_offset_cam + c @ (Ry[0] @ moving.floor_normal_cam[0]), atol=1e-5)
    turned_only = world_motion(joints, transl, root, (feet[0], feet[1]), np.zeros(3), FPS, cam_rotations=Ry, clean_feet=False)
    assert np.abs(turned_only.joints - ref.joints).max() > 1.0  # the camera's 2 m stay in the trajectory


def test_the_soles_are_found_a_chunk_of_frames_at_a_time_with_the_same_result(body, monkeypatch) -> None:
    """Long videos: the feet's float64 copies in frame 0's axes cover CHUNK_FRAMES frames at a time; the
    world (floor, contacts, trajectories) is the same to the bit, for a turning and travelling camera too."""
    import diffmesh.pipelines.world as world

    placed, _ = _placed(body)
    n = len(placed.transl)
    Ry = np.stack([_rot_y(a) for a in np.linspace(0, 15, n)])
    c = np.stack([np.linspace(0, 2.0, n), np.zeros(n), np.linspace(0, 0.5, n)], 1)
    feet = tuple(np.random.default_rng(k).normal(0, 0.1, (n, 16, 3)).astype(np.float32) + [0, 0.9, 3] for k in (0, 1))
    joints = placed.joints_m + placed.transl[:, None]

    def runs() -> list:
        return [people_in_world(body, [placed], [np.ones(n, bool)], FPS)[0],
                world_motion(joints, placed.transl, placed.mesh.rotmats[:, 0], feet, np.zeros(3), FPS, cam_rotations=Ry,
                             cam_positions=c)]  # fmt: skip

    whole = runs()
    monkeypatch.setattr(world, "CHUNK_FRAMES", 7)
    for a, b in zip(whole, runs()):
        for key, value in a.to_arrays().items():
            np.testing.assert_array_equal(b.to_arrays()[key], value, err_msg=key)


def test_the_travel_step_runs_once_the_floor_is_known_and_only_for_a_turning_camera(body) -> None:
    """people_in_world hands its first world frame (floor found) to ``travel``; a camera taken as not
    travelling keeps the first frame's result; a static camera is not measured at all."""
    from diffmesh.geometry.camera_travel import CameraTravel

    placed, up_true = _placed(body, pitch_deg=20.0)
    n = len(placed.transl)
    valid = np.ones(n, bool)
    Ry = np.stack([_rot_y(a) for a in np.linspace(0, 1, n)])
    seen_frames = []

    def travel(frame):  # noqa: ANN001, ANN202
        seen_frames.append(frame)
        return CameraTravel(frame.cam_rotations, np.zeros((n, 3)), np.ones(n, bool), False, 0.01)

    plain = people_in_world(body, [placed], [valid], FPS, Ry)[0]
    measured = people_in_world(body, [placed], [valid], FPS, Ry, travel=travel)[0]
    assert len(seen_frames) == 1 and np.degrees(np.arccos(np.clip(seen_frames[0].up @ up_true, -1, 1))) < 5
    np.testing.assert_array_equal(measured.joints, plain.joints)
    people_in_world(body, [placed], [valid], FPS, None, travel=travel)
    assert len(seen_frames) == 1


def test_fit_floor_uses_the_points_where_they_spread_and_the_prior_where_not() -> None:
    rng = np.random.default_rng(0)
    n_true = np.array([0.0, -math.cos(0.3), math.sin(0.3)])
    a = np.cross(n_true, [1.0, 0, 0])
    a /= np.linalg.norm(a)
    b = np.cross(n_true, a)
    spread = rng.uniform(-2, 2, (200, 2))
    pts = spread[:, :1] * a + spread[:, 1:] * b + 1.5 * -n_true + rng.normal(0, 0.005, (200, 3))
    n, d = fit_floor(pts, np.array([0.0, -1.0, 0.0]))
    assert math.degrees(math.acos(n @ n_true)) < 1.0 and abs(d - 1.5) < 0.02
    n, _ = fit_floor(pts[:2], np.array([0.0, -1.0, 0.0]))  # too few: the prior
    np.testing.assert_allclose(n, [0, -1, 0])


def _rolled(deg: float) -> np.ndarray:
    """The up vector (camera y down, so up is -y) of a camera rolled ``deg`` about its optical axis."""
    r = math.radians(deg)
    return np.array([math.sin(r), -math.cos(r), 0.0])


def _floor(up: np.ndarray, spread_m: float, rng: np.random.Generator) -> np.ndarray:
    a = np.cross(up, [0.0, 0.0, 1.0])
    a /= np.linalg.norm(a)
    b = np.cross(up, a)
    s = rng.uniform(-spread_m, spread_m, (200, 2))
    return s[:, :1] * a + s[:, 1:] * b + 1.5 * -up + rng.normal(0, 0.005, (200, 3))


def test_level_camera_prior_halves_a_roll_only_the_bodies_show() -> None:
    """Soles in one spot (an in-place motion) say nothing of the roll: half of a leaning body's
    12-degree roll is taken for the camera's (``LEVEL_CAMERA``). Soles spread over the floor of a
    camera truly rolled 10 degrees outweigh the prior, even when the bodies stand level."""
    rng = np.random.default_rng(0)
    roll = lambda n: math.degrees(math.atan2(n[0], -n[1]))  # noqa: E731
    spot = _floor(_rolled(0.0), 0.05, rng)
    assert abs(roll(fit_floor(spot, _rolled(12.0))[0]) - 12.0) < 1.0  # without: the bodies' roll
    assert 3.0 < roll(fit_floor(spot, _rolled(12.0), level=LEVEL_CAMERA)[0]) < 7.0
    spread = _floor(_rolled(10.0), 2.0, rng)
    for bodies in (10.0, 0.0):
        assert abs(roll(fit_floor(spread, _rolled(bodies), level=LEVEL_CAMERA)[0]) - 10.0) < 0.5


def test_world_motion_rejects_wrong_shapes(body) -> None:
    placed, _ = _placed(body, frames=10)
    with pytest.raises(ValueError, match=r"cam_rotations has shape \[3, 3\]; expected \[10, 3, 3\]"):
        world_from_placed(body, placed, np.ones(10, bool), FPS, cam_rotations=np.eye(3))
    with pytest.raises(ValueError, match="no frame with a placed body"):
        world_from_placed(body, placed, np.zeros(10, bool), FPS)


def test_sole_candidates_keep_the_lowest_point_for_any_up_in_the_cone(body) -> None:
    """A foot kept as its sole candidates (1.5 KB a frame instead of every vertex) gives the same lowest
    point as the whole foot, to about a millimetre, for an "up" anywhere within 45 degrees of the
    reference; rows without a person stay NaN."""
    from diffmesh.pipelines.feet import SOLE_CANDIDATES, sole_candidates, sole_points
    from diffmesh.pipelines.prediction import body_sequence

    rng = np.random.default_rng(0)
    n = 24
    rot = np.broadcast_to(np.eye(3), (n, 24, 3, 3)).copy()
    for joint in (7, 8, 10, 11):  # ankles and toes bent every which way, up to 60 degrees
        axis = rng.normal(size=(n, 3))
        axis *= rng.uniform(0, math.radians(60), (n, 1)) / np.linalg.norm(axis, axis=1, keepdims=True)
        rot[:, joint] = _rodrigues(axis)
    rot[:, 0] = np.diag([1.0, -1.0, -1.0])  # upright in a y-down camera frame
    verts = np.concatenate([v.numpy() for _, _, v in body_sequence(body, rot.astype(np.float32), np.zeros((n, 10), np.float32),
                                                                   vertices=True)])  # fmt: skip
    feet = tuple(verts[:, s].astype(np.float64) + [0.1, 0.2, 3.0] for s in foot_vertex_sets(body.lbs_weights.numpy()))
    feet[0][5] = np.nan  # no person in frame 5
    up = np.array([0.05, -0.99, 0.1]) / np.linalg.norm([0.05, -0.99, 0.1])
    kept = tuple(sole_candidates(f, up) for f in feet)
    assert all(k.shape == (n, SOLE_CANDIDATES, 3) and k.dtype == np.float32 for k in kept)
    assert np.isnan(kept[0][5]).all() and np.isfinite(kept[0][6]).all() and np.isfinite(kept[1]).all()
    e1 = np.cross(up, [1.0, 0.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(up, e1)
    worst = 0.0
    for _ in range(200):
        a, phi = math.radians(rng.uniform(0, 45)), rng.uniform(0, 2 * math.pi)
        u = math.cos(a) * up + math.sin(a) * (math.cos(phi) * e1 + math.sin(phi) * e2)
        full, from_kept = sole_points(feet, u) @ u, sole_points(kept, u) @ u
        assert np.array_equal(np.isnan(full), np.isnan(from_kept))
        diff = (from_kept - full)[np.isfinite(full)]
        assert diff.min() > -1e-5  # a candidate is a vertex of the foot: never below its lowest
        worst = max(worst, float(diff.max()))
    assert worst < 3e-3, worst


def _rodrigues(rotvec: np.ndarray) -> np.ndarray:
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)[..., None]
    k = rotvec / np.maximum(np.linalg.norm(rotvec, axis=-1, keepdims=True), 1e-12)
    K = np.zeros(rotvec.shape[:-1] + (3, 3))
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 2] = -k[..., 2], k[..., 1], -k[..., 0]
    K = K - np.swapaxes(K, -1, -2)
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


def test_the_world_stage_memory_grows_by_a_few_kilobytes_a_frame(body) -> None:
    """Memory bounded for any length: the world stage keeps each frame's feet as sole candidates, not
    every posed vertex (about 120 KB a frame with its float64 copies before: 13 GB for an hour of video).
    Measured with tracemalloc (numpy's arrays) at two lengths: the difference per added frame."""
    import tracemalloc

    peaks = []
    for frames in (120, 360):
        placed, _ = _placed(body, frames=frames)
        tracemalloc.start()
        people_in_world(body, [placed], [np.ones(frames, bool)], FPS)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    per_frame = (peaks[1] - peaks[0]) / 240
    assert per_frame < 6_000, f"{per_frame / 1000:.1f} KB a frame"  # 1.9 KB; 124 KB before
