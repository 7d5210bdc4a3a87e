"""``result.npz``: the self-describing per-frame result of the video pipeline.

Everything a user needs to read the file is stored in it: joint names, units, the
coordinate frame, the rotation convention, the schema version and a JSON ``schema`` that
describes every key. Strings are numpy unicode arrays, so the file loads with
``np.load(path, allow_pickle=False)``. :data:`RESULT_FIELDS` is the schema; docs/outputs.md
documents it for people and a test keeps the two in step.
"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diffmesh.conventions import H36M_JOINTS, NUM_H36M_JOINTS, NUM_SMPL_JOINTS, SMPL_JOINTS, SMPL_PARENTS
from diffmesh.geometry.rotations import rotmat_to_axis_angle
from diffmesh.io.motion import as_numpy, atomic_write

logger = logging.getLogger(__name__)

#: Frames whose rotations are turned into axis-angle at once (in float64) when writing.
_CHUNK_FRAMES = 4096

__all__ = [
    "RESULT_FIELDS",
    "RESULT_FORMAT",
    "SCHEMA_VERSION",
    "WORLD_FRAME",
    "WORLD_KEYS",
    "ResultField",
    "read_result",
    "write_result_npz",
]

#: Value of the ``format`` key.
RESULT_FORMAT = "diffmesh.result"
#: Bumped when a key changes meaning or shape; readers accept this version and older ones.
SCHEMA_VERSION = 2  # 2: the optional world-frame keys (WORLD_KEYS)

COORDINATE_FRAME = "camera (OpenCV): origin at the camera centre, x right, y down, z forward (into the scene); metres"
UNITS = "lengths in metres, angles in radians, image coordinates in pixels, time in seconds"
ROTATION_CONVENTION = (
    "R @ v rotates column vectors; pose_rotmat[:, j] is joint j's rotation relative to its parent "
    "(smpl_parents), pose_rotmat[:, 0] the global orientation in the camera frame; axis-angle = "
    "unit axis * angle; body-model vertices + transl = camera-frame mesh"
)


@dataclass(frozen=True)
class ResultField:
    """One key of result.npz.

    Attributes:
        kind: numpy dtype kind(s) accepted on read: ``"f"`` float, ``"i"`` integer, ``"b"``
            bool, ``"U"`` unicode.
        shape: dimensions; ints are fixed, ``"T"`` frames, ``"S"`` shape coefficients.
        units: unit of the values (``""`` when none).
        description: meaning, frame and conventions.
        required: ``False`` for keys a writer may leave out.
    """

    kind: str
    shape: tuple[int | str, ...]
    units: str
    description: str
    required: bool = True

    def shape_text(self) -> str:
        return "[" + ", ".join(str(s) for s in self.shape) + "]"


J, H = NUM_SMPL_JOINTS, NUM_H36M_JOINTS
#: The schema of result.npz, schema version :data:`SCHEMA_VERSION`.
RESULT_FIELDS: dict[str, ResultField] = {
    "format": ResultField("U", (), "", f"always {RESULT_FORMAT!r}"),
    "schema_version": ResultField("i", (), "", "schema version of this file (int64)"),
    "schema": ResultField("U", (), "", "JSON object: for every key its dtype, shape, units and description"),
    "diffmesh_version": ResultField("U", (), "", "version of the diffmesh package that wrote the file"),
    "model": ResultField("U", (), "", "network that produced the poses (registry name or checkpoint/config)"),
    "weights": ResultField("U", (), "", "weights used (file, checksum or 'untrained')"),
    "body_model": ResultField("U", (), "", "body model used ('open', or the SMPL file/folder)"),
    "units": ResultField("U", (), "", "units of every quantity in this file"),
    "coordinate_frame": ResultField("U", (), "", "the camera frame all 3-D quantities are in"),
    "rotation_convention": ResultField("U", (), "", "how pose_rotmat / axis-angle are to be applied"),
    "fps": ResultField("f", (), "frames/s", "frame rate of the video"),
    "frame_indices": ResultField("i", ("T",), "frames", "index of each row in the video (0 = first frame)"),
    "valid": ResultField("b", ("T",), "", "False where no person was found; other keys hold placeholders there"),
    "pose_rotmat": ResultField(
        "f", ("T", J, 3, 3), "", "local joint rotations (SMPL order); [:, 0] global orientation, camera frame"
    ),
    "pose_axis_angle": ResultField("f", ("T", J, 3), "rad", "pose_rotmat as axis-angle"),
    "global_orient": ResultField(
        "f", ("T", 3), "rad", "= pose_axis_angle[:, 0]: global orientation, camera frame (smplx argument)"
    ),
    "body_pose": ResultField(
        "f", ("T", 3 * (J - 1)), "rad", "= pose_axis_angle[:, 1:] flattened: joints 1..23 (smplx argument)"
    ),
    "betas": ResultField("f", ("T", "S"), "", "shape coefficients of the body model, per frame"),
    "transl": ResultField(
        "f", ("T", 3), "m", "root translation, camera frame: body-model output + transl = camera-frame mesh"
    ),
    "K": ResultField("f", ("T", 3, 3), "px", "camera intrinsics per frame [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]"),
    "image_size": ResultField("i", (2,), "px", "(width, height) of the video frames", required=False),
    "track_id": ResultField("i", (), "", "the person's track id in a several-people run (--max-people > 1); absent for one person", required=False),
    "keypoint_fit_pct": ResultField("f", ("T",), "%", "per frame, the mean image distance between joints_3d_cam projected with K and the "
                                    "keypoints_2d of confidence >= 0.5, in % of the person's size in the image (NaN: no result or "
                                    "no sure keypoint); above 5 the frame fits poorly (summary.json's quality)", required=False),
    "keypoints_2d": ResultField(
        "f", ("T", H, 3), "px", "2-D keypoints (x, y, confidence in [0, 1]) in the order of joint_names"
    ),
    "joints_3d_cam": ResultField("f", ("T", H, 3), "m", "3-D joints in the camera frame, in the order of joint_names"),
    "joint_names": ResultField("U", (H,), "", "names of the 17 H36M joints of keypoints_2d and joints_3d_cam"),
    "smpl_joint_names": ResultField("U", (J,), "", "names of the 24 SMPL joints of pose_rotmat / pose_axis_angle"),
    "smpl_parents": ResultField("i", (J,), "", "parent of each SMPL joint (-1 for the root)"),
    # --- schema 2: the world frame (diffmesh.pipelines.world); absent with --no-world
    "world_frame": ResultField("U", (), "", "the world frame of the *_world keys", required=False),
    "camera_static": ResultField("b", (), "", "True: the camera was taken as not rotating (measured or --static-camera)", required=False),
    "floor_normal_cam": ResultField("f", ("T", 3), "", "unit up vector (against gravity) in each frame's camera frame", required=False),
    "floor_offset_cam": ResultField("f", ("T",), "m", "d with floor_normal_cam . X + d = 0 for camera-frame points X on the floor", required=False),
    "cam_to_world": ResultField("f", ("T", 4, 4), "m", "X_world = A[:3, :3] @ X_cam + A[:3, 3] (camera rotation measured, translation not)", required=False),
    "world_orient_rotmat": ResultField("f", ("T", 3, 3), "", "global orientation in the world frame (replaces pose_rotmat[:, 0])", required=False),
    "transl_world": ResultField("f", ("T", 3), "m", "root translation in the world frame, after the foot clean-up", required=False),
    "joints_3d_world": ResultField("f", ("T", H, 3), "m", "3-D joints in the world frame after the foot clean-up (order of joint_names)", required=False),
    "joints_3d_world_raw": ResultField("f", ("T", H, 3), "m", "joints_3d_world before the foot clean-up", required=False),
    "foot_contact": ResultField("b", ("T", 2), "", "(left, right) foot planted on the floor", required=False),
}
del J, H

#: The world-frame keys (all or none are written).
WORLD_KEYS: tuple[str, ...] = ("world_frame", "camera_static", "floor_normal_cam", "floor_offset_cam", "cam_to_world",
                               "world_orient_rotmat", "transl_world", "joints_3d_world", "joints_3d_world_raw",
                               "foot_contact")  # fmt: skip
WORLD_FRAME = ("gravity-aligned world: y up, floor at y = 0, origin on the floor below the first frame's root, "
               "z horizontal toward the first frame's camera, x = y cross z; metres")  # fmt: skip


def _schema_json() -> str:
    return json.dumps(
        {
            key: {
                "dtype": f.kind,
                "shape": f.shape_text(),
                "units": f.units,
                "description": f.description,
                "required": f.required,
            }
            for key, f in RESULT_FIELDS.items()
        },  # fmt: skip
        separators=(",", ":"),
    )


def _frames(x: Any, name: str, T: int, tail: tuple[int, ...], meaning: str) -> np.ndarray:
    a = as_numpy(x, name).astype(np.float32)
    if a.shape == tail and tail:  # one value for every frame
        a = np.broadcast_to(a, (T, *tail))
    if a.shape != (T, *tail):
        shown = ", ".join(str(s) for s in tail)
        raise ValueError(f"{name} must have shape [T={T}, {shown}] ({meaning}), got {list(a.shape)}")
    return a


def write_result_npz(
    path: str | os.PathLike[str],
    *,
    rotmats: Any,
    transl: Any,
    betas: Any,
    K: Any,
    keypoints_2d: Any,
    joints_3d_cam: Any,
    fps: float,
    frame_indices: Any | None = None,
    valid: Any | None = None,
    model: str,
    weights: str,
    body_model: str,
    image_size: tuple[int, int] | None = None,
    diffmesh_version: str | None = None,
    world: dict[str, Any] | None = None,
    track_id: int | None = None,
    keypoint_fit_pct: Any | None = None,
) -> Path:
    """Write ``result.npz`` atomically (schema: :data:`RESULT_FIELDS`, docs/outputs.md).

    Args:
        path: destination file (its folder must exist); ``.npz`` is not appended.
        rotmats: ``[T, 24, 3, 3]`` local joint rotations, index 0 = global orientation in
            the camera frame.
        transl: ``[T, 3]`` root translation, metres, camera frame.
        betas: ``[T, S]`` or ``[S]`` (same for every frame) shape coefficients.
        K: ``[3, 3]`` or ``[T, 3, 3]`` camera intrinsics in pixels.
        keypoints_2d: ``[T, 17, 3]`` H36M-order 2-D keypoints ``(x, y, confidence)``, pixels.
        joints_3d_cam: ``[T, 17, 3]`` H36M-order 3-D joints, metres, camera frame.
        fps: video frame rate.
        frame_indices: ``[T]`` increasing video frame indices (default ``0..T-1``).
        valid: ``[T]`` bool, ``False`` where no person was found (default: all True).
        model, weights, body_model: what produced the result (free text).
        image_size: optional ``(width, height)`` in pixels.
        diffmesh_version: defaults to the installed ``diffmesh.__version__``.
        world: optional world-frame arrays, keyed as in :data:`WORLD_KEYS` (all but
            ``world_frame``, which is filled in); per-frame keys may be given for every frame
            or, for the static-camera floor, once (``[3]``, scalar).
        track_id: the person's track id in a several-people run (the key is left out when ``None``).
        keypoint_fit_pct: optional ``[T]`` keypoint fit per frame
            (:func:`diffmesh.pipelines.quality.keypoint_fit_pct`).

    Returns:
        ``path``.
    """
    R = rotmats if isinstance(rotmats, np.ndarray) and rotmats.dtype in (np.float32, np.float64) else as_numpy(rotmats, "rotmats")
    if R.ndim != 4 or R.shape[1:] != (NUM_SMPL_JOINTS, 3, 3) or R.shape[0] == 0:
        raise ValueError(
            f"rotmats must have shape [T, 24, 3, 3] with T >= 1 (local SMPL joint rotations), got {list(R.shape)}"
        )
    T = R.shape[0]
    b = as_numpy(betas, "betas")
    if b.ndim == 1:
        b = np.broadcast_to(b, (T, b.shape[0]))
    if b.ndim != 2 or b.shape[0] != T:
        raise ValueError(f"betas must have shape [S] or [T={T}, S], got {list(b.shape)}")
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive finite number of frames per second, got {fps!r}")
    f = np.arange(T, dtype=np.int64) if frame_indices is None else as_numpy(frame_indices, "frame_indices", np.int64)
    v = np.ones(T, dtype=bool) if valid is None else as_numpy(valid, "valid", bool)
    for name, a in (("frame_indices", f), ("valid", v)):
        if a.shape != (T,):
            raise ValueError(f"{name} must have shape [T={T}], got {list(a.shape)}")
    if T > 1 and not (np.diff(f) > 0).all():
        raise ValueError(f"frame_indices must be strictly increasing, got {f[:10].tolist()}...")

    aa = np.empty((T, NUM_SMPL_JOINTS, 3), np.float32)  # from float64, a chunk at a time (no float64 copy of the whole video)
    for a in range(0, T, _CHUNK_FRAMES):
        aa[a : a + _CHUNK_FRAMES] = rotmat_to_axis_angle(torch.from_numpy(R[a : a + _CHUNK_FRAMES].astype(np.float64))).numpy()
    H = NUM_H36M_JOINTS
    from diffmesh import __version__

    data: dict[str, np.ndarray] = {
        "format": np.array(RESULT_FORMAT),
        "schema_version": np.array(SCHEMA_VERSION, dtype=np.int64),
        "schema": np.array(_schema_json()),
        "diffmesh_version": np.array(diffmesh_version or __version__),
        "model": np.array(str(model)),
        "weights": np.array(str(weights)),
        "body_model": np.array(str(body_model)),
        "units": np.array(UNITS),
        "coordinate_frame": np.array(COORDINATE_FRAME),
        "rotation_convention": np.array(ROTATION_CONVENTION),
        "fps": np.array(float(fps), dtype=np.float64),
        "frame_indices": f,
        "valid": v,
        "pose_rotmat": R.astype(np.float32),
        "pose_axis_angle": aa,
        "global_orient": aa[:, 0].copy(),
        "body_pose": aa[:, 1:].reshape(T, -1),  # [T, 23, 3] -> [T, 69]
        "betas": b.astype(np.float32),
        "transl": _frames(transl, "transl", T, (3,), "root translation, metres, camera frame"),
        "K": _frames(K, "K", T, (3, 3), "pixel intrinsics"),
        "keypoints_2d": _frames(keypoints_2d, "keypoints_2d", T, (H, 3), "H36M x, y, confidence"),
        "joints_3d_cam": _frames(joints_3d_cam, "joints_3d_cam", T, (H, 3), "H36M joints, metres, camera frame"),
        "joint_names": np.array(H36M_JOINTS),
        "smpl_joint_names": np.array(SMPL_JOINTS),
        "smpl_parents": np.array(SMPL_PARENTS, dtype=np.int64),
    }  # fmt: skip
    if image_size is not None:
        data["image_size"] = as_numpy(image_size, "image_size", np.int64)
    if track_id is not None:
        data["track_id"] = np.array(int(track_id), dtype=np.int64)
    if keypoint_fit_pct is not None:
        data["keypoint_fit_pct"] = _frames(keypoint_fit_pct, "keypoint_fit_pct", T, (), "% of the person's size per frame")
    if world is not None:
        data.update(_world_arrays(world, T))
    _validate(data, source="the arrays to write")
    logger.debug("result.npz: %d frames (%d without a person) -> %s", T, int((~v).sum()), path)
    return atomic_write(path, lambda file: np.savez_compressed(file, **data))


def _world_arrays(world: dict[str, Any], T: int) -> dict[str, np.ndarray]:
    missing = [k for k in WORLD_KEYS if k != "world_frame" and k not in world]
    if missing:
        raise ValueError(f"world is missing the keys {missing}; pass all of {list(WORLD_KEYS[1:])} or world=None")
    out: dict[str, np.ndarray] = {"world_frame": np.array(WORLD_FRAME),
                                  "camera_static": np.array(bool(world["camera_static"]))}  # fmt: skip
    for key in WORLD_KEYS[2:]:
        field = RESULT_FIELDS[key]
        tail = tuple(int(d) for d in field.shape[1:])
        if field.kind == "b":
            a = as_numpy(world[key], key, bool)
            out[key] = np.broadcast_to(a, (T, *tail)).copy() if a.shape == tail else a
        else:
            a = as_numpy(world[key], key).astype(np.float32)
            out[key] = np.broadcast_to(a, (T, *tail)).copy() if a.shape == tail else a
    return out


def _validate(data: dict[str, np.ndarray], source: str) -> None:
    """Check keys, dtypes and shapes against :data:`RESULT_FIELDS`; errors name the key."""
    fmt = data.get("format")
    if fmt is None or fmt.dtype.kind != "U" or str(fmt) != RESULT_FORMAT:
        raise ValueError(
            f"{source}: key 'format' is {None if fmt is None else str(fmt)!r}, expected {RESULT_FORMAT!r}; "
            "not a diffmesh result file"
        )
    version = data.get("schema_version")
    if version is None or version.dtype.kind != "i" or version.ndim != 0:
        raise ValueError(f"{source}: key 'schema_version' must be an int64 scalar, got {version!r}")
    if int(version) > SCHEMA_VERSION:
        raise ValueError(
            f"{source}: key 'schema_version' is {int(version)}, newer than this diffmesh reads ({SCHEMA_VERSION}); "
            "upgrade diffmesh"
        )
    missing = [k for k, field in RESULT_FIELDS.items() if field.required and k not in data]
    if missing:
        raise ValueError(
            f"{source} is missing the result.npz keys {missing}; it is not a complete diffmesh result "
            f"(schema v{SCHEMA_VERSION}, see docs/outputs.md)"
        )
    sizes: dict[str, int] = {
        "T": int(np.shape(data["frame_indices"])[0]) if np.ndim(data["frame_indices"]) == 1 else -1
    }
    for key, field in RESULT_FIELDS.items():
        if key not in data:
            continue
        a = data[key]
        if a.dtype.kind not in field.kind:
            raise ValueError(
                f"{source}: key {key!r} has dtype {a.dtype}, expected kind {field.kind!r} ({field.description})"
            )
        ok = a.ndim == len(field.shape)
        for dim, want in zip(a.shape, field.shape):
            if isinstance(want, str):
                want = sizes.setdefault(want, dim)
            ok = ok and dim == want
        if not ok:
            shown = field.shape_text().replace("T", f"T={sizes.get('T')}")
            raise ValueError(f"{source}: key {key!r} has shape {list(a.shape)}, expected {shown} ({field.description})")
    valid = data["valid"]
    for key in ("pose_rotmat", "transl", "betas"):
        rows = data[key][valid].reshape(int(valid.sum()), -1)
        if not np.isfinite(rows).all():
            frame = int(data["frame_indices"][valid][np.argmax(~np.isfinite(rows).all(axis=1))])
            raise ValueError(f"{source}: key {key!r} has NaN/inf at valid frame {frame}; mark such frames valid=False")


def read_result(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a ``result.npz`` (any schema version up to :data:`SCHEMA_VERSION`).

    Loads with ``allow_pickle=False``. Scalar strings come back as ``str``, scalar numbers as
    ``int``/``float``, name lists as ``tuple[str, ...]``, everything else as numpy arrays;
    keys this version does not know are kept as they are.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not a result.npz or breaks the schema (the message names
            the key).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"result file {path} does not exist; `diffmesh infer VIDEO -o OUT` writes OUT/result.npz"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {key: npz[key] for key in npz.files}
    except ValueError as err:  # pickled objects, or not an .npz at all
        raise ValueError(f"{path} is not a diffmesh result.npz (which never holds pickled objects): {err}") from err
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path} is not a readable .npz file ({err}); was the run interrupted?") from err
    _validate(data, source=str(path))
    out: dict[str, Any] = {}
    for key, a in data.items():
        if a.ndim == 0:
            out[key] = str(a) if a.dtype.kind == "U" else a.item()
        elif a.dtype.kind == "U":
            out[key] = tuple(str(s) for s in a)
        else:
            out[key] = a
    return out
