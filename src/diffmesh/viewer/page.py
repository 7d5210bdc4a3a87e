"""The viewer page: one self-contained HTML file from an output folder of ``diffmesh infer``.

The page (``template.html`` + ``viewer.js`` in this package) embeds everything it shows, so it
works offline from a ``file://`` URL and can be mailed as one file:

* three.js, vendored at build time (``vendor/three/``, see its ``PROVENANCE.md``), as the data:
  URL of an import map entry (``three-bundle``);
* ``animation.glb`` and the video, base64 in ``<script type="application/octet-stream">`` blocks;
* a JSON config: frame rate, frame numbers, the palette and how video time maps to animation time.

Times: the glTF's key 0 is video frame ``first_frame_index`` (its ``asset.extras``). ``overlay.mp4``
starts at the run's first frame (``summary.json`` ``settings.start``), the source video at frame 0,
so the animation time is ``video time - (first_frame_index - video's first frame) / fps``.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
import struct
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from diffmesh.files import PathLike

__all__ = ["PALETTE", "VIDEO_TYPES", "ViewerInputs", "build_page", "find_inputs", "read_glb_json", "write_viewer"]

logger = logging.getLogger(__name__)

GLB_NAME = "animation.glb"
OVERLAY_NAME = "overlay.mp4"
SUMMARY_NAME = "summary.json"
HTML_NAME = "view.html"

#: Person colours, by the index of the skinned mesh in the glTF (cycled past the last).
PALETTE = ("#e4572e", "#4c9be8", "#76b041", "#ffc914", "#a06cd5", "#17bebb", "#f08cae", "#c2c2c2")
BACKGROUND = "#262a31"

#: Containers a browser's <video> plays, by file suffix -> MIME type.
VIDEO_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/mp4", ".webm": "video/webm", ".ogv": "video/ogg"}

#: Past this many embedded video bytes the page gets slow to open: say so.
LARGE_VIDEO_BYTES = 200 * 1024 * 1024

_VENDOR = ("vendor", "three")
_MARKER = re.compile(r"@@([A-Z0-9_]+)@@")
_BUNDLE = "three.bundle.min.js"


@dataclass(frozen=True)
class ViewerInputs:
    """What one page shows.

    Attributes:
        glb: the ``animation.glb`` file.
        fps: frames per second of the video and the animation.
        first_frame: video frame index of the animation's first key (0 s).
        video: the video to show beside the bodies, or ``None``.
        video_first_frame: video frame index of ``video``'s first frame (its 0 s).
        title: the page title.
    """

    glb: Path
    fps: float
    first_frame: int
    video: Path | None = None
    video_first_frame: int = 0
    title: str = "DiffMesh"
    #: the unsure stretches of ``summary.json``'s ``quality`` (video frame numbers ``start``/``end``, ``why``,
    #: and ``person``: the track id when several people were found, else ``None``), marked under the timeline
    unsure: tuple[dict[str, Any], ...] = ()

    @property
    def animation_offset_s(self) -> float:
        """Video time (s) at which the animation starts."""
        return (self.first_frame - self.video_first_frame) / self.fps


def read_glb_json(data: bytes, name: str = GLB_NAME) -> dict[str, Any]:
    """The JSON chunk of a binary glTF (``.glb``), checked to be glTF 2.0.

    Raises:
        ValueError: ``data`` is not a glTF 2.0 binary (the message names ``name``).
    """
    if len(data) < 20 or data[:4] != b"glTF":
        raise ValueError(f"{name} is not a binary glTF file (no 'glTF' header); rewrite it with diffmesh infer VIDEO -o OUT")
    version, _total, chunk_len, chunk_type = struct.unpack_from("<IIII", data, 4)
    if version != 2 or chunk_type != 0x4E4F534A or 20 + chunk_len > len(data):  # 'JSON'
        raise ValueError(f"{name} is not a glTF 2.0 binary with a JSON chunk (version {version}); rewrite it with diffmesh infer")
    try:
        return json.loads(data[20 : 20 + chunk_len])
    except ValueError as err:
        raise ValueError(f"{name}: the glTF JSON chunk is not valid JSON ({err}); rewrite it with diffmesh infer") from err


def find_inputs(out_dir: PathLike, video: bool = True) -> ViewerInputs:
    """Read an output folder of ``diffmesh infer``: its ``animation.glb`` and the video to show.

    The video is ``overlay.mp4`` when present, else the source video named in ``summary.json``
    when that file still exists and a browser can play its container (:data:`VIDEO_TYPES`), else
    none (``video=False``: never).

    Raises:
        FileNotFoundError: ``out_dir`` or its ``animation.glb`` is missing (says how to make it).
        ValueError: ``animation.glb`` is not a glTF 2.0 binary.
    """
    out = Path(out_dir)
    if not out.is_dir():
        raise FileNotFoundError(f"output folder {str(out)!r} does not exist; make it with diffmesh infer VIDEO -o {out}")
    glb = out / GLB_NAME
    if not glb.is_file():
        raise FileNotFoundError(
            f"{glb} is missing: diffmesh view shows the animation that diffmesh infer VIDEO -o {out} writes "
            f"(without --no-animation)"
        )
    with glb.open("rb") as f:
        head = f.read(20)
        if len(head) == 20 and head[:4] == b"glTF":
            head += f.read(struct.unpack_from("<I", head, 12)[0])
    extras = read_glb_json(head, str(glb)).get("asset", {}).get("extras", {})
    summary = _read_summary(out)
    fps = float(extras.get("fps") or summary.get("fps") or 0)
    if fps <= 0:
        raise ValueError(f"{glb} does not say its frame rate (asset.extras.fps); rewrite it with diffmesh infer VIDEO -o {out}")
    first = int(extras.get("first_frame_index", 0))
    title = f"DiffMesh · {out.resolve().name}"
    unsure = unsure_stretches(summary)
    if not video:
        return ViewerInputs(glb, fps, first, title=title, unsure=unsure)
    if (out / OVERLAY_NAME).is_file():
        start = int(summary.get("settings", {}).get("start", first))
        return ViewerInputs(glb, fps, first, out / OVERLAY_NAME, start, title, unsure)
    source = Path(summary["video"]) if summary.get("video") else None
    if source is not None and source.is_file() and source.suffix.lower() in VIDEO_TYPES:
        return ViewerInputs(glb, fps, first, source, 0, title, unsure)
    if source is None:
        why = f"no {OVERLAY_NAME} and no source video in {SUMMARY_NAME}"
    elif not source.is_file():
        why = f"no {OVERLAY_NAME}, and the source video {source} is not there"
    else:
        why = f"no {OVERLAY_NAME}, and browsers do not play {source.suffix} files like {source.name}"
    logger.warning("view: no video (%s); the page shows the bodies alone", why)
    return ViewerInputs(glb, fps, first, title=title, unsure=unsure)


def unsure_stretches(summary: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """The ``unsure`` stretches of a ``summary.json`` (every person's when several were found), each with its
    ``person``; malformed entries are left out (the page is only a view)."""
    people = [p for p in summary.get("people") or [] if isinstance(p, dict) and isinstance(p.get("quality"), dict)]
    reports = [(p.get("track_id") if len(people) > 1 else None, p["quality"]) for p in people]
    if not reports and isinstance(summary.get("quality"), dict):
        reports = [(None, summary["quality"])]
    out = []
    for person, report in reports:
        for u in report.get("unsure") or []:
            try:
                out.append({"start": int(u["start"]), "end": int(u["end"]), "why": str(u["why"]), "person": person})
            except (KeyError, TypeError, ValueError):
                continue
    return tuple(out)


def _read_summary(out: Path) -> dict[str, Any]:
    path = out / SUMMARY_NAME
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        logger.warning("view: ignoring %s (%s)", path, err)
        return {}
    return data if isinstance(data, dict) else {}


def _package_text(*parts: str) -> str:
    return resources.files("diffmesh.viewer").joinpath(*parts).read_text(encoding="utf-8")


def _script_safe(text: str, what: str) -> str:
    """``text`` inside a ``<script>`` element: only ``</script`` (any case) could end it early."""
    if "</script" in text.lower():
        raise ValueError(f"{what} contains '</script' and cannot be inlined in the page")
    return text


def build_page(inputs: ViewerInputs) -> str:
    """The HTML page showing ``inputs`` (a string; everything embedded)."""
    from diffmesh import __version__

    bundle = resources.files("diffmesh.viewer").joinpath(*_VENDOR, _BUNDLE).read_bytes()
    importmap = {"imports": {"three-bundle": "data:text/javascript;base64," + base64.b64encode(bundle).decode("ascii")}}
    video_bytes = inputs.video.read_bytes() if inputs.video is not None else b""
    if len(video_bytes) > LARGE_VIDEO_BYTES:
        logger.warning("view: embedding a %.0f MB video makes a slow page; --no-video leaves it out", len(video_bytes) / 2**20)
    config: dict[str, Any] = {
        "fps": inputs.fps,
        "first_frame": inputs.first_frame,
        "palette": list(PALETTE),
        "background": BACKGROUND,
        "video": None,
        "unsure": list(inputs.unsure),
    }
    if inputs.video is not None:
        config["video"] = {
            "name": inputs.video.name,
            "mime": VIDEO_TYPES.get(inputs.video.suffix.lower(), "video/mp4"),
            "first_frame": inputs.video_first_frame,
            "animation_offset_s": inputs.animation_offset_s,
        }
    values = {
        "GENERATOR": html.escape(f"diffmesh {__version__}"),
        "TITLE": html.escape(inputs.title),
        "IMPORTMAP": json.dumps(importmap),
        "CONFIG": json.dumps(config).replace("<", "\\u003c"),  # a file name cannot end the <script> block
        "GLB_BASE64": base64.b64encode(inputs.glb.read_bytes()).decode("ascii"),
        "VIDEO_BASE64": base64.b64encode(video_bytes).decode("ascii"),
        "VIEWER_JS": _script_safe(_package_text("viewer.js"), "viewer.js"),
        "THREE_LICENSE": _package_text(*_VENDOR, "LICENSE").strip().replace("--", "- -"),
    }
    template = _package_text("template.html")
    markers = set(_MARKER.findall(template))
    if markers != set(values):
        raise ValueError(f"template.html and page.py disagree on the markers: {sorted(markers ^ set(values))}")
    return _MARKER.sub(lambda m: values[m.group(1)], template)  # one pass: inserted text is never rescanned


def write_viewer(out_dir: PathLike, html_path: PathLike | None = None, video: bool = True) -> Path:
    """Write the viewer page of the output folder ``out_dir`` (atomically) and return its path.

    Args:
        out_dir: an output folder of ``diffmesh infer`` (needs ``animation.glb``).
        html_path: where to write the page (default ``out_dir/view.html``).
        video: embed the video (``overlay.mp4``, else the source video) beside the bodies.
    """
    from diffmesh.io.exports import atomic_write

    inputs = find_inputs(out_dir, video)
    page = build_page(inputs).encode("utf-8")
    path = Path(html_path) if html_path is not None else Path(out_dir) / HTML_NAME
    atomic_write(path, lambda f: f.write(page))
    shown = f"{inputs.video.name} beside the bodies" if inputs.video is not None else "the bodies alone"
    logger.info("view: %s (%.1f MB, %s)", path, len(page) / 2**20, shown)
    return path
