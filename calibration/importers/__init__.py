"""Import other systems' calibrations: ``import_calibration(path)`` recognises the format.

Formats (``FORMATS``), recognised from the file's content, not its name:

- ``"qualisys"``: Qualisys QTM ``.qca.txt`` (XML) - :func:`read_qualisys`.
- ``"caliscope"``: caliscope ``camera_array.toml`` or ``config.toml`` - :func:`read_caliscope`.
- ``"freemocap"``: FreeMoCap's calibration TOML - :func:`read_freemocap`.
- ``"toml"``: our calibration TOML, which is Pose2Sim's and anipose's layout -
  :func:`calibration.io.read_calibration`.

Each reader returns a :class:`CameraRig` in our conventions (metres, OpenCV camera axes,
world to camera); call it directly for its options.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from calibration.camera import CameraRig
from calibration.errors import CalibrationFileError
from calibration.importers.caliscope import caliscope_camera_tables, read_caliscope
from calibration.importers.freemocap import (
    FREEMOCAP_CAMERA_KEYS,
    FREEMOCAP_METADATA_KEYS,
    read_freemocap,
)
from calibration.importers.qualisys import read_qualisys, rotate_image
from calibration.io import read_calibration

FORMATS = ("qualisys", "caliscope", "freemocap", "toml")
_SUPPORTED = ("Qualisys .qca.txt (XML), caliscope camera_array.toml / config.toml, FreeMoCap "
              "calibration TOML, and Pose2Sim / anipose / our calibration TOML")
_READERS = {"qualisys": read_qualisys, "caliscope": read_caliscope,
            "freemocap": read_freemocap, "toml": read_calibration}
_SNIFF_BYTES = 4096

__all__ = ["FORMATS", "detect_format", "import_calibration", "read_caliscope",
           "read_freemocap", "read_qualisys", "rotate_image"]


def import_calibration(path: str | Path, format: str | None = None) -> CameraRig:
    """Read a calibration file of any supported system into a :class:`CameraRig`.

    Args:
        path: the file.
        format: one of ``FORMATS`` to skip recognition; ``None`` recognises it.

    Raises:
        CalibrationFileError: naming the file and the supported formats when it is none of
            them, or naming the camera and key when the file is malformed.

    Example:
        >>> rig = import_calibration("calibration/Calib.qca.txt")   # doctest: +SKIP
        >>> rig.names                                                # doctest: +SKIP
        ['cam_01', 'cam_02', 'cam_03', 'cam_04']
    """
    path = Path(path)
    if format is None:
        format = detect_format(path)
    if format not in _READERS:
        raise CalibrationFileError(f"{path}: unknown calibration format {format!r}; choose "
                                   f"one of {', '.join(FORMATS)}")
    return _READERS[format](path)


def detect_format(path: str | Path) -> str:
    """Which of ``FORMATS`` the file at ``path`` is, judged from its content.

    Raises:
        CalibrationFileError: the file is missing, unreadable or in no supported format.
    """
    path = Path(path)
    if not path.is_file():
        raise CalibrationFileError(f"{path}: calibration file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CalibrationFileError(f"{path}: cannot be read as text ({e}); supported "
                                   f"formats: {_SUPPORTED}") from e
    head = text[:_SNIFF_BYTES].lstrip("\ufeff \t\r\n")
    if head.startswith("<"):
        if "<calibration" in head:
            return "qualisys"
        raise _unsupported(path, "XML without a Qualisys <calibration> root")
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise _unsupported(path, f"neither XML nor valid TOML ({e})") from e
    return _toml_format(table, path)


def _toml_format(table: dict[str, Any], path: Path) -> str:
    if caliscope_camera_tables(table):
        return "caliscope"
    cameras = {k: v for k, v in table.items() if k != "metadata" and isinstance(v, dict)}
    if not any("matrix" in v for v in cameras.values()):
        raise _unsupported(path, "TOML without camera tables holding a 'matrix'")
    metadata = table.get("metadata")
    if (isinstance(metadata, dict) and any(k in metadata for k in FREEMOCAP_METADATA_KEYS)) \
            or any(k in v for v in cameras.values() for k in FREEMOCAP_CAMERA_KEYS):
        return "freemocap"
    return "toml"


def _unsupported(path: Path, what: str) -> CalibrationFileError:
    return CalibrationFileError(f"{path}: not a calibration format we can read ({what}); "
                                f"supported: {_SUPPORTED}")
