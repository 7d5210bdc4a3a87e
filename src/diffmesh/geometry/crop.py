"""The square crop box that normalises 2-D keypoints for the networks (DATA.md §2.3, INFERENCE.md §2).

The official ``crop_scale``: one square box around every confident joint of a clip (all frames,
all persons), enlarged by a ratio, mapped to [−1, 1]². The readers (NTU, PoseTrack,
InstaVariety), the synthetic engine and the video pipeline all normalise with it.

- :class:`CropBox` — the box, with the pixel ↔ normalised maps;
- :func:`crop_box` — the box of a clip's keypoints;
- :func:`normalize_in_box` — keypoints mapped by a box, every channel clipped to [−1, 1];
- :func:`crop_scale` — the official normalisation: :func:`crop_box` (random ratio) + :func:`normalize_in_box`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["MIN_BOX_JOINTS", "CropBox", "crop_box", "crop_scale", "normalize_in_box"]

#: A box is only defined with at least this many joints of non-zero confidence.
MIN_BOX_JOINTS = 4


@dataclass(frozen=True)
class CropBox:
    """A square box in pixels: corner ``(x0, y0)``, side ``size``; it maps to [−1, 1]².

    ``x̃ = 2(x − x0)/size − 1``, ``ỹ = 2(y − y0)/size − 1``. The fields keep the scalar type of
    the keypoints they came from (float32 keypoints are normalised in float32, as officially).
    """

    x0: float
    y0: float
    size: float

    def normalize(self, xy: np.ndarray) -> np.ndarray:
        """Pixels ``[..., 2]`` → normalised ``[..., 2]`` (not clipped), in ``xy``'s float dtype."""
        xy = np.asarray(xy)
        dtype = xy.dtype if np.issubdtype(xy.dtype, np.floating) else np.float64
        # The official arithmetic, bit for bit: box corner -> 0, far corner -> 1, rounded to the
        # keypoints' dtype, then [0, 1] -> [-1, 1].
        unit = ((xy - np.array([self.x0, self.y0])) / self.size).astype(dtype, copy=False)
        return (unit - 0.5) * 2

    def denormalize(self, xy_norm: np.ndarray) -> np.ndarray:
        """Normalised ``[..., 2]`` → pixels ``[..., 2]`` (inverse of :meth:`normalize`)."""
        return (xy_norm + 1.0) * self.size / 2.0 + np.array([self.x0, self.y0])


def _check_keypoints(keypoints: np.ndarray, name: str) -> np.ndarray:
    keypoints = np.asarray(keypoints)
    if keypoints.ndim < 2 or keypoints.shape[-1] < 3:
        raise ValueError(
            f"{name} expects keypoints [..., J, 3] with confidence in channel 2, got shape {list(keypoints.shape)}"
        )
    return keypoints


def _confident_xy(keypoints: np.ndarray) -> np.ndarray:
    """``[K, 2]`` x, y of the joints with confidence ≠ 0 of ``[..., J, 3]`` keypoints."""
    return keypoints[keypoints[..., 2] != 0][:, :2]


def _square_box(xy: np.ndarray, ratio: float) -> CropBox:
    """The tight box of ``xy [K, 2]`` made square (``max(w, h)·ratio``) around its centre."""
    xmin, ymin = xy.min(axis=0)
    xmax, ymax = xy.max(axis=0)
    size = max(xmax - xmin, ymax - ymin) * ratio
    return CropBox(x0=(xmin + xmax - size) / 2, y0=(ymin + ymax - size) / 2, size=size)


