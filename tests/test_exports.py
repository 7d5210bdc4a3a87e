"""Exports read back with independent readers (pygltflib, trimesh, our own BVH reader) and
compared with the body model's joints and vertices for the same motion."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import numpy as np
import pygltflib
import pytest
import torch
import trimesh

from diffmesh.body import BodyModel, load
from diffmesh.conventions import H36M_JOINTS, SMPL_JOINTS
from diffmesh.geometry.rotations import axis_angle_to_rotmat, quaternion_to_rotmat
from diffmesh.io.bvh import rotmat_to_euler_zxy
from diffmesh.io.exports import (
    CAMERA_TO_Y_UP,
    RESULT_FIELDS,
    WORLD_KEYS,
    atomic_write,
    read_result,
    write_bvh,
    write_gltf_animation,
    write_gltf_people,
    write_obj_sequence,
    write_result_npz,
)
from diffmesh.io.motion import rotmat_to_quaternion_xyzw
from tests._bvh import read_bvh

DOCS = Path(__file__).resolve().parents[1] / "docs" / "outputs.md"
C = CAMERA_TO_Y_UP


def make_motion(T: int = 6, seed: int = 0) -> dict[str, np.ndarray]:
    """An upright person (camera y down) about 3 m in front of the camera, moving."""
    rng = np.random.default_rng(seed)
    aa = rng.normal(scale=0.4, size=(T, 24, 3))
    aa[:, 0] = [np.pi, 0.0, 0.0] + rng.normal(scale=0.3, size=(T, 3))  # ~180 deg about x: upright
    rotmats = axis_angle_to_rotmat(torch.as_tensor(aa)).numpy()
    transl = np.array([0.1, 0.2, 3.0]) + rng.normal(scale=0.2, size=(T, 3))
    betas = rng.normal(scale=1.0, size=10)
    return {"rotmats": rotmats, "transl": transl, "betas": betas}


def model_output(body: BodyModel, motion: dict[str, np.ndarray]):
    R = torch.as_tensor(motion["rotmats"], dtype=torch.float32)
    betas = torch.as_tensor(np.atleast_2d(motion["betas"]), dtype=torch.float32)
    return body(betas, R[:, 1:], R[:, :1], torch.as_tensor(motion["transl"], dtype=torch.float32))


def without_pose_blend_shapes(body: BodyModel) -> BodyModel:
    """The same body with zero pose blend shapes: what glTF skinning can represent."""
    return BodyModel(
        body.v_template, body.shapedirs, torch.zeros_like(body.posedirs), body.J_regressor, body.parents,
        body.lbs_weights, body.faces, J_regressor_h36m=body.J_regressor_h36m,
    )  # fmt: skip


# ----------------------------------------------------------------------------- glTF reading

_NUMPY_OF_COMPONENT = {5126: np.float32, 5121: np.uint8, 5123: np.uint16, 5125: np.uint32}
_COLUMNS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def accessor_array(gltf: pygltflib.GLTF2, blob: bytes, index: int) -> np.ndarray:
    acc = gltf.accessors[index]
    view = gltf.bufferViews[acc.bufferView]
    dtype = _NUMPY_OF_COMPONENT[acc.componentType]
    columns = _COLUMNS[acc.type]
    start = view.byteOffset + (acc.byteOffset or 0)
    a = np.frombuffer(blob, dtype=dtype, count=acc.count * columns, offset=start)
    return a.reshape(acc.count, columns) if columns > 1 else a


def load_glb(path: Path) -> tuple[pygltflib.GLTF2, bytes]:
    gltf = pygltflib.GLTF2().load_binary(str(path))
    return gltf, gltf.binary_blob()


def quat_xyzw_to_rotmat(q: np.ndarray) -> np.ndarray:
    wxyz = torch.as_tensor(q[..., [3, 0, 1, 2]], dtype=torch.float64)
    return quaternion_to_rotmat(wxyz).numpy()


def node_world_matrices(gltf: pygltflib.GLTF2, blob: bytes, key: int) -> np.ndarray:
    """``[N, 4, 4]`` world transforms of all nodes at animation keyframe ``key``."""
    local = []
    for node in gltf.nodes:
        t = np.array(node.translation or [0.0, 0.0, 0.0], dtype=np.float64)
        q = np.array(node.rotation or [0.0, 0.0, 0.0, 1.0], dtype=np.float64)
        local.append([t, q, np.ones(3)])
    anim = gltf.animations[0]
    for channel in anim.channels:
        sampler = anim.samplers[channel.sampler]
        value = accessor_array(gltf, blob, sampler.output)[key].astype(np.float64)
        slot = {"translation": 0, "rotation": 1, "scale": 2}[channel.target.path]
        local[channel.target.node][slot] = value
    parent = {c: i for i, node in enumerate(gltf.nodes) for c in (node.children or [])}
    world: dict[int, np.ndarray] = {}

    def get(i: int) -> np.ndarray:
        if i not in world:
            m = np.eye(4)
            m[:3, :3] = quat_xyzw_to_rotmat(local[i][1]) * local[i][2]  # R @ diag(scale)
            m[:3, 3] = local[i][0]
            world[i] = m if i not in parent else get(parent[i]) @ m
        return world[i]

    return np.stack([get(i) for i in range(len(gltf.nodes))])


def skinned_vertices(gltf: pygltflib.GLTF2, blob: bytes, key: int, person: int = 0) -> np.ndarray:
    prim = gltf.meshes[person].primitives[0]
    skin = gltf.skins[person]
    pos = accessor_array(gltf, blob, prim.attributes.POSITION).astype(np.float64)
    joints = accessor_array(gltf, blob, prim.attributes.JOINTS_0).astype(np.int64)
    weights = accessor_array(gltf, blob, prim.attributes.WEIGHTS_0).astype(np.float64)
    ibm = accessor_array(gltf, blob, skin.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1)  # column-major
    world = node_world_matrices(gltf, blob, key)[skin.joints]
    joint_mats = world @ ibm  # [24, 4, 4]
    skin_mats = np.einsum("vk,vkij->vij", weights, joint_mats[joints])  # [V, 4, 4]
    return np.einsum("vij,vj->vi", skin_mats[:, :3, :3], pos) + skin_mats[:, :3, 3]


# ----------------------------------------------------------------------------- glTF tests


def test_gltf_joints_and_vertices_match_body_model(small_body: BodyModel, tmp_path: Path) -> None:
    body = without_pose_blend_shapes(small_body)  # so that vertices are comparable too
    motion = make_motion(T=6)
    valid = np.array([True, True, False, True, True, False])
    path = write_gltf_animation(tmp_path / "animation.glb", body, **motion, fps=25.0, valid=valid)
    gltf, blob = load_glb(path)
    out = model_output(body, motion)
    joints_yup = out.joints.double().numpy() @ C.T  # [T, 24, 3]
    verts_yup = out.vertices.double().numpy() @ C.T
    held = [0, 1, 1, 3, 4, 4]  # frames without a person hold the last valid pose
    for key in range(6):
        world = node_world_matrices(gltf, blob, key)
        np.testing.assert_allclose(world[:24, :3, 3], joints_yup[held[key]], atol=1e-5)
        np.testing.assert_allclose(skinned_vertices(gltf, blob, key), verts_yup[held[key]], atol=1e-5)
    times = accessor_array(gltf, blob, gltf.animations[0].samplers[0].input)
    np.testing.assert_allclose(times, np.arange(6) / 25.0, atol=1e-7)


def test_gltf_with_several_people(small_body: BodyModel, tmp_path: Path) -> None:
    """One file, two skinned bodies (their own shapes), one animation; the second absent (scale 0) in
    its first two frames; skinned vertices equal each body model's."""
    body = without_pose_blend_shapes(small_body)
    motions = [make_motion(T=5, seed=0), make_motion(T=5, seed=1)]
    valid = [np.ones(5, bool), np.array([False, False, True, True, True])]
    path = write_gltf_people(tmp_path / "people.glb", body, [dict(m, valid=v) for m, v in zip(motions, valid)],
                             track_ids=[0, 3], fps=25.0, colors=[(1.0, 0.0, 0.0), (0.0, 0.0, 1.0)])  # fmt: skip
    gltf, blob = load_glb(path)
    assert len(gltf.meshes) == len(gltf.skins) == 2 and len(gltf.animations) == 1
    assert [gltf.nodes[n].name for n in gltf.scenes[0].nodes] == ["person 0", "person 3"]
    assert [m.pbrMetallicRoughness.baseColorFactor for m in gltf.materials] == [[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0]]
    assert [(p["track_id"], p["colour"]) for p in gltf.asset.extras["people"]] == [(0, "#ff0000"), (3, "#0000ff")]
    assert gltf.meshes[0].primitives[0].indices == gltf.meshes[1].primitives[0].indices  # topology stored once
    for p, (motion, v) in enumerate(zip(motions, valid)):
        verts_yup = model_output(body, motion).vertices.double().numpy() @ C.T
        for key in range(5):
            skinned = skinned_vertices(gltf, blob, key, person=p)
            if v[key]:
                np.testing.assert_allclose(skinned, verts_yup[key], atol=1e-5)
            else:  # hidden: collapsed onto the root
                assert np.ptp(skinned, axis=0).max() < 1e-6
    with pytest.raises(ValueError, match="one track id each"):
        write_gltf_people(tmp_path / "bad.glb", body, [dict(motions[0])], track_ids=[0, 1], fps=25.0)


