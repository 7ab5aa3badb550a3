"""Exports of a take's 3D motion (``[export]`` in session.toml, ``mocap export``, the end of
``mocap run``): the rigged skeleton for Blender (BVH, FBX), markers for biomechanics (TRC),
and robot trajectories.

Files, in the output folder (one per person where the format holds one person, named
``..._person<id>`` when the take has several):

========  =========================================================================
format    files
========  =========================================================================
bvh       ``skeleton.bvh``: the humanoid rig fitted to each person (rigs/rig_fit.py)
fbx       ``skeleton.fbx``: every person's armature and action (needs bpy: the
          ``blender`` extra); ``skeleton.blend`` too with ``blend = true``
trc       ``points3d.trc``: the joints as OpenSim/Pose2Sim markers
c3d       ``points3d.c3d``: the same as C3D (needs ezc3d: the ``biomech`` extra)
csv       ``points3d.csv``: one row per frame and person (exporters/tables.py)
json      ``points3d.json``: the same with the take's metadata
robot     ``robot/hand_<side>.csv`` (tool poses in the robot base frame) and
          ``robot/joints_<arm>.csv`` / ``.json`` (the arm's joints, retimed to its
          velocity limits; the JSON lists the stretches out of reach)
========  =========================================================================
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from calibration.camera import CameraRig
from calibration.io import read_calibration
from exporters.bvh import write_bvh
from exporters.c3d import write_c3d
from exporters.fbx import write_fbx
from exporters.points3d import read_points3d
from exporters.robot import write_hand_trajectory, write_joint_trajectory
from exporters.tables import write_motion_csv, write_motion_json
from exporters.trc import write_trc
from mocap.errors import InputError
from mocap.export_config import OUTPUT_PATTERNS, REFINED_CALIBRATION, ExportConfig, RobotConfig
from mocap.run_outputs import RunOutputs
from mocap.session import Session
from rigs.errors import RigError
from rigs.hand_pose import hand_poses
from rigs.motion import Motion3D
from rigs.rig import RigAnimation
from rigs.rig_fit import RigFitConfig, fit_rig
from rigs.robot_frame import place_in_workspace, reach_scale, resample, to_base
from rigs.robot_ik import JointTrajectory, retarget
from rigs.urdf_arm import ARM6, read_urdf


def write_exports(motion: Motion3D, config: ExportConfig, folder: Path, *,
                  formats: Sequence[str] | None = None, cameras: CameraRig | None = None
                  ) -> list[str]:
    """Write ``formats`` (default: ``config.formats``, as ``mocap run`` does) into ``folder``.

    Asked for explicitly, every format must succeed; by default a format that cannot be
    written here (FBX without bpy, a rig the take cannot drive) is skipped with a note.

    Returns:
        Notes for the summary (skipped formats, robot reach).
    Raises:
        ExportError, RigError: an explicitly asked format failed (naming why and the fix).
    """
    explicit = formats is not None
    asked = tuple(formats if explicit else config.formats)
    notes: list[str] = []
    if "fbx" in asked and not explicit and importlib.util.find_spec("bpy") is None:
        notes.append("no skeleton.fbx: Blender's bpy is not installed "
                     "(pip install 'mocap[blender]')")
        asked = tuple(f for f in asked if f != "fbx")
    if "trc" in asked:
        write_trc_files(motion, folder)
    if "c3d" in asked:
        for p, name in enumerate(person_names(motion, "points3d", ".c3d")):
            write_c3d(motion, folder / name, person=p)
    if "csv" in asked:
        write_motion_csv(motion, folder / "points3d.csv")
    if "json" in asked:
        write_motion_json(motion, folder / "points3d.json")
    if {"bvh", "fbx"} & set(asked):
        rigs, reasons = rig_animations(motion, config)
        if reasons and (explicit and not rigs):
            raise RigError("; ".join(reasons))
        notes += [f"no rigged skeleton for {reason}" for reason in reasons]
        if rigs and "bvh" in asked:
            names = dict(zip(motion.person_id.tolist(),
                             person_names(motion, "skeleton", ".bvh")))
            for rigged in rigs:
                write_bvh(rigged, folder / names[rigged.person_id], units=config.bvh_units)
        if rigs and "fbx" in asked:
            write_fbx(rigs, folder / "skeleton.fbx", cameras=cameras,
                      blend_path=folder / "skeleton.blend" if config.blend else None)
    if "robot" in asked:
        notes += write_robot(motion, config.robot, folder / "robot")
    return notes


def write_trc_files(motion: Motion3D, folder: Path) -> list[Path]:
    """``points3d.trc`` for one person, ``points3d_person<id>.trc`` for each of several."""
    return [write_trc(motion.xyz[:, p], list(motion.skeleton.joints), motion.fps, folder / name)
            for p, name in enumerate(person_names(motion, "points3d", ".trc"))]


def rig_animations(motion: Motion3D, config: ExportConfig
                   ) -> tuple[list[RigAnimation], list[str]]:
    """The humanoid rig fitted to every person of ``motion`` that can drive it, and why each
    other person cannot (too few frames with a bone's two ends, a set without limbs...)."""
    fit = RigFitConfig(ik_iterations=config.rig_ik_iterations, naming=config.rig_names)
    rigs, reasons = [], []
    for p in range(motion.n_people):
        try:
            rigs.append(fit_rig(motion, p, config=fit))
        except RigError as e:
            pid = int(motion.person_id[p])
            reasons.append(f"person {pid}: {str(e).removeprefix(f'person {pid}: ')}")
    return rigs, reasons


def person_names(motion: Motion3D, stem: str, suffix: str) -> list[str]:
    """``stem + suffix`` for one person, ``stem_person<id> + suffix`` for each of several."""
    if motion.n_people == 1:
        return [stem + suffix]
    return [f"{stem}_person{pid}{suffix}" for pid in motion.person_id]


def write_robot(motion: Motion3D, config: RobotConfig, folder: Path) -> list[str]:
    """Hand poses and the arm's joint trajectory of every person; notes on reach and timing."""
    arm = read_urdf(config.urdf or ARM6, config.tip or None)
    name = Path(config.urdf).stem if config.urdf else ARM6.stem
    notes = []
    for p, suffix in zip(range(motion.n_people), person_names(motion, "", "")):
        target = hand_poses(motion, config.hand, p)
        fitted = None
        if config.world_to_base:
            target = to_base(target, np.reshape(config.world_to_base, (4, 4)))
        else:
            target = to_base(target, np.eye(4))
            scale = config.scale or reach_scale(target, config.workspace_centre, arm.shoulder,
                                                arm.reach)
            fitted = (float(np.linalg.norm(np.nanmax(target.position, 0)
                                           - np.nanmin(target.position, 0))), scale)
            target = place_in_workspace(target, config.workspace_centre, scale)
        target = resample(target, config.rate_hz or motion.fps)
        joints = retarget(arm, target, speed_fraction=config.speed_fraction)
        write_hand_trajectory(target, folder / f"hand_{config.hand}{suffix}.csv")
        for extension in (".csv", ".json"):
            write_joint_trajectory(joints, folder / f"joints_{name}{suffix}{extension}", name)
        notes.append(robot_note(name + suffix, joints, fitted, auto=not config.scale))
    return notes


def robot_note(name: str, joints: JointTrajectory, fitted: tuple[float, float] | None = None,
               auto: bool = True) -> str:
    """One line: share of frames within reach, the stretches out of it, the retimed length;
    with ``fitted`` (the hand path's bounding-box diagonal in metres, the scale applied), how
    the path was sized (``auto``: by :func:`rigs.robot_frame.reach_scale`)."""
    reached = np.mean(joints.position_error <= 0.005)
    span = joints.time[-1] - joints.time[0] if len(joints.time) else 0.0
    retimed = joints.retimed_time[-1] - joints.retimed_time[0] if len(joints.time) else 0.0
    out = ", ".join(f"{s.start_s:.2f}-{s.stop_s:.2f} s" for s in joints.unreachable)
    sized = ""
    if fitted is not None and auto and fitted[1] < 1:
        sized = (f"; hand path spans {fitted[0]:.2f} m, scaled by {fitted[1]:.2f} to fit "
                 f"{name}'s reach (set [export.robot] scale = 1 to keep it)")
    elif fitted is not None and not auto:
        sized = f"; hand path ({fitted[0]:.2f} m) scaled by {fitted[1]:g} as configured"
    return (f"robot {name}: {reached:.0%} of frames within 5 mm"
            + (f"; out of reach {out}" if out else "")
            + f"; {span:.1f} s of motion retimed to {retimed:.1f} s for the velocity limits"
            + sized)


def export_session(session: Session, formats: Sequence[str]) -> tuple[list[Path], list[str]]:
    """``mocap export``: ``formats`` of the session's ``output/points3d.npz``, written together
    (all or nothing) into its output folder; the written files and the notes.

    Raises:
        InputError: the session has no 3D yet.
    """
    path = session.output / "points3d.npz"
    if not path.is_file():
        raise InputError(f"{session.root}: no {path} to export; run mocap run "
                         f"{session.root} (or mocap triangulate) first")
    motion = read_points3d(path)
    refined = session.output / REFINED_CALIBRATION
    calibration = refined if refined.is_file() else session.ready_calibration_file()
    cameras = read_calibration(calibration) if calibration is not None else None
    with RunOutputs(session.output) as run:
        run.own(*(pattern for f in formats for pattern in OUTPUT_PATTERNS[f]))
        notes = write_exports(motion, session.config.export, run.staging, formats=formats,
                              cameras=cameras)
        return run.commit(), notes
