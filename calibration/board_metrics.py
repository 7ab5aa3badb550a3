"""How well a calibrated rig explains board corners seen by several cameras at once: the
reprojection error of the triangulated corners and the triangulated board's geometry. Any rig
(ours, a peer's, a reference) is measured the same way on the same corners."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from calibration.camera import CameraRig
from calibration.triangulation import triangulate_points

FloatArray = NDArray[np.float64]


def triangulated_corners(rig: CameraRig, xy: FloatArray) -> FloatArray:
    """(S, K, 3) corners triangulated (linear, undistorted) from every camera that saw them,
    NaN where fewer than 2 did; ``xy`` (C, S, K, 2) pixels, NaN where unseen."""
    seen = np.isfinite(xy).all(-1).astype(float)                       # (C, S, K)
    return triangulate_points(rig.extrinsics, rig.undistort(xy), seen)


def reprojection_rms_px(rig: CameraRig, xy: FloatArray) -> float:
    """RMS pixel distance between every observation of a corner seen by >= 2 cameras and the
    projection of its triangulated position; ``xy`` (C, S, K, 2). ``inf`` ("known to be bad")
    when a camera that saw a corner cannot see its triangulated position (behind it, or beyond
    its lens's fold): leaving that view out would flatter the rig."""
    X = triangulated_corners(rig, xy)                                  # (S, K, 3)
    err = np.linalg.norm(rig.project(X) - xy, axis=-1)                # (C, S, K)
    counted = np.isfinite(X).all(-1) & np.isfinite(xy).all(-1)        # (C, S, K)
    err = np.where(counted & np.isnan(err), np.inf, err)
    return float(np.sqrt(np.nanmean(err ** 2)))


def board_geometry_rms_mm(rig: CameraRig, xy: FloatArray, object_points: FloatArray) -> float:
    """RMS in mm over every instant of the distances between all pairs of triangulated corners
    minus their printed distances; ``xy`` (C, S, K, 2), ``object_points`` (K, 3) metres."""
    X = triangulated_corners(rig, xy)                                  # (S, K, 3)
    i, j = np.triu_indices(object_points.shape[0], k=1)
    printed = np.linalg.norm(object_points[i] - object_points[j], axis=-1)      # (P,)
    d = np.linalg.norm(X[:, i] - X[:, j], axis=-1) - printed          # (S, P)
    return float(1000 * np.sqrt(np.nanmean(d ** 2)))
