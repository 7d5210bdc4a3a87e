"""Several people's keypoints (:mod:`diffmesh.pipelines.people`): the real detector on a real video.

``tests/data/people_clip.mp4`` (made by ``tools/make_people_clip.py`` from two renders of
``benchmarks/data/video_v1``): 48 frames, 640x480; a boxer in the left half throughout, a
kicker in the right half from frame :data:`ENTER` on.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from diffmesh.io.video import iter_frames, probe_video
from diffmesh.pipelines.keypoints import FrameKeypoints, detect_video
from diffmesh.pipelines.people import detect_people, detect_people_video
from diffmesh.pipelines.people_keypoints import PeopleKeypoints
from diffmesh.pipelines.tracking import track

CLIP = Path(__file__).parent / "data" / "people_clip.mp4"
SAMPLE = Path(__file__).resolve().parents[1] / "src" / "diffmesh" / "assets" / "sample_clip.mp4"
FRAMES, ENTER, MIDDLE = 48, 15, 320  # frames, first frame of the right person, the halves' border (x pixels)


def _seen_x(people: PeopleKeypoints, p: int) -> np.ndarray:
    """x of every confidently seen keypoint of row ``p``."""
    kp = people.keypoints[p][people.detected[p]]  # [n, 17, 3]
    return kp[..., 0][kp[..., 2] > 0.5]


@pytest.fixture(scope="module")
def clip_frames() -> list[np.ndarray]:
    return [f.image for f in iter_frames(CLIP, threads=1)]


PROGRESS: list[tuple[str, int, int]] = []


@pytest.fixture(scope="module")
def two_people() -> PeopleKeypoints:
    return detect_people_video(CLIP, progress=lambda *call: PROGRESS.append(call))


def test_two_people_found_with_stable_ids(two_people: PeopleKeypoints) -> None:
    people = two_people
    assert len(people) == 2 and len(set(people.track_ids.tolist())) == 2
    assert people.keypoints.shape == (2, FRAMES, 17, 3) and people.world.shape == (2, FRAMES, 17, 3)
    np.testing.assert_array_equal(people.frame_indices, np.arange(FRAMES))
    left, right = people.detected
    assert left.mean() >= 0.95, left
    # the newcomer: a new id from their first frames (followed back from the discovery at frame 20)
    first_right = int(np.flatnonzero(right)[0])
    assert ENTER <= first_right <= ENTER + 2, right
    assert right[ENTER:].mean() >= 0.95, right
    # one id per person throughout: every keypoint of a row lies in that person's half
    assert _seen_x(people, 0).max() < MIDDLE and _seen_x(people, 1).min() >= MIDDLE
    # missing rows: keypoints zero, world NaN; found rows: finite world joints in metres
    assert not people.keypoints[1, :ENTER].any() and np.isnan(people.world[1, :ENTER]).all()
    world = people.world[people.detected]
    assert np.isfinite(world).all() and np.abs(world).max() < 2.0
    assert PROGRESS[0] == ("detect", 1, FRAMES) and PROGRESS[-1] == ("detect", FRAMES, FRAMES)


def test_person_is_single_person_keypoints_that_tracking_accepts(two_people: PeopleKeypoints) -> None:
    right = two_people.person(1)
    assert isinstance(right, FrameKeypoints) and right.source.startswith("mediapipe-blazepose-people-")
    assert right.keypoints.shape == (FRAMES, 17, 3) and right.world is not None
    assert np.isfinite(right.world).all() and not right.world[:ENTER].any()  # zero, not NaN, as FrameKeypoints
    tracked = track(right.keypoints, right.detected, max_gap=10, world=right.world)
    assert [(s.start, s.end) for s in tracked.segments] == [(int(np.flatnonzero(right.detected)[0]), FRAMES)]
    back = PeopleKeypoints.from_arrays(two_people.to_arrays())
    np.testing.assert_array_equal(back.keypoints, two_people.keypoints)
    assert back.source == two_people.source
    with pytest.raises(ValueError, match="person index 2 is out of range: 2 people"):
        two_people.person(2)


def test_max_people_one_keeps_the_first(clip_frames: list[np.ndarray]) -> None:
    people = detect_people(clip_frames[:30], max_people=1, tiles=False)
    assert len(people) == 1 and people.detected[0].mean() >= 0.95
    assert _seen_x(people, 0).max() < MIDDLE


def test_a_place_held_for_someone_missing_goes_to_someone_in_view(clip_frames: list[np.ndarray], caplog: pytest.LogCaptureFixture) -> None:
    """One place: the left person leaves at frame 18 and would be awaited back for 30 frames; the
    right one, in view since then, takes the place at the first discovery after the left one has been
    missing for ``discover_every`` frames (frame 30; a new id, followed back) instead of being left out
    until frame 48, and the run says whom it gave up."""
    frames = []
    for t, f in enumerate(clip_frames[:36]):
        f = f.copy()
        f[:, MIDDLE:] = 128 if t < 18 else f[:, MIDDLE:]
        f[:, :MIDDLE] = 128 if t >= 18 else f[:, :MIDDLE]
        frames.append(f)
    with caplog.at_level(logging.INFO, logger="diffmesh.pipelines.people"):
        people = detect_people(frames, max_people=1, max_gap=30, discover_every=10, tiles=False, first_frame=100)
    assert len(people) == 2
    left, right = people.detected
    assert left[:18].mean() >= 0.95 and not left[18:].any()
    assert 18 <= np.flatnonzero(right)[0] <= 30 and right[30:].mean() >= 0.95
    assert _seen_x(people, 0).max() < MIDDLE and _seen_x(people, 1).min() >= MIDDLE
    given_up = [r.getMessage() for r in caplog.records if "is given up for them" in r.getMessage()]
    assert len(given_up) == 1 and given_up[0].startswith("people: frame 130: someone new"), given_up


def test_one_leaves_and_another_enters(clip_frames: list[np.ndarray]) -> None:
    """Left person until frame 18, then only the right one: two ids, no hand-over."""
    switch = 18
    frames = []
    for t, f in enumerate(clip_frames[:36]):
        f = f.copy()
        if t < switch:
            f[:, MIDDLE:] = 128  # the right person not there yet
        else:
            f[:, :MIDDLE] = 128  # the left person gone
        frames.append(f)
    people = detect_people(frames, max_gap=5, discover_every=10, tiles=False)
    assert len(people) == 2
    left, right = people.detected
    assert left[:switch].mean() >= 0.95 and not left[switch:].any()
    assert np.flatnonzero(right)[0] == switch and right[switch:].mean() >= 0.95
    assert _seen_x(people, 0).max() < MIDDLE and _seen_x(people, 1).min() >= MIDDLE


def test_person_at_the_image_border(clip_frames: list[np.ndarray]) -> None:
    """The left person's crop reaches beyond the frame's left edge (padded, mapped back)."""
    cut = 100
    frames = [np.ascontiguousarray(f[:, cut:MIDDLE]) for f in clip_frames[:10]]
    people = detect_people(frames)
    assert len(people) == 1 and people.detected[0].all()
    x = _seen_x(people, 0)
    assert x.min() > -5 and x.max() < MIDDLE - cut


def test_small_people_found_on_tiles_and_tiny_ones_ignored(clip_frames: list[np.ndarray]) -> None:
    """Both people shrunk to ~100 px in a 640x480 frame: the whole frame misses them (it needs ~140
    px, measured), discovery's tiles find them; people under ``min_height`` are ignored."""
    import cv2

    frames = []
    for f in clip_frames[ENTER + 5 : ENTER + 8]:
        small = cv2.resize(f, None, fx=0.45, fy=0.45, interpolation=cv2.INTER_AREA)  # 288x216
        frame = np.full_like(f, 128)
        frame[132 : 132 + small.shape[0], 176 : 176 + small.shape[1]] = small
        frames.append(frame)
    assert len(detect_people(frames, tiles=False)) == 0
    people = detect_people(frames)
    assert len(people) == 2 and people.detected.all()
    heights = [np.ptp(people.keypoints[p, 0, :, 1]) for p in range(2)]
    assert 80 < min(heights) and max(heights) < 120, heights
    assert len(detect_people(frames, min_height=200)) == 0

    # tiles only on every tile_every-th scheduled discovery: people appearing at frame 5 are found there
    # with tiles every discovery (every 5 frames), later (the tiled discovery at frame 10) with every second one
    blank = [np.full_like(frames[0], 128)] * 5
    later = blank + frames + [frames[-1]] * 5
    first = [int(np.flatnonzero(detect_people(later, discover_every=5, tile_every=k).detected.any(0))[0]) for k in (1, 2)]
    assert first[0] == 5 and first[1] > 5, first


