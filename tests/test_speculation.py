"""Windows run while the detector works: the model stage takes them by their exact input, so the
result is the one without running ahead, bit for bit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from diffmesh.pipelines.keypoints import h36m_rows
from diffmesh.pipelines.prediction import predict_mesh
from diffmesh.pipelines.speculation import WindowSpeculator
from diffmesh.pipelines.tracking import track
from tests.conftest import blazepose_like_detections

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("channels", [3, 6])
def test_run_ahead_gives_the_same_meshes(channels: int) -> None:
    """Two segments (a 20-frame gap), a short interpolated gap inside the first, a tail shorter than
    a batch: whole batches are run ahead and used, the rest run as before, the result is identical."""
    import diffmesh
    from tests.conftest import TINY

    torch.manual_seed(0)
    model = diffmesh.create_model("diffmesh", body_model="open", **TINY, dim_in=channels).eval()
    n = 260
    kp33, world33, detected = blazepose_like_detections(n, [range(40, 44), range(150, 170)])
    with ThreadPoolExecutor(1) as pool:
        ahead = WindowSpeculator(pool.submit(lambda: model), n, pool)
        for i in range(n):
            ahead(i, kp33[i] if detected[i] else None, world33[i] if detected[i] else None)
        keypoints, world = h36m_rows(kp33, world33, detected)
        trk = track(keypoints, detected, world=world)
        assert [(s.start, s.end) for s in trk.segments] == [(0, 150), (170, 260)]
        with_ahead = predict_mesh(model, trk, normalization="window", precomputed=ahead)
        assert ahead.hits == 3  # whole batches of regular windows: 0-56 and 64-120 of the first segment, 0-56 of the second
        ahead.close()
    plain = predict_mesh(model, trk, normalization="window")
    np.testing.assert_array_equal(with_ahead.rotmats, plain.rotmats)
    np.testing.assert_array_equal(with_ahead.betas, plain.betas)


def test_pipeline_result_unchanged_by_running_ahead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real pipeline (detector, packaged weights) on a rendered walk, with and without running ahead."""
    from diffmesh.pipelines import InferSettings, run
    from diffmesh.pipelines import infer as infer_module
    from diffmesh.pipelines import speculation
    from tests._videos import make_walk_video

    make_walk_video(tmp_path / "walk.mp4", 100)
    used = []
    real_close = speculation.WindowSpeculator.close
    monkeypatch.setattr(speculation.WindowSpeculator, "close", lambda self: (used.append(self.hits), real_close(self)))
    settings = InferSettings(threads=1, world=False)
    run(tmp_path / "walk.mp4", tmp_path / "a", settings, overlay=False, animation=False, use_cache=False)
    assert used and used[0] >= 1
    monkeypatch.setattr(infer_module, "_speculator", lambda *args: None)
    run(tmp_path / "walk.mp4", tmp_path / "b", settings, overlay=False, animation=False, use_cache=False)
    assert len(used) == 1
    a, b = np.load(tmp_path / "a" / "result.npz"), np.load(tmp_path / "b" / "result.npz")
    for key in ("pose", "rotmats", "betas", "transl", "joints_3d_cam"):
        if key in a.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_a_failed_plan_only_costs_speed(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import diffmesh
    from diffmesh.pipelines import speculation
    from tests.conftest import TINY

    torch.manual_seed(0)
    model = diffmesh.create_model("diffmesh", body_model="open", **TINY).eval()
    n = 100
    kp33, world33, detected = blazepose_like_detections(n, [])

    def broken(*args: object) -> None:
        raise RuntimeError("planning broke")

    monkeypatch.setattr(speculation, "track", broken)
    with ThreadPoolExecutor(1) as pool:
        ahead = WindowSpeculator(pool.submit(lambda: model), n, pool)
        for i in range(n):
            ahead(i, kp33[i], world33[i])
        keypoints, world = h36m_rows(kp33, world33, detected)
        trk = track(keypoints, detected, world=world)
        got = predict_mesh(model, trk, normalization="window", precomputed=ahead)
    assert ahead.hits == 0 and "running windows ahead failed" in caplog.text
    np.testing.assert_array_equal(got.rotmats, predict_mesh(model, trk, normalization="window").rotmats)
