"""The motion representation of a video: DSTformer's ``get_representation`` per frame.

The entry point for downstream users (issue 14): the same decode → keypoints → tracking →
windows stages as ``diffmesh infer``, then the encoder alone. Each window's representation
``[clip_len, 17, dim_rep]`` is blended into the frames it covers with the pipeline's triangular
window weights (a weighted mean; the features are linear, no projection needed).

The encoder comes from an official checkpoint (any MotionBERT / DiffMesh model: its backbone)
or, by default, the packaged weights' encoder (:data:`diffmesh.registry.DEFAULT_MESH_MODEL`).
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from diffmesh.geometry.model_input import model_input_channels, network_input
from diffmesh.pipelines.settings import InferSettings, Progress, no_progress
from diffmesh.pipelines.tracking import Track
from diffmesh.pipelines.windows import plan_windows, window_weights

logger = logging.getLogger(__name__)

__all__ = ["Encoder", "default_encoder", "embed_track", "load_encoder", "run_embed"]


@dataclass
class Encoder:
    """A DSTformer encoder and how its input is made.

    Attributes:
        network: the DSTformer (``get_representation``).
        name: what the output records as the model.
        weights: human-readable source of the weights.
        clip_len: frames per window (at most the encoder's ``maxlen``).
        normalization: ``"segment"`` (official) or ``"window"`` (the packaged weights).
    """

    network: nn.Module
    name: str
    weights: str
    clip_len: int
    normalization: str


def _backbone(model: nn.Module) -> nn.Module:
    """The DSTformer inside a task model (or the model itself when it is one)."""
    net = getattr(model, "backbone", model)
    if not hasattr(net, "get_representation"):
        raise ValueError(f"{type(model).__name__} has no DSTformer encoder (get_representation); pass a MotionBERT / DiffMesh checkpoint")
    return net.eval()


def default_encoder() -> Encoder:
    """The packaged default weights' encoder (synthetic-trained; ``docs/model_card.md``)."""
    import diffmesh
    from diffmesh.registry import DEFAULT_MESH_MODEL, get_spec

    spec = get_spec(DEFAULT_MESH_MODEL)
    net = _backbone(diffmesh.create_model(DEFAULT_MESH_MODEL))
    weights = f"{spec.name} encoder (packaged synthetic-trained weights, sha256 {str(spec.sha256)[:12]})"
    return Encoder(net, DEFAULT_MESH_MODEL, weights, int(spec.config["maxlen"]), spec.input_normalization)


def load_encoder(checkpoint: str | None, config: str | None) -> Encoder:
    """The encoder of an official checkpoint + YAML config, or :func:`default_encoder` when both are None."""
    if checkpoint is None and config is None:
        return default_encoder()
    if checkpoint is None or config is None:
        raise ValueError("--checkpoint and --config go together: pass both (the official .bin and its YAML config)")
    from diffmesh.registry import load_official

    net = _backbone(load_official(checkpoint, config))
    maxlen = int(getattr(getattr(net, "config", None), "maxlen", 243))
    return Encoder(net, Path(config).name, f"{checkpoint} ({Path(config).name})", maxlen, "segment")


def embed_track(
    encoder: Encoder, trk: Track, stride: int | None = None, batch_windows: int = 8, progress: Progress = no_progress
) -> np.ndarray:
    """``[N, 17, dim_rep]`` float32 representation per frame (zeros where there is no person)."""
    clip_len, net = encoder.clip_len, encoder.network
    stride = stride or max(1, clip_len // 2)
    n = len(trk.has_person)
    out: np.ndarray | None = None
    total, done = sum(len(s) for s in trk.segments), 0
    channels = model_input_channels(net)
    for seg in trk.segments:
        kp = trk.keypoints[seg.start : seg.end]
        world = None if trk.world is None else trk.world[seg.start : seg.end]
        whole = network_input(kp, world, channels) if encoder.normalization == "segment" else None
        windows = plan_windows(len(seg), clip_len, stride)
        acc: np.ndarray | None = None
        wsum = np.zeros(len(seg))
        for b0 in range(0, len(windows), batch_windows):
            batch = windows[b0 : b0 + batch_windows]
            clips = []
            for w in batch:
                rows = slice(w.start, w.start + w.length)
                clip = network_input(kp[rows], None if world is None else world[rows], channels) if whole is None else whole[rows]
                if w.length < clip_len:  # pad by repeating the last frame, as the model stage does
                    clip = np.concatenate([clip, np.repeat(clip[-1:], clip_len - w.length, 0)])
                clips.append(clip)
            with torch.inference_mode():
                rep = net.get_representation(torch.from_numpy(np.stack(clips)).float()).float().numpy()
            if acc is None:
                acc = np.zeros((len(seg),) + rep.shape[2:])
            for k, w in enumerate(batch):
                weights = window_weights(w.length)
                acc[w.start : w.start + w.length] += weights[:, None, None] * rep[k, : w.length]
                wsum[w.start : w.start + w.length] += weights
            progress("model", done + batch[-1].start + batch[-1].length, total)
        assert acc is not None
        if out is None:
            out = np.zeros((n,) + acc.shape[1:], np.float32)
        out[seg.start : seg.end] = acc / wsum[:, None, None]
        done += len(seg)
    if out is None:
        raise ValueError("no person was found in any frame: nothing to embed")
    return out


def run_embed(
    video: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    settings: InferSettings = InferSettings(),
    encoder: Encoder | None = None,
    progress: Progress = no_progress,
) -> Path:
    """Keypoints → tracking → windows → encoder; writes ``OUT/embedding.npz`` atomically and returns its path.

    ``embedding.npz``: ``representation [T, 17, dim_rep]`` float32 (``get_representation``,
    window-blended), ``keypoints_2d [T, 17, 3]`` (pixels, confidence: what it was computed
    from), ``valid [T]``, ``frame_indices [T]``, ``fps``, ``model``, ``weights``, ``normalization``,
    ``clip_len``, ``joint_names``.
    """
    from diffmesh.conventions import H36M_JOINTS
    from diffmesh.io.motion import atomic_write
    from diffmesh.pipelines.source import tracked_video
    from diffmesh.pipelines.threads import default_threads, torch_threads

    encoder = encoder or load_encoder(None, None)
    tv = tracked_video(video, out_dir, settings, progress, purpose="embed")
    info, out, kps, trk = tv.info, tv.out, tv.keypoints, tv.track
    with torch_threads(settings.threads or default_threads()):
        rep = embed_track(encoder, trk, settings.stride, settings.batch_windows, progress)
    arrays = {
        "representation": rep, "keypoints_2d": trk.keypoints.astype(np.float32), "valid": trk.has_person,
        "frame_indices": kps.frame_indices, "fps": np.float64(info.fps), "model": np.array(encoder.name),
        "weights": np.array(encoder.weights), "normalization": np.array(encoder.normalization),
        "clip_len": np.int64(encoder.clip_len), "joint_names": np.array(H36M_JOINTS),
    }  # fmt: skip

    def write(f: io.BufferedWriter) -> None:  # type: ignore[type-arg]
        np.savez(f, **arrays)

    path = atomic_write(out / "embedding.npz", write)
    logger.info("representation %s of %d frames -> %s", list(rep.shape[1:]), len(rep), path)
    return path
