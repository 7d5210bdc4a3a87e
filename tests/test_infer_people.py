"""``diffmesh infer --max-people N``: several people through the whole pipeline, the real detector
on the real two-person clip (``tests/data/people_clip.mp4``, see tests/test_people.py: a boxer in
the left half throughout, a kicker in the right half from frame 15 on)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from diffmesh.cli import main
from diffmesh.io.exports import read_result
from diffmesh.io.video import iter_frames
from diffmesh.pipelines.infer_people import kept_people
from diffmesh.pipelines.overlay import PERSON_COLORS, person_color
from diffmesh.pipelines.people_keypoints import PeopleKeypoints
from diffmesh.viewer import PALETTE
from diffmesh.viewer.page import read_glb_json

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CLIP = Path(__file__).parent / "data" / "people_clip.mp4"
ENTER, MIDDLE, LATE = 15, 320, 40  # first frame of the right person, the halves' border (x pixels), a frame with both


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("people") / "out"
    assert main(["infer", str(CLIP), "-o", str(out), "--max-people", "3", "--threads", "1"]) == 0
    return out, json.loads((out / "summary.json").read_text())


def test_two_people_each_with_their_own_outputs(run: tuple[Path, dict[str, Any]]) -> None:
    out, summary = run
    people = summary["people"]
    assert len(people) == 2 and people[0]["track_id"] != people[1]["track_id"]
    first, second = people
    assert first["first_frame"] == 0 and first["frames_detected"] >= 45
    assert ENTER <= second["first_frame"] <= ENTER + 2 and second["frames_detected"] >= 30
    assert "people/" in summary["outputs"]
    assert summary["frames_without_anyone"] == 0 and summary["frames_without_person"] == 48 - summary["frames_with_person"]
    results = {}
    for person in people:
        folder = out / person["output"]
        assert {p.name for p in folder.iterdir()} == {"result.npz", "animation.glb", "motion.bvh"}
        res = results[person["track_id"]] = read_result(folder / "result.npz")
        assert res["track_id"] == person["track_id"] and res["valid"].sum() == person["frames_with_person"]
    left, right = (results[p["track_id"]] for p in people)
    # each result is its own person: keypoints in their half of the image; the newcomer only from frame 15
    assert left["keypoints_2d"][left["valid"]][..., 0].max() < MIDDLE
    assert right["keypoints_2d"][right["valid"]][..., 0].min() > MIDDLE - 10
    assert not right["valid"][:ENTER].any() and right["valid"][ENTER + 2 :].all()
    # one world frame for both: the same camera-to-world transform and floor, both standing on it
    np.testing.assert_array_equal(left["cam_to_world"], right["cam_to_world"])
    np.testing.assert_array_equal(left["floor_offset_cam"], right["floor_offset_cam"])
    for res in (left, right):
        pelvis_height = res["joints_3d_world"][res["valid"], 0, 1]
        assert 0.6 < np.median(pelvis_height) < 1.2, np.median(pelvis_height)
    # OUT/animation.glb: everyone, one skinned body each, in their overlay colour
    glb = read_glb_json((out / "animation.glb").read_bytes())
    assert [p["track_id"] for p in glb["asset"]["extras"]["people"]] == [p["track_id"] for p in people]
    assert len(glb["skins"]) == len(glb["meshes"]) == 2 and len(glb["animations"]) == 1
    assert [p["colour"] for p in glb["asset"]["extras"]["people"]] == [PERSON_COLORS[p["track_id"]] for p in people]
    # OUT/result.npz is the first person's, as before plus its track_id
    top = read_result(out / "result.npz")
    assert top["track_id"] == first["track_id"]
    np.testing.assert_array_equal(top["pose_rotmat"], left["pose_rotmat"])
    np.testing.assert_array_equal(top["transl_world"], left["transl_world"])


def test_overlay_draws_everyone_in_their_own_colour(run: tuple[Path, dict[str, Any]]) -> None:
    out, summary = run
    (video,) = [f.image.astype(int) for f in iter_frames(CLIP, LATE, LATE + 1, threads=1)]
    (overlay,) = [f.image.astype(int) for f in iter_frames(out / "overlay.mp4", LATE, LATE + 1, threads=1)]
    drawn = np.abs(overlay - video).sum(-1) > 80  # [H, W] where a body was drawn
    for half, person in ((slice(0, MIDDLE), summary["people"][0]), (slice(MIDDLE, None), summary["people"][1])):
        mask = drawn[:, half]
        assert mask.mean() > 0.03, mask.mean()  # a body, not a few noisy pixels
        mean = overlay[:, half][mask].mean(0)  # RGB
        want = np.array(person_color(person["track_id"])) * 255
        assert np.argmax(mean) == np.argmax(want), (mean, want)  # the person's colour dominates
    assert person_color(summary["people"][0]["track_id"]) != person_color(summary["people"][1]["track_id"])


def test_person_keeps_one_track(run: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    """``--person ID`` re-uses the cached keypoints and meshes of the same video and, one person kept,
    writes the one-person files with their track id."""
    out, summary = run
    second = summary["people"][1]["track_id"]
    shutil.copytree(out / ".cache", tmp_path / ".cache")
    args = ["infer", str(CLIP), "-o", str(tmp_path), "--max-people", "3", "--person", str(second), "--threads", "1",
            "--no-overlay", "--no-animation"]  # fmt: skip
    assert main(args) == 0
    one = json.loads((tmp_path / "summary.json").read_text())
    assert [p["track_id"] for p in one["people"]] == [second]
    assert {"people", f"mesh.p{second}"} <= set(one["cached_stages"])
    assert read_result(tmp_path / "result.npz")["track_id"] == second
    assert not (tmp_path / "people").exists()
    # a one-person run into a several-people run's folder: its people/ no longer matches result.npz and goes
    again = tmp_path / "again"
    shutil.copytree(out, again)
    assert (again / "people").is_dir()
    assert main(["infer", str(CLIP), "-o", str(again), "--end", "8", "--max-people", "1", "--threads", "1", "--no-overlay",
                 "--no-animation"]) == 0  # fmt: skip
    assert not (again / "people").exists() and "track_id" not in read_result(again / "result.npz")


def test_a_photo_of_two_people_gives_both(tmp_path: Path) -> None:
    """A photo is a one-frame video: everyone in it is kept (not only people seen in 8 frames), and with
    ``--max-people 1`` the one-person recipe gives the first of them the same body."""
    from PIL import Image

    frame = [f.image for f in iter_frames(CLIP, threads=1)][LATE]
    Image.fromarray(frame).save(tmp_path / "photo.png")
    args = ["--threads", "1", "--no-overlay", "--no-animation"]
    assert main(["infer", str(tmp_path / "photo.png"), "-o", str(tmp_path / "all"), *args]) == 0
    people = json.loads((tmp_path / "all" / "summary.json").read_text())["people"]
    assert len(people) == 2 and all(p["frames_detected"] == 1 for p in people)
    halves = [read_result(tmp_path / "all" / p["output"] / "result.npz")["keypoints_2d"][0, :, 0].mean() < MIDDLE
              for p in people]  # fmt: skip
    assert sorted(halves) == [False, True]
    assert main(["infer", str(tmp_path / "photo.png"), "-o", str(tmp_path / "one"), "--max-people", "1", *args]) == 0
    one, first = read_result(tmp_path / "one" / "result.npz"), read_result(tmp_path / "all" / "result.npz")
    assert one["valid"].tolist() == [True] and first["track_id"] == people[0]["track_id"]
    np.testing.assert_allclose(first["keypoints_2d"], one["keypoints_2d"], atol=1e-3)


@pytest.mark.parametrize(
    "args, match",
    [
        (["--max-people", "0"], "--max-people must be an integer >= 1 (1: one person, N > 1: up to N people) or None"),
        (["--person", "1", "--max-people", "1"], "--max-people=1 follows one"),
        (["--person", "1", "--keypoints", "kp.json"], "a keypoint file gives one person"),
        (["--max-people", "2", "--keypoints", "kp.json"], "needs the detector"),
        (["--detector-threads", "-1"], "--detector-threads must be an integer >= 0 (0: the default for the pass), got -1"),
    ],
)
def test_bad_people_arguments(args: list[str], match: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["infer", str(CLIP), "-o", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("diffmesh: error:") and match in err[-1], err
    assert not (tmp_path / "out").exists()


def test_kept_people_drops_short_tracks_and_picks_one() -> None:
    n = 20
    detected = np.zeros((3, n), bool)
    detected[0], detected[1, :5], detected[2, 8:] = True, True, True
    people = PeopleKeypoints(np.array([0, 3, 4]), np.zeros((3, n, 17, 3), np.float32), np.full((3, n, 17, 3), np.nan),
                             detected, np.arange(n), "test")  # fmt: skip
    assert kept_people(people) == [0, 2]
    assert kept_people(people, person=4) == [2]
    with pytest.raises(ValueError, match=r"person 3 is not among .* id 3 \(5 frames\)"):
        kept_people(people, person=3)
    assert kept_people(people, min_frames=30) == [0, 2]  # more than the video has: half its 20 frames
    few = PeopleKeypoints(people.track_ids, people.keypoints, people.world, detected & (np.arange(n) < 3), np.arange(n), "test")
    with pytest.raises(ValueError, match=r"no person was detected in at least 8 frames \(found: id 0 \(3 frames\)"):
        kept_people(few)


def test_person_colours_are_the_viewers() -> None:
    assert PERSON_COLORS == PALETTE
