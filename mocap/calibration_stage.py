"""The calibration stage of a session: board footage in ``calibration/`` -> ``calibration.toml``.

The rig is reused while the footage, board, timestamps, known intrinsics, ``[calibration]``
settings and the code that calibrates (``CALIBRATION_VERSION``) are unchanged.

Board detections are cached per camera in ``output/cache/`` with the footage's fingerprint and
the version of the code that detects (``DETECTION_VERSION``), so a rerun (or a run after an
interruption) only detects what changed, and a changed detector or OpenCV detects afresh.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from calibration.board import Board, load_board
from calibration.board_scan import detect_all
from calibration.calibrate import calibrate, require_cameras
from calibration.camera import Camera, CameraRig
from calibration.compare import CameraDifference, compare_rigs
from calibration.detections import BoardDetections
from calibration.errors import CalibrationError
from calibration.footage import find_footage, image_files
from calibration.importers import import_calibration
from calibration.io import read_calibration, read_intrinsics, write_calibration
from calibration.report import write_report
from calibration.result import CalibrationResult
from calibration.sync import footage_times
from mocap.cache import fingerprint, load_cached, store_cached
from mocap.run_outputs import RunOutputs
from mocap.session import Session

# the modules whose code decides which corners are found where: footage reading, scanning,
# marker search, corner refinement and the board's geometry
DETECTION_MODULES = ("calibration.board", "calibration.board_scan", "calibration.checkerboard",
                     "calibration.detection", "calibration.detections", "calibration.footage",
                     "calibration.marker_search", "calibration.subpixel")


def code_version(modules: Sequence[str] = DETECTION_MODULES) -> str:
    """A short hash of the files of ``modules`` and of OpenCV's version: it changes whenever
    either can change what those modules compute."""
    h = hashlib.sha256(f"opencv {cv2.__version__}\n".encode())
    for name in modules:
        source = importlib.import_module(name).__file__
        h.update(f"{name}\n".encode() + (Path(source).read_bytes() if source else b""))
    return h.hexdigest()[:16]


DETECTION_VERSION = code_version()            # once, at import
# ... and those that make a rig of the detections: a calibration.toml made by other code is
# calibrated again, not reused
SOLVER_MODULES = ("calibration.block_lm", "calibration.bundle", "calibration.bundle_problem",
                  "calibration.calibrate", "calibration.camera", "calibration.checks",
                  "calibration.config", "calibration.distortion", "calibration.extrinsics",
                  "calibration.frame_shift", "calibration.intrinsics", "calibration.io",
                  "calibration.lens_model", "calibration.projection_jacobian",
                  "calibration.rolling_shutter", "calibration.rotations", "calibration.sync",
                  "calibration.view_selection", "calibration.world_frame")
CALIBRATION_VERSION = code_version(DETECTION_MODULES + SOLVER_MODULES)


@dataclass(frozen=True)
class CalibrationInputs:
    """What a session's ``calibration/`` folder holds."""

    board: Board
    footage: dict[str, Path]
    timestamps: Path | None
    intrinsics: Path | None

    @classmethod
    def of(cls, session: Session) -> CalibrationInputs:
        folder = session.root / "calibration"
        timestamps = folder / "timestamps.csv"
        intrinsics = folder / "intrinsics.toml"
        return cls(load_board(folder / "board.toml"), find_footage(folder),
                   timestamps if timestamps.is_file() else None,
                   intrinsics if intrinsics.is_file() else None)


def has_board_footage(session: Session) -> bool:
    return (session.root / "calibration" / "board.toml").is_file()


def detect_cached(footage: dict[str, Path], board: Board, cache: Path, *,
                  progress: bool = True, workers: int | None = None
                  ) -> dict[str, BoardDetections]:
    """Board detections of every camera, from ``cache`` where the footage is unchanged."""
    keys = {cam: fingerprint(_footage_files(path), board=board.to_table(),
                             version=DETECTION_VERSION) for cam, path in footage.items()}
    files = {cam: cache / f"board_{cam}.npz" for cam in footage}
    cached = {cam: load_cached(files[cam], keys[cam]) for cam in footage}
    todo = {cam: path for cam, path in footage.items() if cached[cam] is None}
    fresh = detect_all(todo, board, workers=workers, progress=progress) if todo else {}
    for cam, det in fresh.items():
        cached[cam] = _to_arrays(det)
        store_cached(files[cam], keys[cam], cached[cam])
    return {cam: _from_arrays(cam, arrays) for cam, arrays in cached.items()}


def session_times(inputs: CalibrationInputs, detections: dict[str, BoardDetections]
                  ) -> dict[str, np.ndarray] | None:
    """Each camera's frame times from ``calibration/timestamps.csv``; None: frames match by
    index."""
    return footage_times({c: d.n_frames for c, d in detections.items()}, inputs.timestamps)


