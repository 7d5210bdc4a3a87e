"""The floor plane of the world stage (:mod:`diffmesh.pipelines.world`): its tilt from the bodies'
mean up, the planted soles or the scene's lines, fitted robustly.

* :func:`body_up`: the mean direction from the ankles to the thorax over a video (over time a body's
  weight stays above its feet, so this is close to vertical for most motions);
* :func:`scene_up`: the scene's vertical from its vanishing points
  (:class:`~diffmesh.geometry.vanishing.SceneAxes`), where it agrees with the bodies;
* :func:`fit_floor`: a robust plane through planted soles with the bodies' up as a prior, and a
  level camera (no roll) as a weaker one.
"""

from __future__ import annotations

import logging

import numpy as np

from diffmesh.conventions import H36M_JOINTS
from diffmesh.geometry.vanishing import nearest_axis

logger = logging.getLogger(__name__)

__all__ = ["LEVEL_CAMERA", "PRIOR_POINTS", "PRIOR_SPREAD_M", "SCENE_UP_MAX_DEG", "body_up", "fit_floor", "scene_up", "sole_support"]

_THORAX = H36M_JOINTS.index("thorax")

#: The scene's vertical (from its lines) is used only this close (degrees) to the bodies' mean up.
SCENE_UP_MAX_DEG = 30.0
#: Weight of "the camera is level" (no roll) in the floor fit from the bodies (``fit_floor``'s
#: ``level``; the bodies' prior, whose roll then counts half, weighs 2.7 in the same units). Spinning
#: and side-stepping bodies roll the soles' plane 10-17 degrees where the camera does not
#: (docs/benchmarks.md §6.2); measured on level and on 10-degree-rolled cameras in §6.6.
LEVEL_CAMERA = 0.3
#: The bodies' up counts in :func:`fit_floor` as this many soles spread :data:`PRIOR_SPREAD_M` apart.
PRIOR_POINTS = 30.0
PRIOR_SPREAD_M = 0.3


def body_up(joints: np.ndarray, ankles: np.ndarray) -> np.ndarray:
    """Mean unit direction from the mid-ankle point to the thorax (``joints [N, 17, 3]`` H36M,
    ``ankles [N, 2, 3]``) over the frames where both are finite."""
    v = joints[:, _THORAX] - ankles.mean(1)
    v = v[np.isfinite(v).all(1)]
    if len(v) == 0:
        raise ValueError("no frame with a placed body: there is no person to put in a world frame")
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    m = v.mean(0)
    return m / np.linalg.norm(m)


def scene_up(scene_axes: np.ndarray | None, bodies_up: np.ndarray) -> np.ndarray | None:
    """The scene's direction nearest the bodies' up (turned to its side), or None (no directions, or
    none within :data:`SCENE_UP_MAX_DEG`: the lines' directions are not the scene's main axes).
    ``scene_axes`` ``[M, 3]``: its three orthogonal axes, or the directions of single families of
    lines (:func:`~diffmesh.pipelines.stages.scene_axes`)."""
    if scene_axes is None:
        return None
    up, angle = nearest_axis(scene_axes, bodies_up)
    if angle > SCENE_UP_MAX_DEG:
        logger.info("world: the scene's nearest vertical is %.0f degrees from the bodies' up (more than %.0f): the "
                    "floor's tilt comes from the feet", angle, SCENE_UP_MAX_DEG)  # fmt: skip
        return None
    logger.info("world: the floor's normal from the scene's vanishing points (%.1f degrees from the bodies' up)", angle)
    return up


def fit_floor(points: np.ndarray, prior_up: np.ndarray, prior_points: float = PRIOR_POINTS,
              prior_spread_m: float = PRIOR_SPREAD_M, level: float = 0.0) -> tuple[np.ndarray, float]:  # fmt: skip
    """Robust plane through ``points`` ``[M, 3]``: unit normal (on ``prior_up``'s side) and offset ``d``.

    Minimises ``Σ w_i (n·(p_i - c))² + λ |n - prior_up|²``-like: the smallest eigenvector of the
    weighted scatter plus ``λ (I - u uᵀ)`` with ``λ = prior_points · prior_spread_m²`` (the prior
    is worth ``prior_points`` points spread ``prior_spread_m`` apart), with Huber-like reweighting.
    Fewer than 3 points: the prior itself, through their median. ``level`` > 0: a level camera (no
    roll) is likely: the prior keeps half its component along the camera's x axis and ``level e_x e_xᵀ``
    is added (in the same units as ``λ``), so the soles must outweigh it to roll the floor further.
    """
    u = prior_up / np.linalg.norm(prior_up)
    if level > 0:  # the bodies' roll counts half
        u = np.array([0.5 * u[0], u[1], u[2]])
        u /= np.linalg.norm(u)
    if len(points) < 3:
        n = u
        return n, float(-np.median(points @ n)) if len(points) else 0.0
    lam = prior_points * prior_spread_m**2
    w = np.ones(len(points))
    n = u
    for _ in range(4):
        c = (w[:, None] * points).sum(0) / w.sum()
        d = points - c
        scatter = (w[:, None, None] * d[:, :, None] * d[:, None, :]).sum(0)
        evals, evecs = np.linalg.eigh(scatter + lam * (np.eye(3) - np.outer(u, u)) + level * np.diag([1.0, 0.0, 0.0]))
        n = evecs[:, 0] * np.sign(evecs[:, 0] @ u or 1.0)
        r = np.abs(d @ n)
        scale = max(1.4826 * float(np.median(r)), 0.01)
        w = np.minimum(1.0, 2.0 * scale / np.maximum(r, 1e-9))
    c = (w[:, None] * points).sum(0) / w.sum()
    return n, float(-(c @ n))


def sole_support(points: np.ndarray, up: np.ndarray, axes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How much planted soles ``points`` ``[M, 3]`` tell of the floor's tilt about each of the floor's two
    directions ``axes`` ``[2, 3]`` (unit, perpendicular to ``up``): ``(spread_m [2], support [2])``.

    ``spread_m``: the soles' standard deviation along each direction. ``support``: their scatter along it
    (``M spread²``) in units of :func:`fit_floor`'s prior (:data:`PRIOR_POINTS` soles :data:`PRIOR_SPREAD_M`
    apart): above 1 the soles outweigh the bodies' up in tilting the floor that way, below it the tilt
    is mostly the bodies' posture (a person who stays in place: the soles all lie within a few
    decimetres). NaN spread and zero support for fewer than 3 points.
    """
    if len(points) < 3:
        return np.full(2, np.nan), np.zeros(2)
    along = (points - points.mean(0)) @ np.asarray(axes).T  # [M, 2]
    spread = along.std(0)
    return spread, len(points) * spread**2 / (PRIOR_POINTS * PRIOR_SPREAD_M**2)
