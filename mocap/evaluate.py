"""``mocap evaluate``: our 3D against a reference, and our 2D against our reprojected 3D.

References: TRC or C3D marker files (markers named like joints: ``LKnee``, ``left_knee`` and
``LeftKnee`` all match ``left_knee``), our ``points3d.npz``, or a CMU-skeleton BVH (its joints
read as keypoints as ``mocap.synthetic.real_motion`` does, in CMU units, unplaced). Joints are
matched by name through ``rigs.keypoint_map``.

Clock alignment: the reference is resampled to our frame times plus a shift ``s`` by linear
interpolation. Candidate shifts are every step of the finer frame period within
``max_shift_s``; the shift maximising the normalised cross-correlation of the mean joint speed
(invariant to the reference's world frame and units) is taken, then refined to the candidate
within two steps of it with the lowest PA-MPJPE (pose shape, equally frame-invariant).

3D metrics, per joint and overall, over our frames the reference covers: MPJPE, PA-MPJPE (each
frame's pose moved onto the reference by its best similarity transform), PCK3D at 50 and
100 mm. 2D, per camera, against our 3D reprojected: PCK at 0.2 of the torso size (the mean of
the two shoulder-hip diagonals of the reprojected skeleton) and COCO's OKS over the COCO-17
joints of our set (other joints skipped; the object area is the reprojected joints' bounding
box). Both count the joints whose reprojection lies in the image; a joint not detected there is
a miss.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from calibration.camera import CameraRig
from mocap.errors import InputError
from mocap.keypoints import Keypoints2D
from mocap.metrics import COCO_SIGMAS, match_people, oks, pck, procrustes_align, quiet_nan
from mocap.session import Session
from rigs.errors import RigError
from rigs.keypoint_map import keypoint_index
from rigs.motion import Motion3D
from rigs.skeleton import Skeleton, get_skeleton

FloatArray = NDArray[np.float64]
PCK3D_MM = (50.0, 100.0)
TORSO_JOINTS = (("left_shoulder", "right_hip"), ("right_shoulder", "left_hip"))


@dataclass(frozen=True, eq=False)
class Reference:
    """A reference motion in our keypoint set.

    Attributes:
        xyz: (Fr, Pr, J, 3) metres, Z up; NaN where the file lacks the joint or frame.
        fps: the reference's frame rate.
        joints: our joints the file has.
        path: where it was read from.
    """

    xyz: FloatArray
    fps: float
    joints: tuple[str, ...]
    path: Path


@dataclass(frozen=True, eq=False)
class Evaluation3D:
    """3D scores; per-joint arrays are (J,) over ``joints``, NaN where never compared.

    Attributes:
        joints: the joints compared (ours that the reference has).
        mpjpe_mm, pa_mpjpe_mm: mean errors in millimetres.
        pck_mm: threshold (mm) -> (J,) fraction within it.
        overall: the same over every compared joint: ``mpjpe_mm``, ``pa_mpjpe_mm``,
            ``pck50``, ``pck100``.
        shift_s: reference time at our time 0, seconds.
        frames: our frames compared.
        errors: (F, P, J) metres, per frame, reference person and joint (NaN not compared).
    """

    joints: tuple[str, ...]
    mpjpe_mm: FloatArray
    pa_mpjpe_mm: FloatArray
    pck_mm: dict[float, FloatArray]
    overall: dict[str, float]
    shift_s: float
    frames: int
    errors: FloatArray


def read_reference(path: str | Path, skeleton: Skeleton) -> Reference:
    """Read a reference file and express it in ``skeleton``'s joints.

    Raises:
        InputError: unreadable or unknown file, or no joint in common with ``skeleton``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"reference {path} not found; give a .trc, .c3d, .npz or .bvh file")
    readers = {".trc": _read_trc, ".c3d": _read_c3d, ".npz": _read_npz, ".bvh": _read_bvh}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise InputError(f"reference {path}: unknown format; give a .trc, .c3d (marker "
                         "system), .npz (our points3d) or .bvh (CMU skeleton) file")
    try:
        xyz, names, set_name, fps = reader(path)
        index = keypoint_index(set_name, names, skeleton)                   # (J,)
    except (RigError, OSError, ValueError, KeyError, IndexError, RuntimeError) as e:
        raise InputError(f"reference {path}: not readable ({e})") from e
    found = index >= 0
    if not found.any():
        raise InputError(f"reference {path} has no joint in common with {skeleton.name} (it "
                         f"has {', '.join(names[:12])}); name its markers like ours "
                         f"({', '.join(skeleton.joints[:4])}...)")
    out = np.where(found[:, None], xyz[..., np.clip(index, 0, None), :], np.nan)
    return Reference(out, fps, tuple(np.array(skeleton.joints)[found]), path)


