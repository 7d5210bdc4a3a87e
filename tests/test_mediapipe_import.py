"""Importing mediapipe without matplotlib (diffmesh.pipelines.mediapipe_import), in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_mediapipe_is_imported_without_matplotlib_and_matplotlib_still_works_after() -> None:
    out = _python(
        "import sys\n"
        "from diffmesh.pipelines.mediapipe_import import import_mediapipe\n"
        "mp = import_mediapipe()\n"
        "print('pose' in dir(mp.solutions), 'matplotlib' in sys.modules, 'matplotlib.pyplot' in sys.modules)\n"
        "import matplotlib, matplotlib.pyplot as plt\n"  # the real package, not a stand-in
        "from mediapipe.python.solutions import drawing_utils\n"
        "print(type(plt).__name__, hasattr(matplotlib, '__version__'), drawing_utils.plt.figure is plt.figure)\n"
    )
    assert out.splitlines() == ["True False False", "module True True"]


def test_a_matplotlib_imported_before_is_left_alone() -> None:
    out = _python(
        "import matplotlib.pyplot as plt\n"
        "from diffmesh.pipelines.mediapipe_import import import_mediapipe\n"
        "import_mediapipe()\n"
        "from mediapipe.python.solutions import drawing_utils\n"
        "print(drawing_utils.plt is plt)\n"
    )
    assert out == "True"


def test_the_stand_in_reached_before_removal_imports_the_real_module() -> None:
    """Another thread reading matplotlib while the stand-ins are in place gets the real thing."""
    out = _python(
        "import sys\n"
        "from diffmesh.pipelines.mediapipe_import import _matplotlib_deferred\n"
        "with _matplotlib_deferred():\n"
        "    stand_in = sys.modules['matplotlib.pyplot']\n"
        "    figure = stand_in.figure\n"
        "print(figure.__module__, type(sys.modules['matplotlib.pyplot']).__name__)\n"
    )
    assert out == "matplotlib.pyplot module"
