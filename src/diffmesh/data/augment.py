"""Detector-noise and masking augmentation of normalised 2-D joints (DATA.md §5.3–5.4).

Pure functions of tensors with an explicit :class:`torch.Generator`: the official code draws
from torch's global RNG on the batch; passing a generator makes a run reproducible and lets
the synthetic engine give every clip its own stream. The order of the draws (selector,
Gaussian, uniform, jitter, confidence shift) follows the official code, so with a generator
seeded like the global RNG the same numbers come out.

Symbols (DATA.md §5.3):

==============  =====================================================================
``mean, std``   ``[17, 2]`` per-joint Gaussian offset of a detection (normalised units)
``weight``      ``[17]`` probability that a key-frame offset is Gaussian (else uniform)
``K``           27 key frames; offsets are linearly interpolated to the T frames
``a, b, m, s``  offset-length → confidence map ``c = a/(d+a) + b·d + N(m, s²)``
==============  =====================================================================
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from diffmesh.conventions import NUM_H36M_JOINTS

logger = logging.getLogger(__name__)

__all__ = [
    "NoiseModel",
    "OFFICIAL_NOISE",
    "sample_detection_offsets",
    "offset_confidence",
    "add_detection_noise",
    "mask_joints_and_frames",
]

# The table of ``params/synthetic_noise.pth`` (DATA.md §5.3), H36M-17 order; columns
# mean_x, mean_y, std_x, std_y, weight. Stored as float64 like the official file.
_NOISE_TABLE: tuple[tuple[float, float, float, float, float], ...] = (
    (0.0008132532206415176, 0.0002123957794343385, 0.003662630041640461, 0.0035726057983897614, 0.9987454248783952),
    (-0.00014820766367979008, 0.001997602659830032, 0.0071349284931432454, 0.005109186552172369, 0.9669543010510732),
    (0.002038824210894637, -0.0015100829056781799, 0.006084422689136702, 0.005003425844735228, 0.8896068688589165),
    (0.0009438474570305246, 0.0009083699237753135, 0.00895302418680377, 0.00529317413820226, 0.8938353296160423),
    (0.001867110248528105, -0.0007037034450687731, 0.006716577444309778, 0.005327725905047089, 0.9746202074492064),
    (0.0019328396070487199, -0.005204165804974786, 0.007012923918432476, 0.00492122980480096, 0.876672936095582),
    (0.0008942056436280798, -0.001871771113689443, 0.009505804410684347, 0.005625369112028657, 0.8210062542870395),
    (0.002467694312049389, 0.0023339168741767025, 0.006588318921158009, 0.004967669570185413, 0.9578073863968175),
    (0.0021412224082639135, -0.006508411043969023, 0.005491424744604293, 0.005305329016810842, 0.9183146347407266),
    (0.0016559242552996734, 0.0016551084378241497, 0.005338831246369957, 0.004876642002854535, 0.9679403167247258),
    (0.0008369439689565895, 0.0015929352238531081, 0.00341637764777077, 0.0034922421450041914, 0.9841198119110484),
    (0.0007939353618974142, -0.004621909163123653, 0.008006617254463182, 0.006087204448522537, 0.890993166463285),
    (0.0014993540020391042, 0.00029601713545545814, 0.005167672298473774, 0.00475361500588003, 0.8015561746381451),
    (0.0011591824590848712, 0.0016299643529509432, 0.004990403929579402, 0.005089037811800102, 0.7027702297593045),
    (0.002103820868195803, -0.003166051898485928, 0.007823454557123282, 0.007934266165636946, 0.8808956276567164),
    (0.0016822635945976643, -0.0003300032534713677, 0.006009086297262234, 0.005721288594996581, 0.8246287738293403),
    (0.001663880852602262, 0.0013175154893377186, 0.005370299691147723, 0.005684071647289275, 0.7287476097892377),
)


def _table_column(cols: slice | int) -> torch.Tensor:
    return torch.tensor(_NOISE_TABLE, dtype=torch.float64)[:, cols]


@dataclass(frozen=True)
class NoiseModel:
    """Parameters of the official detection-noise model (DATA.md §5.3).

    Attributes:
        mean: ``[17, 2]`` Gaussian offset mean per joint (normalised units).
        std: ``[17, 2]`` Gaussian offset standard deviation per joint.
        weight: ``[17]`` probability of the Gaussian branch (else uniform).
        uniform_range: full width of the uniform branch, ``[-r/2, r/2]²`` (official 0.06).
        num_keyframes: key frames interpolated over the clip (official 27).
        jitter_std: per-frame Gaussian jitter (official 0.002).
        a, b, m, s: ``d2c_params.pkl``, offset length → confidence.
    """

    mean: torch.Tensor = field(default_factory=lambda: _table_column(slice(0, 2)))
    std: torch.Tensor = field(default_factory=lambda: _table_column(slice(2, 4)))
    weight: torch.Tensor = field(default_factory=lambda: _table_column(4))
    uniform_range: float = 0.06
    num_keyframes: int = 27
    jitter_std: float = 0.002
    a: float = 0.028
    b: float = 1.1
    m: float = -0.004585696384310722
    s: float = 0.14310568571090698

    def __post_init__(self) -> None:
        for name, shape in (("mean", (NUM_H36M_JOINTS, 2)), ("std", (NUM_H36M_JOINTS, 2)), ("weight", (NUM_H36M_JOINTS,))):
            value = getattr(self, name)
            if tuple(value.shape) != shape:
                raise ValueError(f"NoiseModel.{name} must have shape {list(shape)}, got {list(value.shape)}")
        if self.num_keyframes < 2:
            raise ValueError(f"NoiseModel.num_keyframes must be >= 2, got {self.num_keyframes}")


#: The official parameters (``params/synthetic_noise.pth`` + ``params/d2c_params.pkl``).
OFFICIAL_NOISE = NoiseModel()


def _check_xy(x: torch.Tensor, name: str) -> None:
    if x.ndim != 4 or x.shape[2] != NUM_H36M_JOINTS or x.shape[3] < 2:
        raise ValueError(
            f"{name} must have shape [B, T, 17, C>=2] (normalised H36M-17 joints), got {list(x.shape)}; "
            "add a batch axis with x[None] for a single clip"
        )


def sample_detection_offsets(
    batch: int,
    frames: int,
    generator: torch.Generator | None = None,
    noise: NoiseModel = OFFICIAL_NOISE,
    *,
    share_jitter: bool = True,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Detector-like 2-D offsets ``Δ`` (steps 1–3 of DATA.md §5.3).

    Args:
        batch, frames: ``B`` and ``T``.
        generator: the random stream (``None`` = torch's global RNG, as the official code).
        noise: the model parameters.
        share_jitter: the official per-frame jitter is one ``[T, 17, 2]`` draw shared by the
            whole batch (DEVIATIONS D-E9); ``False`` draws it per sample.
        device: where to draw (the generator must live there).

    Returns:
        ``[B, T, 17, 2]`` float32 offsets in normalised units.
    """
    J, K = NUM_H36M_JOINTS, noise.num_keyframes
    kw = {"generator": generator, "device": device}
    mean = noise.mean.to(device=device, dtype=torch.float32)
    std = noise.std.to(device=device, dtype=torch.float32)
    weight = noise.weight.to(device=device, dtype=torch.float32)
    # Draw order as in the official code: selector, Gaussian, uniform.
    select = torch.rand(batch, K, J, **kw) < weight  # [B, K, J] True = Gaussian branch
    gauss = mean + std * torch.randn(batch, K, J, 2, **kw)  # [B, K, J, 2]
    uniform = (torch.rand(batch, K, J, 2, **kw) - 0.5) * noise.uniform_range  # [B, K, J, 2]
    keyframes = torch.where(select[..., None], gauss, uniform)  # [B, K, J, 2]
    # Linear interpolation along time, key frame 0 <-> frame 0 and K-1 <-> T-1; each
    # (joint, coordinate) is an independent channel: [B, K, J, 2] -> [B, J*2, K] -> [B, J*2, T].
    channels = keyframes.permute(0, 2, 3, 1).reshape(batch, J * 2, K)
    if frames == 1:
        dense = channels[..., :1]  # align_corners with one output sample takes key frame 0
    else:
        dense = F.interpolate(channels, size=frames, mode="linear", align_corners=True)
    offsets = dense.reshape(batch, J, 2, frames).permute(0, 3, 1, 2)  # [B, T, J, 2]
    jitter_shape = (1 if share_jitter else batch, frames, J, 2)
    jitter = torch.randn(*jitter_shape, **kw) * noise.jitter_std
    return offsets + jitter


