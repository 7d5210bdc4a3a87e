"""Live mode: causal windows over a source read as it comes, results appended as JSON lines."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from diffmesh.geometry.crop import crop_scale
from diffmesh.geometry.rotations import rotmat_to_axis_angle
from diffmesh.pipelines.live import LatencyHistogram, run_live
from diffmesh.pipelines.quality import keypoint_fit_pct
from diffmesh.pipelines.windows import project_to_so3, window_weights
from tests._videos import make_walk_video


def _tiny_mesh_model() -> torch.nn.Module:
    import diffmesh
    from tests.conftest import TINY

    torch.manual_seed(0)
    return diffmesh.create_model("diffmesh", body_model="open", **TINY).eval()


def test_latency_percentiles_in_fixed_memory() -> None:
    """A live run's latencies are counted in 1 ms bins: the median and 95th percentile within a millisecond
    of the exact ones, in the same memory after a million frames as after one."""
    g = np.random.default_rng(0)
    lat = g.gamma(4.0, 60.0, 100_000)  # ms: a long tail, as a busy machine gives
    h = LatencyHistogram()
    assert np.isnan(h.percentile(50))
    for x in lat:
        h.add(x)
    size = h.counts.nbytes
    for q in (50, 95):
        assert abs(h.percentile(q) - np.percentile(lat, q)) < 1.0, q
    h.add(1e9)  # a frame stuck for longer than the histogram holds: counted in the last bin
    assert len(h) == 100_001 and h.counts.nbytes == size <= 250_000
    assert h.percentile(100) == LatencyHistogram.LIMIT_MS + 0.5


def test_every_frame_gets_the_causal_windows_result(tmp_path: Path) -> None:
    make_walk_video(tmp_path / "walk.mp4", 20)
    model = _tiny_mesh_model()
    s = run_live(str(tmp_path / "walk.mp4"), tmp_path / "out", model, model.body_model, stride=4, realtime=False)
    lines = [json.loads(x) for x in (tmp_path / "out" / "live.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in lines] == list(range(20)) and all(r["person"] for r in lines)
    assert s.frames_processed == 20 and s.frames_dropped == 0 and s.frames_with_person == 20
    assert np.isfinite(s.latency_ms_median) and s.latency_ms_p95 >= s.latency_ms_median
    saved = json.loads((tmp_path / "out" / "live_summary.json").read_text())
    assert saved["frames_processed"] == 20 and "latencies" not in saved
    assert saved["latency_ms_median"] == s.latency_ms_median and len(s.latencies) == 20
    # Frame 11 was emitted by the window of frames 0..11 (the 12th frame closes a stride of 4),
    # padded in front by repeating frame 0 up to the model's clip_len, normalised by its own box.
    kp = np.array([r["keypoints_2d"] for r in lines], np.float32)
    clip_len = model.head.clip_len
    x = crop_scale(kp[:12])
    x = np.concatenate([np.repeat(x[:1], clip_len - 12, 0), x]) if clip_len > 12 else x[-clip_len:]
    with torch.inference_mode():
        want = rotmat_to_axis_angle(model(torch.from_numpy(x)[None]).rotmats[0, -1].float()).numpy()
    np.testing.assert_allclose(np.array(lines[11]["pose_axis_angle"]), want, atol=2e-3)  # keypoints rounded to 0.01 px
    assert lines[11]["transl"][2] > 1.0  # in front of the camera


def test_a_delayed_frame_gets_the_window_that_sees_past_it(tmp_path: Path) -> None:
    """``delay=4``: each result waits for 4 newer frames, which its window holds; every frame is still
    emitted once, in order, and the last frames come out when the source ends."""
    make_walk_video(tmp_path / "walk.mp4", 20)
    model = _tiny_mesh_model()
    s = run_live(str(tmp_path / "walk.mp4"), tmp_path / "out", model, model.body_model, stride=4, realtime=False, delay=4)
    lines = [json.loads(x) for x in (tmp_path / "out" / "live.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in lines] == list(range(20)) and all(r["person"] for r in lines)
    assert s.delay == 4 and json.loads((tmp_path / "out" / "live_summary.json").read_text())["delay"] == 4
    # Frame 8 was emitted by the window ending at frame 12 (the first call, at frame 4, emitted frame 0;
    # then every 4 frames), 4 frames before that window's end, averaged with the window ending at
    # frame 8, which saw it last, by the offline blend's triangular weights.
    kp = np.array([r["keypoints_2d"] for r in lines], np.float32)
    clip_len = model.head.clip_len
    weights = window_weights(clip_len)
    total, weight = torch.zeros(3, 3, dtype=torch.float64), 0.0
    for end in (8, 12):
        x = crop_scale(kp[max(0, end + 1 - clip_len) : end + 1])
        x = np.concatenate([np.repeat(x[:1], clip_len - len(x), 0), x])
        pos = clip_len - 1 - (end - 8)
        with torch.inference_mode():
            total += float(weights[pos]) * model(torch.from_numpy(x)[None]).rotmats[0, pos, 0].double()
        weight += float(weights[pos])
    want = rotmat_to_axis_angle(project_to_so3(total / weight).float()).numpy()
    np.testing.assert_allclose(np.array(lines[8]["pose_axis_angle"][0]), want, atol=2e-3)
    with pytest.raises(ValueError, match=r"--live-delay must be between 0 and \d+ frames .* got 99"):
        run_live(str(tmp_path / "walk.mp4"), tmp_path / "o2", model, model.body_model, stride=4, delay=99)


def test_a_slow_network_does_not_hold_the_detector_back(tmp_path: Path) -> None:
    """Read in real time with a network slower than ``stride`` frames: the detector keeps taking
    frames while the network works, and the next window emits every frame since the last one (one
    line per processed frame, in order) instead of the capture dropping them."""
    make_walk_video(tmp_path / "walk.mp4", 40)  # 25 frames/s
    model = _tiny_mesh_model()
    predict = model.predict_parameters

    def slow(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        time.sleep(0.4)  # 10 frames at 25 frames/s, against a stride of 4
        return predict(x)

    model.predict_parameters = slow  # type: ignore[method-assign]
    s = run_live(str(tmp_path / "walk.mp4"), tmp_path / "out", model, model.body_model, stride=4, realtime=True)
    lines = [json.loads(x) for x in (tmp_path / "out" / "live.jsonl").read_text().splitlines()]
    frames = [r["frame"] for r in lines]
    assert frames == sorted(set(frames)) and len(frames) == s.frames_processed
    # Waiting for the network at every window would process about 4 frames per 0.4 s (16 of 40).
    assert s.frames_processed >= 28, s


def test_live_cli_reads_a_file_at_its_frame_rate(tmp_path: Path) -> None:
    make_walk_video(tmp_path / "walk.mp4", 25)
    r = subprocess.run([sys.executable, "-m", "diffmesh.cli", "infer", str(tmp_path / "walk.mp4"), "--live", "-o",
                        str(tmp_path / "out"), "--detector-threads", "2"], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "out" / "live_summary.json").read_text())
    assert s["frames_read"] == 25 and s["frames_processed"] + s["frames_dropped"] == 25 and s["frames_processed"] > 0
    assert "latency median" in r.stdout
    r = subprocess.run([sys.executable, "-m", "diffmesh.cli", "infer", str(tmp_path / "nope.mp4"), "--live", "-o",
                        str(tmp_path / "o2")], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "nope.mp4" in r.stderr


def test_live_fits_the_body_to_the_detector_like_the_offline_run(tmp_path: Path) -> None:
    """With the packaged weights the live body is fitted to the detector's own 3-D joints and 2-D
    keypoints (the offline run's blend over each causal window): on a held-out rendered clip the
    limbs come closer to the truth and the joints project closer to the keypoints."""
    from diffmesh.conventions import H36M_JOINTS, limb_indices
    from diffmesh.geometry.camera import default_intrinsics
    from diffmesh.metrics import p_mpjpe
    from diffmesh.pipelines.model import default_model, prepare_model
    from diffmesh.pipelines.settings import InferSettings

    clip = Path(__file__).parent / "data" / "video_benchmark" / "08_boxing"
    gt = np.load(clip.with_suffix(".npz"))
    bundle = default_model("cpu", detector_3d=True)
    assert bundle.detector_blend == 0.5
    model = prepare_model(bundle, InferSettings())
    limbs = list(limb_indices(H36M_JOINTS))
    K = default_intrinsics(640, 480)
    scores = {}
    for w in (0.0, bundle.detector_blend):
        run_live(str(clip.with_suffix(".mp4")), tmp_path / str(w), model, bundle.body_model, realtime=False, detector_blend=w)
        lines = [json.loads(x) for x in (tmp_path / str(w) / "live.jsonl").read_text().splitlines()]
        assert all(r["person"] for r in lines) and [r["frame"] for r in lines] == list(range(len(gt["joints_cam"])))
        joints, kp = np.array([r["joints_3d_cam"] for r in lines]), np.array([r["keypoints_2d"] for r in lines])
        uv = joints @ K.T
        reproj = np.linalg.norm(uv[..., :2] / uv[..., 2:] - kp[..., :2], axis=-1)[:, limbs].mean()
        scores[w] = (p_mpjpe(joints[:, limbs], gt["joints_cam"]).mean() * 1000, reproj)
        fit = np.array([r["keypoint_fit_pct"] for r in lines], np.float64)  # the same fit as result.npz's
        np.testing.assert_allclose(fit, keypoint_fit_pct(joints, K, kp), atol=0.02)
    (pa0, re0), (pa1, re1) = scores[0.0], scores[bundle.detector_blend]
    assert pa1 < 0.95 * pa0, scores  # measured 97.2 -> 84.4 mm
    assert re1 < re0, scores


def test_live_preview_serves_the_newest_frame_with_the_body(tmp_path: Path) -> None:
    """``--live-preview``: while a paced live run lasts, a browser gets the page, an MJPEG stream and
    the newest frame, a JPEG of the video's size with the skeleton drawn in the limbs' colours."""
    import socket
    import threading
    import time
    import urllib.request

    import cv2

    with socket.socket() as s:  # a free port
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    make_walk_video(tmp_path / "walk.mp4", 50)
    model = _tiny_mesh_model()
    done: dict[str, object] = {}
    runner = threading.Thread(target=lambda: done.setdefault("summary", run_live(
        str(tmp_path / "walk.mp4"), tmp_path / "out", model, model.body_model, realtime=True, preview=f"127.0.0.1:{port}")))
    runner.start()
    url = f"http://127.0.0.1:{port}/"
    jpeg, page, part = None, b"", b""
    deadline = time.monotonic() + 60
    while jpeg is None and time.monotonic() < deadline and runner.is_alive():
        try:
            with urllib.request.urlopen(url + "frame.jpg", timeout=5) as r:
                jpeg = r.read()
            with urllib.request.urlopen(url, timeout=5) as r:
                page = r.read()
            with urllib.request.urlopen(url + "stream", timeout=5) as r:
                assert r.headers["Content-Type"].startswith("multipart/x-mixed-replace")
                part = r.read(200)
        except OSError:  # not listening yet, or no frame yet (503)
            time.sleep(0.05)
    runner.join(120)
    assert jpeg is not None, "no preview frame was served during the run"
    assert b'<img src="stream"' in page and part.startswith(b"--frame\r\nContent-Type: image/jpeg")
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    from diffmesh.io.video import probe_video

    info = probe_video(tmp_path / "walk.mp4")
    assert img.shape == (info.height, info.width, 3)
    b, g, r = (img[..., c].astype(int) for c in range(3))
    assert ((r > 180) & (g < 90) & (b < 90)).sum() > 20 and ((b > 180) & (r < 110)).sum() > 20  # right limbs red, left blue
    assert done["summary"].frames_processed > 0
    with pytest.raises(ValueError, match=r"--live-preview 'x:y' is not \[HOST:\]PORT"):
        run_live(str(tmp_path / "walk.mp4"), tmp_path / "o2", model, model.body_model, preview="x:y")
