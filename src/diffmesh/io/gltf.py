"""Skinned, animated glTF 2.0 binary (``.glb``) export, written with numpy, json and struct.

The file holds (see docs/outputs.md):

* one mesh: the subject's T-pose (``POSITION``, ``NORMAL``, ``JOINTS_0``/``WEIGHTS_0`` = the
  four largest skinning weights per vertex, renormalised, and triangle ``indices``);
* one skin: 24 joint nodes named after :data:`diffmesh.conventions.SMPL_JOINTS`, their
  hierarchy from the body model's ``parents``, rest translations = rest joint offsets,
  inverse bind matrices ``[I | -J_j]``;
* one animation ``"motion"``: a rotation channel per joint (quaternions, LINEAR) and the
  root translation, keyed at ``(frame - frame_0) / fps`` seconds.

Several people (:func:`write_gltf_people`, :func:`build_glb_people`): one mesh, skin, material
and set of joint nodes per person, grouped under a node ``"person <track_id>"``, all driven by
the one animation; topology, skinning weights and key times are stored once.

Axes: glTF's (Y up, +Z toward the viewer, right-handed, metres). The camera frame is turned
into it at the root (:data:`~diffmesh.io.motion.CAMERA_TO_Y_UP`), so the joints' world
positions are ``C @`` the camera-frame joints. Frames without a person hold the last
valid pose. Pose-dependent blend shapes of SMPL files are not exported (glTF skinning is
pure linear blend skinning); the open body model has none.
"""

from __future__ import annotations

import json
import logging
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from diffmesh.body import BodyModel
from diffmesh.conventions import SMPL_JOINTS
from diffmesh.io.motion import (
    PreparedMotion,
    atomic_write,
    make_sign_continuous,
    prepare_motion,
    rotmat_to_quaternion_xyzw,
)

logger = logging.getLogger(__name__)

__all__ = ["write_gltf_animation", "write_gltf_people", "build_glb", "build_glb_people", "MAX_INFLUENCES"]

#: Joint influences per vertex in ``JOINTS_0``/``WEIGHTS_0`` (one set; every viewer reads it).
MAX_INFLUENCES = 4

# glTF constants (spec section 3.6 and 5).
_FLOAT, _UNSIGNED_BYTE, _UNSIGNED_SHORT, _UNSIGNED_INT = 5126, 5121, 5123, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_TRIANGLES = 4
_GLB_MAGIC, _GLB_VERSION = 0x46546C67, 2  # b"glTF"
_CHUNK_JSON, _CHUNK_BIN = 0x4E4F534A, 0x004E4942  # b"JSON", b"BIN\0"
_TYPE_BY_COLUMNS = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4", 16: "MAT4"}
_COMPONENT_BY_DTYPE = {
    np.dtype(np.float32): _FLOAT,
    np.dtype(np.uint8): _UNSIGNED_BYTE,
    np.dtype(np.uint16): _UNSIGNED_SHORT,
    np.dtype(np.uint32): _UNSIGNED_INT,
}


def _pad4(data: bytes, fill: bytes) -> bytes:
    return data + fill * (-len(data) % 4)


class _BinaryBuilder:
    """Collects typed arrays into one binary buffer with bufferViews and accessors.

    Every bufferView starts on a 4-byte boundary, which satisfies the alignment rule of every
    component type (an accessor's offset must be a multiple of its component size) and the
    4-byte alignment of vertex attributes.
    """

    def __init__(self) -> None:
        self.blob = bytearray()
        self.buffer_views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []

    def add(self, array: np.ndarray, target: int | None = None, min_max: bool = False) -> int:
        """Append ``array`` ``[count]`` or ``[count, columns]``; returns the accessor index."""
        array = np.ascontiguousarray(array)
        columns = 1 if array.ndim == 1 else int(np.prod(array.shape[1:]))
        self.blob.extend(b"\0" * (-len(self.blob) % 4))
        view: dict[str, Any] = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": array.nbytes}
        if target is not None:
            view["target"] = target
        self.blob.extend(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())
        self.buffer_views.append(view)
        accessor: dict[str, Any] = {
            "bufferView": len(self.buffer_views) - 1,
            "componentType": _COMPONENT_BY_DTYPE[array.dtype],
            "count": int(array.shape[0]),
            "type": _TYPE_BY_COLUMNS[columns],
        }
        if min_max:  # required for POSITION and animation inputs (spec 5.1.1, 5.8)
            flat = array.reshape(array.shape[0], columns)
            accessor["min"] = [float(x) for x in flat.min(axis=0)]
            accessor["max"] = [float(x) for x in flat.max(axis=0)]
        self.accessors.append(accessor)
        return len(self.accessors) - 1