def offset_confidence(
    offsets: torch.Tensor, generator: torch.Generator | None = None, noise: NoiseModel = OFFICIAL_NOISE
) -> torch.Tensor:
    """Confidence of a detection from its offset length (step 4 of DATA.md §5.3).

    ``c = a/(d + a) + b·d + N(m, s²)`` with ``d = ‖Δ‖``, clipped to [0, 1].

    Args:
        offsets: ``[..., 2]`` offsets in normalised units.
        generator: the random stream (``None`` = torch's global RNG).

    Returns:
        ``[...]`` confidences in [0, 1].
    """
    d = offsets.norm(dim=-1)
    shift = noise.m + noise.s * torch.randn(d.shape, generator=generator, device=d.device, dtype=d.dtype)
    return (noise.a / (d + noise.a) + noise.b * d + shift).clamp(0.0, 1.0)


def add_detection_noise(
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    noise: NoiseModel = OFFICIAL_NOISE,
    *,
    share_jitter: bool = True,
) -> torch.Tensor:
    """The official detection-noise augmentation of a batch of normalised 2-D clips.

    Args:
        x: ``[B, T, 17, C]`` normalised joints, ``C >= 2``; only x, y are used (a
            confidence channel, if any, is replaced).
        generator: the random stream (``None`` = torch's global RNG, the official behaviour).
        noise: the model parameters (default: the official tables).
        share_jitter: share the per-frame jitter across the batch (official).

    Returns:
        ``[B, T, 17, 3]`` = ``(x + Δx, y + Δy, c)``.
    """
    _check_xy(x, "x")
    B, T = x.shape[:2]
    delta = sample_detection_offsets(B, T, generator, noise, share_jitter=share_jitter, device=x.device)
    conf = offset_confidence(delta, generator, noise)
    return torch.cat((x[..., :2] + delta.to(x.dtype), conf[..., None].to(x.dtype)), dim=-1)


