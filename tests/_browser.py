"""A real headless browser for tests: Debian's Chromium driven over the DevTools protocol.

No browser driver or Python package is needed: Chromium is started with
``--remote-debugging-pipe``, which speaks the Chrome DevTools Protocol as NUL-terminated JSON on
file descriptors 3 (commands in) and 4 (replies and events out). WebGL runs on SwiftShader (CPU),
and the host resolver maps every name to nothing, so a page that tried the network would fail
loudly. Every console message, uncaught exception, browser log entry and request is recorded.

Install the browser with ``apt-get install chromium`` (Debian/Ubuntu; ``.ci/run`` does this), or
point ``DIFFMESH_CHROMIUM`` at a Chromium/Chrome executable.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

INSTALL_HINT = "install it with `apt-get install chromium` (Debian/Ubuntu) or set DIFFMESH_CHROMIUM to a Chromium executable"


def find_chromium() -> str | None:
    """The Chromium executable: ``$DIFFMESH_CHROMIUM``, else ``chromium`` / ``chromium-browser`` on PATH."""
    if os.environ.get("DIFFMESH_CHROMIUM"):
        return os.environ["DIFFMESH_CHROMIUM"]
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageLog:
    """What a page said: console messages and log entries as ``(level, text)``, exceptions, request URLs."""

    console: list[tuple[str, str]] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def errors(self) -> list[str]:
        return [f"{level}: {text}" for level, text in self.console if level in ("error", "assert")] + self.exceptions


class Browser:
    """One headless Chromium with one tab. Use as a context manager; :meth:`open` loads a URL."""

    def __init__(self, profile_dir: Path, width: int = 1280, height: int = 720) -> None:
        exe = find_chromium()
        if exe is None:
            raise FileNotFoundError(f"the browser tests need Chromium: {INSTALL_HINT}")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        flags = [
            "--headless", "--remote-debugging-pipe", "--no-sandbox", "--no-first-run", "--no-default-browser-check",
            "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist",
            "--host-resolver-rules=MAP * ~NOTFOUND", "--disable-background-networking", "--disable-component-update",
            "--disable-extensions", "--disable-sync", "--mute-audio", "--autoplay-policy=no-user-gesture-required",
            f"--user-data-dir={profile_dir}", f"--window-size={width},{height}", "about:blank",
        ]  # fmt: skip
        # The pipe ends must be the browser's file descriptors 3 and 4: let bash place them (dash takes one-digit fds only).
        script = f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w}'
        self.process = subprocess.Popen(
            ["bash", "-c", script, exe, *flags], pass_fds=(to_browser_r, from_browser_w),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._replies: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._next_id = 0
        self._lock = threading.Lock()
        self.log = PageLog()
        self._session: str | None = None
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self.process.stderr.read, daemon=True).start()  # type: ignore[union-attr]
        target = next(t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page")
        self._session = self.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.call("Browser.close", timeout=10)
                self.process.wait(timeout=10)
            except (TimeoutError, RuntimeError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        os.close(self._to_browser)

    # ---- the protocol ----------------------------------------------------------------------

    def _read(self) -> None:
        buffer = b""
        while chunk := os.read(self._from_browser, 1 << 20):
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for raw in messages:
                message = json.loads(raw)
                if "id" in message:
                    self._replies.pop(message["id"]).put(message)
                else:
                    self._on_event(message.get("method", ""), message.get("params", {}))
        os.close(self._from_browser)

    def _on_event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.log.console.append((params["type"], text))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.log.exceptions.append(details.get("exception", {}).get("description", details.get("text", "")))
        elif method == "Log.entryAdded":
            entry = params["entry"]
            self.log.console.append((entry["level"], f"[{entry['source']}] {entry['text']} {entry.get('url', '')}".strip()))
        elif method == "Network.requestWillBeSent":
            self.log.requests.append(params["request"]["url"][:120])  # data: URLs are long

    def call(self, method: str, timeout: float = 60, **params: Any) -> dict[str, Any]:
        """Send one DevTools command (to the tab once attached) and return its result."""
        with self._lock:
            self._next_id += 1
            ident = self._next_id
            reply: queue.Queue[dict[str, Any]] = queue.Queue()
            self._replies[ident] = reply
            message: dict[str, Any] = {"id": ident, "method": method, "params": params}
            if self._session is not None and not method.startswith(("Target.", "Browser.")):
                message["sessionId"] = self._session
            os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        try:
            answer = reply.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"Chromium did not answer {method} within {timeout} s") from None
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    # ---- what tests use -----------------------------------------------------------------------

    def open(self, url: str) -> None:
        """Navigate the tab to ``url``, with a fresh :attr:`log`."""
        self.log = PageLog()
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str, timeout: float = 60) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.call("Runtime.evaluate", timeout=timeout, expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails'].get('exception', {}).get('description')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60) -> Any:
        """Poll a JavaScript expression until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise TimeoutError(f"{expression!r} still falsy after {timeout} s; page log: {self.log}")

    def screenshot(self) -> np.ndarray:
        """The visible page as an ``[H, W, 3]`` uint8 RGB array."""
        import io

        from PIL import Image

        png = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
