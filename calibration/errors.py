"""Errors raised by the calibration package: each message says what is wrong, where, and the fix."""

from __future__ import annotations


class CalibrationError(Exception):
    """A calibration input or result the user must fix; the message says how."""


class CalibrationFileError(CalibrationError):
    """A calibration file (ours or another system's) is missing, unreadable or malformed."""


class BoardError(CalibrationError):
    """A board definition (board.toml) is malformed or inconsistent."""


class BoardNotFoundError(CalibrationError):
    """A camera's footage shows too few usable board views."""

    def __init__(self, camera: str, n_found: int, n_frames: int, detail: str) -> None:
        super().__init__(f"camera {camera}: the board was found in {n_found} of {n_frames} "
                         f"frames; {detail}")
        self.camera, self.n_found, self.n_frames, self.detail = camera, n_found, n_frames, detail

    def __reduce__(self) -> tuple:                # picklable across worker processes
        return (type(self), (self.camera, self.n_found, self.n_frames, self.detail))


class FootageError(CalibrationError):
    """Calibration footage (a video or an image folder) is missing, empty or inconsistent."""


class CameraGraphError(CalibrationError):
    """The cameras cannot all be linked into one rig through shared board views."""


class SolverError(CalibrationError):
    """An estimation step failed or gave an implausible result."""


class SyncError(CalibrationError):
    """Frame timestamps are missing, malformed or do not match the footage."""
