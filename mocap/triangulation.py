"""Confidence-weighted DLT triangulation of every joint of every person in every frame at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from calibration.camera import CameraRig
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


def triangulate_points(extrinsics: FloatArray, xy: FloatArray, weights: FloatArray) -> FloatArray:
    """Weighted linear triangulation (DLT rows, inhomogeneous least squares) at z = 1.

    Args:
        extrinsics: (C, 3, 4) world-to-camera ``[R | t]``.
        xy: (C, ..., 2) ideal image coordinates at z = 1; NaN where not seen.
        weights: (C, ...) non-negative weight per view; 0 ignores the view.
    Returns:
        (..., 3) world points in the unit of the extrinsics' translations; NaN where fewer than
        two views have weight or the rays cannot fix a point (parallel rays, a point on the
        baseline of its only two cameras).
    """
    n_cams = extrinsics.shape[0]
    batch = xy.shape[1:-1]
    w = np.where(np.isfinite(xy).all(-1), weights, 0.0).reshape(n_cams, -1)        # (C, N)
    uv = np.nan_to_num(xy).reshape(n_cams, -1, 2)                                    # (C, N, 2)
    P = extrinsics[:, None]                                                          # (C, 1, 3, 4)
    rows = uv[..., None] * P[..., 2:3, :] - P[..., :2, :]                            # (C, N, 2, 4)
    # Each row is a plane through the camera centre holding the ray: scaled to a unit normal,
    # its residual is the point's distance to the plane in world units, whatever they are.
    rows /= np.linalg.norm(rows[..., :3], axis=-1, keepdims=True)
    # Least squares of the weighted rows with the homogeneous coordinate fixed to 1:
    # minimise |A [x 1]|^2  ->  (A^T A)[:3, :3] x = -(A^T A)[:3, 3]
    M = np.einsum("cnri,cnrj->nij", rows * (w * w)[..., None, None], rows)         # (N, 4, 4)
    normals = M[:, :3, :3]                               # (N, 3, 3) sum of w^2 n n^T: no units
    enough = (w > 0).sum(axis=0) >= 2                                                # (N,)
    # where all rays are parallel (a point on the baseline of its cameras, or at infinity),
    # every normal is perpendicular to them and det / trace^3 (scale free) drops to rounding
    enough &= np.abs(np.linalg.det(normals)) > 1e-12 * np.trace(normals, axis1=1, axis2=2) ** 3
    lhs = np.where(enough[:, None, None], normals, np.eye(3))
    xyz = np.linalg.solve(lhs, -M[:, :3, 3:])[..., 0]                               # (N, 3)
    xyz[~enough] = np.nan
    return xyz.reshape(*batch, 3)


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
