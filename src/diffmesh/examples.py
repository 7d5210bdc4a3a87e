"""Built-in example input: a procedurally generated 2-D walking skeleton (no files needed)."""

from __future__ import annotations

import numpy as np

# A standing H36M-17 skeleton in normalised screen coordinates (x right, y down, metres-ish
# scale of a person ~1.6 units tall mapped into [-1, 1]).
_REST_2D = np.array(
    [
        [0.00, 0.00],  # pelvis
        [-0.08, 0.00],  # right hip
        [-0.08, 0.28],  # right knee
        [-0.08, 0.56],  # right ankle
        [0.08, 0.00],  # left hip
        [0.08, 0.28],  # left knee
        [0.08, 0.56],  # left ankle
        [0.00, -0.15],  # spine
        [0.00, -0.32],  # thorax
        [0.00, -0.38],  # nose
        [0.00, -0.48],  # head top
        [0.12, -0.30],  # left shoulder
        [0.14, -0.08],  # left elbow
        [0.15, 0.12],  # left wrist
        [-0.12, -0.30],  # right shoulder
        [-0.14, -0.08],  # right elbow
        [-0.15, 0.12],  # right wrist
    ],
    dtype=np.float32,
)


def walking_keypoints_2d(frames: int = 16, fps: float = 30.0) -> np.ndarray:
    """A walking-in-place clip ``[frames, 17, 3]`` (x, y normalised to [-1, 1], confidence 1).

    Legs and arms swing in anti-phase at one stride per second; a deterministic stand-in
    for detector output, used by ``diffmesh demo`` and the benchmarks.
    """
    t = np.arange(frames, dtype=np.float32) / fps
    phase = np.sin(2 * np.pi * t)[:, None]  # [T, 1]
    pts = np.repeat(_REST_2D[None], frames, axis=0).copy()  # [T, 17, 2]
    for knee, ankle, sign in ((2, 3, 1.0), (5, 6, -1.0)):
        pts[:, knee, 0] += 0.05 * sign * phase[:, 0]
        pts[:, ankle, 0] += 0.10 * sign * phase[:, 0]
        pts[:, ankle, 1] -= 0.03 * np.clip(sign * phase[:, 0], 0, None)
    for elbow, wrist, sign in ((12, 13, 1.0), (15, 16, -1.0)):
        pts[:, elbow, 0] -= 0.03 * sign * phase[:, 0]
        pts[:, wrist, 0] -= 0.07 * sign * phase[:, 0]
    pts[:, :, 1] += 0.01 * np.abs(phase)  # bob
    conf = np.ones((frames, 17, 1), dtype=np.float32)
    return np.concatenate([pts, conf], axis=-1)
