"""The lifter (issue 20): accuracy on held-out CMU motion seen through the Pose2Sim studio's four
cameras with 3 px noise (acceptance 1) and through random studio cameras, inference speed on
this machine's cores, what the shipped weights record of their training, and per Pose2Sim
camera how much of the error is the body's size (the error after each frame's best scale).

Published figures for comparison (Human3.6M, protocol 1 MPJPE / protocol 2 PA-MPJPE, cited,
not re-run): Martinez et al. 2017, "A simple yet effective baseline for 3D human pose
estimation": 62.9 / 47.7 mm from detected 2D (45.5 mm MPJPE from ground-truth 2D); Pavllo et al.
2019, VideoPose3D (243 frames): 46.8 / 36.5 mm from CPN 2D (37.2 mm MPJPE from ground-truth 2D).
Those are trained on 1.5 million Human3.6M frames and tested on its 2 held-out subjects; ours
on 6,600 frames of CMU capture and tested on clips it never saw, so they bound, not match.

Run: python benchmarks/lifter.py
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from calibration.camera import CameraRig
from calibration.importers import import_calibration
from mocap.lifting.commands import EVAL_NOISE_PX, evaluate, look_at_point
from mocap.lifting.features import lift_skeleton, root_relative
from mocap.lifting.lift import lift_ideal, lift_pixels
from mocap.lifting.motion_files import find_motion_files, read_motion
from mocap.lifting.weights import Lifter, load_lifter
from mocap.metrics import procrustes_align

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def main() -> None:
    lifter = load_lifter()
    made = lifter.made
    print(f"shipped weights: {made.get('command')} --seed {made.get('seed')}, "
          f"{made.get('steps')} steps, trained on {', '.join(made.get('trained_on', []))}; "
          f"held out {', '.join(made.get('held_out', []))}")
    held = [f for f in find_motion_files([DATA / "cmu_mocap"])
            if f.name in made.get("held_out", [])]
    clips = [read_motion(f).xyz[:, 0] for f in held]
    rates = [30.0] * len(clips)
    qualisys = import_calibration(DATA / "pose2sim_demo" / "calibration" / "Calib.qca.txt")
    print("| held-out clips, cameras | noise px | MPJPE mm | PA-MPJPE mm | camera-frames |")
    print("|---|---|---|---|---|")
    for label, rig in (("Pose2Sim studio (4)", qualisys), ("random studio (4 per clip)", None)):
        for noise in (0.0, EVAL_NOISE_PX):
            s = evaluate(lifter, clips, rates, rig, noise, seed=0)
            print(f"| {', '.join(f.name for f in held)}, {label} | {noise:g} | "
                  f"{s.mpjpe_mm:.1f} | {s.pa_mpjpe_mm:.1f} | {s.frames} |")
    size_rows(lifter, clips, qualisys)
    ideal = np.random.default_rng(0).normal(0, 0.1, (20_000, len(lifter.joints), 2))
    up = np.array([0.0, -0.95, -0.31])                  # a camera pitched 18 degrees down
    lift_ideal(lifter, ideal[:100], up, 30.0)                          # warm up
    start = time.perf_counter()
    lift_ideal(lifter, ideal, up, 30.0)
    seconds = time.perf_counter() - start
    print(f"\ninference: {len(ideal) / seconds:,.0f} frames/s ({torch.get_num_threads()} torch "
          f"threads; 20,000 frames of one person, features included)")


def size_rows(lifter: Lifter, clips: list[np.ndarray], rig: CameraRig) -> None:
    """Per camera of ``rig`` (3 px noise): MPJPE, the same after each frame's best scale alone,
    PA-MPJPE and that scale's median: how much of the error is the body's size."""
    rng = np.random.default_rng(0)
    skeleton = lift_skeleton()
    print("\n| Pose2Sim camera, 3 px | MPJPE mm | MPJPE after best scale mm | PA-MPJPE mm | "
          "median best scale |\n|---|---|---|---|---|")
    for camera in rig:
        truth, lifted = [], []
        for world in clips:
            world = world + (look_at_point(rig) - np.nanmean(world.reshape(-1, 3), 0)) * [1, 1, 0]
            pixels = camera.project(world)
            pixels = np.where(camera.in_image(pixels)[..., None], pixels, np.nan)
            pixels = pixels + rng.normal(0.0, EVAL_NOISE_PX, pixels.shape)
            truth.append(root_relative(camera.world_to_camera(world), skeleton))
            lifted.append(lift_pixels(lifter, camera, pixels, skeleton, 30.0))
        t, e = np.concatenate(truth), np.concatenate(lifted)
        scored = np.isfinite(e).all((-1, -2))
        t, e = t[scored], e[scored]
        scale = (e * t).sum((-1, -2)) / (e * e).sum((-1, -2))                       # (F,)
        errors = [np.linalg.norm(x - t, axis=-1).mean() * 1000
                  for x in (e, scale[:, None, None] * e, procrustes_align(e, t))]
        print(f"| {camera.name} | {errors[0]:.1f} | {errors[1]:.1f} | {errors[2]:.1f} | "
              f"{np.median(scale):.2f} |")


if __name__ == "__main__":
    main()
