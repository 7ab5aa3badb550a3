"""FreeMoCap calibration TOML (its fork of aniposelib's layout) to a :class:`CameraRig`.

FreeMoCap writes one table per camera - keyed ``[cam_0]``, ``[cam_1]``... in older versions,
by the camera's name in newer ones - with ``name`` (the video's stem), ``size``, ``matrix``,
``distortions``, ``rotation`` (Rodrigues, world to camera) and ``translation``; newer versions
add ``world_orientation`` (3, 3) and ``world_position`` (3,). A ``[metadata]`` table holds
``charuco_square_size`` (in millimetres, as FreeMoCap asks for it; 1 when it was not set),
``charuco_board_object``, ``path_to_recorded_videos``, ``date_time_calibrated``...

Lengths in the file are in the unit of ``charuco_square_size`` (the board was measured in
it); they are converted to metres here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from calibration.camera import CameraRig
from calibration.errors import CalibrationFileError
from calibration.io import _camera_from_table, check_lens_folds, load_toml

FREEMOCAP_METADATA_KEYS = ("charuco_square_size", "charuco_board_object",
                           "path_to_recorded_videos", "date_time_calibrated")
FREEMOCAP_CAMERA_KEYS = ("world_orientation", "world_position")
_MM = 0.001
_PLAUSIBLE_SPREAD_M = (0.05, 100.0)     # largest distance between two camera centres


def read_freemocap(path: str | Path, *, length_unit: float | None = None) -> CameraRig:
    """Read a FreeMoCap calibration TOML.

    Args:
        path: the ``*_camera_calibration.toml`` file.
        length_unit: metres per length unit of the file. By default millimetres when the
            file's ``charuco_square_size`` is set (FreeMoCap asks for it in mm).

    Returns:
        the rig in metres (``world_position`` in ``camera.extra`` converted too).

    Raises:
        CalibrationFileError: naming the file, the camera table and the key; when the unit
            cannot be known or gives an implausible camera layout (with the fix); or a camera
            whose lens folds back inside its image.
    """
    path = Path(path)
    table = load_toml(path)
    metadata = table.get("metadata", {})
    unit = length_unit if length_unit is not None else _unit_from_metadata(metadata, path)
    if not unit > 0:
        raise CalibrationFileError(f"{path}: length_unit must be > 0 metres, got {unit}")
    cameras = []
    for key, value in table.items():
        if key == "metadata" or not isinstance(value, dict):
            continue                          # every other table is a camera's, checked
        cam = _camera_from_table(value, key, path)
        extra = dict(cam.extra)
        if "world_position" in extra:
            extra["world_position"] = (np.asarray(extra["world_position"], dtype=float)
                                       * unit).tolist()
        cameras.append(cam.replace(t=cam.t * unit, extra=extra))
    if not cameras:
        raise CalibrationFileError(f"{path}: no camera table found; FreeMoCap writes tables "
                                   "like [cam_0] with name, size, matrix, distortions, "
                                   "rotation, translation")
    rig = CameraRig(tuple(cameras), {"metadata": {"source": "freemocap", "file": path.name,
                                                  "length_unit_m": unit}})
    _check_spread(rig, unit, path)
    return check_lens_folds(rig, path)


def _unit_from_metadata(metadata: Any, path: Path) -> float:
    size = metadata.get("charuco_square_size") if isinstance(metadata, dict) else None
    if isinstance(size, bool) or not isinstance(size, (int, float)) or size == 1 or size <= 0:
        raise CalibrationFileError(
            f"{path}: [metadata] charuco_square_size is {size!r}, so the file's lengths are in "
            "board squares of unknown size; pass length_unit=<metres per unit> (the square "
            "size in metres) to read_freemocap")
    return _MM


def _check_spread(rig: CameraRig, unit: float, path: Path) -> None:
    if len(rig) < 2:
        return
    centers = rig.centers                                                    # (C, 3)
    spread = float(np.max(np.linalg.norm(centers[:, None] - centers[None], axis=-1)))
    low, high = _PLAUSIBLE_SPREAD_M
    if not low <= spread <= high:
        raise CalibrationFileError(
            f"{path}: with {unit:g} m per unit the cameras lie {spread:.4g} m apart at most, "
            f"outside a plausible {low:g}-{high:g} m; pass the file's unit as length_unit "
            "(metres per unit, e.g. 0.001 for millimetres)")