def test_gltf_follows_the_spec(small_body: BodyModel, tmp_path: Path) -> None:
    motion = make_motion(T=4)
    path = write_gltf_animation(tmp_path / "a.glb", small_body, **motion, fps=30.0, frame_indices=[10, 11, 12, 13])
    raw = path.read_bytes()
    magic, version, length = struct.unpack_from("<III", raw, 0)
    assert (magic, version, length) == (0x46546C67, 2, len(raw))
    json_len, json_type = struct.unpack_from("<II", raw, 12)
    bin_len, bin_type = struct.unpack_from("<II", raw, 20 + json_len)
    assert (json_type, bin_type) == (0x4E4F534A, 0x004E4942)
    assert json_len % 4 == 0 and bin_len % 4 == 0 and 28 + json_len + bin_len == len(raw)
    doc = json.loads(raw[20 : 20 + json_len].decode("utf-8"))  # trailing space padding is valid JSON
    assert doc["asset"]["version"] == "2.0"
    assert doc["buffers"][0]["byteLength"] <= bin_len < doc["buffers"][0]["byteLength"] + 4

    gltf, blob = load_glb(path)
    size = {5126: 4, 5121: 1, 5123: 2, 5125: 4}
    for acc in gltf.accessors:
        view = gltf.bufferViews[acc.bufferView]
        assert view.byteOffset % 4 == 0
        assert (view.byteOffset + (acc.byteOffset or 0)) % size[acc.componentType] == 0
        assert view.byteOffset + view.byteLength <= len(blob)
    prim = gltf.meshes[0].primitives[0]
    pos_acc = gltf.accessors[prim.attributes.POSITION]
    positions = accessor_array(gltf, blob, prim.attributes.POSITION)
    np.testing.assert_allclose(pos_acc.min, positions.min(0))  # min/max are required for POSITION
    np.testing.assert_allclose(pos_acc.max, positions.max(0))
    normals = accessor_array(gltf, blob, prim.attributes.NORMAL)
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-6)
    weights = accessor_array(gltf, blob, prim.attributes.WEIGHTS_0)
    joints = accessor_array(gltf, blob, prim.attributes.JOINTS_0)
    assert (weights >= 0).all() and np.abs(weights.sum(1, dtype=np.float32) - 1).max() < 1e-6
    assert joints.max() < 24 and (joints[weights == 0] == 0).all()  # unused slots point at joint 0
    assert all(len(set(j[w > 0])) == (w > 0).sum() for j, w in zip(joints, weights))  # no repeated joint
    indices = accessor_array(gltf, blob, prim.indices)
    assert indices.size % 3 == 0 and indices.max() < len(positions)
    np.testing.assert_array_equal(indices.reshape(-1, 3), small_body.faces.numpy())

    skin = gltf.skins[0]
    assert [gltf.nodes[j].name for j in skin.joints] == list(SMPL_JOINTS)
    assert gltf.accessors[skin.inverseBindMatrices].count == 24
    assert skin.skeleton == 0 and gltf.nodes[-1].skin == 0 and gltf.nodes[-1].mesh == 0
    parents = {c: i for i, n in enumerate(gltf.nodes) for c in (n.children or [])}
    assert [parents.get(j, -1) for j in range(24)] == small_body.parents.tolist()
    anim = gltf.animations[0]
    time_acc = gltf.accessors[anim.samplers[0].input]
    assert time_acc.min is not None and time_acc.max is not None  # required for sampler inputs
    np.testing.assert_allclose(accessor_array(gltf, blob, anim.samplers[0].input), np.arange(4) / 30.0, atol=1e-7)
    for channel in anim.channels:
        sampler = anim.samplers[channel.sampler]
        assert sampler.interpolation == "LINEAR"
        out = accessor_array(gltf, blob, sampler.output)
        assert len(out) == time_acc.count
        if channel.target.path == "rotation":
            np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)
            assert (np.sum(out[1:] * out[:-1], axis=1) >= 0).all()  # sign-continuous keys
    assert sorted(c.target.path for c in anim.channels).count("rotation") == 24


