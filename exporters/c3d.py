"""C3D marker files through ``ezc3d`` (the optional ``biomech`` extra), one person per file.

Layout written by :func:`write_c3d`:
- POINT: one point per skeleton joint, labelled with the joint name, Z up (C3D's usual lab
  frame, so our world as is), in POINT:UNITS ``mm`` (the C3D convention and default) or ``m``,
  stored as float32 (about 0.1 um at 2 m).
- Residual (each point's 4th word): our reprojection error in pixels (C3D defines it as a
  length; readers only test its sign), in steps of ``RESIDUAL_STEP_PX`` up to 255 steps
  (C3D keeps one byte times abs(POINT:SCALE)); 0 for a joint known without a reprojection
  error (lifted or filled: C3D's "interpolated"). NaN policy: a missing joint (any coordinate
  NaN) has residual -1, C3D's "invalid", and is read back NaN.
- ANALOG: channels ``n_views:<joint>`` and ``source:<joint>`` at the point rate, one sample a
  frame (``rigs.motion`` codes for source).
- Parameter group MOCAP: SKELETON (name) and PERSON_ID.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from exporters.atomic import atomic_output
from exporters.errors import ExportError
from rigs.motion import Motion3D

METRES_PER_UNIT = {"m": 1.0, "cm": 1e-2, "mm": 1e-3}
RESIDUAL_STEP_PX = 0.1                  # written as -POINT:SCALE; residuals up to 25.5 px
QUALITY_CHANNELS = ("n_views", "source")


def _ezc3d(path: Path) -> ModuleType:
    try:
        import ezc3d
    except ImportError as e:
        raise ExportError(f"{path}: C3D files need ezc3d; install it with "
                          f"pip install 'mocap[biomech]'") from e
    return ezc3d


def write_c3d(motion: Motion3D, path: str | Path, *, person: int = 0,
              units: str = "mm") -> Path:
    """Write one person of ``motion`` to a C3D file, atomically.

    Args:
        motion: xyz (F, P, J, 3) metres Z up; reprojection_error, n_views, source (F, P, J).
        path: output .c3d file.
        person: person slot (0..P-1) to write.
        units: POINT:UNITS, ``mm`` (C3D convention) or ``m``.
    """
    path = Path(path)
    ezc3d = _ezc3d(path)
    if units not in ("mm", "m"):
        raise ExportError(f"{path}: C3D units must be 'mm' or 'm', got {units!r}")
    if not 0 <= person < motion.n_people:
        raise ExportError(f"{path}: person {person} is not a slot of this motion "
                          f"(it has {motion.n_people}); pick 0..{motion.n_people - 1}")
    joints = list(motion.skeleton.joints)
    xyz = motion.xyz[:, person]                                              # (F, J, 3) m
    seen = np.isfinite(xyz).all(-1)                                          # (F, J)
    points = np.ones((4, len(joints), motion.n_frames))
    points[:3] = np.where(seen[..., None], xyz, np.nan).T / METRES_PER_UNIT[units]
    error = np.nan_to_num(motion.reprojection_error[:, person], nan=0.0)     # (F, J) px
    steps = np.clip(np.round(error / RESIDUAL_STEP_PX), 0, 255)
    # ezc3d truncates residual / step to the stored byte: half a step more makes it round
    residual = np.where(seen, (steps + 0.5) * RESIDUAL_STEP_PX, -1.0)
    quality = np.concatenate([motion.n_views[:, person], motion.source[:, person]], 1)

    c3d = ezc3d.c3d()
    point, analog = c3d["parameters"]["POINT"], c3d["parameters"]["ANALOG"]
    point["RATE"]["value"] = [motion.fps]
    point["LABELS"]["value"] = tuple(joints)
    point["UNITS"]["value"] = [units]
    point["SCALE"]["value"] = [-RESIDUAL_STEP_PX]
    analog["RATE"]["value"] = [motion.fps]
    analog["USED"]["value"] = [quality.shape[1]]
    analog["LABELS"]["value"] = tuple(f"{c}:{j}" for c in QUALITY_CHANNELS for j in joints)
    c3d["data"]["points"] = points
    c3d["data"]["meta_points"] = {
        "residuals": residual.T[None],                                       # (1, J, F)
        "camera_masks": np.zeros((7, len(joints), motion.n_frames), bool)}
    c3d["data"]["analogs"] = quality.T[None].astype(float)                  # (1, 2J, F)
    c3d.add_parameter("MOCAP", "SKELETON", [motion.skeleton.name])
    c3d.add_parameter("MOCAP", "PERSON_ID", [int(motion.person_id[person])])
    with atomic_output(path) as tmp:
        c3d.write(str(tmp))
    return path


def _open(path: Path) -> Any:
    ezc3d = _ezc3d(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such C3D file")
    try:
        return ezc3d.c3d(str(path))
    except (RuntimeError, OSError, ValueError) as e:
        raise ExportError(f"{path}: not a readable C3D file ({e})") from e


def read_c3d(path: str | Path) -> tuple[NDArray[np.float64], list[str], float]:
    """Read the points of any C3D file as stored (labs record Z up), in metres.

    Returns:
        xyz (F, M, 3) metres from POINT:UNITS (mm if unset), NaN where the residual is
        negative (invalid); the M point labels; the point rate in frames per second.
    """
    path = Path(path)
    c3d = _open(path)
    point = c3d["parameters"]["POINT"]
    given = point["UNITS"]["value"] if "UNITS" in point else []
    units = str(given[0]).strip() if len(given) else "mm"                    # C3D's default
    if units not in METRES_PER_UNIT:
        raise ExportError(f"{path}: unknown POINT:UNITS '{units}' (expected m, cm or mm)")
    xyz = c3d["data"]["points"][:3].T * METRES_PER_UNIT[units]               # (F, M, 3)
    residual = c3d["data"]["meta_points"]["residuals"][0].T                  # (F, M)
    xyz = np.where((residual < 0)[..., None], np.nan, xyz)
    labels = [str(n).strip() for n in point["LABELS"]["value"]]
    return xyz, labels, float(point["RATE"]["value"][0])


def read_c3d_quality(path: str | Path) -> dict[str, NDArray[np.float64]]:
    """Per-point quality of a C3D file: what :func:`write_c3d` stores besides positions.

    Returns:
        ``residual`` (F, M) as stored (pixels in our files), NaN where invalid; and, where the
        file has the analog channels of every point, ``n_views`` and ``source`` (F, M).
    """
    path = Path(path)
    c3d = _open(path)
    residual = c3d["data"]["meta_points"]["residuals"][0].T                  # (F, M)
    out = {"residual": np.where(residual < 0, np.nan, residual)}
    labels = [str(n).strip() for n in c3d["parameters"]["POINT"]["LABELS"]["value"]]
    analog = c3d["parameters"]["ANALOG"]
    channels = [str(n).strip() for n in analog["LABELS"]["value"]] if "LABELS" in analog else []
    samples = c3d["data"]["analogs"][0]                                      # (channels, S)
    for name in QUALITY_CHANNELS:
        wanted = [f"{name}:{label}" for label in labels]
        if labels and set(wanted) <= set(channels) and samples.shape[1] == len(residual):
            out[name] = samples[[channels.index(w) for w in wanted]].T
    return out
