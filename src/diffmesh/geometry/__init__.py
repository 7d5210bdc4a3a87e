"""Geometry of the model inputs and outputs: rotations (with named 6-D layouts), pinhole cameras,
the crop-box normalisation of 2-D keypoints and horizontal flips.

A leaf package: it imports nothing from :mod:`diffmesh.data` (datasets, metrics, losses,
pipelines and training all import it).
"""

from __future__ import annotations

from diffmesh.geometry.camera import Camera, default_intrinsics, fit_translation, look_at, project
from diffmesh.geometry.crop import CropBox, crop_box, crop_scale, normalize_in_box
from diffmesh.geometry.flip import flip_data, flip_smpl_rotmats, flip_thetas, flip_thetas_batch
from diffmesh.geometry.rotations import (
    axis_angle_to_rot6d_pytorch3d,
    axis_angle_to_rotmat,
    axis_angle_to_rotmat_pytorch3d,
    quaternion_to_rotmat,
    rot6d_to_rotmat,
    rotmat_to_axis_angle,
    rotmat_to_rot6d_columns,
    rotmat_to_rot6d_rows,
)

__all__ = [
    "Camera",
    "CropBox",
    "axis_angle_to_rot6d_pytorch3d",
    "axis_angle_to_rotmat",
    "axis_angle_to_rotmat_pytorch3d",
    "crop_box",
    "crop_scale",
    "default_intrinsics",
    "fit_translation",
    "flip_data",
    "flip_smpl_rotmats",
    "flip_thetas",
    "flip_thetas_batch",
    "look_at",
    "normalize_in_box",
    "project",
    "quaternion_to_rotmat",
    "rot6d_to_rotmat",
    "rotmat_to_axis_angle",
    "rotmat_to_rot6d_columns",
    "rotmat_to_rot6d_rows",
]
