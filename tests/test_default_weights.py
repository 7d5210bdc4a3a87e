"""The packaged diffmesh-synthetic weights (the default for keypoint files without 3-D joints, and the
start of diffmesh-fusion, tests/test_fusion.py): checksum, loading, the recorded held-out metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import diffmesh
from diffmesh.registry import DEFAULT_MESH_MODEL_WITHOUT_3D, get_spec
from diffmesh.weights import packaged_path

SUBSET = json.loads((Path(__file__).parent / "data" / "default_weights_subset.json").read_text())


def test_packaged_weights_are_registered_small_and_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = get_spec(DEFAULT_MESH_MODEL_WITHOUT_3D)
    path = packaged_path(spec.weights)
    assert path.stat().st_size <= 25 * 1024 * 1024
    assert spec.sha256 and spec.training_data and "synthetic" in spec.training_data
    assert spec.licence and spec.reported
    # a corrupted file is refused with the checksum in the message
    bad = tmp_path / spec.weights
    bad.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    monkeypatch.setattr("diffmesh.weights.packaged_path", lambda name: bad)
    with pytest.raises(ValueError, match="sha256"):
        diffmesh.create_model(DEFAULT_MESH_MODEL_WITHOUT_3D)


def test_packaged_weights_refuse_overrides_and_other_body_models(small_body) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="pretrained=False"):
        diffmesh.create_model(DEFAULT_MESH_MODEL_WITHOUT_3D, depth=1)
    with pytest.raises(ValueError, match="body model"):
        diffmesh.create_model(DEFAULT_MESH_MODEL_WITHOUT_3D, body_model=small_body)
    untrained = diffmesh.create_model(DEFAULT_MESH_MODEL_WITHOUT_3D, pretrained=False)
    trained = diffmesh.create_model(DEFAULT_MESH_MODEL_WITHOUT_3D)
    key = "backbone.joints_embed.weight"
    assert not torch.equal(untrained.state_dict()[key], trained.state_dict()[key])


def test_packaged_weights_reproduce_the_recorded_held_out_metrics() -> None:
    """The first clips of the held-out synthetic test set (tools/default_weights.py), scored
    as recorded when the weights were exported (SUBSET['metrics'])."""
    from torch.utils.data import DataLoader

    from diffmesh.data.synthetic import SyntheticMotionDataset, SyntheticMotionEngine
    from diffmesh.training.tasks import evaluate_mesh_model

    model = diffmesh.create_model(DEFAULT_MESH_MODEL_WITHOUT_3D)
    engine = SyntheticMotionEngine(model.body_model, clip_len=16, seed=SUBSET["seed"], families=SUBSET["families"])
    data = SyntheticMotionDataset(SUBSET["clips"], "test", "mesh", engine=engine)
    with torch.no_grad():
        got = evaluate_mesh_model(model, data, batch_size=SUBSET["clips"], per_frame=SUBSET["per_frame"])
    for key, want in SUBSET["metrics"].items():
        assert got[key] == pytest.approx(want, abs=0.05), key
