"""BlazePose-33 → H36M-17 mapping, AlphaPose JSON reading, and the detector on real photographs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from diffmesh.conventions import BLAZEPOSE_JOINTS, H36M_JOINTS, HEAD_TOP_EXTRAPOLATION, blazepose_to_h36m
from diffmesh.pipelines.keypoints import read_alphapose_json
from tests._golden import skip_unless_ci

J = {n: i for i, n in enumerate(H36M_JOINTS)}
B = {n: i for i, n in enumerate(BLAZEPOSE_JOINTS)}


def test_blazepose_mapping_documented_rows() -> None:
    rng = np.random.default_rng(0)
    kp33 = rng.uniform(0, 100, (2, 33, 4)).astype(np.float32)  # x, y, z, visibility
    kp33[..., 3] = rng.uniform(0, 1, (2, 33))
    out = blazepose_to_h36m(kp33)
    assert out.shape == (2, 17, 3)
    src = kp33[..., [0, 1, 3]]  # z dropped, visibility is the confidence
    for name in ("right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "nose",
                 "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist"):  # fmt: skip
        np.testing.assert_allclose(out[:, J[name]], src[:, B[name]], err_msg=name)
    pelvis = (src[:, B["left_hip"]] + src[:, B["right_hip"]]) / 2
    thorax = (src[:, B["left_shoulder"]] + src[:, B["right_shoulder"]]) / 2
    np.testing.assert_allclose(out[:, J["pelvis"]], pelvis, rtol=1e-6)
    np.testing.assert_allclose(out[:, J["thorax"]], thorax, rtol=1e-6)
    np.testing.assert_allclose(out[:, J["spine"]], (pelvis + thorax) / 2, rtol=1e-6)
    eyes = (src[:, B["left_eye"]] + src[:, B["right_eye"]]) / 2
    np.testing.assert_allclose(out[:, J["head_top"], :2], eyes[:, :2] + HEAD_TOP_EXTRAPOLATION * (eyes[:, :2] - thorax[:, :2]), rtol=1e-5)
    np.testing.assert_allclose(out[:, J["head_top"], 2], np.minimum(eyes[:, 2], thorax[:, 2]))
    with pytest.raises(ValueError, match="33"):
        blazepose_to_h36m(np.zeros((17, 3)))


def test_native_log_lines_go_to_logging(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    """What mediapipe's C++ code writes to fd 2 becomes log records; everything else passes through."""
    import logging

    from diffmesh.pipelines.native_logs import native_logs_to_logging

    with caplog.at_level(logging.DEBUG, logger="diffmesh.pipelines.native_logs"), native_logs_to_logging():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"W0000 00:00:1796221701.325049    6212 inference_feedback_manager.cc:114] Feedback manager\n")
        os.write(2, b"\rbar  50%")  # a progress bar's partial line: passed through at once
        os.write(2, b"\nplain line\n")
        os.write(2, b"E0000 00:00:1796221701.5    6212 calculator.cc:7] broken\n")
    assert capfd.readouterr().err == "\rbar  50%\nplain line\n"
    records = {r.getMessage(): r.levelno for r in caplog.records}
    assert records == {
        "native: INFO: Created TensorFlow Lite XNNPACK delegate for CPU.": logging.DEBUG,
        "native: W0000 00:00:1796221701.325049    6212 inference_feedback_manager.cc:114] Feedback manager": logging.DEBUG,
        "native: E0000 00:00:1796221701.5    6212 calculator.cc:7] broken": logging.WARNING,
    }
    os.write(2, b"W0000 00:00:1.0    1 x.cc:1] after the block\n")  # fd 2 is restored
    assert "after the block" in capfd.readouterr().err


def _halpe_entry(frame: int, x0: float, idx: int = 1, score: float = 0.9) -> dict:
    kp = np.zeros((26, 3))
    kp[:, 0] = x0 + np.arange(26)
    kp[:, 1] = 100 + np.arange(26)
    kp[:, 2] = 0.8
    return {"image_id": f"{frame}.jpg", "category_id": 1, "keypoints": kp.ravel().tolist(), "score": score, "idx": idx}


def test_alphapose_json_aligns_frames_and_picks_best(tmp_path: Path) -> None:
    from diffmesh.conventions import halpe_to_h36m

    data = [_halpe_entry(0, 50), _halpe_entry(0, 300, idx=2, score=0.5), _halpe_entry(2, 52), _halpe_entry(3, 54)]
    p = tmp_path / "alphapose-results.json"
    p.write_text(json.dumps(data))
    fk, cands = read_alphapose_json(p, num_frames=5, width=640, height=480)
    assert fk.detected.tolist() == [True, False, True, True, False]
    assert [len(c) for c in cands] == [2, 0, 1, 1, 0]
    expected = halpe_to_h36m(np.asarray(data[0]["keypoints"], np.float32).reshape(1, 26, 3))[0]
    np.testing.assert_allclose(fk.keypoints[0], expected, rtol=1e-6)
    fk2, _ = read_alphapose_json(p, 5, 640, 480, track_id=2)
    assert fk2.detected.tolist() == [True, False, False, False, False]


