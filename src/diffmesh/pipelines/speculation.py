"""The network's windows run while the detector is still finding keypoints.

With one crop box per window (the packaged weights' ``window`` normalisation) a window's network
input depends only on its own 16 frames, so it can run as soon as those frames' keypoints are
final, long before the detector reaches the end of the video. :class:`WindowSpeculator` hears each
detection (:func:`~diffmesh.pipelines.keypoints.detect_video`'s ``listener``), tracks the frames
found so far exactly as the model stage will (:func:`~diffmesh.pipelines.tracking.track` on the
same rows), and hands every batch of windows that the model stage is certain to build — whole
batches of regular windows ending before the last detection — to the network's worker thread.
The model stage (:func:`~diffmesh.pipelines.prediction.predict_mesh`) then takes each batch's
result by its **exact input** (the bytes of the batch tensor): a batch it builds differently (a
segment that ended, a gap) simply runs as before, so the outputs are those of the run without
speculation, bit for bit (the same network call on the same batch).

On 2 cores this moves the network from after the keypoint pass to beside it (docs/benchmarks.md §4).
Not used with the ``segment`` normalisation (official checkpoints: a window's input depends on its
whole segment) or when the keypoints come from a file or the cache.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, Future

import numpy as np
import torch
from torch import nn

from diffmesh.conventions import BLAZEPOSE_JOINTS
from diffmesh.geometry.model_input import model_input_channels
from diffmesh.pipelines.keypoints import h36m_rows
from diffmesh.pipelines.person_track import PersonTrack
from diffmesh.pipelines.prediction import model_clip_len, run_batch, segment_batches
from diffmesh.pipelines.tracking import track

logger = logging.getLogger(__name__)

__all__ = ["PLAN_EVERY", "PeopleSpeculator", "WindowSpeculator"]

#: Frames between two looks for batches that became ready (a batch of 8 windows, stride 8, spans 64 new frames).
PLAN_EVERY = 32


class WindowSpeculator:
    """Runs the model stage's batches of windows ahead, on ``pool``, as the keypoints arrive.

    Args:
        model: the prepared network (a Future: it is built beside the detector); nothing runs
            before it is ready.
        n: frames of the keypoint pass.
        pool: the network's worker (one thread: batches run in order, after the model is built).
        flip, stride, batch_windows, max_gap: the run's settings, as the model stage uses them.
    """

    def __init__(self, model: Future[nn.Module], n: int, pool: Executor, flip: bool = False, stride: int | None = None,
                 batch_windows: int = 8, max_gap: int = 10) -> None:  # fmt: skip
        self.model, self.pool = model, pool
        self.flip, self.stride, self.batch_windows, self.max_gap = flip, stride, batch_windows, max_gap
        self.kp33 = np.zeros((n, len(BLAZEPOSE_JOINTS), 4), np.float32)
        self.world33 = np.zeros((n, len(BLAZEPOSE_JOINTS), 3), np.float32)
        self.detected = np.zeros(n, bool)
        self.count = 0
        self.base = 0  # frames before the last segment's start are settled
        self.submitted: dict[int, int] = {}  # segment start -> batches handed over
        self.futures: dict[bytes, Future[tuple[torch.Tensor, torch.Tensor]]] = {}
        self.hits = 0
        self.planning: Future[None] | None = None

    def __call__(self, i: int, landmarks: np.ndarray | None, world: np.ndarray | None) -> None:
        """One frame's detection (the keypoint pass's ``listener``)."""
        if landmarks is not None:
            self.kp33[i], self.detected[i] = landmarks, True
            if world is not None:
                self.world33[i] = world
        self.count = i + 1
        ready = self.model.done() and self.model.exception() is None
        if self.count % PLAN_EVERY == 0 and ready and (self.planning is None or self.planning.done()):
            # planned on the worker too (tracking the frames so far costs O(frames)): the detector's thread only records
            self.planning = self.pool.submit(self._plan_until_caught_up, self.model.result())

    def _plan_until_caught_up(self, model: nn.Module) -> None:
        """Plan, and again while the detector moved on by a planning interval meanwhile (no look is lost)."""
        while True:
            count = self.count
            self._plan(model, count)
            if self.count - count < PLAN_EVERY:
                return

    def _plan(self, model: nn.Module, count: int) -> None:
        """Hand over the batches that rows ``[0, count)`` settle (on the worker; rows below ``count`` no longer change)."""
        a, b = self.base, count
        detected = self.detected[a:b]
        if not detected.any():
            self.base = b  # nobody since the last segment: later segments start after here
            return
        b = a + int(np.flatnonzero(detected)[-1]) + 1  # rows up to the last detection are final
        keypoints, world = h36m_rows(self.kp33[a:b], self.world33[a:b], self.detected[a:b])
        trk = track(keypoints, self.detected[a:b], max_gap=self.max_gap, world=world)  # a segment starts at a: same rows
        clip_len = model_clip_len(model)
        stride = self.stride or max(1, clip_len // 2)
        for seg in trk.segments:
            start = a + seg.start
            first = self.submitted.get(start, 0)
            for batch, x in segment_batches(trk, seg, clip_len, stride, self.batch_windows, model_input_channels(model),
                                            "window", first):  # fmt: skip
                # only whole batches of regular windows: the model stage builds the same ones however the segment goes on
                if len(batch) < self.batch_windows or any(w.start % stride or w.length != clip_len for w in batch):
                    break
                self.futures[x.numpy().tobytes()] = self.pool.submit(run_batch, model, x, self.flip)
                first += 1
            self.submitted[start] = first
        self.base = a + trk.segments[-1].start

    def take(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The result of the batch ``x`` if it was run ahead (waits for it), else None."""
        if self.planning is not None:
            try:
                self.planning.result()  # its batches are all handed over
            except Exception:  # running ahead is an optimisation: the model stage computes what is missing
                logger.warning("running windows ahead failed; the model stage runs them itself", exc_info=True)
            self.planning = None
        future = self.futures.pop(x.numpy().tobytes(), None)
        if future is None:
            return None
        self.hits += 1
        return future.result()

    def close(self) -> None:
        """Cancel what has not started and log how much was run ahead."""
        for future in self.futures.values():
            future.cancel()
        logger.debug("speculation: %d batches run ahead and used, %d unused", self.hits, len(self.futures))
        self.futures.clear()


class PeopleSpeculator:
    """One :class:`WindowSpeculator` per person of a several-people keypoint pass
    (:func:`~diffmesh.pipelines.people.detect_people`'s ``listener``): each person's detections are
    handed over in frame order from their first (a newcomer's frames followed back included), so each
    person's batches of windows run while the detector goes on. ``make()`` builds a speculator."""

    def __init__(self, make: Callable[[], WindowSpeculator]) -> None:
        self.make = make
        self.by_id: dict[int, WindowSpeculator] = {}
        self.next: dict[int, int] = {}  # person id -> the next frame to hand over

    def __call__(self, t: int, tracks: list[PersonTrack]) -> None:
        """After frame ``t``: every followed person's rows up to ``t``."""
        for person in tracks:
            if person.id not in self.by_id:
                self.by_id[person.id], self.next[person.id] = self.make(), min(person.rows, default=t)
            ahead = self.by_id[person.id]
            for i in range(self.next[person.id], t + 1):
                row = person.rows.get(i)
                ahead(i, None if row is None else row[0], None if row is None else row[1])
            self.next[person.id] = t + 1

    def get(self, track_id: int) -> WindowSpeculator | None:
        return self.by_id.get(track_id)

    def close(self) -> None:
        for ahead in self.by_id.values():
            ahead.close()
