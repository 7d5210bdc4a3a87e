"""The focal length and the scene's axes from the straight lines of a static camera's background.

Floors, walls, tiles, boards and furniture are full of straight lines along a few orthogonal
directions. The images of parallel lines meet at a *vanishing point* ``v``; the direction they run
along, in the camera's axes, is ``K^-1 v``. Two vanishing points of orthogonal directions fix the
focal length (with the principal point at the image centre, ``(v1 - c)·(v2 - c) = -f²``) and, with
it, all three of the scene's axes, one of which is vertical: the floor normal, seen directly
instead of inferred from the bodies' lean.

* :func:`line_segments`: OpenCV's line segment detector on a grey image, people masked out;
* :func:`vanishing_points`: the strongest vanishing points of a set of segments (RANSAC on pairs of
  segments, refined by least squares on the supporting ones);
* :func:`calibrate`: the best-supported pair of vanishing points that can be orthogonal → focal
  length and the orthogonal triad of scene directions (:class:`SceneAxes`);
* :class:`SceneLines`: collects segments over a static video's frames (the camera measurement feeds
  it, :mod:`diffmesh.geometry.camera_motion`).

Which of the three axes is "up" is for the caller to decide (the world stage takes the one
closest to the bodies' own up, :mod:`diffmesh.pipelines.world`). Images without two such line
families (a plain room, outdoors on grass) give no axes; a single family still gives its direction
once the focal length is known from elsewhere (:func:`directions`: the camera's turn, ``--focal``),
and a family of vertical lines (wall edges, door frames, stripes) is then the floor's normal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ANGLE_TOL_DEG", "MIN_BALANCE", "MIN_LINES", "MIN_SEGMENT_PX", "SceneAxes", "SceneLines", "calibrate", "directions",
           "line_segments", "nearest_axis", "vanishing_points"]  # fmt: skip

#: Segments shorter than this (pixels) are ignored.
MIN_SEGMENT_PX = 25.0
#: A segment supports a vanishing point when the line from its midpoint to it is within this angle (degrees).
ANGLE_TOL_DEG = 1.5
#: A vanishing point needs this many supporting segments to be used.
MIN_LINES = 8
#: The weaker vanishing point of a pair needs at least this fraction of the stronger one's segments:
#: a lone family of lines (boards, stripes) beside a few stray segments makes a spurious pair. On
#: the rendered benchmarks the wrong pairs had 6-9 %, the right ones 10-100 %.
MIN_BALANCE = 0.15
#: Accepted focal lengths, as multiples of the image's larger side.
FOCAL_RANGE = (0.3, 4.0)
#: A person's box is widened by this fraction of its height on each side before its segments are dropped.
PERSON_MARGIN = 0.3


@dataclass
class SceneAxes:
    """What a static scene's lines say about the camera.

    Attributes:
        focal_px: the focal length (pixels; the principal point at the image centre).
        axes: ``[3, 3]`` rows: three orthogonal unit directions of the scene in the camera's axes (x
            right, y down, z forward); one of them is vertical.
        lines: segments supporting the weaker of the two vanishing points used.
    """

    focal_px: float
    axes: np.ndarray
    lines: int


def nearest_axis(axes: np.ndarray, guess: np.ndarray) -> tuple[np.ndarray, float]:
    """The row of ``axes [K, 3]`` (unit directions) closest to ``guess`` (either sign), turned to its
    side, and the angle between them (degrees)."""
    g = np.asarray(guess, np.float64) / np.linalg.norm(guess)
    cos = np.asarray(axes, np.float64) @ g
    k = int(np.argmax(np.abs(cos)))
    return axes[k] * np.sign(cos[k]), float(np.degrees(np.arccos(min(1.0, abs(cos[k])))))


def line_segments(gray: np.ndarray, boxes: np.ndarray | None = None, min_length: float = MIN_SEGMENT_PX) -> np.ndarray:
    """``[M, 4]`` segments ``(x0, y0, x1, y1)`` (pixels) of a grey ``uint8`` image, those whose midpoint
    lies in a person's box (``[P, 4]`` x0, y0, x1, y1, widened by :data:`PERSON_MARGIN`) left out."""
    import cv2

    found = cv2.createLineSegmentDetector().detect(np.ascontiguousarray(gray))[0]
    if found is None:
        return np.zeros((0, 4))
    seg = found.reshape(-1, 4).astype(np.float64)
    seg = seg[np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]) >= min_length]
    if boxes is not None and len(seg):
        mid = 0.5 * (seg[:, :2] + seg[:, 2:])
        keep = np.ones(len(seg), bool)
        for x0, y0, x1, y1 in np.asarray(boxes, np.float64).reshape(-1, 4):
            m = PERSON_MARGIN * (y1 - y0)
            keep &= ~((mid[:, 0] > x0 - m) & (mid[:, 0] < x1 + m) & (mid[:, 1] > y0 - m) & (mid[:, 1] < y1 + m))
        seg = seg[keep]
    return seg


