"""A stateless SMPL-format body-model layer: constant buffers + :func:`diffmesh.body.lbs.lbs`.

The layer holds no batch-sized parameters (the batch size comes from the inputs) and its
buffers are registered with ``persistent=False``: they are constants derived from body-model
files, so they never enter a network's ``state_dict``. Any SMPL-format model with a
24-joint kinematic tree plugs in; the vertex count is read from the data.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from diffmesh.body.lbs import kinematic_levels, lbs, vertices_to_joints
from diffmesh.conventions import NUM_H36M_JOINTS, NUM_SMPL_JOINTS
from diffmesh.geometry.rotations import axis_angle_to_rotmat

logger = logging.getLogger(__name__)

__all__ = ["BodyModelOutput", "BodyModel", "NUM_EXTRA_JOINTS"]

ArrayLike = torch.Tensor | np.ndarray

#: Rows of SPIN's ``J_regressor_extra.npy``.
NUM_EXTRA_JOINTS = 9

# Buffer names of the official checkpoint (CHECKPOINTS.md section 5.3, after
# ``module.head.smpl.``) -> constructor argument.
_STATE_DICT_KEYS: dict[str, str] = {
    "v_template": "v_template",
    "shapedirs": "shapedirs",
    "posedirs": "posedirs",
    "J_regressor": "J_regressor",
    "parents": "parents",
    "lbs_weights": "lbs_weights",
    "faces_tensor": "faces",
}
_OPTIONAL_STATE_DICT_KEYS: dict[str, str] = {
    "J_regressor_h36m": "J_regressor_h36m",
    "J_regressor_extra": "J_regressor_extra",
}
# Everything else under the prefix (smplx's unused batch-64 ``betas``/``global_orient``/
# ``body_pose`` and ``vertex_joint_selector.extra_joints_idxs``) is ignored.

# Prefixes tried, in order, when ``from_smpl_state_dict`` is given a larger state dict.
_STATE_DICT_PREFIXES = ("", "module.head.smpl.", "head.smpl.", "smpl.")


@dataclass
class BodyModelOutput:
    """What :class:`BodyModel` returns (metres, the body model's frame plus ``transl``).

    Attributes:
        vertices: ``[N, V, 3]`` posed mesh vertices.
        joints: ``[N, J, 3]`` posed kinematic joints (``J = 24`` for SMPL).
        joints_h36m: ``[N, 17, 3]`` H36M joints regressed from ``vertices`` with
            ``J_regressor_h36m``, or ``None`` if the model has no such regressor.
        rotmats: ``[N, J, 3, 3]`` local joint rotations used (index 0 = global orientation).
    """

    vertices: torch.Tensor
    joints: torch.Tensor
    joints_h36m: torch.Tensor | None
    rotmats: torch.Tensor


def _as_float(x: ArrayLike, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64, torch.uint8)):
        raise ValueError(f"{name} must be a real-valued array, got dtype {t.dtype}")
    return t.to(torch.float32).contiguous()


def _as_index(x: ArrayLike, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x).astype(np.int64) if not isinstance(x, torch.Tensor) else x)
    if t.is_floating_point() or t.is_complex():
        raise ValueError(f"{name} must be an integer array, got dtype {t.dtype}")
    return t.to(torch.int64).contiguous()


def _expect_shape(t: torch.Tensor, expected: tuple[int | None, ...], name: str, meaning: str) -> None:
    ok = t.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, t.shape))
    if not ok:
        shown = "[" + ", ".join("?" if e is None else str(e) for e in expected) + "]"
        raise ValueError(f"{name} must have shape {shown} ({meaning}), got {list(t.shape)}")


class BodyModel(nn.Module):
    """SMPL-format body model layer (linear blend skinning, no learned parameters).

    Args:
        v_template: ``[V, 3]`` rest-pose template (metres).
        shapedirs: ``[V, 3, S]`` shape blend shapes.
        posedirs: ``[P, 3V]`` pose blend shapes with ``P = 9 (J - 1)`` (207 for SMPL);
            the layout of the official ``smpl.posedirs`` buffer.
        J_regressor: ``[J, V]`` dense joint regressor (``J = 24``).
        parents: ``[J]`` kinematic tree, ``-1`` for the root, ``parents[j] < j`` otherwise.
        lbs_weights: ``[V, J]`` skinning weights.
        faces: ``[F, 3]`` triangle vertex indices.
        J_regressor_h36m: optional ``[17, V]`` H36M joint regressor (used for ``kp_3d``).
        J_regressor_extra: optional ``[9, V]`` SPIN extra-joint regressor (kept for parity).
        name: short identifier, e.g. ``"smpl"`` or ``"open"``.
    """

    # Declared for type checkers; registered as non-persistent buffers in __init__.
    v_template: torch.Tensor
    shapedirs: torch.Tensor
    posedirs: torch.Tensor
    J_regressor: torch.Tensor
    parents: torch.Tensor
    lbs_weights: torch.Tensor
    faces: torch.Tensor
    J_regressor_h36m: torch.Tensor | None
    J_regressor_extra: torch.Tensor | None

    def __init__(
        self,
        v_template: ArrayLike,
        shapedirs: ArrayLike,
        posedirs: ArrayLike,
        J_regressor: ArrayLike,
        parents: ArrayLike,
        lbs_weights: ArrayLike,
        faces: ArrayLike,
        *,
        J_regressor_h36m: ArrayLike | None = None,
        J_regressor_extra: ArrayLike | None = None,
        name: str = "smpl",
    ) -> None:
        super().__init__()
        v_template_t = _as_float(v_template, "v_template")
        _expect_shape(v_template_t, (None, 3), "v_template", "V vertices x 3")
        V = v_template_t.shape[0]
        parents_t = _as_index(parents, "parents")
        _expect_shape(parents_t, (NUM_SMPL_JOINTS,), "parents", "one parent per SMPL joint")
        J = parents_t.shape[0]
        if parents_t[0] != -1 or any(not 0 <= int(p) < j for j, p in enumerate(parents_t.tolist()) if j):
            raise ValueError(
                f"parents must be -1 for the root and parents[j] < j otherwise, got {parents_t.tolist()}"
            )
        shapedirs_t = _as_float(shapedirs, "shapedirs")
        _expect_shape(shapedirs_t, (V, 3, None), "shapedirs", "V x 3 x num_betas")
        posedirs_t = _as_float(posedirs, "posedirs")
        _expect_shape(posedirs_t, (9 * (J - 1), 3 * V), "posedirs", "9*(J-1) pose features x 3V")
        J_regressor_t = _as_float(J_regressor, "J_regressor")
        _expect_shape(J_regressor_t, (J, V), "J_regressor", "J joints x V vertices, dense")
        lbs_weights_t = _as_float(lbs_weights, "lbs_weights")
        _expect_shape(lbs_weights_t, (V, J), "lbs_weights", "V vertices x J joints")
        faces_t = _as_index(faces, "faces")
        _expect_shape(faces_t, (None, 3), "faces", "F triangles x 3")
        if faces_t.numel() and (faces_t.min() < 0 or faces_t.max() >= V):
            raise ValueError(
                f"faces index vertices outside [0, {V}): min {int(faces_t.min())}, max {int(faces_t.max())}"
            )

        self.name = name
        self.num_betas = shapedirs_t.shape[-1]
        #: Means that come with the model files (``diffmesh.body.BodyAssets``, attached by the
        #: loaders), used to initialise mesh heads; ``None`` when the source has none.
        self.assets = None
        self.register_buffer("v_template", v_template_t, persistent=False)
        self.register_buffer("shapedirs", shapedirs_t, persistent=False)
        self.register_buffer("posedirs", posedirs_t, persistent=False)
        # All-zero pose blend shapes (the open model has none) are skipped in forward.
        self.has_pose_blend_shapes = bool(posedirs_t.any())
        self.register_buffer("J_regressor", J_regressor_t, persistent=False)
        self.register_buffer("parents", parents_t, persistent=False)
        self.register_buffer("lbs_weights", lbs_weights_t, persistent=False)
        self.register_buffer("faces", faces_t, persistent=False)
        for attr, value, rows in (
            ("J_regressor_h36m", J_regressor_h36m, NUM_H36M_JOINTS),
            ("J_regressor_extra", J_regressor_extra, NUM_EXTRA_JOINTS),
        ):
            tensor = None
            if value is not None:
                tensor = _as_float(value, attr)
                _expect_shape(tensor, (rows, V), attr, f"{rows} joints x V vertices, dense")
            self.register_buffer(attr, tensor, persistent=False)
        # The tree is fixed: group joints by depth once (plain ints, so that moving the
        # module never needs a device->host copy); index tensors are cached per device.
        # Joints grouped by tree depth, built once here as buffers so they follow .to(device)
        # (a lazily built cache would hold inference-mode tensors after a first call under
        # torch.inference_mode, which autograd later refuses).
        self._num_levels = 0
        for depth, level in enumerate(kinematic_levels(parents_t)):
            self.register_buffer(f"_level_{depth}", level, persistent=False)
            self._num_levels += 1

    @property
    def num_vertices(self) -> int:
        return self.v_template.shape[0]

    @property
    def num_joints(self) -> int:
        return self.parents.shape[0]

    @classmethod
    def from_smpl_state_dict(
        cls, sd: Mapping[str, torch.Tensor], prefix: str | None = None, name: str = "smpl"
    ) -> BodyModel:
        """Build from the SMPL buffers of an official mesh checkpoint.

        Args:
            sd: a state dict with the keys of CHECKPOINTS.md section 5.3 (``shapedirs``,
                ``v_template``, ``J_regressor``, ``posedirs``, ``parents``, ``lbs_weights``,
                ``faces_tensor`` and optionally ``J_regressor_extra``/``J_regressor_h36m``),
                bare or under ``prefix``. ``betas``, ``global_orient``, ``body_pose`` and
                ``vertex_joint_selector.extra_joints_idxs`` are ignored.
            prefix: key prefix such as ``"module.head.smpl."``; ``None`` tries ``""``,
                ``"module.head.smpl."``, ``"head.smpl."`` and ``"smpl."`` in turn.
            name: the model's name.
        """
        if prefix is None:
            prefix = next((p for p in _STATE_DICT_PREFIXES if f"{p}v_template" in sd), "")
        missing = [prefix + k for k in _STATE_DICT_KEYS if prefix + k not in sd]
        if missing:
            raise ValueError(
                f"SMPL state dict is missing {missing} (prefix {prefix!r}); expected the SMPL "
                f"buffers of an official mesh checkpoint (CHECKPOINTS.md section 5.3)"
            )
        kwargs = {arg: sd[prefix + key] for key, arg in _STATE_DICT_KEYS.items()}
        optional = {arg: sd.get(prefix + key) for key, arg in _OPTIONAL_STATE_DICT_KEYS.items()}
        return cls(**kwargs, **optional, name=name)

    def _pose_to_rotmats(self, body_pose: torch.Tensor, global_orient: torch.Tensor) -> torch.Tensor:
        """Accept rotation matrices or axis-angle, detected by shape -> ``[N, J, 3, 3]``."""
        nb = self.num_joints - 1
        if body_pose.ndim == 4 and body_pose.shape[1:] == (nb, 3, 3):
            body = body_pose
        elif body_pose.ndim == 3 and body_pose.shape[1:] == (nb, 3):
            body = axis_angle_to_rotmat(body_pose)
        elif body_pose.ndim == 2 and body_pose.shape[1] == 3 * nb:
            body = axis_angle_to_rotmat(body_pose.reshape(-1, nb, 3))  # [N, 69] -> [N, 23, 3]
        else:
            raise ValueError(
                f"body_pose has shape {list(body_pose.shape)}; accepted: rotation matrices "
                f"[N, {nb}, 3, 3] or axis-angle [N, {nb}, 3] / [N, {3 * nb}]"
            )
        if global_orient.ndim == 4 and global_orient.shape[1:] == (1, 3, 3):
            root = global_orient
        elif global_orient.ndim == 3 and global_orient.shape[1:] == (3, 3):
            root = global_orient[:, None]
        elif global_orient.ndim == 2 and global_orient.shape[1] == 3:
            root = axis_angle_to_rotmat(global_orient)[:, None]  # [N, 3] -> [N, 1, 3, 3]
        elif global_orient.ndim == 3 and global_orient.shape[1:] == (1, 3):
            root = axis_angle_to_rotmat(global_orient)
        else:
            raise ValueError(
                f"global_orient has shape {list(global_orient.shape)}; accepted: rotation matrices "
                f"[N, 1, 3, 3] / [N, 3, 3] or axis-angle [N, 3] / [N, 1, 3]"
            )
        if root.shape[0] != body.shape[0]:
            raise ValueError(
                f"global_orient has batch size {root.shape[0]} but body_pose has {body.shape[0]}"
            )
        return torch.cat((root, body), dim=1)

    def forward(
        self,
        betas: torch.Tensor,
        body_pose: torch.Tensor,
        global_orient: torch.Tensor,
        transl: torch.Tensor | None = None,
    ) -> BodyModelOutput:
        """Pose and shape the body.

        Args:
            betas: ``[N, S']`` shape coefficients (or ``[1, S']``, broadcast over the batch).
                ``S' < num_betas`` is zero-padded (only the first ``S'`` shape directions
                are used); ``S' > num_betas`` is truncated to the first ``num_betas``.
            body_pose: rotation matrices ``[N, 23, 3, 3]`` or axis-angle ``[N, 23, 3]`` /
                ``[N, 69]`` (detected by shape).
            global_orient: rotation matrices ``[N, 1, 3, 3]`` / ``[N, 3, 3]`` or axis-angle
                ``[N, 3]`` / ``[N, 1, 3]``.
            transl: optional ``[N, 3]`` translation added to every output point.

        Inputs are cast to the buffers' dtype.

        Returns:
            :class:`BodyModelOutput` in metres.
        """
        dtype = self.v_template.dtype
        rotmats = self._pose_to_rotmats(body_pose.to(dtype), global_orient.to(dtype))
        n = rotmats.shape[0]

        if betas.ndim != 2 or betas.shape[0] not in (1, n):
            raise ValueError(
                f"betas has shape {list(betas.shape)}; expected [N, S] or [1, S] with N = {n}"
            )
        betas = betas.to(dtype).expand(n, -1)
        num_used = min(betas.shape[1], self.num_betas)
        if betas.shape[1] > self.num_betas:
            logger.debug("truncating %d betas to the model's %d", betas.shape[1], self.num_betas)
        # Using the first S' directions is the same as zero-padding betas to S.
        shapedirs = self.shapedirs[..., :num_used]
        betas = betas[:, :num_used]

        vertices, joints = self.skin(betas, rotmats, shapedirs)
        if transl is not None:
            if transl.shape != (n, 3):
                raise ValueError(f"transl has shape {list(transl.shape)}; expected [{n}, 3]")
            offset = transl.to(dtype)[:, None]  # [N, 3] -> [N, 1, 3]
            vertices = vertices + offset
            joints = joints + offset
        joints_h36m = None
        if self.J_regressor_h36m is not None:
            joints_h36m = vertices_to_joints(self.J_regressor_h36m, vertices)
        return BodyModelOutput(vertices=vertices, joints=joints, joints_h36m=joints_h36m, rotmats=rotmats)

    def skin(self, betas: torch.Tensor, rotmats: torch.Tensor, shapedirs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:func:`~diffmesh.body.lbs.lbs` on this model's buffers: betas ``[N, S]``, rotmats
        ``[N, J, 3, 3]``, the ``S`` shape directions used → vertices ``[N, V, 3]``, joints
        ``[N, J, 3]`` (the hook :mod:`diffmesh.accel` overrides with a chunked, packed variant)."""
        posedirs = self.posedirs if self.has_pose_blend_shapes else None
        return lbs(
            betas, rotmats, self.v_template, shapedirs, posedirs,
            self.J_regressor, self.parents, self.lbs_weights, self.kinematic_levels(),
        )  # fmt: skip

    def kinematic_levels(self) -> list[torch.Tensor]:
        """The joints grouped by tree depth (:func:`~diffmesh.body.lbs.kinematic_levels`), on this model's device."""
        return [getattr(self, f"_level_{depth}") for depth in range(self._num_levels)]

    def extra_repr(self) -> str:
        return (
            f"name={self.name!r}, vertices={self.num_vertices}, joints={self.num_joints}, "
            f"num_betas={self.num_betas}, faces={self.faces.shape[0]}"
        )