def test_alphapose_json_errors(tmp_path: Path) -> None:
    p = tmp_path / "k.json"
    with pytest.raises(FileNotFoundError):
        read_alphapose_json(p, 5, 640, 480)
    p.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_alphapose_json(p, 5, 640, 480)
    p.write_text(json.dumps({"foo": 1}))
    with pytest.raises(ValueError, match="not an AlphaPose results file"):
        read_alphapose_json(p, 5, 640, 480)
    p.write_text(json.dumps([_halpe_entry(9, 50)]))
    with pytest.raises(ValueError, match="does not match the video.*frames"):
        read_alphapose_json(p, 5, 640, 480)
    p.write_text(json.dumps([_halpe_entry(1, 5000)]))
    with pytest.raises(ValueError, match="does not match the video.*outside"):
        read_alphapose_json(p, 5, 640, 480)
    bad = _halpe_entry(1, 50)
    bad["keypoints"] = bad["keypoints"][:30]
    p.write_text(json.dumps([bad]))
    with pytest.raises(ValueError, match="10 joints per detection"):
        read_alphapose_json(p, 5, 640, 480)


# --- the detector on real photographs (Debian's opencv-doc, COMPONENTS.md §1.4) ------------------

OPENCV_DOC_IMAGES = ("messi5.jpg", "basketball1.png")
_DOC_DIR = "usr/share/doc/opencv-doc/examples/data"


@pytest.fixture(scope="session")
def opencv_doc_images() -> dict[str, Path]:
    """messi5.jpg and basketball1.png from Debian's opencv-doc package, fetched once with
    ``apt-get download`` into ``$DIFFMESH_TEST_DATA`` (default ~/.cache/diffmesh-tests); not committed."""
    root = Path(os.environ.get("DIFFMESH_TEST_DATA", Path.home() / ".cache" / "diffmesh-tests")) / "opencv-doc"
    paths = {name: root / name for name in OPENCV_DOC_IMAGES}
    if all(p.is_file() for p in paths.values()):
        return paths
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        skip_unless_ci("needs apt-get/dpkg-deb to fetch Debian's opencv-doc test images")
    work = root / "download"
    work.mkdir(parents=True, exist_ok=True)

    def download() -> None:
        subprocess.run(["apt-get", "download", "opencv-doc"], cwd=work, check=True, capture_output=True, timeout=600)

    try:
        try:
            download()
        except subprocess.CalledProcessError:
            # A fresh machine may have no package lists yet.
            subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True, timeout=600)
            download()
        deb = next(work.glob("opencv-doc_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "x")], check=True, capture_output=True, timeout=600)
    except (subprocess.SubprocessError, StopIteration, OSError) as err:
        skip_unless_ci(f"could not fetch opencv-doc from the Debian registry: {err}")
    for name, dest in paths.items():
        shutil.copy(work / "x" / _DOC_DIR / name, dest)
    shutil.rmtree(work, ignore_errors=True)
    return paths


@pytest.mark.parametrize("name", OPENCV_DOC_IMAGES)
def test_detector_on_real_photographs(opencv_doc_images: dict[str, Path], name: str) -> None:
    import cv2

    from diffmesh.pipelines.keypoints import PoseDetector

    img = cv2.imread(str(opencv_doc_images[name]), cv2.IMREAD_UNCHANGED)
    img = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)  # grey stays [H, W]
    h, w = img.shape[:2]
    with PoseDetector(static_image_mode=True) as det:
        kp = det.detect(img)
        assert det.detect(np.zeros((120, 160, 3), np.uint8)) is None  # a black frame: no person
    assert kp is not None, f"no person found in {name}"
    conf = kp[:, 2]
    assert conf.mean() > 0.6
    # Anatomy in image coordinates (y down): head above thorax above pelvis above the ankles.
    y = kp[:, 1]
    assert y[J["head_top"]] < y[J["thorax"]] < y[J["pelvis"]] < min(y[J["left_ankle"]], y[J["right_ankle"]])
    assert (kp[:, 0] > -0.05 * w).all() and (kp[:, 0] < 1.05 * w).all()
    # A standing person: ankles about a body height below the head.
    assert y[J["left_ankle"]] - y[J["head_top"]] > 0.25 * h


def test_detect_with_world_on_rendered_frame() -> None:
    """One graph pass gives the 2-D landmarks and BlazePose's own 3-D (world) landmarks; on a
    rendered frame of the video benchmark both agree with the ground truth."""
    from diffmesh.conventions import limb_indices
    from diffmesh.io.video import iter_frames
    from diffmesh.metrics import p_mpjpe
    from diffmesh.pipelines.keypoints import PoseDetector

    clip = Path(__file__).parent / "data" / "video_benchmark" / "08_boxing"
    gt = np.load(clip.with_suffix(".npz"))
    image = next(iter_frames(clip.with_suffix(".mp4"), threads=1)).image
    with PoseDetector(static_image_mode=True) as det:
        found = det.detect_with_world(image)
        assert found is not None
        kp33, world = found
        np.testing.assert_array_equal(det.detect33(image), kp33)  # the same graph, the same landmarks
    assert kp33.shape == (33, 4) and world is not None and world.shape == (33, 3)
    limbs = list(limb_indices(BLAZEPOSE_JOINTS))
    err_2d = np.linalg.norm(kp33[limbs, :2] - gt["joints_2d"][0], axis=-1).mean()
    assert err_2d < 0.08 * gt["height_px"][0], err_2d
    hips = world[[BLAZEPOSE_JOINTS.index("left_hip"), BLAZEPOSE_JOINTS.index("right_hip")]]
    assert np.linalg.norm(hips.mean(0)) < 0.05  # hip-centred metres
    assert p_mpjpe(world[limbs][None].astype(np.float64), gt["joints_cam"][:1].astype(np.float64))[0] < 0.2
