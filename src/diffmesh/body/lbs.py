"""Linear blend skinning for SMPL-format body models, as pure functions of tensors.

Written from the SMPL paper (Loper et al. 2015); the order of operations follows the usual
SMPL implementation so that results agree with it to float32 rounding:

1. shape:    ``v_shaped = v_template + shapedirs . betas``
2. skeleton: ``J = J_regressor . v_shaped``
3. pose:     ``v_posed = v_shaped + posedirs^T . vec(R[1:] - I)`` (pose blend shapes)
4. kinematic chain: world transforms ``G_j = G_parent(j) [R_j | J_j - J_parent(j)]``
5. skinning: ``v = sum_j w_vj (G_j - [0 | G_j J_j]) v_posed``

Symbols: ``N`` batch, ``V`` vertices, ``J`` joints (24 for SMPL), ``S`` shape coefficients,
``P = 9 (J - 1)`` pose-feature size (207 for SMPL). Nothing here depends on ``V = 6890``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = [
    "blend_shapes",
    "vertices_to_joints",
    "pose_feature",
    "kinematic_levels",
    "batch_rigid_transform",
    "lbs",
]


def blend_shapes(betas: torch.Tensor, shapedirs: torch.Tensor) -> torch.Tensor:
    """Shape blend-shape offsets.

    Args:
        betas: ``[N, S]`` shape coefficients.
        shapedirs: ``[V, 3, S]`` shape displacement basis.

    Returns:
        ``[N, V, 3]`` vertex offsets ``sum_s betas[n, s] * shapedirs[v, k, s]``.
    """
    return torch.einsum("ns,vks->nvk", betas, shapedirs)


def vertices_to_joints(J_regressor: torch.Tensor, verts: torch.Tensor) -> torch.Tensor:
    """Regress joints (or any keypoints) linearly from vertices.

    Args:
        J_regressor: ``[J, V]`` regression weights (rows usually sum to 1).
        verts: ``[N, V, 3]`` vertices.

    Returns:
        ``[N, J, 3]`` joints.
    """
    return torch.einsum("nvk,jv->njk", verts, J_regressor)


def pose_feature(rot_mats: torch.Tensor) -> torch.Tensor:
    """The pose blend-shape feature ``vec(R_j - I)`` over the non-root joints.

    Args:
        rot_mats: ``[N, J, 3, 3]`` local joint rotations, index 0 = global orientation.

    Returns:
        ``[N, 9 (J - 1)]``; zero in the rest pose, so pose blend shapes vanish there.
    """
    ident = torch.eye(3, dtype=rot_mats.dtype, device=rot_mats.device)
    return (rot_mats[:, 1:] - ident).reshape(rot_mats.shape[0], -1)  # [N, J-1, 3, 3] -> [N, P]


def kinematic_levels(parents: torch.Tensor) -> list[torch.Tensor]:
    """Group the non-root joints by depth in the kinematic tree.

    Joints of one level only depend on joints of earlier levels, so each level is composed
    in one batched matmul (SMPL has 9 levels below the root instead of 23 joints).

    Args:
        parents: ``[J]`` int64 parent indices, ``parents[0] = -1`` and
            ``parents[j] < j`` for every other joint.

    Returns:
        One int64 tensor of joint indices per depth 1, 2, ... (root excluded).
    """
    parent_list = [int(p) for p in parents.tolist()]
    depth = [0] * len(parent_list)
    for j in range(1, len(parent_list)):
        depth[j] = depth[parent_list[j]] + 1
    levels: list[list[int]] = [[] for _ in range(max(depth, default=0))]
    for j in range(1, len(parent_list)):
        levels[depth[j] - 1].append(j)
    return [torch.tensor(level, dtype=torch.long, device=parents.device) for level in levels]


def batch_rigid_transform(
    rot_mats: torch.Tensor,
    joints: torch.Tensor,
    parents: torch.Tensor,
    levels: list[torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pose the skeleton: compose local joint transforms along the kinematic tree.

    Args:
        rot_mats: ``[N, J, 3, 3]`` local rotations (relative to the parent frame).
        joints: ``[N, J, 3]`` rest-pose joint locations.
        parents: ``[J]`` int64 parents, ``-1`` for the root, ``parents[j] < j`` otherwise.
        levels: optional precomputed :func:`kinematic_levels` of ``parents``.

    Returns:
        posed_joints: ``[N, J, 3]`` joint locations after posing.
        rel_transforms: ``[N, J, 4, 4]`` world transforms with the rest-pose joint location
            removed (``G_j`` composed with a translation by ``-J_j``), i.e. the transforms
            that map rest-pose vertices to posed vertices; these are what skinning blends.
    """
    if levels is None:
        levels = kinematic_levels(parents)
    n, num_joints = joints.shape[:2]

    # Local transforms [R_j | t_j] with t_j the joint offset from its parent (root: J_0).
    rel_joints = joints.clone()
    rel_joints[:, 1:] = joints[:, 1:] - joints[:, parents[1:]]
    local = torch.zeros(n, num_joints, 4, 4, dtype=rot_mats.dtype, device=rot_mats.device)
    local[..., :3, :3] = rot_mats
    local[..., :3, 3] = rel_joints
    local[..., 3, 3] = 1.0

    # World transforms, one tree depth at a time: G_j = G_parent(j) @ L_j.
    world = local.clone()
    for level in levels:
        world[:, level] = torch.matmul(world[:, parents[level]], local[:, level])

    posed_joints = world[..., :3, 3]  # [N, J, 3]
    # G_j [I | -J_j] = [R_j^w | t_j^w - R_j^w J_j]: subtract the rotated rest-pose joint.
    rotated_rest = torch.matmul(world[..., :3, :3], joints.unsqueeze(-1))[..., 0]  # [N, J, 3]
    rel_transforms = world.clone()
    rel_transforms[..., :3, 3] = world[..., :3, 3] - rotated_rest
    return posed_joints, rel_transforms


