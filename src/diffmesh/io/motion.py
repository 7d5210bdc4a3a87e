"""What every animation export shares: input validation, the subject's rest skeleton, the
camera -> Y-up axis change, rotation conversions and atomic file writes.

The video pipeline describes a body per frame by SMPL-style *local* joint rotations
``rotmats [T, 24, 3, 3]`` (index 0 = global orientation, in the camera frame: x right,
y down, z forward, OpenCV) and a root translation ``transl [T, 3]`` (metres, camera frame):
``BodyModel(betas, rotmats[:, 1:], rotmats[:, :1], transl)`` is the camera-frame mesh.

Viewers (glTF) and animation tools (BVH) expect Y up with the viewer on +Z. The camera frame
maps to that frame by a 180-degree rotation about x, ``C = diag(1, -1, -1)``. Exports apply
``C`` at the skeleton root only, so every other joint keeps the model's local rotation:

    root rotation    R0_yup = C @ R0_cam
    root position    p0_yup = C @ (J0 + transl)           (J0: rest pelvis of this subject)
    joint positions  p_yup  = C @ p_cam                    (for every joint and vertex)

The rest (bind) pose is the body model's T-pose for the subject's ``betas``: an SMPL-format
template is already Y-up and faces +Z, so the rest pose stands upright in a viewer.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from diffmesh.body import BodyModel, blend_shapes, vertices_to_joints
from diffmesh.conventions import NUM_SMPL_JOINTS, SMPL_JOINTS

logger = logging.getLogger(__name__)

__all__ = [
    "CAMERA_TO_Y_UP",
    "PreparedMotion",
    "atomic_write",
    "make_sign_continuous",
    "prepare_motion",
    "rotmat_to_quaternion_xyzw",
    "as_numpy",
]

#: 180-degree rotation about x: OpenCV camera frame (y down, z forward) -> Y up, +Z toward
#: the viewer (glTF, BVH). It is its own inverse.
CAMERA_TO_Y_UP: np.ndarray = np.diag([1.0, -1.0, -1.0])
CAMERA_TO_Y_UP.setflags(write=False)

# A rotation matrix from a network is orthonormal to float32 rounding; anything further off
# is not a rotation (for example a 6-D output that was never Gram-Schmidt decoded).
_ORTHONORMAL_TOL = 1e-3


def as_numpy(x: Any, name: str, dtype: type = np.float64) -> np.ndarray:
    """A numpy copy of an array-like or tensor (detached, on the CPU), cast to ``dtype``."""
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float64 if dtype is np.float64 else None).numpy()
    try:
        return np.array(x, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{name} must be a numeric array convertible to {np.dtype(dtype)}, got {type(x).__name__}"
        ) from err


def _expect_shape(x: np.ndarray, expected: tuple[int | None, ...], name: str, meaning: str) -> None:
    if x.ndim != len(expected) or any(e is not None and e != s for e, s in zip(expected, x.shape)):
        shown = "[" + ", ".join("?" if e is None else str(e) for e in expected) + "]"
        raise ValueError(f"{name} must have shape {shown} ({meaning}), got {list(x.shape)}")


@dataclass(frozen=True)
class PreparedMotion:
    """A validated skeleton motion of one subject, ready to write (float64, metres, seconds).

    Attributes:
        rotmats: ``[T, 24, 3, 3]`` local joint rotations, index 0 = global orientation in the
            camera frame. Frames without a person hold the nearest earlier valid pose (the
            first valid pose before the first valid frame).
        transl: ``[T, 3]`` root translation, camera frame, held like ``rotmats``.
        valid: ``[T]`` bool, ``False`` for frames without a person.
        frame_indices: ``[T]`` int64 video frame indices, strictly increasing.
        fps: video frame rate (frames per second).
        betas: ``[S]`` the subject's shape coefficients used for the rest pose.
        rest_vertices: ``[V, 3]`` T-pose mesh of the subject (body-model frame, Y up).
        rest_joints: ``[24, 3]`` T-pose joints ``J_regressor @ rest_vertices``.
        parents: ``[24]`` parent joint of each joint, ``-1`` for the root.
        frame: ``"camera"``: ``rotmats[:, 0]`` and ``transl`` are in the camera frame and the
            exports turn them into the Y-up frame with :data:`CAMERA_TO_Y_UP`; ``"world"``: they
            are already in a Y-up world frame (``result.npz``'s ``*_world`` keys) and are kept.
    """

    rotmats: np.ndarray
    transl: np.ndarray
    valid: np.ndarray
    frame_indices: np.ndarray
    fps: float
    betas: np.ndarray
    rest_vertices: np.ndarray
    rest_joints: np.ndarray
    parents: tuple[int, ...]
    frame: str = "camera"

    @property
    def to_y_up(self) -> np.ndarray:
        """``[3, 3]`` the rotation from :attr:`frame` into the export frame."""
        return CAMERA_TO_Y_UP if self.frame == "camera" else np.eye(3)

    @property
    def num_frames(self) -> int:
        return self.rotmats.shape[0]

    @property
    def times(self) -> np.ndarray:
        """``[T]`` seconds from the first exported frame: ``(frame - frame_0) / fps``."""
        return (self.frame_indices - self.frame_indices[0]) / self.fps

    @property
    def rest_offsets(self) -> np.ndarray:
        """``[24, 3]`` each joint's rest position relative to its parent (root: its position)."""
        offsets = self.rest_joints.copy()
        parents = np.asarray(self.parents)
        offsets[1:] -= self.rest_joints[parents[1:]]
        return offsets

    def root_rotmats_y_up(self) -> np.ndarray:
        """``[T, 3, 3]`` global orientation in the Y-up export frame, ``C @ R0`` (``R0`` in the world frame)."""
        return self.to_y_up @ self.rotmats[:, 0]

    def root_positions_y_up(self) -> np.ndarray:
        """``[T, 3]`` pelvis position in the Y-up export frame, ``C @ (J0 + transl)`` (``J0 + transl`` in the world frame)."""
        return (self.rest_joints[0] + self.transl) @ self.to_y_up.T

    def local_rotmats_y_up(self) -> np.ndarray:
        """``[T, 24, 3, 3]`` local rotations with the root expressed in the Y-up frame."""
        out = self.rotmats.copy()
        out[:, 0] = self.root_rotmats_y_up()
        return out

    def children(self) -> list[list[int]]:
        """Children of each joint, in increasing index order."""
        kids: list[list[int]] = [[] for _ in self.parents]
        for j, p in enumerate(self.parents):
            if p >= 0:
                kids[p].append(j)
        return kids


def _hold_invalid(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Replace the rows of invalid frames by the nearest earlier valid row (or the first one)."""
    if valid.all():
        return x
    source = np.where(valid, np.arange(len(valid)), -1)
    source = np.maximum.accumulate(source)  # last valid frame at or before t, -1 before any
    source[source < 0] = int(np.argmax(valid))
    return x[source]


def prepare_motion(
    body_model: BodyModel,
    *,
    rotmats: Any,
    transl: Any,
    betas: Any,
    fps: float,
    valid: Any | None = None,
    frame_indices: Any | None = None,
    frame: str = "camera",
) -> PreparedMotion:
    """Validate a per-frame body motion and compute the subject's rest skeleton.

    Args:
        body_model: an SMPL-format :class:`~diffmesh.body.BodyModel` with 24 joints.
        rotmats: ``[T, 24, 3, 3]`` local joint rotations (index 0 = global orientation,
            camera frame). Numpy arrays or tensors.
        transl: ``[T, 3]`` root translation in metres, camera frame.
        betas: ``[S]``, ``[1, S]`` or per-frame ``[T, S]`` shape coefficients; per-frame
            betas are averaged over the valid frames (an export has one rest mesh).
        fps: frames per second of the video, > 0.
        valid: optional ``[T]`` bool, ``False`` where no person was found (default: all).
        frame_indices: optional ``[T]`` strictly increasing video frame indices
            (default ``0..T-1``).
        frame: ``"camera"`` (the default) or ``"world"``: ``rotmats[:, 0]`` and ``transl`` are
            already in a Y-up world frame (:attr:`PreparedMotion.frame`).

    Returns:
        :class:`PreparedMotion`; invalid frames hold the nearest earlier valid pose.
    """
    if not isinstance(body_model, BodyModel):
        raise ValueError(
            f"body_model must be a diffmesh.body.BodyModel, got {type(body_model).__name__}; "
            "load one with diffmesh.body.load('open') or diffmesh.body.load(path_to_smpl)"
        )
    if frame not in ("camera", "world"):
        raise ValueError(f"frame must be 'camera' or 'world' (Y up), got {frame!r}")
    if body_model.num_joints != NUM_SMPL_JOINTS:
        raise ValueError(f"exports need a 24-joint SMPL-format body model, got {body_model.num_joints} joints")
    R = as_numpy(rotmats, "rotmats")
    _expect_shape(R, (None, NUM_SMPL_JOINTS, 3, 3), "rotmats", "T frames x 24 SMPL joints x 3 x 3 local rotations")
    T = R.shape[0]
    if T == 0:
        raise ValueError("rotmats has 0 frames; an export needs at least one frame")
    t = as_numpy(transl, "transl")
    _expect_shape(t, (T, 3), "transl", "T frames x xyz root translation in metres, camera frame")
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive finite number of frames per second, got {fps!r}")

    if valid is None:
        v = np.ones(T, dtype=bool)
    else:
        v = as_numpy(valid, "valid", dtype=bool)
        _expect_shape(v, (T,), "valid", "one flag per frame, False where no person was found")
    if not v.any():
        raise ValueError("valid is False for every frame: there is no person to export")

    if frame_indices is None:
        f = np.arange(T, dtype=np.int64)
    else:
        f = as_numpy(frame_indices, "frame_indices", dtype=np.float64)
        _expect_shape(f, (T,), "frame_indices", "one video frame index per frame")
        if not np.array_equal(f, np.round(f)):
            raise ValueError(f"frame_indices must be integers, got {f[f != np.round(f)][:5].tolist()}")
        f = f.astype(np.int64)
        if T > 1 and not (np.diff(f) > 0).all():
            bad = int(np.argmax(np.diff(f) <= 0))
            raise ValueError(
                f"frame_indices must be strictly increasing, got {f[bad]} then {f[bad + 1]} at position {bad}"
            )

    # Only valid frames must hold real data; invalid ones may be NaN placeholders.
    bad_frames = np.flatnonzero(v & ~(np.isfinite(R).all(axis=(1, 2, 3)) & np.isfinite(t).all(axis=1)))
    if bad_frames.size:
        raise ValueError(
            f"rotmats/transl contain NaN or inf in valid frames {f[bad_frames][:10].tolist()}; "
            "mark frames without a person with valid=False"
        )
    Rv = R[v]
    eye = np.eye(3)
    err = np.abs(Rv.swapaxes(-1, -2) @ Rv - eye).max(axis=(-1, -2))  # [Tv, 24]
    det = np.linalg.det(Rv)
    bad = (err > _ORTHONORMAL_TOL) | (det <= 0)
    if bad.any():
        frame, joint = np.argwhere(bad)[0]
        raise ValueError(
            f"rotmats[{int(np.flatnonzero(v)[frame])}, {int(joint)}] ({SMPL_JOINTS[joint]}) is not a rotation "
            f"(|R^T R - I| = {err[frame, joint]:.2g}, det = {det[frame, joint]:.3g}); pass rotation "
            "matrices, e.g. MeshOutput.rotmats or diffmesh.geometry.rotations.rot6d_to_rotmat(pose6d)"
        )

    b = as_numpy(betas, "betas")
    if b.ndim == 2 and b.shape[0] == T and T > 1:
        b = b[v].mean(axis=0)  # one rest mesh per export: the subject's mean shape
        logger.debug("per-frame betas averaged over %d valid frames for the rest mesh", int(v.sum()))
    elif b.ndim == 2 and b.shape[0] == 1:
        b = b[0]
    if b.ndim != 1:
        raise ValueError(f"betas must have shape [S], [1, S] or [T={T}, S], got {list(b.shape)}")
    if not np.isfinite(b).all():
        raise ValueError("betas contain NaN or inf")

    rest_vertices, rest_joints = _rest_pose(body_model, b)
    return PreparedMotion(
        rotmats=_hold_invalid(R, v),
        transl=_hold_invalid(t, v),
        valid=v,
        frame_indices=f,
        fps=float(fps),
        betas=b,
        rest_vertices=rest_vertices,
        rest_joints=rest_joints,
        parents=tuple(int(p) for p in body_model.parents.tolist()),
        frame=frame,
    )


def _rest_pose(body_model: BodyModel, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The subject's T-pose: ``v = v_template + shapedirs . betas``, ``J = J_regressor @ v``.

    Computed in float64 (the body model's own functions, on double copies of its buffers)
    so that the export adds no rounding of its own. ``S > num_betas`` is truncated, as in
    :meth:`BodyModel.forward`.
    """
    num_used = min(betas.shape[0], body_model.num_betas)
    shapedirs = body_model.shapedirs[..., :num_used].detach().to("cpu", torch.float64)
    betas_t = torch.as_tensor(betas[None, :num_used], dtype=torch.float64)
    v_shaped = body_model.v_template.detach().to("cpu", torch.float64) + blend_shapes(betas_t, shapedirs)  # [1, V, 3]
    joints = vertices_to_joints(body_model.J_regressor.detach().to("cpu", torch.float64), v_shaped)  # [1, 24, 3]
    return v_shaped[0].numpy(), joints[0].numpy()


def rotmat_to_quaternion_xyzw(R: np.ndarray) -> np.ndarray:
    """Rotation matrices to unit quaternions in glTF order ``(x, y, z, w)``, ``w >= 0``.

    Shepperd's method: of the four algebraically equal formulas, use the one whose divisor
    (``4w``, ``4x``, ``4y`` or ``4z``) is largest, which is exact to rounding for any angle.

    Args:
        R: ``[..., 3, 3]`` rotation matrices (``R @ v`` rotates column vectors).

    Returns:
        ``[..., 4]`` float64 unit quaternions.
    """
    R = np.asarray(R, dtype=np.float64)
    m00, m11, m22 = R[..., 0, 0], R[..., 1, 1], R[..., 2, 2]
    trace = m00 + m11 + m22
    four_sq = np.stack((1.0 + trace, 1.0 + m00 - m11 - m22, 1.0 - m00 + m11 - m22, 1.0 - m00 - m11 + m22), axis=-1)
    case = np.argmax(four_sq, axis=-1)  # 4w^2, 4x^2, 4y^2, 4z^2: divide by the largest
    q = np.empty(R.shape[:-2] + (4,))
    with np.errstate(divide="ignore", invalid="ignore"):
        # case 0: w largest
        s = np.sqrt(np.maximum(trace + 1.0, 0.0)) * 2  # 4w
        q0 = np.stack(((R[..., 2, 1] - R[..., 1, 2]) / s, (R[..., 0, 2] - R[..., 2, 0]) / s,
                       (R[..., 1, 0] - R[..., 0, 1]) / s, 0.25 * s), axis=-1)  # fmt: skip
        s = np.sqrt(np.maximum(1.0 + m00 - m11 - m22, 0.0)) * 2  # 4x
        q1 = np.stack((0.25 * s, (R[..., 0, 1] + R[..., 1, 0]) / s,
                       (R[..., 0, 2] + R[..., 2, 0]) / s, (R[..., 2, 1] - R[..., 1, 2]) / s), axis=-1)  # fmt: skip
        s = np.sqrt(np.maximum(1.0 - m00 + m11 - m22, 0.0)) * 2  # 4y
        q2 = np.stack(((R[..., 0, 1] + R[..., 1, 0]) / s, 0.25 * s,
                       (R[..., 1, 2] + R[..., 2, 1]) / s, (R[..., 0, 2] - R[..., 2, 0]) / s), axis=-1)  # fmt: skip
        s = np.sqrt(np.maximum(1.0 - m00 - m11 + m22, 0.0)) * 2  # 4z
        q3 = np.stack(((R[..., 0, 2] + R[..., 2, 0]) / s, (R[..., 1, 2] + R[..., 2, 1]) / s,
                       0.25 * s, (R[..., 1, 0] - R[..., 0, 1]) / s), axis=-1)  # fmt: skip
    for k, qk in enumerate((q0, q1, q2, q3)):
        q[case == k] = qk[case == k]
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., 3:4] < 0, -q, q)


