#!/usr/bin/env python
"""Render the several-people benchmark: 2-4 Anny bodies crossing and occluding each other (build time).

The companion of ``tools/make_video_benchmark.py`` (same bodies, clothing, rooms, motions and
renderer; same separate venv with ``anny``, see that file) for ``diffmesh infer --max-people``::

    ANNY_CACHE_DIR=/work/scratch/anny-cache /work/venvs/anny/bin/python tools/make_people_benchmark.py \
        benchmarks/data/people_v1 --sheets /work/scratch/people_sheets

Each scene (:data:`SCENES`) puts people on a stage: some stay in place (boxing, kicks, waving,
reaching, a held-out motion-capture dance), some walk across the view in front of or behind the
others, so that people cross and hide each other. The camera stands still (``static``) or pans
(``pan``: a smoothed follow of one walker, as a camera operator would). Everything is drawn from
``--seed`` and the scene index.

Each clip ``NAME.mp4`` (H.264, 30 fps, 640x480) has ``NAME.npz`` beside it (``P`` people, ``T`` frames):

- ``K`` [3, 3] px; ``R_w2c`` [T, 3, 3], ``t_w2c`` [T, 3] (Anny world, Z up, floor z = 0 → OpenCV camera);
- ``joints_cam`` [P, T, 12, 3] metres (limb joints ``joint_names``, as in the one-person set),
  ``joints_2d`` [P, T, 12, 2] px, ``bbox_xyxy`` [P, T, 4] and ``height_px`` [P, T] (projected mesh);
- ``visible`` [P, T]: the fraction of the person's mesh vertices that are in the picture and not
  hidden by another person (a z-buffer of every vertex at a quarter of the resolution);
- ``motions`` [P], ``categories`` [P], ``phenotype`` [P, 6] with ``phenotype_labels``, ``height_m`` [P],
  ``camera_motion`` (``"static"`` or ``"pan"``), ``scene``, ``seed``, ``fps``, ``image_size``,
  ``camera`` (JSON), ``generator``.

``index.json`` lists the clips. ``--sheets``: a contact sheet per clip (8 frames, every person's
true joints in the person's own colour).
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_video_benchmark import (  # noqa: E402
    LIMB_BONES,
    _rest_motion,
    contact_sheet,
    look_at,
    place_in_world,
    pose_body,
    project,
    run_tool,
    sample_phenotype,
    vertex_colors,
    write_video,
)
from vbench_motions import DEEPMIMIC_CLIPS, Motion, deepmimic_motion, procedural_motion, rotvec  # noqa: E402
from vbench_render import SceneRenderer  # noqa: E402

logger = logging.getLogger("make_people_benchmark")

GENERATOR = "tools/make_people_benchmark.py v1"
WIDTH, HEIGHT = 640, 480


@dataclass(frozen=True)
class PersonSpec:
    """One person on the stage: ``at`` = (x across the view, y away from the camera) metres at the
    first frame; ``heading`` = degrees the body is turned from facing the camera (90: facing +x, so
    a walker goes left to right)."""

    motion: str
    at: tuple[float, float]
    heading: float = 0.0
    body: str = "adult"


@dataclass(frozen=True)
class SceneSpec:
    name: str
    people: tuple[PersonSpec, ...]
    camera: str = "static"  # "static", "pan" (turns to follow the first walker), "track" or "slide" (travel)
    travel_m: float = 0.0  # "slide": how far the camera travels across the stage (negative: right to left)


SCENES: tuple[SceneSpec, ...] = (
    SceneSpec("cross2", (PersonSpec("walk_away", (-1.9, 0.0), 90), PersonSpec("walk_away", (1.9, 1.6), -90))),
    SceneSpec("pass_in_front", (PersonSpec("boxing", (0.0, 1.6), 10), PersonSpec("walk_away", (-2.0, 0.0), 90))),
    SceneSpec("three", (PersonSpec("wave_child", (-1.2, 1.2), 20, "child"), PersonSpec("reach", (1.2, 1.4), -20),
                        PersonSpec("walk_away", (2.2, 0.0), -90))),
    SceneSpec("cross2_pan", (PersonSpec("walk_away", (-1.9, 0.3), 90), PersonSpec("walk_away", (1.7, 1.8), -90)), "pan"),
    SceneSpec("four", (PersonSpec("kick", (-1.6, 2.2), 25), PersonSpec("squat_jump", (1.6, 2.4), -25),
                       PersonSpec("walk_away", (-2.2, 0.4), 90), PersonSpec("walk_away", (2.2, 1.3), -90))),
    SceneSpec("three_pan", (PersonSpec("walk_away", (-2.0, 0.2), 90), PersonSpec("turn_bend", (0.2, 1.8), 0),
                            PersonSpec("dance_b", (1.8, 2.6), -30)), "pan"),
)  # fmt: skip

def place_person(motion: Motion, spec: PersonSpec) -> Motion:
    """``motion`` turned by ``spec.heading`` about the vertical and moved so that it starts at ``spec.at``.

    The stage's y axis points away from the camera, which stands on the -y side; a rest body faces -y
    (towards the camera), Anny's convention.
    """
    Rz = rotvec(np.array([0.0, 0.0, np.radians(spec.heading)]))
    rotations = dict(motion.rotations)
    rotations["pelvis"] = Rz @ motion.rotations["pelvis"]  # the root bone's local rotation is its world rotation
    xy = (motion.root_xy - motion.root_xy[:1]) @ Rz[:2, :2].T + np.asarray(spec.at)
    return Motion(motion.name, motion.category, rotations, xy, motion.lift, motion.root_z, motion.source, motion.extra)


def visible_fraction(K: np.ndarray, R: np.ndarray, t: np.ndarray, verts: list[np.ndarray], size: tuple[int, int],
                     scale: int = 4, tolerance: float = 0.05) -> np.ndarray:  # fmt: skip
    """``[P, T]``: each person's share of mesh vertices that are in the picture and not behind another
    person: no other person's vertex in the same ``scale x scale``-pixel cell is nearer the camera by
    more than ``tolerance`` metres. (A person's own back does not count as hidden.)"""
    P, T = len(verts), len(R)
    w, h = size[0] // scale, size[1] // scale
    out = np.zeros((P, T))
    for i in range(T):
        cells, depths, zbufs = [], [], []
        for v in verts:
            uv, cam = project(K, R[i : i + 1], t[i : i + 1], v[i : i + 1])
            px = np.floor(uv[0] / scale).astype(int)
            inside = (cam[0, :, 2] > 0.1) & (px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)
            c = np.where(inside, px[:, 1] * w + px[:, 0], -1)
            z = np.full(w * h, np.inf)
            np.minimum.at(z, c[inside], cam[0, inside, 2])
            cells.append(c)
            depths.append(cam[0, :, 2])
            zbufs.append(z)
        for p, (c, d) in enumerate(zip(cells, depths)):
            ok = c >= 0
            others = np.min([zbufs[q] for q in range(P) if q != p], axis=0) if P > 1 else np.full(w * h, np.inf)
            out[p, i] = np.count_nonzero(d[ok] <= others[c[ok]] + tolerance) / len(c)
    return out


def choose_camera(rng: np.random.Generator, spec: SceneSpec, verts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """A camera in front of the stage (azimuth -25..25 deg, elevation 0..30 deg, focal 500-900 px)
    far enough for every body to stay in the picture; ``pan`` turns it to follow the first walker,
    ``track`` travels beside the first walker (a dolly shot: the camera moves with them and turns
    little), ``slide`` travels ``travel_m`` across the stage (eased in and out) while it keeps looking
    at the stage's centre (it travels and turns)."""
    w, h = WIDTH, HEIGHT
    everyone = np.concatenate([v[:, ::9] for v in verts], axis=1)  # [T, n, 3]
    T = len(everyone)
    centre = 0.5 * (everyone.reshape(-1, 3).min(0) + everyone.reshape(-1, 3).max(0))
    target = np.tile(centre, (T, 1))
    shift = np.zeros((T, 3))  # the camera's travel from its first position
    if spec.camera in ("pan", "track"):
        walker = next(i for i, p in enumerate(spec.people) if p.motion == "walk_away")
        c = verts[walker][:, ::9].mean(1)
        kernel = np.ones(21) / 21
        pad = np.concatenate([np.repeat(c[:1], 10, 0), c, np.repeat(c[-1:], 10, 0)])
        smooth = np.stack([np.convolve(pad[:, k], kernel, mode="valid") for k in range(3)], 1)
        if spec.camera == "pan":
            target[:, 0] = 0.5 * (smooth[:, 0] + centre[0])  # half-way between the walker and the stage: a pan
        else:  # the camera and its target move across with the walker
            target[:, 0] = smooth[:, 0]
            shift[:, 0] = smooth[:, 0] - smooth[0, 0]
        target[:, 1] = centre[1]
    elif spec.camera == "slide":
        s = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, T))  # 0 -> 1, eased
        shift[:, 0] = spec.travel_m * (s - 0.5)
    az = np.radians(rng.uniform(-25, 25))
    el = np.radians(rng.uniform(0, 30))
    focal = rng.uniform(500, 900)
    dist = 4.0
    for _ in range(400):
        horiz = np.array([np.sin(az), -np.cos(az), 0.0])
        pos = centre + dist * (np.cos(el) * horiz + np.array([0, 0, np.sin(el)]))
        pos[2] = max(pos[2], 0.6)
        K = np.array([[focal, 0, (w - 1) / 2], [0, focal, (h - 1) / 2], [0, 0, 1.0]])
        Rt = [look_at(pos + d, g) for d, g in zip(shift, target)]
        R, t = np.stack([r for r, _ in Rt]), np.stack([t for _, t in Rt])
        margin = 0.03 * h
        ok = True
        for v in verts:
            uv, cam = project(K, R, t, v[:, ::9])
            ok &= bool(cam[..., 2].min() > 0.5 and uv[..., 1].min() > margin and uv[..., 1].max() < h - margin)
            if spec.camera in ("static", "slide"):  # a pan may lose a walker at the edge for a moment; a static view keeps everyone
                ok &= bool(uv[..., 0].min() > margin and uv[..., 0].max() < w - margin)
        if ok:
            pan = np.degrees(np.arccos(np.clip(R[0, 2] @ R[-1, 2], -1, 1)))
            return K, R, t, {"azimuth_deg": float(np.degrees(az)), "elevation_deg": float(np.degrees(el)),
                             "distance_m": float(dist), "focal_px": float(focal), "pan_deg": float(pan),
                             "travel_m": float(np.linalg.norm(shift[-1] - shift[0]))}  # fmt: skip
        if dist < 12.0:
            dist = min(dist * 1.05, 12.0)
        else:
            focal = max(focal * 0.95, 300.0)
    raise RuntimeError(f"no camera keeps scene {spec.name} in frame")