def known_intrinsics(inputs: CalibrationInputs) -> dict[str, Camera] | None:
    """Cameras of ``calibration/intrinsics.toml`` (kept fixed), or None."""
    if inputs.intrinsics is None:
        return None
    return {cam.name: cam for cam in read_intrinsics(inputs.intrinsics)}


def _footage_files(path: Path) -> list[Path]:
    return image_files(path) if path.is_dir() else [path]


def _to_arrays(det: BoardDetections) -> dict[str, np.ndarray]:
    return {"frames": det.frames, "xy": det.xy, "mirrored": det.mirrored,
            "n_frames": np.array(det.n_frames), "image_size": np.array(det.image_size)}


def _from_arrays(camera: str, a: dict[str, np.ndarray]) -> BoardDetections:
    return BoardDetections(camera, tuple(a["image_size"]), a["frames"], a["xy"],
                           int(a["n_frames"]), a["mirrored"])


@dataclass(frozen=True)
class SessionCalibration:
    """The rig a session uses and where it came from."""

    rig: CameraRig
    source: str                                  # a sentence for the summary
    result: CalibrationResult | None = None      # set when calibrated in this run
    outputs: tuple[Path, ...] = ()
    truth: list[CameraDifference] | None = None  # against ground_truth/calibration.toml


def session_rig(session: Session, run: RunOutputs, calibration_file: Path | None = None, *,
                progress: bool = True, force: bool = False) -> SessionCalibration:
    """The session's cameras: a file given on the command line (any supported format), else
    ``calibration/calibration.toml``, else calibrated from the board footage in
    ``calibration/`` (reused from ``output/calibration.toml`` while its inputs are unchanged)."""
    if calibration_file is not None:
        return SessionCalibration(import_calibration(calibration_file),
                                  f"imported {calibration_file}")
    ready = session.root / "calibration" / "calibration.toml"
    if ready.is_file():
        return SessionCalibration(read_calibration(ready), f"read {ready}")
    if has_board_footage(session):
        return calibrate_session(session, run, progress=progress, force=force)
    return SessionCalibration(read_calibration(session.calibration_file),
                              f"read {session.calibration_file}")


def calibrate_session(session: Session, run: RunOutputs, *, progress: bool = True,
                      force: bool = False) -> SessionCalibration:
    """Calibrate from ``calibration/``; ``calibration.toml`` and its report are staged in
    ``run`` (board detections are cached in ``output/cache`` at once, for a rerun to resume)."""
    inputs = CalibrationInputs.of(session)
    out = session.output / "calibration.toml"
    key = fingerprint(_inputs_files(inputs), board=inputs.board.to_table(),
                      version=CALIBRATION_VERSION, settings=asdict(session.config.calibration))
    earlier = None if force else _earlier_calibration(out)
    if earlier is not None and earlier.extra.get("metadata", {}).get("fingerprint") == key:
        return SessionCalibration(earlier, f"reused {out} (calibration inputs unchanged)",
                                  truth=_against_truth(session, earlier))
    require_cameras(list(inputs.footage))
    detections = detect_cached(inputs.footage, inputs.board, session.output / "cache",
                               progress=progress)
    result = calibrate(detections, inputs.board, session.config.calibration,
                       intrinsics=known_intrinsics(inputs),
                       frame_times=session_times(inputs, detections))
    metadata = dict(result.rig.extra.get("metadata", {}), fingerprint=key)
    rig = CameraRig(result.rig.cameras, dict(result.rig.extra, metadata=metadata))
    run.own("calibration.toml", "calibration_report/*")
    paths = write_report(result, run.staging / "calibration_report")
    staged = write_calibration(rig, run.staging / "calibration.toml")
    return SessionCalibration(rig, f"calibrated from {len(inputs.footage)} cameras' board "
                              f"footage in {session.root / 'calibration'}", result,
                              tuple(run.final(p) for p in (staged, *paths)),
                              _against_truth(session, rig))


def _earlier_calibration(path: Path) -> CameraRig | None:
    """An earlier run's calibration, or None when there is none or it no longer passes the
    reader's checks (it is then calibrated again, not refused)."""
    try:
        return read_calibration(path) if path.is_file() else None
    except CalibrationError:
        return None


def _against_truth(session: Session, rig: CameraRig) -> list[CameraDifference] | None:
    truth = session.root / "ground_truth" / "calibration.toml"
    return compare_rigs(rig, read_calibration(truth)) if truth.is_file() else None


def _inputs_files(inputs: CalibrationInputs) -> list[Path]:
    files = [f for path in inputs.footage.values() for f in _footage_files(path)]
    return files + [p for p in (inputs.timestamps, inputs.intrinsics) if p is not None]
