"""3D reconstruction stage by stage on real motion: accuracy and time of each step.

A synthetic take from a CMU clip (``../shared/data/cmu_mocap``) seen by a generated studio with
issue 17's detector-like errors (noise 2 px, 8 % confident outliers, 2 % of view-frames left/right
swapped, 10 % dropouts): plain DLT, robust triangulation, the skeleton adjustment and the
filter, each scored against the ground truth (mean and 95th percentile joint error, share
missing, bone-length coefficient of variation over the clip's rigid bones).

Run: python benchmarks/reconstruction.py [--clip 131_01] [--fps 60] [--seconds 4]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from calibration.camera import CameraRig
from mocap.filtering import FilterConfig, fill_gaps, smooth
from mocap.keypoints import Keypoints2D
from mocap.metrics import joint_errors, summarize_errors
from mocap.skeleton_adjustment import fit_skeleton
from mocap.synthetic.observe import DetectorErrors, observe
from mocap.synthetic.real_motion import motion_from_bvh
from mocap.synthetic.studio import studio_rig
from mocap.triangulation import TriangulationConfig, triangulate, triangulate_views
from rigs.motion import Motion3D

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cmu_mocap"
DETECTOR_LIKE = DetectorErrors(noise_px=2.0, outlier_rate=0.08, swap_rate=0.02,
                               dropout_rate=0.10)


def scores(motion: Motion3D, truth: Motion3D) -> str:
    """'mean / p95 mm | missing | bone CV' of ``motion`` against ``truth``."""
    s = summarize_errors(joint_errors(motion, truth))
    true_lengths = truth.skeleton.bone_lengths(truth.xyz)                  # (F, P, B)
    rigid = (true_lengths.std(0) / true_lengths.mean(0) < 1e-3).all(0)      # (B,)
    lengths = motion.skeleton.bone_lengths(motion.xyz)[..., rigid]
    with np.errstate(invalid="ignore"):
        cv = np.nanmean(np.nanstd(lengths, 0) / np.nanmean(lengths, 0))
    return (f"{s['mean_mm']:.1f} / {s['p95_mm']:.1f} | {1 - s['recovered']:.2%} | "
            f"{cv:.2%}")


def make_take(clip: str, skeleton: str, fps: float, seconds: float | None, n_cameras: int,
              seed: int) -> tuple[Motion3D, CameraRig, Keypoints2D, str]:
    """(ground truth, studio rig, detector-like 2D, label) of one take."""
    truth = motion_from_bvh(DATA / f"{clip}.bvh", skeleton, fps=fps, duration_s=seconds,
                            start_s=1 / 120)
    rig = studio_rig(n_cameras, seed=seed)
    kp = observe(rig, truth, DETECTOR_LIKE, seed=seed)
    take = f"{clip} {skeleton} {truth.n_frames} frames, {n_cameras} cameras, seed {seed}"
    return truth, rig, kp, take


def one_take(clip: str, skeleton: str, fps: float, seconds: float | None, n_cameras: int,
             seed: int) -> list[str]:
    """Table rows: each step's scores and seconds on one take."""
    truth, rig, kp, take = make_take(clip, skeleton, fps, seconds, n_cameras, seed)
    start = time.perf_counter()
    dlt = triangulate(rig, kp, TriangulationConfig(method="dlt"))
    t_dlt, start = time.perf_counter() - start, time.perf_counter()
    robust = triangulate_views(rig, kp)
    t_robust, start = time.perf_counter() - start, time.perf_counter()
    fit = fit_skeleton(rig, kp, robust.motion, robust.kept, swapped=robust.swapped)
    t_fit, start = time.perf_counter() - start, time.perf_counter()
    config = FilterConfig()
    filtered = smooth(fill_gaps(fit.motion, config), config)
    t_filter = time.perf_counter() - start
    return [f"| {take} | plain DLT | {scores(dlt, truth)} | {t_dlt:.2f} |",
            f"| | robust triangulation | {scores(robust.motion, truth)} | {t_robust:.2f} |",
            f"| | + skeleton adjustment | {scores(fit.motion, truth)} | {t_fit:.2f} |",
            f"| | + gap filling and filter | {scores(filtered, truth)} | {t_filter:.2f} |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clip", default="131_01")
    parser.add_argument("--fps", type=float, default=60.0)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    print("| take | step | mean / p95 mm | missing | bone CV | s |")
    print("|---|---|---|---|---|---|")
    for n_cameras, seed in ((4, 0), (4, 1), (8, 0)):
        print("\n".join(one_take(args.clip, "coco17", args.fps, args.seconds, n_cameras, seed)))
    # issue 17's speed case: 4 cameras, 1,800 frames, 33 joints
    print("\n".join(one_take(args.clip, "blazepose33", 240.0, 1800 / 240, 4, 0)))


if __name__ == "__main__":
    main()
