"""Data transforms of the official code: dataset normalisations, clip slicing, resampling, action augmentation.

Pure functions on numpy arrays. Randomness comes from an
explicit ``rng`` (:class:`numpy.random.Generator`); to reproduce the official draws, which
use NumPy's *global* generator (seeded with 0 by every official dataset constructor), pass
:func:`official_global_rng` after ``np.random.seed(0)``: every function here makes its draws
in the official order and with the official calls (``uniform``, ``randint``, ``random``).

Spec: DATA.md §2 (normalisations), §4 (clips), §5.5 (action augmentation). The model-input
conventions every dataset shares live in :mod:`diffmesh.geometry`: flips
(:mod:`diffmesh.geometry.flip`) and the crop box / ``crop_scale`` (:mod:`diffmesh.geometry.crop`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Union

import numpy as np

logger = logging.getLogger(__name__)

__all__ = [
    "RandomSource",
    "official_global_rng",
    "resample",
    "split_clips",
    "H36M_CAMERA_RESOLUTION",
    "h36m_camera_resolution",
    "normalize_screen",
    "denormalize_screen",
    "normalize_square",
    "PW3D_RESOLUTION",
    "COCO_RESOLUTION",
    "make_cam",
    "AMASS_SCALE",
    "amass_to_camera",
    "random_move",
    "human_tracking",
]

#: A NumPy random source: a ``Generator`` (recommended) or a legacy ``RandomState``
#: (e.g. :func:`official_global_rng` to replay the official global-RNG draws).
RandomSource = Union[np.random.Generator, np.random.RandomState]


def official_global_rng() -> np.random.RandomState:
    """NumPy's global ``RandomState`` (the one ``np.random.seed`` seeds), as the official code uses.

    Passing it as ``rng`` reproduces the official random draws bit for bit (same calls, same
    order); use a :class:`numpy.random.Generator` for anything new.
    """
    return np.random.mtrand._rand


def _integers(rng: RandomSource, high: int, size: int | tuple[int, ...]) -> np.ndarray:
    # ``randint`` is the legacy name; keep it for RandomState so the global stream matches.
    if isinstance(rng, np.random.RandomState):
        return rng.randint(high, size=size)
    return rng.integers(high, size=size)


# ---------------------------------------------------------------------------------------------
# Temporal resampling and clip slicing (DATA.md §4)


def resample(
    ori_len: int,
    target_len: int,
    replay: bool = False,
    rng: RandomSource | None = None,
) -> np.ndarray:
    """Frame indices that resample a sequence of ``ori_len`` frames to ``target_len`` (official ``resample``).

    Args:
        ori_len: number of frames available (> 0).
        target_len: number of indices wanted (> 0).
        replay: random crop if longer, cyclic repetition if shorter (unused officially).
        rng: ``None`` → the deterministic variant ``floor(linspace(0, ori_len, target_len,
            endpoint=False))`` (the official ``randomness=False``); a random source → the
            official random variant (each evenly spaced position rounded down/up at random
            when upsampling, jittered within its interval when downsampling).

    Returns:
        ``[target_len]`` int64 indices in ``[0, ori_len - 1]``.
    """
    if ori_len <= 0 or target_len <= 0:
        raise ValueError(f"resample needs ori_len > 0 and target_len > 0, got {ori_len} and {target_len}")
    if replay:
        if ori_len > target_len:
            start = 0 if rng is None else int(_integers(rng, ori_len - target_len, size=None))
            return np.arange(start, start + target_len, dtype=np.int64)
        return np.arange(target_len, dtype=np.int64) % ori_len
    if rng is None:
        return np.linspace(0, ori_len, num=target_len, endpoint=False, dtype=np.int64)
    even = np.linspace(0, ori_len, num=target_len, endpoint=False)
    if ori_len < target_len:
        low, high = np.floor(even), np.ceil(even)
        sel = _integers(rng, 2, size=even.shape)
        result = np.sort(sel * low + (1 - sel) * high)
    else:
        interval = ori_len / target_len  # = even[1] - even[0], also defined for target_len == 1
        result = rng.random(even.shape) * interval + even
    # uint32 truncation in the official code; indices are non-negative so int64 is the same.
    return np.clip(result, a_min=0, a_max=ori_len - 1).astype(np.int64)


def split_clips(
    video_ids: Sequence | np.ndarray,
    n_frames: int,
    stride: int,
    rng: RandomSource | None = None,
) -> np.ndarray:
    """Cut a flat per-frame table into fixed-length clips that never cross videos (official ``split_clips``).

    Behaviour (DATA.md §4.1): within each run of equal consecutive ids, windows start at the
    run's first frame and every ``stride`` frames while they fit; trailing frames are dropped;
    a run shorter than ``n_frames`` gets one window from :func:`resample` — unless it is the
    last run of the table or its id already produced a clip (both dropped, as officially).

    Args:
        video_ids: ``[N]`` per-frame video ids (any comparable values, e.g. strings).
        n_frames: clip length.
        stride: step between window starts within a video.
        rng: random source for resampling short videos; ``None`` (default) resamples them
            deterministically (DEVIATIONS D-E3; the official code always draws from the global
            RNG — pass :func:`official_global_rng` to replay that).

    Returns:
        ``[n_clips, n_frames]`` int64 row indices into the flat table, in table order. Slice
        data lazily with it (``table[clips[i]]``) instead of materialising all clips.
    """
    if n_frames <= 0 or stride <= 0:
        raise ValueError(f"split_clips needs n_frames > 0 and stride > 0, got {n_frames} and {stride}")
    ids = np.asarray(video_ids)
    if ids.ndim != 1:
        raise ValueError(f"video_ids must be a flat [N] sequence, got shape {list(ids.shape)}")
    n = len(ids)
    if n == 0:
        return np.zeros((0, n_frames), dtype=np.int64)
    starts = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    run_starts = np.concatenate(([0], starts))
    run_ends = np.concatenate((starts, [n]))
    offsets = np.arange(n_frames, dtype=np.int64)
    clips: list[np.ndarray] = []
    saved: set = set()
    num_resampled = 0
    for r, (a, b) in enumerate(zip(run_starts.tolist(), run_ends.tolist())):
        vid = ids[a].item() if hasattr(ids[a], "item") else ids[a]
        length = b - a
        if length >= n_frames:
            window_starts = np.arange(a, b - n_frames + 1, stride, dtype=np.int64)
            clips.append(window_starts[:, None] + offsets)  # [k, n_frames]
            saved.add(vid)
        elif r < len(run_starts) - 1 and vid not in saved:
            clips.append((resample(length, n_frames, rng=rng) + a)[None])
            saved.add(vid)
            num_resampled += 1
    if num_resampled:
        logger.debug("split_clips: %d videos shorter than %d frames were resampled", num_resampled, n_frames)
    if not clips:
        return np.zeros((0, n_frames), dtype=np.int64)
    return np.concatenate(clips, axis=0)


# ---------------------------------------------------------------------------------------------
# Coordinate normalisations (DATA.md §2)

#: Image (width, height) of the four Human3.6M cameras.
H36M_CAMERA_RESOLUTION: dict[str, tuple[int, int]] = {
    "54138969": (1000, 1002),
    "60457274": (1000, 1002),
    "55011271": (1000, 1000),
    "58860488": (1000, 1000),
}

#: Square "resolution" r of the 3DPW and COCO mesh files (x̃ = 2x/r − 1 for both axes).
PW3D_RESOLUTION = 1920
COCO_RESOLUTION = 640


def h36m_camera_resolution(camera_names: Sequence[str] | np.ndarray) -> np.ndarray:
    """Per-frame ``[N, 2]`` (width, height) of Human3.6M camera ids.

    Raises:
        ValueError: naming the first unknown camera id and its row.
    """
    names = np.asarray(camera_names).astype(str)
    out = np.zeros((len(names), 2), dtype=np.float64)
    for cam, (w, h) in H36M_CAMERA_RESOLUTION.items():
        out[names == cam] = (w, h)
    bad = np.flatnonzero(out[:, 0] == 0)
    if len(bad):
        raise ValueError(
            f"row {bad[0]} has camera_name {str(names[bad[0]])!r}; expected one of "
            f"{sorted(H36M_CAMERA_RESOLUTION)} (the Human3.6M camera ids)"
        )
    return out


def normalize_screen(joints: np.ndarray, res_w: np.ndarray | float, res_h: np.ndarray | float) -> np.ndarray:
    """Pixel → normalised screen coordinates, both axes divided by the **width** (DATA.md §2.1).

    ``x̃ = 2x/w − 1``, ``ỹ = 2y/w − h/w``; a third channel (depth of ``joint3d_image``) becomes
    ``z̃ = 2z/w``; further channels are dropped.

    Args:
        joints: ``[N, J, 2]`` or ``[N, J, 3]``.
        res_w, res_h: per-row ``[N]`` widths/heights or scalars.

    Returns:
        Float32 ``[N, J, C]`` (C = 2 or 3).
    """
    joints = np.asarray(joints, dtype=np.float32)
    if joints.ndim != 3 or joints.shape[-1] < 2:
        raise ValueError(f"normalize_screen expects [N, J, 2 or 3] pixels, got shape {list(joints.shape)}")
    c = min(joints.shape[-1], 3)
    w = np.broadcast_to(np.asarray(res_w, dtype=np.float32), (len(joints),))[:, None, None]
    h = np.broadcast_to(np.asarray(res_h, dtype=np.float32), (len(joints),))[:, None, None]
    out = joints[..., :c] / w * 2  # [N, J, C]
    out[..., 0:1] -= 1
    out[..., 1:2] -= h / w
    return out


def denormalize_screen(joints: np.ndarray, res_w: np.ndarray | float, res_h: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`normalize_screen`: ``x = (x̃+1)w/2``, ``y = (ỹ+h/w)w/2``, ``z = z̃·w/2``.

    Args:
        joints: ``[..., J, 2 or 3]`` with ``res_w``/``res_h`` broadcastable to the leading dims
            (e.g. per-clip ``[n_clips, 1, 1, 1]``) or scalars.

    Returns:
        Float64 array of the same shape (pixels, and pixel-proportional depth).
    """
    data = np.array(joints, dtype=np.float64, copy=True)
    w = np.asarray(res_w, dtype=np.float64)
    h = np.asarray(res_h, dtype=np.float64)
    data[..., 0:1] = (data[..., 0:1] + 1) * w / 2
    data[..., 1:2] = (data[..., 1:2] + h / w) * w / 2
    data[..., 2:] = data[..., 2:] * w / 2
    return data


