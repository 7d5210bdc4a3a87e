"""The model stage: tracked 2-D keypoints → overlapping windows → network → blended per-frame body parameters.

Also the body model run over a whole sequence in chunks (:func:`body_sequence`), which the
placement (joints) and overlay (vertices) stages share.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import nn

from diffmesh.geometry.flip import flip_smpl_rotmats
from diffmesh.geometry.model_input import flip_input, model_input_channels, network_input
from diffmesh.pipelines.settings import Progress, no_progress
from diffmesh.pipelines.tracking import Segment, Track
from diffmesh.pipelines.windows import Window, WindowBlender, plan_windows

#: Which frames share one crop box when 2-D keypoints are normalised (:func:`predict_mesh`).
NORMALIZATIONS: tuple[str, ...] = ("segment", "window")

__all__ = ["NORMALIZATIONS", "FirstOf", "MeshSequence", "PackedBatches", "Precomputed", "body_sequence", "h36m_joints", "model_clip_len", "predict_mesh",
           "network_parameters", "run_batch", "segment_batches"]  # fmt: skip


@dataclass
class MeshSequence:
    """Per-frame body parameters (rows = processed frames; identity / zeros where there is no person).

    Attributes:
        rotmats: ``[N, 24, 3, 3]`` local joint rotations (0 = global orientation, camera-oriented).
        betas: ``[N, 10]``.
    """

    rotmats: np.ndarray
    betas: np.ndarray


def model_clip_len(model: nn.Module) -> int:
    """Frames per network call: the DiffMesh head's fixed ``clip_len``, else 16 (the mesh training clip)."""
    return int(getattr(model.head, "clip_len", 16))


def predict_mesh(
    model: nn.Module,
    trk: Track,
    flip: bool = False,
    stride: int | None = None,
    batch_windows: int = 8,
    progress: Progress = no_progress,
    normalization: str = "segment",
    precomputed: Precomputed | None = None,
) -> MeshSequence:
    """Normalise, run overlapping windows through the model, blend.

    Each segment is cut into ``clip_len`` windows with ``stride``; segments shorter than a clip
    are padded by repeating their last frame (official). Windows are batched ``batch_windows``
    at a time. ``normalization`` (:data:`NORMALIZATIONS`) says which frames share one crop box:
    ``"segment"``, the whole segment (the official whole-video ``crop_scale``, what official
    checkpoints were evaluated with); ``"window"``, each window its own box (what the packaged
    weights were trained with: one box per 16-frame clip). ``precomputed``: batches already run
    (:class:`~diffmesh.pipelines.speculation.WindowSpeculator`), looked up by their exact input.
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    clip_len = model_clip_len(model)
    stride = stride or max(1, clip_len // 2)
    n = len(trk.has_person)
    rot_all = np.zeros((n, 24, 3, 3), dtype=np.float32)
    rot_all[:] = np.eye(3, dtype=np.float32)
    betas_all = np.zeros((n, 10), dtype=np.float32)
    total = sum(len(s) for s in trk.segments)
    done = 0
    channels = model_input_channels(model)
    for seg in trk.segments:
        blender = WindowBlender(len(seg))
        for batch, x in segment_batches(trk, seg, clip_len, stride, batch_windows, channels, normalization):
            found = None if precomputed is None else precomputed.take(x)
            rot, betas = found if found is not None else run_batch(model, x, flip)
            for k, w in enumerate(batch):
                blender.add(w, rot[k, : w.length], betas[k, : w.length], torch.zeros(w.length, 17, 3))
            progress("model", done + batch[-1].start + batch[-1].length, total)
        rot_seg, betas_seg, _ = blender.result()
        rot_all[seg.start : seg.end] = rot_seg.numpy()
        betas_all[seg.start : seg.end] = betas_seg.numpy()
        done += len(seg)
    return MeshSequence(rot_all, betas_all)


class Precomputed(Protocol):
    """Network outputs computed ahead, by exact input batch (:func:`predict_mesh`)."""

    def take(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None: ...


class FirstOf:
    """Batches from the first of several :class:`Precomputed` sources that has them (None ones skipped)."""

    def __init__(self, *sources: Precomputed | None) -> None:
        self.sources = [s for s in sources if s is not None]

    def take(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        for source in self.sources:
            if (found := source.take(x)) is not None:
                return found
        return None


class PackedBatches:
    """Several people's short batches, run packed together before the per-person model stage.

    :func:`predict_mesh` cuts each person's segments into batches of ``batch_windows`` windows; the
    last batch of a segment is usually short, and a short network call costs nearly as much as a full
    one. This runs every short batch of every person in ``trks`` packed into calls of at least
    ``batch_windows`` windows (in order; a call ends once it holds that many), and hands each result
    to :func:`predict_mesh` by the batch's exact input (:class:`Precomputed`). Full batches run there
    as before. Memory: the short batches' results only (at most one per segment).
    """

    def __init__(self, model: nn.Module, trks: list[Track], flip: bool = False, stride: int | None = None,
                 batch_windows: int = 8, normalization: str = "segment") -> None:  # fmt: skip
        clip_len = model_clip_len(model)
        stride = stride or max(1, clip_len // 2)
        channels = model_input_channels(model)
        short = []
        for trk in trks:
            for seg in trk.segments:  # only the last batch can be short: only it is built
                windows = len(plan_windows(len(seg), clip_len, stride))
                if windows % batch_windows:
                    short += [x for _, x in segment_batches(trk, seg, clip_len, stride, batch_windows, channels,
                                                            normalization, first=windows // batch_windows)]  # fmt: skip
        self.results: dict[bytes, tuple[torch.Tensor, torch.Tensor]] = {}
        self.calls = 0
        group: list[torch.Tensor] = []
        for i, x in enumerate(short):
            group.append(x)
            if sum(len(g) for g in group) >= batch_windows or i == len(short) - 1:
                rot, betas = run_batch(model, torch.cat(group), flip)
                self.calls += 1
                for g, r, b in zip(group, rot.split([len(g) for g in group]), betas.split([len(g) for g in group])):
                    self.results[g.numpy().tobytes()] = (r, b)
                group = []

    def take(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The result of the short batch ``x``, else None (a full batch: the caller runs it)."""
        return self.results.get(x.numpy().tobytes())