def _angles_deg(seg: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Per segment: the angle between it and the line from its midpoint to the vanishing point ``v`` (homogeneous)."""
    mid = 0.5 * (seg[:, :2] + seg[:, 2:])
    d = seg[:, 2:] - seg[:, :2]
    to_v = v[:2] - v[2] * mid  # the direction toward v, also for a point at infinity (v[2] = 0)
    cos = np.abs((d * to_v).sum(1)) / (np.linalg.norm(d, axis=1) * np.linalg.norm(to_v, axis=1) + 1e-12)
    return np.degrees(np.arccos(np.clip(cos, 0.0, 1.0)))


def vanishing_points(seg: np.ndarray, count: int = 3, tol_deg: float = ANGLE_TOL_DEG, iterations: int = 600,
                     seed: int = 0) -> list[tuple[np.ndarray, int]]:  # fmt: skip
    """Up to ``count`` vanishing points (unit homogeneous ``[3]``, with their numbers of supporting
    segments), strongest first; each one's segments are removed before the next is sought.
    Support is weighted by segment length; deterministic for a given ``seed``."""
    rng = np.random.default_rng(seed)
    found: list[tuple[np.ndarray, int]] = []
    rest = np.asarray(seg, np.float64)
    for _ in range(count):
        if len(rest) < MIN_LINES:
            break
        p = np.c_[rest[:, :2], np.ones(len(rest))]
        q = np.c_[rest[:, 2:], np.ones(len(rest))]
        lines = np.cross(p, q)
        lines /= np.linalg.norm(lines[:, :2], axis=1, keepdims=True)
        length = np.hypot(rest[:, 2] - rest[:, 0], rest[:, 3] - rest[:, 1])
        best, best_support = None, 0.0
        for _ in range(iterations):
            i, j = rng.choice(len(rest), 2, replace=False)
            v = np.cross(lines[i], lines[j])
            norm = np.linalg.norm(v)
            if norm < 1e-12:
                continue
            support = length[_angles_deg(rest, v / norm) < tol_deg].sum()
            if support > best_support:
                best, best_support = v / norm, support
        if best is None:
            break
        inliers = _angles_deg(rest, best) < tol_deg
        v = np.linalg.svd(lines[inliers] * length[inliers, None])[2][-1]  # the point nearest all their lines
        inliers = _angles_deg(rest, v) < tol_deg
        if inliers.sum() < MIN_LINES:
            break
        found.append((v / np.linalg.norm(v), int(inliers.sum())))
        rest = rest[~inliers]
    return found


def calibrate(points: list[tuple[np.ndarray, int]], width: int, height: int, min_lines: int = MIN_LINES) -> SceneAxes | None:
    """The focal length and scene axes from the best-supported pair of vanishing points that can be
    images of orthogonal directions (``-(v1 - c)·(v2 - c)`` a square within :data:`FOCAL_RANGE`, the
    weaker one with at least :data:`MIN_BALANCE` of the stronger one's segments), or None."""
    c = np.array([width / 2.0, height / 2.0])
    side = max(width, height)
    best: tuple[int, float, np.ndarray, np.ndarray] | None = None
    usable = [(v, n) for v, n in points if n >= min_lines and abs(v[2]) * 50 * side > np.linalg.norm(v[:2])]
    for a in range(len(usable)):
        for b in range(a + 1, len(usable)):
            (v1, n1), (v2, n2) = usable[a], usable[b]
            p1, p2 = v1[:2] / v1[2] - c, v2[:2] / v2[2] - c
            f2 = -float(p1 @ p2)
            if f2 <= 0 or not FOCAL_RANGE[0] * side <= np.sqrt(f2) <= FOCAL_RANGE[1] * side:
                continue
            if min(n1, n2) < MIN_BALANCE * max(n1, n2):
                continue
            if best is None or min(n1, n2) > best[0]:
                best = (min(n1, n2), float(np.sqrt(f2)), p1, p2)
    if best is None:
        return None
    support, f, p1, p2 = best
    d1 = np.array([p1[0], p1[1], f]) / np.linalg.norm([p1[0], p1[1], f])
    d2 = np.array([p2[0], p2[1], f]) / np.linalg.norm([p2[0], p2[1], f])
    d3 = np.cross(d1, d2)
    d3 /= np.linalg.norm(d3)
    d2 = np.cross(d3, d1)  # exactly orthogonal (the two measured directions are only nearly so)
    return SceneAxes(f, np.stack([d1, d2, d3]), support)


def directions(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    """``[M, 3]`` unit directions (camera axes, sign arbitrary) of the scene lines whose vanishing points
    are ``points`` ``[M, 3]`` (homogeneous pixels, :func:`vanishing_points`), for the intrinsics ``K``:
    ``K^-1 v``. A point far outside the image (nearly parallel lines) gives a direction near the image
    plane, whatever the focal length; a nearer one's direction is only as good as ``K``'s focal length."""
    d = np.linalg.solve(np.asarray(K, np.float64), np.asarray(points, np.float64).reshape(-1, 3).T).T
    return d / np.linalg.norm(d, axis=1, keepdims=True)


class SceneLines:
    """Segments gathered from a few frames of a static camera's video (every ``every``-th frame added,
    at most ``max_frames``), then :meth:`result`."""

    def __init__(self, every: int = 10, max_frames: int = 24) -> None:
        self.every, self.max_frames = every, max_frames
        self.seen = 0
        self.segments: list[np.ndarray] = []
        self.size: tuple[int, int] | None = None
        self._points: list[tuple[np.ndarray, int]] | None = None

    def add(self, image: np.ndarray, boxes: np.ndarray | None = None) -> None:
        """The next frame (``[H, W, 3]`` RGB or ``[H, W]`` grey ``uint8``) and the people's boxes in it."""
        index = self.seen
        self.seen += 1
        if index % self.every or len(self.segments) >= self.max_frames:
            return
        import cv2

        gray = image if image.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY)
        self.size = (gray.shape[1], gray.shape[0])
        self.segments.append(line_segments(gray, boxes))
        self._points = None

    def points(self) -> list[tuple[np.ndarray, int]]:
        """The vanishing points of the segments gathered (:func:`vanishing_points`), found once."""
        if self._points is None:
            self._points = [] if not self.segments else vanishing_points(np.concatenate(self.segments))
        return self._points

    def result(self) -> SceneAxes | None:
        if self.size is None or not self.segments:
            return None
        return calibrate(self.points(), *self.size)
