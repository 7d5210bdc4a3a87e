"""The video → mesh pipeline: pure stages (windows, tracking, placement, cache) and end-to-end
runs on real video files rendered from the open body model performing a known motion.

Most end-to-end checks use a tiny random model and cover the mechanics (frames, shapes, the
2-D → 3-D placement, outputs, caching, missing frames); one runs the packaged default weights
and checks the recovered *pose* against the known motion.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from diffmesh.geometry.camera import default_intrinsics, fit_translation, project
from diffmesh.geometry.crop import crop_scale
from diffmesh.geometry.flip import flip_data, flip_smpl_rotmats
from diffmesh.pipelines.cache import StageCache, stage_key
from diffmesh.pipelines.tracking import Segment, follow_person, track
from diffmesh.pipelines.windows import WindowBlender, plan_windows
from tests._videos import FPS, W, make_walk_video
from tests.conftest import TINY

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- pure stages ---------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 5, 16, 17, 40, 100])
def test_windows_cover_and_blend_without_seams(n: int) -> None:
    wins = plan_windows(n, 16, 8)
    covered = np.zeros(n, int)
    for w in wins:
        covered[w.start : w.start + w.length] += 1
        assert w.length == min(16, n)
    assert (covered >= 1).all() and wins[-1].start + wins[-1].length == n
    # Each window predicts the same smooth rotation signal plus a window-specific offset: the blend
    # must stay continuous (no jump at window borders, unlike non-overlapping chunks).
    from diffmesh.geometry.rotations import axis_angle_to_rotmat

    blender = WindowBlender(n)
    for k, w in enumerate(wins):
        t = torch.arange(w.start, w.start + w.length, dtype=torch.float32)
        angle = 0.02 * t + 0.05 * (k % 2)  # alternate windows disagree by 0.05 rad
        aa = torch.zeros(w.length, 24, 3)
        aa[..., 0] = angle[:, None]
        blender.add(w, axis_angle_to_rotmat(aa.reshape(-1, 3)).reshape(-1, 24, 3, 3), torch.zeros(w.length, 10), torch.zeros(w.length, 17, 3))
    rot, _, _ = blender.result()
    assert torch.allclose(rot @ rot.transpose(-1, -2), torch.eye(3).expand_as(rot), atol=1e-5)
    ang = torch.atan2(rot[:, 0, 2, 1], rot[:, 0, 2, 2]).numpy()
    if n > 2:
        steps = np.abs(np.diff(ang))
        # Non-overlapping chunks would jump by the full 0.05 disagreement at a border.
        assert steps.max() < 0.02 + 0.4 * 0.05


def test_flips_are_involutions_and_crop_scale() -> None:
    x = torch.randn(2, 16, 17, 3)
    assert torch.equal(flip_data(flip_data(x)), x)
    from diffmesh.geometry.rotations import axis_angle_to_rotmat, rotmat_to_axis_angle

    aa = torch.randn(4, 24, 3) * 0.5
    R = axis_angle_to_rotmat(aa.reshape(-1, 3)).reshape(4, 24, 3, 3)
    assert torch.allclose(flip_smpl_rotmats(flip_smpl_rotmats(R)), R, atol=1e-6)
    # Official rule: negate y, z of every axis-angle, swap left/right (1,2) ...
    flipped = rotmat_to_axis_angle(flip_smpl_rotmats(R))
    assert torch.allclose(flipped[:, 1], aa[:, 2] * torch.tensor([1.0, -1, -1]), atol=1e-4)
    kp = np.zeros((3, 17, 3), np.float32)
    kp[..., 0] = np.linspace(100, 300, 17)
    kp[..., 1] = np.linspace(50, 150, 17)
    kp[..., 2] = 1
    norm = crop_scale(kp)
    assert norm[..., 0].min() == -1 and norm[..., 0].max() == 1 and np.allclose(norm[..., 2], 1)


def test_tracking_fills_short_gaps_and_splits_long_ones() -> None:
    n = 60
    kp = np.zeros((n, 17, 3), np.float32)
    kp[:, :, 0] = np.arange(n)[:, None]
    kp[:, :, 2] = 0.9
    det = np.ones(n, bool)
    det[10:14] = False  # short gap: interpolated
    det[30:50] = False  # long gap: split, marked without person
    trk = track(kp, det, max_gap=10)
    assert trk.segments == [Segment(0, 30), Segment(50, 60)]
    assert trk.has_person[10:14].all() and not trk.has_person[30:50].any()
    np.testing.assert_allclose(trk.keypoints[10:14, 0, 0], np.arange(10, 14), atol=1e-4)
    assert (trk.keypoints[10:14, :, 2] < 0.9).all() and (trk.keypoints[30:50] == 0).all()
    with pytest.raises(ValueError, match="no person was found"):
        track(kp, np.zeros(n, bool))


def test_follow_person_keeps_the_same_person() -> None:
    a = np.zeros((17, 3), np.float32)
    a[:, 0], a[:, 1], a[:, 2] = np.linspace(100, 140, 17), np.linspace(100, 300, 17), 0.9
    b = a.copy()
    b[:, 0] += 300
    b[:, 2] = 1.0  # more confident, but another person
    cands = [np.stack([a, b]) if i else np.stack([a]) for i in range(5)]
    kp, det = follow_person(cands)
    assert det.all() and np.allclose(kp[:, :, 0].mean(1), a[:, 0].mean())


def test_fit_translation_recovers_known_placement() -> None:
    rng = np.random.default_rng(1)
    K = default_intrinsics(640, 480)
    joints = rng.normal(0, 0.4, (5, 17, 3))
    t_true = np.stack([rng.uniform(-1, 1, 5), rng.uniform(-0.5, 0.5, 5), rng.uniform(2, 8, 5)], 1)
    uv = project(joints + t_true[:, None], K)
    t, err = fit_translation(joints, uv, np.ones((5, 17)), K)
    np.testing.assert_allclose(t, t_true, atol=1e-6)
    assert err.max() < 1e-6
    t, _ = fit_translation(joints, uv, np.zeros((5, 17)), K)
    assert np.isnan(t).all()


def test_cache_is_keyed_by_content(tmp_path: Path) -> None:
    cache = StageCache(tmp_path)
    k1, k2 = stage_key("s", a=1, b=[1, 2]), stage_key("s", a=1, b=[1, 3])
    assert k1 != k2 and k1 == stage_key("s", b=[1, 2], a=1)
    cache.save("s", k1, {"x": np.arange(3)})
    assert cache.load("s", k2) is None
    np.testing.assert_array_equal(cache.load("s", k1)["x"], np.arange(3))
    # A file with the right name but another key (e.g. copied from elsewhere) is not trusted.
    cache.path("s", k1).rename(cache.path("s", k1[:16] + "0" * 48))
    assert cache.load("s", k1[:16] + "0" * 48) is None


# --- end to end on rendered videos ---------------------------------------------------------------

# Bounds for the packaged default weights on the rendered walk (BlazePose keypoints of a
# render of the open model). Measured: PA-MPJPE 42.8 mm, MPJPE 60.5 mm; the rest pose gives
# PA-MPJPE 151 mm (docs/model_card.md).
PIPELINE_PA_MPJPE_MM = 65.0
PIPELINE_MPJPE_MM = 100.0


def tiny_network(body_model: torch.nn.Module | str = "open") -> torch.nn.Module:
    import diffmesh

    torch.manual_seed(0)
    return diffmesh.create_model("diffmesh", body_model=body_model, **TINY)


def tiny_bundle():
    """A small random DiffMesh on the open body model (fast; same mechanics as the default)."""
    from diffmesh.pipelines import ModelBundle

    return ModelBundle(tiny_network(), "tiny test model", False, "tiny-seed0")


def test_fast_mode_never_changes_the_callers_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fast mode runs an accelerated copy: a later float32 run with the same bundle is float32
    (bitwise equal to a model that never saw fast mode), and the caller's modules are untouched."""
    from diffmesh.accel import accelerate
    from diffmesh.pipelines import InferSettings, prepare_model

    monkeypatch.setenv("DIFFMESH_CPU_CAPABILITY", "AMX")  # native bf16: fast mode lowers the products
    bundle = tiny_bundle()
    kinds = [type(m) for m in bundle.model.modules()]
    fast = prepare_model(bundle, InferSettings(fast=True))
    assert fast is not bundle.model and [type(m) for m in bundle.model.modules()] == kinds
    assert fast.accel_plan.dtype == "bfloat16"
    assert any(type(m).__name__.startswith("LowPrecision") for m in fast.modules())
    assert fast.body_model.v_template is bundle.model.body_model.v_template  # body buffers shared, not copied
    x = torch.randn(2, 16, 17, 3)
    with torch.inference_mode():
        fast(x)  # using the accelerated copy must not touch the original either
        plain = prepare_model(bundle, InferSettings(fast=False))(x)
        fresh = accelerate(tiny_network(), "parity")(x)
    assert plain.rotmats.dtype == plain.verts.dtype == torch.float32
    assert torch.equal(plain.rotmats, fresh.rotmats) and torch.equal(plain.betas, fresh.betas)
    assert all(p.dtype == torch.float32 for p in bundle.model.parameters())
    monkeypatch.setenv("DIFFMESH_CPU_CAPABILITY", "AVX2")  # emulated bf16 would be slower: float32
    assert prepare_model(bundle, InferSettings(fast=True)).accel_plan.dtype == "float32"


