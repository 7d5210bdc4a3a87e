#!/usr/bin/env python
"""Held-out video accuracy: ``diffmesh infer`` on rendered clips it never saw, against ground truth.

The clips (``benchmarks/data/video_v1``, made by ``tools/make_video_benchmark.py``: Anny bodies,
held-out motion capture and procedural motions, rooms, every camera azimuth) are run through the
real user path, one subprocess per clip and system::

    python benchmarks/bench_video_accuracy.py                       # default weights, all clips
    python benchmarks/bench_video_accuracy.py --system fast="" --system flip="--flip" \
        --stills 2 --out results.json

Scores, on the 12 limb joints shared by every skeleton (:data:`diffmesh.conventions.LIMB_JOINTS`):

- ``pa_mpjpe_mm``: MPJPE after a per-frame similarity (Procrustes) alignment;
- ``mpjpe_mm``: MPJPE after subtracting the hip midpoint (orientation in the camera frame counts);
- ``accel_mm``: acceleration error (mm/frame^2) of the hip-aligned joints over consecutive frames;
- ``facing``: fraction of frames whose torso faces the right way: the sign, along the optical axis,
  of the normal of the hip-shoulder plane, against the ground truth (frames where the true torso
  is within ~6 deg of side-on are left out);
- ``reproj_px`` / ``reproj_pct``: the mesh's joints projected with the result's camera ``K``
  against the *detected* 2-D keypoints the model was given (px, and % of the person's height);
- ``kp2d_pct``: the detected 2-D keypoints against the true 2-D joints (% of the person's
  height): how much of the error the detector brings in;
- ``detected``: fraction of frames with a result.

World-frame scores (:mod:`diffmesh.world_metrics`; WHAM / GVHMR definitions), when ``result.npz`` has the
world keys (``floor_normal_cam``, ``joints_3d_world``, ``foot_contact``, ``joints_3d_world_raw``),
else NaN ("–"); the truth's world is Anny's (z up, floor z = 0) through ``R_w2c``, ``t_w2c``:

- ``floor_deg``: angle between the predicted and true floor normal in each frame's camera;
- ``w_mpjpe_mm`` / ``wa_mpjpe_mm``: W-MPJPE100 / WA-MPJPE100 of the limb joints (100-frame
  segments aligned by a similarity fitted on their first two frames / on the whole segment);
- ``rte_pct``: root (hip midpoint) error after one rigid alignment, % of the true path (clips whose
  true root travels under 1 m: NaN);
- ``slide_mm``: horizontal motion of the ankles (mm/frame) where the *true* ankle is planted
  (within 0.2 m of the floor, slower than 0.3 m/s); ``slide_own_mm``: the same where the result's
  own ``foot_contact`` says planted;
- ``jitter``: mean jerk of the limb joints, m/s^3 (WHAM and GVHMR tabulate it / 10);
- ``raw_*``: sliding and jitter of ``joints_3d_world_raw``, before the foot clean-up;
- ``cam_*``: the same world scores of ``joints_3d_cam`` used as if it were the world (camera y
  axis vertical): the baseline a world frame has to beat.

World tables with no value at all are left out of the markdown (they stay in the JSON, as NaN).

BlazePose's own 3-D output (``pose_world_landmarks``, hip-centred metres) is scored the same way
in the same run (column ``blazepose-world``; no reprojection: it has no camera placement);
``--blazepose lite|heavy`` scores another BlazePose landmark model too (``blazepose-world-heavy``).
``--stills K`` also runs K frames per clip as JPEG photos (``diffmesh infer photo.jpg``);
A system whose arguments hold ``--live`` runs live mode (read without pacing: no frame dropped) and
is scored from ``live.jsonl`` (no world frame).
``--pose NAME="ARGS"`` also runs ``diffmesh pose`` (3-D joints, scored like BlazePose's: no
reprojection), column ``pose NAME``.
Scores are per clip, then the mean over the clips of each motion category and over all clips.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from diffmesh.conventions import BLAZEPOSE_JOINTS, H36M_JOINTS, LIMB_JOINTS, limb_indices
from diffmesh.metrics import compute_error_accel, p_mpjpe
from diffmesh.world_metrics import (
    floor_angle_error_deg,
    foot_sliding_mm,
    foot_sliding_true_contact_mm,
    jitter,
    root_trajectory_error,
    w_mpjpe,
    wa_mpjpe,
)

logger = logging.getLogger("bench_video_accuracy")

DEFAULT_CLIPS = Path(__file__).resolve().parent / "data" / "video_v1"
BLAZEPOSE = "blazepose-world"
CAMERA_METRICS = ("pa_mpjpe_mm", "mpjpe_mm", "accel_mm", "facing", "reproj_px", "reproj_pct", "kp2d_pct", "detected")
#: World-frame scores (:func:`score_world`), each beside its before-clean-up (``raw_``) and
#: camera-frame-as-world (``cam_``) variant.
WORLD_METRICS = ("floor_deg", "w_mpjpe_mm", "cam_w_mpjpe_mm", "wa_mpjpe_mm", "cam_wa_mpjpe_mm", "rte_pct", "cam_rte_pct",
                 "slide_mm", "raw_slide_mm", "cam_slide_mm", "slide_own_mm", "raw_slide_own_mm",
                 "jitter", "raw_jitter", "cam_jitter")  # fmt: skip
METRICS = CAMERA_METRICS + WORLD_METRICS
_LIMB_H36M = list(limb_indices(H36M_JOINTS))
_LIMB_BLAZE = list(limb_indices(BLAZEPOSE_JOINTS))
_J = {name: i for i, name in enumerate(LIMB_JOINTS)}
#: |cos| of the true torso normal with the optical axis below which a frame is side-on (not scored).
SIDE_ON_COS = 0.1
#: The feet in the order of ``foot_contact`` (left, right), as limb-joint indices: the ankles.
_FEET = [_J["left_ankle"], _J["right_ankle"]]
#: Anny's world axis that points up (z); diffmesh's world (and a camera frame used as one) has y.
_TRUE_UP_AXIS, _PRED_UP_AXIS = 2, 1


# ------------------------------------------------------------------ scoring (pure functions)


def hip_centred(j: np.ndarray) -> np.ndarray:
    """``[T, 12, 3]`` minus the midpoint of the two hips."""
    return j - 0.5 * (j[:, _J["left_hip"]] + j[:, _J["right_hip"]])[:, None]


def torso_normal_z(j: np.ndarray) -> np.ndarray:
    """Optical-axis component ``[T]`` of the unit normal of the hip-shoulder plane
    (left-to-right hips x hips-to-shoulders; the same formula for prediction and ground truth)."""
    across = j[:, _J["right_hip"]] - j[:, _J["left_hip"]]
    up = 0.5 * (j[:, _J["left_shoulder"]] + j[:, _J["right_shoulder"]] - j[:, _J["left_hip"]] - j[:, _J["right_hip"]])
    n = np.cross(across, up)
    return n[:, 2] / np.maximum(np.linalg.norm(n, axis=1), 1e-9)


def score_3d(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray) -> dict[str, float]:
    """Metres ``pred, gt [T, 12, 3]``, ``valid [T]`` → pa_mpjpe_mm, mpjpe_mm, accel_mm, facing, detected."""
    out = {"detected": float(valid.mean()) if len(valid) else 0.0}
    if valid.sum() == 0:
        return out | {"pa_mpjpe_mm": float("nan"), "mpjpe_mm": float("nan"), "accel_mm": float("nan"), "facing": float("nan")}
    p, g = pred[valid].astype(np.float64), gt[valid].astype(np.float64)
    out["pa_mpjpe_mm"] = float(p_mpjpe(p, g).mean() * 1000)
    out["mpjpe_mm"] = float(np.linalg.norm(hip_centred(p) - hip_centred(g), axis=-1).mean() * 1000)
    filled = np.where(valid[:, None, None], pred, 0.0).astype(np.float64)
    accel = compute_error_accel(hip_centred(gt.astype(np.float64)), hip_centred(filled), vis=valid) if len(valid) > 2 else []
    out["accel_mm"] = float(np.mean(accel) * 1000) if len(accel) else float("nan")
    nz_gt, nz_pred = torso_normal_z(g), torso_normal_z(p)
    scored = np.abs(nz_gt) >= SIDE_ON_COS
    out["facing"] = float((np.sign(nz_gt[scored]) == np.sign(nz_pred[scored])).mean()) if scored.any() else float("nan")
    return out


def score_reprojection(joints_cam: np.ndarray, K: np.ndarray, kp2d: np.ndarray, valid: np.ndarray,
                       height_px: np.ndarray) -> dict[str, float]:  # fmt: skip
    """Mesh joints ``[T, 12, 3]`` projected with ``K [T, 3, 3]`` against detected ``kp2d [T, 12, 3]``."""
    v = valid & (kp2d[..., 2].max(axis=1) > 0)
    if not v.any():
        return {"reproj_px": float("nan"), "reproj_pct": float("nan")}
    X, k = joints_cam[v].astype(np.float64), K[v].astype(np.float64)
    uv = np.einsum("tij,tkj->tki", k, X)
    uv = uv[..., :2] / uv[..., 2:3]
    err = np.linalg.norm(uv - kp2d[v, :, :2], axis=-1)  # [T', 12]
    conf = kp2d[v, :, 2] > 0
    per_frame = np.array([e[c].mean() if c.any() else np.nan for e, c in zip(err, conf)])
    return {"reproj_px": float(np.nanmean(per_frame)), "reproj_pct": float(np.nanmean(per_frame / height_px[v]) * 100)}


def hip_midpoint(j: np.ndarray) -> np.ndarray:
    """``[T, 12, 3]`` → ``[T, 3]``: the midpoint of the two hips (the root of the world scores)."""
    return 0.5 * (j[:, _J["left_hip"]] + j[:, _J["right_hip"]])


def true_world_joints(gt: dict[str, np.ndarray], frames: np.ndarray) -> np.ndarray:
    """The true limb joints ``[T, 12, 3]`` of ``frames`` in Anny's world (z up, floor z = 0):
    ``R_w2cᵀ (X_cam − t_w2c)``."""
    R, t = gt["R_w2c"][frames].astype(np.float64), gt["t_w2c"][frames].astype(np.float64)
    return np.einsum("tji,tkj->tki", R, gt["joints_cam"][frames].astype(np.float64) - t[:, None])


def score_trajectory(joints: np.ndarray, valid: np.ndarray, true_world: np.ndarray, fps: float,
                     contact: np.ndarray | None = None) -> dict[str, float]:  # fmt: skip
    """World scores of limb joints ``[T, 12, 3]`` (metres, a frame whose y axis is vertical) against
    the true world joints ``[T, 12, 3]`` (z up): w_mpjpe_mm, wa_mpjpe_mm, rte_pct (over the ``valid``
    frames, gaps closed as WHAM and GVHMR do; NaN under 3), slide_mm, slide_own_mm (with
    ``contact [T, 2]``, else NaN), jitter (across gaps: not scored)."""
    nan = float("nan")
    out = {"w_mpjpe_mm": nan, "wa_mpjpe_mm": nan, "rte_pct": nan}
    if valid.sum() >= 3:
        p, g = joints[valid].astype(np.float64), true_world[valid]
        out["w_mpjpe_mm"] = float(w_mpjpe(p, g).mean())
        out["wa_mpjpe_mm"] = float(wa_mpjpe(p, g).mean())
        out["rte_pct"] = _nanmean(list(root_trajectory_error(hip_midpoint(p), hip_midpoint(g))))
    gapped = np.where(valid[:, None, None], joints, np.nan).astype(np.float64)
    feet = gapped[:, _FEET]
    out["slide_mm"] = foot_sliding_true_contact_mm(feet, true_world[:, _FEET], fps, up_axis=_PRED_UP_AXIS,
                                                   true_up_axis=_TRUE_UP_AXIS)  # fmt: skip
    out["slide_own_mm"] = foot_sliding_mm(feet, contact, up_axis=_PRED_UP_AXIS) if contact is not None else nan
    out["jitter"] = jitter(gapped, fps)
    return out


def score_world(res: dict[str, np.ndarray] | None, gt: dict[str, np.ndarray], frames: np.ndarray) -> dict[str, float]:
    """The :data:`WORLD_METRICS` of a result.npz against the truth of ``frames``; NaN for every
    score whose keys the result (or truth) lacks."""
    out = dict.fromkeys(WORLD_METRICS, float("nan"))
    if res is None or "R_w2c" not in gt or "frame_indices" not in res or "valid" not in res:
        return out
    T, fps = len(frames), float(gt.get("fps", 30.0))
    row = {int(f): i for i, f in enumerate(res["frame_indices"])}
    rows = np.array([row.get(int(f), -1) for f in frames], dtype=np.int64)
    have = rows >= 0
    present = have.copy()
    present[have] = np.asarray(res["valid"], dtype=bool)[rows[have]]

    normal = res.get("floor_normal_cam")
    if normal is not None and have.any():
        normal = np.asarray(normal, dtype=np.float64)
        n_pred = normal if normal.ndim == 1 else normal[rows[have]]
        n_true = gt["R_w2c"][frames[have]].astype(np.float64)[:, :, 2]  # the world's z axis in each camera
        out["floor_deg"] = _nanmean(list(np.atleast_1d(floor_angle_error_deg(n_pred, n_true))))

    true_world = true_world_joints(gt, frames)
    contact = None
    if "foot_contact" in res:
        contact = np.zeros((T, 2), dtype=bool)
        contact[have] = np.asarray(res["foot_contact"], dtype=bool)[rows[have]]
    for key, prefix in (("joints_3d_world", ""), ("joints_3d_world_raw", "raw_"), ("joints_3d_cam", "cam_")):
        if key not in res:
            continue
        joints = np.full((T, len(LIMB_JOINTS), 3), np.nan)
        joints[have] = np.asarray(res[key], dtype=np.float64)[rows[have]][:, _LIMB_H36M]
        valid = present & np.isfinite(joints).all(axis=(1, 2))
        scores = score_trajectory(joints, valid, true_world, fps, contact if prefix != "cam_" else None)
        out |= {prefix + m: v for m, v in scores.items() if prefix + m in out}
    return out


# ------------------------------------------------------------------ running the user path


def load_clips(clip_dir: Path, limit: int | None = None) -> list[dict]:
    """The clips of a benchmark folder: ``NAME.mp4`` + ``NAME.npz`` pairs, sorted by name."""
    if not clip_dir.is_dir():
        raise FileNotFoundError(f"clip folder {str(clip_dir)!r} does not exist; pass the folder made by tools/make_video_benchmark.py")
    clips = []
    for npz in sorted(clip_dir.glob("*.npz")):
        video = npz.with_suffix(".mp4")
        if not video.is_file():
            raise FileNotFoundError(f"{str(npz)!r} has no video {video.name} beside it; regenerate the folder")
        with np.load(npz, allow_pickle=False) as d:
            gt = {k: d[k] for k in d.files}
        if tuple(str(s) for s in gt["joint_names"]) != LIMB_JOINTS:
            raise ValueError(f"{str(npz)!r}: joint_names {list(gt['joint_names'])} are not {list(LIMB_JOINTS)}")
        clips.append({"name": npz.stem, "video": video, "gt": gt, "category": str(gt["category"])})
    if not clips:
        raise FileNotFoundError(f"clip folder {str(clip_dir)!r} holds no NAME.mp4 + NAME.npz pairs; pass the folder made by tools/make_video_benchmark.py")
    return clips[:limit] if limit else clips


def run_infer(media: Path, out_dir: Path, extra: list[str], timeout: float) -> dict[str, np.ndarray] | None:
    """``diffmesh infer MEDIA -o OUT_DIR --no-overlay --no-animation EXTRA`` → result.npz arrays,
    or None when it found no person (logged)."""
    live = "--live" in extra  # live mode, read without pacing so that no frame is dropped: live.jsonl
    cmd = [sys.executable, "-m", "diffmesh.cli", "infer", str(media), "-o", str(out_dir), "--no-overlay", "--no-animation", *extra,
           *(["--live-no-pacing"] if live else [])]  # fmt: skip
    logger.debug("running %s", shlex.join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    result = out_dir / ("live.jsonl" if live else "result.npz")
    if proc.returncode != 0 or not result.is_file():
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        logger.warning("%s: diffmesh infer exited %d: %s", media.name, proc.returncode, last)
        return None
    if live:
        return read_live(result, media)
    with np.load(result, allow_pickle=False) as d:
        return {k: d[k] for k in d.files}


def read_live(path: Path, media: Path) -> dict[str, np.ndarray]:
    """``live.jsonl`` as the result.npz arrays the scores read (camera-frame joints, keypoints, the
    live run's intrinsics; no world frame)."""
    from diffmesh.geometry.camera import default_intrinsics
    from diffmesh.io.video import probe_video

    lines = [json.loads(x) for x in path.read_text().splitlines()]
    info = probe_video(media)
    rows = [r for r in lines if r["person"]]
    return {"frame_indices": np.array([r["frame"] for r in rows], np.int64), "valid": np.ones(len(rows), bool),
            "joints_3d_cam": np.array([r["joints_3d_cam"] for r in rows], np.float64).reshape(-1, 17, 3),
            "keypoints_2d": np.array([r["keypoints_2d"] for r in rows], np.float64).reshape(-1, 17, 3),
            "K": np.tile(default_intrinsics(info.width, info.height), (len(rows), 1, 1))}  # fmt: skip


def score_result(res: dict[str, np.ndarray] | None, gt: dict[str, np.ndarray], frames: np.ndarray) -> dict[str, float]:
    """A result.npz against the ground truth of ``frames`` (video frame indices)."""
    T = len(frames)
    pred = np.zeros((T, 12, 3))
    kp2d = np.zeros((T, 12, 3))
    K = np.tile(np.eye(3), (T, 1, 1))
    valid = np.zeros(T, dtype=bool)
    if res is not None:
        row = {int(f): i for i, f in enumerate(res["frame_indices"])}
        for t, f in enumerate(frames):
            i = row.get(int(f))
            if i is not None and bool(res["valid"][i]) and np.isfinite(res["joints_3d_cam"][i]).all():
                pred[t], kp2d[t], K[t], valid[t] = res["joints_3d_cam"][i, _LIMB_H36M], res["keypoints_2d"][i, _LIMB_H36M], res["K"][i], True
    scores = score_3d(pred, gt["joints_cam"][frames], valid)
    kp_err = np.linalg.norm(kp2d[valid, :, :2] - gt["joints_2d"][frames][valid], axis=-1).mean(axis=1)
    scores["kp2d_pct"] = float(np.mean(kp_err / gt["height_px"][frames][valid]) * 100) if valid.any() else float("nan")
    return scores | score_reprojection(pred, K, kp2d, valid, gt["height_px"][frames]) | score_world(res, gt, frames)


def blazepose_column(model: str) -> str:
    """The results column of BlazePose's world landmarks from one landmark model (``full``: :data:`BLAZEPOSE`)."""
    return BLAZEPOSE if model == "full" else f"{BLAZEPOSE}-{model}"


def blazepose_world(video: Path, model: str = "full") -> tuple[np.ndarray, np.ndarray]:
    """BlazePose ``pose_world_landmarks`` (landmark model ``model``) on every frame (video mode, the
    pipeline's settings) → limb joints ``[T, 12, 3]`` (metres, hip-centred) and ``valid [T]``."""
    from diffmesh.io.video import iter_frames
    from diffmesh.pipelines.keypoints import PoseDetector

    joints, valid = [], []
    with PoseDetector(min_detection_confidence=0.3, model=model) as det:
        for frame in iter_frames(video, threads=1):
            found = det.detect_with_world(frame.image)
            ok = found is not None and found[1] is not None
            joints.append(found[1][_LIMB_BLAZE] if ok else np.zeros((12, 3), np.float32))
            valid.append(ok)
    return np.stack(joints), np.array(valid)


def extract_stills(video: Path, picks: list[int], folder: Path) -> list[Path]:
    """Frames ``picks`` of a video as JPEG photos (quality 95)."""
    from PIL import Image

    from diffmesh.io.video import iter_frames

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for frame in iter_frames(video, threads=1):
        if frame.index in picks:
            p = folder / f"{video.stem}_f{frame.index:03d}.jpg"
            Image.fromarray(frame.image).save(p, quality=95)
            paths.append(p)
    return paths


# ------------------------------------------------------------------ the benchmark


def run_pose(video: Path, out_dir: Path, extra: list[str], timeout: float) -> tuple[np.ndarray, np.ndarray] | None:
    """``diffmesh pose VIDEO -o OUT_DIR --no-overlay --no-bvh EXTRA`` → limb joints ``[T, 12, 3]`` and
    ``valid [T]`` from ``pose3d.npz`` (rows: the video's frames), or None when it failed (logged)."""
    cmd = [sys.executable, "-m", "diffmesh.cli", "pose", str(video), "-o", str(out_dir), "--no-overlay", "--no-bvh", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not (out_dir / "pose3d.npz").is_file():
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        logger.warning("%s: diffmesh pose exited %d: %s", video.name, proc.returncode, last)
        return None
    with np.load(out_dir / "pose3d.npz", allow_pickle=False) as d:
        joints, valid = d["joints_3d"][:, _LIMB_H36M].astype(np.float64), d["valid"].astype(bool)
    valid &= np.isfinite(joints).all(axis=(1, 2))
    return np.where(valid[:, None, None], joints, 0.0), valid


def evaluate(clips: list[dict], systems: dict[str, list[str]], work: Path, stills: int, timeout: float,
             blazepose: tuple[str, ...] = ("full",), pose: dict[str, list[str]] | None = None) -> dict:  # fmt: skip
    """Score every clip under every system; returns ``{"clips": {name: {system: scores}}, ...}``."""
    per_clip: dict[str, dict[str, dict[str, float]]] = {}
    for n, clip in enumerate(clips):
        gt, name = clip["gt"], clip["name"]
        T = len(gt["joints_cam"])
        frames = np.arange(T)
        per_clip[name] = {}
        for system, extra in systems.items():
            res = run_infer(clip["video"], work / system / name, extra, timeout)
            per_clip[name][system] = score_result(res, gt, frames)
            if stills:
                picks = sorted({int(i) for i in np.linspace(T * 0.1, T * 0.9, stills).round()})
                scores = []
                for photo in extract_stills(clip["video"], picks, work / "stills"):
                    frame = np.array([int(photo.stem.rsplit("_f", 1)[1])])
                    res = run_infer(photo, work / f"{system}-stills" / photo.stem, extra, timeout)
                    if res is not None:
                        res = dict(res, frame_indices=frame)  # a photo's frame 0 is this video frame
                    scores.append(score_result(res, gt, frame))
                per_clip[name][f"{system} (stills)"] = {m: _nanmean([s.get(m, np.nan) for s in scores]) for m in METRICS}
        for system, extra in (pose or {}).items():  # `diffmesh pose`: 3-D joints only
            found = run_pose(clip["video"], work / f"pose-{system}" / name, extra, timeout)
            joints, valid = found if found is not None else (np.zeros((T, 12, 3)), np.zeros(T, bool))
            per_clip[name][f"pose {system}"] = score_3d(joints, gt["joints_cam"], valid) | dict.fromkeys(("reproj_px", "reproj_pct", "kp2d_pct"), float("nan"))
        for model in blazepose:
            joints, valid = blazepose_world(clip["video"], model)
            per_clip[name][blazepose_column(model)] = score_3d(joints, gt["joints_cam"], valid) | dict.fromkeys(("reproj_px", "reproj_pct", "kp2d_pct"), float("nan"))
        logger.info("[%d/%d] %s (%s): %s", n + 1, len(clips), name, clip["category"],
                    "; ".join(f"{s}: PA {v['pa_mpjpe_mm']:.0f} mm, MPJPE {v['mpjpe_mm']:.0f} mm" for s, v in per_clip[name].items()))  # fmt: skip
    categories = {c["name"]: c["category"] for c in clips}
    return {"clips": per_clip, "categories": categories, "summary": summarize(per_clip, categories)}


def _nanmean(values: list[float]) -> float:
    a = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")


def summarize(per_clip: dict[str, dict[str, dict[str, float]]], categories: dict[str, str]) -> dict:
    """Mean over the clips of each category (and ``"mean"`` over all clips), per system and metric."""
    systems = list(next(iter(per_clip.values())))
    groups: dict[str, list[str]] = {}
    for name, cat in categories.items():
        groups.setdefault(cat, []).append(name)
    groups["mean"] = list(per_clip)
    return {g: {s: {m: _nanmean([per_clip[c][s].get(m, np.nan) for c in names]) for m in METRICS} for s in systems}
            for g, names in sorted(groups.items(), key=lambda kv: (kv[0] == "mean", kv[0]))}  # fmt: skip


_BASELINE = "camera-frame output used as the world"
_WORLD_LABELS = {
    "floor_deg": "floor normal angle error (deg)",
    "w_mpjpe_mm": "W-MPJPE100, limb joints (mm)", "cam_w_mpjpe_mm": f"W-MPJPE100 (mm), {_BASELINE}",
    "wa_mpjpe_mm": "WA-MPJPE100, limb joints (mm)", "cam_wa_mpjpe_mm": f"WA-MPJPE100 (mm), {_BASELINE}",
    "rte_pct": "root trajectory error (% of the true path; clips travelling >= 1 m)",
    "cam_rte_pct": f"root trajectory error (%), {_BASELINE}",
    "slide_mm": "foot sliding where the true foot is planted (mm/frame)",
    "raw_slide_mm": "foot sliding where the true foot is planted (mm/frame), before clean-up",
    "cam_slide_mm": f"foot sliding where the true foot is planted (mm/frame), {_BASELINE}",
    "slide_own_mm": "foot sliding where the result says planted (mm/frame)",
    "raw_slide_own_mm": "foot sliding where the result says planted (mm/frame), before clean-up",
    "jitter": "jitter, limb joints (m/s³)", "raw_jitter": "jitter (m/s³), before clean-up",
    "cam_jitter": f"jitter (m/s³), {_BASELINE}",
}  # fmt: skip
_ONE_DECIMAL = ("reproj_pct", "accel_mm", "kp2d_pct", "floor_deg", "rte_pct", "cam_rte_pct", "slide_mm", "raw_slide_mm",
                "cam_slide_mm", "slide_own_mm", "raw_slide_own_mm")  # fmt: skip


def markdown(summary: dict, n_clips: dict[str, int]) -> str:
    """One table per metric: rows = categories + mean, columns = systems."""
    labels = {"pa_mpjpe_mm": "limb PA-MPJPE (mm)", "mpjpe_mm": "hip-aligned MPJPE (mm)", "accel_mm": "accel error (mm/frame²)",
              "facing": "torso facing right way (%)", "reproj_px": "reprojection vs detected 2-D (px)",
              "reproj_pct": "reprojection (% of person height)",
              "kp2d_pct": "detected 2-D keypoints vs true 2-D joints (% of person height)", "detected": "frames with a result (%)"}  # fmt: skip
    labels |= _WORLD_LABELS
    systems = list(summary["mean"])
    lines = []
    for m in METRICS:
        if m in WORLD_METRICS and not any(np.isfinite(row[s][m]) for row in summary.values() for s in systems):
            continue  # no system wrote this world output: no table (the JSON keeps the NaN)
        lines += [f"**{labels[m]}**", "", "| category | clips | " + " | ".join(systems) + " |", "|---|---|" + "---|" * len(systems)]
        for g, row in summary.items():
            cells = []
            for s in systems:
                v = row[s][m] * (100 if m in ("facing", "detected") else 1)
                cells.append("–" if not np.isfinite(v) else f"{v:.1f}" if m in _ONE_DECIMAL else f"{v:.0f}")
            name = f"**{g}**" if g == "mean" else g
            lines.append(f"| {name} | {n_clips[g]} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def parse_systems(values: list[str] | None) -> dict[str, list[str]]:
    if not values:
        return {"default": []}
    systems = {}
    for v in values:
        name, sep, extra = v.partition("=")
        if not sep or not name or name.startswith(BLAZEPOSE):
            raise ValueError(f"--system {v!r}: expected NAME=\"extra infer args\" (e.g. flip=\"--flip\"), NAME not {BLAZEPOSE!r}")
        systems[name] = shlex.split(extra)
    return systems


def machine() -> dict:
    import torch

    cpu = platform.processor()
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cores": os.cpu_count(),
            "date": datetime.date.today().isoformat(), "python": platform.python_version(), "torch": torch.__version__}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("clip_dir", nargs="?", default=str(DEFAULT_CLIPS), help="benchmark folder (default benchmarks/data/video_v1)")
    p.add_argument("--system", action="append", help='NAME="extra diffmesh infer args", repeatable (default: default="")')
    p.add_argument("--stills", type=int, default=0, help="also score K frames per clip run as JPEG photos")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    p.add_argument("--work", default=None, help="folder for the runs' outputs (default: a temporary folder)")
    p.add_argument("--limit", type=int, default=None, help="only the first N clips")
    p.add_argument("--no-blazepose", action="store_true", help="do not score BlazePose's world landmarks")
    p.add_argument("--blazepose", action="append", choices=("lite", "full", "heavy"), default=None,
                   help="score the world landmarks of this BlazePose landmark model (repeatable; default: full)")
    p.add_argument("--pose", action="append", metavar="NAME=ARGS",
                   help='also score `diffmesh pose` (3-D joints) with these extra arguments, column "pose NAME" (repeatable)')
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per diffmesh infer run")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        systems = parse_systems(args.system) if args.system or not args.pose else {}  # --pose alone: no infer runs
        clips = load_clips(Path(args.clip_dir), args.limit)
    except (FileNotFoundError, ValueError) as err:
        logger.error("%s", err)
        return 2
    logger.info("%d clips from %s; systems %s", len(clips), args.clip_dir, {k: shlex.join(v) for k, v in systems.items()})
    with tempfile.TemporaryDirectory(prefix="vbench_") as tmp:
        work = Path(args.work or tmp)
        blazepose = () if args.no_blazepose else tuple(dict.fromkeys(args.blazepose or ["full"]))
        results = evaluate(clips, systems, work, args.stills, args.timeout, blazepose,
                           parse_systems(args.pose) if args.pose else None)  # fmt: skip
    results |= {"command": shlex.join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
                "systems": {k: shlex.join(v) for k, v in systems.items()}, "clip_dir": str(args.clip_dir), "machine": machine()}  # fmt: skip
    n_clips = {g: sum(1 for c in results["categories"].values() if g in ("mean", c)) for g in results["summary"]}
    table = markdown(results["summary"], n_clips)
    results["markdown"] = table
    logger.info("results:\n%s", table)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1, allow_nan=True) + "\n")
        logger.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
