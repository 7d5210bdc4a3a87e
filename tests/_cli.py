"""Running the ``diffmesh`` command line as a user does: a subprocess of this interpreter."""

from __future__ import annotations

import subprocess
import sys


def run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``python -m diffmesh.cli ARGS`` with captured text output."""
    return subprocess.run([sys.executable, "-m", "diffmesh.cli", *args], capture_output=True, text=True, timeout=timeout)