def test_thread_default_leaves_half_the_cores_free(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a busy machine one OpenMP thread per core makes the model stage 10-300x slower
    (docs/benchmarks.md): the default (threads=0) takes half the cores, 1 on a 2-core machine."""
    import os

    from diffmesh.pipelines import InferSettings
    from diffmesh.pipelines.threads import default_threads, torch_threads

    assert InferSettings().threads == 0  # 0: default_threads() at the start of the run
    assert default_threads() == max(1, min(4, len(os.sched_getaffinity(0)) // 2))
    for cores, expected in ((1, 1), (2, 1), (3, 1), (8, 4), (64, 4)):
        monkeypatch.setattr(os, "sched_getaffinity", lambda _pid, n=cores: set(range(n)))
        assert default_threads() == expected, cores
    monkeypatch.undo()
    with pytest.raises(ValueError, match="threads must be >= 0"):
        InferSettings(threads=-1)
    with pytest.raises(ValueError, match=r"detector_threads must be an integer >= 0 \(0: the default for the pass\), got 1.5"):
        InferSettings(detector_threads=1.5)  # type: ignore[arg-type]
    old = torch.get_num_threads()
    with torch_threads(old + 1):
        assert torch.get_num_threads() == old + 1
    assert torch.get_num_threads() == old


def test_model_choice_is_made_once_and_built_lazily() -> None:
    from diffmesh.pipelines import ModelBundle, load_model

    with pytest.raises(ValueError, match="--checkpoint and --config go together"):
        load_model(checkpoint="a.bin")
    with pytest.raises(ValueError, match="--data-root"):
        load_model(data_root="data/mesh")
    default = load_model()
    assert default.trained and default.name == "diffmesh-fusion" and "synthetic-trained" in default.weights
    # keypoint files carry no 3-D joints: the default is then the network that never needs them
    assert load_model(detector_3d=False).name == "diffmesh-synthetic"
    assert default.body_model.name == "open"
    with pytest.raises(ValueError, match="needs body_model= and name="):
        ModelBundle(tiny_network, "w", False, "id")


def test_a_network_on_another_device_leaves_the_bundles_body_model_on_the_cpu() -> None:
    """`diffmesh infer --device cuda`: the network moves to the GPU, but the placement, world and overlay
    stages pose the bundle's body model on the CPU, so it must not move with the network (it did: the
    two shared one module). PyTorch's "meta" device stands in for the GPU here."""
    from diffmesh.pipelines import ModelBundle, load_model

    bundle = load_model(device="meta")
    assert next(bundle.model.parameters()).device.type == "meta"
    assert {b.device.type for b in bundle.body_model.buffers()} == {"cpu"}
    assert bundle.model.body_model is not bundle.body_model
    on_cpu = load_model()  # on the CPU the network poses the bundle's own body model (no copy)
    assert on_cpu.model.body_model is on_cpu.body_model
    network = tiny_network().to("meta")
    with pytest.raises(ValueError, match="body model is on meta"):
        ModelBundle(network, "w", False, "id")


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("video") / "walk.mp4"
    return path, make_walk_video(path)


