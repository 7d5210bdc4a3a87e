"""Same-machine baseline: the DiffMesh forward pass computed the way the official code does.

    python benchmarks/official_replica.py --threads 2 --batches 1 8 32

The issue gives the official fp32 DiffMesh throughput on these machines (about 80 frames/s
at batch 1 and 110 at batch 8), but shared cores make every timing drift by ±15 % from
hour to hour. To measure a *ratio* that does not drift, this script times, in one process
and interleaved, our model (parity and fast mode) against a replica of the official
computation: plain functions over the same weights that follow the official code's
structure operation by operation as ARCHITECTURE.md describes it (written here from that
description, not copied):

* encoder: explicit attention (``(q kᵀ)·scale → softmax → ·v``) for both modes, the
  temporal mode through the official 5-D permutes; the fusion as in §1.3;
* DiffMesh head: one denoiser call per step over the 34 concatenated tokens (§4.6), the
  timestep embedding and the schedule's ᾱ recomputed inside every step, the DDIM update with
  its σ-term multiplied by a fresh normal draw times zero (§4.7, D-D3);
* SMPL (smplx 0.1.28 semantics, §3): shape/pose blend shapes, the kinematic chain one joint
  at a time, per-vertex 4x4 transforms applied to homogeneous vertices, the wrapper's extra
  joint regressor, then ×1000, the H36M regressor and the quaternion axis-angle conversion.

It first checks that the replica's outputs equal our parity model's (it is the same
function), then prints frames/s for each batch size. It is a stand-in for the real
official code, not the code itself: read its ratios together with the issue's figures.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests._smpl_fixtures

import diffmesh  # noqa: E402
from diffmesh.geometry.rotations import rot6d_to_rotmat, rotmat_to_axis_angle  # noqa: E402
from diffmesh.accel import accelerate  # noqa: E402


def _linear(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return F.linear(x, module.weight, module.bias)


def _norm(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(x, module.normalized_shape, module.weight, module.bias, module.eps)


def _mlp(mlp: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return _linear(mlp.fc2, F.gelu(_linear(mlp.fc1, x)))


def _attention(attn: torch.nn.Module, x: torch.Tensor, seqlen: int, temporal: bool) -> torch.Tensor:
    b, n, c = x.shape
    h = attn.num_heads
    scale = (c // h) ** -0.5
    qkv = _linear(attn.qkv, x).reshape(b, n, 3, h, c // h).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]  # [B·F, H, J, c]
    if temporal:
        qt = q.reshape(-1, seqlen, h, n, c // h).permute(0, 2, 3, 1, 4)  # [B, H, J, F, c]
        kt = k.reshape(-1, seqlen, h, n, c // h).permute(0, 2, 3, 1, 4)
        vt = v.reshape(-1, seqlen, h, n, c // h).permute(0, 2, 3, 1, 4)
        out = (((qt @ kt.transpose(-2, -1)) * scale).softmax(dim=-1) @ vt).permute(0, 3, 2, 1, 4).reshape(b, n, c)
    else:
        out = (((q @ k.transpose(-2, -1)) * scale).softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, c)
    return _linear(attn.proj, out)


def _block(block: torch.nn.Module, x: torch.Tensor, seqlen: int) -> torch.Tensor:
    def spatial(x: torch.Tensor) -> torch.Tensor:
        x = x + _attention(block.attn_s, _norm(block.norm1_s, x), seqlen, temporal=False)
        return x + _mlp(block.mlp_s, _norm(block.norm2_s, x))

    def temporal(x: torch.Tensor) -> torch.Tensor:
        x = x + _attention(block.attn_t, _norm(block.norm1_t, x), seqlen, temporal=True)
        return x + _mlp(block.mlp_t, _norm(block.norm2_t, x))

    return temporal(spatial(x)) if block.order == "st" else spatial(temporal(x))


def encoder_representation(enc: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    b, f, j, _ = x.shape
    x = _linear(enc.joints_embed, x.reshape(-1, j, 3)) + enc.pos_embed
    x = (x.reshape(b, f, j, -1) + enc.temp_embed[:, :f]).reshape(b * f, j, -1)
    for st, ts, fuse in zip(enc.blocks_st, enc.blocks_ts, enc.ts_attn):
        x_st, x_ts = _block(st, x, f), _block(ts, x, f)
        alpha = _linear(fuse, torch.cat([x_st, x_ts], dim=-1)).softmax(dim=-1)
        x = x_st * alpha[:, :, 0:1] + x_ts * alpha[:, :, 1:2]
    x = _norm(enc.norm, x).reshape(b, f, j, -1)
    return torch.tanh(_linear(enc.pre_logits.fc, x))


def _timestep_embedding(t: torch.Tensor, dim: int = 128) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float32) * -(math.log(10000) / (half - 1)))
    angles = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def _denoiser(model: torch.nn.Module, x_t: torch.Tensor, cond: torch.Tensor, t: torch.Tensor):
    b = x_t.shape[0]
    temb_fc = model.temb_fc
    temb = _linear(temb_fc[2], F.gelu(_linear(temb_fc[0], _timestep_embedding(t)))).unsqueeze(1)
    x = torch.cat([x_t.reshape(b, 17, 128) + temb, cond.reshape(b, 17, 128) + temb], dim=1)  # [B, 34, 128]
    for block in model.diffmodel_encoder.blocks:
        attn, h = block.attn, block.attn.num_heads
        y = _norm(block.norm1, x)
        xd, xc = y[:, :17], y[:, 17:]
        qd, kd, vd = _linear(attn.qkv_diff, xd).reshape(b, 17, 3, h, 32).permute(2, 0, 3, 1, 4)
        qc, kc, vc = _linear(attn.qkv_cond, xc).reshape(b, 17, 3, h, 32).permute(2, 0, 3, 1, 4)
        a_d = ((qd @ kd.transpose(-2, -1)) * attn.scale).softmax(dim=-1)
        a_c = ((qc @ kc.transpose(-2, -1)) * attn.scale).softmax(dim=-1)
        y_d = _linear(attn.proj_diff, (a_d @ vd).transpose(1, 2).reshape(b, 17, 128))
        y_d = (a_c @ y_d.reshape(b, 17, h, 32).transpose(1, 2)).transpose(1, 2).reshape(b, 17, 128)
        y_c = _linear(attn.proj_cond, (a_c @ vc).transpose(1, 2).reshape(b, 17, 128))
        x = x + torch.cat([y_d, y_c], dim=1)
        x = x + _mlp(block.mlp, _norm(block.norm2, x))
    x = _norm(model.diffmodel_encoder.norm, x)
    return x[:, :17].reshape(b, 1, -1), x[:, 17:].reshape(b, 1, -1)


def _condition_generator(gen: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    h = gen.pos_embed + F.gelu(_linear(gen.fc1[0], x))
    for block in gen.blocks:
        y = _norm(block.norm1, h)
        b, n, c = y.shape
        heads = block.attn.num_heads
        q, k, v = _linear(block.attn.qkv, y).reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        a = ((q @ k.transpose(-2, -1)) * (c // heads) ** -0.5).softmax(dim=-1)
        h = h + _linear(block.attn.proj, (a @ v).transpose(1, 2).reshape(b, n, c))
        h = h + _mlp(block.mlp, _norm(block.norm2, h))
    return F.gelu(_linear(gen.fc2[0], _norm(gen.norm, h))) + x


def diffmesh_head(head: torch.nn.Module, rep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    b, t = rep.shape[:2]
    x_in = F.relu(_linear(head.fc_ds[0], rep))  # [B, T, 17, 128]
    tokens = x_in.reshape(b, t, -1)
    template = head.mesh_template.expand(b, -1, -1).transpose(1, 2).reshape(b, 15, -1)
    conv = head.fc_mesh_temp[2]
    z = F.gelu(F.conv1d(F.gelu(_linear(head.fc_mesh_temp[0], template)), conv.weight, conv.bias)).reshape(b, 1, -1)
    process = head.diffmesh_process.entire_process
    feat_g = _condition_generator(process.condition_generator, torch.cat([tokens.new_zeros(b, 14, tokens.shape[-1]), tokens], 1))
    n = process.num_steps
    betas = torch.linspace(1e-4, 1e-3, n, dtype=torch.float64).float()
    frames = []
    for k in range(n):
        step = torch.full((b,), n - 1 - k, dtype=torch.float32)
        eps, _ = _denoiser(process.diffusion_model, z, feat_g[:, k], step)
        padded = torch.cat([torch.zeros(1), betas])
        a_t = (1 - padded).cumprod(dim=0).index_select(0, step.long() + 1).view(-1, 1, 1)
        a_next = (1 - padded).cumprod(dim=0).index_select(0, step.long()).view(-1, 1, 1)
        x0 = (z - eps * (1 - a_t).sqrt()) / a_t.sqrt()
        sigma = 0.0 * ((1 - a_t / a_next) * (1 - a_next) / (1 - a_t)).sqrt()
        z = a_next.sqrt() * x0 + sigma * torch.randn_like(z) + ((1 - a_next) - sigma**2).sqrt() * eps
        if k >= process.add_step:
            frames.append(z)
    pred_x = torch.cat(frames, dim=1)
    feat = (F.gelu(_linear(head.diffmesh_process.fc1[0], pred_x.reshape(b, t, 17, 128))) + x_in).reshape(b, t, -1)
    pose6d = _linear(head.head_pose, feat.reshape(b * t, -1)) + head.init_pose
    shape = _linear(head.head_shape, F.adaptive_avg_pool1d(feat.transpose(1, 2), 1)[..., 0]) + head.init_shape
    return pose6d, shape[:, None].expand(b, t, -1).reshape(b * t, -1)


def smpl_forward(body: torch.nn.Module, extra_regressor: torch.Tensor, betas: torch.Tensor, rotmats: torch.Tensor):
    """smplx-style LBS: one joint at a time along the chain, per-vertex 4x4 transforms."""
    n = betas.shape[0]
    v_shaped = body.v_template + torch.einsum("bl,mkl->bmk", betas, body.shapedirs)
    joints = torch.einsum("bik,ji->bjk", v_shaped, body.J_regressor)
    ident = torch.eye(3)
    pose_feature = (rotmats[:, 1:] - ident).view(n, -1)
    v_posed = torch.matmul(pose_feature, body.posedirs).view(n, -1, 3) + v_shaped
    parents = body.parents.tolist()
    rel = joints.clone()
    rel[:, 1:] -= joints[:, parents[1:]]
    mats = torch.cat([F.pad(rotmats.reshape(-1, 3, 3), [0, 0, 0, 1]), F.pad(rel.reshape(-1, 3, 1), [0, 0, 0, 1], value=1)], dim=2)
    mats = mats.reshape(n, -1, 4, 4)
    chain = [mats[:, 0]]
    for i in range(1, len(parents)):
        chain.append(torch.matmul(chain[parents[i]], mats[:, i]))
    transforms = torch.stack(chain, dim=1)
    joints_h = F.pad(joints.unsqueeze(-1), [0, 0, 0, 1])
    rel_transforms = transforms - F.pad(torch.matmul(transforms, joints_h), [3, 0, 0, 0, 0, 0, 0, 0])
    weights = body.lbs_weights.unsqueeze(0).expand(n, -1, -1)
    T = torch.matmul(weights, rel_transforms.view(n, -1, 16)).view(n, -1, 4, 4)
    homo = torch.cat([v_posed, torch.ones(n, v_posed.shape[1], 1)], dim=2)
    verts = torch.matmul(T, homo.unsqueeze(-1))[:, :, :3, 0]
    extra = torch.einsum("bik,ji->bjk", verts, extra_regressor)  # the wrapper's extra joints (unused)
    return verts, torch.cat([transforms[:, :, :3, 3], extra], dim=1)


def official_forward(model: torch.nn.Module, x: torch.Tensor, extra_regressor: torch.Tensor) -> dict[str, torch.Tensor]:
    b, t = x.shape[:2]
    rep = encoder_representation(model.backbone, x)
    pose6d, betas = diffmesh_head(model.head, rep)
    rotmats = rot6d_to_rotmat(pose6d.reshape(-1, 24, 6))
    verts, _ = smpl_forward(model.body_model, extra_regressor, betas, rotmats)
    verts = verts * 1000.0
    kp_3d = torch.matmul(model.body_model.J_regressor_h36m, verts)
    theta = torch.cat([rotmat_to_axis_angle(rotmats.reshape(-1, 3, 3)).reshape(-1, 72), betas], dim=1)
    return {"theta": theta.reshape(b, t, -1), "verts": verts.reshape(b, t, -1, 3), "kp_3d": kp_3d.reshape(b, t, -1, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", nargs="*", type=int, default=[1, 8, 32])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions (the table gives the median)")
    parser.add_argument("--min-seconds", type=float, default=2.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    from benchmarks.bench_models import smpl_sized_body, time_model

    model = diffmesh.create_model("diffmesh", body_model=smpl_sized_body()).eval()
    torch.nn.init.xavier_uniform_(model.head.head_pose.weight, gain=1.0)  # poses far from the mean
    extra_regressor = torch.rand(9, model.body_model.num_vertices)
    fast = accelerate(model, "fast")
    parity = accelerate(model, "parity")

    with torch.inference_mode():
        x = torch.rand(2, 16, 17, 3)
        ours, ref = model(x), official_forward(model, x, extra_regressor)
        for key in ("theta", "verts", "kp_3d"):
            diff = (ours[key] - ref[key]).abs().max().item()
            print(f"# replica vs parity model, {key}: max |diff| {diff:.2e}")
            if diff > 1e-3:
                raise SystemExit(f"the replica does not compute the same function ({key} differs by {diff})")

        print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads; DiffMesh, clip 16, frames/s "
              f"(median of {args.rounds} interleaved rounds)")
        print("| batch | official replica (fp32) | ours parity | ours fast | parity / replica | fast / replica |")
        print("|---:|---:|---:|---:|---:|---:|")
        for batch in args.batches:
            x = torch.rand(batch, 16, 17, 3)
            runs: dict[str, list[float]] = {"replica": [], "parity": [], "fast": []}
            contenders = {"replica": lambda clip: official_forward(model, clip, extra_regressor), "parity": parity, "fast": fast}
            for _ in range(args.rounds):
                for name, fn in contenders.items():
                    runs[name].append(time_model(fn, x, {}, args.min_seconds, warmup=True))
            fps = {k: batch * 16 / sorted(v)[len(v) // 2] for k, v in runs.items()}
            print(f"| {batch} | {fps['replica']:.1f} | {fps['parity']:.1f} | {fps['fast']:.1f} | "
                  f"{fps['parity'] / fps['replica']:.2f}x | {fps['fast'] / fps['replica']:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
