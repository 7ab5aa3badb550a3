"""Rig fitting, exports and robot retargeting: time for a 1-minute take and accuracy on CMU
motion (issue 18's benchmarks).

- Rig fit accuracy: each CMU clip in ``../shared/data/cmu_mocap`` turned into keypoints
  (``coco17`` and ``blazepose33``, 60 fps) and fitted; mean and 95th percentile distance from
  each rig bone's head to the keypoint it stands for, and the largest bone-length change.
- Time for a 1-minute take (3,600 frames at 60 fps: clip 01_01 repeated): the rig fit (direct,
  and with 3 refinement steps) and every exporter, one timed run each after an untimed one.
- Robot: the right hand of clip 131_02 (30 fps) retargeted to the bundled arm6 as
  ``mocap export --format robot`` does by default (``write_robot``, files included): frames per
  second, share of frames within 5 mm, retime factor.

Run: python benchmarks/exports.py
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from exporters.bvh import write_bvh
from exporters.c3d import write_c3d
from exporters.fbx import write_fbx
from exporters.tables import write_motion_csv, write_motion_json
from exporters.trc import write_trc
from mocap.export_config import RobotConfig
from mocap.export_stage import write_robot
from mocap.synthetic.real_motion import motion_from_bvh
from rigs.humanoid import humanoid_layout
from rigs.motion import Motion3D
from rigs.rig_fit import RigFitConfig, fit_rig

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cmu_mocap"


def fit_accuracy(motion: Motion3D) -> str:
    """'mean / p95 mm | bone change mm' of the rig fitted to ``motion``."""
    animation = fit_rig(motion)
    layout = humanoid_layout(motion.skeleton)
    bones = [b for b, point in enumerate(layout.heads) if point >= 0]
    targets = layout.points(motion.xyz[:, 0])[:, [layout.heads[b] for b in bones]]
    errors = np.linalg.norm(animation.world_positions()[:, bones] - targets, axis=-1) * 1000
    heads = animation.world_positions()
    parents = np.array(animation.rig.parents[1:])
    lengths = np.linalg.norm(heads[:, 1:] - heads[:, parents], axis=-1)      # (F, B - 1)
    change = np.nanmax(np.nanmax(lengths, 0) - np.nanmin(lengths, 0)) * 1000
    return (f"{np.nanmean(errors):.2f} / {np.nanpercentile(errors, 95):.2f} | "
            f"{change:.1e}")


def timed(work: Callable[[], object]) -> float:
    """Seconds of one run of ``work`` after an untimed one."""
    work()
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def one_minute(motion: Motion3D, frames: int = 3600) -> Motion3D:
    """``motion`` repeated to ``frames`` frames."""
    index = np.arange(frames) % motion.n_frames
    return replace(motion, xyz=motion.xyz[index], reprojection_error=None, n_views=None,
                   source=None)


def main() -> None:
    print("| clip | keypoints | frames | mean / p95 mm | bone length change mm |")
    print("|---|---|---|---|---|")
    for clip in sorted(DATA.glob("*.bvh")):
        for keypoints in ("coco17", "blazepose33"):
            motion = motion_from_bvh(clip, keypoints, fps=60)
            print(f"| {clip.stem} | {keypoints} | {motion.n_frames} | {fit_accuracy(motion)} |")

    take = one_minute(motion_from_bvh(DATA / "01_01.bvh", "blazepose33", fps=60))
    animation = fit_rig(take)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        steps = {
            "rig fit, direct": lambda: fit_rig(take),
            "rig fit, 3 refinement steps": lambda: fit_rig(
                take, config=RigFitConfig(ik_iterations=3)),
            "BVH": lambda: write_bvh(animation, out / "a.bvh"),
            "FBX (bpy)": lambda: write_fbx(animation, out / "a.fbx"),
            "TRC": lambda: write_trc(take.xyz[:, 0], list(take.skeleton.joints), take.fps,
                                     out / "a.trc"),
            "C3D (ezc3d)": lambda: write_c3d(take, out / "a.c3d"),
            "CSV": lambda: write_motion_csv(take, out / "a.csv"),
            "JSON": lambda: write_motion_json(take, out / "a.json"),
        }
        print(f"\n1-minute take: {take.n_frames} frames at {take.fps:g} fps, "
              f"{take.skeleton.name}, {len(animation.rig)} rig bones")
        print("| step | s |")
        print("|---|---|")
        for name, work in steps.items():
            print(f"| {name} | {timed(work):.2f} |", flush=True)

    reach = motion_from_bvh(DATA / "131_02.bvh", "blazepose33", fps=30)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        notes = write_robot(reach, RobotConfig(), Path(tmp))
        seconds = time.perf_counter() - start
    print(f"\nRobot: 131_02 right hand, {reach.n_frames} frames at 30 fps onto the bundled arm6 "
          f"(mocap export --format robot's defaults): {reach.n_frames / seconds:.0f} frames/s "
          f"with the files; {notes[0]}")

if __name__ == "__main__":
    main()
