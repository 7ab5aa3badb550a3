"""``mocap run``: calibration + 2D keypoints (given or detected in the session's videos) of a
session -> 3D motion files and a summary; ``mocap triangulate``: the same on the 2D it has.

The stages run in order, each resumable from ``output/cache``: calibration
(:mod:`mocap.calibration_stage`), 2D (:mod:`mocap.keypoints_stage`), triangulation and skeleton
adjustment, then filtering (:mod:`mocap.reconstruction_stage`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fnmatch import fnmatch
from pathlib import Path

import numpy as np

from calibration.camera import CameraRig
from calibration.io import write_calibration
from calibration.rotations import matrix_to_rodrigues
from exporters.points3d import read_points3d, write_points3d
from mocap.association import take_people
from mocap.calibration_stage import SessionCalibration, session_rig
from mocap.config import SessionConfig
from mocap.errors import ConfigError
from mocap.export_config import OUTPUT_PATTERNS, REFINED_CALIBRATION
from mocap.export_stage import write_exports, write_trc_files
from mocap.keypoints import Keypoints2D
from mocap.keypoints_stage import require_2d_input, session_keypoints
from mocap.metrics import joint_errors, summarize_errors
from mocap.reconstruction_stage import (
    existing_keypoints,
    filter_motion,
    lifting_notes,
    one_camera_motion,
    reconstruct,
    require_existing_2d,
)
from mocap.report import write_report
from mocap.report_data import ReportInputs, linked_files
from mocap.run_outputs import RunOutputs, manifest_files
from mocap.session import Session
from mocap.sync_estimation import estimate_offsets, synchronise
from mocap.viewer import VIEWER, write_viewer
from rigs.motion import FILLED, LIFTED, TRIANGULATED, Motion3D


@dataclass
class RunResult:
    """What a run produced, for the summary."""

    motion: Motion3D
    cameras: list[str]
    calibration: SessionCalibration
    keypoints_source: str                        # a sentence for the summary
    outputs: list[Path] = field(default_factory=list)
    accuracy: dict[str, float] | None = None
    camera_turns_deg: dict[str, float] | None = None   # [skeleton] refine_cameras's corrections
    export_notes: list[str] = field(default_factory=list)   # formats skipped, robot reach
    sync_notes: list[str] = field(default_factory=list)     # [sync]: offsets, warnings
    people_notes: list[str] = field(default_factory=list)   # people left out (association)


def run_session(session: Session, *, calibration_file: Path | None = None,
                progress: bool = True, sync: str | None = None,
                **overrides: float | None) -> RunResult:
    """Calibrate if needed, triangulate the session's 2D keypoints (detected in its videos when
    it has none), write ``points3d.npz`` and ``.trc`` files.

    Args:
        session: the session folder.
        calibration_file: a calibration of any supported format to use instead of the session's.
        progress: show progress bars.
        sync: ``[sync] mode`` to use instead of ``session.toml``'s ("off", "auto", "check").
        overrides: triangulation settings that replace ``session.toml``'s (``min_views``...).
    """
    config = _with_sync(session.config.with_overrides(**overrides), sync)
    require_2d_input(session)                            # fail early, before calibrating
    with RunOutputs(session.output) as run:
        calibration = session_rig(session, run, calibration_file, progress=progress)
        keypoints, keypoints_source = session_keypoints(session, calibration.rig, run, config,
                                                        progress=progress)
        return _reconstruct_and_write(session, run, config, calibration, keypoints,
                                      keypoints_source)


def triangulate_session(session: Session, *, calibration_file: Path | None = None,
                        progress: bool = True, sync: str | None = None,
                        **overrides: float | None) -> RunResult:
    """``mocap triangulate``: the 3D part of :func:`run_session` on the 2D the session has (its
    ``keypoints2d/``, else ``output/keypoints2d/`` from ``mocap detect``); detects nothing.

    Raises:
        InputError: the session has no 2D yet ("run mocap detect first").
    """
    config = _with_sync(session.config.with_overrides(**overrides), sync)
    require_existing_2d(session)                         # fail early, before calibrating
    with RunOutputs(session.output) as run:
        calibration = session_rig(session, run, calibration_file, progress=progress)
        keypoints, source = existing_keypoints(session, calibration.rig, config)
        return _reconstruct_and_write(session, run, config, calibration, keypoints, source)


def _reconstruct_and_write(session: Session, run: RunOutputs, config: SessionConfig,
                           calibration: SessionCalibration, keypoints: Keypoints2D,
                           keypoints_source: str) -> RunResult:
    """Triangulation (cached), filtering, and the 3D outputs committed with ``run``'s others."""
    if config.fps is not None and not np.isclose(config.fps, keypoints.fps):
        raise ConfigError(f"{session.root / 'session.toml'}: fps = {config.fps:g}, but the "
                          f"keypoint files say {keypoints.fps:g} frames per second; correct "
                          "one of them (or remove fps from session.toml)")
    truth = read_points3d(session.ground_truth_file) if session.ground_truth_file else None
    keypoints, people_notes = take_people(calibration.rig, keypoints, config.triangulation)
    min_score = config.triangulation.min_score
    estimate, sync_notes = None, []
    if len(keypoints.cameras) == 1:                                   # lifted, not triangulated
        motion, cameras = one_camera_motion(calibration.rig, keypoints, config)
    else:
        estimate = None if config.sync.mode == "off" else estimate_offsets(
            calibration.rig, keypoints, max_shift_frames=config.sync.max_shift_frames,
            min_score=min_score)
        keypoints, sync_notes = synchronise(calibration.rig, keypoints, config.sync,
                                            min_score=min_score, estimate=estimate)
        motion, cameras = reconstruct(session, calibration.rig, keypoints, config)
    motion = filter_motion(motion, config)
    run.own("points3d.npz", REFINED_CALIBRATION, "report.html", VIEWER,
            *(pattern for f in ("trc", *config.export.formats) for pattern in OUTPUT_PATTERNS[f]))
    write_points3d(motion, run.staging / "points3d.npz")
    write_trc_files(motion, run.staging)
    notes = lifting_notes(config) + write_exports(motion, config.export, run.staging,
                                                  cameras=cameras)
    turns = None
    if config.skeleton.enabled and config.skeleton.refine_cameras:
        write_calibration(cameras, run.staging / REFINED_CALIBRATION)
        turns = camera_turns_deg(calibration.rig.subset(cameras.names), cameras)
    warned = people_notes + [line for line in sync_notes if line.startswith("warning")] + notes
    write_viewer(run.staging / VIEWER, motion, cameras, session.root.name)
    write_report(run.staging / "report.html", ReportInputs(
        calibration, cameras, keypoints, motion, min_score, estimate, warned,
        files=_linked_outputs(run)), session.root.name)
    outputs = run.commit()
    accuracy = summarize_errors(joint_errors(motion, truth)) if truth is not None else None
    return RunResult(motion, list(keypoints.cameras), calibration, keypoints_source, outputs,
                     accuracy, turns, notes, sync_notes, people_notes)


