"""Result exports of the video pipeline, in one place (docs/outputs.md).

* :func:`write_result_npz` / :func:`read_result`: the self-describing ``result.npz``;
* :func:`write_gltf_animation`: skinned, animated glTF 2.0 binary (``animation.glb``);
  :func:`write_gltf_people`: several people's bodies in one such file;
* :func:`write_bvh`: the skeleton animation as BVH (``motion.bvh``);
* :func:`write_obj_sequence`: one OBJ mesh per frame (optional).

The animation writers take the body model and the per-frame motion as the pipeline has it:
local joint rotations ``rotmats [T, 24, 3, 3]`` (index 0 = global orientation, camera frame:
x right, y down, z forward), root translation ``transl [T, 3]`` (metres, camera frame),
``betas`` and ``fps``. They turn the camera frame into Y up (180 degrees about x, at the
root), hold the last valid pose over frames without a person, and write atomically.
"""

from __future__ import annotations

from diffmesh.io.bvh import write_bvh
from diffmesh.io.gltf import write_gltf_animation, write_gltf_people
from diffmesh.io.motion import CAMERA_TO_Y_UP, PreparedMotion, atomic_write, prepare_motion
from diffmesh.io.obj import write_obj_sequence
from diffmesh.io.result import RESULT_FIELDS, SCHEMA_VERSION, WORLD_KEYS, read_result, write_result_npz

__all__ = [
    "CAMERA_TO_Y_UP",
    "PreparedMotion",
    "RESULT_FIELDS",
    "SCHEMA_VERSION",
    "WORLD_KEYS",
    "atomic_write",
    "prepare_motion",
    "read_result",
    "write_bvh",
    "write_gltf_animation",
    "write_gltf_people",
    "write_obj_sequence",
    "write_result_npz",
]