def test_gltf_opens_in_trimesh(small_body: BodyModel, tmp_path: Path) -> None:
    motion = make_motion(T=3)
    path = write_gltf_animation(tmp_path / "a.glb", small_body, **motion, fps=30.0)
    scene = trimesh.load(path, force="scene", process=False)
    (mesh,) = scene.geometry.values()
    betas = torch.as_tensor(motion["betas"][None], dtype=torch.float64)
    rest = small_body.v_template.double() + torch.einsum("ns,vks->nvk", betas, small_body.shapedirs.double())[0]
    np.testing.assert_allclose(mesh.vertices, rest.numpy(), atol=1e-6)
    np.testing.assert_array_equal(mesh.faces, small_body.faces.numpy())


def test_gltf_with_the_open_body_model(tmp_path: Path) -> None:
    body = load("open")
    motion = make_motion(T=3, seed=1)
    motion["betas"] = motion["betas"] * 0.5
    path = write_gltf_animation(tmp_path / "a.glb", body, **motion, fps=24.0)
    gltf, blob = load_glb(path)
    out = model_output(body, motion)
    for key in range(3):
        world = node_world_matrices(gltf, blob, key)
        np.testing.assert_allclose(world[:24, :3, 3], out.joints[key].double().numpy() @ C.T, atol=1e-5)
    # The open model has up to 6 influences per vertex; glTF keeps the top 4 (renormalised).
    err = np.linalg.norm(skinned_vertices(gltf, blob, 1) - out.vertices[1].double().numpy() @ C.T, axis=1)
    assert np.median(err) < 1e-5 and err.max() < 0.02, (np.median(err), err.max())
    assert len(trimesh.load(path, force="scene", process=False).geometry) == 1


