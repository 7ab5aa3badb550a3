"""Read and write the calibration TOML (the layout anipose and Pose2Sim read and write).

One table per camera with ``name``, ``size``, ``matrix``, ``distortions``, ``rotation``
(Rodrigues, world to camera), ``translation`` (metres) and ``fisheye``; a ``[metadata]`` table
and any extra per-camera keys (``rms``...) are kept as they are, so a file round-trips exactly.
An intrinsics file (``calibration/intrinsics.toml``, :func:`read_intrinsics`) may leave out
``rotation`` and ``translation``. Every reader here and in ``calibration.importers`` refuses a
camera whose lens folds back inside its image (:func:`check_lens_folds`).
"""

from __future__ import annotations

import math
import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w
from numpy.typing import NDArray

from calibration.camera import Camera, CameraRig
from calibration.errors import CalibrationError, CalibrationFileError

_CAMERA_KEYS = ("name", "size", "matrix", "distortions", "rotation", "translation", "fisheye")
_NON_CAMERA_TABLES = ("metadata",)
MAX_IMAGE_SIDE_PX = 100_000    # larger "images" are a unit or typing error
MAX_ROTATION_RAD = 1000.0      # longer Rodrigues vectors are not angles (their sine is noise)


def read_calibration(path: str | Path) -> CameraRig:
    """Load a calibration TOML into a :class:`CameraRig` (cameras in file order).

    Raises:
        CalibrationFileError: naming the file, the camera table and the key that is wrong.
    """
    path = Path(path)
    table = load_toml(path)
    cameras = []
    for key, value in table.items():
        if key in _NON_CAMERA_TABLES or not isinstance(value, dict):
            continue
        cameras.append(_camera_from_table(value, key, path))
    if not cameras:
        raise CalibrationFileError(f"{path}: no camera table found; expected tables like "
                                   "[cam_1] with name, size, matrix, distortions, rotation, "
                                   "translation")
    extra = {k: v for k, v in table.items() if k in _NON_CAMERA_TABLES or not isinstance(v, dict)}
    return check_lens_folds(CameraRig(tuple(cameras), extra), path)


def read_intrinsics(path: str | Path) -> CameraRig:
    """Load an intrinsics TOML (``calibration/intrinsics.toml``): the calibration layout where
    each camera table needs only ``name``, ``size``, ``matrix``, ``distortions`` (and optional
    ``fisheye``); ``rotation`` and ``translation`` are read when given, else the identity.

    Raises:
        CalibrationFileError: naming the file, the camera table and the key that is wrong.
    """
    path = Path(path)
    table = load_toml(path)
    cameras = [_camera_from_table(value, key, path, pose=False) for key, value in table.items()
               if key not in _NON_CAMERA_TABLES and isinstance(value, dict)]
    if not cameras:
        raise CalibrationFileError(f"{path}: no camera table found; expected tables like "
                                   "[cam_1] with name, size, matrix, distortions")
    return check_lens_folds(CameraRig(tuple(cameras)), path)


def check_lens_folds(rig: CameraRig, path: Path) -> CameraRig:
    """``rig`` as it is when no camera's lens folds back inside its image (see
    :meth:`Camera.fold_in_image`).

    Raises:
        CalibrationFileError: naming the file, the camera, where its lens folds and how much
            of the image lies beyond.
    """
    for cam in rig:
        problem = cam.fold_in_image()
        if problem is not None:
            raise CalibrationFileError(f"{path}: camera {cam.name}: {problem}")
    return rig


def calibration_to_toml(rig: CameraRig) -> str:
    """The TOML text of ``rig``; ``read_calibration`` of it gives the same numbers back."""
    table: dict[str, Any] = {}
    for cam in rig:
        entry: dict[str, Any] = {
            "name": cam.name,
            "size": [float(cam.size[0]), float(cam.size[1])],
            "matrix": cam.K.tolist(),
            "distortions": cam.dist.tolist(),
            "rotation": cam.rvec.tolist(),
            "translation": cam.t.tolist(),
            "fisheye": cam.fisheye,
        }
        entry.update(cam.extra)
        table[cam.name] = entry
    table.update(rig.extra)
    table.setdefault("metadata", {"adjusted": False, "error": 0.0})
    return tomli_w.dumps(table)


def write_calibration(rig: CameraRig, path: str | Path) -> Path:
    """Write ``rig`` to ``path`` atomically (a temporary file renamed into place)."""
    path = Path(path)
    write_text_atomically(path, calibration_to_toml(rig))
    return path


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)                 # mkstemp makes 0600; outputs are shared files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_toml(path: Path, error: type[CalibrationError] = CalibrationFileError,
              missing: str = "calibration file not found") -> dict[str, Any]:
    """Parse a TOML file; ``error`` names the file when it is missing, unreadable or invalid."""
    if not path.is_file():
        raise error(f"{path}: {missing}")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"{path}: cannot be read ({e})") from e
    except tomllib.TOMLDecodeError as e:
        raise error(f"{path}: not valid TOML ({e})") from e


