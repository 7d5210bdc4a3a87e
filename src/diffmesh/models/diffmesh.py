"""The DiffMesh head (ARCHITECTURE.md §4) and its HybrIK-refinement variant (§4.10).

Three separate parts, as in a diffusers pipeline:

* :class:`~diffmesh.schedulers.DDIMScheduler` — the parameter-free schedule and update;
* :class:`TwoStreamDenoiser` — the network called once per step (``diffusion_model``);
* :class:`ConditionGenerator` — per-step conditions from the clip's features.

:class:`ReverseProcess` runs the loop, and :class:`DiffMeshHead` /
:class:`DiffMeshRefineHead` add the template path, the residual and the SMPL parameter
heads. Attribute names follow the official code so its checkpoints load unchanged
(``diffmesh_process.entire_process.diffusion_model...``).

Gradient mode (DEVIATIONS D-D1/D-D2). The official code runs the template path, the
condition generator and the whole reverse loop under ``torch.no_grad()``, so those
modules never train. That is the default here (``diffusion_grad=False``, *faithful*).
``diffusion_grad=True`` is the paper's intent: the loop is differentiable and the
auxiliary next-frame loss supervises the condition predictions (its target half is
detached instead of its prediction half).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from diffmesh.conventions import NUM_BETAS, NUM_H36M_JOINTS, NUM_SMPL_JOINTS
from diffmesh.geometry.rotations import axis_angle_to_rot6d_pytorch3d, axis_angle_to_rotmat, rotmat_to_rot6d_columns
from diffmesh.models.layers import TransformerBlock, merge_heads, split_heads
from diffmesh.schedulers import DDIMScheduler

#: Per-joint feature width inside the head (hard-coded in the official code).
DIFF_DIM = 128
#: Warm-up reverse steps before the first frame is decoded (hard-coded ``add_step``).
ADD_STEP = 14
#: Number of SMPL template vertices the template path is built for (20,670 = 15 × 1378).
TEMPLATE_VERTICES = 6890
TEMPLATE_CHUNKS = 15
POSE_6D_DIM = NUM_SMPL_JOINTS * 6  # 144

#: The two 6-D layouts that meet in the refine head (DEVIATIONS D-R1).
REFINE_6D_CONVENTIONS = ("pytorch3d_rows", "spin_columns")


def timestep_embedding(t: torch.Tensor, dim: int = DIFF_DIM) -> torch.Tensor:
    """Sinusoidal embedding ``[B]`` → ``[B, dim]``: ``[sin(tω), cos(tω)]``, ω_i = 10000^(−i/(dim/2−1)).
    In ``t``'s floating dtype (float32 for integer steps)."""
    half = dim // 2
    dtype = t.dtype if t.is_floating_point() else torch.float32
    freqs = torch.exp(torch.arange(half, dtype=dtype, device=t.device) * -(math.log(10000.0) / (half - 1)))
    angles = t.to(dtype)[:, None] * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class TwoStreamAttention(nn.Module):
    """The official ``Attention_cross`` (DEVIATIONS D-D9).

    Tokens ``[B, 2L, C]`` are a diffusion stream (first L) and a condition stream (last L).
    Each stream attends to itself; the diffusion stream's projected output is then re-mixed
    by the condition stream's attention map (no second projection). There is no attention
    from one stream's queries to the other's keys, so the condition stream never depends on
    the diffusion stream: :meth:`condition` and :meth:`diffusion` compute the two halves
    separately (the reverse loop runs the condition stream of all steps at once).
    """

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv_diff = nn.Linear(dim, dim * 3)
        self.qkv_cond = nn.Linear(dim, dim * 3)
        self.proj_diff = nn.Linear(dim, dim)
        self.proj_cond = nn.Linear(dim, dim)

    def _qkv(self, layer: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, length, c = x.shape
        # [B, L, 3, H, c] -> [3, B, H, L, c]
        q, k, v = layer(x).reshape(b, length, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        return q, k, v

    def condition(self, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Condition stream ``[N, L, C]`` (normed) → (``proj(A_c V_c)`` ``[N, L, C]``, ``A_c [N, H, L, L]``)."""
        q, k, v = self._qkv(self.qkv_cond, c)
        attn = (q @ k.transpose(-2, -1) * self.scale).softmax(dim=-1)  # the official order of operations
        return self.proj_cond(merge_heads(attn @ v)), attn

    def diffusion(self, x: torch.Tensor, attn_c: torch.Tensor) -> torch.Tensor:
        """Diffusion stream ``[N, L, C]`` (normed) and the condition map ``A_c`` → ``A_c · proj(A_d V_d)``."""
        q, k, v = self._qkv(self.qkv_diff, x)
        y = self.proj_diff(merge_heads(F.scaled_dot_product_attention(q, k, v)))
        return merge_heads(attn_c @ split_heads(y, self.num_heads))  # re-mixed, no projection

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n_diff = x.shape[1] // 2
        y_c, attn_c = self.condition(x[:, n_diff:])
        return torch.cat([self.diffusion(x[:, :n_diff], attn_c), y_c], dim=1)


class TwoStreamEncoder(nn.Module):
    """``Transformer_cross``: pre-norm blocks with shared norms/MLP over both streams, final LN.

    Norms and MLPs act per token, so the two streams only meet through the condition
    stream's attention maps: :meth:`condition_pass` returns them with the condition
    stream's output, and :meth:`diffusion_pass` consumes them.
    """

    def __init__(self, dim: int = DIFF_DIM, depth: int = 4, num_heads: int = 4, mlp_ratio: float = 2.0) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, num_heads, mlp_ratio, attn=TwoStreamAttention(dim, num_heads)) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def condition_pass(self, c: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Condition tokens ``[N, L, C]`` → (output ``[N, L, C]``, one ``A_c [N, H, L, L]`` per block)."""
        maps = []
        for block in self.blocks:
            y, attn = block.attn.condition(block.norm1(c))
            maps.append(attn)
            c = c + y
            c = c + block.mlp(block.norm2(c))
        return self.norm(c), maps

    def diffusion_pass(self, x: torch.Tensor, maps: list[torch.Tensor]) -> torch.Tensor:
        """Diffusion tokens ``[N, L, C]`` and the condition maps → output ``[N, L, C]``."""
        for block, attn_c in zip(self.blocks, maps):
            x = x + block.attn.diffusion(block.norm1(x), attn_c)
            x = x + block.mlp(block.norm2(x))
        return self.norm(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 2L, C]`` (diffusion stream, then condition stream) → ``[B, 2L, C]``."""
        n_diff = x.shape[1] // 2
        c, maps = self.condition_pass(x[:, n_diff:])
        return torch.cat([self.diffusion_pass(x[:, :n_diff], maps), c], dim=1)


class TwoStreamDenoiser(nn.Module):
    """ε-predictor of one reverse step (the official ``diffusion_model``).

    ``(x_t [B,1,J·D], c [B,J·D], t [B]) → (ε̂ [B,1,J·D], c_next [B,1,J·D])``.
    The condition half does not depend on ``x_t``: :meth:`condition_stream` computes it
    (for any number of steps at once) and :meth:`denoise` the ε̂ half.
    """

    def __init__(self, dim: int = DIFF_DIM, num_joints: int = NUM_H36M_JOINTS) -> None:
        super().__init__()
        self.dim = dim
        self.num_joints = num_joints
        self.temb_fc = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim))
        self.diffmodel_encoder = TwoStreamEncoder(dim)

    def time_embedding(self, t: torch.Tensor) -> torch.Tensor:
        """``[B]`` timesteps → ``[B, 1, D]`` (input-independent; the reverse loop computes
        all steps' embeddings in one call)."""
        return self.temb_fc(timestep_embedding(t, self.dim)).unsqueeze(1)

    def condition_stream(self, cond: torch.Tensor, temb: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Conditions ``[N, J·D]`` with their step embeddings ``[N or 1, 1, D]`` →
        (next-frame conditions ``[N, 1, J·D]``, the attention maps :meth:`denoise` needs)."""
        n = cond.shape[0]
        c, maps = self.diffmodel_encoder.condition_pass(cond.reshape(n, self.num_joints, self.dim) + temb)
        return c.reshape(n, 1, -1), maps

    def denoise(self, x_t: torch.Tensor, temb: torch.Tensor, maps: list[torch.Tensor]) -> torch.Tensor:
        """State ``[N, 1, J·D]``, step embedding and the condition maps → ε̂ ``[N, 1, J·D]``."""
        n = x_t.shape[0]
        out = self.diffmodel_encoder.diffusion_pass(x_t.reshape(n, self.num_joints, self.dim) + temb, maps)
        return out.reshape(n, 1, -1)

    def forward(
        self, x_t: torch.Tensor, cond: torch.Tensor, t: torch.Tensor, temb: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``temb`` (``[B or 1, 1, D]``) may be passed precomputed from :meth:`time_embedding`."""
        if temb is None:
            temb = self.time_embedding(t)  # [B, 1, D]
        cond_next, maps = self.condition_stream(cond, temb)
        return self.denoise(x_t, temb, maps), cond_next


class ConditionGenerator(nn.Module):
    """Per-step conditions (the official ``condition_generator``, a small ViT, §4.5).

    ``[B, N, J·D]`` (``add_step`` zero tokens then the frame tokens) → ``[B, N, J·D]``,
    a residual onto the input tokens.
    """

    def __init__(
        self,
        num_tokens: int,
        in_dim: int = NUM_H36M_JOINTS * DIFF_DIM,
        width: int = 256,
        depth: int = 2,
        num_heads: int = 8,
        mlp_ratio: float = 0.125,
    ) -> None:
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(1, num_tokens, width))
        self.fc1 = nn.Sequential(nn.Linear(in_dim, width), nn.GELU())
        self.blocks = nn.ModuleList(TransformerBlock(width, num_heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(width, eps=1e-6)
        self.fc2 = nn.Sequential(nn.Linear(width, in_dim), nn.GELU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pos_embed + self.fc1(x)
        for block in self.blocks:
            h = block(h)
        return self.fc2(self.norm(h)) + x


class ReverseProcess(nn.Module):
    """The reverse loop (the official ``entire_process``, §4.7).

    Step ``k = 0..N−1`` uses timestep ``N−1−k`` and condition ``feat_g[:, k]``; steps
    ``k ≥ add_step`` emit frame ``k − add_step``'s feature and its next-frame condition.
    """

    def __init__(self, clip_len: int, add_step: int = ADD_STEP, num_joints: int = NUM_H36M_JOINTS) -> None:
        super().__init__()
        if not isinstance(clip_len, int) or clip_len < 2:
            raise ValueError(
                f"the DiffMesh reverse process needs clip_len >= 2 (it predicts each next frame), got {clip_len!r}; "
                "single frames go through a clip model's T = 1 path (pass [B, 1, 17, 3] to a clip_len-16 model)"
            )
        self.clip_len = clip_len
        self.add_step = add_step
        self.num_steps = clip_len + add_step
        self.diffusion_model = TwoStreamDenoiser(DIFF_DIM, num_joints)
        self.condition_generator = ConditionGenerator(self.num_steps, num_joints * DIFF_DIM)

    def make_scheduler(self) -> DDIMScheduler:
        scheduler = DDIMScheduler(num_train_timesteps=self.num_steps)
        scheduler.set_timesteps(self.num_steps)
        return scheduler

    def forward(self, x_in: torch.Tensor, z_start: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x_in ``[B, clip_len, J·D]`` frame tokens, z_start ``[B, 1, J·D]`` →
        (frame features ``[B, clip_len, J·D]``, next-frame condition predictions
        ``[B, clip_len−1, J·D]``, conditions ``feat_g [B, N, J·D]``)."""
        b, t, d = x_in.shape
        padding = x_in.new_zeros(b, self.add_step, d)
        feat_g = self.condition_generator(torch.cat([padding, x_in], dim=1))  # [B, N, J·D]

        scheduler = self.make_scheduler()
        timesteps = scheduler.timesteps.to(device=x_in.device, dtype=x_in.dtype)
        n = self.num_steps
        denoiser = self.diffusion_model
        tembs = denoiser.time_embedding(timesteps)  # [N, 1, D], one row per step
        # The condition stream of every step in one batched pass (it never reads the state):
        # rows step-major, so step k's maps are the contiguous block [k·B, (k+1)·B).
        step_major = feat_g.transpose(0, 1).reshape(n * b, d)
        cond_next, maps = denoiser.condition_stream(step_major, tembs.repeat_interleave(b, dim=0))
        cond_next = cond_next.reshape(n, b, d).transpose(0, 1)  # [B, N, J·D]
        maps = [m.reshape(n, b, *m.shape[1:]) for m in maps]
        z = z_start
        frames: list[torch.Tensor] = []
        for k, t_step in enumerate(scheduler.timesteps.tolist()):
            eps = denoiser.denoise(z, tembs[k], [m[k] for m in maps])
            z = scheduler.step(eps, t_step, z)
            if k >= self.add_step:
                frames.append(z)
        pred_x = torch.cat(frames, dim=1)  # [B, T, J·D]
        cond_pred = cond_next[:, self.add_step : n - 1]  # predictions for frames 1..T−1
        return pred_x, cond_pred, feat_g


class DiffusionBlock(nn.Module):
    """Reverse process plus the residual output (the official ``diffmesh_process``, §4.8)."""

    def __init__(self, clip_len: int, num_joints: int = NUM_H36M_JOINTS) -> None:
        super().__init__()
        self.entire_process = ReverseProcess(clip_len, ADD_STEP, num_joints)
        self.fc1 = nn.Sequential(nn.Linear(DIFF_DIM, DIFF_DIM), nn.GELU())

    def residual(self, pred_x: torch.Tensor, x_in: torch.Tensor) -> torch.Tensor:
        """``GELU(Linear(pred_x)) + x_in`` on ``[B, T, J, D]`` tokens (the path that trains
        the backbone in faithful mode)."""
        return self.fc1(pred_x.reshape(x_in.shape)) + x_in


@dataclass
class HeadOutput:
    """What a mesh head predicts before SMPL decoding.

    pose6d: ``[B·T, 144]`` 24 joints × 6-D in the SPIN 'spin_columns' layout (decoded with
        :func:`diffmesh.geometry.rotations.rot6d_to_rotmat`).
    betas: ``[B·T, 10]`` shape coefficients.
    loss_diff: ``[B, 2K, J·D]`` the auxiliary next-frame pair (first half targets, second
        half predictions; K = T−1, or 1 for T = 1) or ``None`` for heads without it.
    """

    pose6d: torch.Tensor
    betas: torch.Tensor
    loss_diff: torch.Tensor | None = None


class DiffMeshFeatures(nn.Module):
    """The part shared by the DiffMesh head and its refine variant (§4.2–4.8):
    ``fc_ds`` channel reduction, the mean-mesh template path and the diffusion block.

    ``mesh_template`` is a ``[1, 6890, 3]`` buffer (in the checkpoint). The template path
    reshapes it (coordinate-major) into 15 chunks of 1378 numbers (D-D8), so its size is
    fixed; a body model with another vertex count supplies a 6890-point template
    resampled from its mean mesh.
    """

    def __init__(
        self,
        dim_rep: int = 512,
        clip_len: int = 16,
        num_joints: int = NUM_H36M_JOINTS,
        diffusion_grad: bool = False,
        mesh_template: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.dim_rep = dim_rep
        self.clip_len = clip_len
        self.num_joints = num_joints
        self.diffusion_grad = diffusion_grad
        template = torch.zeros(1, TEMPLATE_VERTICES, 3) if mesh_template is None else mesh_template.float()
        if template.shape[-2:] != (TEMPLATE_VERTICES, 3):
            raise ValueError(
                f"mesh_template has shape {tuple(template.shape)}; the template path needs [1, {TEMPLATE_VERTICES}, 3]"
            )
        self.register_buffer("mesh_template", template.reshape(1, TEMPLATE_VERTICES, 3).clone())
        self.fc_ds = nn.Sequential(nn.Linear(dim_rep, DIFF_DIM), nn.ReLU())
        self.fc_mesh_temp = nn.Sequential(
            nn.Linear(TEMPLATE_VERTICES * 3 // TEMPLATE_CHUNKS, DIFF_DIM),
            nn.GELU(),
            nn.Conv1d(TEMPLATE_CHUNKS, num_joints, kernel_size=1),
            nn.GELU(),
        )
        self.diffmesh_process = DiffusionBlock(clip_len, num_joints)

    def template_tokens(self, batch: int) -> torch.Tensor:
        """Start state of the reverse loop from the mean mesh: ``[B, J, D]``."""
        # [1, V, 3] -> [1, 3, V] (x row, y row, z row) -> 15 consecutive chunks of 1378.
        chunks = self.mesh_template.transpose(1, 2).reshape(1, TEMPLATE_CHUNKS, -1)
        return self.fc_mesh_temp(chunks).expand(batch, -1, -1)

    def check_clip_length(self, num_frames: int) -> None:
        if num_frames not in (1, self.clip_len):
            raise ValueError(
                f"the DiffMesh head takes clips of exactly {self.clip_len} frames (or 1 frame), got {num_frames}; "
                f"pad shorter clips to {self.clip_len} frames (diffmesh.models.pad_clip repeats the last frame) "
                "and split longer ones into windows"
            )

    def features(self, rep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Representation ``[B, T, J, dim_rep]`` (T = clip_len or 1) → per-frame features
        ``[B, T, J·D]`` after the residual, and ``loss_diff``."""
        b, t, j, _ = rep.shape
        self.check_clip_length(t)
        x_in = self.fc_ds(rep)  # [B, T, J, D]
        x_tokens = x_in.reshape(b, t, -1)
        # Faithful mode: the template path, condition generator and loop run without
        # gradient, exactly like the official code. This is the head's documented contract.
        with torch.set_grad_enabled(self.diffusion_grad and torch.is_grad_enabled()):
            z_start = self.template_tokens(b).reshape(b, 1, -1)
            loop_in = x_tokens.expand(b, self.clip_len, -1) if t == 1 else x_tokens  # T = 1: repeat the frame
            pred_x, cond_pred, _ = self.diffmesh_process.entire_process(loop_in, z_start)
            if t == 1:  # D-D7: average the 16 outputs and the 15 next-frame predictions
                pred_x = pred_x.mean(dim=1, keepdim=True)
                cond_pred = cond_pred.mean(dim=1, keepdim=True)
        target = x_tokens if t == 1 else x_tokens[:, 1:]
        if self.diffusion_grad:
            target = target.detach()  # D-D2 corrected: supervise the prediction, not the features
        loss_diff = torch.cat([target, cond_pred], dim=1)
        feat = self.diffmesh_process.residual(pred_x, x_in).reshape(b, t, -1)
        return feat, loss_diff


class DiffMeshHead(DiffMeshFeatures):
    """The DiffMesh SMPL head (``SMPLRegressor`` of ``model_mesh_diff.py``).

    ``rep [B, T, J, dim_rep]`` → :class:`HeadOutput` (6-D pose per frame, betas per clip).
    """

    def __init__(
        self,
        dim_rep: int = 512,
        clip_len: int = 16,
        num_joints: int = NUM_H36M_JOINTS,
        diffusion_grad: bool = False,
        init_pose: torch.Tensor | None = None,
        init_shape: torch.Tensor | None = None,
        mesh_template: torch.Tensor | None = None,
    ) -> None:
        super().__init__(dim_rep, clip_len, num_joints, diffusion_grad, mesh_template)
        feat_dim = num_joints * DIFF_DIM
        self.register_buffer("init_pose", _as_row(init_pose, POSE_6D_DIM, "init_pose"))
        self.register_buffer("init_shape", _as_row(init_shape, NUM_BETAS, "init_shape"))
        self.head_pose = nn.Linear(feat_dim, POSE_6D_DIM)
        self.head_shape = nn.Linear(feat_dim, NUM_BETAS)
        nn.init.xavier_uniform_(self.head_pose.weight, gain=0.01)
        nn.init.xavier_uniform_(self.head_shape.weight, gain=0.01)

    def forward(self, rep: torch.Tensor) -> HeadOutput:
        b, t = rep.shape[:2]
        feat, loss_diff = self.features(rep)  # [B, T, J·D]
        pose6d = self.head_pose(feat.reshape(b * t, -1)) + self.init_pose
        betas = self.head_shape(feat.mean(dim=1)) + self.init_shape  # one shape per clip
        betas = betas[:, None].expand(b, t, -1).reshape(b * t, -1)
        return HeadOutput(pose6d=pose6d, betas=betas, loss_diff=loss_diff)


class DiffMeshRefineHead(DiffMeshFeatures):
    """DiffMesh + HybrIK refinement head (``model_mesh_diff_refine.py``, §4.10).

    Refines an initial per-frame SMPL pose (e.g. HybrIK's) with the DiffMesh features;
    the betas are the initial ones, unchanged (D-R2).

    ``refine_6d_convention`` (D-R1): the official code turns the initial axis-angle pose
    into 6-D with the PyTorch3D layout (first two *rows*) but decodes the sum with the SPIN
    layout (*columns*), so the residual is not the initial rotation. ``"pytorch3d_rows"``
    (default) reproduces that, as the released weights need; ``"spin_columns"`` uses one
    layout consistently (for new training only).
    """

    def __init__(
        self,
        dim_rep: int = 512,
        clip_len: int = 16,
        num_joints: int = NUM_H36M_JOINTS,
        hidden_dim: int = 512,
        dropout: float = 0.1,
        diffusion_grad: bool = False,
        refine_6d_convention: str = "pytorch3d_rows",
        mesh_template: torch.Tensor | None = None,
    ) -> None:
        super().__init__(dim_rep, clip_len, num_joints, diffusion_grad, mesh_template)
        if refine_6d_convention not in REFINE_6D_CONVENTIONS:
            raise ValueError(
                f"refine_6d_convention={refine_6d_convention!r}; expected one of {REFINE_6D_CONVENTIONS} "
                "('pytorch3d_rows' reproduces the official weights)"
            )
        self.refine_6d_convention = refine_6d_convention
        feat_dim = num_joints * DIFF_DIM
        self.dropout = nn.Dropout(dropout)
        self.fc1 = nn.Sequential(nn.Linear(feat_dim, hidden_dim), nn.ReLU())
        self.fc2 = nn.Sequential(nn.Conv1d(POSE_6D_DIM, hidden_dim, kernel_size=5, padding=2), nn.ReLU())
        self.head_pose = nn.Conv1d(2 * hidden_dim, POSE_6D_DIM, kernel_size=5, padding=2)

    def initial_pose6d(self, init_pose_aa: torch.Tensor) -> torch.Tensor:
        """Initial axis-angle pose ``[B, T, 72]`` → 6-D ``[B·T, 144]`` in the configured layout."""
        b, t = init_pose_aa.shape[:2]
        aa = init_pose_aa.reshape(b * t, NUM_SMPL_JOINTS, 3)
        if self.refine_6d_convention == "pytorch3d_rows":
            return axis_angle_to_rot6d_pytorch3d(aa).reshape(b * t, POSE_6D_DIM)
        return rotmat_to_rot6d_columns(axis_angle_to_rotmat(aa)).reshape(b * t, POSE_6D_DIM)

    def forward(self, rep: torch.Tensor, init_pose: torch.Tensor, init_shape: torch.Tensor) -> HeadOutput:  # type: ignore[override]
        b, t = rep.shape[:2]
        _check_init(init_pose, (b, t, NUM_SMPL_JOINTS * 3), "init_pose")
        _check_init(init_shape, (b, t, NUM_BETAS), "init_shape")
        feat, loss_diff = self.features(rep)  # [B, T, J·D]
        init6d = self.initial_pose6d(init_pose).reshape(b, t, POSE_6D_DIM).transpose(1, 2)  # [B, 144, T]
        from_feat = self.fc1(self.dropout(feat)).transpose(1, 2)  # [B, hidden, T]
        from_init = self.fc2(init6d)  # [B, hidden, T]
        pose6d = self.head_pose(torch.cat([from_feat, from_init], dim=1)) + init6d  # [B, 144, T]
        pose6d = pose6d.transpose(1, 2).reshape(b * t, POSE_6D_DIM)
        return HeadOutput(pose6d=pose6d, betas=init_shape.reshape(b * t, NUM_BETAS), loss_diff=loss_diff)


def _as_row(value: torch.Tensor | None, size: int, name: str) -> torch.Tensor:
    """A ``[1, size]`` float32 buffer (zeros when not given; D-M8: always float32)."""
    if value is None:
        return torch.zeros(1, size)
    value = torch.as_tensor(value, dtype=torch.float32)
    if value.numel() != size:
        raise ValueError(f"{name} has shape {tuple(value.shape)}; expected {size} values")
    return value.reshape(1, size).clone()


def _check_init(value: torch.Tensor | None, shape: tuple[int, ...], name: str) -> None:
    if value is None:
        raise ValueError(f"the refine head needs {name} of shape {list(shape)} (the initial SMPL estimate, e.g. HybrIK's)")
    if tuple(value.shape) != shape:
        raise ValueError(f"{name} has shape {tuple(value.shape)}; expected {list(shape)}")


__all__ = [
    "ConditionGenerator",
    "DiffMeshFeatures",
    "DiffMeshHead",
    "DiffMeshRefineHead",
    "DiffusionBlock",
    "HeadOutput",
    "ReverseProcess",
    "TwoStreamAttention",
    "TwoStreamDenoiser",
    "timestep_embedding",
]