# ----------------------------------------------------------------------------- BVH


@pytest.mark.parametrize("units", ["m", "cm"])
def test_bvh_forward_kinematics_matches_body_model(small_body: BodyModel, tmp_path: Path, units: str) -> None:
    motion = make_motion(T=5, seed=2)
    valid = np.array([True, False, True, True, True])
    path = write_bvh(tmp_path / "motion.bvh", small_body, **motion, fps=30.0, valid=valid, units=units)
    bvh = read_bvh(path)
    scale = 100.0 if units == "cm" else 1.0
    assert sorted(bvh.names()) == sorted(SMPL_JOINTS) and bvh.joints[0].name == "pelvis"
    assert bvh.joints[0].channels == ["Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation"]
    assert all(j.channels == ["Zrotation", "Xrotation", "Yrotation"] for j in bvh.joints[1:])
    assert bvh.frame_time == pytest.approx(1 / 30.0, abs=1e-8)
    order = [SMPL_JOINTS.index(n) for n in bvh.names()]
    assert [SMPL_JOINTS.index(bvh.names()[j.parent]) if j.parent >= 0 else -1 for j in bvh.joints] == [
        small_body.parents[i].item() for i in order
    ]
    joints_yup = model_output(small_body, motion).joints.double().numpy() @ C.T
    held = [0, 0, 2, 3, 4]
    for frame in range(5):
        # 6 decimals in metres or degrees bound the error by ~1e-6 m per joint along a chain.
        np.testing.assert_allclose(bvh.world_positions(frame) / scale, joints_yup[held[frame]][order], atol=2e-5)