def lbs(
    betas: torch.Tensor,
    pose_rotmats: torch.Tensor,
    v_template: torch.Tensor,
    shapedirs: torch.Tensor,
    posedirs: torch.Tensor | None,
    J_regressor: torch.Tensor,
    parents: torch.Tensor,
    lbs_weights: torch.Tensor,
    levels: list[torch.Tensor] | None = None,
    pose_blend: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """SMPL forward kinematics with linear blend skinning.

    Args:
        betas: ``[N, S]`` shape coefficients (``S`` must match ``shapedirs``).
        pose_rotmats: ``[N, J, 3, 3]`` local joint rotations, index 0 = global orientation.
        v_template: ``[V, 3]`` rest-pose template vertices.
        shapedirs: ``[V, 3, S]`` shape blend shapes.
        posedirs: ``[P, 3V]`` pose blend shapes, ``P = 9 (J - 1)`` (the layout of the
            official checkpoint buffer ``smpl.posedirs`` ``[207, 20670]``), or ``None``
            when the model has none (all zero).
        J_regressor: ``[J, V]`` dense joint regressor.
        parents: ``[J]`` int64 kinematic tree (``-1`` for the root).
        lbs_weights: ``[V, J]`` skinning weights (rows sum to 1).
        levels: optional precomputed :func:`kinematic_levels` of ``parents``.
        pose_blend: optional replacement for the product ``[N, P] @ posedirs -> [N, 3V]``
            (the hook :mod:`diffmesh.accel` uses for a pre-packed kernel).

    Returns:
        verts: ``[N, V, 3]`` posed vertices.
        joints: ``[N, J, 3]`` posed joints.
    """
    n = pose_rotmats.shape[0]
    num_joints = J_regressor.shape[0]

    v_shaped = v_template + blend_shapes(betas, shapedirs)  # [N, V, 3]
    joints_rest = vertices_to_joints(J_regressor, v_shaped)  # [N, J, 3]

    if posedirs is None:  # a model without pose blend shapes (e.g. the open body model)
        v_posed = v_shaped
    else:
        feature = pose_feature(pose_rotmats)  # [N, P]
        pose_offsets = feature @ posedirs if pose_blend is None else pose_blend(feature)  # [N, 3V]
        v_posed = v_shaped + pose_offsets.reshape(n, -1, 3)  # [N, 3V] -> [N, V, 3]

    posed_joints, rel_transforms = batch_rigid_transform(
        pose_rotmats, joints_rest, parents, levels
    )

    # Blend the per-joint transforms per vertex with ONE matmul over the whole batch:
    # W [V, J] @ A [J, N·12] -> [V, N·12] (a batch of N small [V,J]x[J,12] products is
    # several times slower on CPU). Only the top 3x4 block of each transform is needed.
    num_verts = lbs_weights.shape[0]
    A = rel_transforms[..., :3, :].reshape(n, num_joints, 12).transpose(0, 1).reshape(num_joints, n * 12)
    T = torch.mm(lbs_weights, A).reshape(num_verts, n, 3, 4).transpose(0, 1)  # [N, V, 3, 4] view
    # v = T_rot @ v_posed + T_transl as three fused multiply-adds over [N, V, 3]
    # (N·V tiny 3x3 matmuls are ~10x slower).
    verts = T[..., 3].addcmul(T[..., 0], v_posed[..., 0:1])
    verts.addcmul_(T[..., 1], v_posed[..., 1:2]).addcmul_(T[..., 2], v_posed[..., 2:3])  # [N, V, 3]
    return verts, posed_joints
