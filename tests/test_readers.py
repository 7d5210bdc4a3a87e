"""Official-data readers on small files written in the official structure (tests/_official_data.py)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from diffmesh.data.readers import (
    H36MPoseDataset,
    H36MReader,
    InstaVarietyDataset2D,
    MB3DClipDataset,
    MeshDataset,
    MeshReader,
    NTUActionDataset,
    PoseTrackDataset2D,
    export_amass_clips,
    export_mb3d_clips,
    mesh_ground_truth,
    read_amass_joints,
    read_ntu_pkl,
)
from diffmesh.data.readers.ntu import ONESHOT_CLASSES, oneshot_aux_labels
from diffmesh.geometry.flip import flip_data, flip_thetas
from tests import _official_data as od

CLIP = 27  # short clips keep the tests fast; the slicing logic is the same as for 243


# --------------------------------------------------------------------------- H36M pose


@pytest.fixture(scope="module")
def h36m(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("motion3d") / "h36m_sh_conf_cam_source_final.pkl"
    return path, od.write_h36m_pose_pkl(path)


def test_h36m_reader_normalisation_and_clips(h36m) -> None:
    path, raw = h36m
    reader = H36MReader(path, n_frames=CLIP, stride_train=9, stride_test=CLIP)
    x = reader.read_2d("train")
    assert x.shape == (690, 17, 3) and x.dtype == np.float32
    w, h = od.H36M_RES[raw["train"]["camera_name"][0]]
    np.testing.assert_allclose(x[0, :, 0], raw["train"]["joint_2d"][0, :, 0] / w * 2 - 1, rtol=1e-6)
    np.testing.assert_allclose(x[0, :, 1], raw["train"]["joint_2d"][0, :, 1] / w * 2 - h / w, rtol=1e-6)
    np.testing.assert_allclose(x[..., 2], raw["train"]["confidence"])
    y = reader.read_3d("train")
    np.testing.assert_allclose(y[0, :, 2], raw["train"]["joint3d_image"][0, :, 2] / w * 2, rtol=1e-6)
    clips = reader.clips("train")
    sources = np.array(raw["train"]["source"])
    assert clips.shape[1] == CLIP and all(len(set(sources[c])) == 1 for c in clips)
    assert clips[1, 0] - clips[0, 0] == 9
    # Test clips do not overlap; de-normalisation inverts the normalisation.
    test_clips = reader.clips("test")
    assert len(np.unique(test_clips)) == test_clips.size
    pix = reader.denormalize(reader.read_3d("test")[test_clips])
    np.testing.assert_allclose(pix, np.asarray(raw["test"]["joint3d_image"])[test_clips], atol=1e-3)


def test_h36m_protocol_perfect_and_noisy_predictions(h36m) -> None:
    path, raw = h36m
    reader = H36MReader(path, n_frames=CLIP, stride_test=CLIP)
    clips = reader.clips("test")
    labels = reader.read_3d("test")[clips]  # [n_clips, T, 17, 3]
    labels = labels - labels[:, :, :1] * [1, 1, 1]  # a root-relative model's perfect output
    perfect = reader.evaluate(labels)
    assert perfect.mpjpe < 1e-3 and perfect.p_mpjpe < 1e-3
    # The blocklisted video (s_09_act_05_subact_02) and the clip tails are not evaluated.
    lengths = [n for _, n in od.default_h36m_videos("test")]
    assert perfect.num_frames == sum(n // CLIP * CLIP for n in lengths[1:])
    noisy = reader.evaluate(labels + np.random.default_rng(0).normal(0, 0.01, labels.shape))
    assert noisy.mpjpe > noisy.p_mpjpe > 0
    assert set(noisy.per_action) == set(raw["test"]["action"])
    assert "P1" in noisy.table()
    with pytest.raises(ValueError, match="one per test clip"):
        reader.evaluate(labels[:1])


def test_h36m_dataset_flip_and_export(h36m, tmp_path: Path) -> None:
    path, _ = h36m
    reader = H36MReader(path, n_frames=CLIP, stride_train=9, stride_test=CLIP)
    plain = H36MPoseDataset(reader, "train", flip=False)
    flipping = H36MPoseDataset(reader, "train", flip=True, seed=3)
    flipped = [i for i in range(len(plain)) if not np.array_equal(flipping[i]["input"], plain[i]["input"])]
    assert 0 < len(flipped) < len(plain)
    i = flipped[0]
    np.testing.assert_array_equal(flipping[i]["label"], flip_data(plain[i]["label"]))
    np.testing.assert_array_equal(flipping[i]["input"], flipping[i]["input"])  # deterministic per (seed, epoch, index)
    counts = export_mb3d_clips(reader, tmp_path / "H36M-SH")
    ds = MB3DClipDataset(tmp_path, ["H36M-SH"], "test")
    assert len(ds) == counts["test"]
    np.testing.assert_array_equal(ds[1]["input"], H36MPoseDataset(reader, "test")[1]["input"])


def test_h36m_errors(tmp_path: Path, h36m) -> None:
    with pytest.raises(FileNotFoundError, match="h36m_sh_conf_cam_source_final.pkl"):
        H36MReader(tmp_path / "missing.pkl")
    _, raw = h36m
    bad = {"train": dict(raw["train"]), "test": dict(raw["test"])}
    del bad["train"]["joint3d_image"]
    od._dump(tmp_path / "no3d.pkl", bad)
    with pytest.raises(ValueError, match="lacks key 'joint3d_image'"):
        H36MReader(tmp_path / "no3d.pkl")
    bad["train"]["joint3d_image"] = raw["train"]["joint3d_image"]
    bad["train"]["joint_2d"] = raw["train"]["joint_2d"][:, :16]
    od._dump(tmp_path / "shape.pkl", bad)
    with pytest.raises(ValueError, match=r"'train.joint_2d' has shape \[690, 16, 2\]"):
        H36MReader(tmp_path / "shape.pkl").read_2d("train")
    (tmp_path / "garbage.pkl").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="not a readable pickle"):
        H36MReader(tmp_path / "garbage.pkl")
    no_conf = tmp_path / "noconf.pkl"
    od.write_h36m_pose_pkl(no_conf, with_confidence=False)
    assert (H36MReader(no_conf).read_2d("test")[..., 2] == 1).all()


# --------------------------------------------------------------------------- MB3D / AMASS


def test_mb3d_clip_folders(tmp_path: Path) -> None:
    od.write_mb3d_clips(tmp_path, "H36M-SH", "train", 3, n_frames=CLIP)
    amass = od.write_mb3d_clips(tmp_path, "AMASS", "train", 2, n_frames=CLIP, with_input=False, seed=1)
    ds = MB3DClipDataset(tmp_path, ["AMASS", "H36M-SH"], "train", synthetic=True, flip=False)
    assert len(ds) == 5
    sample = ds[0]
    np.testing.assert_array_equal(sample["input"][..., :2], amass[0]["data_label"][..., :2])
    assert (sample["input"][..., 2] == 1).all() and sample["input"].dtype == np.float32
    with pytest.raises(ValueError, match="data_input None"):
        MB3DClipDataset(tmp_path, ["AMASS"], "train", synthetic=False)[0]
    # No AMASS test split: skipped (the official code needs an empty folder).
    od.write_mb3d_clips(tmp_path, "H36M-SH", "test", 1, n_frames=CLIP)
    assert len(MB3DClipDataset(tmp_path, ["AMASS", "H36M-SH"], "test")) == 1
    with pytest.raises(FileNotFoundError, match="available"):
        MB3DClipDataset(tmp_path, ["NOPE"], "train")
    with (tmp_path / "H36M-SH" / "train" / "00000009.pkl").open("wb") as f:
        pickle.dump({"data_label": np.zeros((CLIP, 17, 3))}, f)
    with pytest.raises(ValueError, match="lacks key 'data_input'"):
        MB3DClipDataset(tmp_path, ["H36M-SH"], "train")[-1]


def test_amass_joints_to_clips(tmp_path: Path) -> None:
    motions = od.write_amass_joints_pkl(tmp_path / "amass_joints_h36m_60.pkl")
    joints = read_amass_joints(tmp_path / "amass_joints_h36m_60.pkl")
    assert joints[0].shape == (300, 17, 3)
    n = export_amass_clips(joints, tmp_path / "AMASS", n_frames=CLIP, stride=9)
    ds = MB3DClipDataset(tmp_path, ["AMASS"], "train", synthetic=True, flip=False)
    assert len(ds) == n > 0 and (tmp_path / "AMASS" / "test").is_dir()
    first = motions[0].transpose(1, 0, 2)[:CLIP]
    np.testing.assert_allclose(ds[0]["label"][..., 1], -first[..., 2] * 0.298, rtol=1e-6)  # y = -Z (down)
    od._dump(tmp_path / "bad.pkl", [np.zeros((16, 5, 3))])
    with pytest.raises(ValueError, match=r"expected \[17, N, 3\]"):
        read_amass_joints(tmp_path / "bad.pkl")


# --------------------------------------------------------------------------- mesh


@pytest.mark.parametrize("source", ["pw3d", "h36m", "coco"])
def test_mesh_reader_and_dataset(tmp_path: Path, small_body, source: str) -> None:
    videos = {"h36m": (("s_01_act_02_subact_01_ca_01", 40), ("s_01_act_03_subact_01_ca_02", 21))}.get(source)
    kwargs = {"train_videos": videos, "test_videos": videos} if videos else {}
    path = tmp_path / f"mesh_det_{source}.pkl"
    raw = od.write_mesh_det_pkl(path, source, seed=1, **kwargs)
    reader = MeshReader(path, source)
    clips = reader.clips("train")
    expected_len = 1 if source == "coco" else 16
    assert clips.shape[1] == expected_len
    if source == "coco":
        assert len(clips) == len(raw["train"]["source"])  # every row is one sample
    ds = MeshDataset(reader, "test", small_body)
    sample = ds[0]
    t = expected_len
    assert sample["input"].shape == (t, 17, 3) and sample["input"].dtype == np.float32
    assert sample["input"][..., 2].min() >= 0 and sample["input"][..., 2].max() <= 1  # clipped
    tgt = sample["target"]
    assert tgt["theta"].shape == (t, 82) and tgt["kp_3d"].shape == (t, 17, 3) and tgt["verts"].shape == (t, 480, 3)
    np.testing.assert_allclose(tgt["kp_3d"][:, 0], 0, atol=1e-4)  # pelvis-relative
    frames = reader.clips("test")[0]
    np.testing.assert_allclose(tgt["theta"][:, :72], raw["test"]["smpl_pose"][frames])
    # Ground truth = body model ×1000, regressed, pelvis-relative.
    out = small_body(torch.from_numpy(raw["test"]["smpl_shape"][frames]), torch.from_numpy(raw["test"]["smpl_pose"][frames, 3:]),
                     torch.from_numpy(raw["test"]["smpl_pose"][frames, :3]))  # fmt: skip
    kp = out.joints_h36m.numpy() * 1000
    np.testing.assert_allclose(tgt["kp_3d"], kp - kp[:, :1], atol=1e-2)
    if source != "h36m":
        r = 1920 if source == "pw3d" else 640
        np.testing.assert_allclose(sample["input"][..., :2], raw["test"]["joint_2d"][frames] / r * 2 - 1, rtol=1e-5, atol=1e-6)


def test_mesh_flip_and_hybrik(tmp_path: Path, small_body) -> None:
    path = tmp_path / "mesh_det_pw3d_w_hybrik_pred_hr48_w.pkl"
    raw = od.write_mesh_det_pkl(path, "pw3d", with_hybrik=True)
    reader = MeshReader(path, "pw3d")
    assert reader.has_hybrik
    plain = MeshDataset(reader, "train", small_body, flip=False)
    aug = MeshDataset(reader, "train", small_body, flip=True, seed=0)
    flipped = [i for i in range(len(plain)) if not np.array_equal(aug[i]["input"], plain[i]["input"])]
    assert flipped, "no sample was flipped"
    i = flipped[0]
    a, p = aug[i], plain[i]
    np.testing.assert_array_equal(a["input"], flip_data(p["input"]))
    np.testing.assert_allclose(a["target"]["theta"][:, :72], flip_thetas(p["target"]["theta"][:, :72]))
    np.testing.assert_allclose(a["init_pose"], flip_thetas(p["init_pose"]))
    np.testing.assert_array_equal(a["init_shape"], p["init_shape"])
    frames = reader.clips("train")[i]
    np.testing.assert_array_equal(p["init_shape"], raw["train"]["pred_smpl_shape"][frames])
    aug.set_epoch(1)
    assert any(not np.array_equal(aug[j]["input"], MeshDataset(reader, "train", small_body, seed=0)[j]["input"]) for j in range(len(aug)))


def test_mesh_errors(tmp_path: Path, small_body) -> None:
    with pytest.raises(FileNotFoundError, match="mesh_det_pw3d.pkl"):
        MeshReader(tmp_path / "nothing.pkl", "pw3d")
    raw = od.write_mesh_det_pkl(tmp_path / "m.pkl", "pw3d")
    with pytest.raises(ValueError, match="source must be one of"):
        MeshReader(tmp_path / "m.pkl", "3dpw")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no HybrIK predictions"):
        MeshDataset(MeshReader(tmp_path / "m.pkl", "pw3d"), "test", small_body, with_init=True)
    del raw["test"]["confidence"]
    od._dump(tmp_path / "noconf.pkl", raw)
    with pytest.raises(ValueError, match="lacks key 'confidence'"):
        MeshReader(tmp_path / "noconf.pkl", "pw3d")
    raw = od.write_mesh_det_pkl(tmp_path / "m2.pkl", "pw3d")
    raw["train"]["smpl_pose"] = raw["train"]["smpl_pose"][:, :69]
    od._dump(tmp_path / "pose.pkl", raw)
    with pytest.raises(ValueError, match=r"'train.smpl_pose' has shape \[61, 69\], expected \[61, 72\]"):
        MeshReader(tmp_path / "pose.pkl", "pw3d")
    with pytest.raises(ValueError, match="H36M joint regressor"):
        from diffmesh.body.loaders import body_model_from_smpl_arrays
        from tests._smpl_fixtures import make_smpl_arrays

        mesh_ground_truth(body_model_from_smpl_arrays(make_smpl_arrays(num_verts=50, seed=0)), torch.zeros(1, 72), torch.zeros(1, 10))


# --------------------------------------------------------------------------- NTU


def test_ntu_dataset(tmp_path: Path) -> None:
    path = tmp_path / "ntu60_hrnet.pkl"
    raw = od.write_ntu_pkl(path, n_samples=8, num_classes=60)
    train = NTUActionDataset(path, "xsub_train", clip_len=32, scale_range=(1, 3))
    val = NTUActionDataset(path, "xsub_val", clip_len=32, scale_range=(2, 2))
    assert train.train and not val.train and len(train) == len(val) == 4
    motion, label = train[0]
    assert motion.shape == (2, 32, 17, 3) and motion.dtype == np.float32 and isinstance(label, int)
    assert np.abs(motion).max() <= 1
    # Temporal resampling is fixed at construction (same every epoch), augmentation is not.
    idx0 = [f.copy() for f in train.frame_index]
    m0 = train[0][0]
    train.set_epoch(1)
    assert all(np.array_equal(a, b) for a, b in zip(idx0, train.frame_index))
    assert not np.array_equal(train[0][0], m0)
    # Validation: deterministic; a single-person sample gets a zero-confidence second person.
    single = next(i for i, a in enumerate(val.annotations) if np.shape(a["keypoint"])[0] == 1)
    vm, _ = val[single]
    assert (vm[1, ..., 2] == 0).all() and np.array_equal(vm, val[single][0])
    ann = val.annotations[single]
    np.testing.assert_allclose(vm[0, :, :, 2], np.asarray(ann["keypoint_score"])[0][val.frame_index[single]], rtol=1e-6)
    assert raw["split"]["xsub_val"][0] == val.annotations[0]["frame_dir"]
    with pytest.raises(ValueError, match="available"):
        NTUActionDataset(path, "xset_train")


def test_ntu_oneshot(tmp_path: Path) -> None:
    path = tmp_path / "ntu120_hrnet.pkl"
    raw = od.write_ntu_pkl(path, n_samples=12, num_classes=120)
    aux = NTUActionDataset(path, None, clip_len=16, oneshot_aux=True)
    raw_labels = np.array([a["label"] for a in raw["annotations"]])
    assert len(aux) == int((~np.isin(raw_labels, ONESHOT_CLASSES)).sum())
    assert aux.labels.max() < 100 and aux.train
    keep, new = oneshot_aux_labels([1, 6, 7, 119])
    assert keep.tolist() == [True, False, True, True] and new.tolist() == [0, 5, 99]
    one = tmp_path / "ntu120_hrnet_oneshot.pkl"
    od.write_ntu_pkl(one, n_samples=6, oneshot=True)
    anchors = NTUActionDataset(one, "oneshot_train", clip_len=16, scale_range=(2, 2))
    assert not anchors.train and len(anchors) == 3


def test_ntu_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="ntu"):
        read_ntu_pkl(tmp_path / "none.pkl")
    raw = od.write_ntu_pkl(tmp_path / "a.pkl", n_samples=3)
    raw["annotations"][1]["keypoint"] = raw["annotations"][1]["keypoint"][..., :1]
    od._dump(tmp_path / "b.pkl", raw)
    with pytest.raises(ValueError, match=r"annotations\[1\].keypoint has shape"):
        read_ntu_pkl(tmp_path / "b.pkl")


# --------------------------------------------------------------------------- 2-D pre-training data


def test_posetrack(tmp_path: Path) -> None:
    folder = tmp_path / "posetrack18_annotations" / "train"
    od.write_posetrack_json(folder, n_files=2, tracks=(35, 30, 12))
    ds = PoseTrackDataset2D(folder, flip=False)
    # Per file: track 0 kept (35 >= 30), track 1 dropped (root invisible once), track 2 too short.
    assert len(ds) == 2
    sample = ds[0]
    assert sample["input"].shape == (30, 17, 3) and np.abs(sample["input"][..., :2]).max() <= 1
    assert (sample["input"][:, 0, 2] > 0).all()
    np.testing.assert_array_equal(sample["input"], sample["label"])
    with pytest.raises(FileNotFoundError, match="posetrack18_annotations"):
        PoseTrackDataset2D(tmp_path / "missing")
    (folder / "zzz_bad.json").write_text('{"annotations": [{"track_id": 0, "keypoints": [1, 2]}]}')
    with pytest.raises(ValueError, match="expected 51"):
        PoseTrackDataset2D(folder)


def test_instavariety(tmp_path: Path) -> None:
    folder = tmp_path / "InstaVariety"
    motion_all, id_all = od.write_instavariety(folder, clip_lengths=(120, 90, 40, 85))
    ds = InstaVarietyDataset2D(folder, flip=True)
    # 120 -> windows at 0 and 27 (81 frames); 90 -> 0; 40 (root conf 0 at its frame 0) -> resampled, dropped; last 85 -> 0.
    assert len(ds) == 4
    s = ds[0]
    assert s["input"].shape == (81, 17, 3) and np.abs(s["input"]).max() <= 1
    assert (s["input"][s["input"][..., 2] == 0] == 0).all()
    np.save(folder / "id_all.npy", id_all[:-1])
    with pytest.raises(ValueError, match="one clip id per frame"):
        InstaVarietyDataset2D(folder)
    (folder / "motion_all.npy").unlink()
    with pytest.raises(FileNotFoundError, match="motion_all.npy"):
        InstaVarietyDataset2D(folder)