def make_scene(model, index: int, spec: SceneSpec, seed: int, num_frames: int, out_dir: Path, motions_dir: Path,
               crf: int, sheets: Path | None, generator: str = GENERATOR) -> dict:  # fmt: skip
    scene_seed = seed * 1000 + index
    rng = np.random.default_rng(scene_seed)
    name = f"{index:02d}_{spec.name}"
    labels = list(model.bone_labels)
    pelvis = labels.index("pelvis")
    verts, joints, colors, phenotypes, heights, motions = [], [], [], [], [], []
    for person in spec.people:
        phenotype = sample_phenotype(rng, person.body)
        rest_v, rest_h = pose_body(model, _rest_motion(), phenotype)
        rest_heads = {b: rest_h[0, labels.index(b)] for b in labels}
        if person.motion in DEEPMIMIC_CLIPS:
            motion = deepmimic_motion(motions_dir / f"humanoid3d_{person.motion}.txt", num_frames, rest_heads, person.motion)
        else:
            motion = procedural_motion(person.motion, num_frames, rest_heads, rng)
        motion = place_person(motion, person)
        v, heads = pose_body(model, motion, phenotype)
        shift = place_in_world(motion, v, heads, pelvis, rest_h[0, pelvis, 2] - rest_v[0, :, 2].min())
        verts.append(v + shift[:, None])
        joints.append((heads + shift[:, None])[:, [labels.index(b) for b in LIMB_BONES.values()]])
        colors.append(vertex_colors(model, rest_v[0], rest_heads["head"], rng))
        phenotypes.append(list(phenotype.values()))
        heights.append(float(rest_v[0, :, 2].max() - rest_v[0, :, 2].min()))
        motions.append(motion)
    K, R, t, cam_info = choose_camera(rng, spec, verts)
    faces = model.faces.numpy()
    nv = verts[0].shape[1]
    all_faces = np.concatenate([faces + p * nv for p in range(len(verts))])
    centre = np.concatenate(verts, 1)[:, :, :2].reshape(-1, 2).mean(0)
    renderer = SceneRenderer(WIDTH, HEIGHT, all_faces, np.concatenate(colors), centre, 13.0, rng)
    try:
        frames = [renderer.render(np.concatenate([v[i] for v in verts]), K, R[i], t[i]) for i in range(num_frames)]
    finally:
        renderer.release()
    j2d, jcam, boxes = [], [], []
    for v, j in zip(verts, joints):
        uv_j, cam_j = project(K, R, t, j)
        uv, _ = project(K, R, t, v[:, ::3])
        j2d.append(uv_j)
        jcam.append(cam_j)
        boxes.append(np.concatenate([uv.min(1), uv.max(1)], axis=1))
    bbox = np.stack(boxes)
    visible = visible_fraction(K, R, t, verts, (WIDTH, HEIGHT))
    write_video(out_dir / f"{name}.mp4", frames, crf)
    np.savez_compressed(
        out_dir / f"{name}.npz", K=K.astype(np.float32), R_w2c=R.astype(np.float32), t_w2c=t.astype(np.float32),
        joints_cam=np.stack(jcam).astype(np.float32), joints_2d=np.stack(j2d).astype(np.float32),
        joint_names=np.array(list(LIMB_BONES)), bbox_xyxy=bbox.astype(np.float32),
        height_px=(bbox[..., 3] - bbox[..., 1]).astype(np.float32), visible=visible.astype(np.float32),
        motions=np.array([p.motion for p in spec.people]), categories=np.array([m.category for m in motions]),
        phenotype=np.array(phenotypes, np.float32), phenotype_labels=np.array(list(sample_phenotype(rng, "adult"))),
        height_m=np.array(heights, np.float32), camera_motion=np.array(spec.camera), scene=np.array(spec.name),
        seed=np.int64(scene_seed), fps=np.float64(30.0), image_size=np.array((WIDTH, HEIGHT), np.int64),
        generator=np.array(generator), camera=np.array(json.dumps(cam_info)),
    )  # fmt: skip
    if sheets is not None:
        contact_sheet(sheets / f"{name}.png", frames, np.stack(j2d))
    info = {"name": name, "scene": spec.name, "people": [p.motion for p in spec.people], "camera_motion": spec.camera,
            "frames": num_frames, "seed": scene_seed, "height_m": [round(h, 3) for h in heights],
            "height_px_median": [round(float(np.median(b[:, 3] - b[:, 1])), 1) for b in bbox],
            "visible_mean": [round(float(v.mean()), 3) for v in visible],
            "frames_mostly_hidden": [int((v < 0.5).sum()) for v in visible], "camera": cam_info}  # fmt: skip
    logger.info("%s: %s", name, json.dumps(info))
    return info


def main(argv: list[str] | None = None) -> int:
    def make(model, i: int, *rest) -> dict:
        return make_scene(model, i, SCENES[i], *rest)

    return run_tool(__doc__, 23, "scene", len(SCENES), make, GENERATOR, argv)


if __name__ == "__main__":
    raise SystemExit(main())
