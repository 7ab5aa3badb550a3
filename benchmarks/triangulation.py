"""Triangulation throughput: joint-points per second (undistortion included), 4 to 16 cameras.

Run: python benchmarks/triangulation.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mocap.synthetic.motion import PersonStyle, synthetic_motion
from mocap.synthetic.observe import DetectorErrors, observe
from mocap.synthetic.studio import ring_rig
from mocap.triangulation import triangulate


def measure(n_cameras: int, n_frames: int, repeats: int) -> tuple[float, float]:
    """(points per second, mean error mm) for ``n_cameras`` on 2 people x 17 joints."""
    rig = ring_rig(n_cameras)
    truth = synthetic_motion("coco17", n_frames=n_frames,
                             people=[PersonStyle(), PersonStyle(phase=3.0, speed=-0.6)])
    kp = observe(rig, truth, DetectorErrors(noise_px=1.0))
    triangulate(rig, kp)                                                   # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        out = triangulate(rig, kp)
    seconds = (time.perf_counter() - start) / repeats
    err = np.nanmean(np.linalg.norm(out.xyz - truth.xyz, axis=-1)) * 1000
    return truth.xyz[..., 0].size / seconds, err


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("| cameras | joint-points/s | mean error (1 px noise) |")
    print("|---|---|---|")
    for n in (4, 8, 16):
        rate, err = measure(n, args.frames, args.repeats)
        print(f"| {n} | {rate:,.0f} | {err:.2f} mm |")


if __name__ == "__main__":
    main()
