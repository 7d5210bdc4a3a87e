"""Real human motion for training: DeepMimic motion-capture clips retargeted to the SMPL-24 body model.

15 clips (about 34 s at 30 fps: walk, run, jump, backflip, cartwheel, crawl, two dances, two
get-ups, kick, punch, roll, spin, spin kick) from the DeepMimic humanoid data shipped with
pybullet 3.2.7, originally from the CMU and SFU motion-capture databases; see ``PROVENANCE.md``
and ``docs/synthetic_data.md`` ("Real motion capture"). :data:`HELD_OUT` clips are reserved for
the held-out video benchmark; training draws from :data:`TRAIN_CLIPS` through
:func:`sample_motion`, which augments them (tempo, windows, upper/lower-body mixing, joint noise,
mirroring, heading).

Example::

    import numpy as np
    from diffmesh.data.mocap import sample_motion
    pose_axis_angle, transl = sample_motion(np.random.default_rng(0), num_frames=16)
    # body_model(betas, pose_axis_angle[:, 1:], pose_axis_angle[:, 0], transl) stands on y = 0
"""

from __future__ import annotations

from diffmesh.data.mocap.augment import (
    LOWER_BODY,
    TEMPO_RANGE,
    UPPER_BODY,
    MocapSample,
    add_joint_noise,
    change_tempo,
    draw_motion,
    forward_kinematics,
    mirror,
    mix_upper_lower,
    rotate_heading,
    sample_motion,
)
from diffmesh.data.mocap.clips import (
    HELD_OUT,
    MOCAP_FILE,
    TRAIN_CLIPS,
    MocapClip,
    contact_points,
    list_clips,
    load_clip,
    rest_joints,
)

__all__ = [
    "HELD_OUT",
    "LOWER_BODY",
    "MOCAP_FILE",
    "TEMPO_RANGE",
    "TRAIN_CLIPS",
    "UPPER_BODY",
    "MocapClip",
    "MocapSample",
    "add_joint_noise",
    "change_tempo",
    "contact_points",
    "draw_motion",
    "forward_kinematics",
    "list_clips",
    "load_clip",
    "mirror",
    "mix_upper_lower",
    "rest_joints",
    "rotate_heading",
    "sample_motion",
]
