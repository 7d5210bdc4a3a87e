"""Deviation of the fast inference mode from parity mode (float32).

    python benchmarks/fast_mode_accuracy.py

1. Golden inputs: the official tiny DSTformer and DiffMesh head (../shared/reference/golden
   or $DIFFMESH_GOLDEN_DIR) — representation and 6-D pose deviations.
2. Full-size DiffMesh (random weights; head_pose re-initialised with gain 1 so the mesh
   depends strongly on the features, as in a trained model) with the open body model on the
   built-in walking example plus noise — joint and vertex deviations in millimetres.
Trained default weights will be measured the same way once they exist.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import torch

import diffmesh
from diffmesh.examples import walking_keypoints_2d
from diffmesh.models import DiffMeshHead, DSTformer, DSTformerConfig
from diffmesh.models.fast import to_fast_inference

GOLDEN = Path(os.environ.get("DIFFMESH_GOLDEN_DIR", Path(__file__).resolve().parents[2] / "shared" / "reference" / "golden"))


@torch.inference_mode()
def golden_deviation() -> None:
    g = torch.load(GOLDEN / "dstformer_tiny.pt", weights_only=True)
    enc = DSTformer(DSTformerConfig(**g["config"])).eval()
    enc.load_state_dict(g["state_dict"])
    to_fast_inference(enc)
    for case in g["cases"]:
        d = (enc.get_representation(case["input"]) - case["representation"]).abs()
        print(f"golden DSTformer F={case['input'].shape[1]:3d}: representation |Δ| mean {d.mean():.2e}, max {d.max():.2e}")
    g = torch.load(GOLDEN / "diffmesh_head.pt", weights_only=True)
    head = DiffMeshHead(dim_rep=g["dim_rep"]).eval()
    head.load_state_dict(g["state_dict"])
    ref = [head(c["input_feat"]).pose6d for c in g["cases"]]
    fast = copy.deepcopy(head)
    to_fast_inference(torch.nn.ModuleDict({"backbone": DSTformer(DSTformerConfig(dim_feat=8, dim_rep=8, depth=1, num_heads=1)), "head": fast}))
    for c, r in zip(g["cases"], ref):
        d = (fast(c["input_feat"]).pose6d - r).abs()
        print(f"golden DiffMesh head T={c['input_feat'].shape[1]:2d}: 6-D pose |Δ| mean {d.mean():.2e}, max {d.max():.2e}")


@torch.inference_mode()
def full_model_deviation() -> None:
    torch.manual_seed(0)
    model = diffmesh.create_model("diffmesh")
    torch.nn.init.xavier_uniform_(model.head.head_pose.weight, gain=1.0)
    x = torch.from_numpy(walking_keypoints_2d(16))[None].repeat(8, 1, 1, 1)
    x[..., :2] += torch.randn(8, 16, 17, 2) * 0.02
    ref = model(x)
    out = to_fast_inference(copy.deepcopy(model))(x)
    dj = (out.kp_3d - ref.kp_3d).norm(dim=-1)
    dv = (out.verts - ref.verts).norm(dim=-1)
    print(f"full DiffMesh, open body model, 8 clips x 16 frames: joints mean {dj.mean():.3f} mm (max {dj.max():.3f}), "
          f"vertices mean {dv.mean():.3f} mm (max {dv.max():.3f})")


if __name__ == "__main__":
    torch.set_num_threads(2)
    golden_deviation()
    full_model_deviation()
