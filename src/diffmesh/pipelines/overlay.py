"""The overlay stage: the placed mesh drawn over the video frames, encoded as ``overlay.mp4``."""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from diffmesh.io.video import VideoInfo, VideoWriter, iter_frames
from diffmesh.pipelines.prediction import MeshSequence, body_sequence
from diffmesh.pipelines.settings import Progress, no_progress
from diffmesh.pipelines.threads import prefetch, torch_threads

__all__ = ["X264_THREADS", "render_overlay"]

#: x264 threads for overlay.mp4 (0: x264's choice); see :class:`diffmesh.io.video.VideoWriter`.
X264_THREADS = 1


def render_overlay(
    info: VideoInfo,
    start: int,
    end: int,
    body_model: nn.Module,
    mesh: MeshSequence,
    transl: np.ndarray,
    has_person: np.ndarray,
    K: np.ndarray,
    path: Path,
    side_view: bool = False,
    backend: str = "auto",
    progress: Progress = no_progress,
) -> None:
    """Decode frames ``[start, end)`` again, draw the mesh placed at ``transl`` (camera frame) over
    each frame with a person, and encode ``path``.

    Decoding, posing the body model, drawing and encoding run in four threads with small queues
    between them, so the work overlaps across the cores and only a few frames (and two 16-frame
    chunks of meshes) are in memory. Torch runs single-threaded in this pass: the per-frame torch
    work is small (body model chunks, vertex normals) while the decoder, llvmpipe and x264 threads
    need the cores, and spinning OpenMP workers starve them (docs/benchmarks.md, section 4). FFmpeg decodes in its caller's thread and x264 uses :data:`X264_THREADS` thread(s).
    """
    from diffmesh.render import Renderer, render_side_view

    faces = body_model.faces.cpu().numpy()
    n = end - start
    show = has_person & np.isfinite(transl).all(1)
    transl = np.nan_to_num(transl)
    width_out = info.width * (2 if side_view else 1)
    q_out: queue.Queue[Any] = queue.Queue(maxsize=8)
    enc_error: list[BaseException] = []

    def encode() -> None:
        try:
            with VideoWriter(path, info.fps_fraction, width_out, info.height, threads=X264_THREADS) as w:
                while (img := q_out.get()) is not None:
                    w.write(img)
        except BaseException as err:  # reported by the caller
            enc_error.append(err)
            while q_out.get() is not None:  # keep draining so the producer never blocks
                pass

    th = threading.Thread(target=encode, daemon=True)
    th.start()
    blank = None
    with torch_threads(1):
        try:
            # posed meshes come from their own thread (2 chunks in flight): the body model overlaps drawing
            meshes = prefetch(body_sequence(body_model, mesh.rotmats, mesh.betas, chunk=16, vertices=True), size=2)
            chunk_sl, chunk_verts = slice(0, 0), None
            with Renderer(info.width, info.height, backend=backend) as r:  # type: ignore[arg-type]
                for frame in prefetch(iter_frames(info.path, start, end, threads=1)):
                    i = frame.index - start
                    if i >= chunk_sl.stop:
                        chunk_sl, _, chunk_verts = next(meshes)
                    img = frame.image
                    if show[i]:
                        verts = chunk_verts[i - chunk_sl.start].numpy() + transl[i]  # type: ignore[index]
                        img = r.render(verts, faces, K, background=img, alpha=0.8).image
                        if side_view:
                            img = np.concatenate([img, render_side_view(r, verts, faces, K).image], axis=1)
                    elif side_view:
                        blank = np.full_like(img, 255) if blank is None else blank
                        img = np.concatenate([img, blank], axis=1)
                    q_out.put(img)
                    progress("render", i + 1, n)
        finally:
            q_out.put(None)
            th.join()
    if enc_error:
        raise enc_error[0]
