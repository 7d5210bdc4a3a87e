"""``diffmesh view``: the self-contained viewer page, checked as a file and in a real headless browser.

The output folder is made by the real pipeline (``diffmesh infer`` on a rendered 24-frame walk).
The browser tests drive Debian's Chromium over the DevTools protocol (``tests/_browser.py``): the
page must load from a ``file://`` URL with no network, no console error or exception, show the
body on screen, and keep the bodies on the video's clock.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import signal
import struct
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from diffmesh.cli import main
from diffmesh.viewer import PALETTE, ViewerInputs, find_inputs, page_server, write_viewer
from diffmesh.viewer.page import read_glb_json
from tests._browser import INSTALL_HINT, Browser, find_chromium
from tests._cli import run_cli
from tests._videos import FPS, make_walk_video

FRAMES = 24


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``diffmesh infer`` on a rendered walk: result.npz, overlay.mp4, animation.glb, summary.json."""
    root = tmp_path_factory.mktemp("view")
    make_walk_video(root / "walk.mp4", frames=FRAMES)
    assert main(["infer", str(root / "walk.mp4"), "-o", str(root / "out"), "--no-cache"]) == 0
    return root / "out"


def _blocks(page: str) -> dict[str, str]:
    """The text of every ``<script id=...>`` data block of a page."""
    return dict(re.findall(r'<script type="application/[a-z-]+" id="([a-z-]+)"[^>]*>(.*?)</script>', page, re.S))


def _importmap_bundle(page: str) -> bytes:
    importmap = json.loads(re.search(r'<script type="importmap">(.*?)</script>', page, re.S).group(1))
    url = importmap["imports"]["three-bundle"]
    prefix = "data:text/javascript;base64,"
    assert url.startswith(prefix)
    return base64.b64decode(url[len(prefix) :])


def test_page_embeds_everything_and_names_no_url(out_dir: Path, tmp_path: Path) -> None:
    r = run_cli("view", str(out_dir))
    assert r.returncode == 0, r.stderr
    page_path = out_dir / "view.html"
    assert "view.html" in r.stderr and page_path.as_uri() in r.stderr
    page = page_path.read_text(encoding="utf-8")
    blocks = _blocks(page)
    assert base64.b64decode(blocks["dm-glb"]) == (out_dir / "animation.glb").read_bytes()
    assert base64.b64decode(blocks["dm-video"]) == (out_dir / "overlay.mp4").read_bytes()
    vendored = Path(__file__).resolve().parents[1] / "src/diffmesh/viewer/vendor/three/three.bundle.min.js"
    assert _importmap_bundle(page) == vendored.read_bytes()
    config = json.loads(blocks["dm-config"])
    assert config["fps"] == FPS and config["first_frame"] == 0 and config["palette"] == list(PALETTE)
    assert config["video"] == {"name": "overlay.mp4", "mime": "video/mp4", "first_frame": 0, "animation_offset_s": 0.0}
    # Everything is inline: no URL of any kind in the page (the JavaScript is base64 inside it).
    assert not re.search(r"https?://|//cdn|src=\"http", page, re.I)
    assert "Copyright" in page and "MIT" in page  # three.js's licence travels with it
    assert not [p.name for p in out_dir.iterdir() if p.name.endswith(".part")]  # written atomically

    other = tmp_path / "elsewhere.html"
    r = run_cli("view", str(out_dir), "--html", str(other), "--no-video")
    assert r.returncode == 0, r.stderr
    blocks = _blocks(other.read_text(encoding="utf-8"))
    assert json.loads(blocks["dm-config"])["video"] is None and blocks["dm-video"] == ""