def marker_landmark(name: str) -> str:
    """A marker's name as our joint name: ``LKnee``, ``LeftKnee``, ``left knee`` -> left_knee."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_",
                   name.strip()).lower()
    snake = re.sub(r"[\s\-.]+", "_", snake)
    return re.sub(r"^(l|r)_", lambda m: "left_" if m.group(1) == "l" else "right_", snake)


def _read_trc(path: Path) -> tuple[FloatArray, list[str], str, float]:
    from exporters.errors import ExportError
    from exporters.trc import read_trc
    try:
        xyz, markers, fps = read_trc(path)
    except ExportError as e:
        raise ValueError(str(e)) from e
    return xyz[:, None], [marker_landmark(m) for m in markers], "markers", fps


def _read_c3d(path: Path) -> tuple[FloatArray, list[str], str, float]:
    """C3D points as stored (labs record Z up), in metres; invalid points are NaN."""
    from exporters.c3d import read_c3d
    from exporters.errors import ExportError
    try:
        xyz, labels, fps = read_c3d(path)
    except ExportError as e:
        raise ValueError(str(e)) from e
    return xyz[:, None], [marker_landmark(n) for n in labels], "markers", fps


def _read_npz(path: Path) -> tuple[FloatArray, list[str], str, float]:
    from exporters.errors import ExportError
    from exporters.points3d import read_points3d
    try:
        motion = read_points3d(path)
    except ExportError as e:
        raise ValueError(str(e)) from e
    return motion.xyz, list(motion.skeleton.joints), motion.skeleton.name, motion.fps


def _read_bvh(path: Path) -> tuple[FloatArray, list[str], str, float]:
    from mocap.synthetic.real_motion import body_points, cmu_roles
    from rigs.bvh import CMU_METRES_PER_UNIT, Y_UP_TO_Z_UP, forward_kinematics, read_bvh
    bvh = read_bvh(path, scale=CMU_METRES_PER_UNIT)
    world_rot, world_pos = forward_kinematics(bvh.skeleton.parents, *bvh.local_transforms())
    points = body_points(bvh.skeleton, cmu_roles(bvh.skeleton, str(path)),
                         Y_UP_TO_Z_UP @ world_rot, world_pos @ Y_UP_TO_Z_UP.T)
    names = list(points)
    return np.stack([points[n] for n in names], 1)[:, None], names, "landmarks", bvh.fps


def resample(xyz: FloatArray, fps: float, times: FloatArray) -> FloatArray:
    """Linear interpolation of (Fr, ...) samples at ``fps`` (first at t = 0) at ``times``.

    Returns:
        (*times.shape, ...) values; NaN outside the samples or next to a missing one.
    """
    x = np.asarray(times, float) * fps
    i = np.clip(np.floor(x + 1e-9).astype(int), 0, max(len(xyz) - 2, 0))
    a = np.clip(x - i, 0.0, 1.0)
    a = np.where(np.abs(a) < 1e-9, 0.0, a).reshape(a.shape + (1,) * (xyz.ndim - 1))
    upper = xyz[np.minimum(i + 1, len(xyz) - 1)]
    out = xyz[i] + a * np.where(a > 0, upper - xyz[i], 0.0)
    outside = (x < -1e-9) | (x > len(xyz) - 1 + 1e-9)
    return np.where(outside.reshape(outside.shape + (1,) * (xyz.ndim - 1)), np.nan, out)


def mean_speed(xyz: FloatArray, fps: float) -> FloatArray:
    """(F, P, J, 3) positions to (F - 1,) mean joint speed (m/s) between frames; NaN if none."""
    speed = np.linalg.norm(np.diff(xyz, axis=0), axis=-1) * fps              # (F-1, P, J)
    with quiet_nan():
        return np.nanmean(speed.reshape(len(speed), -1), axis=1)


def align_clock(estimate: FloatArray, fps: float, reference: Reference,
                max_shift_s: float = 2.0, min_overlap: float = 0.5) -> float:
    """The reference time at our frame 0 (seconds); method in the module docstring.

    Args:
        estimate: (F, P, J, 3) our joints in the reference's joints (NaN where missing).
        min_overlap: least fraction of our frames the reference must cover at a shift.
    Raises:
        InputError: no shift within ``max_shift_s`` overlaps enough of our frames.
    """
    step = 1.0 / max(fps, reference.fps)
    shifts = np.arange(-np.floor(max_shift_s / step), np.floor(max_shift_s / step) + 1) * step
    ours = mean_speed(estimate, fps)                                         # (F-1,)
    theirs = mean_speed(reference.xyz, reference.fps)                        # (Fr-1,)
    times = (np.arange(len(ours)) + 0.5) / fps                               # midpoints
    r = resample(theirs, reference.fps,                                      # (S, F-1)
                 shifts[:, None] + times - 0.5 / reference.fps)
    valid = np.isfinite(r) & np.isfinite(ours)
    enough = valid.sum(1) >= max(3, min_overlap * len(estimate))
    if not enough.any():
        raise InputError(f"reference {reference.path} ({len(reference.xyz)} frames at "
                         f"{reference.fps:g} fps) overlaps less than {min_overlap:.0%} of our "
                         f"{len(estimate)} frames at any shift within {max_shift_s:g} s; give "
                         "the reference of this take (or trim it to the take)")
    ncc = _correlation(np.where(valid, ours, np.nan), np.where(valid, r, np.nan))  # (S,)
    best = int(np.argmax(np.where(enough & np.isfinite(ncc), ncc, -np.inf)))
    near = [k for k in range(best - 2, best + 3) if 0 <= k < len(shifts) and enough[k]]
    with quiet_nan():
        pa = np.array([np.nanmean(_pa_errors(estimate, resample(
            reference.xyz, reference.fps, np.arange(len(estimate)) / fps + shifts[k])))
            for k in near])                                                  # (<= 5,)
    return float(shifts[near[int(np.argmin(np.where(np.isfinite(pa), pa, np.inf)))]])


def _correlation(a: FloatArray, b: FloatArray) -> FloatArray:
    """(S, N) NaN-masked rows to (S,) normalised cross-correlations."""
    with quiet_nan():
        a0, b0 = a - np.nanmean(a, 1, keepdims=True), b - np.nanmean(b, 1, keepdims=True)
        return np.nansum(a0 * b0, 1) / np.sqrt(np.nansum(a0 ** 2, 1) * np.nansum(b0 ** 2, 1))


def _pa_errors(estimate: FloatArray, truth: FloatArray) -> FloatArray:
    """(F, P, J) Procrustes-aligned errors of the estimate's people matched to the truth's."""
    matched = match_people(estimate, truth)
    return np.linalg.norm(procrustes_align(matched, truth) - truth, axis=-1)


def evaluate_3d(estimate: Motion3D, reference: Reference, *, max_shift_s: float = 2.0
                ) -> Evaluation3D:
    """Align the reference's clock to ours, then score our joints against it."""
    keep = estimate.skeleton.indices(reference.joints)
    ours = estimate.xyz[:, :, keep]                                          # (F, P, J, 3)
    theirs = Reference(reference.xyz[:, :, keep], reference.fps, reference.joints,
                       reference.path)
    shift = align_clock(ours, estimate.fps, theirs, max_shift_s)
    truth = resample(theirs.xyz, theirs.fps, np.arange(len(ours)) / estimate.fps + shift)
    matched = match_people(ours, truth)                                      # (F, Pr, J, 3)
    errors = np.linalg.norm(matched - truth, axis=-1)                        # (F, Pr, J)
    pa = np.linalg.norm(procrustes_align(matched, truth) - truth, axis=-1)
    hits = {mm: pck(errors, mm / 1000.0) for mm in PCK3D_MM}
    with quiet_nan():
        overall = {"mpjpe_mm": float(np.nanmean(errors)) * 1000.0,
                   "pa_mpjpe_mm": float(np.nanmean(pa)) * 1000.0,
                   **{f"pck{mm:g}": float(np.nanmean(h)) for mm, h in hits.items()}}
        return Evaluation3D(
            joints=reference.joints, mpjpe_mm=np.nanmean(errors, (0, 1)) * 1000.0,
            pa_mpjpe_mm=np.nanmean(pa, (0, 1)) * 1000.0,
            pck_mm={mm: np.nanmean(h, (0, 1)) for mm, h in hits.items()}, overall=overall,
            shift_s=shift, frames=int(np.isfinite(errors).any((1, 2)).sum()), errors=errors)