@pytest.mark.parametrize("max_people", [None, 1], ids=["everyone", "one-person-recipe"])
def test_end_to_end_on_a_known_motion(walk: tuple[Path, dict], tmp_path: Path, max_people: int | None) -> None:
    """Both recipes (the default follows everyone; ``max_people=1`` is the one-person recipe) on a
    rendered walk of one person, then re-runs that take each stage from the cache."""
    from diffmesh.io.video import probe_video
    from diffmesh.pipelines import InferSettings, run

    video, gt = walk
    out = tmp_path / "out"
    from diffmesh.body import load
    from diffmesh.pipelines import ModelBundle

    builds: list[int] = []
    body = load("open")
    bundle = ModelBundle(lambda: builds.append(1) or tiny_network(body), "tiny test model", False, "tiny-seed0",
                         body_model=body, name="tiny")  # fmt: skip
    s = run(video, out, InferSettings(max_people=max_people), bundle, animation=False)
    assert builds == [1] and str(np.load(out / "result.npz")["model"]) == "tiny"
    n = 30
    assert s.frames_processed == n and s.frames_detected >= 0.9 * n  # the detector finds the person
    r = np.load(out / "result.npz")
    assert r["pose_rotmat"].shape == (n, 24, 3, 3) and r["pose_axis_angle"].shape == (n, 24, 3)
    assert r["joints_3d_cam"].shape == (n, 17, 3) and list(r["joint_names"])[0] == "pelvis"
    assert r["frame_indices"].tolist() == list(range(n)) and float(r["fps"]) == FPS and str(r["joint_names"][0]) == "pelvis"
    # 2-D keypoints vs the projected true joints (BlazePose on our render), limbs and torso.
    limbs = [1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16]
    err2d = np.linalg.norm(r["keypoints_2d"][:, limbs, :2] - gt["keypoints_2d"][:, limbs], axis=-1)
    assert np.median(err2d) < 10.0, np.median(err2d)
    # Placement: the root trajectory follows the known one (untrained body ⇒ a few cm / ~10 %).
    has = r["valid"]
    d = np.abs(r["transl"][has] - gt["transl"][has])
    assert d[:, 0].max() < 0.15 and d[:, 1].max() < 0.15, d.max(0)
    assert (d[:, 2] / gt["transl"][has, 2]).max() < 0.2
    # Overlay alignment: the placed 3-D joints project onto the detected keypoints.
    proj = project(r["joints_3d_cam"][has], r["K"][0])
    assert np.median(np.linalg.norm(proj - r["keypoints_2d"][has, :, :2], axis=-1)) < 25
    assert probe_video(out / "overlay.mp4").num_frames == n
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames_without_person"] == 0 and "detect" not in summary["cached_stages"]
    # a static camera says nothing about the focal length: the default field of view's
    assert summary["camera"] == {"focal_px": round(float(r["K"][0][0, 0]), 1), "focal_source": "field of view"}
    assert summary["acceleration"]["mode"] == "auto" and summary["acceleration"]["dtype"] in ("float32", "bfloat16")
    world = summary["world"]  # what tilted the floor, and how sure that is (docs/outputs.md)
    assert world["floor_from"] in ("scene lines", "planted soles", "body posture") and len(world["planted_spread_m"]) == 2
    assert world["camera_motion"] in ("static", "rotating", "travelling") and 0 <= world["frames_with_planted_foot"] <= 1
    quality = summary["quality"]  # how sure each frame is (docs/outputs.md): the untrained tiny model still fits
    assert 0 < quality["keypoint_fit_pct_median"] < 25 and quality["poor_fit_above_pct"] == 5.0
    assert 0 <= quality["frames_poor_fit"] <= n and quality["frames_interpolated"] == s.frames_with_person - s.frames_detected
    assert all(u["why"] in ("no person", "interpolated", "poor fit") and 0 <= u["start"] < u["end"] <= n for u in quality["unsure"])
    assert [p["quality"] for p in summary["people"]][:1] in ([quality], [])
    fit = r["keypoint_fit_pct"]  # the same fit per frame in result.npz
    assert fit.shape == (n,) and np.isnan(fit[~has]).all()
    assert np.nanmedian(fit) == pytest.approx(quality["keypoint_fit_pct_median"], abs=0.006)
    assert int((np.nan_to_num(fit) > quality["poor_fit_above_pct"]).sum()) == quality["frames_poor_fit"]

    # Re-run with other render options: both stages come from the cache, the network is not built.
    bundle = ModelBundle(lambda: builds.append(1) or tiny_network(body), "tiny test model", False, "tiny-seed0",
                         body_model=body, name="tiny")  # fmt: skip
    s2 = run(video, out, InferSettings(max_people=max_people), bundle, side_view=True, animation=False)
    keypoints, mesh = ("keypoints", "mesh") if max_people == 1 else ("people", "mesh.p0")
    assert s2.cached_stages == [keypoints, mesh, "world"] and builds == [1]
    assert probe_video(out / "overlay.mp4").width == 2 * W
    # A model setting changes only the model stage's key.
    s3 = run(video, out, InferSettings(flip=True, max_people=max_people), tiny_bundle(), overlay=False, animation=False)
    assert s3.cached_stages == [keypoints]
    # A world setting changes only the world stage's key.
    s4 = run(video, out, InferSettings(flip=True, static_camera=True, max_people=max_people), tiny_bundle(), overlay=False,
             animation=False)  # fmt: skip
    assert s4.cached_stages == [keypoints, mesh]


