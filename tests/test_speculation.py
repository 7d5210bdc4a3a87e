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
    settings = InferSettings(threads=1, world=False, max_people=1)  # the one-person recipe's speculator
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


def test_several_people_run_ahead_gives_the_same_meshes() -> None:
    """Two people, the second found at frame 100 and followed back to frame 90: each person's whole
    batches run ahead from their own rows, and their meshes are those of the run without it."""
    import diffmesh
    from diffmesh.pipelines.person_track import PersonTrack
    from diffmesh.pipelines.prediction import FirstOf
    from diffmesh.pipelines.speculation import PeopleSpeculator
    from tests.conftest import TINY

    torch.manual_seed(0)
    model = diffmesh.create_model("diffmesh", body_model="open", **TINY, dim_in=6).eval()
    n = 260
    rows = [blazepose_like_detections(n, [range(150, 170)]), blazepose_like_detections(n, [range(0, 90)])]
    people = [PersonTrack(i, np.zeros(4), None, None) for i in range(2)]  # type: ignore[arg-type]
    with ThreadPoolExecutor(1) as pool:
        built = pool.submit(lambda: model)  # one network for everyone, as in the pipeline
        ahead = PeopleSpeculator(lambda: WindowSpeculator(built, n, pool))
        for t in range(n):
            for person, (kp33, world33, detected) in zip(people, rows):
                if person.id == 1 and t < 100:
                    continue  # not found yet
                frames = range(90, 101) if person.id == 1 and t == 100 else [t]  # followed back at discovery
                for i in frames:
                    if detected[i]:
                        person.rows[i] = (kp33[i], world33[i])
            ahead(t, [p for p in people if p.rows])
        results = []
        for person, (kp33, world33, detected) in zip(people, rows):
            keypoints, world = h36m_rows(kp33, world33, detected)
            trk = track(keypoints, detected, world=world)
            results.append((predict_mesh(model, trk, normalization="window", precomputed=FirstOf(ahead.get(person.id))),
                            predict_mesh(model, trk, normalization="window")))
        hits = [ahead.get(i).hits for i in range(2)]  # type: ignore[union-attr]
        ahead.close()
    assert hits[0] >= 2 and hits[1] >= 1, hits
    for with_ahead, plain in results:
        np.testing.assert_array_equal(with_ahead.rotmats, plain.rotmats)
        np.testing.assert_array_equal(with_ahead.betas, plain.betas)
