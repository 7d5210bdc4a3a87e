"""A travelling camera's path in metres, from the floor it films (OpenCV camera frames: x right, y
down, z forward).

:mod:`diffmesh.geometry.camera_motion` measures how the camera *turns*; a camera that also *moves*
(a dolly or tracking shot, a hand-held walk) leaves its own motion in every body's trajectory, and
its turn is misread too (near background slides past farther background, which a pure rotation
cannot explain). This module measures both once the floor is known (the world stage finds it from
the bodies' soles, in metres), so the result is in metres without a scale to guess:

1. **tracks** (:func:`track_background`): corners of the background (every person's box enlarged
   to cover their shadow is left out) followed from frame to frame by pyramidal Lucas-Kanade optical
   flow, checked forward and backward, on a copy downscaled to ``max_side`` pixels. New corners are
   looked for every few frames where tracks thin out, in a grid of cells each ranked on its own (a
   faint floor is not outvoted by a wall's strong edges), and only true corners are kept: a point on
   a straight edge (a plank's side, a stripe) slides along it when followed;
2. **the floor's points in 3-D**: a track's first sighting below the horizon is cast as a ray from
   that frame's camera onto the floor plane (``up · X + offset = 0``, frame 0's camera axes);
3. **the camera per frame** (:func:`estimate_travel`): the pose that best projects the floor points
   it sees onto their tracked pixels (``cv2.solvePnPRansac`` from the predicted pose, then a
   Levenberg-Marquardt refinement on the inliers). Corners that are not on the floor (a wall's foot,
   furniture, a moving shadow) disagree as the camera moves and are dropped as outliers for good.
   Where too few floor points are known the pose is predicted (the last step's motion continued) for
   a few frames, so that corners born meanwhile can bridge the gap. When the given floor locates the
   camera in too few frames, floors tilted a few degrees from it are tried (the bodies' floor is
   least certain before the camera's travel is known);
4. positions are smoothed lightly (Gaussian, :data:`SMOOTH_SIGMA` frames). The camera counts as
   travelling when it moved at least :data:`TRAVEL_MIN_M` and was located in at least
   :data:`MIN_LOCATED` of the frames; otherwise the rotation-only measurement stands.

The world stage (:func:`~diffmesh.pipelines.world.people_in_world`) measures the floor and the
travel in turn, twice, and keeps the path in step with the camera height the bodies give last: the
path's scale is the floor's, so it is only as right as the bodies' depth (and with it the focal
length). A floor without texture (a plain, evenly lit floor) or with only parallel stripes gives too
few points: the camera is then not located and the world stage keeps the rotation-only measurement
(logged). OpenCV is imported lazily; PyAV only for :func:`tracks_from_video`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from diffmesh.geometry.camera_motion import require_cv2

logger = logging.getLogger(__name__)

__all__ = ["PointTracks", "CameraTravel", "track_background", "estimate_travel", "tracks_from_video",
           "camera_travel_from_video"]  # fmt: skip

#: The world stage looks for travel only where the rotation-only measurement turned at least this much
#: (degrees): a travelling camera reads as turning (the background slides), a still one is not worth
#: a second decode.
CHECK_TURN_DEG = 3.0
#: Below this travel (metres, the largest distance from the first position) the camera counts as not travelling.
TRAVEL_MIN_M = 0.25
#: The camera must be located (enough floor points agree) in at least this fraction of the frames.
MIN_LOCATED = 0.6
#: Fewest agreeing floor points for a frame's pose.
MIN_FLOOR_POINTS = 12
#: A floor point farther than this from the camera (metres) is not used (grazing rays: poor depth).
MAX_DEPTH_M = 15.0
#: A ray must point at least this far below the horizon (sine of the angle) to be cast onto the floor.
MIN_DEPRESSION = 0.05
#: RANSAC's inlier bound, pixels of the full-size image.
REPROJECTION_PX = 2.0
#: A corner followed forward then backward must come back within this many pixels (of the tracked copy).
FB_PX = 1.0
#: New corners are looked for in a GRID x GRID layout of cells, each ranked on its own.
GRID = 6
#: Frames after the last located one whose predicted pose (the last step's motion continued) may still
#: cast new corners onto the floor.
MAX_PREDICTED = 4
#: A corner's smaller structure-tensor eigenvalue must be at least this share of the larger: points on
#: a straight edge (a plank's side, a stripe) slide along it when followed, and are not used.
ISOTROPY = 0.1
#: New corners are looked for at most every this many frames.
DETECT_EVERY = 3
#: Floor tilts tried when the bodies' floor locates fewer than SETTLED of the frames (degrees; each
#: step around the best so far).
TILT_STEPS_DEG = (5.0, 2.5)
SETTLED = 0.95
#: ... comparing them on the video's first this many frames.
SEARCH_FRAMES = 90
#: ... but only when it locates at least this share (below it the floor has too little texture to
#: find the camera on, whatever its tilt: a plain or striped floor, or a camera that only turns).
SEARCH_FROM = 0.2
#: Gaussian smoothing of the positions, frames.
SMOOTH_SIGMA = 1.5
#: How far a person's box is enlarged before it is left out: each side and the top by this share of its
#: size, the bottom by twice as much (the shadow on the floor moves with the person).
BOX_MARGIN = 0.3


@dataclass
class PointTracks:
    """Background corners followed through a video (:func:`track_background`): one row per sighting,
    sorted by frame. ``frame`` [M] int, ``track`` [M] int (a corner's id), ``xy`` [M, 2] full-size
    pixels; ``num_frames``."""

    frame: np.ndarray
    track: np.ndarray
    xy: np.ndarray
    num_frames: int


@dataclass
class CameraTravel:
    """The camera's pose per frame in frame 0's camera axes (:func:`estimate_travel`).

    Attributes:
        rotations: ``[N, 3, 3]`` rotation of frame t's camera into frame 0's (as
            :class:`~diffmesh.geometry.camera_motion.CameraMotion`'s).
        positions: ``[N, 3]`` the camera centre of frame t, metres, frame 0's camera axes (frame 0: zeros).
        located: ``[N]`` bool: enough floor points agreed on this frame's pose (elsewhere it is held
            from the last located frame, turned by the rotation-only measurement).
        travelling: the camera moved at least :data:`TRAVEL_MIN_M` and was located often enough.
        travel_m: the largest distance from the first position, metres.
    """

    rotations: np.ndarray
    positions: np.ndarray
    located: np.ndarray
    travelling: bool
    travel_m: float


def _mask(shape: tuple[int, int], boxes: np.ndarray | None, scale: float) -> np.ndarray:
    """uint8 mask of the downscaled image: 255 on the background, 0 on every person's enlarged box."""
    mask = np.full(shape, 255, np.uint8)
    if boxes is None:
        return mask
    for x0, y0, x1, y1 in np.asarray(boxes, np.float64).reshape(-1, 4):
        if not np.isfinite([x0, y0, x1, y1]).all():
            continue
        w, h = x1 - x0, y1 - y0
        a = np.array([x0 - BOX_MARGIN * w, y0 - BOX_MARGIN * h, x1 + BOX_MARGIN * w, y1 + 2 * BOX_MARGIN * h]) * scale
        c0, r0 = max(0, int(a[0])), max(0, int(a[1]))
        c1, r1 = min(shape[1], int(np.ceil(a[2]))), min(shape[0], int(np.ceil(a[3])))
        mask[r0:r1, c0:c1] = 0
    return mask


def _corners(cv2, grey: np.ndarray, mask: np.ndarray, count: int, grid: int = GRID):  # noqa: ANN001, ANN202
    """Up to ``count`` corners ``[n, 1, 2]`` (float32) spread over a ``grid x grid`` layout of cells, each
    cell's corners ranked against that cell's strongest (so that a faint floor is not outvoted by a
    wall's strong edges), or None."""
    h, w = grey.shape
    per_cell = max(1, count // (grid * grid))
    out = []
    for r in range(grid):
        for c in range(grid):
            y0, y1, x0, x1 = r * h // grid, (r + 1) * h // grid, c * w // grid, (c + 1) * w // grid
            m = mask[y0:y1, x0:x1]
            if not m.any():
                continue
            cell = grey[y0:y1, x0:x1]
            found = cv2.goodFeaturesToTrack(cell, per_cell, 0.05, 8, mask=np.ascontiguousarray(m), blockSize=5)
            if found is None:
                continue
            found = found.reshape(-1, 2)
            eig = cv2.cornerEigenValsAndVecs(cell, 5, 3)[..., :2]  # [h, w, (l1, l2)]
            l1, l2 = np.moveaxis(eig[found[:, 1].astype(int), found[:, 0].astype(int)], -1, 0)
            corner = np.minimum(l1, l2) > ISOTROPY * np.maximum(np.maximum(l1, l2), 1e-12)  # not a straight edge
            out.append(found[corner] + np.array([x0, y0], np.float32))
    out = [o for o in out if len(o)]
    return np.concatenate(out)[:, None].astype(np.float32) if out else None


def track_background(
    frames: Iterable[np.ndarray],
    boxes: np.ndarray | None = None,
    *,
    max_side: int = 320,
    max_points: int = 300,
    progress: Callable[[str, int, int], None] | None = None,
    total: int = 0,
) -> PointTracks:
    """Follow background corners through ``frames`` (RGB or grey ``uint8 [H, W(, 3)]``), module step 1.

    ``boxes``: ``[N, 4]`` or ``[N, P, 4]`` person boxes (x0, y0, x1, y1, full-size pixels; NaN: nobody)
    per frame, left out with a margin. ``progress(stage, done, total)`` is called per frame.
    """
    cv2 = require_cv2()
    rows_f: list[np.ndarray] = []
    rows_t: list[np.ndarray] = []
    rows_xy: list[np.ndarray] = []
    prev = pts = ids = None
    next_id, n, scale, detected = 0, 0, 1.0, 0
    lk = {"winSize": (21, 21), "maxLevel": 3, "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)}
    for n, image in enumerate(frames):
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        if n == 0:
            scale = min(1.0, max_side / max(grey.shape))
        if scale < 1.0:
            grey = cv2.resize(grey, (round(grey.shape[1] * scale), round(grey.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        mask = _mask(grey.shape, None if boxes is None or n >= len(boxes) else boxes[n], scale)
        if prev is not None and pts is not None and len(pts):
            new, ok, _ = cv2.calcOpticalFlowPyrLK(prev, grey, pts, None, **lk)
            back, ok2, _ = cv2.calcOpticalFlowPyrLK(grey, prev, new, None, **lk)
            good = (ok[:, 0] == 1) & (ok2[:, 0] == 1) & (np.linalg.norm((back - pts)[:, 0], axis=1) < FB_PX)
            xy = new[:, 0]
            inside = (xy[:, 0] >= 0) & (xy[:, 1] >= 0) & (xy[:, 0] < grey.shape[1] - 1) & (xy[:, 1] < grey.shape[0] - 1)
            good &= inside
            good[inside] &= mask[xy[inside, 1].astype(int), xy[inside, 0].astype(int)] > 0
            pts, ids = new[good], ids[good]
        if pts is None or (len(pts) < 0.6 * max_points and n - detected >= DETECT_EVERY):
            detected = n
            free = mask.copy()
            for x, y in ([] if pts is None else pts[:, 0]):
                cv2.circle(free, (int(x), int(y)), 8, 0, -1)
            found = _corners(cv2, grey, free, max_points - (0 if pts is None else len(pts)))
            if found is not None:
                new_ids = np.arange(next_id, next_id + len(found))
                next_id += len(found)
                pts = found.astype(np.float32) if pts is None else np.concatenate([pts, found.astype(np.float32)])
                ids = new_ids if ids is None else np.concatenate([ids, new_ids])
        if pts is not None and len(pts):
            rows_f.append(np.full(len(pts), n))
            rows_t.append(ids.copy())
            rows_xy.append(pts[:, 0] / scale)
        prev = grey
        if progress is not None:
            progress("camera travel", n + 1, max(total, n + 1))
    num = n + 1 if rows_f or prev is not None else 0
    cat = (lambda rows, dt: np.concatenate(rows).astype(dt)) if rows_f else (lambda rows, dt: np.zeros((0,), dt))
    xy = np.concatenate(rows_xy).astype(np.float64) if rows_xy else np.zeros((0, 2))
    return PointTracks(cat(rows_f, np.int64), cat(rows_t, np.int64), xy, num)


def _smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of ``[N, D]`` along axis 0."""
    if sigma <= 0 or len(x) < 2:
        return x.copy()
    radius = min(max(1, int(round(3 * sigma))), len(x) - 1)
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    # odd reflection at the ends (2 x0 - x[k]): a steady motion stays steady there (no pull toward the end value)
    pad = np.concatenate([2 * x[:1] - x[radius:0:-1], x, 2 * x[-1:] - x[-2 : -radius - 2 : -1]])
    return np.stack([np.convolve(pad[:, j], k / k.sum(), mode="valid") for j in range(x.shape[1])], 1)


def estimate_travel(tracks: PointTracks, K: np.ndarray, rotations: np.ndarray, up: np.ndarray, offset: float
                    ) -> CameraTravel:  # fmt: skip
    """The camera's pose per frame from the floor points it sees (module steps 2-4).

    Args:
        tracks: :func:`track_background`'s result.
        K: ``[3, 3]`` intrinsics.
        rotations: ``[N, 3, 3]`` the rotation-only measurement (frame t's camera into frame 0's): the
            guess, and the turn where the camera cannot be located.
        up: ``[3]`` the floor's unit normal (pointing up) in frame 0's camera axes; ``offset``: ``d``
            with ``up · X + d = 0`` on the floor (the first camera's height, metres). When fewer than
            :data:`SETTLED` of the frames are located under it, normals tilted from it by
            :data:`TILT_STEPS_DEG` are tried as well (when it locates at least :data:`SEARCH_FROM`:
            the bodies' floor can be several degrees off, most of all before the camera's travel is
            known), and the one that locates the most frames (then the smallest reprojection error)
            is kept.
    """
    n = len(rotations)
    K = np.asarray(K, np.float64)
    best_up = np.asarray(up, np.float64)
    best = _locate(tracks, K, rotations, best_up, offset)
    if SEARCH_FROM <= best[2].mean() < SETTLED:  # located: no need; hardly at all: no floor to find
        # the tilts are compared on the first SEARCH_FRAMES frames (a long video costs no more)
        m = min(n, SEARCH_FRAMES)
        whole = m == n  # then the first try already is the head's, and the winner is the whole video's
        head = tracks if whole else _head(tracks, m)
        scored = best if whole else _locate(head, K, rotations[:m], best_up, offset)
        for step in TILT_STEPS_DEG:
            for normal in _tilted(best_up, step):
                found = _locate(head, K, rotations[:m], normal, offset)
                if (found[2].sum(), -found[3]) > (scored[2].sum(), -scored[3]):
                    scored, best_up = found, normal
            if scored[2].mean() >= SETTLED:
                break
        if not np.array_equal(best_up, up):
            best = scored if whole else _locate(tracks, K, rotations, best_up, offset)
            logger.debug("camera travel: the floor's normal tilted by %.1f degrees locates the camera best",
                         np.degrees(np.arccos(min(1.0, float(best_up @ np.asarray(up, np.float64))))))  # fmt: skip
    R_out, c_out, located, residual = best
    c_smooth = _smooth(c_out, SMOOTH_SIGMA)
    c_smooth -= c_smooth[0]
    travel = float(np.linalg.norm(c_smooth, axis=1).max()) if n else 0.0
    travelling = bool(n > 1 and travel >= TRAVEL_MIN_M and located.mean() >= MIN_LOCATED)
    logger.info("camera travel: %.2f m, located in %d of %d frames from the floor's texture (%.2f px)%s", travel,
                int(located.sum()), n, residual,
                "" if travelling else " (taken as not travelling: the rotation-only measurement stands)")  # fmt: skip
    return CameraTravel(R_out, c_smooth, located, travelling, travel)


def _head(tracks: PointTracks, m: int) -> PointTracks:
    """The sightings of the first ``m`` frames."""
    keep = tracks.frame < m
    return PointTracks(tracks.frame[keep], tracks.track[keep], tracks.xy[keep], min(m, tracks.num_frames))


def _tilted(up: np.ndarray, deg: float) -> list[np.ndarray]:
    """The 8 unit vectors ``deg`` degrees from ``up`` toward the horizontal compass points (and halfway)."""
    a = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 0.0, 1.0])
    a /= np.linalg.norm(a)
    b = np.cross(up, a)
    t = np.tan(np.radians(deg))
    out = [up + t * (np.cos(q) * a + np.sin(q) * b) for q in np.arange(8) * np.pi / 4]
    return [v / np.linalg.norm(v) for v in out]


def _locate(tracks: PointTracks, K: np.ndarray, rotations: np.ndarray, up: np.ndarray, offset: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:  # fmt: skip
    """Module steps 2-3 under one floor: rotations ``[N, 3, 3]``, centres ``[N, 3]`` (unsmoothed),
    located ``[N]`` and the mean reprojection error of the inliers (px; inf when nothing was located)."""
    cv2 = require_cv2()
    Kinv = np.linalg.inv(K)
    residuals: list[float] = []
    n = len(rotations)
    R_out = np.array(rotations, np.float64, copy=True)
    c_out = np.zeros((n, 3))
    located = np.zeros(n, bool)
    located[0] = True
    last_located = lost = 0
    floor_pts: dict[int, np.ndarray] = {}
    dropped: set[int] = set()
    bounds = np.searchsorted(tracks.frame, np.arange(n + 1))
    for t in range(n):
        ids, xy = tracks.track[bounds[t] : bounds[t + 1]], tracks.xy[bounds[t] : bounds[t + 1]]
        if t > 0:
            if t >= 2 and located[t - 1] and located[t - 2]:  # keep the last step's motion
                R_out[t] = R_out[t - 1] @ (R_out[t - 2].T @ R_out[t - 1])
                c_out[t] = 2 * c_out[t - 1] - c_out[t - 2]
            else:  # the rotation-only step from t-1 to t
                R_out[t], c_out[t] = R_out[t - 1] @ (rotations[t - 1].T @ rotations[t]), c_out[t - 1]
            lost = t - last_located
            known = np.array([i in floor_pts for i in ids], bool)
            if known.sum() >= MIN_FLOOR_POINTS:
                X = np.stack([floor_pts[i] for i in ids[known]])
                Rc = R_out[t].T  # frame 0 -> camera t
                rvec0, _ = cv2.Rodrigues(Rc)
                tvec0 = -Rc @ c_out[t]
                ok, rvec, tvec, inl = cv2.solvePnPRansac(
                    X, xy[known], K, None, rvec0.copy(), tvec0.reshape(3, 1).copy(), useExtrinsicGuess=True,
                    iterationsCount=100, reprojectionError=REPROJECTION_PX, confidence=0.99, flags=cv2.SOLVEPNP_ITERATIVE,
                )  # fmt: skip
                inliers = np.zeros(int(known.sum()), bool)
                if ok and inl is not None:
                    inliers[inl[:, 0]] = True
                if ok and inliers.sum() >= max(MIN_FLOOR_POINTS, 0.3 * known.sum()):
                    rvec, tvec = cv2.solvePnPRefineLM(X[inliers], xy[known][inliers], K, None, rvec, tvec)
                    proj = cv2.projectPoints(X[inliers], rvec, tvec, K, None)[0][:, 0]
                    residuals.append(float(np.linalg.norm(proj - xy[known][inliers], axis=1).mean()))
                    Rc = cv2.Rodrigues(rvec)[0]
                    R_out[t], c_out[t] = Rc.T, -Rc.T @ tvec[:, 0]
                    located[t] = True
                    last_located = t
                    for i in ids[known][~inliers]:  # off the floor, or a moving shadow: not used again
                        floor_pts.pop(int(i), None)
                        dropped.add(int(i))
        if not located[t] and lost > MAX_PREDICTED:
            continue
        # step 2: cast new sightings onto the floor from this frame's camera (located, or predicted
        # for a few frames: tracks that are born while too few floor points are known can then bridge the gap)
        fresh = np.array([int(i) not in floor_pts and int(i) not in dropped for i in ids], bool)
        if not fresh.any():
            continue
        rays = (np.c_[xy[fresh], np.ones(int(fresh.sum()))] @ Kinv.T) @ R_out[t].T  # frame 0's axes
        rays /= np.linalg.norm(rays, axis=1, keepdims=True)
        down = rays @ up
        lam = -(up @ c_out[t] + offset) / np.where(down < -MIN_DEPRESSION, down, -1.0)
        use = (down < -MIN_DEPRESSION) & (lam > 0) & (lam < MAX_DEPTH_M)
        for i, p in zip(ids[fresh][use], c_out[t] + lam[use, None] * rays[use]):
            floor_pts[int(i)] = p
    return R_out, c_out, located, float(np.mean(residuals)) if residuals else float("inf")


def tracks_from_video(path: str | os.PathLike, start: int, end: int | None, boxes: np.ndarray | None,
                      progress: Callable[[str, int, int], None] | None = None, total: int = 0) -> PointTracks:  # fmt: skip
    """Decode frames ``[start, end)`` of a video and follow its background (:func:`track_background`)."""
    from diffmesh.io.video import iter_frames

    return track_background((f.image for f in iter_frames(path, start, end, threads=1)), boxes, progress=progress,
                            total=total)  # fmt: skip


def camera_travel_from_video(
    path: str | os.PathLike,
    start: int,
    end: int | None,
    K: np.ndarray,
    boxes: np.ndarray | None,
    rotations: np.ndarray,
    up: np.ndarray,
    offset: float,
    progress: Callable[[str, int, int], None] | None = None,
) -> CameraTravel:
    """Decode frames ``[start, end)`` of a video and measure the camera's travel (:func:`tracks_from_video`,
    then :func:`estimate_travel`); the other arguments are theirs."""
    tracks = tracks_from_video(path, start, end, boxes, progress, len(rotations))
    if tracks.num_frames != len(rotations):
        raise ValueError(f"the video gave {tracks.num_frames} frames from {start} but {len(rotations)} rotations were "
                         "passed; pass one rotation per frame")  # fmt: skip
    return estimate_travel(tracks, K, rotations, up, offset)