def normalize_square(joints: np.ndarray, resolution: float) -> np.ndarray:
    """Pixel → ``2x/r − 1`` for x and y with a fixed square resolution ``r`` (3DPW 1920, COCO 640; DATA.md §2.2).

    Args:
        joints: ``[..., 2]`` pixel coordinates.

    Returns:
        Float32 array of the same shape.
    """
    joints = np.asarray(joints, dtype=np.float32)
    return joints / np.float32(resolution) * 2 - 1


def make_cam(x: np.ndarray, img_shape: Sequence[int]) -> np.ndarray:
    """NTU pixel normalisation (official ``make_cam``, DATA.md §2.4): divide by the longer side.

    Args:
        x: ``[..., 2]`` pixel coordinates.
        img_shape: ``(height, width)``.

    Returns:
        ``2x/max(h, w) − 1`` for both coordinates (float64).
    """
    h, w = img_shape
    return np.asarray(x, dtype=np.float64) / (w if w >= h else h) * 2 - 1


#: AMASS world metres → the pseudo camera units of the official AMASS clips (DATA.md §2.5).
AMASS_SCALE = 0.298


def amass_to_camera(joints_world: np.ndarray) -> np.ndarray:
    """AMASS world joints (metres, z up) → pseudo camera frame ``(X, −Z, Y)·0.298`` (no centring).

    Args:
        joints_world: ``[..., 3]``.

    Returns:
        Float32 ``[..., 3]``: x right, y down, z = the world's forward axis.
    """
    joints_world = np.asarray(joints_world)
    if joints_world.shape[-1] != 3:
        raise ValueError(f"amass_to_camera expects [..., 3] world joints, got shape {list(joints_world.shape)}")
    x, y, z = joints_world[..., 0], joints_world[..., 1], joints_world[..., 2]
    return (np.stack((x, -z, y), axis=-1) * AMASS_SCALE).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Action-recognition pre-processing (DATA.md §5.5)


