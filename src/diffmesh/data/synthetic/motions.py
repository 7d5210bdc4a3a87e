"""Procedural human motion: the motion families of the synthetic engine.

Every family is a pure function ``(rng, num_frames, fps) -> Motion`` of NumPy arrays. A
motion is described in *joint-angle space* (:mod:`.angles`: three angles per SMPL joint within
:data:`~.angles.JOINT_LIMITS`, turned into local rotations by
:func:`~.angles.angles_to_rotmats`); the global placement (heading, root tilt, height above the
floor contact) is separate and applied by the engine, which also plants the feet (foot lock)
and puts the lowest point of the body on the floor. Keyframed families interpolate in angle
space (:func:`~.angles.catmull_rom`), so the limits hold by construction.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from diffmesh.conventions import NUM_SMPL_JOINTS, SMPL_JOINTS
from diffmesh.data.synthetic.angles import JOINT_LIMITS, catmull_rom

logger = logging.getLogger(__name__)

__all__ = ["FAMILIES", "Motion", "generate_motion"]

_J = {name: i for i, name in enumerate(SMPL_JOINTS)}


@dataclass
class Motion:
    """One procedurally generated motion (world placement still to be solved).

    Attributes:
        family: the family name.
        angles: ``[T, 24, 3]`` joint angles (row 0 unused), within :data:`JOINT_LIMITS`.
        heading, pitch, roll: ``[T]`` root orientation in the world (see :func:`~.angles.root_rotmats`).
        lift: ``[T]`` metres of the lowest body point above the floor (jump flight; else 0).
        drift: ``[T, 3]`` extra world translation on top of the foot lock (metres).
    """

    family: str
    angles: np.ndarray
    heading: np.ndarray
    pitch: np.ndarray
    roll: np.ndarray
    lift: np.ndarray
    drift: np.ndarray


# --------------------------------------------------------------------------- helpers


def _zeros(T: int) -> np.ndarray:
    return np.zeros((T, NUM_SMPL_JOINTS, 3))


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _random_keys(
    rng: np.random.Generator, T: int, fps: float, interval: tuple[float, float], low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """Smooth random values in ``[low, high]`` (any shape) with keys every ``interval`` seconds."""
    duration = max(T - 1, 1) / fps
    K = max(2, int(math.ceil(duration / _u(rng, *interval))) + 1)
    keys = rng.uniform(low, high, size=(K, *np.shape(low)))
    return np.clip(catmull_rom(keys, T), low, high)


def _upper_body_idle(rng: np.random.Generator, T: int, fps: float, angles: np.ndarray, amount: float) -> None:
    """Small smooth motion of spine, neck and head (in place)."""
    for name in ("spine1", "spine2", "spine3", "neck", "head"):
        lim = JOINT_LIMITS[_J[name]]
        angles[:, _J[name]] += _random_keys(rng, T, fps, (0.6, 1.5), amount * lim[:, 0], amount * lim[:, 1])


def _relaxed_arms(rng: np.random.Generator, angles: np.ndarray) -> None:
    """Arms hanging slightly away from the body with soft elbows (in place)."""
    out = _u(rng, 0.12, 0.3)
    angles[:, _J["left_shoulder"], 2] += out
    angles[:, _J["right_shoulder"], 2] -= out
    bend = _u(rng, 0.1, 0.5)
    angles[:, _J["left_elbow"], 1] -= bend
    angles[:, _J["right_elbow"], 1] += bend


def _constant(T: int, value: float = 0.0) -> np.ndarray:
    return np.full(T, value)


def _hold_and_move(
    rng: np.random.Generator, T: int, fps: float, hold: tuple[float, float], move: tuple[float, float]
) -> np.ndarray:
    """A ``[T]`` schedule in [0, 1] that holds 0 or 1 and moves between them smoothly, in
    real time (holds and moves last the given seconds); it starts at a random point of the
    pattern, so a short clip can begin mid-transition."""
    times, levels = [0.0], [float(rng.integers(0, 2))]
    duration = max(T - 1, 0) / fps + hold[1] + move[1]
    while times[-1] < duration:
        times += [times[-1] + _u(rng, *hold), 0.0]
        times[-1] = times[-2] + _u(rng, *move)
        levels += [levels[-1], 1.0 - levels[-1]]
    t = np.arange(T) / fps + _u(rng, 0.0, hold[1] + move[1])
    knots = np.asarray(times)
    idx = np.clip(np.searchsorted(knots, t, side="right") - 1, 0, len(knots) - 2)
    frac = _smoothstep((t - knots[idx]) / np.maximum(knots[idx + 1] - knots[idx], 1e-9))
    lv = np.asarray(levels)
    return lv[idx] + (lv[idx + 1] - lv[idx]) * frac


def _gait(rng: np.random.Generator, T: int, fps: float, running: bool, stride_hz: float | None = None) -> Motion:
    """Walking or running: a periodic leg cycle, opposite arm swing, trunk counter-rotation.

    Phase ``φ``: the left thigh moves forward when ``cos φ > 0`` (swing, knee bent) and is
    furthest forward at ``φ = π/2``. Forward speed is not prescribed: it emerges from the
    foot lock (the stance foot stays planted), so it always matches the stride.
    """
    t = np.arange(T) / fps
    if running:
        hz = stride_hz or _u(rng, 1.25, 1.6)
        hip_amp, hip_bias, knee_swing, knee_stance = _u(rng, 0.55, 0.8), -0.3, _u(rng, 1.3, 1.8), 0.3
        knee_power = 2.0
        arm_amp, elbow, lean = _u(rng, 0.4, 0.8), _u(rng, 1.2, 1.7), _u(rng, 0.1, 0.25)
    else:
        hz = stride_hz or _u(rng, 0.75, 1.05)
        hip_amp, hip_bias, knee_swing, knee_stance = _u(rng, 0.28, 0.5), -0.1, _u(rng, 0.8, 1.2), 0.12
        knee_power = 1.5
        arm_amp, elbow, lean = _u(rng, 0.1, 0.45), _u(rng, 0.15, 0.6), _u(rng, -0.03, 0.12)
    phi = 2 * math.pi * hz * t + _u(rng, 0, 2 * math.pi)
    a = _zeros(T)
    for side, offset in (("left", 0.0), ("right", math.pi)):
        p = phi + offset
        a[:, _J[f"{side}_hip"], 0] = hip_bias - hip_amp * np.sin(p)
        # Knee flexion peaks in early swing (just after toe-off) and is back to the stance
        # value before the foot lands in front.
        a[:, _J[f"{side}_knee"], 0] = knee_stance + knee_swing * np.maximum(0.0, np.cos(p + 0.3)) ** knee_power
        # Push-off (plantar flexion) while the thigh is behind, slight dorsiflexion in swing.
        a[:, _J[f"{side}_ankle"], 0] = 0.3 * np.maximum(0.0, -np.sin(p + 0.4)) - 0.1 * np.maximum(0.0, np.cos(p))
        sign = 1.0 if side == "left" else -1.0
        a[:, _J[f"{side}_hip"], 2] = sign * (0.04 + 0.03 * np.sin(p))
        # Arms swing opposite to the same-side leg.
        a[:, _J[f"{side}_shoulder"], 0] = arm_amp * np.sin(p) - (0.15 if running else 0.0)
        a[:, _J[f"{side}_shoulder"], 2] = sign * _u(rng, 0.12, 0.25)
        a[:, _J[f"{side}_elbow"], 1] = -sign * (elbow + 0.25 * arm_amp * (1 + np.sin(p + math.pi)))
    for name in ("spine1", "spine2", "spine3"):
        a[:, _J[name], 0] = lean / 3
        a[:, _J[name], 1] = -0.05 * np.sin(phi)  # counter-rotation of the trunk
    a[:, _J["neck"], 0] = -lean / 2  # keep the gaze level
    _upper_body_idle(rng, T, fps, a, 0.1)
    pelvis_yaw = 0.08 * np.sin(phi)
    turn_rate = _u(rng, -0.35, 0.35)  # rad/s: curved paths
    heading = _u(rng, 0, 2 * math.pi) + turn_rate * t + pelvis_yaw
    lift = np.zeros(T)
    if running:  # flight phase twice per stride
        lift = _u(rng, 0.03, 0.08) * np.maximum(0.0, np.sin(2 * phi + 1.2)) ** 2
    return Motion(
        family="run" if running else "walk", angles=a, heading=heading, pitch=_constant(T, 0.05 if running else 0.0),
        roll=0.03 * np.sin(phi), lift=lift, drift=np.zeros((T, 3)),
    )  # fmt: skip


def walk(rng: np.random.Generator, T: int, fps: float) -> Motion:
    """Walking gaits: stride 0.75–1.05 Hz, varied step length, arm swing, lean and curvature."""
    return _gait(rng, T, fps, running=False)


def run(rng: np.random.Generator, T: int, fps: float) -> Motion:
    """Running/jogging: stride 1.25–1.6 Hz, bent elbows, forward lean, short flight phases."""
    return _gait(rng, T, fps, running=True)


def arms(rng: np.random.Generator, T: int, fps: float) -> Motion:
    """Standing arm motions and reaching: smooth random arm poses over the whole arm range,
    trunk bending towards the reach, small weight shifts in the legs."""
    a = _zeros(T)
    for side in ("left", "right"):
        for joint, scale in (("shoulder", 1.0), ("elbow", 1.0), ("wrist", 0.7), ("collar", 0.8)):
            lim = JOINT_LIMITS[_J[f"{side}_{joint}"]]
            a[:, _J[f"{side}_{joint}"]] = _random_keys(rng, T, fps, (0.5, 1.3), scale * lim[:, 0], scale * lim[:, 1])
    _upper_body_idle(rng, T, fps, a, 0.6)
    shift = _random_keys(rng, T, fps, (0.8, 2.0), np.array(-0.08), np.array(0.08))
    a[:, _J["left_hip"], 2] += shift
    a[:, _J["right_hip"], 2] += shift
    for side in ("left", "right"):
        knee = _random_keys(rng, T, fps, (0.8, 2.0), np.array(0.0), np.array(0.35))
        a[:, _J[f"{side}_knee"], 0] = knee
        a[:, _J[f"{side}_hip"], 0] = -0.5 * knee
    heading = _constant(T, _u(rng, 0, 2 * math.pi)) + _random_keys(rng, T, fps, (1.0, 2.5), np.array(-0.3), np.array(0.3))
    return Motion("arms", a, heading, _constant(T), _constant(T), np.zeros(T), np.zeros((T, 3)))


def squat(rng: np.random.Generator, T: int, fps: float) -> Motion:
    """Repeated squats of varied depth and tempo, arms forward for balance."""
    t = np.arange(T) / fps
    period, depth = _u(rng, 1.6, 3.2), _u(rng, 0.45, 1.0)
    s = depth * 0.5 * (1 - np.cos(2 * math.pi * t / period + _u(rng, 0, 2 * math.pi)))
    a = _zeros(T)
    for side in ("left", "right"):
        sign = 1.0 if side == "left" else -1.0
        a[:, _J[f"{side}_hip"], 0] = -1.7 * s
        a[:, _J[f"{side}_hip"], 2] = sign * (0.1 + 0.15 * s)
        a[:, _J[f"{side}_knee"], 0] = 2.1 * s
        a[:, _J[f"{side}_ankle"], 0] = -0.4 * s
        a[:, _J[f"{side}_shoulder"], 0] = -1.4 * s * _u(rng, 0.3, 1.0)
        a[:, _J[f"{side}_shoulder"], 2] = sign * 0.15
        a[:, _J[f"{side}_elbow"], 1] = -sign * _u(rng, 0.1, 0.8)
    for name in ("spine1", "spine2", "spine3"):
        a[:, _J[name], 0] = 0.15 * s
    _upper_body_idle(rng, T, fps, a, 0.15)
    # Squatting keeps the shins and trunk roughly parallel: lean the pelvis forward.
    return Motion("squat", a, _constant(T, _u(rng, 0, 2 * math.pi)), 0.35 * s, _constant(T), np.zeros(T), np.zeros((T, 3)))


def lunge(rng: np.random.Generator, T: int, fps: float) -> Motion:
    """Alternating forward lunges: front hip and knee flexed, back knee towards the floor."""
    t = np.arange(T) / fps
    period = _u(rng, 2.0, 3.5)  # one lunge per period, legs alternate
    phase = 2 * math.pi * t / period + _u(rng, 0, 2 * math.pi)
    s = 0.5 * (1 - np.cos(2 * phase))  # depth, twice per period (one per leg)
    front_left = np.sin(phase) > 0
    depth = _u(rng, 0.6, 1.0)
    a = _zeros(T)
    for side, front in (("left", front_left), ("right", ~front_left)):
        sign = 1.0 if side == "left" else -1.0
        hip_front, hip_back = -1.3 * depth * s, 0.35 * depth * s
        a[:, _J[f"{side}_hip"], 0] = np.where(front, hip_front, hip_back)
        a[:, _J[f"{side}_knee"], 0] = 1.5 * depth * s
        a[:, _J[f"{side}_ankle"], 0] = np.where(front, -0.25 * s, 0.6 * s)
        a[:, _J[f"{side}_hip"], 2] = sign * 0.06
    _relaxed_arms(rng, a)
    _upper_body_idle(rng, T, fps, a, 0.2)
    return Motion("lunge", a, _constant(T, _u(rng, 0, 2 * math.pi)), _constant(T), _constant(T), np.zeros(T), np.zeros((T, 3)))


def jump(rng: np.random.Generator, T: int, fps: float) -> Motion:
    """Vertical jumps: crouch, take-off with an arm swing, flight (parabola), landing."""
    t = np.arange(T) / fps
    period, height = _u(rng, 1.0, 1.6), _u(rng, 0.08, 0.4)
    u = (t / period + _u(rng, 0, 1)) % 1.0  # cycle position
    flight = (u >= 0.45) & (u < 0.75)
    v = np.clip((u - 0.45) / 0.3, 0.0, 1.0)
    lift = np.where(flight, 4 * height * v * (1 - v), 0.0)
    # Crouch depth: down before take-off, extended in flight, absorbing after landing.
    crouch = np.where(u < 0.45, np.sin(np.pi * np.clip(u / 0.45, 0, 1)) ** 2, 0.0)
    crouch = crouch + np.where(u >= 0.75, np.sin(np.pi * np.clip((u - 0.75) / 0.25, 0, 1)) ** 2 * 0.6, 0.0)
    depth = _u(rng, 0.4, 0.8)
    a = _zeros(T)
    for side in ("left", "right"):
        sign = 1.0 if side == "left" else -1.0
        a[:, _J[f"{side}_hip"], 0] = -1.4 * depth * crouch
        a[:, _J[f"{side}_knee"], 0] = 1.8 * depth * crouch
        a[:, _J[f"{side}_ankle"], 0] = 0.5 * np.sin(np.pi * v) * flight - 0.35 * crouch  # toes point in flight
        a[:, _J[f"{side}_hip"], 2] = sign * 0.08
        # Arms swing back in the crouch (u < 0.3), forward and up through take-off
        # (0.3-0.6), down again by the end of the cycle; continuous at every boundary.
        arm = np.where(
            u < 0.3,
            0.6 * np.sin(np.pi * u / 0.3) ** 2,
            np.where(u < 0.6, -2.2 * np.sin(0.5 * np.pi * (u - 0.3) / 0.3) ** 2,
                     -2.2 * np.cos(0.5 * np.pi * (u - 0.6) / 0.4) ** 2),
        )  # fmt: skip
        a[:, _J[f"{side}_shoulder"], 0] = arm
        a[:, _J[f"{side}_shoulder"], 2] = sign * 0.2
        a[:, _J[f"{side}_elbow"], 1] = -sign * 0.3
    for name in ("spine1", "spine2", "spine3"):
        a[:, _J[name], 0] = 0.12 * crouch
    _upper_body_idle(rng, T, fps, a, 0.1)
    pitch = 0.3 * depth * crouch
    return Motion("jump", a, _constant(T, _u(rng, 0, 2 * math.pi)), pitch, _constant(T), lift, np.zeros((T, 3)))


def turn(rng: np.random.Generator, T: int, fps: float) -> Motion:
    """Turning on the spot or while stepping: heading sweeps 90–360° with small steps,
    the head leads the turn."""
    m = _gait(rng, T, fps, running=False, stride_hz=_u(rng, 0.8, 1.1))
    a = m.angles
    # Small steps: shrink the leg swing around the gait's mean.
    for name in ("left_hip", "right_hip", "left_knee", "right_knee"):
        a[:, _J[name], 0] = 0.35 * (a[:, _J[name], 0] - a[:, _J[name], 0].mean()) + a[:, _J[name], 0].mean() * 0.6
    t = np.arange(T) / fps
    # Real-time turning: a turn of 90-360 deg at 1-3 rad/s peak, starting somewhere between
    # 1 s before and the end of the clip (short clips see part of a turn).
    total = _u(rng, math.pi / 2, 2 * math.pi) * (1 if rng.random() < 0.5 else -1)
    turn_time = abs(total) / _u(rng, 1.0, 3.0) * 1.5  # smoothstep peaks at 1.5x the mean rate
    start = _u(rng, -turn_time, max(t[-1], 0.0))
    progress = _smoothstep((t - start) / turn_time)
    heading = _u(rng, 0, 2 * math.pi) + total * progress
    lead = np.gradient(progress) * fps * total * 0.15  # head turns ahead of the body
    a[:, _J["head"], 1] = np.clip(a[:, _J["head"], 1] + lead, *JOINT_LIMITS[_J["head"], 1])
    return Motion("turn", a, heading, m.pitch, m.roll, np.zeros(T), np.zeros((T, 3)))


def sit(rng: np.random.Generator, T: int, fps: float) -> Motion:
    """Sitting down, sitting (on an invisible seat) with upper-body motion, standing up."""
    s = _hold_and_move(rng, T, fps, hold=(0.5, 3.0), move=(1.0, 2.0))
    a = _zeros(T)
    seat = _u(rng, 0.75, 1.0)
    for side in ("left", "right"):
        sign = 1.0 if side == "left" else -1.0
        a[:, _J[f"{side}_hip"], 0] = -1.55 * seat * s
        a[:, _J[f"{side}_hip"], 2] = sign * (0.05 + 0.15 * s * _u(rng, 0, 1))
        a[:, _J[f"{side}_knee"], 0] = 1.55 * seat * s
        for joint in ("shoulder", "elbow"):
            lim = JOINT_LIMITS[_J[f"{side}_{joint}"]]
            a[:, _J[f"{side}_{joint}"]] = _random_keys(rng, T, fps, (0.8, 2.0), 0.4 * lim[:, 0], 0.4 * lim[:, 1])
        a[:, _J[f"{side}_shoulder"], 2] += sign * 0.15
    # Lean forward while getting up or down (the transition), upright when seated.
    transition = np.sin(np.pi * np.clip(s, 0, 1))
    _upper_body_idle(rng, T, fps, a, 0.3)
    pitch = 0.5 * transition
    return Motion("sit", a, _constant(T, _u(rng, 0, 2 * math.pi)), pitch, _constant(T), np.zeros(T), np.zeros((T, 3)))


def random_motion(rng: np.random.Generator, T: int, fps: float) -> Motion:
    """Smooth random keyframe motion of every joint within its limits (narrowed towards the
    rest pose by a random amount), random heading changes and a slow drift."""
    amount = _u(rng, 0.25, 0.6)
    lim = JOINT_LIMITS
    neutral = np.clip(0.0, lim[..., 0], lim[..., 1])  # [24, 3]
    low = neutral + amount * (lim[..., 0] - neutral)
    high = neutral + amount * (lim[..., 1] - neutral)
    a = _random_keys(rng, T, fps, (0.4, 1.0), low, high)  # [T, 24, 3]
    a[:, 0] = 0.0
    # Arms hang away from the body on average (avoid the arm-through-hip pose).
    a[:, _J["left_shoulder"], 2] = np.clip(a[:, _J["left_shoulder"], 2] + 0.15, *lim[_J["left_shoulder"], 2])
    a[:, _J["right_shoulder"], 2] = np.clip(a[:, _J["right_shoulder"], 2] - 0.15, *lim[_J["right_shoulder"], 2])
    heading = _u(rng, 0, 2 * math.pi) + _random_keys(rng, T, fps, (0.8, 2.0), np.array(-1.0), np.array(1.0))
    pitch = _random_keys(rng, T, fps, (0.8, 2.0), np.array(-0.1), np.array(0.3))
    roll = _random_keys(rng, T, fps, (0.8, 2.0), np.array(-0.1), np.array(0.1))
    drift = np.zeros((T, 3))
    drift[:, [0, 2]] = _random_keys(rng, T, fps, (1.0, 2.0), np.full(2, -0.5), np.full(2, 0.5))
    drift -= drift[:1]
    return Motion("random", a, heading, pitch, roll, np.zeros(T), drift)


MotionFn = Callable[[np.random.Generator, int, float], Motion]

#: Motion families by name; the engine samples among a chosen subset.
FAMILIES: dict[str, MotionFn] = {
    "walk": walk,
    "run": run,
    "arms": arms,
    "squat": squat,
    "lunge": lunge,
    "jump": jump,
    "turn": turn,
    "sit": sit,
    "random": random_motion,
}


def generate_motion(family: str, rng: np.random.Generator, num_frames: int, fps: float = 30.0) -> Motion:
    """One motion of ``family``, ``num_frames`` long, with angles clamped to the limits.

    Args:
        family: a key of :data:`FAMILIES`.
        rng: the clip's random stream.
        num_frames: ``T >= 1``.
        fps: frames per second (motion speeds are in real time).
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown motion family {family!r}; choose from {sorted(FAMILIES)}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    motion = FAMILIES[family](rng, num_frames, float(fps))
    lim = JOINT_LIMITS
    motion.angles = np.clip(motion.angles, lim[..., 0], lim[..., 1])
    motion.angles[:, 0] = 0.0
    return motion
