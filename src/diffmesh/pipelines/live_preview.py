"""The live preview: the newest frame with the recovered body drawn on it, served over HTTP.

``diffmesh infer SOURCE --live --live-preview [HOST:]PORT`` starts a small HTTP server for the
length of the run. Any browser shows it, on this machine or through an SSH tunnel from another (no
display, GUI toolkit or extra dependency is needed where the run happens):

- ``/``: a page showing the stream;
- ``/stream``: MJPEG (``multipart/x-mixed-replace``), one JPEG per emitted window;
- ``/frame.jpg``: the newest frame alone (for scripts).

Each frame is the camera image with the body's H36M joints (camera frame, metres) projected through
the run's intrinsics and drawn as a skeleton (left limbs blue, right red), JPEG quality 80. The
server binds ``127.0.0.1`` unless a host is given (``0.0.0.0``: every interface).
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from diffmesh.pipelines.skeleton_overlay import draw_skeleton

logger = logging.getLogger(__name__)

__all__ = ["PreviewServer", "parse_preview_address"]

_PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>diffmesh live</title>
<style>body{margin:0;background:#111;display:flex;justify-content:center;align-items:center;height:100vh}
img{max-width:100%;max-height:100%}</style></head><body><img src="stream" alt="diffmesh live preview"></body></html>
"""


def parse_preview_address(address: str) -> tuple[str, int]:
    """``"PORT"`` or ``"HOST:PORT"`` → ``(host, port)`` (host ``127.0.0.1`` by default; port 0: any free one)."""
    host, sep, port = address.rpartition(":")
    host = host if sep else "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535 or (sep and not host):
        raise ValueError(f"--live-preview {address!r} is not [HOST:]PORT with PORT in 0..65535; e.g. 8765 or 0.0.0.0:8765")
    return host, int(port)


class PreviewServer:
    """Serves the newest preview frame (module docstring) until :meth:`close`."""

    def __init__(self, address: str) -> None:
        host, port = parse_preview_address(address)
        self._jpeg: bytes | None = None
        self._count = 0
        self._changed = threading.Condition()
        self._closing = False
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if self.path in ("/", "/index.html"):
                    self._send(200, "text/html; charset=utf-8", _PAGE)
                elif self.path == "/frame.jpg":
                    jpeg = server._jpeg
                    if jpeg is None:
                        self._send(503, "text/plain", b"no frame yet\n")
                    else:
                        self._send(200, "image/jpeg", jpeg)
                elif self.path == "/stream":
                    self._stream()
                else:
                    self._send(404, "text/plain", b"not found: try / or /stream or /frame.jpg\n")

            def _send(self, code: int, kind: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def _stream(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                seen = -1
                try:
                    while True:
                        with server._changed:
                            server._changed.wait_for(lambda: server._count != seen or server._closing, timeout=1.0)
                            if server._closing:
                                return
                            jpeg, seen = server._jpeg, server._count
                        if jpeg is None:
                            continue
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg))
                        self.wfile.write(jpeg + b"\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    return  # the viewer went away

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's signature)
                logger.debug("preview: " + format, *args)

        try:
            self._httpd = ThreadingHTTPServer((host, port), Handler)
        except OSError as err:
            raise ValueError(f"--live-preview {address!r}: cannot listen there ({err.strerror or err}); "
                             "pick another port (0: any free one)") from None  # fmt: skip
        self._httpd.daemon_threads = True
        self.url = f"http://{host}:{self._httpd.server_address[1]}/"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="diffmesh-preview", daemon=True)
        self._thread.start()

    def show(self, image: np.ndarray, joints_cam: np.ndarray | None, K: np.ndarray) -> None:
        """Publish ``image`` (``uint8 [H, W, 3]`` RGB) with ``joints_cam`` (``[17, 3]`` metres, camera
        frame; None: no person) drawn on it."""
        import cv2

        canvas = np.array(image, dtype=np.uint8)  # RGB, as the skeleton's colours are
        if joints_cam is not None and np.isfinite(joints_cam).all() and (joints_cam[:, 2] > 0).all():
            uv = joints_cam @ np.asarray(K, np.float64).T
            draw_skeleton(canvas, uv[:, :2] / uv[:, 2:], thickness=2)
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(canvas[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 80])  # BGR for OpenCV
        if ok:
            with self._changed:
                self._jpeg, self._count = buf.tobytes(), self._count + 1
                self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()