def test_video_choice_and_time_offset(out_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """overlay.mp4 first; else the source video of summary.json (its frame 0 is frame 0); else none."""
    assert find_inputs(out_dir).video == out_dir / "overlay.mp4"
    no_overlay = tmp_path / "no_overlay"
    no_overlay.mkdir()
    for name in ("animation.glb", "summary.json"):
        shutil.copy(out_dir / name, no_overlay / name)
    inputs = find_inputs(no_overlay)
    assert inputs.video == Path(json.loads((out_dir / "summary.json").read_text())["video"])
    assert inputs.video_first_frame == 0 and inputs.fps == FPS
    summary = json.loads((no_overlay / "summary.json").read_text())
    (no_overlay / "summary.json").write_text(json.dumps({**summary, "video": str(tmp_path / "moved.mp4")}))
    with caplog.at_level("WARNING"):
        assert find_inputs(no_overlay).video is None
    assert f"the source video {tmp_path / 'moved.mp4'} is not there" in caplog.text
    (no_overlay / "summary.json").unlink()
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert find_inputs(no_overlay).video is None
    assert "no video (no overlay.mp4 and no source video in summary.json)" in caplog.text
    # A run of frames [10, ...): the animation starts 0.4 s into the source video, 0 s into overlay.mp4.
    assert ViewerInputs(Path("a.glb"), fps=25.0, first_frame=10).animation_offset_s == pytest.approx(0.4)
    assert ViewerInputs(Path("a.glb"), 25.0, 10, Path("overlay.mp4"), video_first_frame=10).animation_offset_s == 0


def test_missing_or_bad_inputs_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def error(*args: str) -> str:
        rc = main(["view", *args])
        lines = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(lines) == 1 and lines[0].startswith("diffmesh: error:"), lines
        return lines[0]

    line = error(str(tmp_path))
    assert f"{tmp_path / 'animation.glb'} is missing" in line and "diffmesh infer VIDEO -o" in line
    assert "does not exist" in error(str(tmp_path / "nope"))
    (tmp_path / "animation.glb").write_bytes(b"not a glb at all, just some text")
    assert "not a binary glTF" in error(str(tmp_path))
    assert not (tmp_path / "view.html").exists()
    with pytest.raises(ValueError, match="glTF 2.0"):
        read_glb_json(b"glTF" + struct.pack("<IIII", 1, 20, 0, 0))


def test_serve_answers_with_the_page_only(out_dir: Path, tmp_path: Path) -> None:
    html = write_viewer(out_dir, tmp_path / "page.html", video=False)
    server = page_server(html, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        for path in ("/", "/page.html"):
            with urllib.request.urlopen(base + path, timeout=10) as answer:
                assert answer.headers["Content-Type"].startswith("text/html") and answer.read() == html.read_bytes()
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(base + "/animation.glb", timeout=10)
        with pytest.raises(OSError, match=f"cannot serve on 127.0.0.1:{server.server_address[1]} .*pass --port"):
            page_server(html, port=server.server_address[1])  # taken
    finally:
        server.shutdown()
        server.server_close()


def _sigint_as_on_a_terminal() -> None:
    """In the child: SIGINT back to its default, so that Python turns it into KeyboardInterrupt.

    A test run started in the background of a shell without job control (``nohup ... &``, as CI
    may be) ignores SIGINT, and its children inherit that; a user's Ctrl-C on a terminal is not
    ignored.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl_c", "sigterm"])
def test_cli_serve_logs_the_url_and_stops_on_ctrl_c_or_sigterm(out_dir: Path, tmp_path: Path, stop: int) -> None:
    html = tmp_path / "v.html"
    args = ["view", str(out_dir), "--html", str(html), "--no-video", "--serve", "--port", "0"]
    proc = subprocess.Popen([sys.executable, "-m", "diffmesh.cli", *args], stderr=subprocess.PIPE, text=True,
                            preexec_fn=_sigint_as_on_a_terminal)  # fmt: skip
    try:
        for line in proc.stderr:  # type: ignore[union-attr]
            if match := re.search(r"at (http://127\.0\.0\.1:\d+/v\.html) \(Ctrl-C to stop\)", line):
                break
        else:
            pytest.fail("diffmesh view --serve did not log its URL")
        with urllib.request.urlopen(match.group(1), timeout=10) as answer:
            assert answer.read() == html.read_bytes()
        proc.send_signal(stop)
        assert proc.wait(timeout=30) == 0
        assert "stopped serving" in proc.stderr.read()  # type: ignore[union-attr]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ---- in a real browser -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if find_chromium() is None:
        pytest.fail(f"the viewer's browser tests need Chromium: {INSTALL_HINT}")
    with Browser(tmp_path_factory.mktemp("chromium-profile")) as b:
        yield b


def _load(browser: Browser, page: Path) -> dict:
    """Open ``page`` from its file:// URL; return the viewer's status once it is ready or failed."""
    browser.open(page.resolve().as_uri())
    status = browser.wait_for("document.body?.dataset.state !== 'loading' && window.diffmeshViewer?.status()")
    assert status["state"] == "ready", (status, browser.log)
    return status


def _assert_clean(browser: Browser) -> None:
    assert browser.log.errors() == [], browser.log
    schemes = {url.split(":", 1)[0] for url in browser.log.requests}
    assert schemes <= {"file", "data", "blob"}, browser.log.requests  # nothing from any network


def _colour_pixels(image: np.ndarray, colour: str) -> int:
    """Pixels whose hue is that of ``colour`` (lit or shaded): its dominant channel well above the others."""
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    main = int(np.argmax(rgb))
    img = image.astype(int)
    others = np.delete(img, main, axis=2)
    return int(((img[..., main] > 90) & (img[..., main] > others.max(axis=2) + 50)).sum())


def test_browser_shows_the_video_and_the_body_in_sync(out_dir: Path, browser: Browser) -> None:
    write_viewer(out_dir)
    status = _load(browser, out_dir / "view.html")
    assert status["people"] == [{"name": "body", "colour": PALETTE[0]}]
    assert status["duration"] == pytest.approx((FRAMES - 1) / FPS, abs=1e-4)
    video = browser.wait_for("(s => s.video.readyState >= 2 && s.video)(diffmeshViewer.status())")
    assert video["error"] is None and video["duration"] == pytest.approx(FRAMES / FPS, abs=0.05)

    image = browser.screenshot()
    h, w, _ = image.shape
    assert _colour_pixels(image[:, w // 2 :], PALETTE[0]) > 2000  # the body, in its colour, on the 3-D side
    video_half = image[60 : h - 60, 20 : w // 2 - 20].astype(int)
    assert video_half.std() > 10  # the video frame is drawn (not an empty panel)

    # Scrubbing moves the video, and the bodies follow its clock exactly: the root moves as result.npz
    # says (animation.glb is in the world frame: transl_world).
    transl = np.load(out_dir / "result.npz")["transl_world"]
    browser.evaluate("diffmeshViewer.seek(0)")
    pelvis_0 = np.array(browser.evaluate("diffmeshViewer.nodePosition('pelvis')"))
    k = 15
    browser.evaluate(f"diffmeshViewer.seek({k / FPS})")
    status = browser.evaluate("diffmeshViewer.status()")
    assert status["time"] == pytest.approx(k / FPS, abs=1e-6) and status["animationTime"] == pytest.approx(k / FPS, abs=1e-6)
    pelvis_k = np.array(browser.evaluate("diffmeshViewer.nodePosition('pelvis')"))
    np.testing.assert_allclose(pelvis_k - pelvis_0, transl[k] - transl[0], atol=1e-4)
    assert np.linalg.norm(pelvis_k - pelvis_0) > 0.01

    # Play: one button drives both.
    browser.evaluate("diffmeshViewer.seek(0).then(() => document.getElementById('play').click())")
    playing = browser.wait_for("(s => s.video.playing && s.time > 0.2 && s)(diffmeshViewer.status())", timeout=30)
    assert playing["animationTime"] == pytest.approx(min(playing["time"], playing["duration"]), abs=0.2)
    browser.evaluate("document.getElementById('play').click()")
    _assert_clean(browser)


def _glb_with_a_second_person(glb: bytes, shift_x_m: float) -> bytes:
    """The same animated body twice (the second ``shift_x_m`` to the side): nodes, skin and animation
    copied, accessors shared, the binary chunk unchanged."""
    gltf = read_glb_json(glb)
    json_len = struct.unpack_from("<I", glb, 12)[0]
    binary = glb[20 + json_len :]
    offset = len(gltf["nodes"])
    new_skin = len(gltf["skins"])
    for node in [dict(n) for n in gltf["nodes"]]:
        if "children" in node:
            node["children"] = [c + offset for c in node["children"]]
        if "skin" in node:
            node["skin"] = new_skin
        gltf["nodes"].append(node)
    skin = dict(gltf["skins"][0], joints=[j + offset for j in gltf["skins"][0]["joints"]])
    skin["skeleton"] += offset
    gltf["skins"].append(skin)
    for anim in list(gltf["animations"]):
        channels = [dict(c, target=dict(c["target"], node=c["target"]["node"] + offset)) for c in anim["channels"]]
        gltf["animations"].append(dict(anim, name=anim["name"] + " 2", channels=channels))
    scene = gltf["scenes"][0]
    person_2 = {"name": "person 2", "translation": [shift_x_m, 0.0, 0.0], "children": [n + offset for n in scene["nodes"]]}
    gltf["nodes"].append(person_2)
    scene["nodes"].append(len(gltf["nodes"]) - 1)
    text = json.dumps(gltf).encode()
    text += b" " * (-len(text) % 4)
    header = struct.pack("<4sIIII", b"glTF", 2, 12 + 8 + len(text) + len(binary), len(text), 0x4E4F534A)  # 'JSON'
    return header + text + binary


def test_browser_colours_each_person_and_plays_without_video(out_dir: Path, tmp_path: Path, browser: Browser) -> None:
    two = tmp_path / "two"
    two.mkdir()
    (two / "animation.glb").write_bytes(_glb_with_a_second_person((out_dir / "animation.glb").read_bytes(), 1.0))
    status = _load(browser, write_viewer(two))  # no video and no summary.json: the bodies alone
    assert [p["colour"] for p in status["people"]] == list(PALETTE[:2]) and status["video"] is None
    assert browser.evaluate("[...document.querySelectorAll('#legend span')].map(s => s.textContent)") == ["person 1", "person 2"]
    assert browser.evaluate("getComputedStyle(document.getElementById('video-panel')).display") == "none"
    image = browser.screenshot()
    assert _colour_pixels(image, PALETTE[0]) > 1000 and _colour_pixels(image, PALETTE[1]) > 1000
    a = np.array(browser.evaluate("diffmeshViewer.nodePosition('pelvis', 0)"))
    b = np.array(browser.evaluate("diffmeshViewer.nodePosition('pelvis', 1)"))
    np.testing.assert_allclose(b - a, [1.0, 0.0, 0.0], atol=1e-5)

    # Without a video the slider and the play button drive the animation on the page's own clock.
    browser.evaluate("diffmeshViewer.seek(0.4)")
    assert browser.evaluate("diffmeshViewer.status().animationTime") == pytest.approx(0.4, abs=1e-6)
    browser.evaluate("document.getElementById('play').click()")
    browser.wait_for("(s => s.time > 0.6 || s.time < 0.3)(diffmeshViewer.status())", timeout=30)  # advanced (or looped)
    browser.evaluate("document.getElementById('play').click()")
    _assert_clean(browser)


def test_browser_plays_a_several_people_glb(out_dir: Path, tmp_path: Path, browser: Browser) -> None:
    """``write_gltf_people`` (what ``diffmesh infer --max-people N`` writes) loads in three.js: two
    bodies (track ids 0 and 2), the second 1 m to the side and hidden (scale 0) until frame 12."""
    from diffmesh.body import load
    from diffmesh.io.exports import read_result, write_gltf_people
    from diffmesh.pipelines.overlay import person_color

    res = read_result(out_dir / "result.npz")
    rotmats = res["pose_rotmat"].copy()
    rotmats[:, 0] = res["world_orient_rotmat"]
    motion = dict(rotmats=rotmats, transl=res["transl_world"], betas=res["betas"], frame_indices=res["frame_indices"],
                  frame="world")  # fmt: skip
    late = np.arange(FRAMES) >= 12
    two = tmp_path / "people"
    two.mkdir()
    write_gltf_people(two / "animation.glb", load("open"), [dict(motion, valid=res["valid"]),
                      dict(motion, transl=res["transl_world"] + [1.0, 0.0, 0.0], valid=res["valid"] & late)],
                      track_ids=[0, 2], fps=FPS, colors=[person_color(0), person_color(2)])  # fmt: skip
    status = _load(browser, write_viewer(two))
    # each body in its track id's colour (the overlay's), named by its id
    assert [p["colour"] for p in status["people"]] == [PALETTE[0], PALETTE[2]]
    assert browser.evaluate("[...document.querySelectorAll('#legend span')].map(s => s.textContent)") == ["person 0", "person 2"]
    browser.evaluate("diffmeshViewer.seek(0)")
    early = browser.screenshot()[80:-80]  # the 3-D panel: not the legend, the play button or the slider
    assert _colour_pixels(early, PALETTE[0]) > 1000 and _colour_pixels(early, PALETTE[2]) < 50  # not there yet
    browser.evaluate(f"diffmeshViewer.seek({15 / FPS})")
    both = browser.screenshot()[80:-80]
    assert _colour_pixels(both, PALETTE[0]) > 1000 and _colour_pixels(both, PALETTE[2]) > 1000
    a = np.array(browser.evaluate("diffmeshViewer.nodePosition('pelvis', 0)"))
    b = np.array(browser.evaluate("diffmeshViewer.nodePosition('pelvis', 1)"))
    np.testing.assert_allclose(b - a, [1.0, 0.0, 0.0], atol=1e-4)
    _assert_clean(browser)


def test_browser_plays_the_bodies_alone_when_the_video_cannot_be_decoded(
    out_dir: Path, tmp_path: Path, browser: Browser
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    shutil.copy(out_dir / "animation.glb", broken / "animation.glb")
    (broken / "overlay.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64)  # not decodable
    _load(browser, write_viewer(broken))
    message = browser.wait_for("document.getElementById('video-message').textContent")
    assert "cannot play overlay.mp4" in message
    browser.evaluate("document.getElementById('play').click()")
    status = browser.wait_for("(s => s.time > 0.2 && s)(diffmeshViewer.status())", timeout=30)
    assert status["animationTime"] == pytest.approx(min(status["time"], status["duration"]), abs=0.1)
    browser.evaluate("document.getElementById('play').click()")
    assert ("warning", "diffmesh view: cannot play overlay.mp4") in browser.log.console
    _assert_clean(browser)


def test_unsure_stretches_are_marked_under_the_timeline(out_dir: Path, tmp_path: Path, browser: Browser) -> None:
    """summary.json's quality stretches (every person's when several) become marks under the slider, at their
    place on the timeline; a click on one seeks to its start."""
    marked = tmp_path / "marked"
    marked.mkdir()
    shutil.copy(out_dir / "animation.glb", marked / "animation.glb")
    summary = json.loads((out_dir / "summary.json").read_text())
    first = summary["settings"]["start"]  # 0: the animation's first frame is the video's
    quality = {**summary["quality"], "unsure": [{"start": 6, "end": 12, "why": "poor fit"}, {"start": 18, "end": 21, "why": "interpolated"}]}
    (marked / "summary.json").write_text(json.dumps({**summary, "quality": quality, "people": []}))
    assert find_inputs(marked, video=False).unsure == ({"start": 6, "end": 12, "why": "poor fit", "person": None},
                                                       {"start": 18, "end": 21, "why": "interpolated", "person": None})  # fmt: skip
    status = _load(browser, write_viewer(marked, video=False))
    duration = (FRAMES - 1) / FPS
    marks = status["marks"]
    assert [m["title"] for m in marks] == ["frames 6-11: poor fit", "frames 18-20: interpolated"]
    assert [m["kind"] for m in marks] == ["poor-fit", "interpolated"]
    assert float(marks[0]["left"].rstrip("%")) == pytest.approx(100 * (6 - first) / FPS / duration, abs=1e-3)
    assert float(marks[1]["width"].rstrip("%")) == pytest.approx(100 * (21 - 18) / FPS / duration, abs=1e-3)  # [start, end)
    browser.evaluate("document.querySelector('#marks span').click()")
    browser.wait_for(f"Math.abs(diffmeshViewer.status().time - {6 / FPS}) < 1e-6")
    _assert_clean(browser)

    several = {**summary, "people": [{"track_id": 0, "quality": quality}, {"track_id": 4, "quality": {"unsure": [
        {"start": 2, "end": 5, "why": "no person"}, {"bad": 1}]}}]}  # fmt: skip
    (marked / "summary.json").write_text(json.dumps(several))
    assert [(u["person"], u["start"]) for u in find_inputs(marked, video=False).unsure] == [(0, 6), (0, 18), (4, 2)]
