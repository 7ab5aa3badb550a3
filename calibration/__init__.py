"""Camera calibration: the camera model, boards, detection, intrinsics, extrinsics, file I/O."""

from calibration.camera import Camera, CameraRig
from calibration.errors import CalibrationError, CalibrationFileError
from calibration.io import read_calibration, write_calibration

__all__ = [
           "CalibrationError",
           "CalibrationFileError",
           "Camera",
           "CameraRig",
           "read_calibration",
           "write_calibration",
]
