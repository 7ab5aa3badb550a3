"""Triangulation throughput and accuracy, plain DLT and robust, 4 to 16 cameras.

Throughput is joint-points per second (undistortion included) on a take with the detector-like
errors of issue 17 (noise 2 px, 8 % confident outliers, 2 % of view-frames left/right swapped,
10 % dropouts); accuracy against the ground truth on that take and on one with 1 px noise only.

Run: python benchmarks/triangulation.py
"""

from __future__ import annotations

import argparse
import time

from mocap.keypoints import Keypoints2D
from mocap.metrics import joint_errors, summarize_errors
from mocap.synthetic.motion import PersonStyle, synthetic_motion
from mocap.synthetic.observe import DetectorErrors, observe
from mocap.synthetic.studio import ring_rig
from mocap.triangulation import TriangulationConfig, triangulate
from rigs.motion import Motion3D

DETECTOR_LIKE = DetectorErrors(noise_px=2.0, outlier_rate=0.08, swap_rate=0.02,
                               dropout_rate=0.10)


def timed(rig, kp: Keypoints2D, config: TriangulationConfig, repeats: int
          ) -> tuple[float, Motion3D]:
    """(seconds per run, result) of ``repeats`` runs after a warm-up."""
    triangulate(rig, kp, config)
    start = time.perf_counter()
    for _ in range(repeats):
        out = triangulate(rig, kp, config)
    return (time.perf_counter() - start) / repeats, out


def measure(n_cameras: int, n_frames: int, repeats: int, method: str) -> dict[str, float]:
    """Points per second on the detector-like take, and accuracy (mm, fraction missing) on it
    and on a 1 px take, for ``n_cameras`` on 2 people x 17 joints."""
    rig = ring_rig(n_cameras)
    truth = synthetic_motion("coco17", n_frames=n_frames,
                             people=[PersonStyle(), PersonStyle(phase=3.0, speed=-0.6)])
    config = TriangulationConfig(method=method)
    seconds, out = timed(rig, observe(rig, truth, DETECTOR_LIKE), config, repeats)
    hard = summarize_errors(joint_errors(out, truth))
    easy = summarize_errors(joint_errors(
        triangulate(rig, observe(rig, truth, DetectorErrors(noise_px=1.0)), config), truth))
    return {"rate": truth.xyz[..., 0].size / seconds, "easy_mean": easy["mean_mm"],
            "mean": hard["mean_mm"], "p95": hard["p95_mm"], "missing": 1 - hard["recovered"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("| cameras | method | joint-points/s | mean error (1 px noise) "
          "| detector-like errors: mean / p95 / missing |")
    print("|---|---|---|---|---|")
    for n in (4, 8, 16):
        for method in ("dlt", "robust"):
            r = measure(n, args.frames, args.repeats, method)
            print(f"| {n} | {method} | {r['rate']:,.0f} | {r['easy_mean']:.2f} mm "
                  f"| {r['mean']:.1f} / {r['p95']:.1f} mm / {100 * r['missing']:.2f} % |",
                  flush=True)


if __name__ == "__main__":
    main()
