"""The overlay stage: the placed mesh drawn over the video frames, encoded as ``overlay.mp4``."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from diffmesh.io.video import VideoInfo, VideoWriter, iter_frames
from diffmesh.pipelines.prediction import MeshSequence, body_sequence
from diffmesh.pipelines.settings import Progress, no_progress
from diffmesh.pipelines.threads import prefetch, torch_threads
from diffmesh.render.core import DEFAULT_COLOR, vertex_normals

__all__ = ["PERSON_COLORS", "X264_THREADS", "OverlayBody", "person_color", "render_overlay", "render_people_overlay"]

#: One colour per person in a several-people overlay (``#rrggbb``; the same as :data:`diffmesh.viewer.PALETTE`).
PERSON_COLORS = ("#e4572e", "#4c9be8", "#76b041", "#ffc914", "#a06cd5", "#17bebb", "#f08cae", "#c2c2c2")


def person_color(track_id: int) -> tuple[float, float, float]:
    """RGB in [0, 1] of the person with ``track_id`` (:data:`PERSON_COLORS`, cycled): stable for the whole video."""
    h = PERSON_COLORS[int(track_id) % len(PERSON_COLORS)]
    return (int(h[1:3], 16) / 255, int(h[3:5], 16) / 255, int(h[5:7], 16) / 255)


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
    each frame with a person, and encode ``path`` (:func:`render_people_overlay` with one person)."""
    render_people_overlay(info, start, end, body_model, [OverlayBody(mesh, transl, has_person)], K, path, side_view,
                          backend, progress)  # fmt: skip


@dataclass
class OverlayBody:
    """One person to draw: ``mesh`` placed at ``transl`` ``[N, 3]`` (camera frame) where ``has_person``, in ``color`` (RGB in [0, 1])."""

    mesh: MeshSequence
    transl: np.ndarray
    has_person: np.ndarray
    color: tuple[float, float, float] = DEFAULT_COLOR


def render_people_overlay(
    info: VideoInfo,
    start: int,
    end: int,
    body_model: nn.Module,
    bodies: list[OverlayBody],
    K: np.ndarray,
    path: Path,
    side_view: bool = False,
    backend: str = "auto",
    progress: Progress = no_progress,
) -> None:
    """Decode frames ``[start, end)`` again, draw every body over each frame (the farthest first, so
    nearer people cover farther ones), and encode ``path``; the side view shows the nearest. The
    open body model is drawn as its display mesh, a quarter of its faces on a subset of its own
    vertices (:mod:`diffmesh.body.display`): the same silhouette within a pixel at half the cost.

    Decoding, posing the body model, drawing and encoding run in their own threads with small queues
    between them, so the work overlaps across the cores and only a few frames (and two 16-frame
    chunks of meshes per person) are in memory. Torch runs single-threaded in this pass: the per-frame torch
    work is small (body model chunks, vertex normals) while the decoder, llvmpipe and x264 threads
    need the cores, and spinning OpenMP workers starve them (docs/benchmarks.md, section 4). FFmpeg decodes in its caller's thread and x264 uses :data:`X264_THREADS` thread(s).
    """
    from diffmesh.body.display import display_body
    from diffmesh.render import Renderer, render_side_view

    shown_model, shown_faces, n_shown = display_body(body_model)  # the lighter display mesh where there is one
    faces = shown_faces.numpy()
    n = end - start
    shows = [b.has_person & np.isfinite(b.transl).all(1) for b in bodies]
    transls = [np.nan_to_num(b.transl) for b in bodies]
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
        # posed meshes and their normals come from their own threads (2 chunks in flight): they overlap drawing
        chunks = [_Chunks(prefetch(_posed(shown_model, b.mesh, shown_faces, n_shown), size=2)) for b in bodies]
        try:
            with Renderer(info.width, info.height, backend=backend) as r:  # type: ignore[arg-type]
                for frame in prefetch(iter_frames(info.path, start, end, threads=1)):
                    i = frame.index - start
                    img = frame.image
                    here = [(*c.posed(i, t[i]), b.color) for b, c, s, t in zip(bodies, chunks, shows, transls) if s[i]]
                    here.sort(key=lambda vnc: -float(vnc[0][:, 2].mean()))  # farthest first
                    for verts, normals, color in here:
                        img = r.render(verts, faces, K, background=img, color=color, alpha=0.8, cull_back_faces=True,
                                       normals=normals).image  # fmt: skip
                    if side_view and here:
                        img = np.concatenate([img, render_side_view(r, here[-1][0], faces, K).image], axis=1)
                    elif side_view:
                        blank = np.full_like(img, 255) if blank is None else blank
                        img = np.concatenate([img, blank], axis=1)
                    q_out.put(img)
                    progress("render", i + 1, n)
        finally:
            q_out.put(None)
            th.join()
            for c in chunks:
                c.close()
    if enc_error:
        raise enc_error[0]


def _posed(body_model: nn.Module, mesh: MeshSequence, faces: torch.Tensor, n_vertices: int
           ) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:  # fmt: skip
    """``(rows, vertices [C, V, 3], vertex normals [C, V, 3])`` chunk by chunk, the first ``n_vertices``
    the model poses: on the posing thread, the drawing thread is spared the normals (a quarter of its
    time per frame, docs/benchmarks.md §7.4)."""
    for sl, _, verts in body_sequence(body_model, mesh.rotmats, mesh.betas, chunk=16, vertices=True):
        assert verts is not None
        verts = verts[:, :n_vertices]
        yield sl, verts.numpy(), torch.stack([vertex_normals(v, faces) for v in verts]).numpy()


class _Chunks:
    """Frame ``i``'s posed vertices and normals from a stream of :func:`_posed` chunks, read in order."""

    def __init__(self, stream: Generator[tuple[slice, np.ndarray, np.ndarray], None, None]) -> None:
        self.stream, self.sl = stream, slice(0, 0)
        self.verts = self.normals = np.zeros((0, 0, 3), np.float32)

    def close(self) -> None:
        self.stream.close()  # a generator: stops its prefetch thread

    def posed(self, i: int, transl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frame ``i``'s vertices moved by ``transl``, and their normals."""
        while i >= self.sl.stop:
            self.sl, self.verts, self.normals = next(self.stream)
        return self.verts[i - self.sl.start] + transl, self.normals[i - self.sl.start]
