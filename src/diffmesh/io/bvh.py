"""BVH (Biovision hierarchy) export of the SMPL skeleton animation.

Conventions (see docs/outputs.md):

* joints: the 24 :data:`diffmesh.conventions.SMPL_JOINTS`, hierarchy from the body model's
  ``parents``; children written in increasing joint index, so the MOTION columns follow
  this depth-first order (not the SMPL index order);
* axes: Y up, +Z toward the viewer, right-handed (the glTF frame; the camera frame is
  turned at the root by :data:`~diffmesh.io.motion.CAMERA_TO_Y_UP`); lengths in metres by
  default (``units="cm"`` multiplies every length by 100);
* OFFSETs: each joint's rest (T-pose) position relative to its parent for the subject's
  ``betas``; the root's OFFSET is zero and its position channels hold its absolute
  position, which every BVH reader (Blender included) interprets the same way;
* channels: ``Xposition Yposition Zposition Zrotation Xrotation Yrotation`` on the root,
  ``Zrotation Xrotation Yrotation`` elsewhere, degrees. A joint's local rotation is
  ``R = Rz(z) @ Rx(x) @ Ry(y)`` (intrinsic Z, then X, then Y), angles unwrapped over time;
* End Sites: after each leaf joint, half its bone length further along the bone
  (cosmetic: they only give leaf bones a length in viewers);
* frames without a person hold the last valid pose; ``Frame Time`` is ``step / fps`` for
  frame indices spaced by ``step``.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np

from diffmesh.body import BodyModel
from diffmesh.conventions import SMPL_JOINTS
from diffmesh.io.motion import PreparedMotion, atomic_write, prepare_motion

logger = logging.getLogger(__name__)

__all__ = ["write_bvh", "format_bvh", "format_skeleton_bvh", "rotmat_to_euler_zxy", "BVH_ROTATION_CHANNELS"]

#: Rotation channels of every joint, in the order they are composed (``Rz @ Rx @ Ry``).
BVH_ROTATION_CHANNELS: tuple[str, ...] = ("Zrotation", "Xrotation", "Yrotation")

_UNIT_SCALE = {"m": 1.0, "cm": 100.0}
# Decimals written: 1e-6 m / 1e-6 deg, far below any pose error (a 1e-6 deg error moves a
# joint 1 m away by 2e-8 m).
_DECIMALS = 6


def rotmat_to_euler_zxy(R: np.ndarray) -> np.ndarray:
    """Rotation matrices to intrinsic ZXY Euler angles ``(z, x, y)`` in radians.

    ``R = Rz(z) @ Rx(x) @ Ry(y)``, whose entries are ``R[2, 1] = sin x``,
    ``R[0, 1] = -sin z cos x``, ``R[1, 1] = cos z cos x``, ``R[2, 0] = -cos x sin y`` and
    ``R[2, 2] = cos x cos y``. At gimbal lock (``cos x ~ 0``) ``y`` is set to 0 and ``z``
    read from ``R[1, 0] = sin z``, ``R[0, 0] = cos z``.

    Args:
        R: ``[..., 3, 3]`` rotation matrices.

    Returns:
        ``[..., 3]`` angles ``(z, x, y)``, ``x`` in ``[-pi/2, pi/2]``.
    """
    R = np.asarray(R, dtype=np.float64)
    x = np.arcsin(np.clip(R[..., 2, 1], -1.0, 1.0))
    cos_x = np.sqrt(R[..., 0, 1] ** 2 + R[..., 1, 1] ** 2)
    locked = cos_x < 1e-9
    z = np.where(locked, np.arctan2(R[..., 1, 0], R[..., 0, 0]), np.arctan2(-R[..., 0, 1], R[..., 1, 1]))
    y = np.where(locked, 0.0, np.arctan2(-R[..., 2, 0], R[..., 2, 2]))
    return np.stack((z, x, y), axis=-1)


def _depth_first(children: list[list[int]], root: int = 0) -> list[int]:
    order: list[int] = []
    stack = [root]
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(reversed(children[j]))
    return order


def format_bvh(motion: PreparedMotion, units: Literal["m", "cm"] = "m") -> str:
    """The BVH text of ``motion`` (see the module docstring for every convention)."""
    steps = np.diff(motion.frame_indices)
    if steps.size and not (steps == steps[0]).all():
        raise ValueError(
            f"BVH needs evenly spaced frames, but frame_indices steps vary ({sorted(set(steps.tolist()))[:5]}); "
            "export contiguous frames (mark missing people with valid=False instead of dropping frames)"
        )
    frame_time = (int(steps[0]) if steps.size else 1) / motion.fps
    return format_skeleton_bvh(
        SMPL_JOINTS, motion.parents, motion.rest_offsets, motion.root_positions_y_up(), motion.local_rotmats_y_up(),
        frame_time, units,
    )  # fmt: skip


def format_skeleton_bvh(
    names: tuple[str, ...] | list[str],
    parents: tuple[int, ...] | list[int],
    rest_offsets: np.ndarray,
    root_positions: np.ndarray,
    local_rotmats: np.ndarray,
    frame_time: float,
    units: Literal["m", "cm"] = "m",
) -> str:
    """The BVH text of any skeleton animation, with this module's conventions (channels, End Sites).

    Args:
        names: ``[J]`` joint names; joint 0 is the root.
        parents: ``[J]`` parent of each joint (``-1`` for the root, parents before children).
        rest_offsets: ``[J, 3]`` each joint's rest position relative to its parent, metres
            (the root's is ignored: its OFFSET is zero).
        root_positions: ``[T, 3]`` root position per frame, metres.
        local_rotmats: ``[T, J, 3, 3]`` local rotations (root: global), already in the file's frame.
        frame_time: seconds per frame.
        units: ``"m"`` or ``"cm"`` for every length in the file.
    """
    if units not in _UNIT_SCALE:
        raise ValueError(f"units must be 'm' or 'cm', got {units!r}")
    scale = _UNIT_SCALE[units]
    children: list[list[int]] = [[] for _ in parents]
    for j, p in enumerate(parents):
        if p >= 0:
            children[p].append(j)
    order = _depth_first(children)
    offsets = np.asarray(rest_offsets, dtype=np.float64) * scale
    fmt = f"{{:.{_DECIMALS}f}}"

    def vec(v: np.ndarray) -> str:
        return " ".join(fmt.format(float(c) + 0.0) for c in v)  # + 0.0 turns -0.0 into 0.0

    out = io.StringIO()
    out.write("HIERARCHY\n")

    def write_joint(j: int, depth: int) -> None:
        pad = "\t" * depth
        if j == 0:
            out.write(f"ROOT {names[j]}\n{pad}{{\n")
            out.write(f"{pad}\tOFFSET {vec(np.zeros(3))}\n")
            out.write(f"{pad}\tCHANNELS 6 Xposition Yposition Zposition {' '.join(BVH_ROTATION_CHANNELS)}\n")
        else:
            out.write(f"{pad}JOINT {names[j]}\n{pad}{{\n")
            out.write(f"{pad}\tOFFSET {vec(offsets[j])}\n")
            out.write(f"{pad}\tCHANNELS 3 {' '.join(BVH_ROTATION_CHANNELS)}\n")
        for child in children[j]:
            write_joint(child, depth + 1)
        if not children[j]:
            out.write(f"{pad}\tEnd Site\n{pad}\t{{\n{pad}\t\tOFFSET {vec(0.5 * offsets[j])}\n{pad}\t}}\n")
        out.write(f"{pad}}}\n")

    write_joint(0, 0)

    euler_deg = np.degrees(np.unwrap(rotmat_to_euler_zxy(local_rotmats), axis=0))  # [T, J, 3]
    columns = [np.asarray(root_positions, dtype=np.float64) * scale] + [euler_deg[:, j] for j in order]  # [T, 3] each
    values = np.concatenate(columns, axis=1) + 0.0  # [T, 3 + 3 J]
    out.write(f"MOTION\nFrames: {len(values)}\nFrame Time: {frame_time:.10f}\n")
    np.savetxt(out, values, fmt=f"%.{_DECIMALS}f", delimiter=" ")
    return out.getvalue()


def write_bvh(
    path: str | os.PathLike[str],
    body_model: BodyModel,
    *,
    rotmats: Any,
    transl: Any,
    betas: Any,
    fps: float,
    valid: Any | None = None,
    frame_indices: Any | None = None,
    frame: str = "camera",
    units: Literal["m", "cm"] = "m",
) -> Path:
    """Write the skeleton animation as BVH (``motion.bvh``), atomically.

    Args:
        path: destination ``.bvh`` file (its folder must exist).
        body_model, rotmats, transl, betas, fps, valid, frame_indices, frame: the motion, as
            :func:`~diffmesh.io.motion.prepare_motion` takes them (camera frame or ``frame="world"``; frames
            without a person hold the last valid pose; the rest skeleton comes from the body
            model's ``J_regressor``). BVH has one frame time, so ``frame_indices`` must be
            evenly spaced.
        units: ``"m"`` (default) or ``"cm"`` for every length in the file.

    Returns:
        ``path``. Forward kinematics of the file gives ``CAMERA_TO_Y_UP @`` the body model's
        camera-frame joints (``frame="world"``: the world-frame joints; times 100 for ``units="cm"``).
    """
    motion = prepare_motion(
        body_model, rotmats=rotmats, transl=transl, betas=betas, fps=fps, valid=valid, frame_indices=frame_indices, frame=frame
    )
    text = format_bvh(motion, units=units).encode("ascii")
    logger.debug("BVH: %d frames, %d bytes -> %s", motion.num_frames, len(text), path)
    return atomic_write(path, lambda file: file.write(text))
