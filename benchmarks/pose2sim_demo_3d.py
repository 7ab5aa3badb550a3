"""Issue 17's real case, step by step: the Pose2Sim demo's single person with the studio's
Qualisys calibration, from the Pose2Sim authors' OpenPose 2D and from our BlazePose on the
demo's videos (detected by ``mocap detect`` into a temporary session).

Per step: median distance from every detection (score >= 0.3) to its joint projected through
the cameras the step ends with, mean and max CV of the body's rigid bone lengths, and the share
of frames with a full skeleton (after the filter's gap filling for the last row).

Run: python benchmarks/pose2sim_demo_3d.py
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from calibration.camera import CameraRig
from calibration.importers import import_calibration
from mocap.association import take_people
from mocap.cli import main as mocap
from mocap.config import SessionConfig
from mocap.keypoints import Keypoints2D
from mocap.reconstruction_stage import existing_keypoints, filter_motion, triangulate_and_adjust
from mocap.session import Session
from mocap.skeleton_adjustment import SkeletonConfig
from mocap.take_quality import body_bone_cv, detection_distances
from mocap.triangulation import TriangulationConfig
from rigs.motion import Motion3D

DEMO = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "pose2sim_demo"
CAMERAS = ("01", "02", "03", "04")


def row(label: str, motion: Motion3D, rig: CameraRig, keypoints: Keypoints2D) -> str:
    cv = body_bone_cv(motion)
    full = np.isfinite(motion.xyz).all(axis=(-1, -2)).all(-1).mean()
    return (f"| {label} | {np.median(detection_distances(rig, motion, keypoints)):.2f} | "
            f"{cv.mean():.2%} / {cv.max():.2%} | {full:.0%} |")


def steps(source: str, session: Path) -> list[str]:
    """Rows of one 2D source, from the plain DLT to the whole pipeline."""
    qualisys = import_calibration(DEMO / "calibration" / "Calib.qca.txt")
    config = SessionConfig.load(session / "session.toml")
    keypoints, _ = existing_keypoints(Session.open(session), qualisys, config)
    keypoints, _ = take_people(qualisys, keypoints, config.triangulation)
    off = SkeletonConfig(enabled=False)
    cases = [("plain DLT", replace(config, triangulation=TriangulationConfig(method="dlt",
                                                                            people=1),
                                   skeleton=off)),
             ("robust triangulation", replace(config, skeleton=off)),
             ("+ skeleton adjustment", replace(config, skeleton=SkeletonConfig())),
             ("+ refine_cameras", replace(config, skeleton=SkeletonConfig(refine_cameras=True)))]
    rows = []
    for label, case in cases:
        motion, rig = triangulate_and_adjust(qualisys, keypoints, case)
        rows.append(row(f"{source}: {label}" if not rows else label, motion, rig, keypoints))
    rows.append(row("+ gap filling and filter", filter_motion(motion, config), rig, keypoints))
    return rows


def main() -> None:
    print("| 2D, step | median px | body bone CV mean / max | full skeleton |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        openpose = Path(tmp) / "openpose"
        (openpose / "keypoints2d").mkdir(parents=True)
        for cam in CAMERAS:
            (openpose / "keypoints2d" / f"cam_{cam}").symlink_to(
                DEMO / "single_person" / "openpose_body25b" / f"cam{cam}_json")
        (openpose / "session.toml").write_text('fps = 60\nkeypoint_set = "body25b"\n'
                                               "[triangulation]\npeople = 1\n")
        print("\n".join(steps("OpenPose", openpose)))
        blazepose = Path(tmp) / "blazepose"
        (blazepose / "videos").mkdir(parents=True)
        for cam in CAMERAS:
            (blazepose / "videos" / f"cam_{cam}.mp4").symlink_to(
                DEMO / "single_person" / "videos" / f"cam{cam}.mp4")
        (blazepose / "session.toml").write_text("[triangulation]\npeople = 1\n")
        assert mocap(["detect", str(blazepose), "--calibration",
                      str(DEMO / "calibration" / "Calib.qca.txt"), "-q"]) == 0
        print("\n".join(steps("BlazePose", blazepose)))


if __name__ == "__main__":
    main()
