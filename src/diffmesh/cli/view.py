"""``diffmesh view OUT``: the viewer page of an output folder, optionally served on localhost (argument parsing only).

The page is built by :func:`diffmesh.viewer.write_viewer`; :func:`diffmesh.viewer.page_server` serves it.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``view`` subcommand."""
    p = sub.add_parser("view", help="one self-contained HTML page: the video and the recovered bodies in 3-D, side by side")
    p.add_argument("output", metavar="OUT", help="an output folder of `diffmesh infer` (needs animation.glb)")
    p.add_argument("--html", default=None, metavar="PATH", help="where to write the page (default: OUT/view.html)")
    p.add_argument("--no-video", action="store_true", help="leave the video out (a smaller page; the bodies alone)")
    p.add_argument("--serve", action="store_true", help="also serve the page on http://127.0.0.1:PORT/ until Ctrl-C (or SIGTERM)")
    p.add_argument("--port", type=int, default=8000, help="port for --serve (default 8000; 0: any free port)")
    p.set_defaults(func=cmd_view)


def cmd_view(args: argparse.Namespace) -> int:
    from diffmesh.viewer import page_server, write_viewer

    path = write_viewer(args.output, args.html, video=not args.no_video)
    if not args.serve:
        logger.info("open %s in a browser (works offline)", path.resolve().as_uri())
        return 0
    server = page_server(path, args.port)
    host, port = server.server_address[:2]
    logger.info("serving %s at http://%s:%d/%s (Ctrl-C to stop)", path.name, host, port, path.name)
    try:
        with _sigterm_as_interrupt():
            server.serve_forever()
    except KeyboardInterrupt:
        logger.info("stopped serving")
    finally:
        server.server_close()
    return 0


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill``, ``docker stop``, a service manager) stops the server as Ctrl-C does.

    Ctrl-C is Python's own KeyboardInterrupt. A server started in the background of a shell without
    job control (``cmd &``, ``nohup``) inherits SIGINT ignored; SIGTERM then stops it cleanly. The
    previous handler comes back afterwards; off the main thread (where handlers cannot be set) this
    does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