def _camera_from_table(t: dict[str, Any], key: str, path: Path, pose: bool = True) -> Camera:
    """The camera of table ``t``; ``pose`` False: ``rotation`` and ``translation`` may be
    absent (identity)."""
    where = f"{path}: [{key}]"
    needed = _CAMERA_KEYS[1:6] if pose else _CAMERA_KEYS[1:4]
    for required in needed:
        if required not in t:
            raise CalibrationFileError(f"{where} has no '{required}' key; every camera table "
                                       f"needs {', '.join(needed)}")
    name = t.get("name", key)
    if not isinstance(name, str):
        raise CalibrationFileError(f"{where} 'name' must be a string, got {name!r}")
    fisheye = t.get("fisheye", False)
    if not isinstance(fisheye, bool):
        raise CalibrationFileError(f"{where} 'fisheye' must be true or false, got {fisheye!r}")
    size = image_size(t, where)
    K = intrinsic_matrix(t, where)
    n_dist = (4,) if fisheye else None
    dist = numbers(t, "distortions", n_dist, where)
    if dist.ndim != 1 or dist.size not in ((4,) if fisheye else (4, 5)):
        expected = "4 (fisheye k1..k4)" if fisheye else "4 or 5 (k1, k2, p1, p2[, k3])"
        raise CalibrationFileError(f"{where} 'distortions' must hold {expected} numbers, "
                                   f"got {t['distortions']}")
    rvec = numbers(t, "rotation", (3,), where) if "rotation" in t else np.zeros(3)
    if not np.linalg.norm(rvec) <= MAX_ROTATION_RAD:
        raise CalibrationFileError(f"{where} 'rotation' must be a Rodrigues vector (axis times "
                                   f"angle in radians, at most {MAX_ROTATION_RAD:g} long), got "
                                   f"{t['rotation']!r}")
    tvec = numbers(t, "translation", (3,), where) if "translation" in t else np.zeros(3)
    extra = {k: v for k, v in t.items() if k not in _CAMERA_KEYS}
    return Camera.from_rvec(name, size, K, dist, rvec, tvec, fisheye=fisheye, extra=extra)


def numbers(t: dict[str, Any], key: str, shape: tuple[int, ...] | None,
            where: str) -> NDArray[np.float64]:
    """``t[key]`` as a float array of ``shape`` (any shape when None): finite numbers only, and
    a TOML boolean is not a number (``true`` would read as 1).

    Raises:
        CalibrationFileError: naming ``where``, the key and what was found.
    """
    value = t[key]
    arr = _finite_array(value)
    if arr is None or (shape is not None and arr.shape != shape):
        want = "x".join(map(str, shape)) + " finite numbers" if shape else "finite numbers"
        raise CalibrationFileError(f"{where} '{key}' must be {want}, got {value!r}")
    return arr


def image_size(t: dict[str, Any], where: str) -> tuple[int, int]:
    """``t["size"]``: (width, height), whole positive numbers of pixels."""
    size = numbers(t, "size", (2,), where)
    if not ((size > 0) & (size <= MAX_IMAGE_SIDE_PX) & (size == np.round(size))).all():
        raise CalibrationFileError(f"{where} 'size' must be [width, height] in whole pixels, "
                                   f"1 to {MAX_IMAGE_SIDE_PX}, got {t['size']}")
    return int(size[0]), int(size[1])


def intrinsic_matrix(t: dict[str, Any], where: str) -> NDArray[np.float64]:
    """``t["matrix"]``: (3, 3) [[fx, skew, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0."""
    K = numbers(t, "matrix", (3, 3), where)
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise CalibrationFileError(f"{where} 'matrix' must have positive focal lengths, "
                                   f"got fx={K[0, 0]}, fy={K[1, 1]}")
    if K[1, 0] != 0 or (K[2] != [0.0, 0.0, 1.0]).any():
        raise CalibrationFileError(f"{where} 'matrix' must be [[fx, skew, cx], [0, fy, cy], "
                                   f"[0, 0, 1]], got {t['matrix']!r}")
    return K


def _finite_array(value: Any) -> NDArray[np.float64] | None:
    """``value`` (a number or nested lists of them) as a float array, or None when any leaf is
    not a finite int or float (booleans and strings included) or the lists are ragged."""
    leaves, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        else:
            leaves.append(item)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
               for v in leaves):
        return None
    try:
        return np.array(value, dtype=float)
    except ValueError:                            # ragged nesting
        return None
