"""Giving freed memory back to the system between the pipeline's stages.

Each stage works on whole-video arrays (the model stage's rotations in float64, the world stage's
feet) and frees them when it ends. glibc's allocator keeps the freed pages of its heaps for later
use rather than returning them, so without help the process stays as large as the largest stage
was, through the overlay and the exports that follow, and that size grows with the video's length.
Measured on a 3000-frame video (docs/benchmarks.md §7.6): the overlay ran at 910 MB resident with
the freed pages kept and at 760 MB with them returned.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import lru_cache

__all__ = ["release_freed_memory"]


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (macOS, musl, Windows)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else ctypes.CDLL(None)
    except OSError:
        return None
    trim = getattr(libc, "malloc_trim", None)
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_freed_memory() -> bool:
    """Return the C heaps' free pages to the operating system (glibc ``malloc_trim(0)``, every arena).

    Results do not change; it takes a few milliseconds. Returns whether anything could be asked
    (False where the C library has no such call: there the allocator's own policy stands).
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
