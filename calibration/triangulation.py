"""Linear triangulation of points seen by several calibrated cameras, in any unit."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


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
