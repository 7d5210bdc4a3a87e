"""Freed memory given back to the system between stages (diffmesh.pipelines.memory), in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap

_SCRIPT = textwrap.dedent(
    """
    import os
    import numpy as np
    from diffmesh.pipelines.memory import release_freed_memory

    def resident():
        return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    start = resident()
    arrays, kept = [], []
    for i in range(3000):  # 192 MB in 64 KB arrays: glibc takes them from its heap, not from mmap
        arrays.append(np.ones(8000))
        if i % 100 == 0:
            kept.append(np.ones(10))  # small arrays still in use between them
    kept.append(np.ones(8000))  # and one at the heap's top, so that freeing does not shrink it by itself
    grown = resident() - start
    del arrays
    freed = resident() - start
    assert release_freed_memory()
    print(grown, freed, resident() - start)
    """
)


def test_freed_arrays_go_back_to_the_system_only_when_asked() -> None:
    out = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, check=True).stdout.split()
    grown, freed, released = (int(x) / 1e6 for x in out)
    assert grown > 150, grown  # the arrays were resident
    assert freed > 0.8 * grown, (grown, freed)  # freeing alone keeps the pages: the process stays as large
    assert released < 0.2 * grown, (grown, released)  # measured: 192 MB, then 192, then about 0