def random_move(
    motion: np.ndarray,
    rng: RandomSource,
    angle_range: tuple[float, float] = (-10.0, 10.0),
    scale_range: tuple[float, float] = (0.9, 1.1),
    translate_range: tuple[float, float] = (-0.1, 0.1),
) -> np.ndarray:
    """Smoothly varying 2-D similarity transform over time (official ``random_move``).

    Draws two values each of the rotation angle (degrees), scale, x and y translation (in that
    order, as the official code), interpolates each linearly from the first to the last frame
    and applies ``[[s cos a, −s sin a], [s sin a, s cos a]]·(x, y) + (tx, ty)`` to every joint
    of every person.

    Args:
        motion: ``[M, T, J, C]`` with x, y in channels 0, 1 (other channels unchanged).
        rng: random source.

    Returns:
        A transformed copy (float64).
    """
    motion = np.array(motion, dtype=np.float64, copy=True)
    if motion.ndim != 4 or motion.shape[-1] < 2:
        raise ValueError(f"random_move expects [M, T, J, C>=2], got shape {list(motion.shape)}")
    t = motion.shape[1]
    a_end = rng.uniform(angle_range[0], angle_range[1], 2)
    s_end = rng.uniform(scale_range[0], scale_range[1], 2)
    tx_end = rng.uniform(translate_range[0], translate_range[1], 2)
    ty_end = rng.uniform(translate_range[0], translate_range[1], 2)
    a = np.linspace(a_end[0], a_end[1], t) * np.pi / 180  # [T]
    s = np.linspace(s_end[0], s_end[1], t)
    tx = np.linspace(tx_end[0], tx_end[1], t)
    ty = np.linspace(ty_end[0], ty_end[1], t)
    cos, sin = np.cos(a) * s, np.sin(a) * s  # [T]
    x, y = motion[..., 0].copy(), motion[..., 1].copy()  # [M, T, J]
    motion[..., 0] = cos[:, None] * x - sin[:, None] * y + tx[:, None]
    motion[..., 1] = sin[:, None] * x + cos[:, None] * y + ty[:, None]
    return motion


def human_tracking(x: np.ndarray) -> np.ndarray:
    """Fix identity swaps between two persons (official ``human_tracking``, NTU).

    Per frame ``t ≥ 1``, person 0 is considered swapped when its summed joint displacement from
    its own previous position exceeds that to person 1's previous position; the cumulative
    parity of these decisions selects which detection becomes person 0.

    Args:
        x: ``[M, T, J, C]``; returned unchanged unless ``M == 2``.

    Returns:
        ``[M, T, J, C]``.
    """
    if x.shape[0] != 2:
        return x
    diff0 = np.sum(np.linalg.norm(x[0, 1:] - x[0, :-1], axis=-1), axis=-1)  # [T-1]
    diff1 = np.sum(np.linalg.norm(x[0, 1:] - x[1, :-1], axis=-1), axis=-1)
    sel = (np.cumsum(diff0 > diff1) % 2)[:, None, None]  # [T-1, 1, 1] 1 = swapped
    out = np.zeros(x.shape)
    out[:, 0] = x[:, 0]
    out[0, 1:] = x[1, 1:] * sel + x[0, 1:] * (1 - sel)
    out[1, 1:] = x[0, 1:] * sel + x[1, 1:] * (1 - sel)
    return out