def crop_box(keypoints: np.ndarray, ratio: float = 1.0) -> CropBox:
    """The normalisation box of a clip: the tight bounding square of all confident joints.

    Args:
        keypoints: ``[..., J, 3]`` pixel x, y and confidence (e.g. ``[T, 17, 3]``); joints with
            confidence 0 (undetected, dropped) do not count.
        ratio: the square's side over the tight box's longer side.

    Raises:
        ValueError: fewer than 4 confident joints, or all of them at one point.
    """
    xy = _confident_xy(_check_keypoints(keypoints, "crop_box"))
    if len(xy) < MIN_BOX_JOINTS:
        raise ValueError(
            f"crop_box needs at least {MIN_BOX_JOINTS} joints with confidence != 0, got {len(xy)}; "
            "pass keypoints [..., J, 3] whose channel 2 is the detection confidence"
        )
    box = _square_box(xy, ratio)
    if not box.size > 0:
        raise ValueError(
            f"crop_box: the confident joints span a box of size {box.size} px; they must not all lie at one point"
        )
    return box


def normalize_in_box(keypoints: np.ndarray, box: CropBox) -> np.ndarray:
    """Map x, y of ``[..., J, 3]`` keypoints by ``box`` and clip **every** channel to [−1, 1] (the
    second half of :func:`crop_scale`); returns the input's shape and float dtype."""
    keypoints = _check_keypoints(keypoints, "normalize_in_box")
    dtype = keypoints.dtype if np.issubdtype(keypoints.dtype, np.floating) else np.float64
    result = np.array(keypoints, dtype=dtype, copy=True)
    result[..., :2] = box.normalize(keypoints[..., :2])
    return np.clip(result, -1, 1)


def crop_scale(
    motion: np.ndarray,
    scale_range: Sequence[float] = (1.0, 1.0),
    rng: np.random.Generator | np.random.RandomState | None = None,
) -> np.ndarray:
    """Normalise 2-D keypoints into a square box around all confident joints (official ``crop_scale``).

    One box for the whole array (every frame and person): the tight box of the joints with
    confidence ≠ 0, enlarged by ``ratio ~ U(scale_range)`` to a square of side
    ``s = max(w, h)·ratio`` centred on it, mapped to [−1, 1]; then **every** channel (also the
    confidence) is clipped to [−1, 1] (DEVIATIONS D-E7). With ratio 1 and a valid box this is
    ``normalize_in_box(motion, crop_box(motion))``.

    Args:
        motion: ``[..., 17, 3]`` pixel x, y and confidence (e.g. ``[T, 17, 3]`` or ``[M, T, 17, 3]``).
        scale_range: ``(lo, hi)`` of the box ratio (NTU train (1, 3), test (2, 2); PoseTrack /
            InstaVariety (0.25, 1); in-the-wild (1, 1)).
        rng: random source of the ratio (``diffmesh.data.transforms.RandomSource``). Required
            when ``lo != hi``; when given, one draw is made even for a degenerate range (as the
            official code, which matters only to replay the global stream with
            ``official_global_rng()``).

    Returns:
        Array of the input's shape and float dtype; all zeros when fewer than 4 joints are
        confident or the box is degenerate.
    """
    motion = _check_keypoints(motion, "crop_scale")
    if len(scale_range) != 2 or scale_range[0] > scale_range[1]:
        raise ValueError(f"scale_range must be (lo, hi) with lo <= hi, got {tuple(scale_range)}")
    dtype = motion.dtype if np.issubdtype(motion.dtype, np.floating) else np.float64
    xy = _confident_xy(motion)
    if len(xy) < MIN_BOX_JOINTS:
        return np.zeros(motion.shape, dtype=dtype)
    if rng is not None:
        ratio = rng.uniform(low=scale_range[0], high=scale_range[1], size=1)[0]
    elif scale_range[0] == scale_range[1]:
        ratio = scale_range[0]
    else:
        raise ValueError(
            f"crop_scale with the random scale_range {tuple(scale_range)} needs rng= (a np.random.Generator, "
            "or diffmesh.data.transforms.official_global_rng() to replay the official draws)"
        )
    box = _square_box(xy, ratio)
    if box.size == 0:
        return np.zeros(motion.shape, dtype=dtype)
    return normalize_in_box(motion, box)
