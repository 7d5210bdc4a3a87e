"""The synthetic motion engine: motion → body → camera → 2-D detections → training clips.

One clip is made in these steps (all deterministic from ``(seed, split, index)``):

1. **Motion and shape.** A family is drawn from the allowed ones, then joint angles, root
   orientation and lift (:mod:`.motions`); ``betas ~ N(0, beta_std²)`` clipped to
   ``±beta_clip``.
2. **World placement.** The body is posed in the world (body-model frame, Y up, floor at
   ``y = 0``): the stance foot is planted (foot lock: the root translation cancels the
   horizontal motion of the lower foot, so the walking speed follows from the stride) and
   every frame's lowest body point is put on the floor (plus the motion's lift).
3. **Camera** (:mod:`.camera`): random intrinsics, a static camera at random yaw, distance,
   height and roll that sees the whole motion (a :class:`diffmesh.geometry.camera.Camera`).
4. **Ground truth in the camera convention.** ``global_orient = R_w2c · R_root_world``, so
   that ``body_model(theta)`` is the body as the camera sees it (OpenCV axes: x right, y
   down, z forward) rotated about the body model's rest pelvis joint, without
   translation — the convention of the official training data (SMPL poses of H36M/3DPW are
   given in the camera frame) and the one the mesh heads predict. The targets are then
   made exactly as the official readers do (DATA.md §3.3): ``verts = body(theta) × 1000``,
   ``kp_3d = J_regressor_h36m · verts``, both minus the regressed pelvis (``kp_3d[:, 0]``).
5. **2-D detections.** The camera-frame H36M joints are projected to pixels; detector-like
   offsets from the official noise model (DATA.md §5.3) are added, scaled from its H36M
   units to this camera (:data:`H36M_METRES_PER_UNIT`); confidences come from the offsets;
   joints and whole frames are dropped at random (DATA.md §5.4).
6. **Normalisation**, as the inference pipeline does it (INFERENCE.md §2): one square box
   around all detected joints of the clip (:func:`diffmesh.geometry.crop.crop_scale` with
   ratio [1, 1]) mapped to [−1, 1]. Dropped joints are ``(0, 0, 0)``.

Speed: clips are generated in batches (one body-model call for all frames of all clips of
a batch, through ``Dataset.__getitems__`` when a ``DataLoader`` asks for a batch); the
world pass and pose-only clips use a reduced body model that carries only the vertices the
H36M regressor and the floor contact need (exact, see :func:`diffmesh.body.subset.vertex_subset`); with ``mesh_vertex_stride > 1``
mesh clips carry a sample of the vertices for training losses (the same subset model).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from diffmesh.body import BodyModel, load
from diffmesh.body.subset import sampled_vertex_mask, vertex_subset
from diffmesh.conventions import NUM_BETAS
from diffmesh.data.augment import (
    OFFICIAL_NOISE,
    NoiseModel,
    mask_joints_and_frames,
    offset_confidence,
    sample_detection_offsets,
)
from diffmesh.data.synthetic.angles import angles_to_rotmats, root_rotmats
from diffmesh.data.synthetic.camera import CameraRanges, sample_camera
from diffmesh.data.synthetic.motions import FAMILIES, Motion, generate_motion
from diffmesh.data.types import MeshClip, PoseClip
from diffmesh.geometry.camera import Camera, project
from diffmesh.geometry.crop import MIN_BOX_JOINTS, CropBox, crop_box, normalize_in_box
from diffmesh.geometry.rotations import rotmat_to_axis_angle

logger = logging.getLogger(__name__)

__all__ = [
    "SPLITS",
    "SPLIT_SIZE",
    "H36M_METRES_PER_UNIT",
    "SyntheticClip",
    "SyntheticMotionEngine",
    "SyntheticMotionDataset",
    "motion_seed",
]

Split = Literal["train", "val", "test"]
Output = Literal["mesh", "pose", "full"]

SPLITS: tuple[str, ...] = ("train", "val", "test")
#: Motion seeds of split ``k`` are ``k·SPLIT_SIZE + index`` with ``0 <= index < SPLIT_SIZE``:
#: disjoint ranges, so no test or validation motion is ever generated for training.
SPLIT_SIZE = 10**12

#: Metres at the subject per unit of the H36M normalisation (DATA.md §2.1), the unit of the
#: official noise tables: the H36M cameras have f ≈ 1146 px and w = 1000 px, subjects stand
#: ≈ 4.4 m away, so one unit (w/2 = 500 px) ≈ 500·4.4/1146 ≈ 1.9 m. Noise offsets are
#: scaled by ``f/Z_pelvis · H36M_METRES_PER_UNIT`` pixels per unit, i.e. relative to the body.
H36M_METRES_PER_UNIT = 1.9

# Vertices closer than this to the lowest template vertex count as soles (floor contact).
_SOLE_BAND_M = 0.04
# Every n-th vertex is also used for floor contact (hands in deep squats, knees) and framing.
_FLOOR_STRIDE = 24
_PELVIS = 0
_FEET = {"left": (7, 10), "right": (8, 11)}  # SMPL ankle, foot (toe base)


def motion_seed(split: str, index: int) -> int:
    """The motion seed of clip ``index`` of ``split`` (disjoint ranges per split)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if not 0 <= index < SPLIT_SIZE:
        raise ValueError(f"clip index must be in [0, {SPLIT_SIZE}), got {index}")
    return SPLITS.index(split) * SPLIT_SIZE + int(index)