def make_sign_continuous(q: np.ndarray) -> np.ndarray:
    """Flip quaternion signs along time (axis 0) so consecutive keys have ``dot >= 0``.

    ``q`` and ``-q`` are the same rotation, but tools that interpolate quaternion components
    (Blender's F-curves) would swing through a full turn between keys of opposite sign.
    """
    if q.shape[0] < 2:
        return q
    dots = np.sum(q[1:] * q[:-1], axis=-1)  # [T-1, ...] on the original signs
    flips = np.concatenate((np.ones_like(dots[:1]), np.where(dots < 0, -1.0, 1.0)), axis=0)
    return q * np.cumprod(flips, axis=0)[..., None]


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> Path:
    """Write a file so that it either appears complete or not at all.

    ``write`` fills a temporary file in the same folder (``.NAME.XXXX.part``); only after it
    returns and the data is flushed to disk is the file renamed onto ``path`` (``os.replace``
    is atomic on one file system). If ``write`` raises, the temporary file is removed and
    any existing ``path`` is left untouched.

    Args:
        path: destination file; its folder must exist.
        write: called with the open binary temporary file.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"output folder {folder} does not exist; create it first (mkdir -p {folder})")
    try:
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".part")
    except PermissionError as err:
        raise PermissionError(
            f"cannot write {path}: the folder {folder} is not writable; choose another output folder"
        ) from err
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        # mkstemp creates the file as 0600; give it the usual permissions of a new file.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return path
