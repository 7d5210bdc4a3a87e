"""Geometry: rotation conversions (with named 6-D layouts)."""

from __future__ import annotations

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
    "axis_angle_to_rot6d_pytorch3d",
    "axis_angle_to_rotmat",
    "axis_angle_to_rotmat_pytorch3d",
    "quaternion_to_rotmat",
    "rot6d_to_rotmat",
    "rotmat_to_axis_angle",
    "rotmat_to_rot6d_columns",
    "rotmat_to_rot6d_rows",
]
