"""Serving the viewer page on localhost (``diffmesh view OUT --serve``).

The page needs no server (it opens from a ``file://`` URL); serving helps where a browser runs
elsewhere than the files (a remote machine with a forwarded port) or refuses local files. Only the
page itself is served, from memory: the rest of the output folder is not exposed.
"""

from __future__ import annotations

import logging
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from diffmesh.files import PathLike

__all__ = ["page_server"]

logger = logging.getLogger(__name__)


class _PageHandler(BaseHTTPRequestHandler):
    """GET ``/`` or ``/<page name>``: the page; anything else: 404."""

    def __init__(self, *args, page: bytes, name: str, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.page, self.name = page, name
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        if self.path.split("?")[0] not in ("/", f"/{self.name}"):
            self.send_error(HTTPStatus.NOT_FOUND, f"only /{self.name} is served here")
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.page)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the http.server signature
        logger.debug("%s %s", self.address_string(), format % args)


def page_server(html_path: PathLike, port: int = 8000, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """An HTTP server (not yet serving: call ``serve_forever``) that answers with the page at ``html_path``.

    ``port=0`` picks a free port (``server.server_address[1]``). The page is read now.

    Raises:
        OSError: the port is taken or not allowed (the message says which and what to do).
    """
    path = Path(html_path)
    handler = partial(_PageHandler, page=path.read_bytes(), name=path.name)
    try:
        return ThreadingHTTPServer((host, port), handler)
    except OSError as err:
        raise OSError(
            f"cannot serve on {host}:{port} ({err.strerror}); pass --port with another number (0: any free port)"
        ) from err
