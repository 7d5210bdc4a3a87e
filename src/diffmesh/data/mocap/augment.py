"""Augmentation that stretches the 12 training clips into many distinct motions.

:func:`sample_motion` draws a training motion: a random window of a training clip played at
a random tempo (looping cycles, holding the ends of the others), sometimes with the upper body
of another clip, joint-angle noise within the synthetic engine's limits, a random mirror and
a random heading. Every step is also a public function on ``(pose_axis_angle [T, 24, 3],
transl [T, 3])`` arrays in the conventions of :mod:`diffmesh.data.mocap.clips` (Y-up world,
floor y = 0, the open body model at betas = 0).

Randomness comes only from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from diffmesh.conventions import NUM_SMPL_JOINTS, SMPL_JOINTS, SMPL_PARENTS
from diffmesh.data.mocap.clips import HELD_OUT, TRAIN_CLIPS, MocapClip, contact_points, load_clip, rest_joints
from diffmesh.data.synthetic.angles import JOINT_LIMITS, angles_to_rotmats, catmull_rom, rotmats_to_angles
from diffmesh.geometry.flip import flip_thetas
from diffmesh.data.mocap._rotations import axis_angle_to_rotmat, rotmat_to_axis_angle

__all__ = [
    "LOWER_BODY",
    "UPPER_BODY",
    "TEMPO_RANGE",
    "MocapSample",
    "mirror",
    "rotate_heading",
    "change_tempo",
    "mix_upper_lower",
    "add_joint_noise",
    "forward_kinematics",
    "draw_motion",
    "sample_motion",
]

#: Joints taken from the "legs + pelvis" clip when mixing (the root, i.e. global orientation, included).
LOWER_BODY: tuple[int, ...] = tuple(
    SMPL_JOINTS.index(n) for n in ("pelvis", "left_hip", "right_hip", "left_knee", "right_knee",
                                   "left_ankle", "right_ankle", "left_foot", "right_foot")
)  # fmt: skip
#: Joints taken from the "spine up" clip when mixing (spine1 and everything above it).
UPPER_BODY: tuple[int, ...] = tuple(j for j in range(NUM_SMPL_JOINTS) if j not in LOWER_BODY)

#: Playback speed range (1 = the captured speed; 1.4 plays 40 % faster).
TEMPO_RANGE = (0.7, 1.4)
MIX_PROBABILITY = 0.3
MIRROR_PROBABILITY = 0.5
NOISE_PROBABILITY = 0.5
#: Largest noise amplitude per angle: this fraction of the joint's range, at most NOISE_MAX_RAD.
NOISE_FRACTION = 0.1
NOISE_MAX_RAD = 0.2
#: Noise keys are drawn every this many seconds (then interpolated smoothly).
NOISE_KEY_INTERVAL_S = 0.5
#: Mixing needs both windows upright: pelvis tilt from vertical at most this (degrees).
UPRIGHT_TILT_DEG = 50.0
#: Frames over which the jump at the seam of a looped cycle is blended away.
SEAM_FRAMES = 8

_UP = np.array([0.0, 1.0, 0.0])


# ---------------------------------------------------------------------------------------------
# Helpers

_rotmats = axis_angle_to_rotmat
_axis_angle = rotmat_to_axis_angle


def _ry(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _check_motion(pose: np.ndarray, transl: np.ndarray) -> None:
    if pose.ndim != 3 or pose.shape[1:] != (NUM_SMPL_JOINTS, 3) or transl.shape != (pose.shape[0], 3):
        raise ValueError(
            f"expected pose_axis_angle [T, 24, 3] and transl [T, 3], got {list(pose.shape)} and {list(transl.shape)}"
        )


def _interpolate(R: np.ndarray, transl: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotations ``[N, 24, 3, 3]`` (slerp) and translations (linear) at fractional frame ``index [N]``."""
    T = R.shape[0]
    if T == 1:
        return np.repeat(R, len(index), axis=0), np.repeat(transl, len(index), axis=0)
    index = np.clip(index, 0.0, T - 1.0)
    i0 = np.minimum(np.floor(index).astype(int), T - 2)
    f = index - i0
    R0, R1 = R[i0], R[i0 + 1]
    step = _axis_angle(np.swapaxes(R0, -1, -2) @ R1)  # [N, 24, 3]
    out_R = R0 @ _rotmats(step * f[:, None, None])
    out_t = transl[i0] + f[:, None] * (transl[i0 + 1] - transl[i0])
    return out_R, out_t