def evaluate_2d(motion: Motion3D, rig: CameraRig, keypoints: Keypoints2D
                ) -> dict[str, dict[str, float]]:
    """Per camera, the detections scored against our reprojected 3D (module docstring).

    Returns:
        camera -> {"pck0.2": fraction, "oks": mean OKS}; person slots of the 2D and the 3D
        are taken as the same people.
    Raises:
        InputError: our keypoint set lacks the torso joints.
    """
    skel = motion.skeleton
    missing = [j for pair in TORSO_JOINTS for j in pair if j not in skel.joints]
    if missing:
        raise InputError(f"2D scores need the torso joints; {skel.name} lacks {missing}")
    n_f = min(motion.n_frames, keypoints.n_frames)
    n_p = min(motion.n_people, keypoints.n_people)
    coco = keypoint_index(skel.name, skel.joints, get_skeleton("coco17"))     # (17,)
    scores = {}
    for c, name in enumerate(keypoints.cameras):
        cam = rig[name]
        truth = cam.project(motion.xyz[:n_f, :n_p])                          # (F, P, J, 2)
        counted = np.isfinite(truth).all(-1) & cam.in_image(truth)           # (F, P, J)
        detected = keypoints.xy[c, :n_f, :n_p]                               # (F, P, J, 2)
        diagonals = [truth[..., skel.index(a), :] - truth[..., skel.index(b), :]
                     for a, b in TORSO_JOINTS]
        torso = np.linalg.norm(diagonals, axis=-1).mean(0)                   # (F, P)
        error = np.linalg.norm(detected - truth, axis=-1)                    # (F, P, J)
        hit = np.where(counted, np.nan_to_num(pck(error, 0.2 * torso[..., None]), nan=0.0),
                       np.nan)
        k = coco >= 0
        pick = coco[k]
        sim = oks(detected[..., pick, :], truth[..., pick, :], counted[..., pick], COCO_SIGMAS[k])
        with quiet_nan():
            scores[name] = {"pck0.2": float(np.nanmean(hit)), "oks": float(np.nanmean(sim))}
    return scores