@pytest.mark.parametrize("max_people", [None, 1], ids=["everyone", "one-person-recipe"])
def test_detector_threads_reach_the_followers_and_change_nothing(walk: tuple[Path, dict], tmp_path: Path,
                                                                max_people: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """``detector_threads`` goes to every detector that follows a person (a search keeps one thread);
    the 0 default is half the cores with one person and 1 with several; the keypoints are the same."""
    from diffmesh.pipelines import InferSettings, keypoints, run
    from diffmesh.pipelines.threads import default_threads

    asked: list[tuple[int, bool]] = []
    real = keypoints.PoseDetector.__init__

    def spy(self, *args, **kw) -> None:  # type: ignore[no-untyped-def]
        static = kw.get("static_image_mode", args[2] if len(args) > 2 else False)
        asked.append((kw.get("threads", 1), static))
        real(self, *args, **kw)

    monkeypatch.setattr(keypoints.PoseDetector, "__init__", spy)
    video, _ = walk
    kp = {}
    for threads in (0, 2):
        asked.clear()
        out = tmp_path / f"t{threads}"
        run(video, out, InferSettings(max_people=max_people, detector_threads=threads, end=12), tiny_bundle(),
            overlay=False, animation=False)  # fmt: skip
        kp[threads] = np.load(out / "result.npz")["keypoints_2d"]
        followers = {t for t, static in asked if not static}
        default = default_threads() if max_people == 1 else 1
        assert followers == {threads or default}, asked
        assert all(t == 1 for t, static in asked if static), asked  # the searches' detector
    np.testing.assert_array_equal(kp[0], kp[2])


def test_default_weights_recover_the_known_motion(walk: tuple[Path, dict], tmp_path: Path) -> None:
    """No checkpoint given: the packaged synthetic-trained weights recover the rendered walk's
    3-D pose (root-aligned and Procrustes-aligned joints against the true ones) far better
    than the body model's rest pose does."""
    from diffmesh.body import load
    from diffmesh.metrics import mpjpe, p_mpjpe
    from diffmesh.pipelines import InferSettings, run

    video, gt = walk
    s = run(video, tmp_path / "out", InferSettings(), None, overlay=False, animation=False)
    assert s.trained and "synthetic-trained" in s.weights
    r = np.load(tmp_path / "out" / "result.npz")
    has = r["valid"]
    pred = r["joints_3d_cam"][has] * 1000.0
    true = gt["joints_h36m_cam"][has] * 1000.0
    pred_rel, true_rel = pred - pred[:, :1], true - true[:, :1]
    # The rest pose (Procrustes alignment removes its orientation: only the pose differs).
    body = load("open")
    with torch.no_grad():
        mean = body(torch.zeros(1, 10), torch.zeros(1, 69), torch.zeros(1, 3)).joints_h36m[0].numpy() * 1000.0
    mean = np.repeat((mean - mean[:1])[None], len(true), 0)
    pa, pa_mean = p_mpjpe(pred_rel, true_rel).mean(), p_mpjpe(mean, true_rel).mean()
    assert pa < PIPELINE_PA_MPJPE_MM and pa < 0.7 * pa_mean, (pa, pa_mean)
    assert mpjpe(pred_rel, true_rel).mean() < PIPELINE_MPJPE_MM
    # The world frame: the rendered camera is level and still, so "up" is the camera's -y and the
    # camera is measured not to rotate; the person stands on the floor (y = 0) and walks to the
    # camera's right (+x); the world joints are cam_to_world applied to the camera-frame joints.
    assert bool(r["camera_static"]) and r["foot_contact"].shape == (len(has), 2)
    angle = np.degrees(np.arccos(np.clip(r["floor_normal_cam"][0] @ [0.0, -1.0, 0.0], -1, 1)))
    assert angle < 15.0, angle  # 11 deg: this walk's knees never straighten, its thorax is 8 deg off its ankles' vertical
    world = r["joints_3d_world"][has]
    assert 0.7 < np.median(world[:, 0, 1]) < 1.1 and np.percentile(world[:, [3, 6], 1], 5) > -0.05
    assert world[-1, 0, 0] - world[0, 0, 0] > 0.5
    A = r["cam_to_world"][has].astype(np.float64)
    raw = np.einsum("nij,nkj->nki", A[:, :3, :3], r["joints_3d_cam"][has]) + A[:, None, :3, 3]
    np.testing.assert_allclose(raw, r["joints_3d_world_raw"][has], atol=1e-4)


def test_person_leaves_and_returns(tmp_path: Path) -> None:
    from diffmesh.pipelines import InferSettings, run

    visible = np.ones(40, bool)
    visible[12:26] = False  # 14 frames away: longer than max_gap, so the sequence splits
    make_walk_video(tmp_path / "away.mp4", 40, visible)
    s = run(tmp_path / "away.mp4", tmp_path / "out", InferSettings(max_gap=10), tiny_bundle(), overlay=False, animation=False)
    r = np.load(tmp_path / "out" / "result.npz")
    assert len(s.segments) == 2 and s.frames_without_person >= 12
    assert not r["valid"][14:24].any() and np.isnan(r["transl"][14:24]).all()
    assert r["valid"][:10].all() and r["valid"][28:].all()


def test_no_person_anywhere(tmp_path: Path) -> None:
    from diffmesh.pipelines import run

    make_walk_video(tmp_path / "empty.mp4", 8, np.zeros(8, bool))
    with pytest.raises(ValueError, match="no person was found"):
        run(tmp_path / "empty.mp4", tmp_path / "out", bundle=tiny_bundle())
    assert not (tmp_path / "out" / "summary.json").exists() and not (tmp_path / "out" / "result.npz").exists()


def test_window_normalization_gives_each_window_its_own_crop_box() -> None:
    """``normalization="window"`` normalises each network window around its own frames (how the
    packaged weights were trained); ``"segment"`` uses one box for the whole segment (official)."""
    from diffmesh.pipelines.prediction import predict_mesh
    from diffmesh.pipelines.tracking import Track

    net = tiny_network()
    seen: list[torch.Tensor] = []
    head_output = net.head_output  # every network call of the pipeline goes through it
    net.head_output = lambda x, *a, **k: (seen.append(x.clone()), head_output(x, *a, **k))[1]
    n, clip = 40, net.head.clip_len
    rng = np.random.default_rng(0)
    kp = np.concatenate([rng.uniform(100, 200, (n, 17, 2)), np.ones((n, 17, 1))], -1).astype(np.float32)
    kp[..., 0] += np.linspace(0, 400, n)[:, None]  # the person walks across the image
    trk = Track(kp, np.ones(n, bool), np.ones(n, bool), [Segment(0, n)])
    windows = plan_windows(n, clip, clip // 2)
    for mode, expect in (("window", [crop_scale(kp[w.start : w.start + w.length]) for w in windows]),
                         ("segment", [crop_scale(kp)[w.start : w.start + w.length] for w in windows])):  # fmt: skip
        seen.clear()
        predict_mesh(net, trk, normalization=mode, batch_windows=len(windows))
        got = seen[0]
        for k, (w, e) in enumerate(zip(windows, expect)):
            np.testing.assert_allclose(got[k, : w.length].numpy(), e, atol=1e-6)
    with pytest.raises(ValueError, match="normalization must be one of"):
        predict_mesh(net, trk, normalization="video")


def test_the_packaged_weights_declare_window_normalization() -> None:
    from diffmesh.pipelines import InferSettings
    from diffmesh.pipelines.model import default_model
    from diffmesh.registry import get_spec

    assert get_spec("diffmesh-synthetic").input_normalization == "window"
    assert default_model().normalization == "window"
    assert get_spec("diffmesh").input_normalization == "segment"  # official checkpoints: whole-video box
    with pytest.raises(ValueError, match="normalization must be"):
        InferSettings(normalization="clip")


def test_trajectory_smoothing_keeps_where_the_body_is_and_steadies_its_distance() -> None:
    """The direction toward the body is smoothed lightly, its distance (from its size in the image, the
    noisiest coordinate) more; a gap between segments is never bridged."""
    from diffmesh.pipelines.placement import smooth_trajectory
    from diffmesh.pipelines.tracking import Segment

    rng = np.random.default_rng(0)
    n = 60
    direction = np.stack([np.linspace(-0.2, 0.2, n), np.full(n, 0.1), np.ones(n)], 1)  # walking across
    depth = 4.0 * np.exp(rng.normal(0, 0.05, n))  # standing 4 m away, a 5 % noisy distance
    transl = direction * depth[:, None]
    light = smooth_trajectory(transl, [Segment(0, n)], 2.0, depth_factor=1.0)
    steady = smooth_trajectory(transl, [Segment(0, n)], 2.0, depth_factor=3.0)
    inner = slice(10, n - 10)  # (a renormalised Gaussian bends a ramp at the ends)
    np.testing.assert_allclose(steady[inner, :2] / steady[inner, 2:], direction[inner, :2], atol=1e-9)  # on the same rays
    assert np.std(np.log(steady[inner, 2])) < 0.6 * np.std(np.log(light[inner, 2])) < 0.6 * np.std(np.log(depth[inner]))
    walk = np.stack([np.zeros(n), np.zeros(n), np.linspace(3.0, 6.0, n)], 1)  # walking away: a trend is kept
    np.testing.assert_allclose(smooth_trajectory(walk, [Segment(0, n)], 2.0)[inner, 2], walk[inner, 2], rtol=0.01)
    gap = smooth_trajectory(transl, [Segment(0, 20), Segment(30, n)], 2.0)
    assert np.isnan(gap[20:30]).all() and np.isfinite(gap[:20]).all() and np.isfinite(gap[30:]).all()
