"""3-D pose from a video: the packaged model by default, or an official MotionBERT pose checkpoint
(``infer_wild.py``'s recipe).

**Packaged (no checkpoint given)**: the default mesh model's H36M joints blended with the detector's
own 3-D joints (:func:`lift_track_packaged`, :mod:`diffmesh.pipelines.detector_blend`): metres,
hip-centred, camera axes. On the held-out rendered videos this is more accurate than either alone
(docs/benchmarks.md §5.4).

**Official checkpoint**:
The same decode → keypoints → tracking stages as ``diffmesh infer``, then the official 3-D pose
demo (INFERENCE.md §3): each tracked segment is normalised with one box (``crop_scale`` over the
whole segment, or ``--pixel``: centred on the image, scaled by half its shorter side), cut into
consecutive, non-overlapping chunks of ``clip_len`` frames (the last one shorter), and each chunk
goes through the network, with flip averaging when the config says ``flip: True``; ``rootrel``
configs get a zero root in every frame, the others a zero root depth in each chunk's first
frame. The result is ``X3D.npy [N, 17, 3]`` in the official layout (normalised units, or pixels
with ``--pixel``), one row per frame with a person; ``motion.bvh`` is the same motion as an
animated skeleton, scaled to a nominal body size (:data:`BVH_BODY_HEIGHT_M`; the packaged model's
joints are in metres already and keep their size).
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from diffmesh.geometry.crop import crop_scale
from diffmesh.geometry.flip import flip_data
from diffmesh.pipelines.model import ModelBundle
from diffmesh.pipelines.settings import InferSettings, Progress, no_progress
from diffmesh.pipelines.tracking import Track

logger = logging.getLogger(__name__)

__all__ = ["BVH_BODY_HEIGHT_M", "PoseModel", "joints_to_nominal_metres", "load_pose_model", "lift_track",
           "lift_track_packaged", "run_pose"]  # fmt: skip

#: ``motion.bvh``'s body size: the network's joints have no metric scale (normalised or pixel
#: units), so they are scaled to make the rest skeleton this tall from ankle to head top along
#: its bones (mean leg, spine, neck and head), in metres; about the mean Human3.6M subject.
BVH_BODY_HEIGHT_M = 1.6


@dataclass
class PoseModel:
    """A 3-D pose network (DSTformer with its 3-D head) and the config flags of the official demo."""

    network: nn.Module
    name: str
    clip_len: int = 243
    flip: bool = True
    rootrel: bool = False
    no_conf: bool = False


def load_pose_model(checkpoint: str | None, config: str | None, detector_3d: bool = True) -> PoseModel | ModelBundle:
    """An official 3-D pose checkpoint (``MB_ft_h36m``, ``MB_ft_h36m_global_lite``, pre-training) and its
    config; neither: the packaged default mesh model (``detector_3d``: the one that also reads the
    detector's 3-D joints, for videos; keypoint files have none) for :func:`lift_track_packaged`."""
    if checkpoint is None and config is None:
        from diffmesh.pipelines.model import default_model

        return default_model(detector_3d=detector_3d)
    if checkpoint is None or config is None:
        raise ValueError(
            "an official 3-D pose checkpoint needs its config: --checkpoint best_epoch.bin --config "
            "MB_ft_h36m_global_lite.yaml (or neither, for the packaged model)"
        )
    from diffmesh.files import read_config
    from diffmesh.registry import load_official

    net = load_official(checkpoint, config)
    if getattr(net, "head", None) is None or not hasattr(net, "get_representation"):
        raise ValueError(
            f"{checkpoint!r} is a {type(net).__name__}, not a 3-D pose model; pass a MotionBERT pose checkpoint "
            "(model_pos: MB_ft_h36m, MB_ft_h36m_global_lite or MB_pretrain) with its config"
        )
    cfg: dict[str, Any] = read_config(config)
    clip_len = int(cfg.get("clip_len", cfg.get("maxlen", 243)))
    return PoseModel(net.eval(), Path(config).name, clip_len, bool(cfg.get("flip", True)),
                     bool(cfg.get("rootrel", False)), bool(cfg.get("no_conf", False)))  # fmt: skip


def _pixel_normalize(kp: np.ndarray, width: int, height: int) -> np.ndarray:
    half = min(width, height) / 2.0
    out = kp.astype(np.float32, copy=True)
    out[..., 0] = (kp[..., 0] - width / 2.0) / half
    out[..., 1] = (kp[..., 1] - height / 2.0) / half
    return out


def lift_track(
    model: PoseModel, trk: Track, pixel: bool = False, size: tuple[int, int] = (0, 0), progress: Progress = no_progress
) -> np.ndarray:
    """``[N, 17, 3]`` float32 per frame (NaN where there is no person), in normalised units
    (``pixel``: the ``--pixel`` normalisation of an image of ``size = (width, height)``)."""
    out = np.full((len(trk.has_person), 17, 3), np.nan, np.float32)
    total, done = sum(len(s) for s in trk.segments), 0
    for seg in trk.segments:
        kp = trk.keypoints[seg.start : seg.end]
        x_seg = _pixel_normalize(kp, *size) if pixel else crop_scale(kp)
        for a in range(0, len(seg), model.clip_len):
            x = torch.from_numpy(np.ascontiguousarray(x_seg[a : a + model.clip_len]))[None].float()
            if model.no_conf:
                x = x[..., :2]
            with torch.inference_mode():
                y = model.network(x)
                if model.flip:
                    y = 0.5 * (y + flip_data(model.network(flip_data(x))))
            y = y[0].float().numpy()
            if model.rootrel:
                y[:, 0, :] = 0
            else:
                y[0, 0, 2] = 0
            out[seg.start + a : seg.start + a + len(y)] = y
            progress("model", done + a + len(y), total)
        done += len(seg)
    return out


def lift_track_packaged(bundle: ModelBundle, settings: InferSettings, trk: Track, K: np.ndarray,
                        progress: Progress = no_progress) -> np.ndarray:  # fmt: skip
    """``[N, 17, 3]`` float32 metres (hip-centred, camera axes; NaN where there is no person): the
    packaged mesh network's H36M joints blended with the detector's own 3-D joints where it found the
    person, then moved toward its 2-D keypoints across the image (placed with the intrinsics ``K``;
    :mod:`~diffmesh.pipelines.detector_blend`; ``settings.detector_blend``, else the model's own
    share; without detector joints, as from a keypoint file, the network's alone)."""
    from diffmesh.pipelines.detector_blend import blend_joints, hip_centred, keypoint_share, snap_to_keypoints
    from diffmesh.pipelines.model import prepare_model
    from diffmesh.pipelines.placement import place_sequence
    from diffmesh.pipelines.prediction import h36m_joints, predict_mesh
    from diffmesh.pipelines.stages import detector_blend_weight

    network = prepare_model(bundle, settings)
    normalization = settings.normalization or bundle.normalization
    mesh = predict_mesh(network, trk, settings.flip, settings.stride, settings.batch_windows, progress, normalization)
    joints = h36m_joints(bundle.body_model, mesh).astype(np.float64)
    weight = detector_blend_weight(bundle, settings)
    if trk.world is None or weight == 0:
        out = hip_centred(joints)
    else:
        rows = trk.detected & trk.has_person
        out = blend_joints(joints, trk.world, rows, weight)
        _, transl, _ = place_sequence(out, trk.keypoints, trk.has_person, trk.segments, K, settings.smooth_sigma)
        at = np.nan_to_num(transl)[:, None]
        out = snap_to_keypoints(out + at, trk.keypoints, K, rows, keypoint_share(weight)) - at
        out = hip_centred(out)
    out[~trk.has_person] = np.nan
    return out.astype(np.float32)


def joints_to_nominal_metres(x3d: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, float]:
    """``x3d [T, 17, 3]`` scaled so its rest skeleton is :data:`BVH_BODY_HEIGHT_M` tall, and the scale.

    The rest height is the sum of the median lengths (over the ``valid`` frames) of the mean of
    the two legs (thigh + shin), the two spine bones, and the neck and head bones.
    """
    from diffmesh.conventions import H36M_JOINTS
    from diffmesh.io.skeleton_bvh import median_bone_lengths

    length = dict(zip(H36M_JOINTS, median_bone_lengths(x3d, valid)))
    legs = 0.5 * (length["right_knee"] + length["right_ankle"] + length["left_knee"] + length["left_ankle"])
    height = legs + length["spine"] + length["thorax"] + length["nose"] + length["head_top"]
    if not height > 0:
        raise ValueError("the lifted skeleton has zero height; cannot scale it to metres for motion.bvh")
    scale = BVH_BODY_HEIGHT_M / height
    return x3d * scale, float(scale)


def _write_motion_bvh(path: Path, x3d: np.ndarray, has_person: np.ndarray, frame_indices: np.ndarray, fps: float,
                      metric: bool = False) -> bool:  # fmt: skip
    """``motion.bvh`` of the lifted joints (``metric``: already metres, kept; else scaled to
    :data:`BVH_BODY_HEIGHT_M`); ``False`` (and a warning) when there is nothing to write."""
    from diffmesh.io.skeleton_bvh import write_joints_bvh

    valid = has_person & np.isfinite(x3d).all(axis=(1, 2))
    steps = np.diff(frame_indices)
    if not valid.any():
        logger.warning("no frame with a person: motion.bvh not written")
        return False
    if steps.size and not (steps == steps[0]).all():
        logger.warning("frames are not evenly spaced (steps %s): motion.bvh not written", sorted(set(steps.tolist()))[:5])
        return False
    step = int(steps[0]) if steps.size else 1
    if metric:
        write_joints_bvh(path, x3d.astype(np.float64), fps / step, valid)
        return True
    joints_m, scale = joints_to_nominal_metres(x3d.astype(np.float64), valid)
    write_joints_bvh(path, joints_m, fps / step, valid)
    logger.info("motion.bvh: joints scaled by %.4g to a %.2f m rest skeleton", scale, BVH_BODY_HEIGHT_M)
    return True


def run_pose(
    video: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    model: PoseModel | ModelBundle,
    settings: InferSettings = InferSettings(),
    pixel: bool = False,
    progress: Progress = no_progress,
    overlay: bool = True,
    bvh: bool = True,
) -> Path:
    """Keypoints → tracking → the official pose demo (a :class:`PoseModel`) or the packaged model (a
    :class:`~diffmesh.pipelines.model.ModelBundle`, :func:`lift_track_packaged`, metres); writes
    ``OUT/X3D.npy`` (official layout: rows
    are the frames with a person), ``OUT/pose3d.npz`` (aligned to the video's frames), with ``bvh``
    ``OUT/motion.bvh`` (the joints as an animated skeleton, :data:`BVH_BODY_HEIGHT_M` tall; not
    written when no frame has a person) and, with ``overlay``, ``OUT/skeleton.mp4`` (the 2-D
    keypoints on each frame beside the 3-D skeleton), atomically."""
    from diffmesh.conventions import H36M_JOINTS
    from diffmesh.io.motion import atomic_write
    from diffmesh.pipelines.source import tracked_video
    from diffmesh.pipelines.threads import default_threads, torch_threads

    packaged = isinstance(model, ModelBundle)
    if packaged and pixel:
        raise ValueError("--pixel is the official checkpoints' pixel normalisation; the packaged model writes metres "
                         "(drop --pixel, or pass --checkpoint/--config)")  # fmt: skip
    tv = tracked_video(video, out_dir, settings, progress, purpose="lift")
    info, out, kps, trk = tv.info, tv.out, tv.keypoints, tv.track
    with torch_threads(settings.threads or default_threads()):
        if isinstance(model, ModelBundle):
            from diffmesh.pipelines.stages import camera_intrinsics

            x3d = lift_track_packaged(model, settings, trk, camera_intrinsics(info, settings, kps.camera)[0], progress)
        else:
            x3d = lift_track(model, trk, pixel, (info.width, info.height), progress)
    units = "metres (hip-centred, camera axes)" if packaged else "pixels" if pixel else "normalised (crop box [-1, 1])"
    name = f"{model.name} + the detector's 3-D joints" if packaged else model.name
    if pixel:  # back to pixels: all three coordinates scaled, x and y re-centred (official)
        half = min(info.width, info.height) / 2.0
        x3d = x3d * half
        x3d[..., 0] += info.width / 2.0
        x3d[..., 1] += info.height / 2.0

    def save_npy(f: io.BufferedWriter) -> None:  # type: ignore[type-arg]
        np.save(f, x3d[trk.has_person])

    def save_npz(f: io.BufferedWriter) -> None:  # type: ignore[type-arg]
        np.savez(f, joints_3d=x3d, units=np.array(units),
                 keypoints_2d=trk.keypoints.astype(np.float32), valid=trk.has_person, frame_indices=kps.frame_indices,
                 fps=np.float64(info.fps), model=np.array(name), joint_names=np.array(H36M_JOINTS))  # fmt: skip

    path = atomic_write(out / "X3D.npy", save_npy)
    atomic_write(out / "pose3d.npz", save_npz)
    if bvh:
        _write_motion_bvh(out / "motion.bvh", x3d, trk.has_person, np.asarray(kps.frame_indices), float(info.fps), packaged)
    if overlay:
        from diffmesh.pipelines.skeleton_overlay import write_skeleton_overlay

        write_skeleton_overlay(info, tv.start, tv.end, trk.keypoints, x3d, trk.has_person, out / "skeleton.mp4", progress)
    logger.info("3-D pose of %d frames -> %s", int(trk.has_person.sum()), path)
    return path
