"""Does ``summary.json``'s quality report point at the wrong frames? Per-frame error on the held-out clips.

    python benchmarks/bench_video_accuracy.py --work WORK          # the runs (keeps WORK/default/<clip>/result.npz)
    python benchmarks/frame_quality.py WORK [--system default]

For every frame with a result: the limb PA-MPJPE against the truth, the run's own keypoint fit
(:func:`diffmesh.pipelines.quality.keypoint_fit_pct`, what the report flags above
:data:`~diffmesh.pipelines.quality.POOR_FIT_PCT` %) and the detector's mean limb confidence. Prints how
well each ranks the frames' error (Spearman's rank correlation, pooled over all clips) and the mean
error of the frames above each fit threshold against the rest. Results: docs/benchmarks.md 5.8.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_video_accuracy import _LIMB_H36M, DEFAULT_CLIPS, load_clips  # noqa: E402
from diffmesh.metrics import p_mpjpe  # noqa: E402
from diffmesh.pipelines.quality import POOR_FIT_PCT, keypoint_fit_pct  # noqa: E402


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (ties broken by order; the values here are continuous)."""
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work", help="the --work folder of a bench_video_accuracy.py run")
    parser.add_argument("--system", default="default", help="the system's subfolder (default: default)")
    parser.add_argument("clip_dir", nargs="?", default=str(DEFAULT_CLIPS))
    args = parser.parse_args()
    errors, fits, confidences = [], [], []
    print("| clip | frames | limb PA-MPJPE (mm) | median fit (%) | frames above the report's threshold |")
    print("|---|---:|---:|---:|---:|")
    for clip in load_clips(Path(args.clip_dir)):
        path = Path(args.work) / args.system / clip["name"] / "result.npz"
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist; run bench_video_accuracy.py --work {args.work} first")
        with np.load(path, allow_pickle=False) as r:
            res = {k: r[k] for k in ("frame_indices", "valid", "joints_3d_cam", "K", "keypoints_2d")}
        pred = res["joints_3d_cam"][:, _LIMB_H36M]
        ok = res["valid"].astype(bool) & np.isfinite(pred).all(axis=(1, 2))
        truth = clip["gt"]["joints_cam"][res["frame_indices"][ok]]
        err = p_mpjpe(pred[ok].astype(np.float64), truth.astype(np.float64)) * 1000
        fit = keypoint_fit_pct(res["joints_3d_cam"], res["K"], res["keypoints_2d"])[ok]
        errors.append(err)
        fits.append(fit)
        confidences.append(res["keypoints_2d"][ok][:, _LIMB_H36M, 2].mean(axis=1))
        print(f"| {clip['name']} | {ok.sum()} | {err.mean():.0f} | {np.nanmedian(fit):.1f} | {np.mean(fit > POOR_FIT_PCT) * 100:.0f} % |")
    err, fit, conf = (np.concatenate(x) for x in (errors, fits, confidences))
    known = np.isfinite(fit)
    print(f"\n{len(err)} frames; rank correlation with the frame's error: keypoint fit "
          f"{rank_correlation(fit[known], err[known]):.2f}, detector confidence (lower = worse) {rank_correlation(-conf, err):.2f}\n")  # fmt: skip
    print("| keypoint fit above | frames | their limb PA-MPJPE (mm) | the other frames' (mm) |")
    print("|---:|---:|---:|---:|")
    for threshold in (3.0, 4.0, POOR_FIT_PCT, 6.0, 8.0):
        above = np.nan_to_num(fit, nan=0.0) > threshold
        print(f"| {threshold:g} % | {above.mean() * 100:.1f} % | {err[above].mean():.0f} | {err[~above].mean():.0f} |")


if __name__ == "__main__":
    main()
