"""The 2D stage of a run: the session's own 2D keypoints (ours or another tool's files), else
keypoints detected in its videos (``mocap detect``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from calibration.camera import CameraRig
from mocap.calibration_stage import has_board_footage, session_rig
from mocap.config import SessionConfig
from mocap.detection.overlay import write_contact_sheet, write_overlay_video
from mocap.detection.session_videos import TakeVideos, find_take_videos
from mocap.detection.stage import VideoSpan, detect_videos
from mocap.errors import DetectionError, InputError
from mocap.imports2d import import_keypoints
from mocap.keypoints import CameraKeypoints, Keypoints2D
from mocap.keypoints_io import check_pixels, stack_cameras, write_camera_keypoints
from mocap.run_outputs import RunOutputs
from mocap.session import Session

FOREIGN_SUFFIXES = (".json", ".csv", ".h5", ".hdf5")
CROP_SHARE = 0.01      # a video may be this share of its calibrated size smaller or larger
NO_MONOCULAR = ("or, for a one-camera take lifted to 3D by the lifter, install torch: pip "
                "install 'mocap[lift]' torch==2.13.0")
ONE_SEER = ("for a one-camera take lifted to 3D by the lifter, keep only that camera's 2D "
            "keypoints")


@dataclass(frozen=True)
class Detection:
    """What ``mocap detect`` found, for the summary."""

    keypoints: Keypoints2D
    take: TakeVideos
    detector: str
    notes: list[str]


def session_keypoints(session: Session, rig: CameraRig, run: RunOutputs, config: SessionConfig,
                      *, progress: bool = True) -> tuple[Keypoints2D, str]:
    """The session's 2D keypoints checked against ``rig``, and a sentence on where they came
    from: ``keypoints2d/`` when the session has it, else detected in ``videos/``."""
    if given_keypoints(session):
        folder = session.root / "keypoints2d"
        keypoints, source = load_given_keypoints(session, rig, config), f"read {folder}"
    else:
        folder = session.root / "videos"
        detection = _detect(session, rig, run, config, progress=progress)
        keypoints, source = detection.keypoints, f"detected ({detection.detector}) in {folder}"
    notes = camera_notes(keypoints, rig, folder, config.lifting.available)
    return keypoints, "; ".join([source, *notes])


def camera_notes(kp: Keypoints2D, rig: CameraRig, folder: Path, can_lift: bool) -> list[str]:
    """Notes on the calibrated cameras that add nothing to triangulation: those without 2D
    keypoints, and those whose keypoints are all missing (NaN xy or score 0: no detections).
    Such cameras are left out as long as 2 or more cameras saw someone. 2D of one camera is a
    one-camera take where ``can_lift`` (torch is installed).

    Raises:
        InputError: 2D keypoints of one camera without the lifter, or detections in fewer than 2
            cameras of several (a take of no frames is left to triangulation's own message).
    """
    unused = [c for c in rig.names if c not in kp.cameras]
    if len(kp.cameras) == 1 and can_lift:
        return [f"one camera ({kp.cameras[0]}): its 2D is lifted to 3D by the lifter"]
    if len(kp.cameras) < 2:
        others = f" (the calibration also has {', '.join(unused)})" if unused else ""
        raise InputError(f"{folder}: 2D keypoints of only 1 camera ({kp.cameras[0]}); "
                         f"triangulation needs 2 or more cameras{others}: add their 2D "
                         f"keypoints {NO_MONOCULAR}")
    seen = np.isfinite(kp.xy).all(-1) & (kp.score > 0)                     # (C, F, P, J)
    blind = [c for c, s in zip(kp.cameras, seen) if not s.any()]
    if kp.n_frames > 0 and len(blind) == len(kp.cameras):
        raise InputError(f"{folder}: no camera saw anyone: every keypoint of "
                         f"{', '.join(kp.cameras)} is missing (NaN or score 0) in all "
                         f"{kp.n_frames} frames; check that the 2D keypoints belong to this take "
                         "and that someone is in view (or detect again)")
    if kp.n_frames > 0 and len(blind) == len(kp.cameras) - 1:
        saw = next(c for c in kp.cameras if c not in blind)
        raise InputError(f"{folder}: only camera {saw} saw anyone, {', '.join(blind)} have no "
                         "detections (every keypoint NaN or score 0); triangulation needs 2 or "
                         f"more cameras that see the person ({ONE_SEER})")
    notes = [f"{c} calibrated but has no 2D keypoints: not used" for c in unused]
    return notes + [f"{c} has no detections (every keypoint NaN or score 0): not used"
                    for c in blind]


def require_2d_input(session: Session) -> None:
    """Fail before any work when the session has neither 2D keypoints nor videos."""
    if not given_keypoints(session) and not _has_videos(session):
        raise InputError(f"{session.root}: no 2D keypoints and no videos found; put one video "
                         "per camera in videos/<camera>.mp4, or 2D keypoints in "
                         "keypoints2d/<camera>.npz (or another tool's files: OpenPose JSON "
                         "folders, AlphaPose/COCO/MMPose JSON, DeepLabCut or caliscope CSV)")


def given_keypoints(session: Session) -> list[Path]:
    """``keypoints2d/``'s npz files, other tools' files and OpenPose folders."""
    folder = session.root / "keypoints2d"
    if not folder.is_dir():
        return []
    return [p for p in sorted(folder.iterdir()) if not p.name.startswith(".") and (
        p.is_dir() or p.suffix.lower() in (".npz", *FOREIGN_SUFFIXES))]


def load_given_keypoints(session: Session, rig: CameraRig, config: SessionConfig
                         ) -> Keypoints2D:
    """The session's own 2D: our npz files as they are, other tools' files imported (their
    frame rate from ``session.toml``'s fps, which they do not record)."""
    paths = given_keypoints(session)
    npz = {p.stem: p for p in paths if p.suffix == ".npz"}
    foreign = [p for p in paths if p.suffix != ".npz"]
    if npz and foreign:
        raise InputError(f"{session.root / 'keypoints2d'}: holds both .npz keypoints and other "
                         f"tools' files ({foreign[0].name}); keep one kind")
    if npz:
        return session.load_keypoints(rig, npz)
    per_camera: dict[str, CameraKeypoints] = {}
    sources: dict[str, str] = {}
    for path in foreign:
        for camera, kp in _imported(path, config).items():
            if camera in per_camera:
                raise InputError(f"{path}: camera {camera} also has keypoints in "
                                 f"{sources[camera]}; keep one file per camera")
            per_camera[camera], sources[camera] = kp, str(path)
    _require_cameras(per_camera, sources, rig)
    keypoints = stack_cameras(per_camera, sources)
    check_pixels(keypoints, rig, {c: Path(s) for c, s in sources.items()})
    return keypoints


def detect_session(session: Session, run: RunOutputs, *, calibration_file: Path | None = None,
                   detector: str | None = None, overlay: str | None = None,
                   progress: bool = True) -> Detection:
    """``mocap detect``: the session's videos, matched to its calibration's cameras when it has
    one, to ``keypoints2d/<camera>.npz`` (and overlays) staged in ``run``."""
    config = session.config
    if detector is not None:
        config = replace(config, detection=replace(config.detection, detector=detector))
    rig = None
    if calibration_file is not None or _has_calibration(session):
        rig = session_rig(session, run, calibration_file, progress=progress).rig
    return _detect(session, rig, run, config, overlay=overlay, progress=progress)


def _detect(session: Session, rig: CameraRig | None, run: RunOutputs, config: SessionConfig,
            *, overlay: str | None = None, progress: bool = True) -> Detection:
    take = find_take_videos(session.root / "videos", rig.names if rig is not None else None,
                            config.videos)
    notes = _size_notes(take, rig) if rig is not None else []
    spans = [VideoSpan(v.camera, v.info, v.first_frame, take.n_frames) for v in take.videos]
    per_camera = detect_videos(spans, take.fps, config.detection.within(session.root),
                               session.output / "cache" / "keypoints2d", progress=progress)
    run.own("keypoints2d/*.npz", "overlay/*")
    for camera, kp in per_camera.items():
        write_camera_keypoints(kp, run.staging / "keypoints2d" / f"{camera}.npz")
        if overlay is not None:
            _write_overlay(take, camera, kp, run.staging / "overlay", overlay)
    keypoints = stack_cameras(per_camera, {v.camera: str(v.path) for v in take.videos})
    return Detection(keypoints, take, config.detection.detector, notes + take.notes)


def _write_overlay(take: TakeVideos, camera: str, kp: CameraKeypoints, folder: Path,
                   kind: str) -> None:
    video = take[camera]
    if kind == "video":
        write_overlay_video(video.path, kp, folder / f"{camera}.mp4",
                            first_frame=video.first_frame)
    else:
        write_contact_sheet(video.path, kp, folder / f"{camera}.png",
                            first_frame=video.first_frame)


def _size_notes(take: TakeVideos, rig: CameraRig) -> list[str]:
    """Each video's frames, as displayed, must have the size its camera was calibrated at, up
    to a crop of CROP_SHARE per side (a sensor of 1088 rows recorded as 1080-row video keeps
    its pixel grid); the crops are returned as notes.

    Raises:
        DetectionError: a video of another size, naming it and a rotation where that fits.
    """
    notes = []
    for v in take.videos:
        size, calibrated = np.array([v.info.width, v.info.height]), np.array(rig[v.camera].size)
        if (size == calibrated).all():
            continue
        if (np.abs(size - calibrated) <= CROP_SHARE * calibrated).all():
            notes.append(f"{v.path.name}: frames are {size[0]}x{size[1]} px, camera {v.camera} "
                         f"was calibrated at {calibrated[0]}x{calibrated[1]}; taken as the same "
                         "pixel grid cropped at the edge")
            continue
        turned = " (turned by 90 degrees: check the video's rotation metadata)" \
            if (size == calibrated[::-1]).all() else ""
        raise DetectionError(f"{v.path}: frames are {size[0]}x{size[1]} px but camera "
                             f"{v.camera} was calibrated at {calibrated[0]}x{calibrated[1]}"
                             f"{turned}; use the video from the calibrated camera and mode")
    return notes


def _imported(path: Path, config: SessionConfig) -> dict[str, CameraKeypoints]:
    try:
        return import_keypoints(path, config.keypoint_set, config.fps)
    except DetectionError as e:
        if config.keypoint_set is None and "skeleton=" in str(e):
            raise DetectionError(f"{e}; set keypoint_set in session.toml") from e
        raise


def _require_cameras(per_camera: dict[str, CameraKeypoints], sources: dict[str, str],
                     rig: CameraRig) -> None:
    unknown = [c for c in per_camera if c not in rig.names]
    if unknown:
        raise InputError(f"{sources[unknown[0]]}: camera '{unknown[0]}' is not in the "
                         f"calibration (it has {', '.join(rig.names)}); rename the keypoints "
                         "file or folder after its camera")


def _has_videos(session: Session) -> bool:
    return (session.root / "videos").is_dir()


def _has_calibration(session: Session) -> bool:
    """A ready calibration file, an earlier run's, or board footage to calibrate from."""
    return session.ready_calibration_file() is not None or has_board_footage(session)


def format_detection(detection: Detection) -> list[str]:
    """Lines for the terminal: per camera, how often someone was found and how sure."""
    kp, take = detection.keypoints, detection.take
    lines = [f"detector: {detection.detector}, {take.n_frames} frames at {take.fps:g} fps"]
    for c, camera in enumerate(kp.cameras):
        seen = kp.score[c] > 0                                  # (F, P, J)
        people = seen.any(-1)                                   # (F, P)
        found = people.any(-1).mean()
        mean_score = kp.score[c][seen].mean() if seen.any() else 0.0
        tracks = np.unique(kp.track_id[c][people]) if kp.track_id is not None else np.zeros(0)
        lines.append(f"  {camera}: someone in {found:.1%} of frames, up to "
                     f"{people.sum(-1).max()} people, {len(tracks)} tracks, mean keypoint "
                     f"confidence {mean_score:.2f}")
    return lines + detection.notes
