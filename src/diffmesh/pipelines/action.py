"""Action recognition over a video with an official MotionBERT action checkpoint (NTU-60 / NTU-120).

The pipeline's keypoint and tracking stages give one person's H36M-17 keypoints; each time window
(``window_s`` seconds every ``stride_s``) is prepared as the official NTU test samples are
(DATA.md §2.4): pixels divided by the image's longer side (``make_cam``), resampled evenly to
``clip_len`` frames, a zero second person, ``crop_scale`` with the config's test ratio; the
classifier's softmax gives the top-k class names with scores. The whole video is classified too
(every tracked frame resampled into one sample). The NTU-120 one-shot model outputs unit
embeddings instead: each sample is compared with reference clips given by the user (one per
action, as in the official one-shot protocol) and the references are ranked by cosine similarity.

No action weights can be trained here: that needs the NTU RGB+D skeletons, which are not
redistributable. Pass an official checkpoint.
"""

from __future__ import annotations

import io
import json
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from diffmesh.data.transforms import make_cam, resample
from diffmesh.geometry.crop import crop_scale
from diffmesh.pipelines.action_classes import classes_for
from diffmesh.pipelines.settings import InferSettings, Progress, no_progress
from diffmesh.pipelines.tracking import Track

logger = logging.getLogger(__name__)

__all__ = ["ActionModel", "classify_track", "load_action_model", "run_action"]


@dataclass
class ActionModel:
    """An action classifier and how its samples are made."""

    network: nn.Module
    name: str
    classes: tuple[str, ...]
    clip_len: int = 243
    scale: float = 2.0
    one_shot: bool = False
    references: np.ndarray | None = None  # [R, D] unit embeddings of the reference clips (one-shot)


def load_action_model(checkpoint: str | None, config: str | None) -> ActionModel:
    """An official action checkpoint (``MB_ft_NTU60_xsub``, ``..._xview``, ``MB_ft_NTU120_*``) and its config."""
    if checkpoint is None or config is None:
        raise ValueError(
            "diffmesh action needs an official action checkpoint and its config: --checkpoint best_epoch.bin "
            "--config MB_ft_NTU60_xsub.yaml (no action weights are packaged: training them needs the NTU RGB+D "
            "skeletons, which cannot be redistributed)"
        )
    from diffmesh.files import read_config
    from diffmesh.registry import load_official

    net = load_official(checkpoint, config)
    from diffmesh.models.action import ActionHeadEmbed

    head = getattr(net, "head", None)
    cfg: dict[str, Any] = read_config(config)
    scale = cfg.get("scale_range_test", [2, 2])
    if isinstance(head, ActionHeadEmbed):
        return ActionModel(net.eval(), Path(config).name, (), int(cfg.get("clip_len", 100)), float(scale[0]), one_shot=True)
    fc2 = getattr(head, "fc2", None)
    if not isinstance(fc2, nn.Linear) or not hasattr(net, "backbone"):
        raise ValueError(
            f"{checkpoint!r} is a {type(net).__name__}, not an action classifier; pass an NTU-60 / NTU-120 "
            "classification checkpoint (MB_ft_NTU60_xsub / xview, MB_ft_NTU120_*) with its config"
        )
    return ActionModel(net.eval(), Path(config).name, classes_for(fc2.out_features), int(cfg.get("clip_len", 243)),
                       float(scale[0]))  # fmt: skip


def _sample(kp: np.ndarray, size: tuple[int, int], clip_len: int, scale: float) -> np.ndarray:
    """One NTU-style test sample ``[2, clip_len, 17, 3]`` from one person's keypoints ``[L, 17, 3]``."""
    width, height = size
    xy = make_cam(kp[..., :2], (height, width))
    motion = np.concatenate([xy, kp[..., 2:3]], -1)[resample(len(kp), clip_len)]
    motion = np.stack([motion, np.zeros_like(motion)])  # the official zero second person
    return crop_scale(motion, (scale, scale)).astype(np.float32)