def evaluate_session(session: Session, reference_path: str | Path, *, max_shift_s: float = 2.0
                     ) -> tuple[Evaluation3D, dict[str, dict[str, float]] | None]:
    """Score ``session``'s ``output/points3d.npz`` against a reference file, and its 2D (when
    ``keypoints2d/*.npz`` are in the session or its output) against the reprojected 3D."""
    from calibration.io import read_calibration
    from exporters.errors import ExportError
    from exporters.points3d import read_points3d
    points = session.output / "points3d.npz"
    if not points.is_file():
        raise InputError(f"{points} not found; run 'mocap run {session.root}' first")
    try:
        motion = read_points3d(points)
    except ExportError as e:
        raise InputError(str(e)) from e
    result = evaluate_3d(motion, read_reference(reference_path, motion.skeleton),
                         max_shift_s=max_shift_s)
    folders = (session.root / "keypoints2d", session.output / "keypoints2d")
    files = next(({p.stem: p for p in sorted(f.glob("*.npz"))} for f in folders
                  if any(f.glob("*.npz"))), None)
    if files is None:
        return result, None
    rig = read_calibration(session.calibration_file)
    return result, evaluate_2d(motion, rig, session.load_keypoints(rig, files))


def format_evaluation(result: Evaluation3D, scores_2d: dict[str, dict[str, float]] | None
                      ) -> list[str]:
    """The report ``mocap evaluate`` prints: a per-joint table, overall, then 2D per camera."""
    lines = [(f"clock: reference time {result.shift_s:+.4f} s at our frame 0; "
              f"{result.frames} frames compared"),
             f"{'joint':<18}{'MPJPE mm':>10}{'PA-MPJPE':>10}{'PCK@50':>8}{'PCK@100':>9}"]
    for j, joint in enumerate(result.joints):
        lines.append(f"{joint:<18}{result.mpjpe_mm[j]:>10.1f}{result.pa_mpjpe_mm[j]:>10.1f}"
                     f"{result.pck_mm[50.0][j]:>8.1%}{result.pck_mm[100.0][j]:>9.1%}")
    o = result.overall
    lines.append(f"{'overall':<18}{o['mpjpe_mm']:>10.1f}{o['pa_mpjpe_mm']:>10.1f}"
                 f"{o['pck50']:>8.1%}{o['pck100']:>9.1%}")
    if scores_2d is None:
        return [*lines, "2D: no keypoints2d/*.npz in the session; 2D scores skipped"]
    lines.append("2D against the reprojected 3D (OKS over the COCO-17 joints of our set):")
    lines += [f"  {cam}: PCK@0.2 torso {s['pck0.2']:.1%}, OKS {s['oks']:.3f}"
              for cam, s in scores_2d.items()]
    return lines
