"""caliscope calibrations (``camera_array.toml`` and the older ``config.toml``) to a rig.

caliscope keys its cameras by port: ``[cameras.0]`` tables in ``camera_array.toml``, or
``[cam_0]`` tables (with ``port`` or ``cam_id``) in ``config.toml``. Each has ``size``
[width, height], ``matrix`` (3, 3), ``distortions`` (5,) OpenCV k1, k2, p1, p2, k3, and, once
the extrinsics are solved, ``rotation`` (a (3, 3) world-to-camera matrix, or a Rodrigues
vector in some versions) and ``translation`` (3,) in metres - the same convention as ours
(checked: the four cameras of the shared caliscope session all look at one point ~1 m away).
Cameras are named ``cam_<port>`` to match caliscope's video names (``cam_0.mp4``...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from calibration.camera import Camera, CameraRig
from calibration.errors import CalibrationFileError
from calibration.io import check_lens_folds, image_size, intrinsic_matrix, load_toml, numbers
from calibration.rotations import rodrigues_to_matrix

_PORT_KEYS = ("cam_id", "port")


def read_caliscope(path: str | Path) -> CameraRig:
    """Read caliscope's ``camera_array.toml`` or ``config.toml``.

    Cameras marked ``ignore = true`` are left out; the others must have intrinsics and
    extrinsics. ``rotation_count`` (caliscope turns such a camera's frames by that many
    quarter turns before using them) is kept in ``camera.extra`` when it is not 0.

    Raises:
        CalibrationFileError: naming the file, the camera table and the key; or a camera whose
            lens folds back inside its image.
    """
    path = Path(path)
    table = load_toml(path)
    listed = table.get("cameras", {})
    loose = [k for k, v in listed.items() if not isinstance(v, dict)] \
        if isinstance(listed, dict) else ["cameras"]
    if loose:
        raise CalibrationFileError(f"{path}: [cameras.{loose[0]}] must be a table of the "
                                   "camera's values (size, matrix, distortions, ...)")
    tables = caliscope_camera_tables(table)
    if not tables:
        raise CalibrationFileError(f"{path}: no caliscope camera found; expected [cameras.0] "
                                   "tables (camera_array.toml) or [cam_0] tables with a port "
                                   "(config.toml)")
    for where, t in tables:
        if not isinstance(t.get("ignore", False), bool):
            raise CalibrationFileError(f"{path}: [{where}] 'ignore' must be true or false, got "
                                       f"{t['ignore']!r}")
    cameras = [_camera(t, where, path) for where, t in tables if t.get("ignore") is not True]
    if not cameras:
        raise CalibrationFileError(f"{path}: every camera is marked ignore = true")
    ports = [c.extra["port"] for c in cameras]
    if len(set(ports)) != len(ports):
        raise CalibrationFileError(f"{path}: port listed twice among {sorted(ports)}; keep one "
                                   "table per camera")
    cameras.sort(key=lambda c: c.extra["port"])
    rig = CameraRig(tuple(cameras), {"metadata": {"source": "caliscope", "file": path.name}})
    return check_lens_folds(rig, path)


def caliscope_camera_tables(table: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The camera tables of a parsed caliscope TOML, as (table name, table) pairs."""
    found = []
    cameras = table.get("cameras")
    if isinstance(cameras, dict):
        found += [(f"cameras.{k}", v) for k, v in cameras.items() if isinstance(v, dict)]
    found += [(k, v) for k, v in table.items() if k.startswith("cam_") and isinstance(v, dict)
              and any(key in v for key in _PORT_KEYS)]
    return found


def _camera(t: dict[str, Any], key: str, path: Path) -> Camera:
    where = f"{path}: [{key}]"
    port = _port(t, key, where)
    for required in ("size", "matrix", "distortions"):
        if _missing(t, required):
            raise CalibrationFileError(f"{where} has no '{required}': camera {port} has no "
                                       "intrinsic calibration yet; calibrate it in caliscope "
                                       "or mark it ignore = true")
    for required in ("rotation", "translation"):
        if _missing(t, required):
            raise CalibrationFileError(f"{where} has no '{required}': camera {port} has no "
                                       "extrinsic calibration yet; run caliscope's extrinsic "
                                       "calibration or mark it ignore = true")
    size = image_size(t, where)
    K = intrinsic_matrix(t, where)
    dist = numbers(t, "distortions", None, where)
    if dist.ndim != 1 or dist.size not in (4, 5):
        raise CalibrationFileError(f"{where} 'distortions' must hold 4 or 5 numbers (k1, k2, "
                                   f"p1, p2[, k3]), got {t['distortions']}")
    rotation = numbers(t, "rotation", None, where)
    if rotation.shape == (3,):
        R = rodrigues_to_matrix(rotation)
    elif rotation.shape == (3, 3) and np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-6) \
            and np.linalg.det(rotation) > 0:
        R = rotation
    else:
        raise CalibrationFileError(f"{where} 'rotation' must be a 3x3 rotation matrix or a "
                                   f"Rodrigues vector of 3 numbers, got {t['rotation']}")
    translation = numbers(t, "translation", (3,), where)
    extra: dict[str, Any] = {"port": port}
    turns = t.get("rotation_count", 0)
    if isinstance(turns, bool) or not isinstance(turns, int):
        raise CalibrationFileError(f"{where} 'rotation_count' must be a whole number of quarter "
                                   f"turns, got {turns!r}")
    if turns:
        extra["rotation_count"] = turns
    return Camera(f"cam_{port}", size, K, dist, R, translation, extra=extra)


def _missing(t: dict[str, Any], key: str) -> bool:
    """caliscope writes not-yet-computed values as absent keys or the string "null"."""
    return t.get(key) is None or t.get(key) == "null"


def _port(t: dict[str, Any], key: str, where: str) -> int:
    for name in _PORT_KEYS:
        if name in t:
            value = t[name]
            break
    else:
        value = key.split(".")[-1].removeprefix("cam_")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise CalibrationFileError(f"{where}: camera port {value!r} is not an integer")
