"""A video camera's rotation over time, estimated from the background (OpenCV camera frames: x
right, y down, z forward).

The pipeline recovers a body in each frame's camera coordinates. When the camera pans or tilts, a
world trajectory built from those coordinates inherits the camera's rotation; ``R[t]`` from
:func:`estimate_rotations` undoes it: ``d_cam0 = R[t] @ d_cam_t`` for directions.

Only rotation is recovered. A travelling camera's translation is not (its rotation still is: the
parallax between near and far background then acts as noise, which the robust weights and the
frequent keyframes absorb for moderate motion).

Method: direct image alignment rather than tracked corners, because the background behind a person
is often weak in texture (a floor, a wall: soft shading and faint seams that a corner tracker loses)
while the person's shadow, which moves with them, has the strongest corners of all. A pure rotation
``Q`` maps one frame's pixels onto another's through the homography ``K Q K^-1`` whatever the depth,
so three numbers explain the whole background. On a copy downscaled to ``max_side`` pixels:

1. a *keyframe* gives sample pixels: the strongest brightness gradients of each cell of a grid
   (spread over the picture, so that no single structure dominates), at four pyramid levels; the
   person's box (every person's, with several), enlarged by a margin, is NaN in every image and so
   gives no samples;
2. each frame is aligned to the keyframe by inverse-compositional Gauss-Newton over the three
   rotation parameters and a brightness offset, coarse to fine, from the previous frame's rotation.
   Residuals are divided by the gradient (about pixels of misalignment, so a faint but wide texture
   is not outvoted by a few strong edges) and Huber-weighted (what moves on its own, such as the
   shadow or other people, counts little). Coarse levels carry a weak prior towards the start, so a
   direction that a level cannot see (blur erases faint texture) is left to the finer levels;
3. ``R[t] = R[key] @ Q^T``. A new keyframe is taken when fewer than ``REKEY_FRACTION`` of the
   keyframe's samples still agree; measuring against a keyframe rather than the previous frame keeps
   small errors from adding up frame by frame;
4. optionally, the focal length: the kept keyframe/frame pairs are aligned again under candidate
   focal lengths, and the one under which a pure rotation explains them best is measured
   (:meth:`RotationTracker.estimate_focal`).

Steps 1 and 2 are :mod:`diffmesh.geometry.rotation_alignment` (the pyramid, the samples, the aligner).

A frame whose alignment fails (fewer than ``min_points`` agreeing samples, or under half of those in
view: too little background, or a pan faster than about 3 degrees per frame at a 65-degree field of
view) also tries the guess that continues the last step, then holds the previous rotation (one
warning per video, with counts). ``person_boxes`` matter: an unmasked person whom the camera follows
says "no rotation" with the strongest texture of the picture.

OpenCV is imported lazily (``pip install 'diffmesh[video]'``); PyAV only for
:func:`camera_rotations_from_video`. Speed: about 300 frames per second on one core at 640x480
input (decoding not counted).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from diffmesh.geometry.rotation_alignment import Aligner, Pyramid, median
from diffmesh.geometry.vanishing import SceneLines

logger = logging.getLogger(__name__)

__all__ = ["CameraMotion", "RotationTracker", "estimate_rotations", "camera_rotations_from_video", "rotation_angles_deg"]

#: Below this largest rotation (degrees) over the video the camera counts as static.
STATIC_MAX_DEG = 0.3
#: Fewest agreeing background samples (pixels of the finest level) for a frame's rotation to count.
MIN_POINTS = 100
#: An alignment fails when fewer than this fraction of the samples in view agree (a good one: over 80 %).
MIN_AGREE_FRACTION = 0.5
#: A new keyframe is taken when fewer than this fraction of its samples agree (out of view, occluded or changed).
REKEY_FRACTION = 0.6

#: Focal length from the rotation (:meth:`RotationTracker.estimate_focal`): per keyframe, the frame
#: turned furthest from it within these angles (degrees; beyond, alignment from a wrong focal length
#: can fail) is kept as a pair, at most :data:`FOCAL_PAIRS` pairs (the largest turns).
FOCAL_PAIR_DEG = (1.5, 8.0)
FOCAL_PAIRS = 12
#: Candidate focal lengths: the assumed one times these factors.
FOCAL_FACTORS = tuple(float(f) for f in np.exp(np.linspace(np.log(0.4), np.log(8.0), 27)))
#: A focal length is measured only when its alignment cost is below this fraction of the cost at
#: both ends of the candidates' range (a clear minimum), from at least :data:`FOCAL_MIN_PAIRS` pairs.
FOCAL_CLEAR_MINIMUM = 0.95
FOCAL_MIN_PAIRS = 3
#: The scene's lines (:mod:`diffmesh.geometry.vanishing`) are gathered from frames turned less than
#: this (degrees) from frame 0, so that they share its axes.
SCENE_MAX_TURN_DEG = 1.0

Progress = Callable[[str, int, int], None]


@dataclass
class CameraMotion:
    """A camera's rotation per frame.

    Attributes:
        rotations: ``[N, 3, 3]`` float64: frame ``t`` camera → frame 0 camera (``rotations[0] = I``);
            directions ``d_cam0 = rotations[t] @ d_cam_t``.
        tracked: ``[N]`` int: background samples (pixels of the downscaled frame) that agreed with
            frame ``t``'s rotation; 0 for frame 0 and for a frame whose alignment failed and which
            holds the rotation of frame ``t - 1``.
        static: no rotation exceeds ``STATIC_MAX_DEG`` (or the threshold passed to
            :func:`estimate_rotations`). A video with no usable background also reads static:
            ``tracked`` tells the two apart.
        focal_px: the focal length measured (:meth:`RotationTracker.result` with
            ``estimate_focal=True``; ``rotations`` are then those of this focal length), or None.
        focal_from: how: ``"turn"`` (the camera's rotation) or ``"lines"`` (the scene's lines); "" if not.
        scene_axes: ``[3, 3]`` rows: three orthogonal scene directions in frame 0's camera axes, one of
            them vertical, from the background's vanishing points (:class:`~diffmesh.geometry.vanishing.SceneAxes`),
            or None; ``scene_focal_px`` the focal length they were found with.
        scene_points: ``[M, 3]`` the background's vanishing points (homogeneous pixels, one per family of
            parallel lines, :func:`~diffmesh.geometry.vanishing.directions` turns them into directions), or None.
    """

    rotations: np.ndarray
    tracked: np.ndarray
    static: bool
    focal_px: float | None = None
    focal_from: str = ""
    scene_axes: np.ndarray | None = None
    scene_focal_px: float | None = None
    scene_points: np.ndarray | None = None

    def angles_deg(self) -> np.ndarray:
        """``[N]`` the rotation angle of each ``rotations[t]`` in degrees (0 for frame 0)."""
        return rotation_angles_deg(self.rotations)

    def to_arrays(self, prefix: str = "camera_") -> dict[str, np.ndarray]:
        """Named arrays (for a stage cache); :meth:`from_arrays` reads them back."""
        nan = lambda x: np.nan if x is None else x  # noqa: E731
        return {f"{prefix}rotations": self.rotations, f"{prefix}tracked": self.tracked,
                f"{prefix}static": np.array(self.static), f"{prefix}focal_px": np.array(nan(self.focal_px)),
                f"{prefix}focal_from": np.array(self.focal_from), f"{prefix}scene_focal_px": np.array(nan(self.scene_focal_px)),
                f"{prefix}scene_axes": np.full((3, 3), np.nan) if self.scene_axes is None else self.scene_axes,
                f"{prefix}scene_points": np.zeros((0, 3)) if self.scene_points is None else self.scene_points}  # fmt: skip

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray], prefix: str = "camera_") -> CameraMotion | None:
        """The motion stored by :meth:`to_arrays` in ``a``, or None when ``a`` holds none."""
        if f"{prefix}rotations" not in a:
            return None
        def number(key: str) -> float | None:
            x = float(a[f"{prefix}{key}"]) if f"{prefix}{key}" in a else float("nan")
            return None if np.isnan(x) else x

        focal = number("focal_px")
        focal_from = str(a[f"{prefix}focal_from"]) if f"{prefix}focal_from" in a else ("turn" if focal is not None else "")
        axes = a.get(f"{prefix}scene_axes")
        axes = None if axes is None or not np.isfinite(axes).all() else np.asarray(axes, np.float64)
        points = a.get(f"{prefix}scene_points")
        points = None if points is None or not len(points) else np.asarray(points, np.float64)
        return cls(a[f"{prefix}rotations"], a[f"{prefix}tracked"], bool(a[f"{prefix}static"]), focal, focal_from, axes,
                   number("scene_focal_px"), points)  # fmt: skip


def rotation_angles_deg(rotations: np.ndarray) -> np.ndarray:
    """``[..., 3, 3]`` rotation matrices → ``[...]`` their angles in degrees (accurate near 0 and 180)."""
    R = np.asarray(rotations, dtype=np.float64)
    cos = (np.trace(R, axis1=-2, axis2=-1) - 1.0) / 2.0
    axis = np.stack([R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]], axis=-1)
    return np.degrees(np.arctan2(np.linalg.norm(axis, axis=-1) / 2.0, cos))


def require_cv2() -> ModuleType:
    """OpenCV, imported on first use, or one clear ImportError (the camera measurements need it)."""
    try:
        import cv2
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "estimating camera motion needs OpenCV: pip install 'diffmesh[video]' "
            "(or pip install opencv-python-headless)"
        ) from err
    return cv2


def _check_intrinsics(K: np.ndarray) -> np.ndarray:
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3) or not np.all(np.isfinite(K)) or K[0, 0] <= 0 or K[1, 1] <= 0:
        detail = f" with diagonal {np.diag(K).tolist()}" if K.shape == (3, 3) else ""
        raise ValueError(
            f"K must be a finite [3, 3] pinhole intrinsics matrix with positive focal lengths, "
            f"got shape {list(K.shape)}{detail}"
        )
    return K


def _check_boxes(person_boxes: np.ndarray | None) -> np.ndarray | None:
    if person_boxes is None:
        return None
    boxes = np.asarray(person_boxes, dtype=np.float64)
    if boxes.ndim not in (2, 3) or boxes.shape[-1] != 4:
        raise ValueError(
            "person_boxes must be [N, 4] (x0, y0, x1, y1 pixels per frame, NaN rows for none) or [N, B, 4] "
            f"(B boxes per frame, several people), got shape {list(boxes.shape)}"
        )
    return boxes[:, None] if boxes.ndim == 2 else boxes  # [N, B, 4]


def _check_frame(frame: np.ndarray, index: int, size: tuple[int, int] | None) -> None:
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        desc = f"{frame.dtype} {list(frame.shape)}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise ValueError(f"frame {index} must be an RGB uint8 [H, W, 3] array, got {desc}")
    if min(frame.shape[:2]) < 16:
        raise ValueError(f"frame {index} is {frame.shape[1]}x{frame.shape[0]} pixels; pass frames of at least 16x16")
    if size is not None and (frame.shape[1], frame.shape[0]) != size:
        raise ValueError(
            f"frame {index} is {frame.shape[1]}x{frame.shape[0]} but frame 0 was {size[0]}x{size[1]}; "
            "pass the frames of one video"
        )


def estimate_rotations(
    frames: Iterable[np.ndarray],
    K: np.ndarray,
    person_boxes: np.ndarray | None = None,
    *,
    max_side: int = 320,
    min_points: int = MIN_POINTS,
    static_deg: float = STATIC_MAX_DEG,
) -> CameraMotion:
    """Each frame's camera rotation relative to frame 0, from the background (see the module docstring).

    Translation is out of scope: a travelling camera's translation is not recovered (its rotation
    still is). The result is deterministic. :class:`RotationTracker` does the same one frame at a
    time (the video pipeline runs it inside its keypoint pass).

    Args:
        frames: RGB ``uint8 [H, W, 3]`` frames of one video, in order (any iterable: streamed).
        K: ``[3, 3]`` intrinsics of the full-size frames (pixels, centres at integers).
        person_boxes: ``[N, 4]`` ``x0, y0, x1, y1`` pixels per frame, NaN rows where no person, or
            ``[N, B, 4]``: ``B`` boxes per frame (several people; NaN boxes are skipped); these
            boxes, enlarged by a margin, are kept out of the background. None: no masking.
        max_side: frames are downscaled to this many pixels on the long side first (speed).
        min_points: fewest agreeing background samples (of about 1800 at 320x240 on a textured
            background) for a frame's rotation to be measured; a frame with fewer holds the previous
            rotation.
        static_deg: ``CameraMotion.static`` when no rotation exceeds this angle (degrees).

    Returns:
        :class:`CameraMotion` with one rotation per frame.

    Raises:
        ValueError: ``K`` is not a [3, 3] intrinsics matrix, ``person_boxes`` is not [N, (B,) 4] or its
            row count differs from the frame count, a frame is not RGB uint8 or changes size, or
            ``frames`` is empty.
    """
    boxes = _check_boxes(person_boxes)
    if boxes is not None and isinstance(frames, Sized) and len(frames) != len(boxes):  # a list: fail before the work
        raise ValueError(f"person_boxes has {len(boxes)} rows for {len(frames)} frames; pass one row per frame")
    tracker = RotationTracker(K, max_side=max_side, min_points=min_points, static_deg=static_deg)
    for t, frame in enumerate(frames):
        if boxes is not None and t >= len(boxes):
            raise ValueError(f"person_boxes has {len(boxes)} rows but frames has more; pass one row per frame")
        tracker.add(frame, boxes[t] if boxes is not None else None)
    if boxes is not None and len(boxes) != tracker.num_frames:
        raise ValueError(f"person_boxes has {len(boxes)} rows for {tracker.num_frames} frames; pass one row per frame")
    return tracker.result()


class RotationTracker:
    """:func:`estimate_rotations` one frame at a time: :meth:`add` each frame in order (with the
    person boxes to keep out of the background), then :meth:`result`. Same arguments and errors, and
    ``scene_lines``: also gather the background's straight lines while the camera has not turned
    (:class:`~diffmesh.geometry.vanishing.SceneLines`), for the result's ``scene_axes`` and, with
    ``estimate_focal``, a focal length where the turn gives none (the keypoint pass asks for them)."""

    def __init__(self, K: np.ndarray, *, max_side: int = 320, min_points: int = MIN_POINTS,
                 static_deg: float = STATIC_MAX_DEG, scene_lines: bool = False) -> None:  # fmt: skip
        self.K = _check_intrinsics(K)
        if max_side < 32:
            raise ValueError(f"max_side must be at least 32 pixels, got {max_side}")
        if min_points < 1:
            raise ValueError(f"min_points must be at least 1, got {min_points}")
        self.cv2 = require_cv2()
        self.max_side, self.min_points, self.static_deg = max_side, min_points, static_deg
        self.rotations: list[np.ndarray] = []
        self.tracked: list[int] = []
        self.pyramid: Pyramid | None = None
        self.aligner: Aligner | None = None
        self.R_key = np.eye(3)
        self.Q = np.eye(3)  # keyframe rays → the last frame's rays
        self.step = np.eye(3)  # the last measured step: frame t - 1 rays → frame t rays
        self.held: list[tuple[int, int, int]] = []  # (frame, agreeing samples, samples in view) of frames not measured
        # for the focal length: each frame's keyframe and Q, keyframes' first frames, and image pairs
        self.key_of: list[int] = []
        self.q_of: list[np.ndarray] = []
        self.key_starts: list[int] = [0]
        self.key_images: list[np.ndarray] = []
        self.best: tuple[float, list[np.ndarray], np.ndarray] | None = None  # (angle, frame images, Q) of this keyframe
        self.pairs: list[tuple[float, list[np.ndarray], list[np.ndarray], np.ndarray]] = []  # (angle, key, frame, Q)
        # with scene_lines, the background's lines while the camera has not turned (SCENE_MAX_TURN_DEG)
        self.scene = SceneLines() if scene_lines else None

    @property
    def num_frames(self) -> int:
        return len(self.rotations)

    def add(self, frame: np.ndarray, boxes: np.ndarray | None = None) -> None:
        """The next frame (RGB ``uint8 [H, W, 3]``) and its person boxes (``[4]`` or ``[B, 4]`` pixels, NaN: none)."""
        t = len(self.rotations)
        _check_frame(frame, t, None if self.pyramid is None else self.pyramid.size)
        if boxes is not None:
            boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if self.pyramid is None:
            self.pyramid = Pyramid(self.cv2, frame.shape[1], frame.shape[0], self.max_side, self.K)
            self.aligner = Aligner(self.cv2, self.pyramid)
        aligner = self.aligner
        assert aligner is not None
        images = self.pyramid.build(frame, boxes)
        if t == 0:
            aligner.set_keyframe(images)
            self.key_images = images
            self.rotations.append(np.eye(3))
            self.tracked.append(0)
            self.key_of.append(0)
            self.q_of.append(np.eye(3))
            if self.scene is not None:
                self.scene.add(frame, boxes)
            return
        # Start from the previous frame's rotation; the guess that continues the last step is only
        # a fallback, since it runs away where the background pins one direction only (horizontal lines
        # and a pan).
        need = lambda seen: max(self.min_points, MIN_AGREE_FRACTION * seen)  # noqa: E731
        Q_new, agree, seen = aligner.align(images, self.Q)
        if agree < need(seen) and not np.array_equal(self.step, np.eye(3)):
            Q_new, agree, seen = aligner.align(images, self.step @ self.Q)
        measured = agree >= need(seen)
        if measured:
            self.step, self.Q = Q_new @ self.Q.T, Q_new
        else:  # hold the previous rotation; the new keyframe below starts afresh from this frame
            self.held.append((t, agree, seen))
        self.rotations.append(self.R_key @ self.Q.T)
        self.tracked.append(agree if measured else 0)
        if self.scene is not None and measured and float(rotation_angles_deg(self.rotations[-1])) < SCENE_MAX_TURN_DEG:
            self.scene.add(frame, boxes)
        self.key_of.append(len(self.key_starts) - 1)
        self.q_of.append(self.Q.copy())
        angle = float(rotation_angles_deg(self.Q))
        if measured and FOCAL_PAIR_DEG[0] <= angle <= FOCAL_PAIR_DEG[1] and (self.best is None or angle > self.best[0]):
            self.best = (angle, images, self.Q.copy())
        if not measured or agree < REKEY_FRACTION * aligner.num_samples:
            self._keep_pair()
            self.R_key, self.Q = _nearest_rotation(self.rotations[-1]), np.eye(3)
            aligner.set_keyframe(images)
            self.key_images = images
            self.key_starts.append(t)

    def _rechained(self, factor: float) -> np.ndarray:
        """``[N, 3, 3]`` the rotations with every frame's turn from its keyframe rescaled
        (:func:`_rescale_rotation`) and chained again as :meth:`add` chains them."""
        out = np.empty((len(self.rotations), 3, 3))
        starts = set(self.key_starts[1:])
        R_key = np.eye(3)
        for t, (k, Q) in enumerate(zip(self.key_of, self.q_of)):
            out[t] = R_key @ _rescale_rotation(Q, factor).T
            if t in starts:  # this frame became the next keyframe
                R_key = _nearest_rotation(out[t])
        return out

    def _keep_pair(self) -> None:
        """The current keyframe and its furthest-turned frame, for :meth:`estimate_focal`."""
        if self.best is not None:
            angle, frame_images, Q = self.best
            self.pairs.append((angle, self.key_images, frame_images, Q))
            self.pairs = sorted(self.pairs, key=lambda p: -p[0])[:FOCAL_PAIRS]
        self.best = None

    def estimate_focal(self) -> tuple[float | None, np.ndarray]:
        """The focal length (pixels) under which the kept frame pairs are best explained by a pure
        rotation, or None when no candidate is clearly best; and the cost of every candidate.

        A pure rotation maps one image onto another through ``K Q K^-1``. With the wrong focal length
        the rotation that lines up the middle of the picture misaligns its edges (perspective): the
        alignment cost (mean of the samples' misalignment, pixels, capped at 1) over the pairs is
        lowest at the true focal length. It can only be seen when the camera turns: a static camera,
        or one that turns less than :data:`FOCAL_PAIR_DEG` between keyframes, measures nothing.
        """
        self._keep_pair()
        pairs, costs = self.pairs, np.full(len(FOCAL_FACTORS), np.nan)
        if len(pairs) < FOCAL_MIN_PAIRS or self.pyramid is None:
            return None, costs
        cv2, (w, h) = self.cv2, self.pyramid.size
        for i, factor in enumerate(FOCAL_FACTORS):
            K = self.K.copy()
            K[0, 0] *= factor
            K[1, 1] *= factor
            aligner = Aligner(cv2, Pyramid(cv2, w, h, self.max_side, K))
            total = []
            for _, key_images, frame_images, Q in pairs:
                aligner.set_keyframe(key_images)
                Q_guess = _rescale_rotation(Q, 1.0 / factor)
                Q_fit, _, _ = aligner.align(frame_images, Q_guess)
                r = aligner._residual(frame_images[0], 0, Q_fit)
                ok = np.isfinite(r)
                if ok.sum() < self.min_points:
                    total.append(1.0)
                    continue
                dev = np.abs(r[ok] - median(r[ok])) * aligner.levels[0].to_px[ok]
                total.append(float(np.minimum(dev, 1.0).mean()))
            costs[i] = float(np.mean(total))
        k = int(np.argmin(costs))
        if k in (0, len(costs) - 1) or costs[k] > FOCAL_CLEAR_MINIMUM * min(costs[0], costs[-1]):
            return None, costs
        # parabola through the minimum and its neighbours, in log focal length
        x = np.log(np.array(FOCAL_FACTORS[k - 1 : k + 2]))
        a, b, _ = np.polyfit(x, costs[k - 1 : k + 2], 2)
        best = float(np.exp(np.clip(-b / (2 * a), x[0], x[2]))) if a > 0 else FOCAL_FACTORS[k]
        return float(self.K[0, 0] * best), costs

    def result(self, estimate_focal: bool = False) -> CameraMotion:
        """The rotations of every frame added so far (one warning when some frames could not be measured).

        ``estimate_focal``: also measure the focal length (:meth:`estimate_focal`); when one is
        measured, the rotations are re-derived for it (each frame's turn from its keyframe, whose
        pan and tilt scale inversely with the focal length while the roll does not, chained again).
        """
        if not self.rotations:
            raise ValueError("frames is empty; pass at least one RGB uint8 [H, W, 3] frame")
        rotations = np.stack(self.rotations)
        focal, focal_from = None, ""
        scene = None if self.scene is None else self.scene.result()
        if estimate_focal:
            focal, costs = self.estimate_focal()
            focal_from = "" if focal is None else "turn"
            if focal is None and scene is not None:
                focal, focal_from = scene.focal_px, "lines"
            if focal is not None:
                rotations = self._rechained(self.K[0, 0] / focal)
                logger.info("camera motion: focal length %.0f px measured from the %s (assumed %.0f px)", focal,
                            "camera's turn" if focal_from == "turn" else "scene's vanishing points", self.K[0, 0])  # fmt: skip
        found = [] if self.scene is None else self.scene.points()
        points = np.stack([v for v, _ in found]) if found else None
        motion = CameraMotion(rotations, np.asarray(self.tracked, dtype=np.int64), False, focal, focal_from,
                              None if scene is None else scene.axes, None if scene is None else scene.focal_px, points)  # fmt: skip
        motion.static = bool(motion.angles_deg().max() < self.static_deg)
        if self.held and len(self.held) == len(self.rotations) - 1 and all(seen < self.min_points for _, _, seen in self.held):
            # nothing measured and nothing to measure with (a plain wall, a blank video): not a doubt, a fact
            logger.info("camera motion: the background shows too little texture to measure the camera's turn in any "
                        "frame; the camera is taken as still (--static-camera skips the measurement)")  # fmt: skip
        elif self.held:
            t, agree, seen = self.held[0]
            logger.warning(
                "camera motion: %d of %d frames held the previous frame's rotation: too little background agreed "
                "with any rotation (first at frame %d: %d of %d background samples in view agreed; %d and half of "
                "those in view are needed)",
                len(self.held), len(self.rotations), t, agree, seen, self.min_points,
            )
        return motion


def _rescale_rotation(Q: np.ndarray, factor: float) -> np.ndarray:
    """``Q`` with its pan and tilt (rotation-vector x and y) scaled by ``factor`` and its roll (z) kept:
    the same image motion near the centre under a focal length ``1 / factor`` times the one ``Q`` was measured with."""
    import cv2

    w = cv2.Rodrigues(np.asarray(Q, np.float64))[0][:, 0]
    return cv2.Rodrigues(np.array([w[0] * factor, w[1] * factor, w[2]]))[0]


def _nearest_rotation(R: np.ndarray) -> np.ndarray:
    """The rotation nearest to ``R`` (removes the rounding that long products of rotations gather)."""
    U, _, Vt = np.linalg.svd(R)
    return U @ np.diag([1.0, 1.0, np.linalg.det(U @ Vt)]) @ Vt


def camera_rotations_from_video(
    path: str | os.PathLike[str],
    start: int,
    end: int,
    K: np.ndarray,
    person_boxes: np.ndarray | None = None,
    progress: Progress | None = None,
) -> CameraMotion:
    """:func:`estimate_rotations` on frames ``start <= index < end`` of a video file.

    Frames are decoded in the calling thread (``iter_frames(..., threads=1)``), one at a time.
    ``person_boxes`` has one row per decoded frame (``end - start`` rows); ``progress("camera",
    done, total)`` is called after each frame.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: not a video, a bad frame range, or the errors of :func:`estimate_rotations`.
    """
    from diffmesh.io.video import iter_frames

    total = end - start

    def images() -> Iterator[np.ndarray]:
        for done, frame in enumerate(iter_frames(path, start, end, threads=1), start=1):
            yield frame.image
            if progress is not None:
                progress("camera", done, total)

    return estimate_rotations(images(), K, person_boxes)
