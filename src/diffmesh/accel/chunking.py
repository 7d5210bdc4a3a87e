"""Cache-sized chunks: the encoder and the body model as subclasses that split large batches.

Clips are independent in the encoder and bodies are independent in skinning, so splitting a
batch only splits independent rows of each product: the values are those of one pass
(bitwise on the CPUs measured), while the working set of a chunk stays in the last-level
cache instead of streaming through memory several times (docs/benchmarks.md).
"""

from __future__ import annotations

import copy

import torch

from diffmesh.accel.onednn import WeightPack, packed_linear
from diffmesh.body.layer import BodyModel
from diffmesh.body.lbs import lbs
from diffmesh.models.dstformer import DSTformer

__all__ = ["ENCODER_CHUNK_FRAMES", "SKINNING_CHUNK", "ChunkedDSTformer", "AcceleratedBodyModel"]

#: Without autograd, the encoder takes batches in chunks of about this many frames (a
#: 243-frame batch of 32 clips is 132k tokens, activations far larger than the caches).
ENCODER_CHUNK_FRAMES = 256

#: Bodies skinned per chunk: the per-vertex transforms of a chunk (``32 × V × 12`` floats,
#: 10 MB for SMPL) stay in the last-level cache.
SKINNING_CHUNK = 32


class ChunkedDSTformer(DSTformer):
    """:class:`DSTformer` that encodes a batch in chunks of about ``inference_chunk_frames``
    frames when autograd is off (same parameters, same state dict, same values)."""

    inference_chunk_frames: int = ENCODER_CHUNK_FRAMES

    def encode_clips(self, x: torch.Tensor) -> torch.Tensor:
        chunk = max(1, self.inference_chunk_frames // x.shape[1])  # clips per chunk
        if x.shape[0] > chunk and not torch.is_grad_enabled():
            return torch.cat([super(ChunkedDSTformer, self).encode_clips(part) for part in x.split(chunk)])
        return super().encode_clips(x)


def chunk_encoder(encoder: DSTformer) -> ChunkedDSTformer:
    """Turn ``encoder`` (a copy the caller owns) into a :class:`ChunkedDSTformer`, in place."""
    encoder.__class__ = ChunkedDSTformer  # adds no state: only encode_clips differs
    return encoder  # type: ignore[return-value]


class AcceleratedBodyModel(BodyModel):
    """:class:`BodyModel` that skins in chunks of :data:`SKINNING_CHUNK` bodies and, without
    autograd on CPU, runs the pose blend-shape product through oneDNN on a packed
    ``posedirs`` (float32 accuracy; packed lazily, about 17 MB for SMPL).

    Build one with :meth:`sharing` from a plain body model: the buffers are shared, not copied.
    """

    _posedirs_pack: WeightPack | None

    @classmethod
    def sharing(cls, body: BodyModel, packed: bool = True) -> AcceleratedBodyModel:
        """An accelerated twin of ``body`` holding the same buffer tensors (``body`` is unchanged)."""
        twin = copy.copy(body)
        for key, value in vars(body).items():
            if isinstance(value, dict):  # _buffers, _modules, hooks: own containers, shared tensors
                twin.__dict__[key] = value.copy()
        twin.__class__ = cls
        twin._posedirs_pack = WeightPack() if packed else None
        return twin  # type: ignore[return-value]

    def _pose_blend(self):  # noqa: ANN202 - a callable or None
        if self._posedirs_pack is None or not self.has_pose_blend_shapes or torch.is_grad_enabled():
            return None
        weight = self.posedirs.T  # [3V, P]: packed_linear(x, Wᵀ) computes x @ posedirs
        packed = self._posedirs_pack.get(weight)
        return None if packed is None else (lambda feature: packed_linear(feature, weight, None, packed))

    def skin(self, betas: torch.Tensor, rotmats: torch.Tensor, shapedirs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        posedirs = self.posedirs if self.has_pose_blend_shapes else None
        levels, pose_blend = self.kinematic_levels(), self._pose_blend()
        parts = [
            lbs(b, r, self.v_template, shapedirs, posedirs, self.J_regressor, self.parents, self.lbs_weights, levels, pose_blend)
            for b, r in zip(betas.split(SKINNING_CHUNK), rotmats.split(SKINNING_CHUNK))
        ]
        if len(parts) == 1:
            return parts[0]
        return torch.cat([v for v, _ in parts]), torch.cat([j for _, j in parts])
