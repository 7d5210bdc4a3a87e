"""Golden parity of every loss, metric and data utility in ``golden/utils_losses_metrics.pt``.

Measured max abs differences (torch 2.13 CPU): 0.0 for every entry except evaluate_mesh
``mpjpe`` (2.8e-14); tolerances: 1e-6 (float64 numpy), 1e-5 (float32 losses).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffmesh import conventions, losses, metrics
from diffmesh.data import transforms
from diffmesh.geometry import crop, flip
from tests._golden import golden_path

F64_TOL = 1e-6
F32_TOL = 1e-5


@pytest.fixture(scope="module")
def golden() -> dict:
    return torch.load(golden_path("utils_losses_metrics.pt"), weights_only=True)


def _np(x: torch.Tensor) -> np.ndarray:
    return x.numpy()


def _max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def test_flips(golden: dict) -> None:
    assert _max_diff(flip.flip_thetas_batch(golden["flip_thetas_batch_in"]), golden["flip_thetas_batch"]) <= F32_TOL
    assert _max_diff(flip.flip_data(golden["flip_data_in"]), golden["flip_data"]) <= F32_TOL
    assert _max_diff(flip.flip_data(_np(golden["flip_data_in"])), golden["flip_data"]) <= F32_TOL


def test_mpjpe_and_p_mpjpe(golden: dict) -> None:
    assert _max_diff(metrics.mpjpe(golden["mpjpe_pred"], golden["mpjpe_gt"]), golden["mpjpe"]) <= F64_TOL
    assert _max_diff(metrics.p_mpjpe(golden["mpjpe_pred"], golden["mpjpe_gt"]), golden["p_mpjpe"]) <= F64_TOL


def test_rigid_align(golden: dict) -> None:
    out = metrics.rigid_align(_np(golden["rigid_align_A"]), _np(golden["rigid_align_B"]))
    assert _max_diff(out, golden["rigid_align"]) <= F64_TOL


def test_evaluate_mesh(golden: dict) -> None:
    e = {k: _np(v) for k, v in golden["evaluate_mesh_in"].items()}
    out = metrics.evaluate_mesh(e["verts"], e["verts_gt"], e["kp_3d"], e["kp_3d_gt"]).as_dict()
    assert set(out) == set(golden["evaluate_mesh"])
    for key, value in golden["evaluate_mesh"].items():
        assert abs(out[key] - value) <= F64_TOL, key


def test_compute_error_accel(golden: dict) -> None:
    out = metrics.compute_error_accel(_np(golden["accel_gt"]), _np(golden["accel_pred"]))
    assert _max_diff(out, golden["compute_error_accel"]) <= F64_TOL


def test_crop_scale_resample_split_clips(golden: dict) -> None:
    assert _max_diff(crop.crop_scale(_np(golden["crop_scale_in"]), (1, 1)), golden["crop_scale_1_1"]) <= F64_TOL
    for key, value in golden["resample_det"].items():
        ori, target = map(int, key.split("->"))
        np.testing.assert_array_equal(transforms.resample(ori, target), _np(value))
    vids = golden["split_clips_vid_list"]
    assert transforms.split_clips(vids, 16, 8).tolist() == golden["split_clips_16_8"]
    assert transforms.split_clips(vids, 16, 16).tolist() == golden["split_clips_16_16"]


@pytest.mark.parametrize(
    ("fn", "key_in", "key_out"),
    [
        (conventions.halpe_to_h36m, "halpe_in", "halpe2h36m"),
        (conventions.coco_to_h36m, "coco_in", "coco2h36m"),
        (conventions.posetrack_to_h36m, "posetrack_in", "posetrack2h36m"),
    ],
)
def test_joint_conversions(golden: dict, fn, key_in: str, key_out: str) -> None:
    assert _max_diff(fn(_np(golden[key_in])), golden[key_out]) <= F64_TOL


def test_pose_losses(golden: dict) -> None:
    p, g, c = golden["loss_pred"], golden["loss_gt"], golden["loss_conf"]
    ours = {
        "loss_mpjpe": losses.loss_mpjpe(p, g),
        "n_mpjpe": losses.loss_n_mpjpe(p, g),
        "loss_velocity": losses.loss_velocity(p, g),
        "loss_2d_weighted": losses.loss_2d_weighted(p, g, c),
        "loss_limb_var": losses.loss_limb_var(p),
        "loss_limb_gt": losses.loss_limb_gt(p, g),
        "loss_angle": losses.loss_angle(p, g),
        "loss_angle_velocity": losses.loss_angle_velocity(p, g),
    }
    assert set(ours) == set(golden["losses"])
    for key, value in golden["losses"].items():
        torch.testing.assert_close(ours[key], value, atol=F32_TOL, rtol=0, msg=key)
    terms = losses.pose3d_loss(p, g)
    expected = ours["loss_mpjpe"] + 0.5 * ours["n_mpjpe"] + 20 * ours["loss_velocity"]
    torch.testing.assert_close(terms.total, expected)


def test_mesh_loss(golden: dict) -> None:
    mi = golden["meshloss_in"]
    pred = {"theta": mi["pred_theta"], "kp_3d": mi["pred_kp_3d"], "loss_diff": mi["loss_diff"]}
    target = {"theta": mi["gt_theta"], "kp_3d": mi["gt_kp_3d"]}
    terms = losses.MeshLoss()(pred, target)
    for key, value in golden["meshloss_L1"].items():
        torch.testing.assert_close(getattr(terms, key), value, atol=F32_TOL, rtol=0, msg=key)
    g = golden["meshloss_L1"]
    expected = 0.5 * g["loss_3d_pos"] + 10 * g["loss_3d_velocity"] + 1000 * g["loss_pose"] + g["loss_shape"] + 20 * g["loss_norm"] + 0.001 * g["loss_diff"]
    torch.testing.assert_close(terms.total, expected, atol=1e-3, rtol=1e-6)
    # No loss_diff (MotionBERT head / after flip averaging): the term is 0.
    no_diff = losses.mesh_loss({"theta": mi["pred_theta"], "kp_3d": mi["pred_kp_3d"]}, target)
    assert float(no_diff.loss_diff) == 0.0
    mse = losses.mesh_loss(pred, target, loss_type="MSE")
    assert not torch.allclose(mse.loss_pose, terms.loss_pose)


def test_supcon(golden: dict) -> None:
    out = losses.SupConLoss(temperature=0.1)(golden["supcon_feat"], golden["supcon_labels"])
    torch.testing.assert_close(out, golden["supcon_loss_t0.1"], atol=F32_TOL, rtol=0)


# --------------------------------------------------------------------------- properties


def test_losses_are_differentiable_and_zero_at_target() -> None:
    g = torch.Generator().manual_seed(0)
    gt = torch.randn(2, 5, 17, 3, generator=g)
    pred = (gt + 0.1 * torch.randn(2, 5, 17, 3, generator=g)).requires_grad_()
    losses.pose3d_loss(pred, gt, losses.PoseLossWeights(limb_var=1, limb_gt=1, angle=1, angle_velocity=1)).total.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()
    assert float(losses.loss_mpjpe(gt, gt)) == 0.0
    assert float(losses.loss_velocity(gt[:, :1], gt[:, :1])) == 0.0  # T = 1
    assert float(losses.loss_limb_var(gt[:, :1])) == 0.0


def test_mesh_loss_reads_mesh_output_and_config() -> None:
    from diffmesh.models.mesh import MeshOutput

    b, t = 2, 3
    theta = torch.randn(b, t, 82)
    out = MeshOutput(theta=theta, verts=torch.zeros(b, t, 5, 3), kp_3d=torch.randn(b, t, 17, 3), rotmats=torch.zeros(b, t, 24, 3, 3),
                     betas=theta[..., 72:], pose6d=torch.zeros(b, t, 144), loss_diff=torch.randn(b, 2 * (t - 1), 8))  # fmt: skip
    terms = losses.mesh_loss(out, {"theta": theta, "kp_3d": out.kp_3d})
    assert float(terms.loss_pose) == 0.0 and float(terms.loss_3d_pos) == 0.0 and float(terms.loss_diff) > 0
    w = losses.MeshLossWeights.from_config({"lambda_diff": 0.0, "lambda_3d": 1, "learning_rate": 3})
    assert w.lambda_diff == 0.0 and w.lambda_3d == 1.0 and w.lambda_pose == 1000.0
    with pytest.raises(ValueError, match="loss_type"):
        losses.mesh_loss(out, {"theta": theta, "kp_3d": out.kp_3d}, loss_type="L2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kp_3d"):
        losses.mesh_loss(out, {"theta": theta})


def test_metric_errors_and_invariances() -> None:
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(4, 17, 3)) * 100
    # P-MPJPE is invariant to a similarity transform of the prediction.
    angle = 0.7
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    pred = 1.3 * gt @ rot.T + 5
    assert metrics.p_mpjpe(pred, gt).max() < 1e-9
    assert np.abs(metrics.rigid_align(pred[0], gt[0]) - gt[0]).max() < 1e-9
    with pytest.raises(ValueError, match="differs"):
        metrics.mpjpe(gt, gt[:, :16])
    with pytest.raises(ValueError, match="multiple of clip_len"):
        metrics.evaluate_mesh_accel(np.zeros((20, 17, 3)), np.zeros((20, 17, 3)))
    # Constant-velocity motion has zero acceleration error whatever the offset.
    t = np.arange(32)[:, None, None] * np.ones((1, 17, 3))
    assert metrics.evaluate_mesh_accel(t * 2.0, t * 2.0 + 7) == pytest.approx(0.0)


def test_flip_average_is_flip_equivariant() -> None:
    x = torch.randn(1, 4, 17, 3)
    identity = metrics.flip_average(lambda v: v, x)
    torch.testing.assert_close(identity, x)


def test_single_frame_clips_give_finite_mesh_loss() -> None:
    """COCO trains on T = 1 clips: temporal terms are 0, never NaN."""
    import torch

    from diffmesh.losses import MeshLossWeights, mesh_loss

    gen = torch.Generator().manual_seed(0)
    pred = {"theta": torch.randn(3, 1, 82, generator=gen), "kp_3d": torch.randn(3, 1, 17, 3, generator=gen)}
    target = {"theta": torch.randn(3, 1, 82, generator=gen), "kp_3d": torch.randn(3, 1, 17, 3, generator=gen)}
    terms = mesh_loss(pred, target, MeshLossWeights())
    assert float(terms.loss_av) == 0.0 and float(terms.loss_3d_velocity) == 0.0
    assert torch.isfinite(terms.total)