@dataclass
class SyntheticClip:
    """Everything known about one synthetic clip (float32 NumPy arrays; ``T`` frames).

    Training targets (the :class:`~diffmesh.data.types.MeshClip` / ``PoseClip`` fields):
        input: ``[T, 17, 3]`` normalised 2-D detections (x̃, ỹ in the clip box, confidence).
        theta: ``[T, 82]`` SMPL pose (24 × axis-angle; joint 0 = global orientation in the
            camera convention, see the module docstring) + 10 betas.
        kp_3d: ``[T, 17, 3]`` H36M joints, mm, camera axes, pelvis-relative.
        verts: ``[T, V, 3]`` vertices, mm, camera axes, pelvis-relative (``None`` for
            pose-only clips).
        label: ``[T, 17, 3]`` 3-D joints in the normalised units of ``input``: x̃, ỹ of the
            noise-free projection; z̃ = 2·(Z − Z_pelvis,0)·(f / Z_pelvis,0) / box size (depth
            relative to the first frame's pelvis, at the first frame's pixels per metre).

    Extras for evaluation and video tests:
        family, motion_seed, fps.
        K: ``[3, 3]`` intrinsics; image_size: (width, height) pixels.
        R_w2c ``[3, 3]``, t_w2c ``[3]``: world (Y up, floor y = 0) → camera.
        transl_cam: ``[T, 3]`` metres; ``body_model(theta, transl=transl_cam)`` is the body in
            the camera frame.
        joints_cam: ``[T, 17, 3]`` H36M joints in the camera frame, metres.
        joints_2d: ``[T, 17, 2]`` noise-free projection, pixels.
        keypoints_2d: ``[T, 17, 3]`` detections in pixels (x, y, confidence); dropped ones are 0.
        crop_box: the normalisation box (pixels).
        joint_angles: ``[T, 24, 3]`` the motion's joint angles (see :mod:`.motions`).
        transl_world: ``[T, 3]`` body-model translation in the world frame.
    """

    input: np.ndarray
    theta: np.ndarray
    kp_3d: np.ndarray
    verts: np.ndarray | None
    label: np.ndarray
    family: str
    motion_seed: int
    fps: float
    K: np.ndarray
    image_size: tuple[int, int]
    R_w2c: np.ndarray
    t_w2c: np.ndarray
    transl_cam: np.ndarray
    joints_cam: np.ndarray
    joints_2d: np.ndarray
    keypoints_2d: np.ndarray
    crop_box: CropBox
    joint_angles: np.ndarray
    transl_world: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def mesh_clip(self) -> MeshClip:
        """The :class:`~diffmesh.data.types.MeshClip` of this clip (needs ``verts``)."""
        if self.verts is None:
            raise ValueError("this clip was generated without vertices (output='pose'); use output='mesh' or 'full'")
        target = {"theta": self.theta, "kp_3d": self.kp_3d, "verts": self.verts}
        return MeshClip(input=self.input, target=target)  # type: ignore[typeddict-item]

    def pose_clip(self) -> PoseClip:
        """The :class:`~diffmesh.data.types.PoseClip` of this clip."""
        return PoseClip(input=self.input, label=self.label)