def test_bvh_needs_evenly_spaced_frames(small_body: BodyModel, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="evenly spaced"):
        write_bvh(tmp_path / "m.bvh", small_body, **make_motion(T=3), fps=30.0, frame_indices=[0, 1, 5])
    path = write_bvh(tmp_path / "m.bvh", small_body, **make_motion(T=3), fps=30.0, frame_indices=[0, 2, 4])
    assert read_bvh(path).frame_time == pytest.approx(2 / 30.0, abs=1e-8)


def test_euler_and_quaternion_conversions_round_trip() -> None:
    rng = np.random.default_rng(3)
    aa = rng.normal(size=(200, 3)) * 2
    aa[:4] = [[np.pi, 0, 0], [0, np.pi, 0], [0, 0, np.pi], [0, 0, 0]]  # 180 deg and identity
    R = axis_angle_to_rotmat(torch.as_tensor(aa)).numpy()
    R[4] = [[0, 0, 1], [1, 0, 0], [0, 1, 0]]  # gimbal lock: x = +90 deg
    np.testing.assert_allclose(quat_xyzw_to_rotmat(rotmat_to_quaternion_xyzw(R)), R, atol=1e-12)
    z, x, y = np.moveaxis(rotmat_to_euler_zxy(R), -1, 0)

    def rot(axis: int, a: np.ndarray) -> np.ndarray:
        out = np.tile(np.eye(3), (len(a), 1, 1))
        i, j = [(1, 2), (2, 0), (0, 1)][axis]
        out[:, i, i], out[:, i, j], out[:, j, i], out[:, j, j] = np.cos(a), -np.sin(a), np.sin(a), np.cos(a)
        return out

    np.testing.assert_allclose(rot(2, z) @ rot(0, x) @ rot(1, y), R, atol=1e-9)


# ----------------------------------------------------------------------------- OBJ


def test_obj_sequence_matches_body_model(small_body: BodyModel, tmp_path: Path) -> None:
    motion = make_motion(T=3, seed=4)
    paths = write_obj_sequence(
        tmp_path / "meshes", small_body, **motion, valid=[True, False, True], frame_indices=[7, 8, 9]
    )
    assert [p.name for p in paths] == ["frame_000007.obj", "frame_000009.obj"]
    verts = model_output(small_body, motion).vertices.double().numpy() @ C.T
    for path, frame in zip(paths, (0, 2)):
        lines = path.read_text().splitlines()
        v = np.array([[float(x) for x in line.split()[1:]] for line in lines if line.startswith("v ")])
        f = np.array([[int(x) for x in line.split()[1:]] for line in lines if line.startswith("f ")])
        np.testing.assert_allclose(v, verts[frame], atol=2e-6)
        np.testing.assert_array_equal(f - 1, small_body.faces.numpy())
    cam = write_obj_sequence(tmp_path / "cam", small_body, **motion, axes="camera")
    assert len(cam) == 3
    mesh = trimesh.load(cam[2], process=False)  # an independent OBJ reader (drops unused vertices)
    assert mesh.faces.shape == small_body.faces.shape
    np.testing.assert_allclose(mesh.vertices.mean(0), verts[2][np.unique(small_body.faces)].mean(0) @ C.T, atol=1e-6)


