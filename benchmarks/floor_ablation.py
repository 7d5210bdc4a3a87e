"""What limits the floor angle: the world stage's floor fit rerun on a video benchmark run's outputs.

Reads the ``result.npz`` of every clip of a ``bench_video_accuracy.py --work WORK`` run (one
system's folder), recomputes the foot vertices with the body model, takes the camera rotations
from ``cam_to_world``, and fits the floor again with parts of :func:`diffmesh.pipelines.world.fit_world_frame`
swapped out; each row is scored like the benchmark's ``floor_deg`` (the angle to the true floor
normal in each frame's camera, averaged over frames, then clips). docs/benchmarks.md §6.2.

    python benchmarks/floor_ablation.py /work/scratch/vb_models_work/default
"""

from __future__ import annotations

import argparse
import glob
from collections.abc import Callable
from pathlib import Path

import numpy as np

from diffmesh.body import load
from diffmesh.pipelines import world as W
from diffmesh.pipelines.prediction import body_sequence

CLIPS = Path(__file__).parent / "data" / "video_v1"


class Clip:
    """One clip's prediction (frame-0 camera axes) and truth."""

    def __init__(self, result: Path, truth: Path, body: object, sets: tuple[np.ndarray, np.ndarray]) -> None:
        r, g = np.load(result), np.load(truth, allow_pickle=True)
        valid = r["valid"].astype(bool)
        n = len(valid)
        feet = [np.full((n, len(s), 3), np.nan) for s in sets]
        for sl, _, verts in body_sequence(body, r["pose_rotmat"].astype(np.float32), r["betas"].astype(np.float32), vertices=True):
            v = verts.numpy().astype(np.float64)
            for f, s in zip(feet, sets):
                f[sl] = v[:, s] + r["transl"][sl, None, :]
        for f in feet:
            f[~valid] = np.nan
        self.joints = np.where(valid[:, None, None], r["joints_3d_cam"], np.nan).astype(np.float64)
        self.feet = (feet[0], feet[1])
        A = r["cam_to_world"]
        self.R = np.einsum("ji,njk->nik", A[0, :3, :3], A[:, :3, :3])  # frame t's camera into frame 0's
        self.static = bool(r["camera_static"])
        self.true_up = g["R_w2c"][:, :, 2].astype(np.float64)  # Anny's world is z up
        names = list(g["joint_names"])
        Rw = g["R_w2c"].astype(np.float64)
        jt = np.einsum("ij,nkj,nlk->nli", Rw[0], Rw, g["joints_cam"].astype(np.float64))  # truth in frame 0's camera
        self.true_shoulders = jt[:, [names.index("left_shoulder"), names.index("right_shoulder")]].mean(1)
        self.true_ankles = jt[:, [names.index("left_ankle"), names.index("right_ankle")]].mean(1)
        self.blazepose = None
        cached = glob.glob(str(result.parent / ".cache" / "keypoints-*.npz"))
        if cached:
            w = np.load(cached[0])["world"].astype(np.float64)
            self.blazepose = np.where(np.isfinite(self.joints).all((1, 2))[:, None, None], w, np.nan)

    def error_deg(self, up0: np.ndarray) -> float:
        n = np.einsum("nji,j->ni", self.R, up0)  # the floor normal in each frame's camera
        cos = (n * self.true_up).sum(1) / np.linalg.norm(self.true_up, axis=1)
        return float(np.degrees(np.arccos(np.clip(cos, -1, 1))).mean())


def mean_up(v: np.ndarray) -> np.ndarray:
    v = v[np.isfinite(v).all(1)]
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    m = v.mean(0)
    return m / np.linalg.norm(m)


def pipeline(c: Clip) -> np.ndarray:
    return W.fit_world_frame([(c.joints, c.feet)], 30.0, None if c.static else c.R).up


def body_up(c: Clip) -> np.ndarray:
    J = np.einsum("nij,nkj->nki", c.R, c.joints)
    return W.body_up(J, J[:, list(W._ANKLES)])