def _vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """``[V, 3]`` unit area-weighted vertex normals; ``+Z`` for vertices in no triangle."""
    tri = vertices[faces]  # [F, 3, 3]
    face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # [F, 3], |n| = 2 area
    normals = np.zeros_like(vertices)
    for corner in range(3):
        np.add.at(normals, faces[:, corner], face_normals)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    # glTF requires unit normals; a lone vertex gets an arbitrary one.
    return np.where(length > 1e-12, normals / np.maximum(length, 1e-12), np.array([0.0, 0.0, 1.0]))


def _top_weights(lbs_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``MAX_INFLUENCES`` largest skinning weights per vertex, renormalised to sum to 1.

    Returns:
        joints ``[V, 4]`` uint8 joint indices (distinct among non-zero weights, 0 where the
        weight is 0, as the spec asks) and weights ``[V, 4]`` float32, sorted by decreasing
        weight, summing to 1 in float32 (the largest weight absorbs the rounding, as
        validators check the float32 sum).
    """
    w = np.clip(lbs_weights, 0.0, None)
    order = np.argsort(-w, axis=1, kind="stable")[:, :MAX_INFLUENCES]  # [V, 4]
    top = np.take_along_axis(w, order, axis=1)
    total = top.sum(axis=1, keepdims=True)
    if (total <= 0).any():
        bad = int(np.argmax(total[:, 0] <= 0))
        raise ValueError(f"lbs_weights row {bad} has no positive weight; the body model's skinning weights are broken")
    dropped = 1.0 - total[:, 0] / w.sum(axis=1)
    if dropped.max() > 1e-6:
        logger.info(
            "glTF keeps %d influences per vertex: %d vertices lose weight (at most %.3f of their total)",
            MAX_INFLUENCES, int((dropped > 1e-6).sum()), float(dropped.max()),
        )  # fmt: skip
    weights = (top / total).astype(np.float32)
    weights[:, 0] = np.float32(1.0) - weights[:, 1:].sum(axis=1, dtype=np.float32)
    weights[weights < 0] = 0.0
    joints = order.astype(np.uint8)
    joints[weights == 0] = 0  # the spec wants unused slots to point at joint 0
    return joints, weights


def build_glb(
    motion: PreparedMotion, faces: np.ndarray, lbs_weights: np.ndarray, *, generator: str = "diffmesh"
) -> bytes:
    """Assemble the ``.glb`` bytes of a skinned, animated body (see the module docstring).

    Args:
        motion: from :func:`~diffmesh.io.motion.prepare_motion`.
        faces: ``[F, 3]`` triangle vertex indices.
        lbs_weights: ``[V, 24]`` skinning weights.
        generator: text for ``asset.generator``.
    """
    return build_glb_people([motion], faces, lbs_weights, generator=generator)


def build_glb_people(
    motions: list[PreparedMotion],
    faces: np.ndarray,
    lbs_weights: np.ndarray,
    *,
    generator: str = "diffmesh",
    track_ids: list[int] | None = None,
    colors: list[tuple[float, float, float]] | None = None,
) -> bytes:
    """The ``.glb`` bytes of one or several skinned, animated bodies over the same frames.

    One body (``track_ids=None``): exactly :func:`build_glb`'s file. Several: each person ``p`` gets
    24 joint nodes, a mesh node, a mesh (their own rest shape), a material (``colors[p]``) and a
    skin, under a node ``"person <track_id>"``; one animation ``"motion"`` drives everyone, and each
    root's scale is keyed 1 where the person is there and 0 elsewhere (STEP), so absent people vanish.
    Topology, skinning weights and key times are stored once.

    Args:
        motions: from :func:`~diffmesh.io.motion.prepare_motion`, the same frames for everyone.
        faces, lbs_weights, generator: as :func:`build_glb`.
        track_ids: each person's id (names and ``asset.extras.people``); required for several.
        colors: each person's sRGB colour in [0, 1] (as on screen; stored linear in ``baseColorFactor``,
            and as ``#rrggbb`` in ``asset.extras.people``); default: the one-person grey.
    """
    several = track_ids is not None
    if not motions or (several and len(track_ids) != len(motions)) or (not several and len(motions) != 1):
        raise ValueError(f"pass one motion, or several with one track id each; got {len(motions)} motions and "
                         f"track_ids={track_ids}")  # fmt: skip
    frames = motions[0].frame_indices
    if any(not np.array_equal(m.frame_indices, frames) for m in motions):
        raise ValueError("every person's motion must cover the same frames (frame_indices); pass NaN/invalid rows for absences")
    first = motions[0]
    num_joints = len(first.parents)
    num_verts = first.rest_vertices.shape[0]
    faces = np.asarray(faces, dtype=np.int64)
    builder = _BinaryBuilder()

    bodies: list[dict[str, int]] = []
    for p, motion in enumerate(motions):
        # --- mesh: the subject's T-pose in the body-model frame (Y up, facing +Z) ---------
        body = {"position": builder.add(motion.rest_vertices.astype(np.float32), _ARRAY_BUFFER, min_max=True),
                "normal": builder.add(_vertex_normals(motion.rest_vertices, faces).astype(np.float32), _ARRAY_BUFFER)}  # fmt: skip
        if p == 0:  # topology and skinning weights: the same for everyone
            joint_ids, weights = _top_weights(np.asarray(lbs_weights, dtype=np.float64))
            shared = {"joints_0": builder.add(joint_ids, _ARRAY_BUFFER), "weights_0": builder.add(weights, _ARRAY_BUFFER)}
            index_dtype = np.uint16 if num_verts <= np.iinfo(np.uint16).max else np.uint32
            shared["indices"] = builder.add(faces.reshape(-1).astype(index_dtype), _ELEMENT_ARRAY_BUFFER)
        # --- skin: bind pose = rest joints with identity rotations -> IBM_j = [I | -J_j] --
        ibm = np.tile(np.eye(4), (num_joints, 1, 1))
        ibm[:, :3, 3] = -motion.rest_joints
        body["inverse_bind"] = builder.add(ibm.transpose(0, 2, 1).reshape(num_joints, 16).astype(np.float32))  # column-major
        bodies.append(body)

    # --- animation ----------------------------------------------------------------------------
    times = builder.add(first.times.astype(np.float32), min_max=True)
    samplers: list[dict[str, Any]] = []
    channels: list[dict[str, Any]] = []
    nodes: list[dict[str, Any]] = []
    per_person = num_joints + 1  # joint nodes, then the skinned mesh node
    for p, motion in enumerate(motions):
        o = p * per_person
        quats = make_sign_continuous(rotmat_to_quaternion_xyzw(motion.local_rotmats_y_up()))  # [T, 24, 4]
        for j in range(num_joints):
            output = builder.add(quats[:, j].astype(np.float32))
            channels.append({"sampler": len(samplers), "target": {"node": o + j, "path": "rotation"}})
            samplers.append({"input": times, "output": output, "interpolation": "LINEAR"})
        root_positions = builder.add(motion.root_positions_y_up().astype(np.float32))
        channels.append({"sampler": len(samplers), "target": {"node": o, "path": "translation"}})
        samplers.append({"input": times, "output": root_positions, "interpolation": "LINEAR"})
        if several:  # absent: scale 0 (the body collapses to a point and is not drawn)
            scale = builder.add(np.repeat(motion.valid.astype(np.float32)[:, None], 3, 1))
            channels.append({"sampler": len(samplers), "target": {"node": o, "path": "scale"}})
            samplers.append({"input": times, "output": scale, "interpolation": "STEP"})
        nodes += _body_nodes(motion, quats, o, mesh=p, name="body" if not several else f"person {track_ids[p]}")

    scene_nodes = [0, num_joints]
    if several:  # one group node per person (a collection in Blender)
        scene_nodes = list(range(len(nodes), len(nodes) + len(motions)))
        nodes += [{"name": f"person {track_ids[p]}", "children": [p * per_person, p * per_person + num_joints]}
                  for p in range(len(motions))]  # fmt: skip
    grey = (0.72, 0.74, 0.78)  # linear
    given_colors = colors
    colors = [_srgb_to_linear(c) for c in colors] if colors else [grey] * len(motions)
    extras: dict[str, Any] = {
        "axes": ("Y up, +Z toward the viewer, metres; camera frame (OpenCV) rotated 180 deg about x"
                 if first.frame == "camera" else "Y up, metres; the gravity-aligned world frame, floor at y = 0"),
        "joint_names": list(SMPL_JOINTS),
        "fps": first.fps,
        "first_frame_index": int(frames[0]),
        "frames_without_person": "hold the last valid pose" if not several else "scale 0 (hidden), pose held",
        "num_frames_without_person": int((~first.valid).sum()),
    }  # fmt: skip
    if several:
        extras["people"] = [{"track_id": int(t), "name": f"person {t}", "frames_with_person": int(m.valid.sum())}
                            for t, m in zip(track_ids, motions)]  # fmt: skip
        if given_colors:  # the viewer draws each person in this colour
            for person, c in zip(extras["people"], given_colors):
                person["colour"] = "#" + "".join(f"{round(255 * float(v)):02x}" for v in c)
    gltf: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": generator, "extras": extras},
        "scene": 0,
        "scenes": [{"name": "diffmesh", "nodes": scene_nodes}],
        "nodes": nodes,
        "meshes": [
            {
                "name": "body" if not several else f"person {track_ids[p]}",
                "primitives": [
                    {
                        "attributes": {
                            "POSITION": body["position"],
                            "NORMAL": body["normal"],
                            "JOINTS_0": shared["joints_0"],
                            "WEIGHTS_0": shared["weights_0"],
                        },
                        "indices": shared["indices"],
                        "material": p,
                        "mode": _TRIANGLES,
                    }
                ],
            }
            for p, body in enumerate(bodies)
        ],  # fmt: skip
        "materials": [
            {
                "name": "body" if not several else f"person {track_ids[p]}",
                "pbrMetallicRoughness": {
                    "baseColorFactor": [*map(float, colors[p]), 1.0],
                    "metallicFactor": 0.0,
                    "roughnessFactor": 0.7,
                },
            }
            for p in range(len(motions))
        ],  # fmt: skip
        "skins": [
            {"name": "smpl", "joints": list(range(p * per_person, p * per_person + num_joints)), "skeleton": p * per_person,
             "inverseBindMatrices": body["inverse_bind"]}
            for p, body in enumerate(bodies)
        ],  # fmt: skip
        "animations": [{"name": "motion", "channels": channels, "samplers": samplers}],
        "buffers": [{"byteLength": len(builder.blob)}],
        "bufferViews": builder.buffer_views,
        "accessors": builder.accessors,
    }
    return _pack_glb(gltf, bytes(builder.blob))


def _srgb_to_linear(color: tuple[float, float, float]) -> tuple[float, float, float]:
    """sRGB in [0, 1] (a colour as written in CSS) → linear RGB (glTF's ``baseColorFactor``)."""
    c = np.asarray(color, np.float64)
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return (float(linear[0]), float(linear[1]), float(linear[2]))


def _body_nodes(motion: PreparedMotion, quats: np.ndarray, offset: int, mesh: int, name: str) -> list[dict[str, Any]]:
    """One body's nodes: its joints (numbered from ``offset``, rest pose), then its skinned mesh node."""
    children = motion.children()
    nodes: list[dict[str, Any]] = []
    for j in range(len(motion.parents)):
        node: dict[str, Any] = {"name": SMPL_JOINTS[j], "translation": [float(x) for x in motion.rest_offsets[j]]}
        if children[j]:
            node["children"] = [offset + c for c in children[j]]
        nodes.append(node)
    # The root's static transform is the first frame's, so viewers that show the scene
    # without playing the animation still see the person upright (C @ R0 ~ identity).
    nodes[0]["rotation"] = [float(x) for x in quats[0, 0]]
    nodes[0]["translation"] = [float(x) for x in motion.root_positions_y_up()[0]]
    nodes.append({"name": name, "mesh": mesh, "skin": mesh})  # skinned: its own transform is ignored
    return nodes


def _pack_glb(gltf: dict[str, Any], blob: bytes) -> bytes:
    """GLB container (spec section 4.4): 12-byte header, JSON chunk, BIN chunk, 4-byte padded."""
    json_chunk = _pad4(json.dumps(gltf, separators=(",", ":")).encode("utf-8"), b" ")  # JSON pads with spaces
    bin_chunk = _pad4(blob, b"\0")  # BIN pads with zeros
    total = 12 + 8 + len(json_chunk) + 8 + len(bin_chunk)
    return b"".join((
        struct.pack("<III", _GLB_MAGIC, _GLB_VERSION, total),
        struct.pack("<II", len(json_chunk), _CHUNK_JSON), json_chunk,
        struct.pack("<II", len(bin_chunk), _CHUNK_BIN), bin_chunk,
    ))  # fmt: skip


def write_gltf_animation(
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
) -> Path:
    """Write a skinned, animated glTF 2.0 binary (``animation.glb``), atomically.

    Args:
        path: destination ``.glb`` file (its folder must exist).
        body_model, rotmats, transl, betas, fps, valid, frame_indices, frame: the motion, as
            :func:`~diffmesh.io.motion.prepare_motion` takes them (camera frame, or
            ``frame="world"`` for a Y-up world frame; frames without a person hold the last
            valid pose). Key times are ``(frame - frame_0) / fps`` seconds.

    Returns:
        ``path``. Joint world positions in the file equal ``CAMERA_TO_Y_UP @`` the body
        model's camera-frame joints (with ``frame="world"``: the world-frame joints).
    """
    motion = prepare_motion(
        body_model, rotmats=rotmats, transl=transl, betas=betas, fps=fps, valid=valid, frame_indices=frame_indices, frame=frame
    )
    from diffmesh import __version__

    glb = build_glb(
        motion,
        body_model.faces.detach().cpu().numpy(),
        body_model.lbs_weights.detach().cpu().numpy(),
        generator=f"diffmesh {__version__} (body model: {body_model.name})",
    )
    logger.debug(
        "glTF: %d frames, %d vertices, %d bytes -> %s", motion.num_frames, motion.rest_vertices.shape[0], len(glb), path
    )
    return atomic_write(path, lambda file: file.write(glb))


def write_gltf_people(
    path: str | os.PathLike[str],
    body_model: BodyModel,
    motions: list[dict[str, Any]],
    track_ids: list[int],
    fps: float,
    colors: list[tuple[float, float, float]] | None = None,
) -> Path:
    """Write several people's skinned, animated bodies into one glTF 2.0 binary, atomically
    (:func:`build_glb_people`).

    Args:
        motions: per person the keyword arguments of :func:`~diffmesh.io.motion.prepare_motion`
            (``rotmats``, ``transl``, ``betas``, ``valid``, ``frame_indices``, ``frame``), the same frames for all.
        track_ids: each person's id; ``colors``: each person's RGB in [0, 1].
    """
    prepared = [prepare_motion(body_model, fps=fps, **m) for m in motions]
    from diffmesh import __version__

    glb = build_glb_people(
        prepared,
        body_model.faces.detach().cpu().numpy(),
        body_model.lbs_weights.detach().cpu().numpy(),
        generator=f"diffmesh {__version__} (body model: {body_model.name})",
        track_ids=list(track_ids),
        colors=colors,
    )
    return atomic_write(path, lambda file: file.write(glb))
