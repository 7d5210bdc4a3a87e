"""Per-frame Wavefront OBJ export: one ``frame_NNNNNN.obj`` (vertices + triangles) per frame.

Unlike the glTF and BVH exports, the vertices come from the full body model (pose blend
shapes and every skinning weight included), so each file is exactly the model's mesh.
Frames without a person get no file. Axes: ``"y_up"`` (default; the glTF/BVH frame: the
camera frame rotated 180 degrees about x) or ``"camera"`` (OpenCV, x right, y down,
z forward, ready to project with the intrinsics of result.npz). Metres.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from diffmesh.body import BodyModel
from diffmesh.io.motion import CAMERA_TO_Y_UP, atomic_write, prepare_motion

logger = logging.getLogger(__name__)

__all__ = ["write_obj_sequence", "format_obj", "OBJ_NAME_PATTERN"]

#: File name of frame ``frame_index`` in the output folder.
OBJ_NAME_PATTERN = "frame_{:06d}.obj"

# Frames posed per body-model call: bounds memory to chunk x V x 3 floats.
_CHUNK = 64


def format_obj(vertices: np.ndarray, faces: np.ndarray, comment: str = "") -> str:
    """OBJ text of one mesh.

    Args:
        vertices: ``[V, 3]`` positions (metres).
        faces: ``[F, 3]`` zero-based triangle vertex indices (written one-based).
        comment: optional first-line comment.
    """
    header = f"# {comment}\n" if comment else ""
    return header + _format_vertices(vertices) + _format_faces(faces)


def _format_vertices(vertices: np.ndarray) -> str:
    # One %-format over the whole array is ~10x faster than np.savetxt's per-row loop.
    vertices = np.asarray(vertices, dtype=np.float64) + 0.0  # + 0.0 turns -0.0 into 0.0
    return ("v %.6f %.6f %.6f\n" * len(vertices)) % tuple(vertices.ravel().tolist())


def _format_faces(faces: np.ndarray) -> str:
    faces = np.asarray(faces, dtype=np.int64) + 1  # OBJ indices are one-based
    return ("f %d %d %d\n" * len(faces)) % tuple(faces.ravel().tolist())


def write_obj_sequence(
    folder: str | os.PathLike[str],
    body_model: BodyModel,
    *,
    rotmats: Any,
    transl: Any,
    betas: Any,
    valid: Any | None = None,
    frame_indices: Any | None = None,
    axes: Literal["y_up", "camera"] = "y_up",
) -> list[Path]:
    """Write ``folder/frame_NNNNNN.obj`` for every valid frame, each atomically.

    Args:
        folder: output folder, created if missing (its parent must exist).
        body_model, rotmats, transl, betas, valid, frame_indices: the motion, as
            :func:`~diffmesh.io.motion.prepare_motion` takes them, except that per-frame
            ``[T, S]`` betas are used per frame, frames without a person are skipped and
            ``frame_indices`` name the files.
        axes: ``"y_up"`` (the glTF/BVH frame) or ``"camera"``.

    Returns:
        The written paths, in frame order.
    """
    if axes not in ("y_up", "camera"):
        raise ValueError(f"axes must be 'y_up' or 'camera', got {axes!r}")
    # fps does not matter for OBJ; prepare_motion validates everything else.
    motion = prepare_motion(
        body_model, rotmats=rotmats, transl=transl, betas=betas, fps=1.0, valid=valid, frame_indices=frame_indices
    )
    folder = Path(folder)
    if not folder.parent.is_dir():
        raise FileNotFoundError(f"the parent of the OBJ folder {folder} does not exist; create it first")
    folder.mkdir(exist_ok=True)

    betas_all = np.asarray(betas.detach().cpu() if isinstance(betas, torch.Tensor) else betas, dtype=np.float64)
    per_frame_betas = betas_all.ndim == 2 and betas_all.shape[0] == motion.num_frames and motion.num_frames > 1
    faces_text = _format_faces(body_model.faces.detach().cpu().numpy())  # the same in every file
    dtype = body_model.v_template.dtype
    device = body_model.v_template.device
    frames = np.flatnonzero(motion.valid)
    paths: list[Path] = []
    for start in range(0, frames.size, _CHUNK):
        idx = frames[start : start + _CHUNK]
        R = torch.as_tensor(motion.rotmats[idx], dtype=dtype, device=device)  # [n, 24, 3, 3]
        b = betas_all[idx] if per_frame_betas else motion.betas[None]
        with torch.no_grad():  # export only: no graph
            out = body_model(
                torch.as_tensor(b, dtype=dtype, device=device),
                R[:, 1:],
                R[:, :1],
                torch.as_tensor(motion.transl[idx], dtype=dtype, device=device),
            )
        verts = out.vertices.cpu().double().numpy()  # [n, V, 3] camera frame
        if axes == "y_up":
            verts = verts @ CAMERA_TO_Y_UP.T
        for k, t in enumerate(idx):
            frame = int(motion.frame_indices[t])
            header = f"# diffmesh frame {frame}, axes {axes}, metres\n"
            text = (header + _format_vertices(verts[k]) + faces_text).encode("ascii")
            paths.append(
                atomic_write(folder / OBJ_NAME_PATTERN.format(frame), lambda file, text=text: file.write(text))
            )
    logger.debug("OBJ: wrote %d files to %s", len(paths), folder)
    return paths
