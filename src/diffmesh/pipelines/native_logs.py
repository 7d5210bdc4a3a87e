"""Send what native libraries log on stderr (TensorFlow Lite, absl) to :mod:`logging` instead.

mediapipe's C++ code writes lines such as ``INFO: Created TensorFlow Lite XNNPACK delegate
for CPU.`` and ``W0000 00:00:... inference_feedback_manager.cc:114] ...`` straight to file
descriptor 2, when its graph starts and again when it first finds a person (which may be
many frames into a video). Neither ``GLOG_minloglevel`` nor ``TF_CPP_MIN_LOG_LEVEL`` nor absl's
Python verbosity silences them (measured with mediapipe 0.10.21): they come from TFLite's
minimal logger and from absl's C++ log before ``absl::InitializeLog``, which Python cannot
configure.

:func:`native_logs_to_logging` therefore points fd 2 at a pipe while the block runs. A
reader thread passes everything through to the real stderr at once, except complete lines
in those native formats: they become records of ``logger`` (DEBUG; ERROR/FATAL lines
WARNING), so they show with ``diffmesh -v`` and stay quiet otherwise. Nested and
concurrent uses share one redirection (reference-counted).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["native_logs_to_logging"]

logger = logging.getLogger(__name__)

# absl / glog: "W0000 00:00:1796221701.325049    6212 file.cc:114] message"
_ABSL = re.compile(rb"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^\]\s]+:\d+\] ")
# TensorFlow Lite's minimal logger: "INFO: message", and absl's pre-InitializeLog notice
_TFLITE = re.compile(rb"^(INFO|WARNING|ERROR|FATAL|VERBOSE): ")
_LEVELS = {b"I": logging.DEBUG, b"W": logging.DEBUG, b"E": logging.WARNING, b"F": logging.WARNING,
           b"INFO": logging.DEBUG, b"VERBOSE": logging.DEBUG, b"WARNING": logging.DEBUG,
           b"ERROR": logging.WARNING, b"FATAL": logging.WARNING}  # fmt: skip
# A partial write that may be the start of a native line waits for its newline; anything else
# (a progress bar's "\r..." update) is passed through at once.
_MAYBE_NATIVE = re.compile(rb"^(?:[IWEF]\d|[IWEF]$|INFO|WARN|ERR|FATAL|VERB)")

_lock = threading.Lock()
_users = 0
_saved_fd: int | None = None
_pump: threading.Thread | None = None


def _level(line: bytes) -> int | None:
    m = _ABSL.match(line) or _TFLITE.match(line)
    return None if m is None else _LEVELS[m.group(1)]


def _forward(line: bytes, out_fd: int, log: logging.Logger) -> None:
    level = _level(line)
    if level is None:
        os.write(out_fd, line)
    else:
        log.log(level, "native: %s", line.decode(errors="replace").rstrip())


def _run_pump(read_fd: int, out_fd: int, log: logging.Logger) -> None:
    pending = b""
    while chunk := os.read(read_fd, 65536):
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            _forward(line + b"\n", out_fd, log)
        if pending and not _MAYBE_NATIVE.match(pending):
            os.write(out_fd, pending)
            pending = b""
    if pending:
        _forward(pending, out_fd, log)
    os.close(read_fd)
    os.close(out_fd)  # the saved stderr: the pump is its last user


@contextmanager
def native_logs_to_logging(log: logging.Logger = logger) -> Iterator[None]:
    """Within the block, native TFLite/absl log lines on fd 2 go to ``log`` (see the module docstring).

    Does nothing when fd 2 cannot be redirected (closed or not a file descriptor).
    """
    global _users, _saved_fd, _pump
    with _lock:
        if _users == 0:
            try:
                sys.stderr.flush()
                saved = os.dup(2)
            except (OSError, ValueError, AttributeError):
                saved = None
            if saved is not None:
                read_fd, write_fd = os.pipe()
                os.dup2(write_fd, 2)
                os.close(write_fd)  # fd 2 is now the pipe's only write end
                _saved_fd = saved
                _pump = threading.Thread(target=_run_pump, args=(read_fd, saved, log), daemon=True,
                                         name="diffmesh-native-logs")  # fmt: skip
                _pump.start()
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and _saved_fd is not None:
                try:
                    sys.stderr.flush()
                except (OSError, ValueError, AttributeError):
                    pass
                os.dup2(_saved_fd, 2)  # closes the pipe's write end: the pump drains it and ends
                if _pump is not None:
                    _pump.join(timeout=5.0)  # a child process that inherited fd 2 could keep it open
                _saved_fd, _pump = None, None
