"""The network's body blended with the detector's own 3-D joints.

BlazePose gives, besides the 2-D keypoints the network reads, its own per-frame 3-D joints
(``pose_world_landmarks``: metres, hip-centred, camera axes). On the held-out video benchmark the
two estimates are about equally good (limb PA-MPJPE 96.7 mm for the packaged ``diffmesh-fusion``,
93.9 for BlazePose) and their errors are far from the same: their average is better than either
(84 mm). BlazePose's joints jitter from frame to frame (acceleration error 36 mm/frame² against
the network's 9), so they are smoothed over time first.

:func:`blend_joints` makes the target joints: per frame the detector's joints are turned onto the
network's (a rotation fitted on the limb and torso joints: the body's orientation stays the
network's, which faces the right way more often), smoothed over time, and averaged with the
network's by ``weight``. :func:`refine_limbs` then turns the body's limbs toward the target: each
thigh, shank, upper arm and forearm is swung (the least rotation, so the bone's twist is kept) from
its direction to the target's, parents first. :func:`fit_to_detector` then does the same toward
the detector's 2-D keypoints (:func:`snap_to_keypoints`), first turning the whole body about its
root so that its hips and shoulders follow them (:func:`turn_torso`). Bone lengths, shape and the
torso's own bend are the network's; the result is still a body of the body model, so meshes,
overlays and exports follow.

Off for official checkpoints (their outputs stay the official code's); on for the packaged
weights (``registry`` ``detector_blend``); ``--detector-blend W`` sets the weight, 0 turns it off.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from torch import nn

from diffmesh.conventions import H36M_JOINTS, SMPL_JOINTS, SMPL_PARENTS
from diffmesh.geometry.rotation_fit import fit_rotation, shortest_rotation
from diffmesh.pipelines.placement import PlacedMesh
from diffmesh.pipelines.prediction import MeshSequence, body_sequence
from diffmesh.pipelines.tracking import true_runs

__all__ = ["BLEND_SMOOTH_SIGMA", "KEYPOINT_SHARE_RATIO", "LIMB_CHAINS", "REFINE_ITERATIONS", "SNAP_MIN_CONFIDENCE", "blend_joints",
           "fit_to_detector", "hip_centred", "keypoint_share", "refine_limbs", "snap_to_keypoints", "turn_torso"]  # fmt: skip

#: Gaussian smoothing (frames) of the detector's joints before blending: takes BlazePose's
#: acceleration error from 36 to about the network's own (9 mm/frame²) at no cost in accuracy.
BLEND_SMOOTH_SIGMA = 1.5
#: Swing passes of :func:`refine_limbs`, one body-model pass each (tests/test_detector_blend.py: the
#: bones' directions end within 8.5 degrees of the target's after one pass, 3.7 after two; on the
#: held-out benchmark 1, 2 and 3 passes score the same, 85.8-85.9 mm).
REFINE_ITERATIONS = 1
#: :func:`snap_to_keypoints` moves only joints detected at least this confidently.
SNAP_MIN_CONFIDENCE = 0.5
#: :func:`fit_to_detector`'s 2-D step moves the joints ``min(1, KEYPOINT_SHARE_RATIO * weight)`` of
#: the way to the keypoints: the detector's 2-D keypoints are its most accurate output. On the
#: held-out video benchmark (with :func:`turn_torso`) a share of 0.75 at the default weight 0.5 gave
#: limb PA-MPJPE 81.4 mm and reprojection 2.9 % of height, against 81.7 mm and 3.1 % at 0.5.
KEYPOINT_SHARE_RATIO = 1.5
#: Frames whose rotations are worked on at once (in float64) by :func:`refine_limbs`.
CHUNK_FRAMES = 1024

_H = {name: i for i, name in enumerate(H36M_JOINTS)}
_S = {name: i for i, name in enumerate(SMPL_JOINTS)}
#: The joints whose positions fit the per-frame rotation of the detector onto the network.
_ALIGN = [_H[n] for n in ("right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "thorax",
                          "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist")]  # fmt: skip
#: Per limb: (SMPL joint that swings the upper bone, H36M joints at its ends), (SMPL joint that
#: swings the lower bone, H36M joints at its ends).
LIMB_CHAINS: tuple[tuple[tuple[int, int, int], tuple[int, int, int]], ...] = tuple(
    ((_S[f"{side}_{a}"], _H[f"{side}_{h0}"], _H[f"{side}_{h1}"]), (_S[f"{side}_{b}"], _H[f"{side}_{h1}"], _H[f"{side}_{h2}"]))
    for side in ("left", "right")
    for a, b, h0, h1, h2 in (("hip", "knee", "hip", "knee", "ankle"), ("shoulder", "elbow", "shoulder", "elbow", "wrist"))
)  # fmt: skip


def keypoint_share(weight: float) -> float:
    """How far the 2-D step moves the joints toward the keypoints at blend ``weight``: ``min(1, KEYPOINT_SHARE_RATIO * weight)``."""
    return min(1.0, KEYPOINT_SHARE_RATIO * weight)


def hip_centred(joints: np.ndarray) -> np.ndarray:
    """H36M joints ``[N, 17, 3]`` minus the midpoint of the two hips in each frame."""
    return joints - 0.5 * (joints[:, _H["left_hip"]] + joints[:, _H["right_hip"]])[:, None]


def _smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along axis 0 (edges repeated)."""
    if sigma <= 0 or len(x) < 2:
        return x
    r = max(1, int(round(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    pad = np.concatenate([np.repeat(x[:1], r, 0), x, np.repeat(x[-1:], r, 0)])
    return sum(w * pad[i : i + len(x)] for i, w in enumerate(k))


def blend_joints(model_joints: np.ndarray, detector_joints: np.ndarray, valid: np.ndarray, weight: float,
                 sigma: float = BLEND_SMOOTH_SIGMA) -> np.ndarray:  # fmt: skip
    """Target H36M joints ``[N, 17, 3]`` (hip-centred, the network's axes): ``(1 - weight)`` the
    network's plus ``weight`` the detector's, the latter turned onto the network's per frame and
    smoothed (``sigma`` frames) within each run of ``valid`` frames. Rows outside ``valid``: the network's.

    Args:
        model_joints: ``[N, 17, 3]`` the network's body (any origin; metres).
        detector_joints: ``[N, 17, 3]`` the detector's 3-D joints in H36M order (metres).
        valid: ``[N]`` frames where both exist.
        weight: the detector's share, in [0, 1].
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight!r}; 0 turns the blend off")
    if model_joints.shape != detector_joints.shape or model_joints.shape[1:] != (17, 3) or len(valid) != len(model_joints):
        raise ValueError(f"model_joints and detector_joints must both be [N, 17, 3] with valid [N]; got "
                         f"{list(model_joints.shape)}, {list(detector_joints.shape)} and {list(np.shape(valid))}")  # fmt: skip
    ours = hip_centred(np.asarray(model_joints, np.float64))
    out = ours.copy()
    valid = np.asarray(valid, bool) & np.isfinite(ours).all((1, 2)) & np.isfinite(detector_joints).all((1, 2))
    if weight == 0.0 or not valid.any():
        return out
    det = hip_centred(np.asarray(detector_joints, np.float64))
    for a, b in true_runs(valid):
        G = fit_rotation(det[a:b, _ALIGN], ours[a:b, _ALIGN])  # the detector's body onto the network's
        turned = _smooth(np.einsum("nij,nkj->nki", G, det[a:b]), sigma)
        out[a:b] = (1.0 - weight) * ours[a:b] + weight * turned
    return out


def snap_to_keypoints(joints_cam: np.ndarray, keypoints: np.ndarray, K: np.ndarray, rows: np.ndarray, weight: float,
                      min_confidence: float = SNAP_MIN_CONFIDENCE, sigma: float = BLEND_SMOOTH_SIGMA) -> np.ndarray:  # fmt: skip
    """Camera-frame joints ``[N, 17, 3]`` moved ``weight`` of the way, across the image plane at their
    own depth, toward where the detected 2-D keypoints ``[N, 17, 3]`` (pixels, confidence) say they
    are (joints below ``min_confidence`` and frames outside ``rows`` stay); the moves are smoothed
    over ``sigma`` frames (the keypoints jitter). The detector's 2-D keypoints are its most accurate
    output (3 % of the person's height on the held-out clips)."""
    out = np.asarray(joints_cam, np.float64).copy()
    rows = np.asarray(rows, bool) & np.isfinite(out).all((1, 2))
    z = np.where(rows[:, None, None], out[..., 2:3], 1.0)
    f = np.array([K[0, 0], K[1, 1]])
    proj = out[..., :2] / z * f + K[:2, 2]
    use = (rows[:, None] & (keypoints[..., 2] >= min_confidence) & (z[..., 0] > 0))[..., None]
    shift = np.where(use, weight * (keypoints[..., :2] - proj) * z / f, 0.0)
    for a, b in true_runs(rows):  # the keypoints' jitter smoothed out
        shift[a:b] = _smooth(shift[a:b], sigma)
    out[..., :2] += shift
    return out


def fit_to_detector(body_model: nn.Module, mesh: MeshSequence, joints: np.ndarray, target: np.ndarray, keypoints: np.ndarray,
                    rows: np.ndarray, K: np.ndarray, weight: float, place: Callable[[MeshSequence], PlacedMesh]) -> PlacedMesh:  # fmt: skip
    """Both steps of the blend, the same offline and live: the limbs swung toward ``target``
    (:func:`blend_joints`'s joints, hip-centred), the body placed (``place``), its joints moved
    :func:`keypoint_share` of the way toward the 2-D ``keypoints``
    (:func:`snap_to_keypoints`), the body turned about its root toward those (:func:`turn_torso`) and
    its limbs swung toward them, and the body placed again (returned).

    Args:
        joints: ``[N, 17, 3]`` the network body's H36M joints (root-relative, as ``place`` gives them).
        keypoints: ``[N, 17, 3]`` detected 2-D keypoints (pixels, confidence); ``K`` the camera.
        rows: ``[N]`` bool, the frames with a detected person (others are left as they are).
        place: poses and places a body: ``joints_m`` root-relative, ``transl`` camera frame.
    """
    placed = place(refine_limbs(body_model, mesh, target, rows, current=joints))
    at = np.nan_to_num(placed.transl)[:, None]
    moved = snap_to_keypoints(placed.joints_m + at, keypoints, K, rows, keypoint_share(weight)) - at
    turned, current = turn_torso(placed.mesh, placed.joints_m, moved, rows)
    return place(refine_limbs(body_model, turned, moved, rows, current=current))


#: The joints whose moves turn the whole body about its root (:func:`turn_torso`).
_TORSO = [_H[n] for n in ("left_hip", "right_hip", "left_shoulder", "right_shoulder")]


def turn_torso(mesh: MeshSequence, joints: np.ndarray, target: np.ndarray, rows: np.ndarray
               ) -> tuple[MeshSequence, np.ndarray]:  # fmt: skip
    """``mesh`` turned about its root (its global orientation) so that its hips and shoulders best
    match ``target``'s, and its joints turned the same way (``joints``, ``target``: ``[N, 17, 3]``
    root-relative; frames outside ``rows`` unchanged)."""
    r = np.flatnonzero(np.asarray(rows, bool) & np.isfinite(target).all((1, 2)) & np.isfinite(joints).all((1, 2)))
    rot, out = mesh.rotmats.copy(), np.asarray(joints, np.float64).copy()
    if len(r):
        G = fit_rotation(out[r][:, _TORSO], np.asarray(target, np.float64)[r][:, _TORSO])
        rot[r, 0] = (G @ rot[r, 0].astype(np.float64)).astype(np.float32)  # only the roots: no float64 copy of every rotation
        out[r] = np.einsum("nij,nkj->nki", G, out[r])
    return MeshSequence(rot, mesh.betas), out


def _swing(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``[N, 3, 3]`` the least rotations taking directions ``u`` to ``v`` (``[N, 3]``, any length;
    identity where either is ~0)."""
    unit = lambda x: x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)  # noqa: E731
    return shortest_rotation(unit(u), unit(v))


def _global_rotations(local: np.ndarray) -> np.ndarray:
    """``[N, 24, 3, 3]`` local SMPL rotations → global ones (the root's is its own)."""
    G = np.empty_like(local)
    for j, p in enumerate(SMPL_PARENTS):
        G[:, j] = local[:, j] if p < 0 else G[:, p] @ local[:, j]
    return G


def refine_limbs(body_model: nn.Module, mesh: MeshSequence, target: np.ndarray, rows: np.ndarray,
                 iterations: int = REFINE_ITERATIONS, current: np.ndarray | None = None) -> MeshSequence:  # fmt: skip
    """``mesh`` with each limb's two bones swung toward ``target``'s (module docstring).

    The bones' ends are the body's H36M joints, regressed from the skinned vertices: a swing about
    the body model's joint moves them a little differently from a rigid bone, so the swing is
    repeated ``iterations`` times (one body-model pass each).

    Args:
        body_model: the body model the mesh is posed with (its H36M regressor gives the bones' ends).
        mesh: the network's per-frame body parameters.
        target: ``[N, 17, 3]`` H36M joints in the body's camera-oriented axes (:func:`blend_joints`).
        rows: ``[N]`` bool, the frames to refine (others are returned unchanged).
        current: ``[N, 17, 3]`` the mesh's H36M joints when already computed (saves the first pass's body model).
    """
    rows = np.asarray(rows, bool) & np.isfinite(target).all((1, 2))
    for _ in range(iterations if rows.any() else 0):
        mesh = _swing_limbs(body_model, mesh, target, rows, current)
        current = None
    return mesh


def _swing_limbs(body_model: nn.Module, mesh: MeshSequence, target: np.ndarray, rows: np.ndarray,
                 current: np.ndarray | None) -> MeshSequence:  # fmt: skip
    """One pass of :func:`refine_limbs`, :data:`CHUNK_FRAMES` frames at a time (each frame's rotations are
    its own: the working copies in float64 stay a few MB for any length)."""
    out = mesh.rotmats.copy()
    if current is None:
        current = np.zeros((len(out), 17, 3))
        for sl, joints, _ in body_sequence(body_model, mesh.rotmats, mesh.betas):
            current[sl] = joints.numpy()
    r_all = np.flatnonzero(rows)
    for start in range(0, len(r_all), CHUNK_FRAMES):
        r = r_all[start : start + CHUNK_FRAMES]
        rot = mesh.rotmats[r].astype(np.float64)
        G = _global_rotations(rot)
        J, T = current[r], target[r]
        for (upper, a, b), (lower, _, c) in LIMB_CHAINS:
            S1 = _swing(J[:, b] - J[:, a], T[:, b] - T[:, a])
            G_lower_old = G[:, lower]
            G[:, upper] = S1 @ G[:, upper]
            S2 = _swing(np.einsum("nij,nj->ni", S1, J[:, c] - J[:, b]), T[:, c] - T[:, b])
            G[:, lower] = S2 @ S1 @ G_lower_old
            parent = SMPL_PARENTS[upper]
            rot[:, upper] = np.swapaxes(G[:, parent], 1, 2) @ G[:, upper]
            rot[:, lower] = np.swapaxes(G[:, upper], 1, 2) @ G[:, lower]  # joints below keep their local rotations
        out[r] = rot.astype(np.float32)
    return MeshSequence(out, mesh.betas)