def true_body_up(c: Clip) -> np.ndarray:
    return mean_up(c.true_shoulders - c.true_ankles)


def blazepose_up(c: Clip) -> np.ndarray:
    if c.blazepose is None:
        return np.full(3, np.nan)
    J = np.einsum("nij,nkj->nki", c.R, c.blazepose)
    return W.body_up(J, J[:, list(W._ANKLES)])


def with_fit(fit: Callable[..., tuple[np.ndarray, float]]) -> Callable[[Clip], np.ndarray]:
    def run(c: Clip) -> np.ndarray:
        saved, W.fit_floor = W.fit_floor, fit
        try:
            return pipeline(c)
        finally:
            W.fit_floor = saved
    return run


def prior_weight(points: float) -> Callable[[Clip], np.ndarray]:
    original = W.fit_floor
    return with_fit(lambda pts, up, **kw: original(pts, up, prior_points=points, **kw))


def level_camera(strength: float = 1.0) -> Callable[[Clip], np.ndarray]:
    """The fit with the "strong" level-camera prior of docs/benchmarks.md §6.6 (tried, dropped) in place of
    the pipeline's weak one: the up vector's component along the first camera's x axis dropped from the
    prior and penalised with weight ``strength``."""
    def fit(points: np.ndarray, prior_up: np.ndarray, level: float = 0.0) -> tuple[np.ndarray, float]:  # replaces `level`
        u = prior_up / np.linalg.norm(prior_up)
        u = np.array([0.0, u[1], u[2]]) / np.linalg.norm(u[1:])
        if len(points) < 3:
            return u, float(-np.median(points @ u)) if len(points) else 0.0
        lam, w, n = 30.0 * 0.3**2, np.ones(len(points)), u
        extra = lam * (np.eye(3) - np.outer(u, u)) + strength * np.diag([1.0, 0.0, 0.0])
        for _ in range(4):
            c = (w[:, None] * points).sum(0) / w.sum()
            d = points - c
            evecs = np.linalg.eigh((w[:, None, None] * d[:, :, None] * d[:, None, :]).sum(0) + extra)[1]
            n = evecs[:, 0] * np.sign(evecs[:, 0] @ u or 1.0)
            r = np.abs(d @ n)
            w = np.minimum(1.0, 2.0 * max(1.4826 * float(np.median(r)), 0.01) / np.maximum(r, 1e-9))
        c = (w[:, None] * points).sum(0) / w.sum()
        return n, float(-(c @ n))
    return with_fit(fit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work", type=Path, help="one system's folder of a bench_video_accuracy.py --work run")
    parser.add_argument("--clips", type=Path, default=CLIPS)
    args = parser.parse_args()
    body = load("open")
    sets = W.foot_vertex_sets(body.lbs_weights.numpy())
    clips = {p.parent.name: Clip(p, args.clips / f"{p.parent.name}.npz", body, sets) for p in sorted(args.work.glob("*/result.npz"))}
    if not clips:
        raise SystemExit(f"no */result.npz under {args.work}: pass one system's folder of a bench_video_accuracy.py --work run")
    rows = [("the pipeline", pipeline), ("the bodies' mean up alone", body_up), ("the truth's mean up (ankles to shoulders)", true_body_up),
            ("BlazePose world landmarks' mean up", blazepose_up)]  # fmt: skip
    rows += [(f"prior weight {p:g} points", prior_weight(p)) for p in (0.3, 3, 10, 100, 300, 3000)]
    rows += [("the strong level-camera prior instead of the weak one (§6.6)", level_camera())]
    print("| floor estimate | mean (deg) | " + " | ".join(clips) + " |")
    print("|---|---:|" + "---:|" * len(clips))
    for label, estimate in rows:
        errors = [c.error_deg(estimate(c)) for c in clips.values()]
        print(f"| {label} | {np.nanmean(errors):.1f} | " + " | ".join(f"{e:.1f}" for e in errors) + " |", flush=True)


if __name__ == "__main__":
    main()
