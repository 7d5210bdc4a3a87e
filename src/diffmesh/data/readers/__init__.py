"""Readers of the official MotionBERT / DiffMesh data files (DATA.md §3), one module per dataset.

Every dataset yields the in-memory formats of :mod:`diffmesh.data.types` (``PoseClip`` /
``MeshClip``; NTU yields ``(motion, label)``), so one training loop consumes official and
synthetic data alike. Where each file goes: ``docs/data.md``.
"""

from diffmesh.data.readers.amass import export_amass_clips, read_amass_joints
from diffmesh.data.readers.h36m import H36MPoseDataset, H36MReader, export_mb3d_clips
from diffmesh.data.readers.instavariety import InstaVarietyDataset2D
from diffmesh.data.readers.mb3d import MB3DClipDataset, read_mb3d_clip
from diffmesh.data.readers.mesh import MeshDataset, MeshReader, mesh_ground_truth
from diffmesh.data.readers.ntu import NTUActionDataset, read_ntu_pkl
from diffmesh.data.readers.posetrack import PoseTrackDataset2D, read_posetrack_tracks

__all__ = [
    "H36MReader",
    "H36MPoseDataset",
    "export_mb3d_clips",
    "MB3DClipDataset",
    "read_mb3d_clip",
    "read_amass_joints",
    "export_amass_clips",
    "MeshReader",
    "MeshDataset",
    "mesh_ground_truth",
    "NTUActionDataset",
    "read_ntu_pkl",
    "PoseTrackDataset2D",
    "read_posetrack_tracks",
    "InstaVarietyDataset2D",
]
