"""``mocap run``: calibration + 2D keypoints (given or detected in the session's videos) of a
session -> 3D motion files and a summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from exporters.points3d import read_points3d, write_points3d
from exporters.trc import write_trc
from mocap.calibration_stage import SessionCalibration, session_rig
from mocap.errors import ConfigError, TriangulationError
from mocap.filtering import fill_gaps, smooth
from mocap.keypoints_stage import require_2d_input, session_keypoints
from mocap.metrics import joint_errors, summarize_errors
from mocap.run_outputs import RunOutputs
from mocap.session import Session
from mocap.skeleton_adjustment import adjust_skeleton
from mocap.triangulation import TriangulationConfig, triangulate_views
from rigs.motion import FILLED, TRIANGULATED, Motion3D


@dataclass
class RunResult:
    """What a run produced, for the summary."""

    motion: Motion3D
    cameras: list[str]
    calibration: SessionCalibration
    keypoints_source: str                        # a sentence for the summary
    outputs: list[Path] = field(default_factory=list)
    accuracy: dict[str, float] | None = None


def run_session(session: Session, *, calibration_file: Path | None = None,
                progress: bool = True, **overrides: float | None) -> RunResult:
    """Calibrate if needed, triangulate the session's 2D keypoints, write ``points3d.npz`` and
    ``.trc`` files.

    Args:
        session: the session folder.
        calibration_file: a calibration of any supported format to use instead of the session's.
        progress: show progress bars.
        overrides: triangulation settings that replace ``session.toml``'s (``min_views``...).
    """
    config = session.config.with_overrides(**overrides)
    require_2d_input(session)                            # fail early, before calibrating
    with RunOutputs(session.output) as run:
        calibration = session_rig(session, run, calibration_file, progress=progress)
        keypoints, keypoints_source = session_keypoints(session, calibration.rig, run, config,
                                                        progress=progress)
        if config.fps is not None and not np.isclose(config.fps, keypoints.fps):
            raise ConfigError(f"{session.root / 'session.toml'}: fps = {config.fps:g}, but the "
                              f"keypoint files say {keypoints.fps:g} frames per second; correct "
                              "one of them (or remove fps from session.toml)")
        truth = read_points3d(session.ground_truth_file) if session.ground_truth_file else None
        found = triangulate_views(calibration.rig, keypoints, config.triangulation)
        motion = found.motion
        require_joints(motion, config.triangulation)
        if config.skeleton.enabled:
            motion = adjust_skeleton(calibration.rig, keypoints, motion, found.kept,
                                     config.skeleton, swapped=found.swapped)
        motion = smooth(fill_gaps(motion, config.filter), config.filter)
        run.own("points3d.npz", "points3d*.trc")
        write_points3d(motion, run.staging / "points3d.npz")
        write_trc_files(motion, run.staging)
        outputs = run.commit()
    accuracy = summarize_errors(joint_errors(motion, truth)) if truth is not None else None
    return RunResult(motion, list(keypoints.cameras), calibration, keypoints_source, outputs,
                     accuracy)


def require_joints(motion: Motion3D, config: TriangulationConfig) -> None:
    """A run that triangulated no joint has nothing to write (and keeps the earlier outputs).

    Raises:
        TriangulationError: saying what each joint needed and what to check.
    """
    if not np.isfinite(motion.xyz).any():
        raise TriangulationError(
            f"no joint was triangulated in {motion.n_frames} frames: each needs "
            f"{config.min_views} or more cameras that saw it with a score of at least "
            f"{config.min_score:g}; lower --min-views or --min-score, or check that the "
            "keypoint files and the calibration belong to this take (earlier outputs are kept)")


def write_trc_files(motion: Motion3D, folder: Path) -> list[Path]:
    """``points3d.trc`` for one person, ``points3d_person<id>.trc`` for each of several."""
    names = (["points3d.trc"] if motion.n_people == 1
             else [f"points3d_person{pid}.trc" for pid in motion.person_id])
    return [write_trc(motion.xyz[:, p], list(motion.skeleton.joints), motion.fps, folder / name)
            for p, name in enumerate(names)]


def format_summary(result: RunResult) -> str:
    """A few lines for the terminal."""
    m = result.motion
    found = m.source == TRIANGULATED
    filled = (m.source == FILLED).mean()
    lines = format_calibration(result.calibration) + [
        f"cameras: {len(result.cameras)} ({', '.join(result.cameras)})",
        f"2D keypoints: {result.keypoints_source}",
        (f"frames: {m.n_frames} at {m.fps:g} fps, people: {m.n_people}, "
         f"keypoints: {m.skeleton.name} ({len(m.skeleton)})"),
        f"triangulated: {found.mean():.1%} of joints, mean {m.n_views[found].mean():.2f} views, "
        f"reprojection error {np.nanmean(m.reprojection_error[found]):.2f} px"
        + (f"; {filled:.1%} filled in gaps" if filled else "")
        if found.any() else "triangulated: no joint was seen by enough cameras",
    ]
    lines += [f"wrote {p}" for p in result.outputs]
    if result.accuracy is not None:
        a = result.accuracy
        lines.append(f"ground truth: mean joint error {a['mean_mm']:.2f} mm, "
                     f"95th percentile {a['p95_mm']:.2f} mm, {a['recovered']:.1%} recovered")
    return "\n".join(lines)


def format_calibration(cal: SessionCalibration) -> list[str]:
    """Lines on where the cameras came from, their RMS and (synthetic sessions) their errors."""
    lines = [f"calibration: {cal.source}"]
    if cal.result is not None:
        rms = {n: c.rms_px for n, c in cal.result.report.cameras.items()}
        lines.append("  reprojection RMS: " + ", ".join(f"{n} {v:.3f} px" for n, v in rms.items()))
    if cal.truth:
        lines.append("  against the true cameras (after one rigid alignment): " + ", ".join(
            f"{d.name} {d.rotation_deg:.3f} deg / {d.center_mm:.1f} mm / f {d.focal_pct:.2f} %"
            for d in cal.truth))
    return lines
