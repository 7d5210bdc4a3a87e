"""Searching for people beside the followers (:mod:`diffmesh.pipelines.discovery`): the real detector
on ``tests/data/people_clip.mp4`` (48 frames: a boxer in the left half throughout, a kicker in the
right half from frame 15; see tests/test_people.py)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

import diffmesh.pipelines.discovery as discovery
from diffmesh.io.video import iter_frames
from diffmesh.pipelines.keypoints import PoseDetector
from diffmesh.pipelines.people import detect_people
from diffmesh.pipelines.person_crops import landmark_box

CLIP = Path(__file__).parent / "data" / "people_clip.mp4"
ENTER, MIDDLE = 15, 320  # the right person's first frame; the halves' border (x pixels)


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return [f.image for f in iter_frames(CLIP, threads=1)]


def test_search_finds_everyone_not_painted_over(frames: list[np.ndarray]) -> None:
    image = frames[30]
    fill = image[::8, ::8].reshape(-1, 3).mean(0).astype(np.uint8)
    with PoseDetector(0.5, static_image_mode=True, quiet=False) as finder:
        both = discovery.search(finder, image.copy(), fill, False, [], 64.0, 4)
        assert len(both) == 2
        xs = sorted(float(np.median(r[0][:, 0])) for r in both)
        assert xs[0] < MIDDLE <= xs[1]
        left = next(r for r in both if np.median(r[0][:, 0]) < MIDDLE)
        searcher = discovery.Searcher(finder, 64.0)
        try:
            # the left person followed (painted over): only the right one is new; room for one stops after one
            rest = searcher.submit(image, fill, [landmark_box(left[0])], False, 4).result()
            assert len(rest) == 1 and np.median(rest[0][0][:, 0]) >= MIDDLE
            assert len(searcher.submit(image, fill, [], False, 1).result()) == 1
        finally:
            searcher.close()
        assert not discovery.search(finder, np.full_like(image, 128), fill, True, [], 64.0, 4)  # tiles of an empty frame


def _arrays(frames: list[np.ndarray], **kw) -> tuple[np.ndarray, np.ndarray]:
    people = detect_people(frames, tiles=False, **kw)
    return people.keypoints, people.detected


def test_a_slow_search_changes_nothing(frames: list[np.ndarray], monkeypatch: pytest.MonkeyPatch) -> None:
    """The result is taken at a fixed frame, waiting for the search if need be: how long a search takes
    does not change who is found where."""
    fast = _arrays(frames)
    search = discovery.search

    def slow(*args, **kw):
        time.sleep(0.3)  # longer than the 5 frames of following it runs beside
        return search(*args, **kw)

    monkeypatch.setattr(discovery, "search", slow)
    slow_kp, slow_detected = _arrays(frames)
    np.testing.assert_array_equal(slow_detected, fast[1])
    np.testing.assert_array_equal(slow_kp, fast[0])


def test_a_newcomer_is_followed_back_and_forward(frames: list[np.ndarray]) -> None:
    """Found by the search of frame 20, taken at frame 25: followed back to frame 15 and forward
    through 21-24, as found in line (discovery_lag=0)."""
    kp, detected = _arrays(frames, discovery_lag=5)
    kp0, detected0 = _arrays(frames, discovery_lag=0)
    assert detected.shape[0] == detected0.shape[0] == 2
    right, right0 = detected[1], detected0[1]
    assert ENTER <= np.flatnonzero(right)[0] <= ENTER + 2 and right[ENTER + 2 :].all()
    np.testing.assert_array_equal(right, right0)
    both = right & right0
    assert np.abs(kp[1, both, :, :2] - kp0[1, both, :, :2]).max() < 8.0  # pixels: the right person either way
    assert kp[1, both, :, 0][kp[1, both, :, 2] > 0.5].min() >= MIDDLE


def test_listener_hears_only_settled_frames(frames: list[np.ndarray]) -> None:
    """Rows up to the frame the listener is told no longer change, and it is told the last frame at the end."""
    heard: list[tuple[int, dict[int, dict[int, np.ndarray]]]] = []

    def listener(t: int, tracks) -> None:
        heard.append((t, {k.id: {s: r[0].copy() for s, r in k.rows.items() if s <= t} for k in tracks}))

    people = detect_people(frames, tiles=False, listener=listener)
    ts = [t for t, _ in heard]
    assert ts == sorted(ts) and ts[-1] == len(frames) - 1
    # the search of frame 20 holds frames 20-24 back until its result is taken at frame 25
    assert ts.count(19) == 6 and not set(range(20, 25)) & set(ts) and 25 in ts
    final = {int(i): p for i, p in zip(people.track_ids, range(len(people)))}
    for t, rows in heard:
        for i, by_frame in rows.items():
            p = final[i]
            assert sorted(by_frame) == [s for s in np.flatnonzero(people.detected[p]) if s <= t]


def test_bad_lag_is_one_line() -> None:
    with pytest.raises(ValueError, match=r"discovery_lag must be an integer >= 0 \(frames\), got -1; the default is 5"):
        detect_people([np.zeros((64, 64, 3), np.uint8)], discovery_lag=-1)
