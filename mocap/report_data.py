"""The numbers of a take's report (:mod:`mocap.report`): tables and series computed from what a
run has (calibration, 2D keypoints, motion, sync estimate), no HTML and no figures.

Time series of long takes are decimated so the page stays light: a take of F frames is cut into
blocks of ``ceil(F / MAX_TIME_POINTS)`` frames, and each block is shown as the mean of its
values (NaN left out), at its middle frame's time."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatch

import numpy as np
from numpy.typing import NDArray

from calibration.camera import CameraRig
from mocap.calibration_stage import SessionCalibration
from mocap.export_config import REFINED_CALIBRATION
from mocap.keypoints import Keypoints2D
from mocap.sync_estimation import SyncEstimate
from mocap.take_quality import body_bone_cv, view_distances
from rigs.motion import FILLED, LIFTED, MISSING, TRIANGULATED, Motion3D

FloatArray = NDArray[np.float64]
MAX_TIME_POINTS = 500        # points per trace of a time plot at most
N_STILLS = 4                 # frames of the 3D skeleton shown as images
# the result files the summary links to (relative to the output folder), the viewer first
LINKED = ("viewer.html", "points3d*", "skeleton*", "calibration.toml", REFINED_CALIBRATION,
          "robot/*")


@dataclass(frozen=True, eq=False)
class ReportInputs:
    """What a run hands to the report.

    Attributes:
        calibration: the session's cameras and where they came from.
        rig: the cameras the motion is in (after ``refine_cameras``), those of ``keypoints``.
        keypoints: the 2D that was triangulated: xy (C, F, S, J, 2) px, score (C, F, S, J).
        motion: the filtered motion, xyz (F, P, J, 3) metres.
        min_score: detections scoring below this were ignored.
        sync: the offsets found from the motion, None when ``[sync]`` is off.
        notes: the run's warnings (sync edge cases, formats skipped...), one sentence each.
        files: the output files beside the report that its summary links to (paths relative
            to the output folder, see :func:`linked_files`).
    """

    calibration: SessionCalibration
    rig: CameraRig
    keypoints: Keypoints2D
    motion: Motion3D
    min_score: float = 0.3
    sync: SyncEstimate | None = None
    notes: list[str] = field(default_factory=list)
    files: tuple[str, ...] = ()


def nan_mean(values: FloatArray, axis: int | tuple[int, ...]) -> FloatArray:
    """Mean over ``axis`` leaving NaN out; NaN where every value is NaN (and no warning)."""
    finite = np.isfinite(values)
    total = np.where(finite, values, 0.0).sum(axis=axis)
    count = finite.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def decimate(values: FloatArray, fps: float) -> tuple[FloatArray, FloatArray]:
    """(F, ...) per-frame values -> (T,) block times in seconds and (T, ...) block means, with
    blocks of ``ceil(F / MAX_TIME_POINTS)`` frames (the last one may be shorter)."""
    n = len(values)
    stride = max(1, math.ceil(n / MAX_TIME_POINTS))
    pad = -n % stride
    padded = np.concatenate([values, np.full((pad, *values.shape[1:]), np.nan)])
    blocks = padded.reshape(-1, stride, *values.shape[1:])                 # (T, stride, ...)
    middle = np.minimum(np.arange(len(blocks)) * stride + (stride - 1) / 2, n - 1)
    return middle / fps, nan_mean(blocks, axis=1)


def detected(keypoints: Keypoints2D, min_score: float) -> NDArray[np.bool_]:
    """(C, F, S, J) joints a camera detected: finite xy and a score of ``min_score`` or more."""
    return np.isfinite(keypoints.xy).all(-1) & (keypoints.score >= min_score)


def detection_rate(keypoints: Keypoints2D, min_score: float) -> FloatArray:
    """(C, F) share of the joints of every person slot each camera detected in each frame."""
    return detected(keypoints, min_score).mean(axis=(2, 3))


def camera_joint_error(inputs: ReportInputs) -> FloatArray:
    """(C, J) mean pixels from each camera's detections to the joints projected back through its
    camera, over frames and people; NaN where the camera never detected the joint."""
    distance = view_distances(inputs.rig, inputs.motion, inputs.keypoints, inputs.min_score)
    return nan_mean(distance, axis=(1, 2))


def joint_views(motion: Motion3D) -> tuple[FloatArray, FloatArray]:
    """(J,) mean number of cameras a joint was triangulated from (where it was) and (J,) share
    of frames and people where it was triangulated."""
    found = motion.source == TRIANGULATED                                  # (F, P, J)
    views = nan_mean(np.where(found, motion.n_views, np.nan), axis=(0, 1))
    return views, found.mean(axis=(0, 1))


def body_bones(motion: Motion3D) -> tuple[list[str], FloatArray]:
    """The rigid bones outside the head (those of :func:`body_bone_cv`): B' names and
    (F, P, B') lengths in centimetres, NaN where a joint is missing."""
    skeleton = motion.skeleton
    rigid, _ = skeleton.anatomy
    bones = np.asarray(skeleton.bones)
    body = rigid & ~skeleton.in_head[bones].all(-1)
    names = [f"{skeleton.joints[a]}-{skeleton.joints[b]}" for a, b in bones[body]]
    return names, 100.0 * skeleton.bone_lengths(motion.xyz)[..., body]


def calibration_rows(inputs: ReportInputs) -> list[dict[str, str]]:
    """One row per calibrated camera: image size, focal length, RMS of the calibration (when
    calibrated in this run), errors against the true cameras (when known) and its 2D."""
    cal = inputs.calibration
    report = cal.result.report.cameras if cal.result is not None else {}
    truth = {d.name: d for d in cal.truth or []}
    rate = dict(zip(inputs.keypoints.cameras, detection_rate(inputs.keypoints,
                                                             inputs.min_score).mean(axis=1)))
    rows = []
    for camera in cal.rig:
        d = truth.get(camera.name)
        rows.append({
            "camera": camera.name,
            "size (px)": f"{camera.size[0]} x {camera.size[1]}",
            "focal (px)": f"{camera.K[0, 0]:.1f}",
            "RMS (px)": f"{report[camera.name].rms_px:.3f}" if camera.name in report else "-",
            "vs truth: rotation (deg)": f"{d.rotation_deg:.3f}" if d else "-",
            "vs truth: centre (mm)": f"{d.center_mm:.1f}" if d else "-",
            "vs truth: focal (%)": f"{d.focal_pct:.2f}" if d else "-",
            "2D detected": f"{rate[camera.name]:.1%}" if camera.name in rate else "no 2D",
        })
    return rows


def sync_rows(sync: SyncEstimate) -> list[dict[str, str]]:
    """One row per camera of the estimated offsets (frames) and how far to trust them."""
    return [{"camera": name, "offset (frames)": f"{o:+.2f}" if np.isfinite(o) else "unknown", "residual (frames)": f"{r:.2f}",
             "epipolar distance (px)": f"{e:.2f}",
             "trust": "unknown or at the search's edge" if edge else "ok"}
            for name, o, r, e, edge in zip(sync.cameras, sync.offsets, sync.residual_frames,
                                           sync.epipolar_px, sync.at_edge)]


def person_rows(motion: Motion3D) -> list[dict[str, str]]:
    """One row per person: frames with every joint known, shares triangulated and filled, mean
    reprojection error and median coefficient of variation of the body's rigid bones."""
    full = np.isfinite(motion.xyz).all(axis=(2, 3)).sum(axis=0)            # (P,)
    found = motion.source == TRIANGULATED                                  # (F, P, J)
    filled = (motion.source == FILLED).mean(axis=(0, 2))
    error = nan_mean(np.where(found, motion.reprojection_error, np.nan), axis=(0, 2))
    cv = body_bone_cv(motion)                                               # (P, B')
    cv_median = nan_median(cv)
    return [{"person": str(pid), "frames with a full skeleton": f"{n} of {motion.n_frames}",
             "joints triangulated": f"{t:.1%}", "joints filled": f"{f:.1%}",
             "mean reprojection error (px)": f"{e:.2f}", "median bone CV": f"{c:.1%}"}
            for pid, n, t, f, e, c in zip(motion.person_id, full, found.mean(axis=(0, 2)),
                                          filled, error, cv_median)]


def nan_median(values: FloatArray) -> FloatArray:
    """(N, M) -> (N,) median of each row leaving NaN out; NaN where a row is all NaN."""
    return np.array([np.median(v[np.isfinite(v)]) if np.isfinite(v).any() else np.nan
                     for v in values])


def summary_rows(inputs: ReportInputs) -> list[tuple[str, str]]:
    """The take in a few lines: cameras, frames, people, mean reprojection error, bone-length
    stability (the median coefficient of variation of the body's rigid bones, over people and
    bones) and the share of the joints found in 3D that came from the lifter."""
    m, cameras = inputs.motion, inputs.keypoints.cameras
    found = (m.source == TRIANGULATED) & np.isfinite(m.reprojection_error)     # (F, P, J)
    known = m.source != MISSING
    cv = body_bone_cv(m)                                                      # (P, B')
    seen = cv[np.isfinite(cv)]
    lifted = (m.source == LIFTED).sum() / max(known.sum(), 1)
    return [
        ("cameras", f"{len(cameras)}: {', '.join(cameras)}"),
        ("frames", f"{m.n_frames} at {m.fps:g} fps ({m.n_frames / m.fps:.1f} s)"),
        ("people", str(m.n_people)),
        ("keypoints", f"{m.skeleton.name} ({len(m.skeleton)} joints)"),
        ("mean reprojection error",
         f"{m.reprojection_error[found].mean():.2f} px over {found.sum()} triangulated joints"
         if found.any() else "none: no joint was triangulated"),
        ("bone-length stability",
         f"{np.median(seen):.1%} median coefficient of variation of the lengths of "
         f"{cv.shape[1]} rigid body bones (lower is steadier)" if seen.size else
         "unknown: no rigid bone was seen twice"),
        ("lifted joints", (f"{lifted:.1%} of the joints found in 3D came from the lifter "
                           "(one camera's 2D), not from triangulation")),
    ]


def linked_files(names: Iterable[str]) -> tuple[str, ...]:
    """The result files among ``names`` (paths relative to the output folder) that the summary
    links to (:data:`LINKED`), in the order of LINKED then by name."""
    names = sorted(set(names))
    return tuple(n for pattern in LINKED for n in names if fnmatch(n, pattern))


def still_frames(motion: Motion3D, n: int = N_STILLS) -> NDArray[np.int64]:
    """Up to ``n`` frames spread over the take (equal spacing among the frames with some joint
    known), sorted; none when nothing is known."""
    known = np.flatnonzero(np.isfinite(motion.xyz).all(-1).any(axis=(1, 2)))
    if not len(known):
        return known
    return np.unique(known[np.linspace(0, len(known) - 1, min(n, len(known))).round().astype(int)])


def warnings(inputs: ReportInputs) -> list[str]:
    """What the reader should know first: cameras left out or blind, joints never found, and the
    run's own notes."""
    kp, motion = inputs.keypoints, inputs.motion
    lines = [f"camera {name} is calibrated but has no 2D keypoints: left out"
             for name in inputs.calibration.rig.names if name not in kp.cameras]
    seen = detected(kp, inputs.min_score).any(axis=(1, 2, 3))               # (C,)
    lines += [f"camera {name}: its 2D is all missing (no joint detected with a score of "
              f"{inputs.min_score:g} or more in any of its {kp.n_frames} frames); it added "
              "nothing to the 3D" for name, s in zip(kp.cameras, seen) if not s]
    never = ~np.isfinite(motion.xyz).all(-1).any(axis=(0, 1))               # (J,)
    if never.any():
        lines.append("joints never found in 3D: " + ", ".join(
            np.asarray(motion.skeleton.joints)[never].tolist()))
    return lines + list(inputs.notes)
