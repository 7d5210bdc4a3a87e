"""Build ``src/diffmesh/body/assets/open_body_display.npz``: the open body model's display mesh.

The overlay draws this lighter surface (:mod:`diffmesh.body.display`): half-edge collapses by
quadric error on the open body model's rest template, down to a quarter of its faces. Every vertex
that remains is one of the model's own, so the display mesh needs no skinning data of its own. The
computation is deterministic; ``--check`` rebuilds it and compares with the committed file.

Usage::

    python tools/build_display_mesh.py            # (re)write the asset (about 10 s)
    python tools/build_display_mesh.py --check    # exit 1 if the committed asset differs from a rebuild
    python tools/build_display_mesh.py --report   # the committed asset against the full mesh, drawn

``--report`` draws 16 frames of the sample walk (``diffmesh.pipelines.sample.walking_motion``) at
640x480 with both meshes, at the walk's distance and 2.5 times closer, and logs the silhouette IoU
and the mean shading difference where both cover a pixel.
"""

from __future__ import annotations

import argparse
import logging
import sys

import numpy as np

from diffmesh import body as body_lib
from diffmesh.body.display import DISPLAY_MESH_PATH, decimate, mesh_digest
from diffmesh.io.motion import atomic_write

logger = logging.getLogger("build_display_mesh")

#: The display mesh keeps this share of the open body model's faces.
FACE_SHARE = 0.25


def build() -> dict[str, np.ndarray]:
    body = body_lib.load("open")
    faces = body.faces.numpy()
    mesh = decimate(body.v_template.numpy(), faces, int(len(faces) * FACE_SHARE))
    return {
        "vertices": mesh.vertices.astype(np.int16),
        "faces": mesh.faces.astype(np.int16),
        "made_for": np.array(mesh_digest(faces, body.num_vertices)),
        "source": np.array(f"tools/build_display_mesh.py: diffmesh.body.display.decimate(open body model template, "
                           f"target_faces={int(len(faces) * FACE_SHARE)}) from {len(faces)} faces"),  # fmt: skip
    }


def report() -> None:
    import torch

    from diffmesh.body.display import display_body
    from diffmesh.pipelines.sample import walking_motion
    from diffmesh.render import Renderer, intrinsics_from_fov

    body = body_lib.load("open")
    model, faces, n = display_body(body)
    motion = walking_motion(64, 30.0)
    pose = torch.from_numpy(motion.pose_aa[::4].reshape(16, 72)).float()
    betas = torch.from_numpy(np.tile(motion.betas, (16, 1))).float()
    with torch.no_grad():
        full = body(betas=betas, body_pose=pose[:, 3:], global_orient=pose[:, :3]).vertices.numpy()
        shown = model(betas=betas, body_pose=pose[:, 3:], global_orient=pose[:, :3]).vertices[:, :n].numpy()
    K = intrinsics_from_fov(640, 480, 50.0)
    ious, shading = [], []
    with Renderer(640, 480) as r:
        for i in range(16):
            for closer in (1.0, 2.5):
                at = motion.transl[4 * i] / np.array([1.0, 1.0, closer])
                a = r.render(full[i] + at, body.faces.numpy(), K, cull_back_faces=True)
                b = r.render(shown[i] + at, faces.numpy(), K, cull_back_faces=True)
                both = a.mask & b.mask
                ious.append(both.sum() / (a.mask | b.mask).sum())
                shading.append(np.abs(a.image[both].astype(int) - b.image[both].astype(int)).mean())
    logger.info("display mesh: %d faces on %d vertices (full: %d on %d); 32 drawings: silhouette IoU min %.4f "
                "median %.4f, mean shading difference (of 255) median %.2f max %.2f", len(faces), n,
                body.faces.shape[0], body.num_vertices, min(ious), np.median(ious), np.median(shading), max(shading))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare a rebuild with the committed asset")
    parser.add_argument("--report", action="store_true", help="draw the committed asset against the full mesh")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.report:
        report()
        return 0
    arrays = build()
    if args.check:
        with np.load(DISPLAY_MESH_PATH) as old:
            same = set(old.files) == set(arrays) and all(np.array_equal(old[k], arrays[k]) for k in arrays)
        logger.info("%s %s a rebuild", DISPLAY_MESH_PATH, "matches" if same else "DIFFERS FROM")
        return 0 if same else 1
    atomic_write(DISPLAY_MESH_PATH, lambda f: np.savez_compressed(f, **arrays))
    logger.info("wrote %s: %d vertices, %d faces (%d bytes)", DISPLAY_MESH_PATH, len(arrays["vertices"]),
                len(arrays["faces"]), DISPLAY_MESH_PATH.stat().st_size)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
