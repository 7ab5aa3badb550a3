"""Confidence-weighted DLT triangulation of every joint of every person in every frame at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from calibration.camera import CameraRig
from calibration.triangulation import triangulate_points
from mocap.errors import TriangulationError
from mocap.keypoints import Keypoints2D
from rigs.motion import MISSING, TRIANGULATED, Motion3D

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class TriangulationConfig:
    min_views: int = 2                  # joints seen by fewer usable cameras stay missing
    min_score: float = 0.3              # detector score below which a view is ignored

    def __post_init__(self) -> None:
        if self.min_views < 2:
            raise TriangulationError(f"min_views must be 2 or more (a point needs two views), "
                                     f"got {self.min_views}")
        if not 0 <= self.min_score <= 1:
            raise TriangulationError(f"min_score must be in [0, 1] (detector scores are), got "
                                     f"{self.min_score}")


def triangulate(rig: CameraRig, kp: Keypoints2D,
                config: TriangulationConfig = TriangulationConfig()) -> Motion3D:
    """Score-weighted DLT in undistorted coordinates, batched over frames, people and joints.

    Args:
        rig: calibrated cameras; those named in ``kp.cameras`` are used, in that order.
        kp: xy (C, F, P, J, 2) pixels, score (C, F, P, J); NaN xy = not seen.
        config: minimum views and detector score.
    Returns:
        Motion3D with xyz (F, P, J, 3) metres, reprojection_error (F, P, J) pixels (mean over
        the views used), n_views (F, P, J). Joints seen by fewer than ``min_views`` are
        missing (NaN, source MISSING), and so are joints whose point one of the cameras that
        saw them cannot see (behind it, or beyond its lens's fold): such a point is wrong.
    Raises:
        TriangulationError: if ``kp`` names a camera the rig does not have.
    """
    missing = [c for c in kp.cameras if c not in rig.names]
    if missing:
        raise TriangulationError(f"keypoints for camera(s) {', '.join(missing)} but the "
                                 f"calibration has only {', '.join(rig.names)}")
    rig = rig.subset(kp.cameras)
    weights = np.where(kp.score >= config.min_score, kp.score, 0.0)        # (C, F, P, J)
    xyz = triangulate_points(rig.extrinsics, rig.undistort(kp.xy), weights)
    n_views = (weights > 0).sum(axis=0)                                     # (F, P, J)
    xyz[n_views < config.min_views] = np.nan
    error = reprojection_error(rig, xyz, kp.xy, weights)
    unexplained = np.isinf(error)                                           # (F, P, J)
    xyz[unexplained], error[unexplained] = np.nan, np.nan
    source = np.where(np.isfinite(xyz).all(-1), TRIANGULATED, MISSING)
    return Motion3D(xyz=xyz, skeleton=kp.skeleton, fps=kp.fps, reprojection_error=error,
                    n_views=np.where(source == TRIANGULATED, n_views, 0), source=source)


def reprojection_error(rig: CameraRig, xyz: FloatArray, xy: FloatArray,
                       weights: FloatArray) -> FloatArray:
    """Mean pixel distance between observations and reprojections over the views used.

    Args:
        rig: C cameras in the order of ``xy``.
        xyz: (...) + (3,) world points.
        xy: (C, ..., 2) observed distorted pixels.
        weights: (C, ...) views with weight > 0 count.
    Returns:
        (...) mean error in pixels; NaN where the point is missing or no view counts; ``inf``
        ("known to be bad") where a view that counts cannot see the point (behind the camera,
        or beyond its lens's fold) - leaving that view out would make a wrong point look
        better than a right one.
    """
    seen = (weights > 0) & np.isfinite(xy).all(-1)                           # (C, ...)
    dist = np.linalg.norm(rig.project(xyz) - xy, axis=-1)                  # (C, ...)
    dist = np.where(seen, np.where(np.isnan(dist), np.inf, dist), 0.0)
    n_seen = seen.sum(axis=0)
    point = np.isfinite(xyz).all(-1) & (n_seen > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(point, dist.sum(axis=0) / n_seen, np.nan)