# ----------------------------------------------------------------------------- result.npz


def result_inputs(T: int = 4) -> dict:
    rng = np.random.default_rng(5)
    motion = make_motion(T=T, seed=5)
    return {
        "rotmats": motion["rotmats"],
        "transl": motion["transl"],
        "betas": motion["betas"],
        "K": np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]]),
        "keypoints_2d": rng.uniform(size=(T, 17, 3)) * [640, 480, 1],
        "joints_3d_cam": rng.normal(size=(T, 17, 3)),
        "fps": 29.97,
        "frame_indices": np.arange(T) + 100,
        "valid": np.array([True, False] + [True] * (T - 2)),
        "model": "diffmesh (untrained)",
        "weights": "untrained",
        "body_model": "open",
        "image_size": (640, 480),
    }


def test_result_round_trip_without_pickle(tmp_path: Path) -> None:
    inputs = result_inputs()
    path = write_result_npz(tmp_path / "result.npz", **inputs)
    raw = np.load(path, allow_pickle=False)  # readable by plain numpy, no pickles
    assert set(raw.files) == set(RESULT_FIELDS) - set(WORLD_KEYS) - {"track_id", "keypoint_fit_pct"}  # no world frame, one person
    res = read_result(path)
    assert res["joint_names"] == H36M_JOINTS and res["smpl_joint_names"] == SMPL_JOINTS
    assert res["schema_version"] == 2 and res["fps"] == pytest.approx(29.97)
    assert res["model"] == "diffmesh (untrained)" and "metres" in res["units"] and "y down" in res["coordinate_frame"]
    np.testing.assert_allclose(res["pose_rotmat"], inputs["rotmats"], atol=1e-6)
    back = axis_angle_to_rotmat(torch.as_tensor(res["pose_axis_angle"], dtype=torch.float64)).numpy()
    np.testing.assert_allclose(back, inputs["rotmats"], atol=1e-5)
    np.testing.assert_array_equal(res["global_orient"], res["pose_axis_angle"][:, 0])
    np.testing.assert_array_equal(res["body_pose"], res["pose_axis_angle"][:, 1:].reshape(4, 69))
    # a several-people run's file names its person
    one = read_result(write_result_npz(tmp_path / "person.npz", **inputs, track_id=3))
    assert one["track_id"] == 3 and set(one) == set(res) | {"track_id"}
    fit = np.linspace(1.0, 9.0, len(res["valid"]))  # the optional per-frame keypoint fit
    np.testing.assert_array_equal(read_result(write_result_npz(tmp_path / "fit.npz", **inputs, keypoint_fit_pct=fit))["keypoint_fit_pct"],
                                  fit.astype(np.float32))  # fmt: skip
    with pytest.raises(ValueError, match="keypoint_fit_pct must have shape"):
        write_result_npz(tmp_path / "bad.npz", **inputs, keypoint_fit_pct=fit[:-1])
    assert res["K"].shape == (4, 3, 3) and res["betas"].shape == (4, 10)
    np.testing.assert_array_equal(res["frame_indices"], [100, 101, 102, 103])
    np.testing.assert_array_equal(res["valid"], inputs["valid"])
    schema = json.loads(res["schema"])
    assert schema["joints_3d_cam"]["units"] == "m" and schema["joints_3d_cam"]["shape"] == "[T, 17, 3]"


