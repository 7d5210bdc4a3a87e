"""A small, independent BVH reader with forward kinematics, to check exported files.

Written from the BVH format description (Biovision; Meredith & Maddock 2001), not from the
writer: a joint's local transform is ``translate(OFFSET + position channels) @ rotations``,
where the rotation channels compose left to right in the order they are listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class BvhJoint:
    name: str
    parent: int  # -1 for the root
    offset: np.ndarray  # [3]
    channels: list[str] = field(default_factory=list)
    column: int = 0  # first column of this joint's channels in a MOTION row
    end_site: np.ndarray | None = None


@dataclass
class Bvh:
    joints: list[BvhJoint]
    frames: np.ndarray  # [T, C]
    frame_time: float

    def names(self) -> list[str]:
        return [j.name for j in self.joints]

    def world_positions(self, frame: int) -> np.ndarray:
        """``[J, 3]`` joint positions at ``frame``, in file order."""
        row = self.frames[frame]
        world: list[np.ndarray] = []
        for joint in self.joints:
            local = np.eye(4)
            translation = joint.offset.copy()
            rotation = np.eye(3)
            for k, channel in enumerate(joint.channels):
                value = row[joint.column + k]
                axis = "XYZ".index(channel[0])
                if channel.endswith("position"):
                    translation[axis] += value
                else:
                    rotation = rotation @ _axis_rotation(axis, np.radians(value))
            local[:3, :3] = rotation
            local[:3, 3] = translation
            world.append(local if joint.parent < 0 else world[joint.parent] @ local)
        return np.stack([w[:3, 3] for w in world])


def _axis_rotation(axis: int, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    R = np.eye(3)
    R[i, i], R[i, j], R[j, i], R[j, j] = c, -s, s, c
    return R


def read_bvh(path: Path) -> Bvh:
    tokens = Path(path).read_text().split()
    pos = 0

    def take() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    assert take() == "HIERARCHY"
    joints: list[BvhJoint] = []
    stack: list[int] = []
    column = 0
    while True:
        tok = take()
        if tok in ("ROOT", "JOINT"):
            joints.append(BvhJoint(take(), stack[-1] if stack else -1, np.zeros(3)))
            stack.append(len(joints) - 1)
            assert take() == "{"
        elif tok == "OFFSET":
            joints[stack[-1]].offset = np.array([float(take()) for _ in range(3)])
        elif tok == "CHANNELS":
            joint = joints[stack[-1]]
            joint.channels = [take() for _ in range(int(take()))]
            joint.column = column
            column += len(joint.channels)
        elif tok == "End":
            assert take() == "Site" and take() == "{" and take() == "OFFSET"
            joints[stack[-1]].end_site = np.array([float(take()) for _ in range(3)])
            assert take() == "}"
        elif tok == "}":
            stack.pop()
        elif tok == "MOTION":
            break
        else:
            raise ValueError(f"unexpected BVH token {tok!r}")
    assert not stack, "unbalanced braces"
    assert take() == "Frames:"
    num_frames = int(take())
    assert take() == "Frame" and take() == "Time:"
    frame_time = float(take())
    values = np.array([float(t) for t in tokens[pos:]])
    assert values.size == num_frames * column, (values.size, num_frames, column)
    return Bvh(joints, values.reshape(num_frames, column), frame_time)
