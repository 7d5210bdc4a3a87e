"""Writers of small files in exactly the structure of the official data (DATA.md §3).

Used by the reader tests and, later, the training-loop tests. Every writer takes the target
path, a few size knobs and a seed, writes real files (pickle / JSON / npy) and returns what it
wrote (the dict or arrays), so a test can compare reader output with the raw values.
Coordinates are plausible pixels: a jittered standing skeleton moving across the image.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

H36M_CAMERAS = ("54138969", "55011271", "58860488", "60457274")
H36M_RES = {"54138969": (1000, 1002), "60457274": (1000, 1002), "55011271": (1000, 1000), "58860488": (1000, 1000)}
ACTIONS = ("Directions", "Walking", "Eating")

# A rough H36M-17 standing pose in pixels (x right, y down), ~400 px tall.
_TEMPLATE_2D = np.array(
    [
        [0, 0], [-25, 0], [-28, 100], [-30, 200], [25, 0], [28, 100], [30, 200], [0, -60],
        [0, -120], [0, -150], [0, -180], [40, -115], [60, -50], [70, 10], [-40, -115], [-60, -50], [-70, 10],
    ],
    dtype=np.float64,
)  # fmt: skip


def _skeleton_track(n: int, rng: np.random.Generator, centre: tuple[float, float] = (500, 500)) -> np.ndarray:
    """``[n, 17, 2]`` pixels: the template drifting across the image with per-joint jitter."""
    drift = np.linspace(0, rng.uniform(-80, 80), n)[:, None]
    base = _TEMPLATE_2D[None] + np.asarray(centre)
    base = base + np.stack((drift, 0.3 * drift), axis=-1)
    return base + rng.normal(0, 3, size=(n, 17, 2))


def h36m_source(subject: int, action: int, subaction: int, camera: int) -> str:
    """Official H36M video id, e.g. ``s_09_act_05_subact_02_ca_01``."""
    return f"s_{subject:02d}_act_{action:02d}_subact_{subaction:02d}_ca_{camera:02d}"


def _h36m_split(
    videos: Sequence[tuple[str, int]], rng: np.random.Generator, with_eval: bool, with_confidence: bool
) -> dict[str, Any]:
    rows: dict[str, list] = {k: [] for k in ("joint_2d", "confidence", "joint3d_image", "camera_name", "source", "action", "2.5d_factor")}
    for v, (source, n) in enumerate(videos):
        cam = H36M_CAMERAS[int(source[-2:]) - 1]
        xy = _skeleton_track(n, rng)
        depth = 2500 / 4 + rng.normal(0, 20, size=(n, 17, 1))  # pixel-proportional depth
        rows["joint3d_image"].append(np.concatenate((xy + rng.normal(0, 2, xy.shape), depth), axis=-1))
        rows["joint_2d"].append(xy)
        rows["confidence"].append(rng.uniform(0.3, 1.0, size=(n, 17)))
        rows["camera_name"] += [cam] * n
        rows["source"] += [source] * n
        rows["action"] += [ACTIONS[v % len(ACTIONS)]] * n
        rows["2.5d_factor"].append(np.full(n, rng.uniform(3.5, 4.5)))
    table: dict[str, Any] = {
        "joint_2d": np.concatenate(rows["joint_2d"]).astype(np.float32),
        "joint3d_image": np.concatenate(rows["joint3d_image"]).astype(np.float32),
        "camera_name": np.array(rows["camera_name"]),
        "source": rows["source"],  # the official file holds a plain list of strings
    }
    if with_confidence:
        table["confidence"] = np.concatenate(rows["confidence"]).astype(np.float32)
    if with_eval:
        factor = np.concatenate(rows["2.5d_factor"])
        table["action"] = rows["action"]
        table["2.5d_factor"] = factor
        # mm joints consistent with joint3d_image: a perfect prediction has zero error.
        table["joints_2.5d_image"] = table["joint3d_image"].astype(np.float64) * factor[:, None, None]
    return table


def default_h36m_videos(split: str, frames: Sequence[int] = (300, 130, 260)) -> list[tuple[str, int]]:
    """Video ids and lengths: train subject 1, test subject 9 (4 videos; the first is blocklisted)."""
    if split == "train":
        return [(h36m_source(1, 2 + i, 1, 1 + i % 4), n) for i, n in enumerate(frames)]
    frames = (*frames, 60)  # a fourth video, so every action has evaluated frames
    ids = [h36m_source(9, 5, 2, 1)] + [h36m_source(9, 2 + i, 1, 1 + i % 4) for i in range(1, len(frames))]
    return list(zip(ids, frames))


def write_h36m_pose_pkl(
    path: Path,
    train_videos: Sequence[tuple[str, int]] | None = None,
    test_videos: Sequence[tuple[str, int]] | None = None,
    with_confidence: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """``h36m_sh_conf_cam_source_final.pkl``: ``{'train': D, 'test': D}`` (DATA.md §3.1)."""
    rng = np.random.default_rng(seed)
    data = {
        "train": _h36m_split(train_videos or default_h36m_videos("train"), rng, False, with_confidence),
        "test": _h36m_split(test_videos or default_h36m_videos("test"), rng, True, with_confidence),
    }
    _dump(path, data)
    return data


def write_mb3d_clips(root: Path, subset: str, split: str, n_clips: int, n_frames: int = 243, with_input: bool = True, seed: int = 0) -> list[dict]:
    """``<root>/<subset>/<split>/%08d.pkl`` clip files (``data_input`` None for AMASS-style clips)."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / subset / split
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    for i in range(n_clips):
        label = rng.uniform(-1, 1, size=(n_frames, 17, 3)).astype(np.float32)
        x = None
        if with_input:
            x = np.concatenate((label[..., :2] + rng.normal(0, 0.01, (n_frames, 17, 2)), rng.uniform(0, 1, (n_frames, 17, 1))), -1).astype(np.float32)
        clip = {"data_input": x, "data_label": label}
        _dump(folder / f"{i:08d}.pkl", clip)
        clips.append(clip)
    return clips


