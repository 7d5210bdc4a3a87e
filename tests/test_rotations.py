"""Rotation conversions: golden parity with the official code, and properties."""

from __future__ import annotations

import math

import pytest
import torch

from diffmesh.geometry.rotations import (
    axis_angle_to_rot6d_pytorch3d,
    axis_angle_to_rotmat,
    axis_angle_to_rotmat_pytorch3d,
    rot6d_to_rotmat,
    rotmat_to_axis_angle,
    rotmat_to_rot6d_columns,
    rotmat_to_rot6d_rows,
)
from tests._golden import golden_path

GOLDEN_TOL = 1e-6


def _load(name: str) -> dict:
    return torch.load(golden_path(name), weights_only=True)


def _random_rotmats(n: int, seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return rot6d_to_rotmat(torch.randn(n, 6, generator=g, dtype=dtype))


# --------------------------------------------------------------------------- golden parity


@pytest.mark.parametrize(
    ("fn", "key_in", "key_out"),
    [
        (rot6d_to_rotmat, "rot6d_in", "rot6d_to_rotmat"),
        (axis_angle_to_rotmat, "aa_in", "batch_rodrigues"),
        (rotmat_to_axis_angle, "rotmat_in", "rotation_matrix_to_angle_axis"),
    ],
)
def test_golden_rotation_utils(fn, key_in: str, key_out: str) -> None:
    golden = _load("utils_losses_metrics.pt")
    out = fn(golden[key_in])
    assert out.shape == golden[key_out].shape
    torch.testing.assert_close(out, golden[key_out], atol=GOLDEN_TOL, rtol=0)


def test_golden_refine_init_pose_6d() -> None:
    """The refine head's HybrIK axis-angle -> 6-D 'pytorch3d_rows' conversion."""
    golden = _load("diffmesh_refine_head.pt")
    for case in golden["cases"]:
        aa = case["init_pose_aa"]  # [B, T, 72]
        out = axis_angle_to_rot6d_pytorch3d(aa.reshape(-1, 72))  # [B*T, 144]
        torch.testing.assert_close(out, case["init_pose_6d"], atol=GOLDEN_TOL, rtol=0)
        # Same result from the [..., 24, 3] form.
        torch.testing.assert_close(axis_angle_to_rot6d_pytorch3d(aa.reshape(-1, 24, 3)), out)


# --------------------------------------------------------------------------- properties


def test_rot6d_columns_round_trip() -> None:
    R = _random_rotmats(64)
    torch.testing.assert_close(rot6d_to_rotmat(rotmat_to_rot6d_columns(R)), R, atol=1e-12, rtol=0)


def test_rot6d_layouts_differ_and_rows_layout() -> None:
    R = _random_rotmats(8, seed=1)
    rows = rotmat_to_rot6d_rows(R)
    torch.testing.assert_close(rows[:, :3], R[:, 0, :])
    torch.testing.assert_close(rows[:, 3:], R[:, 1, :])
    # Decoding 'pytorch3d_rows' with the 'spin_columns' decoder does not give R back:
    # the mismatch the refine head lives with.
    assert not torch.allclose(rot6d_to_rotmat(rows), R, atol=1e-3)


def test_rot6d_output_is_rotation_with_batch_dims() -> None:
    x = torch.randn(2, 5, 24, 6, dtype=torch.float64)
    R = rot6d_to_rotmat(x)
    assert R.shape == (2, 5, 24, 3, 3)
    eye = torch.eye(3, dtype=torch.float64).expand_as(R)
    torch.testing.assert_close(R.transpose(-1, -2) @ R, eye, atol=1e-12, rtol=0)
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(2, 5, 24, dtype=torch.float64))


def test_rot6d_degenerate_input_is_finite() -> None:
    R = rot6d_to_rotmat(torch.zeros(3, 6))
    assert torch.isfinite(R).all()