def _linked_outputs(run: RunOutputs) -> tuple[str, ...]:
    """The result files the report links to: those ``run`` has staged, and those of earlier
    runs (``mocap export``) that it keeps (the kinds it does not ``own``)."""
    staged = {p.relative_to(run.staging).as_posix() for p in run.staging.rglob("*")
              if p.is_file()}
    kept = {name for name in manifest_files(run.folder) if (run.folder / name).is_file()
            and not any(fnmatch(name, pattern) for pattern in run.owned)}
    return linked_files(staged | kept)


def _with_sync(config: SessionConfig, mode: str | None) -> SessionConfig:
    """``config`` with ``[sync] mode`` replaced where ``mode`` is given (``--sync``)."""
    return config if mode is None else replace(config, sync=replace(config.sync, mode=mode))


def camera_turns_deg(before: CameraRig, after: CameraRig) -> dict[str, float]:
    """Camera name -> degrees its orientation turned between two rigs of the same cameras."""
    turn = np.stack([b.R @ a.R.T for a, b in zip(before, after)])
    angles = np.degrees(np.linalg.norm(matrix_to_rodrigues(turn), axis=-1))
    return dict(zip(after.names, angles.tolist()))


def format_summary(result: RunResult) -> str:
    """A few lines for the terminal."""
    m = result.motion
    found = m.source == TRIANGULATED
    filled = (m.source == FILLED).mean()
    lifted = (m.source == LIFTED).mean()
    lines = format_calibration(result.calibration) + [
        f"cameras: {len(result.cameras)} ({', '.join(result.cameras)})",
        f"2D keypoints: {result.keypoints_source}",
        *result.sync_notes,
        *result.people_notes,
        (f"frames: {m.n_frames} at {m.fps:g} fps, people: {m.n_people}, "
         f"keypoints: {m.skeleton.name} ({len(m.skeleton)})"),
        f"triangulated: {found.mean():.1%} of joints, mean {m.n_views[found].mean():.2f} views, "
        f"reprojection error {np.nanmean(m.reprojection_error[found]):.2f} px"
        + (f"; {filled:.1%} filled in gaps" if filled else "")
        + (f"; {lifted:.1%} from the lifter" if lifted else "")
        if found.any() else "triangulated: no joint was seen by enough cameras",
    ]
    if result.camera_turns_deg is not None:
        lines.append("cameras turned by the skeleton adjustment (refine_cameras): " + ", ".join(
            f"{name} {deg:.2f} deg" for name, deg in result.camera_turns_deg.items()))
    lines += result.export_notes
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