def write_mesh_det_pkl(
    path: Path,
    source: str = "pw3d",
    train_videos: Sequence[tuple[str, int]] = (("courtyard_a", 40), ("courtyard_b", 21)),
    test_videos: Sequence[tuple[str, int]] = (("downtown_a", 35), ("downtown_b", 20)),
    with_hybrik: bool = False,
    confidence_2d: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """``mesh_det_{h36m,pw3d,coco}.pkl`` (+ ``pred_smpl_*`` with ``with_hybrik``; DATA.md §3.3).

    For ``source="h36m"`` video ids must end with ``_ca_XX`` (camera from it, as H36M).
    """
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    for split, videos in (("train", train_videos), ("test", test_videos)):
        n = sum(length for _, length in videos)
        centre = (960, 960) if source == "pw3d" else (500, 500) if source == "h36m" else (320, 320)
        xy = np.concatenate([_skeleton_track(length, rng, centre) for _, length in videos])
        if source == "coco":
            xy = xy * 0.5 + 160
        table: dict[str, Any] = {
            "joint_2d": xy.astype(np.float32),
            "confidence": rng.uniform(-0.1, 1.2, size=(n, 17) if confidence_2d else (n, 17, 1)).astype(np.float32),
            "source": [vid for vid, length in videos for _ in range(length)],
            "smpl_pose": (rng.normal(0, 0.2, size=(n, 72))).astype(np.float32),
            "smpl_shape": rng.normal(0, 1, size=(n, 10)).astype(np.float32),
        }
        if source == "h36m":
            table["camera_name"] = np.array([H36M_CAMERAS[int(v[-2:]) - 1] for v in table["source"]])
        if with_hybrik:
            table["pred_smpl_pose"] = (table["smpl_pose"] + rng.normal(0, 0.05, size=(n, 72))).astype(np.float32)
            table["pred_smpl_shape"] = (table["smpl_shape"] + rng.normal(0, 0.1, size=(n, 10))).astype(np.float32)
        data[split] = table
    _dump(path, data)
    return data


def write_ntu_pkl(
    path: Path,
    n_samples: int = 12,
    num_classes: int = 120,
    oneshot: bool = False,
    frames: tuple[int, int] = (20, 60),
    img_shape: tuple[int, int] = (1080, 1920),
    seed: int = 0,
) -> dict[str, Any]:
    """pyskl ``ntu*_hrnet.pkl`` (``split`` + ``annotations``; DATA.md §3.2).

    Splits: ``xsub_train``/``xsub_val`` (alternating samples) or, with ``oneshot``,
    ``oneshot_train``/``oneshot_val``. Labels cycle through ``num_classes``; every third
    sample has two persons.
    """
    rng = np.random.default_rng(seed)
    annotations = []
    for i in range(n_samples):
        t = int(rng.integers(frames[0], frames[1]))
        m = 2 if i % 3 == 0 else 1
        kp = np.stack([_coco_from_h36m_template(_skeleton_track(t, rng, (900 + 300 * p, 600))) for p in range(m)])
        annotations.append(
            {
                "frame_dir": f"S001C001P001R001A{i:03d}",
                "label": (i * 7) % num_classes,
                "img_shape": img_shape,
                "original_shape": img_shape,
                "total_frames": t,
                "keypoint": kp.astype(np.float32),
                "keypoint_score": rng.uniform(0.2, 1.0, size=(m, t, 17)).astype(np.float32),
            }
        )
    names = [a["frame_dir"] for a in annotations]
    if oneshot:
        split = {"oneshot_train": names[::2], "oneshot_val": names[1::2]}
    else:
        split = {"xsub_train": names[::2], "xsub_val": names[1::2], "xview_train": names[1::2], "xview_val": names[::2]}
    data = {"split": split, "annotations": annotations}
    _dump(path, data)
    return data


def _coco_from_h36m_template(h36m_xy: np.ndarray) -> np.ndarray:
    """Plausible COCO-17 pixels ``[T, 17, 2]`` from an H36M-ordered track."""
    j = lambda k: h36m_xy[:, k]  # noqa: E731
    head = j(10)
    coco = [j(9), head + [-8, 10], head + [8, 10], head + [-15, 15], head + [15, 15],
            j(11), j(14), j(12), j(15), j(13), j(16), j(4), j(1), j(5), j(2), j(6), j(3)]  # fmt: skip
    return np.stack(coco, axis=1)


def write_posetrack_json(folder: Path, n_files: int = 2, tracks: Sequence[int] = (35, 30, 12), seed: int = 0) -> list[dict]:
    """PoseTrack18 annotation files ``<folder>/%06d_mpii_train.json`` (MMPose structure).

    Track ``k`` of each file has ``tracks[k]`` frames; the second track has its right hip
    invisible in one frame (root not always visible → filtered out), others are fully visible.
    """
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for f in range(n_files):
        annotations = []
        for tid, n in enumerate(tracks):
            xy = _coco_from_h36m_template(_skeleton_track(n, rng, (600 + 200 * tid, 400)))
            xy[:, 1] = _TEMPLATE_2D[10] + [600 + 200 * tid, 380]  # head_bottom (PoseTrack index 1)
            xy[:, 2] = _TEMPLATE_2D[10] + [600 + 200 * tid, 340]  # head_top
            vis = np.ones((n, 17))
            if tid == 1:
                vis[3, 12] = 0
            for t in range(n):
                kp = np.concatenate((xy[t], vis[t][:, None]), axis=-1)
                annotations.append({"image_id": 10000 * f + t, "track_id": tid, "keypoints": kp.reshape(-1).tolist()})
        content = {"images": [{"id": 10000 * f + t} for t in range(max(tracks))], "annotations": annotations}
        with (folder / f"{f:06d}_mpii_train.json").open("w") as fh:
            json.dump(content, fh)
        written.append(content)
    return written


def write_instavariety(folder: Path, clip_lengths: Sequence[int] = (120, 90, 40, 85), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``motion_all.npy [N,17,3]`` and ``id_all.npy [N]`` (float clip ids) in ``folder``.

    The third clip's frame-0 root has confidence 0 (so clips starting there are dropped).
    """
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    motions, ids = [], []
    for c, n in enumerate(clip_lengths):
        xy = _skeleton_track(n, rng)
        conf = rng.uniform(0.1, 1.0, size=(n, 17, 1))
        conf[:, 1:][rng.uniform(size=(n, 16, 1)) < 0.05] = 0  # some undetected joints (never the root)
        if c == 2:
            conf[0, 0] = 0
        motion = np.concatenate(((xy - xy[:1, :1]) / 500, conf), -1)
        motion[motion[..., 2] == 0] = 0
        motions.append(motion)
        ids.append(np.full(n, float(c)))
    motion_all, id_all = np.concatenate(motions), np.concatenate(ids)
    np.save(folder / "motion_all.npy", motion_all)
    np.save(folder / "id_all.npy", id_all)
    return motion_all, id_all


def write_amass_joints_pkl(path: Path, lengths: Sequence[int] = (300, 120, 260), seed: int = 0) -> list[np.ndarray]:
    """``amass_joints_h36m_60.pkl``: a list of ``[17, T, 3]`` world joints (metres, z up)."""
    rng = np.random.default_rng(seed)
    motions = []
    for n in lengths:
        xy = _skeleton_track(n, rng) / 230.0  # ~1.7 m tall
        world = np.stack((xy[..., 0], rng.normal(0, 0.01, xy.shape[:2]), -xy[..., 1] + 1.0), axis=-1)  # y forward, z up
        motions.append(world.transpose(1, 0, 2))
    _dump(path, motions)
    return motions


def _dump(path: Path, obj: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        pickle.dump(obj, f)
