"""Files in and out: video decoding/encoding and result exports (npz, glTF, BVH, OBJ)."""

from diffmesh.io.exports import read_result, write_bvh, write_gltf_animation, write_obj_sequence, write_result_npz

__all__ = ["read_result", "write_bvh", "write_gltf_animation", "write_obj_sequence", "write_result_npz"]