def test_result_axis_angles_are_written_a_chunk_of_frames_at_a_time(tmp_path: Path, monkeypatch) -> None:
    """Long videos: float64 copies of the rotations cover a chunk of frames; the file is the same to the bit."""
    import diffmesh.io.result as result_module

    inputs = result_inputs()
    whole = np.load(write_result_npz(tmp_path / "whole.npz", **inputs))
    monkeypatch.setattr(result_module, "_CHUNK_FRAMES", 3)
    chunked = np.load(write_result_npz(tmp_path / "chunked.npz", **inputs))
    for key in ("pose_rotmat", "pose_axis_angle", "global_orient", "body_pose"):
        np.testing.assert_array_equal(chunked[key], whole[key], err_msg=key)
    for rotmats in (inputs["rotmats"].astype(np.float64), torch.from_numpy(inputs["rotmats"])):  # other array types
        again = np.load(write_result_npz(tmp_path / "again.npz", **{**inputs, "rotmats": rotmats}))
        np.testing.assert_array_equal(again["pose_axis_angle"], whole["pose_axis_angle"])


def rewrite(path: Path, **changes) -> Path:
    data = dict(np.load(path, allow_pickle=False))
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    np.savez(path, **data)
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"joint_names": None}, r"missing the result.npz keys \['joint_names'\]"),
        ({"transl": np.zeros((4, 2), np.float32)}, r"key 'transl' has shape \[4, 2\], expected \[T=4, 3\]"),
        ({"valid": np.ones(4, np.float32)}, r"key 'valid' has dtype float32"),
        ({"schema_version": np.array(99)}, r"key 'schema_version' is 99, newer"),
        ({"format": np.array("something else")}, r"key 'format' is 'something else'"),
        (
            {"pose_rotmat": np.full((4, 24, 3, 3), np.nan, np.float32)},
            r"key 'pose_rotmat' has NaN/inf at valid frame 100",
        ),
    ],
)
def test_result_schema_errors_name_the_key(tmp_path: Path, changes: dict, message: str) -> None:
    path = write_result_npz(tmp_path / "result.npz", **result_inputs())
    with pytest.raises(ValueError, match=message):
        read_result(rewrite(path, **changes))


def test_result_rejects_bad_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_result(tmp_path / "nope.npz")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match="junk.npz"):
        read_result(tmp_path / "junk.npz")
    with pytest.raises(ValueError, match=r"keypoints_2d must have shape \[T=4, 17, 3\]"):
        write_result_npz(tmp_path / "r.npz", **{**result_inputs(), "keypoints_2d": np.zeros((4, 17, 2))})
    assert not (tmp_path / "r.npz").exists()


def test_docs_describe_every_result_key() -> None:
    text = DOCS.read_text()
    documented = set(re.findall(r"^\| `([a-z_0-9A-Z]+)` \|", text, flags=re.M))
    assert set(RESULT_FIELDS) <= documented, sorted(set(RESULT_FIELDS) - documented)


# ----------------------------------------------------------------------------- atomicity, input errors


def test_interrupted_write_leaves_no_file(tmp_path: Path) -> None:
    def fail_halfway(file) -> None:
        file.write(b"glTF" + b"\0" * 1000)
        raise KeyboardInterrupt  # e.g. Ctrl-C in the middle of a write

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "animation.glb", fail_halfway)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "result.npz").write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "result.npz", fail_halfway)
    assert (tmp_path / "result.npz").read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1
    with pytest.raises(FileNotFoundError, match="mkdir -p"):
        atomic_write(tmp_path / "missing" / "a.glb", lambda f: f.write(b""))