def test_single_person_matches_whole_frame_detector() -> None:
    """Someone alone is followed on the whole frame by a detector that starts on the frame they were
    found in: their keypoints are the one-person detector's, exactly (so `--max-people` does not
    change a one-person video's keypoints)."""
    n = 30
    single = detect_video(probe_video(SAMPLE), 0, n, min_detection_confidence=0.5)
    people = detect_people_video(SAMPLE, 0, n)
    assert len(people) == 1 and people.detected[0].all() and single.detected.all()
    one = people.person(0)
    np.testing.assert_array_equal(one.keypoints, single.keypoints)
    np.testing.assert_array_equal(one.world, single.world)


def test_a_shadow_at_the_feet_is_not_a_person() -> None:
    """A walker's shadow on the floor (a held-out rendered clip, seen from above) was found as a second
    person from frame 60; it starts at their feet and lies down, so it is not taken."""
    clip = Path(__file__).parents[1] / "benchmarks" / "data" / "video_v1" / "07_walk_away.mp4"
    people = detect_people_video(clip, 50, 90, max_people=4, min_detection_confidence=0.3)
    assert len(people) == 1 and people.detected[0].all()


def test_shadow_rule_keeps_someone_standing_at_the_side() -> None:
    """shadow_of: a figure lying from a person's feet is a shadow; one standing beside them (feet as
    close), or lying elsewhere, is not."""
    from diffmesh.pipelines.person_crops import shadow_of

    def figure(feet: tuple[float, float], head: tuple[float, float]) -> np.ndarray:
        lm = np.zeros((33, 4), np.float32)
        t = np.linspace(1, 0, 33)[:, None]  # landmark 0 at the head, the last ones at the feet
        lm[:, :2] = np.array(feet) + t * (np.array(head) - np.array(feet))
        lm[[11, 12], :2] = np.array(feet) + 0.8 * (np.array(head) - np.array(feet))  # shoulders
        lm[27:33, :2] = feet
        return lm

    person = figure((300, 400), (300, 100))
    assert shadow_of(figure((310, 405), (180, 330)), person)  # from their feet, lying along the floor
    assert not shadow_of(figure((340, 400), (345, 110)), person)  # standing beside them
    assert not shadow_of(figure((560, 430), (440, 360)), person)  # lying, but away from their feet


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"max_people": 0}, r"max_people must be an integer >= 1 or None \(everyone\), got 0; the default is None"),
        ({"max_people": 2.5}, "max_people"),
        ({"discover_every": 0}, "discover_every must be an integer >= 1"),
        ({"max_gap": -1}, "max_gap must be an integer >= 0"),
        ({"min_detection_confidence": 1.5}, r"min_detection_confidence must be in \(0, 1\], got 1.5"),
        ({"min_height": 0}, "min_height must be a positive number"),
        ({"tile_every": 0}, r"tile_every must be an integer >= 1 \(discoveries\), got 0; the default is 1"),
        ({"detector_threads": 0}, r"detector_threads must be an integer >= 1, got 0; the default is 1"),
    ],
)
def test_bad_arguments(kw: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        detect_people([np.zeros((8, 8, 3), np.uint8)], **kw)


def test_bad_frames_and_ranges(clip_frames: list[np.ndarray]) -> None:
    with pytest.raises(ValueError, match="frames is empty"):
        detect_people([])
    with pytest.raises(ValueError, match=r"frame 0 must be uint8 \[H, W, 3\] RGB, got float32"):
        detect_people([clip_frames[0].astype(np.float32)])
    with pytest.raises(ValueError, match="frame 1 is 320x480 but the first frame was 640x480"):
        detect_people([clip_frames[0], clip_frames[1][:, :320]])
    with pytest.raises(ValueError, match=r"start=40, end=60 does not fit .* \(48 frames\); pass 0 <= start < end <= 48"):
        detect_people_video(CLIP, 40, 60)
    with pytest.raises(FileNotFoundError):
        detect_people_video(CLIP.with_name("missing.mp4"))


def _matched_ids(people: PeopleKeypoints, gt: dict[str, np.ndarray]) -> list[list[int]]:
    """Per true person, the track id whose keypoints lie on them in each frame where one does
    (mean limb-keypoint distance under 15 % of their height), in frame order."""
    from diffmesh.conventions import H36M_JOINTS, limb_indices

    limbs = list(limb_indices(H36M_JOINTS))
    out: list[list[int]] = [[] for _ in range(len(gt["joints_2d"]))]
    for t in range(people.detected.shape[1]):
        for p, seq in enumerate(out):
            d = [np.linalg.norm(people.keypoints[r, t, limbs, :2] - gt["joints_2d"][p, t], axis=-1).mean()
                 if people.detected[r, t] else np.inf for r in range(len(people))]  # fmt: skip
            r = int(np.argmin(d))
            if d[r] < 0.15 * gt["height_px"][p, t]:
                seq.append(int(people.track_ids[r]))
    return out


def test_two_walkers_crossing_keep_their_ids() -> None:
    """``benchmarks/data/people_v1/00_cross2`` (tools/make_people_benchmark.py): two people walking
    towards each other, the near one hiding the far one as they pass. Without the appearance model
    the far one's detector landed on the near one and the far one came back under a new id."""
    scene = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "people_v1" / "00_cross2"
    gt = dict(np.load(scene.with_suffix(".npz")))
    people = detect_people_video(scene.with_suffix(".mp4"), min_detection_confidence=0.3)
    ids = _matched_ids(people, gt)
    assert [len(set(seq)) for seq in ids] == [1, 1] and ids[0][0] != ids[1][0], ids  # one id each, never swapped
    seen = gt["visible"] >= 0.5
    assert len(ids[0]) >= 0.95 * seen[0].sum() and len(ids[1]) >= 0.75 * seen[1].sum()  # measured: 90/90, 76/90


def test_appearance_tells_people_apart_and_ignores_what_is_outside_the_image() -> None:
    from diffmesh.pipelines.appearance import appearance as _appearance, similarity as _similarity

    rng = np.random.default_rng(0)
    image = np.zeros((200, 300, 3), np.uint8)
    image[:, :150] = (200, 30, 30)  # the left person wears red, the right one blue
    image[:, 150:] = (30, 30, 200)
    image = np.clip(image + rng.integers(0, 20, image.shape), 0, 255).astype(np.uint8)
    lm = np.zeros((33, 4))
    body = {11: (40, 40), 12: (80, 40), 23: (45, 100), 24: (75, 100), 25: (45, 140), 26: (75, 140), 27: (45, 180), 28: (75, 180)}
    for i, xy in body.items():
        lm[i, :2] = xy
    left, right = _appearance(image, lm), lm.copy()
    right[:, 0] += 160
    right_a = _appearance(image, right)
    assert left is not None and right_a is not None and left.shape == (2, 48)
    assert _similarity(left, left) == pytest.approx(1.0) and _similarity(left, right_a) < 0.2
    gone = lm.copy()
    gone[:, :2] -= 1000  # wholly outside the picture: nothing to say
    assert _appearance(image, gone) is None
