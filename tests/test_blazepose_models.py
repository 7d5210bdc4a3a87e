"""The shipped BlazePose lite and heavy landmark models: they run offline, read nothing from the
network, leave site-packages alone, and each reaches the same person as the wheel's full model."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from diffmesh.conventions import BLAZEPOSE_JOINTS, limb_indices
from diffmesh.pipelines import blazepose_models
from diffmesh.pipelines.settings import InferSettings

CLIP = Path(__file__).parent / "data" / "video_benchmark" / "08_boxing"


def _frames(n: int) -> list[np.ndarray]:
    from diffmesh.io.video import iter_frames

    return [f.image for f, _ in zip(iter_frames(CLIP.with_suffix(".mp4"), threads=1), range(n))]


def test_shipped_files_match_their_checksums() -> None:
    for name, digest in blazepose_models._SHIPPED.items():
        path = blazepose_models._ASSETS / f"pose_landmark_{name}.tflite"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, path
    assert (blazepose_models._ASSETS / "LICENSE").read_text().lstrip().startswith("Apache License")


@pytest.mark.parametrize("model", ["lite", "heavy"])
def test_shipped_model_finds_the_person_offline(model: str) -> None:
    """Video mode over a few rendered frames: 2-D landmarks on the true joints, world landmarks
    hip-centred metres close to the truth, the model named in the keypoints' source, and the
    wheel's folder unchanged (mediapipe's own step would have downloaded into it)."""
    import mediapipe as mp

    from diffmesh.metrics import p_mpjpe
    from diffmesh.pipelines.keypoints import PoseDetector

    wheel = Path(mp.__file__).parent / "modules" / "pose_landmark"
    before = sorted(p.name for p in wheel.iterdir())
    gt = np.load(CLIP.with_suffix(".npz"))
    limbs = list(limb_indices(BLAZEPOSE_JOINTS))
    with PoseDetector(model=model) as det:
        assert det.source == f"mediapipe-blazepose-{model}-{det.version}"
        found = [det.detect_with_world(image) for image in _frames(4)]
    assert sorted(p.name for p in wheel.iterdir()) == before
    for t, (kp33, world) in enumerate(found):
        err_2d = np.linalg.norm(kp33[limbs, :2] - gt["joints_2d"][t], axis=-1).mean()
        assert err_2d < 0.08 * gt["height_px"][t], (t, err_2d)
        assert p_mpjpe(world[limbs][None].astype(np.float64), gt["joints_cam"][t : t + 1].astype(np.float64))[0] < 0.2


def test_models_differ_and_full_is_unchanged_after_another() -> None:
    """Each name runs its own network (different landmarks), and a ``full`` detector opened after a
    ``heavy`` one reads the wheel's model again (same landmarks as before)."""
    from diffmesh.pipelines.keypoints import PoseDetector

    image = _frames(1)[0]
    out = {}
    for model in ("full", "heavy", "lite", "full"):
        with PoseDetector(static_image_mode=True, model=model) as det:
            kp33 = det.detect33(image)
            assert kp33 is not None
            out.setdefault(model, []).append(kp33)
    np.testing.assert_array_equal(out["full"][0], out["full"][1])
    assert not np.array_equal(out["full"][0], out["heavy"][0])
    assert not np.array_equal(out["full"][0], out["lite"][0])


@pytest.mark.parametrize("model", ["full", "lite"])
def test_detector_threads_are_set_and_change_no_landmark(model: str) -> None:
    """Two XNNPACK threads: the graph's inference nodes say so, and every landmark of a tracked clip
    is the same to the bit as on mediapipe's one thread."""
    from diffmesh.pipelines.keypoints import PoseDetector

    frames = _frames(5)
    out = {}
    for threads in (1, 2):
        with PoseDetector(model=model, threads=threads) as det:
            config = det._pose._graph.text_config
            assert config.count("num_threads: 2") == (2 if threads == 2 else 0), config
            out[threads] = [det.detect_with_world(image) for image in frames]
    for one, two in zip(out[1], out[2]):
        np.testing.assert_array_equal(one[0], two[0])
        np.testing.assert_array_equal(one[1], two[1])
    with pytest.raises(ValueError, match="detector threads must be an integer >= 1, got 0"):
        PoseDetector(threads=0)


def test_bad_names_and_damaged_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match=r"detector model 'medium' is not one of lite, full, heavy"):
        blazepose_models.model_complexity("medium")
    with pytest.raises(ValueError, match="detector model 'x'"):
        InferSettings(detector_model="x")
    with pytest.raises(ValueError, match="a keypoint file replaces the detector"):
        InferSettings(keypoints_file="k.json", detector_model="heavy")
    (tmp_path / "pose_landmark_lite.tflite").write_bytes(b"not a model")
    monkeypatch.setattr(blazepose_models, "_ASSETS", tmp_path)
    with pytest.raises(ValueError, match=r"pose_landmark_lite.tflite is damaged .*reinstall diffmesh"):
        blazepose_models._shipped("lite")
    with pytest.raises(FileNotFoundError, match="BlazePose heavy model is missing"):
        blazepose_models._shipped("heavy")


def test_detector_model_in_the_keypoints_key_only_when_not_full(tmp_path: Path) -> None:
    """Another landmark model gives other keypoints (a new cache key); ``full`` keeps the key it
    always had, and the mesh key is not keyed twice."""
    from diffmesh.io.video import probe_video
    from diffmesh.pipelines.infer import _keypoints_key

    info = probe_video(CLIP.with_suffix(".mp4"))
    keys = {m: _keypoints_key(info, 0, 10, InferSettings(detector_model=m)) for m in blazepose_models.DETECTOR_MODELS}
    assert len(set(keys.values())) == 3
    assert "detector_model" not in InferSettings(detector_model="heavy").model_stage_parts()