def classify_track(
    model: ActionModel, trk: Track, size: tuple[int, int], fps: float, window_s: float = 3.0, stride_s: float = 1.0,
    top_k: int = 5, progress: Progress = no_progress,
) -> dict[str, Any]:  # fmt: skip
    """Top-``top_k`` classes per time window and for the whole video (a JSON-ready dict)."""
    if window_s <= 0 or stride_s <= 0:
        raise ValueError(f"--window and --stride must be > 0 seconds, got {window_s} and {stride_s}")
    length, step = max(2, int(round(window_s * fps))), max(1, int(round(stride_s * fps)))
    frames = np.nonzero(trk.has_person)[0]
    spans = [(a, min(a + length, len(trk.has_person))) for a in range(0, max(1, len(trk.has_person) - length + 1), step)]
    samples, kept = [], []
    for a, b in spans:
        inside = frames[(frames >= a) & (frames < b)]
        if len(inside) >= max(2, (b - a) // 2):  # a person in at least half the window
            samples.append(_sample(trk.keypoints[inside], size, model.clip_len, model.scale))
            kept.append((a, b))
    whole = _sample(trk.keypoints[frames], size, model.clip_len, model.scale)

    def top(out: torch.Tensor) -> list[dict[str, Any]]:
        if model.one_shot:  # cosine similarity of unit embeddings to the references
            assert model.references is not None
            p = torch.from_numpy(model.references).float() @ out.float()
        else:
            p = torch.softmax(out.float(), -1)
        s, i = p.topk(min(top_k, p.numel()))
        return [{"class": model.classes[int(k)], "label": int(k), "score": round(float(v), 4)} for v, k in zip(s, i)]

    windows = []
    with torch.inference_mode():
        video = top(model.network(torch.from_numpy(whole)[None])[0])
        for n, ((a, b), x) in enumerate(zip(kept, samples)):
            windows.append({"start_frame": a, "end_frame": b, "start_s": round(a / fps, 3), "end_s": round(b / fps, 3),
                            "top": top(model.network(torch.from_numpy(x)[None])[0])})  # fmt: skip
            progress("model", n + 1, len(kept))
    return {"model": model.name, "classes": len(model.classes), "window_s": window_s, "stride_s": stride_s,
            "video": video, "windows": windows}  # fmt: skip


def run_action(
    video: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    model: ActionModel,
    settings: InferSettings = InferSettings(),
    window_s: float = 3.0,
    stride_s: float = 1.0,
    top_k: int = 5,
    progress: Progress = no_progress,
    references: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Keypoints → tracking → the classifier; writes ``OUT/actions.json`` atomically and returns its content.

    ``references`` (one-shot models only, required there): action name → a video of it."""
    from diffmesh.io.motion import atomic_write
    from diffmesh.pipelines.source import tracked_video
    from diffmesh.pipelines.threads import default_threads, torch_threads

    if model.one_shot:
        names, embs = _reference_embeddings(model, references or {}, settings)
        model = replace(model, classes=names, references=embs)
    elif references:
        raise ValueError(f"--reference is for the one-shot model; {model.name} is a classifier with its own classes")
    tv = tracked_video(video, out_dir, settings, progress, min_frames=2, purpose="classify")
    info, out, start, trk = tv.info, tv.out, tv.start, tv.track
    with torch_threads(settings.threads or default_threads()):
        result = classify_track(model, trk, (info.width, info.height), info.fps, window_s, stride_s, top_k, progress)
    result["video_path"] = str(video)
    for w in result["windows"]:  # frame numbers of the video, not of the processed range
        w["start_frame"] += start
        w["end_frame"] += start

    def write(f: io.BufferedWriter) -> None:  # type: ignore[type-arg]
        f.write(json.dumps(result, indent=1).encode())

    atomic_write(out / "actions.json", write)
    return result


def _reference_embeddings(
    model: ActionModel, references: dict[str, str], settings: InferSettings
) -> tuple[tuple[str, ...], np.ndarray]:
    """Names and unit embeddings ``[R, D]`` of the reference videos (whole video, one sample each)."""
    from diffmesh.pipelines.source import tracked_video

    if len(references) < 2:
        raise ValueError(
            f"the one-shot model {model.name} compares the video with reference clips: pass at least two, "
            "--reference NAME=VIDEO for each action (e.g. --reference wave=wave.mp4 --reference clap=clap.mp4)"
        )
    whole = InferSettings(keypoints_file=None, min_detection_confidence=settings.min_detection_confidence,
                          detector_model=settings.detector_model, max_gap=settings.max_gap)  # fmt: skip
    embs = []
    for name, path in references.items():
        tv = tracked_video(path, None, whole, min_frames=2, purpose=f"use as the reference for {name!r}")
        frames = np.nonzero(tv.track.has_person)[0]
        x = _sample(tv.track.keypoints[frames], (tv.info.width, tv.info.height), model.clip_len, model.scale)
        with torch.inference_mode():
            embs.append(model.network(torch.from_numpy(x)[None])[0].float().numpy())
    return tuple(references), np.stack(embs)