# ---------------------------------------------------------------------------------------------
# Single augmentations


def mirror(pose_axis_angle: np.ndarray, transl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left/right mirror of a motion about the world's ``x = 0`` plane.

    The pose is mirrored by :func:`diffmesh.data.transforms.flip_thetas` (SMPL flip pairs,
    axis-angle y and z negated); the translation so that the root joint's position is mirrored.
    """
    _check_motion(pose_axis_angle, transl)
    root = rest_joints()[0].astype(np.float64)
    sign = np.array([-1.0, 1.0, 1.0])
    return flip_thetas(pose_axis_angle), (transl + root) * sign - root


def rotate_heading(
    pose_axis_angle: np.ndarray, transl: np.ndarray, angle: float, centre: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Turn the whole motion by ``angle`` radians about the vertical through ``centre``.

    ``centre`` (world point; default the first frame's root joint) keeps its place; heights,
    hence the floor contact, are unchanged.
    """
    _check_motion(pose_axis_angle, transl)
    root = rest_joints()[0].astype(np.float64)
    root_world = transl + root  # [T, 3] world position of the root joint
    c = root_world[0] if centre is None else np.asarray(centre, dtype=np.float64)
    c = c * np.array([1.0, 0.0, 1.0])
    Ry = _ry(angle)
    pose = np.array(pose_axis_angle, dtype=np.float64)
    pose[:, 0] = _axis_angle(Ry @ _rotmats(pose[:, 0]))
    return pose, (root_world - c) @ Ry.T + c - root


def change_tempo(pose_axis_angle: np.ndarray, transl: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """Play a motion ``factor`` times faster (``factor < 1``: slower) at the same frame rate.

    Frame ``i`` of the result is the source at frame ``i * factor`` (slerp of the joint rotations,
    linear translation); the result has ``floor((T - 1) / factor) + 1`` frames.
    """
    _check_motion(pose_axis_angle, transl)
    if not factor > 0:
        raise ValueError(f"tempo factor must be positive, got {factor!r}")
    n = int(math.floor((pose_axis_angle.shape[0] - 1) / factor + 1e-9)) + 1
    R, t = _interpolate(_rotmats(pose_axis_angle), np.asarray(transl, np.float64), np.arange(n) * factor)
    return _axis_angle(R), t


def mix_upper_lower(lower_pose: np.ndarray, upper_pose: np.ndarray) -> np.ndarray:
    """Legs and pelvis (:data:`LOWER_BODY`, with the global orientation) of ``lower_pose``, spine
    and everything above (:data:`UPPER_BODY`) of ``upper_pose``, frame by frame (``[T, 24, 3]`` each).

    The translation is the lower-body motion's: its feet, hence its floor contact, are unchanged.
    """
    if lower_pose.shape != upper_pose.shape or lower_pose.shape[1:] != (NUM_SMPL_JOINTS, 3):
        raise ValueError(
            f"mix_upper_lower needs two poses [T, 24, 3] of equal length, got {list(lower_pose.shape)} "
            f"and {list(upper_pose.shape)}; crop or resample them to the same number of frames first"
        )
    out = np.array(lower_pose, copy=True)
    out[:, UPPER_BODY] = upper_pose[:, UPPER_BODY]
    return out


def forward_kinematics(pose_axis_angle: np.ndarray, transl: np.ndarray) -> np.ndarray:
    """World joint positions ``[T, 24, 3]`` of the body model at betas = 0 (as its layer computes them)."""
    _check_motion(pose_axis_angle, transl)
    return _joints(_rotmats(pose_axis_angle), np.asarray(transl, np.float64))


def _joints(R: np.ndarray, transl: np.ndarray) -> np.ndarray:
    return _world_transforms(R, transl)[1]


def _world_transforms(R: np.ndarray, transl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World rotations ``[T, 24, 3, 3]`` and positions ``[T, 24, 3]`` of the joints."""
    rest = rest_joints().astype(np.float64)
    G = np.empty_like(R)
    P = np.empty((R.shape[0], NUM_SMPL_JOINTS, 3))
    for j, p in enumerate(SMPL_PARENTS):
        if p < 0:
            G[:, j], P[:, j] = R[:, j], rest[j] + transl
        else:
            G[:, j] = G[:, p] @ R[:, j]
            P[:, j] = P[:, p] + G[:, p] @ (rest[j] - rest[p])
    return G, P


def _lowest(R: np.ndarray, transl: np.ndarray) -> np.ndarray:
    """Height ``[T]`` of the lowest of the :func:`~diffmesh.data.mocap.clips.contact_points`, rigidly skinned."""
    rest = rest_joints().astype(np.float64)
    points, owner = contact_points()
    G, P = _world_transforms(R, transl)
    lowest = np.full(R.shape[0], np.inf)
    for j in np.unique(owner):
        local = points[owner == j].astype(np.float64) - rest[j]  # [K_j, 3] offsets from joint j
        row = G[:, j, 1, :]  # [T, 3]; element-wise products (no BLAS threads for such small products)
        heights = row[:, 0:1] * local[:, 0] + row[:, 1:2] * local[:, 1] + row[:, 2:3] * local[:, 2] + P[:, j, 1:2]
        lowest = np.minimum(lowest, heights.min(axis=1))
    return lowest


def add_joint_noise(
    rng: np.random.Generator, pose_axis_angle: np.ndarray, transl: np.ndarray, amount: float, fps: float = 30.0
) -> tuple[np.ndarray, np.ndarray]:
    """Smooth random joint-angle offsets within the synthetic engine's per-joint limits.

    In the angle convention of :mod:`diffmesh.data.synthetic.motions`, every angle of joints
    1-23 gets a smooth offset of amplitude up to ``amount * min(NOISE_FRACTION * range,
    NOISE_MAX_RAD)`` (keys every ``NOISE_KEY_INTERVAL_S``), clipped to :data:`JOINT_LIMITS`
    widened to the captured angle where the capture exceeds them. The root is untouched and
    the body is shifted vertically by the change of its lowest point (of the
    :func:`~diffmesh.data.mocap.clips.contact_points`), so that contacts stay on the floor.
    """
    _check_motion(pose_axis_angle, transl)
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"noise amount must be in [0, 1], got {amount!r}")
    T = pose_axis_angle.shape[0]
    R = _rotmats(pose_axis_angle)
    angles = rotmats_to_angles(R)  # [T, 24, 3]
    lo, hi = JOINT_LIMITS[..., 0], JOINT_LIMITS[..., 1]  # [24, 3]; row 0 (root) is zero
    amplitude = amount * np.minimum(NOISE_FRACTION * (hi - lo), NOISE_MAX_RAD)
    num_keys = max(2, int(math.ceil((T - 1) / fps / NOISE_KEY_INTERVAL_S)) + 1)
    keys = rng.uniform(-1.0, 1.0, size=(num_keys, NUM_SMPL_JOINTS, 3)) * amplitude
    noisy = np.clip(angles + catmull_rom(keys, T), np.minimum(lo, angles), np.maximum(hi, angles))
    # Apply as a change of angles, so that angles outside the convention's unique range still work.
    delta = angles_to_rotmats(noisy) @ np.swapaxes(angles_to_rotmats(angles), -1, -2)
    out = delta @ R
    out[:, 0] = R[:, 0]
    transl = np.asarray(transl, np.float64)
    shift = _lowest(R, transl) - _lowest(out, transl)
    return _axis_angle(out), transl + shift[:, None] * _UP


# ---------------------------------------------------------------------------------------------
# Windows of clips and the sampler


@dataclass
class MocapSample:
    """A drawn training motion and how it was made.

    Attributes:
        pose_axis_angle: ``[T, 24, 3]`` float32 SMPL local rotations (row 0: global orientation).
        transl: ``[T, 3]`` float32 body-model translation (floor y = 0; first frame's root at x = z = 0).
        clips: the source clips: ``(lower_and_root,)`` or ``(lower_and_root, upper)`` when mixed.
        tempo: playback speed of the (lower-body) clip.
        mirrored: the motion was mirrored left/right.
        heading: rotation about the vertical applied last (radians).
        noise: joint-noise amount in [0, 1] (0: none).
    """

    pose_axis_angle: np.ndarray
    transl: np.ndarray
    clips: tuple[str, ...]
    tempo: float
    mirrored: bool
    heading: float
    noise: float


def _yaw_between(R_from: np.ndarray, R_to: np.ndarray) -> float:
    """The rotation about Y that best maps orientation ``R_from`` onto ``R_to`` (radians)."""
    M = R_to @ R_from.T
    return math.atan2(M[0, 2] - M[2, 0], M[0, 0] + M[2, 2])


def _next_cycle(R: np.ndarray, transl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frames 1.. of the cycle that follows a looping motion, its seam blended.

    The cycle is moved rigidly (about Y) so that its first frame's root falls on the last
    frame's root; the remaining pose difference at the seam decays over :data:`SEAM_FRAMES`.
    """
    Ry = _ry(_yaw_between(R[0, 0], R[-1, 0]))
    flat = np.array([1.0, 0.0, 1.0])
    p0, p1 = transl[0] * flat, transl[-1] * flat
    nR = R.copy()
    nR[:, 0] = Ry @ R[:, 0]
    nt = (transl - p0) @ Ry.T + p1
    seam_rot = _axis_angle(R[-1] @ np.swapaxes(nR[0], -1, -2))  # [24, 3] what frame 0 lacks
    seam_t = transl[-1] - nt[0]
    k = np.arange(1, len(R))
    x = np.clip(1.0 - k / (SEAM_FRAMES + 1), 0.0, 1.0)
    w = x * x * (3 - 2 * x)  # [T - 1] from ~1 after the seam to 0
    nR[1:] = _rotmats(w[:, None, None] * seam_rot) @ nR[1:]
    return nR[1:], nt[1:] + w[:, None] * seam_t


def _window(
    rng: np.random.Generator, clip: MocapClip, num_frames: int, step: float
) -> tuple[np.ndarray, np.ndarray]:
    """A random ``num_frames`` window of ``clip`` sampled every ``step`` source frames.

    Looping clips repeat as long as needed; the others hold their first / last frame when the
    window is longer than the clip.
    """
    R = _rotmats(clip.pose_axis_angle)
    transl = clip.transl.astype(np.float64)
    span = (num_frames - 1) * step
    if clip.loop and clip.num_frames > 1:
        cycle_R, cycle_t = R, transl  # the latest whole cycle; the next one starts at its last frame
        while R.shape[0] - 1 < span:
            new_R, new_t = _next_cycle(cycle_R, cycle_t)
            cycle_R, cycle_t = np.concatenate([cycle_R[-1:], new_R]), np.concatenate([cycle_t[-1:], new_t])
            R, transl = np.concatenate([R, new_R]), np.concatenate([transl, new_t])
    last = R.shape[0] - 1.0
    start = rng.uniform(0.0, last - span) if span <= last else rng.uniform(last - span, 0.0)
    return _interpolate(R, transl, start + np.arange(num_frames) * step)


def _upright(R: np.ndarray) -> bool:
    return bool(np.all(R[:, 0, 1, 1] >= math.cos(math.radians(UPRIGHT_TILT_DEG))))


def _check_clips(clips: Sequence[str]) -> tuple[str, ...]:
    names = tuple(clips)
    reserved = [n for n in names if n in HELD_OUT]
    if reserved:
        raise ValueError(
            f"clips {reserved} are reserved for the held-out video benchmark (HELD_OUT) and must not be "
            f"used for training; pick from TRAIN_CLIPS = {TRAIN_CLIPS}"
        )
    if not names:
        raise ValueError("clips must name at least one training clip (see TRAIN_CLIPS)")
    for name in names:
        load_clip(name)  # raises for unknown names
    return names


def draw_motion(
    rng: np.random.Generator, num_frames: int, fps: float = 30.0, clips: Sequence[str] = TRAIN_CLIPS
) -> MocapSample:
    """Draw a random augmented training motion (see :func:`sample_motion`) with its recipe."""
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    names = _check_clips(clips)
    name = names[rng.integers(len(names))]
    clip = load_clip(name)
    tempo = float(rng.uniform(*TEMPO_RANGE))
    R, transl = _window(rng, clip, num_frames, tempo * clip.fps / fps)
    used = [name]
    others = [n for n in names if n != name]
    if others and rng.random() < MIX_PROBABILITY and _upright(R):
        for _ in range(4):  # a few tries to find an upright window of another clip
            other = load_clip(others[rng.integers(len(others))])
            R_up, _ = _window(rng, other, num_frames, float(rng.uniform(*TEMPO_RANGE)) * other.fps / fps)
            if _upright(R_up):
                R[:, UPPER_BODY] = R_up[:, UPPER_BODY]
                used.append(other.name)
                break
    pose = _axis_angle(R)
    noise = float(rng.uniform(0.0, 1.0)) if rng.random() < NOISE_PROBABILITY else 0.0
    if noise > 0:
        pose, transl = add_joint_noise(rng, pose, transl, noise, fps)
    mirrored = bool(rng.random() < MIRROR_PROBABILITY)
    if mirrored:
        pose, transl = mirror(pose, transl)
    heading = float(rng.uniform(0.0, 2 * math.pi))
    pose, transl = rotate_heading(pose, transl, heading)
    transl = transl - (transl[0] + rest_joints()[0]) * np.array([1.0, 0.0, 1.0])  # first root at x = z = 0
    return MocapSample(
        pose_axis_angle=pose.astype(np.float32), transl=transl.astype(np.float32), clips=tuple(used),
        tempo=tempo, mirrored=mirrored, heading=heading, noise=noise,
    )  # fmt: skip


def sample_motion(rng: np.random.Generator, num_frames: int, fps: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """A random augmented motion drawn from the 12 training clips (never from :data:`HELD_OUT`).

    Recipe: a training clip chosen uniformly; tempo x U(0.7, 1.4); a random window of
    ``num_frames`` frames at ``fps`` (looping clips repeat, the others hold their ends); with
    probability 0.3, when both are upright, the upper body of a window of another clip; with
    probability 0.5 smooth joint-angle noise; with probability 0.5 a left/right mirror; a
    uniform heading; the first frame's root moved to x = z = 0 (heights keep the floor at y = 0).

    Args:
        rng: the random source.
        num_frames: ``T``.
        fps: frame rate of the result.

    Returns:
        ``(pose_axis_angle [T, 24, 3], transl [T, 3])`` float32, for the body model at betas = 0.
    """
    sample = draw_motion(rng, num_frames, fps)
    return sample.pose_axis_angle, sample.transl
