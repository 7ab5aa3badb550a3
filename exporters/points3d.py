"""``points3d.npz``: Motion3D in the stable format of DESIGN.md (metres, Z-up world)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from exporters.atomic import atomic_output
from exporters.errors import ExportError
from rigs.errors import RigError
from rigs.motion import Motion3D
from rigs.skeleton import get_skeleton

FORMAT_VERSION = 1


def write_points3d(motion: Motion3D, path: str | Path) -> Path:
    """Write ``motion`` to ``path`` (.npz) atomically."""
    path = Path(path)
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(
            f, xyz=motion.xyz, reprojection_error=motion.reprojection_error,
            n_views=motion.n_views, source=motion.source, person_id=motion.person_id,
            keypoints=np.array(motion.skeleton.joints), skeleton=motion.skeleton.name,
            fps=motion.fps, units="m", up_axis="z", format_version=FORMAT_VERSION)
    return path


def read_points3d(path: str | Path) -> Motion3D:
    """Read a ``points3d.npz`` written by :func:`write_points3d` (or in the same layout).

    Raises:
        ExportError: naming the file and the missing or malformed array.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise ExportError(f"{path}: not a readable .npz file ({e})") from e
    for key in ("xyz", "skeleton", "fps"):
        if key not in arrays:
            raise ExportError(f"{path}: no '{key}' array; a points3d file needs xyz, skeleton, fps")
    try:
        skeleton = get_skeleton(str(arrays["skeleton"]))
        if "keypoints" in arrays and list(arrays["keypoints"]) != list(skeleton.joints):
            raise ExportError(f"{path}: 'keypoints' do not match the {skeleton.name} joint list")
        return Motion3D(xyz=arrays["xyz"], skeleton=skeleton, fps=float(arrays["fps"]),
                        reprojection_error=arrays.get("reprojection_error"),
                        n_views=arrays.get("n_views"), source=arrays.get("source"),
                        person_id=arrays.get("person_id"))
    except RigError as e:
        raise ExportError(f"{path}: {e}") from e
