"""The world stage: every frame's body in one gravity-aligned world frame, feet on the floor.

The model stage places the body in each frame's *camera* frame. This stage

1. undoes the camera's rotation (:mod:`diffmesh.geometry.camera_motion`, measured on the
   background; skipped for a static camera), so all frames share the first frame's camera axes;
2. finds the floor from the bodies: the soles of the feet where they are planted (low and
   slow), a robust plane fit with the body's average "up" (feet → thorax, which physics keeps
   near vertical over time) as a prior where the planted points do not spread enough to fix
   the plane's tilt. Where the background's straight lines gave the scene's axes
   (:mod:`diffmesh.geometry.vanishing`), the one nearest the bodies' up is the floor's normal and
   the soles give only its height (:mod:`diffmesh.pipelines.floor`);
3. builds the world frame: **y up** (the floor normal), floor at **y = 0**, origin on the floor
   below the first placed root, **z** horizontal toward the first frame's camera, **x = y × z**
   (so x is the camera's right): glTF's and Blender's "Y up" with the scene seen from the
   camera as in the video;
4. labels foot contacts per frame and cleans up foot sliding: while a foot is planted its
   horizontal velocity is removed from the root (the planted foot stays put and the body moves
   over it), and planted soles are brought to the floor; the correction is smoothed so contacts
   start and end without a jump (:mod:`diffmesh.pipelines.feet`). (Sliding planted soles along
   their camera rays onto the floor, to take depth from the floor, was tried and dropped: on the
   held-out video benchmark it made WA-MPJPE and jitter worse.)
5. for a camera that turned (at least a few degrees), its *travel* (:mod:`diffmesh.geometry.camera_travel`, from the
   floor's texture, in metres once step 2 has found the floor): when the camera moved, its pose per
   frame replaces the rotation-only measurement (which a travelling camera also misleads) and
   steps 1-4 run again with each frame's camera centre added, so the trajectories do not carry the
   camera's motion; the travel is then measured once more on the new floor. On a floor without
   texture the camera's path cannot be measured and its motion stays in the trajectories (logged).

Everything here works on arrays (``[N, ...]`` per processed frame, NaN where there is no
person); :func:`world_motion` is the stage, :class:`WorldMotion` its result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from diffmesh.conventions import H36M_JOINTS
from diffmesh.geometry.camera_travel import CameraTravel
from diffmesh.pipelines.feet import (
    CONTACT_SPEED_M_S,
    FLOOR_CONTACT_HEIGHT_M,
    SOLE_CANDIDATES,
    planted_feet_correction,
    foot_contacts,
    foot_vertex_sets,
    planted,
    sliding_mm,
    sole_candidates,
    sole_points,
)
from diffmesh.pipelines.floor import LEVEL_CAMERA, body_up, fit_floor, scene_up, sole_support
from diffmesh.pipelines.placement import PlacedMesh
from diffmesh.pipelines.prediction import body_sequence

logger = logging.getLogger(__name__)

__all__ = ["FLOOR_CONTACT_HEIGHT_M", "CONTACT_SPEED_M_S", "WorldMotion", "foot_vertex_sets", "sole_points",
           "fit_floor", "foot_contacts", "WorldFrame", "fit_world_frame", "person_in_world", "people_in_world", "world_from_placed",
           "world_motion"]  # fmt: skip


#: The stage cache's version of this stage's results (bumped when they change; 4: the feet as sole candidates;
#: 5: what tilted the floor, the planted soles' spread and the camera's motion).
STAGE_VERSION = 5
#: How often the camera's travel and the floor are measured in turn (:func:`people_in_world`).
TRAVEL_PASSES = 2
#: Frames whose feet are worked on at once in float64 (:func:`_soles_frame0`).
CHUNK_FRAMES = 1024
#: Measures a turning camera's travel once the floor is known (:func:`people_in_world`).
Travel = Callable[["WorldFrame"], CameraTravel | None]

_PELVIS = H36M_JOINTS.index("pelvis")
_ANKLES = (H36M_JOINTS.index("left_ankle"), H36M_JOINTS.index("right_ankle"))


@dataclass
class WorldMotion:
    """Result of :func:`world_motion` (``N`` processed frames; NaN rows where there is no person).

    Attributes:
        floor_normal_cam: ``[3]`` (static camera) or ``[N, 3]``: unit up vector in (each frame's)
            camera frame.
        floor_offset_cam: ``[]`` or ``[N]``: ``d`` with ``n · X + d = 0`` on the floor (metres).
        cam_to_world: ``[N, 4, 4]``: ``X_world = A[:3, :3] @ X_cam + A[:3, 3]``.
        root_rotmats: ``[N, 3, 3]`` the body's global orientation in the world frame.
        transl: ``[N, 3]`` the body model's translation in the world frame (root joint = rest root + transl).
        joints: ``[N, 17, 3]`` H36M joints in the world frame after the foot clean-up.
        joints_raw: ``[N, 17, 3]`` the same before the clean-up.
        foot_contact: ``[N, 2]`` bool, (left, right) foot planted.
        static_camera: the camera's rotation was not measured (``--static-camera``) or below noise.
        sliding_mm: planted feet's mean horizontal motion, mm per frame, ``(before, after)`` the clean-up.
        floor_from: what tilted the floor (:attr:`WorldFrame.floor_from`).
        planted_spread_m: the planted soles' spread along the world's x and z (:attr:`WorldFrame.planted_spread_m`).
        camera_motion: ``"static"``, ``"rotating"`` or ``"travelling"``.
    """

    floor_normal_cam: np.ndarray
    floor_offset_cam: np.ndarray
    cam_to_world: np.ndarray
    root_rotmats: np.ndarray
    transl: np.ndarray
    joints: np.ndarray
    joints_raw: np.ndarray
    foot_contact: np.ndarray
    static_camera: bool
    sliding_mm: tuple[float, float]
    floor_from: str = "planted soles"
    planted_spread_m: tuple[float, float] = (float("nan"), float("nan"))
    camera_motion: str = "static"

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Named arrays for the stage cache (:meth:`from_arrays` reads them back)."""
        return {"floor_normal_cam": self.floor_normal_cam, "floor_offset_cam": self.floor_offset_cam,
                "cam_to_world": self.cam_to_world, "root_rotmats": self.root_rotmats, "transl": self.transl,
                "joints": self.joints, "joints_raw": self.joints_raw, "foot_contact": self.foot_contact,
                "static_camera": np.array(self.static_camera), "sliding_mm": np.array(self.sliding_mm),
                "floor_from": np.array(self.floor_from), "planted_spread_m": np.array(self.planted_spread_m),
                "camera_motion": np.array(self.camera_motion)}  # fmt: skip

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> WorldMotion:
        return cls(a["floor_normal_cam"], a["floor_offset_cam"], a["cam_to_world"], a["root_rotmats"], a["transl"],
                   a["joints"], a["joints_raw"], a["foot_contact"].astype(bool), bool(a["static_camera"]),
                   (float(a["sliding_mm"][0]), float(a["sliding_mm"][1])), str(a["floor_from"]),
                   (float(a["planted_spread_m"][0]), float(a["planted_spread_m"][1])), str(a["camera_motion"]))  # fmt: skip


def world_motion(
    joints_cam: np.ndarray,
    transl_cam: np.ndarray,
    root_rotmats_cam: np.ndarray,
    foot_vertices_cam: tuple[np.ndarray, np.ndarray],
    rest_root: np.ndarray,
    fps: float,
    cam_rotations: np.ndarray | None = None,
    clean_feet: bool = True,
    smooth_sigma: float = 2.0,
    scene_axes: np.ndarray | None = None,
    cam_positions: np.ndarray | None = None,
) -> WorldMotion:
    """Put a placed body sequence into a gravity-aligned world frame (module docstring): its own
    :func:`fit_world_frame`, then :func:`person_in_world`.

    Args:
        joints_cam: ``[N, 17, 3]`` H36M joints, camera frame, metres (NaN rows: no person).
        transl_cam: ``[N, 3]`` body-model translation, camera frame.
        root_rotmats_cam: ``[N, 3, 3]`` global orientation, camera frame.
        foot_vertices_cam: (left, right) ``[N, Vf, 3]`` foot vertices, camera frame.
        rest_root: ``[3]`` the root joint of the rest (unposed, untranslated) body: root = rest_root + transl.
        fps: frames per second.
        cam_rotations: ``[N, 3, 3]`` rotation of frame t's camera into frame 0's
            (:class:`~diffmesh.geometry.camera_motion.CameraMotion`); ``None``: a static camera.
        clean_feet: remove planted feet's sliding (:func:`foot_contacts`).
        smooth_sigma: Gaussian smoothing of the clean-up's correction, frames.
        scene_axes: ``[M, 3]`` the scene's directions from its lines (frame 0's camera; :func:`fit_world_frame`), or None.
        cam_positions: ``[N, 3]`` each frame's camera centre in frame 0's camera axes (a travelling
            camera, :mod:`diffmesh.geometry.camera_travel`), or None.
    """
    frame = fit_world_frame([(joints_cam, foot_vertices_cam)], fps, cam_rotations, scene_axes, cam_positions)
    return person_in_world(frame, joints_cam, transl_cam, root_rotmats_cam, foot_vertices_cam, rest_root, fps,
                           clean_feet, smooth_sigma)  # fmt: skip


@dataclass
class WorldFrame:
    """One gravity-aligned world frame shared by everyone in a video (:func:`fit_world_frame`).

    Attributes:
        cam_rotations: ``[N, 3, 3]`` rotation of frame t's camera into frame 0's.
        up: ``[3]`` unit floor normal in frame 0's camera axes; ``offset``: ``d`` with ``up · X + d = 0``.
        axes: ``[3, 3]`` rows: the world's x, y, z axes in frame 0's camera axes.
        origin: ``[3]`` the world origin in frame 0's camera axes (on the floor).
        static: the camera is taken as not rotating.
        cam_positions: ``[N, 3]`` frame t's camera centre in frame 0's camera axes, metres; None: the
            camera does not travel (every centre at frame 0's).
        floor_from: what tilted the floor: ``"scene lines"`` (the background's vertical), ``"planted soles"``
            (spread enough to outweigh the bodies' up both ways: :func:`~diffmesh.pipelines.floor.sole_support`)
            or ``"body posture"`` (the bodies' mean up, as the network poses them: people who stay in place).
        planted_spread_m: the planted soles' standard deviation along the world's x and z, metres.
    """

    cam_rotations: np.ndarray
    up: np.ndarray
    offset: float
    axes: np.ndarray
    origin: np.ndarray
    static: bool
    cam_positions: np.ndarray | None = None
    floor_from: str = "planted soles"
    planted_spread_m: tuple[float, float] = (float("nan"), float("nan"))

    @property
    def travelling(self) -> bool:
        return self.cam_positions is not None

    def centres(self) -> np.ndarray:
        """``[N, 3]`` each frame's camera centre in frame 0's camera axes (zeros without travel)."""
        return np.zeros((len(self.cam_rotations), 3)) if self.cam_positions is None else self.cam_positions

    def cam_to_world(self) -> np.ndarray:
        """``[N, 4, 4]``: ``X_world = A[:3, :3] @ X_cam + A[:3, 3]``."""
        to_world = np.repeat(np.eye(4)[None], len(self.cam_rotations), 0)
        to_world[:, :3, :3] = self.axes @ self.cam_rotations
        to_world[:, :3, 3] = (self.centres() - self.origin) @ self.axes.T
        return to_world


def _cam_rotations(n: int, cam_rotations: np.ndarray | None) -> np.ndarray:
    R = np.broadcast_to(np.eye(3), (n, 3, 3)) if cam_rotations is None else np.asarray(cam_rotations, np.float64)
    if R.shape != (n, 3, 3):
        raise ValueError(f"cam_rotations has shape {list(R.shape)}; expected [{n}, 3, 3], one rotation per frame")
    return R


def _to_frame0(R: np.ndarray, joints_cam: np.ndarray, centres: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Joints ``[N, 17, 3]`` in frame 0's camera coordinates (``centres``: ``[N, 3]`` each frame's camera
    centre there; None: the camera does not travel), and ``[N]`` valid."""
    c = np.zeros((len(R), 1, 3)) if centres is None else np.asarray(centres, np.float64)[:, None]
    J = np.einsum("nij,nkj->nki", R, np.asarray(joints_cam, np.float64)) + c
    return J, np.isfinite(J).all((1, 2))


def _soles_frame0(R: np.ndarray, foot_vertices_cam: tuple[np.ndarray, np.ndarray], up: np.ndarray,
                  centres: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """``[N, 2, 3]`` each foot's lowest point along ``up`` (:func:`sole_points`) in frame 0's camera
    coordinates, :data:`CHUNK_FRAMES` frames at a time: the feet (``[N, Vf, 3]`` camera frame, float32
    sole candidates) are never all copied to float64."""
    out = np.empty((len(R), 2, 3))
    for a in range(0, len(R), CHUNK_FRAMES):
        sl = slice(a, a + CHUNK_FRAMES)
        c = np.zeros((len(R[sl]), 1, 3)) if centres is None else np.asarray(centres[sl], np.float64)[:, None]
        feet = tuple(np.einsum("nij,nkj->nki", R[sl], np.asarray(f[sl], np.float64)) + c for f in foot_vertices_cam)
        out[sl] = sole_points(feet, up)
    return out


def _bodies_up(joints_frame0: list[np.ndarray]) -> np.ndarray:
    """Everyone's mean up (:func:`~diffmesh.pipelines.floor.body_up`), from joints ``[N, 17, 3]`` in frame 0's camera axes."""
    J = np.concatenate(joints_frame0)
    return body_up(J, J[:, list(_ANKLES)])


def fit_world_frame(
    people: list[tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]],
    fps: float,
    cam_rotations: np.ndarray | None = None,
    scene_axes: np.ndarray | None = None,
    cam_positions: np.ndarray | None = None,
) -> WorldFrame:
    """The floor from every person's planted soles together, and the world axes (module docstring, steps 1-3).

    Args:
        people: per person ``(joints_cam [N, 17, 3], (left, right) foot vertices [N, Vf, 3])``, camera
            frame, metres, NaN rows where the person is not placed; the origin lies below the first
            person's first placed root.
        fps: frames per second.
        cam_rotations: ``[N, 3, 3]`` rotation of frame t's camera into frame 0's; ``None``: a static camera.
        scene_axes: ``[M, 3]`` rows: the scene's directions in frame 0's camera from its lines: its three
            orthogonal axes (:class:`~diffmesh.geometry.vanishing.SceneAxes`) or, with a known focal length,
            single families' directions (:func:`~diffmesh.pipelines.stages.scene_axes`); the one nearest the
            bodies' up is taken as vertical (:func:`~diffmesh.pipelines.floor.scene_up`). None: the floor's tilt from the soles.
        cam_positions: ``[N, 3]`` frame t's camera centre in frame 0's camera axes, metres
            (:class:`~diffmesh.geometry.camera_travel.CameraTravel`); None: the camera does not travel.
    """
    if not people:
        raise ValueError("no people given: pass at least one (joints_cam, foot_vertices_cam) pair")
    n = len(people[0][0])
    R = _cam_rotations(n, cam_rotations)
    if cam_positions is not None and np.shape(cam_positions) != (n, 3):
        raise ValueError(f"cam_positions has shape {list(np.shape(cam_positions))}; expected [{n}, 3], one camera centre per frame")
    moved = [(*_to_frame0(R, J, cam_positions), feet) for J, feet in people]  # (joints, valid, feet in the camera)
    camera = None if cam_positions is None else np.asarray(cam_positions, np.float64)[:, None]  # [N, 1, 3]
    # 2. the floor: body "up" as the prior, planted soles as the data (two passes: contacts need a floor)
    valid_all = np.concatenate([v for _, v, _ in moved])
    up = _bodies_up([J for J, _, _ in moved])
    fixed = scene_up(scene_axes, up)
    up = up if fixed is None else fixed
    soles = [_soles_frame0(R, feet, up, cam_positions) for _, _, feet in moved]  # per person [N, 2, 3]
    d = -np.nanpercentile((np.concatenate(soles) @ up)[valid_all], 10)
    for _ in range(2):
        contact = np.concatenate([planted(s, up, d, fps, camera) & v[:, None] for s, (_, v, _) in zip(soles, moved)])
        soles_all = np.concatenate(soles)
        pts = soles_all[contact]
        if len(pts) < 3:  # nothing planted (jumping clip, or the feet never rest): the lowest soles
            h = soles_all @ up
            lower = soles_all[valid_all][np.arange(int(valid_all.sum())), np.nanargmin(h[valid_all], 1)]  # [Nv, 3]
            pts = lower[np.argsort(lower @ up)[: max(3, len(lower) // 10)]]
        if fixed is None:
            up, d = fit_floor(pts, up, level=LEVEL_CAMERA)
        else:  # the scene's vertical: the soles give the floor's height only
            d = -float(np.median(pts @ up))
        soles = [_soles_frame0(R, feet, up, cam_positions) for _, _, feet in moved]
    # 3. world axes: y = up, z toward the first camera (horizontal), x = y × z; origin under the first root
    J0, valid0, _ = moved[0]
    first = int(np.argmax(valid0))
    toward_camera = -np.array([0.0, 0.0, 1.0])
    z = toward_camera - (toward_camera @ up) * up
    if np.linalg.norm(z) < 1e-3:  # the camera looks straight down: use its "down" image axis instead
        z = np.array([0.0, 1.0, 0.0]) - up[1] * up
    z /= np.linalg.norm(z)
    x = np.cross(up, z)
    W = np.stack([x, up, z])  # rows: world axes in frame-0 camera coordinates
    root0 = J0[first, _PELVIS]
    origin = root0 - (root0 @ up + d) * up  # the root's foot point on the floor
    spread, support = sole_support(pts, up, W[[0, 2]])
    floor_from = "scene lines" if fixed is not None else "planted soles" if support.min() >= 1.0 else "body posture"
    return WorldFrame(R, up, d, W, origin, cam_rotations is None,
                      None if cam_positions is None else np.asarray(cam_positions, np.float64), floor_from,
                      (float(spread[0]), float(spread[1])))  # fmt: skip


def person_in_world(
    frame: WorldFrame,
    joints_cam: np.ndarray,
    transl_cam: np.ndarray,
    root_rotmats_cam: np.ndarray,
    foot_vertices_cam: tuple[np.ndarray, np.ndarray],
    rest_root: np.ndarray,
    fps: float,
    clean_feet: bool = True,
    smooth_sigma: float = 2.0,
) -> WorldMotion:
    """One person's placed body sequence expressed in ``frame`` (module docstring, step 4); the
    arguments are :func:`world_motion`'s."""
    n = len(joints_cam)
    R, up, d, W, origin, static = frame.cam_rotations, frame.up, frame.offset, frame.axes, frame.origin, frame.static
    if len(R) != n:
        raise ValueError(f"the world frame has {len(R)} frames but joints_cam has {n}; pass the same frames")
    c = frame.centres()
    J, valid = _to_frame0(R, joints_cam, c)
    soles = _soles_frame0(R, foot_vertices_cam, up, c)  # [N, 2, 3]
    to_world = frame.cam_to_world()
    Jw_raw = J @ W.T - W @ origin  # = cam_to_world applied to joints_cam
    root_w = np.einsum("ij,njk->nik", W, np.einsum("nij,njk->nik", R, np.asarray(root_rotmats_cam, np.float64)))
    rest_root = np.broadcast_to(np.asarray(rest_root, np.float64), (n, 3))
    transl_w = np.einsum("nij,nj->ni", to_world[:, :3, :3], np.asarray(transl_cam, np.float64) + rest_root) \
        + to_world[:, :3, 3] - rest_root  # fmt: skip
    # 4. contacts, and the clean-up: planted feet stay put (their horizontal velocity is removed from the body's)
    soles_w = soles @ W.T - W @ origin
    camera_w = to_world[:, None, :3, 3]  # [N, 1, 3] each frame's camera centre
    contact = foot_contacts(soles_w, fps, camera_w) & valid[:, None]
    before = sliding_mm(soles_w, contact)
    corr = np.zeros((n, 3))
    if clean_feet and contact.any():
        corr = planted_feet_correction(Jw_raw[:, _PELVIS], soles_w, contact, smooth_sigma)
        soles_w = soles_w + corr[:, None]
    Jw, transl_w = Jw_raw + corr[:, None], transl_w + corr
    after = sliding_mm(soles_w, contact)
    n_cam = up if static else np.einsum("nji,j->ni", R, up)
    d_cam = np.array(d) if static else d + c @ up  # a travelling camera's height changes with it
    sliding = f"foot sliding {before:.1f} -> {after:.1f} mm/frame" if contact.any() else "no foot clean-up"
    camera = "static" if static else "travelling" if frame.travelling else "rotating"
    logger.info("world frame: floor %.2f m below the camera, tilted by the %s, %s camera, %d%% of frames with a planted foot, %s",
                d, frame.floor_from, camera, round(100 * contact.any(1)[valid].mean()) if valid.any() else 0, sliding)  # fmt: skip
    nan = ~valid
    for a in (Jw, Jw_raw):
        a[nan] = np.nan
    transl_w[nan] = np.nan
    return WorldMotion(n_cam.astype(np.float32), d_cam.astype(np.float32), to_world.astype(np.float32),
                       root_w.astype(np.float32), transl_w.astype(np.float32), Jw.astype(np.float32),
                       Jw_raw.astype(np.float32), contact, static, (before, after), frame.floor_from, frame.planted_spread_m,
                       camera)  # fmt: skip


def world_from_placed(
    body_model: nn.Module,
    placed: PlacedMesh,
    valid: np.ndarray,
    fps: float,
    cam_rotations: np.ndarray | None = None,
    clean_feet: bool = True,
    scene_axes: np.ndarray | None = None,
    travel: Travel | None = None,
) -> WorldMotion:
    """:func:`world_motion` of the model stage's result: poses the body model once more for the feet
    (``travel``: :func:`people_in_world`'s)."""
    return people_in_world(body_model, [placed], [valid], fps, cam_rotations, clean_feet, scene_axes, travel)[0]


def people_in_world(
    body_model: nn.Module,
    placed: list[PlacedMesh],
    valid: list[np.ndarray],
    fps: float,
    cam_rotations: np.ndarray | None = None,
    clean_feet: bool = True,
    scene_axes: np.ndarray | None = None,
    travel: Travel | None = None,
) -> list[WorldMotion]:
    """Several people's model-stage results in one world frame: the floor is fitted on everyone's
    planted soles together (:func:`fit_world_frame`), the origin lies below the first person's first
    root, and each person is expressed in that frame (:func:`person_in_world`). One person: the same
    as :func:`world_from_placed`.

    ``travel``: for a camera that turns, a function of a world frame (its floor and rotations) that
    measures the camera's travel (:func:`~diffmesh.geometry.camera_travel.estimate_travel`); when the
    camera travelled, the world frame is fitted again with its poses, and the travel measured again on
    that floor (:data:`TRAVEL_PASSES` in all; module docstring, step 5).
    """
    # the feet are kept as their sole candidates around the bodies' up (a few KB a frame, for any length)
    n = len(valid[0])
    R = _cam_rotations(n, cam_rotations)
    up = _bodies_up([_to_frame0(R, _placed_joints(p, v))[0] for p, v in zip(placed, valid)])  # as fit_world_frame's first
    up_cam = np.einsum("nji,j->ni", R, up)  # in each frame's camera axes
    arrays = [_placed_arrays(body_model, p, v, up_cam) for p, v in zip(placed, valid)]
    people = [(joints, feet) for joints, _, feet, _ in arrays]
    frame = fit_world_frame(people, fps, cam_rotations, scene_axes)
    if travel is not None and not frame.static:
        for _ in range(TRAVEL_PASSES):  # the floor from poses that a floor gave, twice: a travelling camera
            moved = travel(frame)        # misleads the rotation-only measurement, and with it the first floor
            if moved is None or not moved.travelling:
                break
            used = frame.offset
            frame = fit_world_frame(people, fps, moved.rotations, scene_axes, moved.positions)
            # the path is in units of the camera's height: keep it in step with the height found last
            frame = fit_world_frame(people, fps, moved.rotations, scene_axes, moved.positions * (frame.offset / used))
    if frame.floor_from == "body posture":
        sx, sz = frame.planted_spread_m
        feet = "too few planted feet" if np.isnan(sx) else f"planted feet spread only {sx:.2f} x {sz:.2f} m"
        logger.warning("world frame: the floor's tilt comes from the bodies' posture alone (%s, no vertical edges found "
                       "in the scene); on the benchmark's clips such floors were 3-23 degrees off. It is surer when people "
                       "walk about, or with vertical edges in view and a known focal length (--focal)", feet)  # fmt: skip
    return [person_in_world(frame, joints, transl, p.mesh.rotmats[:, 0], feet, rest_root, fps, clean_feet)
            for (joints, transl, feet, rest_root), p in zip(arrays, placed)]  # fmt: skip


@lru_cache(maxsize=4)
def _feet_body(body_model: nn.Module) -> tuple[nn.Module, tuple[np.ndarray, np.ndarray]]:
    """``body_model`` restricted to its feet (:func:`foot_vertex_sets`; :func:`~diffmesh.body.subset.vertex_subset`,
    exact to float rounding) and the (left, right) feet's indices among its vertices; ``body_model``
    itself and the full sets when it has no H36M regressor (a subset needs one)."""
    from diffmesh.body.subset import vertex_subset

    left, right = foot_vertex_sets(body_model.lbs_weights.detach().cpu().numpy())
    if getattr(body_model, "J_regressor_h36m", None) is None:
        return body_model, (left, right)
    keep = np.zeros(body_model.lbs_weights.shape[0], bool)
    keep[left], keep[right] = True, True
    position = np.cumsum(keep) - 1  # a kept vertex's index in the subset (kept vertices first, in order)
    subset = vertex_subset(body_model, torch.from_numpy(keep), f"{getattr(body_model, 'name', 'body')}-feet")
    return subset, (position[left], position[right])


def _placed_joints(placed: PlacedMesh, valid: np.ndarray) -> np.ndarray:
    """Camera-frame joints ``[N, 17, 3]`` of a placed body (NaN rows outside ``valid``)."""
    return np.where(valid[:, None, None], placed.joints_m + np.nan_to_num(placed.transl)[:, None], np.nan)


def _placed_arrays(body_model: nn.Module, placed: PlacedMesh, valid: np.ndarray, up_cam: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray], np.ndarray]:  # fmt: skip
    """Camera-frame joints ``[N, 17, 3]``, translation ``[N, 3]``, (left, right) feet as their sole
    candidates around ``up_cam`` ``[N, 3]`` (each frame's up in its camera axes; :func:`sole_candidates`)
    and rest roots ``[N, 3]`` of a placed body (NaN rows outside ``valid``)."""
    n = len(valid)
    feet_body, sets = _feet_body(body_model)  # only the feet's vertices are posed (the joints are exact anyway)
    transl = np.where(valid[:, None], placed.transl, np.nan)
    feet = [np.full((n, SOLE_CANDIDATES, 3), np.nan, np.float32) for _ in sets]
    rest_root = np.zeros((n, 3))
    mesh = placed.mesh
    for sl, _, verts in body_sequence(feet_body, mesh.rotmats, mesh.betas, vertices=True):
        assert verts is not None
        v = verts.numpy()
        for f, s in zip(feet, sets):
            f[sl] = sole_candidates(v[:, s] + transl[sl, None, :], up_cam[sl])
        with torch.inference_mode():
            b = torch.from_numpy(np.ascontiguousarray(mesh.betas[sl]))
            eye = torch.eye(3, dtype=torch.float32).expand(len(b), 24, 3, 3)
            rest = feet_body(betas=b, body_pose=eye[:, 1:], global_orient=eye[:, :1])
        rest_root[sl] = rest.joints[:, 0].numpy()
    return _placed_joints(placed, valid), transl, (feet[0], feet[1]), rest_root