def _check_h36m(body: BodyModel) -> torch.Tensor:
    if body.J_regressor_h36m is None:
        raise ValueError(
            f"body model {body.name!r} has no J_regressor_h36m; the synthetic engine needs it for the "
            "H36M-17 joints (use diffmesh.body.load('open') or an official data/mesh folder with "
            "J_regressor_h36m_correct.npy)"
        )
    return body.J_regressor_h36m


def _foot_lock(joints: np.ndarray, airborne: np.ndarray) -> np.ndarray:
    """Horizontal root translation that keeps the lower foot planted.

    Args:
        joints: ``[T, 24, 3]`` posed SMPL joints in the world frame, without translation.
        airborne: ``[T]`` bool, frames without ground contact (flight): the body keeps the
            horizontal velocity it had at take-off instead of following a swinging foot.

    Returns:
        ``[T, 3]`` translation (y = 0) starting at 0.
    """
    T = joints.shape[0]
    height = {side: joints[:, list(ids), 1].min(1) for side, ids in _FEET.items()}  # [T] per side
    stance_left = height["left"] <= height["right"]  # [T]
    pos = {side: joints[:, list(ids)][:, :, [0, 2]].mean(1) for side, ids in _FEET.items()}  # [T, 2]
    stance_pos = np.where(stance_left[:, None], pos["left"], pos["right"])  # foot planted at t
    prev_pos = np.where(stance_left[1:, None], pos["left"][:-1], pos["right"][:-1])  # same foot at t-1
    step = np.zeros((T, 2))
    step[1:] = stance_pos[1:] - prev_pos  # how far the planted foot would slide
    for t in range(1, T):
        if airborne[t]:
            step[t] = step[t - 1]
    transl = np.zeros((T, 3))
    transl[:, [0, 2]] = -np.cumsum(step, axis=0)
    return transl


