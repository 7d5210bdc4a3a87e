"""Several people's model stage: each segment's short last batch runs packed with the other people's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffmesh.pipelines.keypoints import h36m_rows
from diffmesh.pipelines.prediction import PackedBatches, predict_mesh, run_batch
from diffmesh.pipelines.tracking import track
from tests.conftest import blazepose_like_detections

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_short_batches_of_several_people_run_together(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three people (one with two segments): three short batches run in two calls, and every
    person's meshes equal those of their own run to float rounding."""
    import diffmesh
    from diffmesh.pipelines import prediction
    from tests.conftest import TINY

    torch.manual_seed(0)
    model = diffmesh.create_model("diffmesh", body_model="open", **TINY, dim_in=6).eval()
    trks = []
    for n, missing in [(90, []), (150, [range(60, 80)]), (40, [])]:
        kp33, world33, detected = blazepose_like_detections(n, missing)
        keypoints, world = h36m_rows(kp33, world33, detected)
        trks.append(track(keypoints, detected, world=world))
    assert sum(len(t.segments) for t in trks) == 4

    sizes: list[int] = []

    def counted(model: torch.nn.Module, x: torch.Tensor, flip: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        sizes.append(len(x))
        return run_batch(model, x, flip)

    monkeypatch.setattr(prediction, "run_batch", counted)
    packed = PackedBatches(model, trks, normalization="window")
    # windows of 16 frames, stride 8: 90 frames -> 11 (8 + 3), 60 -> 7, 70 -> 8, 40 -> 4; calls: 3 + 7 | 4
    assert sizes == [10, 4] and packed.calls == 2
    sizes.clear()
    for trk in trks:
        together = predict_mesh(model, trk, normalization="window", precomputed=packed)
        alone = predict_mesh(model, trk, normalization="window")
        np.testing.assert_allclose(together.rotmats, alone.rotmats, atol=1e-5)
        np.testing.assert_allclose(together.betas, alone.betas, atol=1e-5)
    # with the short batches taken, each person's own run only makes its full batches (twice: together, alone)
    assert sorted(sizes) == [3, 4, 7] + [8] * 4
