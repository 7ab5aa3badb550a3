"""Synchronisation from the motion (issue 19, item 3): one camera 5 frames late and one 2.5
frames early on CMU takes with issue 17's detector-like errors, at 30 fps; the offsets found,
the time to find them, and the robust triangulation's mean error synchronized, unsynchronized,
with the offsets found applied (as ``--sync auto`` does) and with the true offsets applied; then
the error of ``mocap run``'s whole 3D path (triangulation, skeleton adjustment, filter), which
acceptance 3 of issue 19 bounds, synchronized and with the offsets found.

Run: python benchmarks/sync.py
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from mocap.config import SessionConfig
from mocap.keypoints import Keypoints2D
from mocap.metrics import joint_errors, summarize_errors
from mocap.reconstruction_stage import filter_motion, triangulate_and_adjust
from mocap.sync_estimation import estimate_offsets, shift_keypoints, snapped
from mocap.synthetic.lagged import LaggedTake, lagged_take
from mocap.synthetic.observe import DetectorErrors
from mocap.triangulation import triangulate_views

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cmu_mocap"
DETECTOR_LIKE = DetectorErrors(noise_px=2.0, outlier_rate=0.08, swap_rate=0.02,
                               dropout_rate=0.10)
LAYOUTS = (("131_01", 5, 0), ("131_02", 5, 3), ("01_01", 4, 2), ("131_03", 6, 1))


def mean_mm(take: LaggedTake, kp: Keypoints2D, whole_path: bool = False) -> float:
    """Mean joint error (mm) of the robust triangulation of ``kp`` (or of the whole 3D path)
    against the take's truth."""
    config = SessionConfig()
    motion = (filter_motion(triangulate_and_adjust(take.rig, kp, config)[0], config)
              if whole_path else triangulate_views(take.rig, kp).motion)
    return summarize_errors(joint_errors(motion, take.truth))["mean_mm"]


def main() -> None:
    print("| take | largest offset error, frames | s | triangulation mm: synced / unsynced / "
          "found offsets / true offsets | found vs synced | whole 3D path mm: synced / found "
          "offsets | found vs synced |")
    print("|---|---|---|---|---|---|---|")
    for clip, n_cameras, seed in LAYOUTS:
        lags = np.zeros(n_cameras)
        lags[1], lags[3] = 5.0, -2.5
        take = lagged_take(DATA / f"{clip}.bvh", n_cameras, seed, lags, DETECTOR_LIKE)
        start = time.perf_counter()
        found = estimate_offsets(take.rig, take.lagged, max_shift_frames=8)
        seconds = time.perf_counter() - start
        shifted = [take.synced, take.lagged, shift_keypoints(take.lagged, snapped(found.offsets)),
                   shift_keypoints(take.lagged, lags)]
        errors = [mean_mm(take, kp) for kp in shifted]
        synced = errors[0]
        whole = [mean_mm(take, kp, whole_path=True) for kp in (shifted[0], shifted[2])]
        print(f"| {clip}, {n_cameras} cameras, seed {seed}, {take.truth.n_frames} frames | "
              f"{np.abs(found.offsets - lags).max():.3f} | {seconds:.2f} | "
              f"{' / '.join(f'{e:.2f}' for e in errors)} | {errors[2] / synced - 1:+.1%} | "
              f"{whole[0]:.2f} / {whole[1]:.2f} | {whole[1] / whole[0] - 1:+.1%} |")


if __name__ == "__main__":
    main()
