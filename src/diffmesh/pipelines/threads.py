"""Threads of the video pipeline: background prefetching and torch's CPU thread count.

Why the thread count matters: torch's OpenMP workers spin-wait at the end of every parallel
operation for the slowest worker. When other programs keep the cores busy, a worker is often
descheduled, and the model's thousands of small operations each wait for it: the model stage
then runs 10-300x slower with one OpenMP thread per core than with fewer threads
(docs/benchmarks.md §4.1). :func:`default_threads` therefore leaves half the cores free.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import torch

__all__ = ["MAX_DEFAULT_THREADS", "default_threads", "prefetch", "torch_threads"]

T = TypeVar("T")

#: The most torch threads :func:`default_threads` picks.
MAX_DEFAULT_THREADS = 4


def default_threads() -> int:
    """Torch threads for the pipeline when the caller does not choose: half the cores this
    process may run on, at least 1 and at most :data:`MAX_DEFAULT_THREADS` (1 on a 2-core machine).

    Results do not depend on the thread count; the choice only trades speed on a quiet machine
    (more threads) against robustness on a busy one (docs/inference.md, Threads).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_DEFAULT_THREADS, cores // 2))


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (process-wide), then restore the old count."""
    if n < 1:
        raise ValueError(f"torch thread count must be >= 1, got {n}; pass 0 to InferSettings.threads for the default")
    old = torch.get_num_threads()
    if n == old:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def prefetch(it: Iterable[T], size: int = 8) -> Iterator[T]:
    """Run an iterator in a background thread (decoding overlaps the consumer on another core).

    At most ``size`` items are in flight: memory stays O(size) frames. Exceptions are re-raised here.
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=size)
    done = object()
    stop = threading.Event()

    def worker() -> None:
        try:
            for item in it:
                if stop.is_set():
                    return
                q.put(item)
            q.put(done)
        except BaseException as err:  # handed to the consumer
            q.put(err)

    th = threading.Thread(target=worker, daemon=True)
    th.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while th.is_alive():  # drain so the worker can see the stop flag
            try:
                q.get(timeout=0.05)
            except queue.Empty:
                pass