def test_interrupted_export_leaves_no_file(
    small_body: BodyModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A failure after the bytes are written but before the rename (disk full at fsync).
    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("diffmesh.io.motion.os.fsync", broken_fsync)
    with pytest.raises(OSError, match="No space"):
        write_gltf_animation(tmp_path / "animation.glb", small_body, **make_motion(T=2), fps=30.0)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rotmats": np.zeros((3, 24, 3, 3))}, r"rotmats\[0, 0\] \(pelvis\) is not a rotation"),
        ({"rotmats": np.zeros((3, 23, 3, 3))}, r"rotmats must have shape \[\?, 24, 3, 3\]"),
        ({"transl": np.zeros((2, 3))}, r"transl must have shape \[3, 3\]"),
        ({"valid": [False, False, False]}, "no person"),
        ({"fps": 0.0}, "fps must be a positive"),
        ({"frame_indices": [0, 2, 1]}, "strictly increasing"),
        ({"betas": np.zeros((2, 10))}, r"betas must have shape \[S\], \[1, S\] or \[T=3, S\]"),
    ],
)
def test_bad_motion_is_refused(small_body: BodyModel, tmp_path: Path, change: dict, message: str) -> None:
    kwargs = {**make_motion(T=3), "fps": 30.0, **change}
    with pytest.raises(ValueError, match=message):
        write_gltf_animation(tmp_path / "a.glb", small_body, **kwargs)
    assert not (tmp_path / "a.glb").exists()


def test_invalid_frames_may_hold_nan(small_body: BodyModel, tmp_path: Path) -> None:
    motion = make_motion(T=3)
    motion["rotmats"][1] = np.nan
    motion["transl"][1] = np.nan
    write_bvh(tmp_path / "m.bvh", small_body, **motion, fps=30.0, valid=[True, False, True])
    assert np.isfinite(read_bvh(tmp_path / "m.bvh").frames).all()
    with pytest.raises(ValueError, match=r"NaN or inf in valid frames \[1\]"):
        write_bvh(tmp_path / "m.bvh", small_body, **motion, fps=30.0)


def test_result_world_keys_round_trip(tmp_path: Path) -> None:
    """The world frame's keys: all or none; a static camera's floor may be given once."""
    inputs = result_inputs()
    T = 4
    world = {"camera_static": True, "floor_normal_cam": np.array([0.0, -1.0, 0.0]), "floor_offset_cam": np.array(1.5),
             "cam_to_world": np.broadcast_to(np.eye(4), (T, 4, 4)), "world_orient_rotmat": np.broadcast_to(np.eye(3), (T, 3, 3)),
             "transl_world": np.zeros((T, 3)), "joints_3d_world": np.zeros((T, 17, 3)),
             "joints_3d_world_raw": np.zeros((T, 17, 3)), "foot_contact": np.zeros((T, 2), bool)}  # fmt: skip
    res = read_result(write_result_npz(tmp_path / "result.npz", **inputs, world=world))
    assert set(WORLD_KEYS) <= set(res) and res["camera_static"] is True and "y up" in res["world_frame"]
    assert res["floor_normal_cam"].shape == (T, 3) and res["floor_offset_cam"].tolist() == [1.5] * T
    del world["foot_contact"]
    with pytest.raises(ValueError, match=r"world is missing the keys \['foot_contact'\]"):
        write_result_npz(tmp_path / "bad.npz", **inputs, world=world)


def test_world_frame_exports_keep_the_motion_as_given() -> None:
    """frame="world": the root is already Y-up, so the exports do not turn it (camera: C @ root)."""
    from diffmesh.io.motion import prepare_motion

    body = load("open")
    T = 3
    R = np.broadcast_to(np.eye(3), (T, 24, 3, 3)).copy()
    t = np.array([[0.0, 0.9, 0.0], [0.1, 0.9, 0.0], [0.2, 0.9, -0.1]])
    world = prepare_motion(body, rotmats=R, transl=t, betas=np.zeros(10), fps=30.0, frame="world")
    cam = prepare_motion(body, rotmats=R, transl=t, betas=np.zeros(10), fps=30.0)
    np.testing.assert_allclose(world.root_positions_y_up(), world.rest_joints[0] + t)
    np.testing.assert_allclose(cam.root_positions_y_up(), (cam.rest_joints[0] + t) * [1, -1, -1])
    np.testing.assert_allclose(world.root_rotmats_y_up(), R[:, 0])
    with pytest.raises(ValueError, match="frame must be 'camera' or 'world'"):
        prepare_motion(body, rotmats=R, transl=t, betas=np.zeros(10), fps=30.0, frame="y_up")
