"""Data transforms: dataset normalisations and their inverses, clip slicing, resampling, action augmentation."""

from __future__ import annotations

import numpy as np
import pytest

from diffmesh.data import transforms as T


def test_resample_variants() -> None:
    rng = np.random.default_rng(0)
    up = T.resample(5, 16, rng=rng)
    assert up.shape == (16,) and up.min() >= 0 and up.max() <= 4 and np.all(np.diff(up) >= 0)
    down = T.resample(300, 243, rng=rng)
    assert down.max() <= 299 and np.all(np.diff(down) >= 0)
    np.testing.assert_array_equal(T.resample(7, 3, replay=True), [0, 1, 2])
    np.testing.assert_array_equal(T.resample(3, 7, replay=True), [0, 1, 2, 0, 1, 2, 0])
    assert T.resample(10, 1, rng=rng).shape == (1,)
    with pytest.raises(ValueError, match="ori_len"):
        T.resample(0, 5)


def test_split_clips_short_videos_and_boundaries() -> None:
    ids = ["a"] * 20 + ["b"] * 5 + ["c"] * 16 + ["d"] * 3
    clips = T.split_clips(ids, 8, 4)
    ids_arr = np.array(ids)
    for clip in clips:
        assert len(set(ids_arr[clip])) == 1  # never crosses a video
    starts = [int(c[0]) for c in clips]
    assert starts[:4] == [0, 4, 8, 12]  # 'a': windows at 0, 4, 8, 12; frames 16..19 partially dropped
    b_clip = [c for c in clips if ids_arr[c[0]] == "b"]
    assert len(b_clip) == 1 and b_clip[0].tolist() == (20 + T.resample(5, 8)).tolist()  # deterministic by default
    assert not any(ids_arr[c[0]] == "d" for c in clips)  # short last video dropped
    random_b = T.split_clips(ids, 8, 4, rng=np.random.default_rng(0))
    assert random_b.shape == clips.shape
    assert T.split_clips([], 8, 4).shape == (0, 8)
    with pytest.raises(ValueError, match="stride"):
        T.split_clips(ids, 8, 0)


def test_screen_normalisation_round_trip() -> None:
    rng = np.random.default_rng(0)
    pix = rng.uniform(0, 1000, (6, 17, 3)).astype(np.float32)
    w = np.array([1000, 1000, 1000, 1000, 1000, 1000.0])
    h = np.array([1002, 1000, 1002, 1000, 1002, 1000.0])
    norm = T.normalize_screen(pix, w, h)
    assert norm.dtype == np.float32
    np.testing.assert_allclose(norm[..., 0], pix[..., 0] / 500 - 1, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(norm[..., 1], pix[..., 1] / 500 - h[:, None] / 1000, rtol=1e-6, atol=1e-6)
    back = T.denormalize_screen(norm, w[:, None, None], h[:, None, None])
    np.testing.assert_allclose(back, pix, atol=1e-3)
    res = T.h36m_camera_resolution(["54138969", "58860488"])
    np.testing.assert_array_equal(res, [[1000, 1002], [1000, 1000]])
    with pytest.raises(ValueError, match="camera_name '123'"):
        T.h36m_camera_resolution(["54138969", "123"])
    np.testing.assert_allclose(T.normalize_square(np.array([[0.0, 1920.0]]), 1920), [[-1, 1]])
    np.testing.assert_allclose(T.make_cam(np.array([[540.0, 1080.0]]), (1080, 1920)), [[-0.4375, 0.125]])
    cam = T.amass_to_camera(np.array([[1.0, 2.0, 3.0]]))
    np.testing.assert_allclose(cam, [[0.298, -3 * 0.298, 2 * 0.298]], rtol=1e-6)


def test_random_move_and_human_tracking() -> None:
    rng = np.random.default_rng(0)
    motion = rng.normal(size=(2, 10, 17, 3))
    moved = T.random_move(motion, np.random.default_rng(1))
    np.testing.assert_array_equal(moved[..., 2], motion[..., 2])  # confidence untouched
    assert not np.allclose(moved[..., :2], motion[..., :2])
    # Each frame is a similarity transform: pairwise distances scale uniformly per frame.
    d0 = np.linalg.norm(motion[0, 3, 0, :2] - motion[0, 3, 5, :2])
    d1 = np.linalg.norm(moved[0, 3, 0, :2] - moved[0, 3, 5, :2])
    d2 = np.linalg.norm(motion[1, 3, 2, :2] - motion[1, 3, 9, :2])
    d3 = np.linalg.norm(moved[1, 3, 2, :2] - moved[1, 3, 9, :2])
    assert d1 / d0 == pytest.approx(d3 / d2) and 0.9 <= d1 / d0 <= 1.1
    # Tracking undoes an identity swap from frame 5 on.
    a = np.zeros((10, 17, 2)) + np.linspace(0, 0.1, 10)[:, None, None]
    b = a + 5.0
    swapped = np.stack((np.concatenate((a[:5], b[5:])), np.concatenate((b[:5], a[5:]))))
    fixed = T.human_tracking(swapped)
    np.testing.assert_allclose(fixed[0], a)
    np.testing.assert_allclose(fixed[1], b)
    one = motion[:1]
    assert T.human_tracking(one) is one