def segment_batches(
    trk: Track, seg: Segment, clip_len: int, stride: int, batch_windows: int, channels: int, normalization: str,
    first: int = 0,
) -> Iterator[tuple[list[Window], torch.Tensor]]:  # fmt: skip
    """The network input of one segment, batch by batch from batch number ``first``: ``(windows,
    x [B, clip_len, 17, C])`` (see :func:`predict_mesh`)."""
    kp_seg = trk.keypoints[seg.start : seg.end]
    world_seg = None if trk.world is None else trk.world[seg.start : seg.end]
    x_seg = torch.from_numpy(network_input(kp_seg, world_seg, channels)) if normalization == "segment" else None
    windows = plan_windows(len(seg), clip_len, stride)
    for b0 in range(first * batch_windows, len(windows), batch_windows):
        batch = windows[b0 : b0 + batch_windows]
        clips = []
        for w in batch:
            if x_seg is None:  # one box per window, around its own (unpadded) frames
                rows = slice(w.start, w.start + w.length)
                clip = torch.from_numpy(network_input(kp_seg[rows], None if world_seg is None else world_seg[rows], channels))
            else:
                clip = x_seg[w.start : w.start + w.length]
            if w.length < clip_len:  # pad by repeating the last frame (official DiffMesh demo)
                clip = torch.cat([clip, clip[-1:].expand(clip_len - w.length, -1, -1)])
            clips.append(clip)
        yield batch, torch.stack(clips)


def run_batch(model: nn.Module, x: torch.Tensor, flip: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """One network call on a batch of windows (and its mirror with ``flip``): float32 CPU
    ``(rotmats [B, clip_len, 24, 3, 3], betas [B, clip_len, 10])``."""
    x = x.to(next(model.parameters()).device)
    with torch.inference_mode():
        rot, betas = (t.float().cpu() for t in network_parameters(model, x))
        if flip:
            rot_f, betas_f = (t.float().cpu() for t in network_parameters(model, flip_input(x)))
            rot = 0.5 * (rot + flip_smpl_rotmats(rot_f))  # projected by the blender
            betas = 0.5 * (betas + betas_f)
    return rot, betas


def network_parameters(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The network's ``(rotmats [B, T, 24, 3, 3], betas [B, T, 10])`` for ``x``, without posing its body
    model where it can (``MeshRegressor.predict_parameters``: the same values, a body-model pass less)."""
    if hasattr(model, "predict_parameters"):
        return model.predict_parameters(x)
    out = model(x)
    return out.rotmats, out.betas


def body_sequence(
    body_model: nn.Module, rotmats: np.ndarray, betas: np.ndarray, chunk: int = 64, vertices: bool = False
) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor | None]]:
    """Run the body model over a sequence in chunks: yields ``(rows, joints_h36m [C, 17, 3] m,
    vertices [C, V, 3] m or None)`` with no translation. Memory is O(chunk) meshes."""
    n = len(rotmats)
    for a in range(0, n, chunk):
        sl = slice(a, min(n, a + chunk))
        r = torch.from_numpy(np.ascontiguousarray(rotmats[sl]))
        with torch.inference_mode():
            out = body_model(betas=torch.from_numpy(np.ascontiguousarray(betas[sl])), body_pose=r[:, 1:], global_orient=r[:, :1])
        yield sl, out.joints_h36m, (out.vertices if vertices else None)


def h36m_joints(body_model: nn.Module, mesh: MeshSequence) -> np.ndarray:
    """``[N, 17, 3]`` H36M joints (metres, root-relative body, no translation)."""
    out = np.zeros((len(mesh.rotmats), 17, 3), dtype=np.float32)
    for sl, joints, _ in body_sequence(body_model, mesh.rotmats, mesh.betas):
        out[sl] = joints.numpy()
    return out