def mask_joints_and_frames(
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    mask_ratio: float = 0.05,
    mask_T_ratio: float = 0.1,
    *,
    share_frame_mask: bool = True,
) -> torch.Tensor:
    """Randomly drop joints and whole frames (DATA.md §5.4): all channels set to 0.

    Args:
        x: ``[B, T, 17, C]`` normalised joints with confidence.
        generator: the random stream (``None`` = torch's global RNG).
        mask_ratio: probability of dropping one (sample, frame, joint) (official 0.05).
        mask_T_ratio: probability of dropping a frame (official 0.1).
        share_frame_mask: the official frame mask is one ``[T]`` draw shared by the whole
            batch (DEVIATIONS D-E9); ``False`` draws it per sample.

    Returns:
        ``[B, T, 17, C]`` with dropped entries zeroed (a new tensor). As officially, nothing
        is dropped unless both ratios are positive.
    """
    _check_xy(x, "x")
    for name, p in (("mask_ratio", mask_ratio), ("mask_T_ratio", mask_T_ratio)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1], got {p}")
    if mask_ratio <= 0 or mask_T_ratio <= 0:
        return x.clone()
    B, T, J = x.shape[:3]
    kw = {"generator": generator, "device": x.device}
    keep_joint = torch.rand(B, T, J, **kw) >= mask_ratio  # [B, T, J]
    keep_frame = torch.rand(1 if share_frame_mask else B, T, **kw) >= mask_T_ratio  # [1|B, T]
    keep = keep_joint & keep_frame[..., None]
    return x * keep[..., None].to(x.dtype)
