"""``diffmesh view``: one self-contained HTML page showing the video and the recovered bodies in 3-D.

:func:`write_viewer` builds the page from an output folder of ``diffmesh infer``
(:mod:`diffmesh.viewer.page`); :func:`serve` offers it on localhost (:mod:`diffmesh.viewer.serve`).
The page's JavaScript uses three.js, vendored at build time into ``vendor/three/``
(``tools/vendor_three.py``); nothing is downloaded when the page is made or opened.
"""

from diffmesh.viewer.page import PALETTE, ViewerInputs, build_page, find_inputs, write_viewer
from diffmesh.viewer.serve import page_server

__all__ = ["PALETTE", "ViewerInputs", "build_page", "find_inputs", "page_server", "write_viewer"]