class SyntheticMotionEngine:
    """Generates :class:`SyntheticClip` s, deterministically from ``(seed, split, index)``.

    Args:
        body_model: ``"open"`` (default), a path accepted by :func:`diffmesh.body.load`
            (SMPL ``.pkl``/``.npz`` or an official ``data/mesh`` folder), or a ``BodyModel``
            with an H36M regressor.
        clip_len: frames per clip ``T`` (16 for the mesh heads, 243 for pre-training).
        fps: frame rate of the motions.
        families: motion families to draw from (default: all of :data:`FAMILIES`).
        exclude_families: families to leave out (e.g. hold one out of training).
        seed: dataset seed; the same seed, split and index give the same clip.
        noise: add detector-like 2-D noise and confidences (else exact 2-D, confidence 1).
        noise_model: the noise parameters (default: the official tables).
        mask_ratio, mask_T_ratio: probabilities of dropping a joint / a frame (0 disables).
        beta_std, beta_clip: shape sampling, ``betas ~ N(0, beta_std²)`` clipped.
        camera: camera sampling ranges.
        image_size: fixed ``(width, height)``, or ``None`` to sample one per clip.
        mesh_vertex_stride: ``1`` gives the full mesh in ``verts``; ``k > 1`` gives every
            ``k``-th vertex plus the H36M regressor's support plus the 24 joints (``0``: the
            support and the joints only — the official mesh losses use no vertices), i.e. the
            vertices of :attr:`mesh_model` (for training, whose mesh head must then decode
            with the same :attr:`mesh_model`; see :func:`diffmesh.body.subset.vertex_subset`).
    """

    def __init__(
        self,
        body_model: BodyModel | str | Path = "open",
        *,
        clip_len: int = 16,
        fps: float = 30.0,
        families: Sequence[str] | None = None,
        exclude_families: Sequence[str] = (),
        seed: int = 0,
        noise: bool = True,
        noise_model: NoiseModel = OFFICIAL_NOISE,
        mask_ratio: float = 0.05,
        mask_T_ratio: float = 0.1,
        beta_std: float = 1.0,
        beta_clip: float = 2.5,
        camera: CameraRanges = CameraRanges(),
        image_size: tuple[int, int] | None = None,
        mesh_vertex_stride: int = 1,
    ) -> None:
        if not isinstance(clip_len, int) or clip_len < 1:
            raise ValueError(f"clip_len must be a positive int, got {clip_len!r}")
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps!r}")
        chosen = list(FAMILIES) if families is None else list(families)
        unknown = sorted(set(chosen) - set(FAMILIES)) + sorted(set(exclude_families) - set(FAMILIES))
        if unknown:
            raise ValueError(f"unknown motion families {unknown}; available: {sorted(FAMILIES)}")
        self.families: tuple[str, ...] = tuple(f for f in chosen if f not in set(exclude_families))
        if not self.families:
            raise ValueError(
                f"no motion family left (families={families}, exclude_families={list(exclude_families)}); "
                "keep at least one"
            )
        self.body = body_model if isinstance(body_model, BodyModel) else load(body_model)
        h36m = _check_h36m(self.body)
        v = self.body.v_template
        # World pass: floor contact and framing need the soles and a coarse cover of the body.
        floor = v[:, 1] < v[:, 1].min() + _SOLE_BAND_M
        floor[::_FLOOR_STRIDE] = True
        self._floor_model = vertex_subset(self.body, floor, f"{self.body.name}-floor")
        self._num_floor = int(floor.sum())
        # Pose-only clips: the support of the H36M regressor gives exact H36M joints.
        self._pose_model = vertex_subset(self.body, h36m.abs().sum(0) > 0, f"{self.body.name}-h36m")
        #: The body model whose vertices mesh clips carry (the full model unless
        #: ``mesh_vertex_stride > 1``).
        self.mesh_model = self.body
        if mesh_vertex_stride == 0:  # the H36M support only: the pose-clip model already is that
            self.mesh_model = self._pose_model
        elif mesh_vertex_stride != 1:
            keep = sampled_vertex_mask(self.body, mesh_vertex_stride)
            self.mesh_model = vertex_subset(self.body, keep, f"{self.body.name}-every{mesh_vertex_stride}")
        self.clip_len, self.fps, self.seed = clip_len, float(fps), int(seed)
        self.noise, self.noise_model = noise, noise_model
        self.mask_ratio, self.mask_T_ratio = mask_ratio, mask_T_ratio
        self.beta_std, self.beta_clip = beta_std, beta_clip
        self.camera, self.image_size = camera, image_size
        self.num_betas = min(NUM_BETAS, self.body.num_betas)

    # ------------------------------------------------------------------ public API

    def generate(self, split: str, indices: Sequence[int], with_verts: bool = True) -> list[SyntheticClip]:
        """Generate clips ``indices`` of ``split`` (one batched body-model pass per stage).

        Args:
            split: ``"train"``, ``"val"`` or ``"test"`` (disjoint motion seeds).
            indices: clip indices within the split.
            with_verts: also produce ``verts`` (the full mesh); ``False`` for pose-only data
                is several times faster.
        """
        seeds = [motion_seed(split, i) for i in indices]
        if not seeds:
            return []
        with torch.no_grad():
            return self._generate(seeds, with_verts)

    # ------------------------------------------------------------------ internals

    def _rng(self, seed: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, seed])

    def _generate(self, seeds: list[int], with_verts: bool) -> list[SyntheticClip]:
        T, B = self.clip_len, len(seeds)
        rngs = [self._rng(s) for s in seeds]
        motions: list[Motion] = []
        betas = np.zeros((B, self.num_betas))
        for b, rng in enumerate(rngs):
            family = self.families[int(rng.integers(len(self.families)))]
            motions.append(generate_motion(family, rng, T, self.fps))
            betas[b] = np.clip(rng.normal(0.0, self.beta_std, self.num_betas), -self.beta_clip, self.beta_clip)

        local = np.stack([angles_to_rotmats(m.angles) for m in motions])  # [B, T, 24, 3, 3]
        root_world = np.stack([root_rotmats(m.heading, m.pitch, m.roll) for m in motions])  # [B, T, 3, 3]
        betas_frames = torch.as_tensor(np.repeat(betas, T, axis=0), dtype=torch.float32)  # [B*T, S]

        # World pass (reduced model): floor contact, foot lock, camera framing.
        world = self._floor_model(
            betas_frames,
            torch.as_tensor(local[:, :, 1:].reshape(B * T, -1, 3, 3), dtype=torch.float32),
            torch.as_tensor(root_world.reshape(B * T, 3, 3), dtype=torch.float32),
        )
        n = self._num_floor
        floor_y = world.vertices[:, :n, 1].min(1).values.reshape(B, T).double().numpy()  # [B, T]
        joints_w = world.joints.reshape(B, T, -1, 3).double().numpy()  # [B, T, 24, 3]
        cover_w = world.vertices.reshape(B, T, -1, 3).double().numpy()  # [B, T, n + 24, 3]

        cams: list[Camera] = []
        transl_world = np.zeros((B, T, 3))
        root_cam = np.zeros((B, T, 3, 3))
        for b, (m, rng) in enumerate(zip(motions, rngs)):
            transl = _foot_lock(joints_w[b], m.lift > 1e-3) + m.drift
            transl[:, 1] = -floor_y[b] + m.lift
            transl_world[b] = transl
            cam = sample_camera(rng, cover_w[b] + transl[:, None], self.camera, self.image_size)
            cams.append(cam)
            root_cam[b] = cam.R_w2c @ root_world[b]

        # theta in the camera convention; ground truth regenerated from it like the readers do.
        rotmats = np.concatenate([root_cam[:, :, None], local[:, :, 1:]], axis=2)  # [B, T, 24, 3, 3]
        pose_aa = rotmat_to_axis_angle(torch.as_tensor(rotmats.reshape(B * T, -1, 3, 3), dtype=torch.float32))
        pose_aa = pose_aa.reshape(B * T, -1)  # [B*T, 72]
        model = self.mesh_model if with_verts else self._pose_model
        out = model(betas_frames, pose_aa[:, 3:], pose_aa[:, :3])
        joints_h36m_mm = out.joints_h36m * 1000.0  # type: ignore[operator]
        pelvis_mm = joints_h36m_mm[:, _PELVIS : _PELVIS + 1]  # [B*T, 1, 3]
        kp_3d = (joints_h36m_mm - pelvis_mm).reshape(B, T, -1, 3).numpy()
        verts = None
        if with_verts:
            verts = (out.vertices * 1000.0 - pelvis_mm).reshape(B, T, -1, 3).numpy()
        rest_pelvis = out.joints[:, 0].reshape(B, T, 3).double().numpy()  # rotation centre J0
        h36m_model = out.joints_h36m.reshape(B, T, -1, 3).double().numpy()  # type: ignore[union-attr]

        theta = np.concatenate([pose_aa.reshape(B, T, 72).numpy(), np.repeat(betas[:, None], T, 1)], axis=-1)
        clips = []
        for b in range(B):
            cam, rng = cams[b], rngs[b]
            # body(theta) rotates about J0; the camera-frame body is R (x_world + transl) + t.
            transl_cam = (rest_pelvis[b] + transl_world[b]) @ cam.R_w2c.T + cam.t_w2c - rest_pelvis[b]
            joints_cam = h36m_model[b] + transl_cam[:, None]
            clips.append(
                self._finish_clip(
                    motions[b], seeds[b], cam, rng, theta[b], kp_3d[b], None if verts is None else verts[b],
                    transl_cam, joints_cam, transl_world[b],
                )  # fmt: skip
            )
        return clips

    def _finish_clip(
        self,
        motion: Motion,
        seed: int,
        cam: Camera,
        rng: np.random.Generator,
        theta: np.ndarray,
        kp_3d: np.ndarray,
        verts: np.ndarray | None,
        transl_cam: np.ndarray,
        joints_cam: np.ndarray,
        transl_world: np.ndarray,
    ) -> SyntheticClip:
        """2-D detections, normalisation and labels of one clip."""
        T = self.clip_len
        f = float(cam.K[0, 0])
        px = project(joints_cam, cam.K)  # [T, 17, 2]
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        if self.noise:
            delta = sample_detection_offsets(1, T, gen, self.noise_model, share_jitter=False)  # [1, T, 17, 2]
            conf = offset_confidence(delta, gen, self.noise_model)[0].numpy().astype(np.float64)  # [T, 17]
            px_per_unit = f * H36M_METRES_PER_UNIT / joints_cam[:, _PELVIS, 2]  # [T]
            detected = px + delta[0].numpy() * px_per_unit[:, None, None]
        else:
            conf = np.ones((T, px.shape[1]))
            detected = px.copy()
        keep = mask_joints_and_frames(
            torch.ones(1, T, px.shape[1], 2), gen, self.mask_ratio, self.mask_T_ratio, share_frame_mask=False
        )[0, ..., 0].numpy() > 0  # [T, 17]
        # The box frames the kept joints with confidence != 0 and needs >= 4 of them; a clip with
        # fewer detected joints is useless: keep them all.
        if (keep & (conf > 0)).sum() < MIN_BOX_JOINTS:
            keep[:] = True
            conf = np.maximum(conf, 0.01)
        keypoints_2d = np.concatenate([detected, conf[..., None]], axis=-1) * keep[..., None]  # dropped: 0
        # The inference normalisation (crop_scale with ratio 1): one box, kept for labels/extras.
        box = crop_box(keypoints_2d)
        inp = normalize_in_box(keypoints_2d, box) * keep[..., None]

        z = joints_cam[..., 2]
        z0 = z[0, _PELVIS]
        label_z = 2.0 * (z - z0) * (f / z0) / box.size
        label = np.concatenate([box.normalize(px), label_z[..., None]], axis=-1)
        f32 = np.float32
        return SyntheticClip(
            input=inp.astype(f32), theta=theta.astype(f32), kp_3d=kp_3d.astype(f32),
            verts=None if verts is None else verts.astype(f32), label=label.astype(f32),
            family=motion.family, motion_seed=seed, fps=self.fps, K=cam.K.astype(f32),
            image_size=(cam.width, cam.height), R_w2c=cam.R_w2c.astype(f32), t_w2c=cam.t_w2c.astype(f32),
            transl_cam=transl_cam.astype(f32), joints_cam=joints_cam.astype(f32), joints_2d=px.astype(f32),
            keypoints_2d=keypoints_2d.astype(f32), crop_box=box, joint_angles=motion.angles.astype(f32),
            transl_world=transl_world.astype(f32),
        )  # fmt: skip