@pytest.mark.parametrize("fn", [axis_angle_to_rotmat, axis_angle_to_rotmat_pytorch3d])
def test_axis_angle_round_trip(fn) -> None:
    g = torch.Generator().manual_seed(2)
    axis = torch.nn.functional.normalize(torch.randn(256, 3, generator=g, dtype=torch.float64), dim=-1)
    angle = torch.rand(256, 1, generator=g, dtype=torch.float64) * (math.pi - 1e-3)
    aa = axis * angle
    R = fn(aa)
    eye = torch.eye(3, dtype=torch.float64).expand_as(R)
    torch.testing.assert_close(R.transpose(-1, -2) @ R, eye, atol=1e-12, rtol=0)
    torch.testing.assert_close(rotmat_to_axis_angle(R), aa, atol=1e-7, rtol=0)


def test_axis_angle_conversions_agree() -> None:
    aa = torch.randn(100, 3, dtype=torch.float64)
    torch.testing.assert_close(axis_angle_to_rotmat(aa), axis_angle_to_rotmat_pytorch3d(aa), atol=1e-7, rtol=0)


def test_axis_angle_zero_and_small() -> None:
    for fn in (axis_angle_to_rotmat, axis_angle_to_rotmat_pytorch3d):
        aa = torch.tensor([[0.0, 0.0, 0.0], [1e-9, 0.0, 0.0], [0.0, 1e-7, -1e-7]])
        R = fn(aa)
        assert torch.isfinite(R).all()
        torch.testing.assert_close(R, torch.eye(3).expand(3, 3, 3), atol=1e-6, rtol=0)


def test_rotmat_to_axis_angle_identity_and_pi() -> None:
    R = torch.stack(
        [
            torch.eye(3),
            torch.diag(torch.tensor([1.0, -1.0, -1.0])),  # pi about x
            torch.diag(torch.tensor([-1.0, 1.0, -1.0])),  # pi about y
            torch.diag(torch.tensor([-1.0, -1.0, 1.0])),  # pi about z
        ]
    )
    aa = rotmat_to_axis_angle(R)
    assert torch.isfinite(aa).all()
    expected = torch.tensor([[0.0, 0, 0], [math.pi, 0, 0], [0, math.pi, 0], [0, 0, math.pi]])
    torch.testing.assert_close(aa.abs(), expected, atol=1e-6, rtol=0)
    # pi about a generic axis survives the round trip (up to the sign of the axis).
    axis = torch.nn.functional.normalize(torch.tensor([[0.3, -0.5, 0.8]], dtype=torch.float64), dim=-1)
    aa_pi = rotmat_to_axis_angle(axis_angle_to_rotmat_pytorch3d(axis * math.pi))
    assert torch.isfinite(aa_pi).all()
    torch.testing.assert_close(aa_pi.norm(dim=-1), torch.tensor([math.pi], dtype=torch.float64))
    torch.testing.assert_close(
        axis_angle_to_rotmat_pytorch3d(aa_pi), axis_angle_to_rotmat_pytorch3d(axis * math.pi), atol=1e-7, rtol=0
    )


def test_rotmat_to_axis_angle_gradient_is_finite_at_identity() -> None:
    R = torch.eye(3).repeat(2, 1, 1).requires_grad_(True)
    rotmat_to_axis_angle(R).sum().backward()
    assert R.grad is not None and torch.isfinite(R.grad).all()


def test_axis_angle_pytorch3d_gradient_is_finite_at_zero() -> None:
    aa = torch.zeros(2, 3, requires_grad=True)
    axis_angle_to_rotmat_pytorch3d(aa).sum().backward()
    assert aa.grad is not None and torch.isfinite(aa.grad).all()


def test_bad_shapes_raise() -> None:
    with pytest.raises(ValueError, match=r"\[4, 5\]"):
        rot6d_to_rotmat(torch.zeros(4, 5))
    with pytest.raises(ValueError, match=r"\[2, 3, 4\]"):
        rotmat_to_axis_angle(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match=r"\[2, 71\]"):
        axis_angle_to_rot6d_pytorch3d(torch.zeros(2, 71))


def test_dtype_and_device_follow_input() -> None:
    for dtype in (torch.float32, torch.float64):
        x = torch.randn(3, 6, dtype=dtype)
        assert rot6d_to_rotmat(x).dtype == dtype
        assert rotmat_to_axis_angle(rot6d_to_rotmat(x)).dtype == dtype
        assert axis_angle_to_rot6d_pytorch3d(torch.randn(3, 72, dtype=dtype)).dtype == dtype
