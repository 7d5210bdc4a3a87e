"""Deviation of the fast inference mode from parity mode (float32).

    python benchmarks/fast_mode_accuracy.py

1. Golden inputs: the official tiny DSTformer and DiffMesh head (../shared/reference/golden
   or $DIFFMESH_GOLDEN_DIR) — representation and 6-D pose deviations.
2. Full-size DiffMesh (random weights; head_pose re-initialised with gain 1 so the mesh
   depends strongly on the features, as in a trained model) with the open body model on the
   built-in walking example plus noise — joint and vertex deviations in millimetres.
3. The packaged default weights (synthetic-trained, ``diffmesh.registry.DEFAULT_MESH_MODEL``)
   on held-out synthetic test clips (``--test-clips``, seed 0, all families): the official
   metrics in parity and fast mode, and the per-joint / per-vertex deviation between them.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

import diffmesh
from diffmesh.examples import walking_keypoints_2d
from diffmesh.models import DiffMeshHead, DSTformer, DSTformerConfig
from diffmesh.accel import accelerate

GOLDEN = Path(os.environ.get("DIFFMESH_GOLDEN_DIR", Path(__file__).resolve().parents[2] / "shared" / "reference" / "golden"))


@torch.inference_mode()
def golden_deviation() -> None:
    g = torch.load(GOLDEN / "dstformer_tiny.pt", weights_only=True)
    enc = DSTformer(DSTformerConfig(**g["config"])).eval()
    enc.load_state_dict(g["state_dict"])
    enc = accelerate(enc, "bf16")
    for case in g["cases"]:
        d = (enc.get_representation(case["input"]) - case["representation"]).abs()
        print(f"golden DSTformer F={case['input'].shape[1]:3d}: representation |Δ| mean {d.mean():.2e}, max {d.max():.2e}")
    g = torch.load(GOLDEN / "diffmesh_head.pt", weights_only=True)
    head = DiffMeshHead(dim_rep=g["dim_rep"]).eval()
    head.load_state_dict(g["state_dict"])
    ref = [head(c["input_feat"]).pose6d for c in g["cases"]]
    wrapper = torch.nn.ModuleDict({"backbone": DSTformer(DSTformerConfig(dim_feat=8, dim_rep=8, depth=1, num_heads=1)), "head": head})
    fast = accelerate(wrapper, "bf16")["head"]
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
    out = accelerate(model, "bf16")(x)
    dj = (out.kp_3d - ref.kp_3d).norm(dim=-1)
    dv = (out.verts - ref.verts).norm(dim=-1)
    print(f"full DiffMesh, open body model, 8 clips x 16 frames: joints mean {dj.mean():.3f} mm (max {dj.max():.3f}), "
          f"vertices mean {dv.mean():.3f} mm (max {dv.max():.3f})")


@torch.inference_mode()
def default_weights_deviation(clips: int) -> None:
    from torch.utils.data import DataLoader

    from diffmesh.data.synthetic import SyntheticMotionDataset, SyntheticMotionEngine
    from diffmesh.registry import DEFAULT_MESH_MODEL
    from diffmesh.training.tasks import evaluate_mesh_model

    model = diffmesh.create_model(DEFAULT_MESH_MODEL)
    fast = accelerate(model, "bf16")
    data = SyntheticMotionDataset(clips, "test", "mesh", engine=SyntheticMotionEngine(model.body_model, clip_len=16, seed=0))
    dj, dv = [], []
    for batch in DataLoader(data, batch_size=16):
        ref, out = model(batch["input"]), fast(batch["input"])
        dj.append((out.kp_3d - ref.kp_3d).norm(dim=-1).flatten())
        dv.append((out.verts - ref.verts).norm(dim=-1).mean(-1).flatten())
    parity = evaluate_mesh_model(model, data, batch_size=16)
    quick = evaluate_mesh_model(fast, data, batch_size=16)
    print(f"default weights ({DEFAULT_MESH_MODEL}, synthetic-trained), {clips} held-out synthetic test clips:")
    print(f"  joints |fast - fp32| mean {torch.cat(dj).mean():.3f} mm (max {torch.cat(dj).max():.3f}); "
          f"vertices mean {torch.cat(dv).mean():.3f} mm")
    for key in parity:
        print(f"  {key:12s} fp32 {parity[key]:8.2f}  fast {quick[key]:8.2f}  shift {quick[key] - parity[key]:+.2f} mm")


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--test-clips", type=int, default=128, help="held-out synthetic clips for the default weights")
    args = p.parse_args()
    torch.set_num_threads(2)
    golden_deviation()
    full_model_deviation()
    default_weights_deviation(args.test_clips)