class SyntheticMotionDataset(Dataset):
    """A map-style dataset of synthetic clips, generated on the fly.

    Args:
        length: number of clips (indices ``0 .. length-1`` of the split).
        split: ``"train"``, ``"val"`` or ``"test"``; motion seeds of different splits never
            coincide (:func:`motion_seed`).
        output: ``"mesh"`` → :class:`~diffmesh.data.types.MeshClip`, ``"pose"`` →
            :class:`~diffmesh.data.types.PoseClip` (no mesh, faster), ``"full"`` →
            :class:`SyntheticClip` (not collatable by the default ``collate_fn``).
        engine: a prepared :class:`SyntheticMotionEngine`; otherwise ``engine_kwargs`` build one.
        **engine_kwargs: arguments of :class:`SyntheticMotionEngine` (``body_model``,
            ``clip_len``, ``families``, ``exclude_families``, ``seed``, ``noise``, …).

    Example::

        train = SyntheticMotionDataset(100_000, "train", exclude_families=["jump"])
        test = SyntheticMotionDataset(2_000, "test")          # all families, unseen motions
        loader = DataLoader(train, batch_size=32, num_workers=4)  # batches via __getitems__
    """

    def __init__(
        self,
        length: int,
        split: Split = "train",
        output: Output = "mesh",
        engine: SyntheticMotionEngine | None = None,
        **engine_kwargs: object,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if output not in ("mesh", "pose", "full"):
            raise ValueError(f"output must be 'mesh', 'pose' or 'full', got {output!r}")
        if not isinstance(length, int) or not 0 <= length <= SPLIT_SIZE:
            raise ValueError(f"length must be an int in [0, {SPLIT_SIZE}], got {length!r}")
        if engine is not None and engine_kwargs:
            raise ValueError(f"pass either engine or engine arguments, not both (got {sorted(engine_kwargs)})")
        self.engine = engine if engine is not None else SyntheticMotionEngine(**engine_kwargs)  # type: ignore[arg-type]
        self.length, self.split, self.output = length, split, output

    def __len__(self) -> int:
        return self.length

    def _convert(self, clip: SyntheticClip) -> MeshClip | PoseClip | SyntheticClip:
        if self.output == "mesh":
            return clip.mesh_clip()
        if self.output == "pose":
            return clip.pose_clip()
        return clip

    def __getitems__(self, indices: Sequence[int]) -> list[MeshClip | PoseClip | SyntheticClip]:
        """A batch generated in one pass (used by ``DataLoader`` with automatic batching)."""
        for i in indices:
            if not 0 <= i < self.length:
                raise IndexError(f"clip index {i} out of range for a dataset of {self.length} clips")
        clips = self.engine.generate(self.split, list(indices), with_verts=self.output != "pose")
        return [self._convert(c) for c in clips]

    def __getitem__(self, index: int) -> MeshClip | PoseClip | SyntheticClip:
        if index < 0:
            index += self.length
        return self.__getitems__([index])[0]
