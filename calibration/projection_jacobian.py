"""Pinhole and fisheye projection pieces with their derivatives, batched over observations.

Used by the bundle adjustment (rotations and their Jacobian are ``calibration.rotations``): the
OpenCV (k1, k2, p1, p2, k3) and fisheye (k1..k4) distortions with their
derivatives with respect to the ideal image point and to the coefficients, and from those the
derivatives of a pixel with respect to its 3D point, the camera and board poses and the
intrinsics.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def distort_with_jacobian(xy: FloatArray, d: FloatArray, fisheye: NDArray[np.bool_],
                          with_jacobian: bool = True
                          ) -> tuple[FloatArray, FloatArray | None, FloatArray | None]:
    """Distorted (M, 2) and, if asked, d distorted / d xy (M, 2, 2) and d distorted / d
    coefficients (M, 2, 5), for M points with their own (M, 5) coefficients; ``fisheye`` (M,)
    selects OpenCV's fisheye model (first 4 coefficients) per point."""
    xd, D, Dk = _pinhole_distortion(xy, d, with_jacobian)
    if fisheye.any():
        xf, Df, Dkf = _fisheye_distortion(xy[fisheye], d[fisheye, :4])
        xd[fisheye] = xf
        if D is not None and Dk is not None:
            D[fisheye], Dk[fisheye] = Df, Dkf
    return xd, D, Dk


def cross_rows(a: FloatArray, w: FloatArray) -> FloatArray:
    """(M, R, 3) rows cross (M, 3) vectors -> (M, R, 3): each row a_i x w (a^T [w]_x)."""
    out = np.empty_like(a)
    w0, w1, w2 = w[:, None, 0], w[:, None, 1], w[:, None, 2]
    out[..., 0] = a[..., 1] * w2 - a[..., 2] * w1
    out[..., 1] = a[..., 2] * w0 - a[..., 0] * w2
    out[..., 2] = a[..., 0] * w1 - a[..., 1] * w0
    return out


def point_jacobian(D: FloatArray, xy: FloatArray, f: FloatArray, z: FloatArray,
                   skew: float = 0.0) -> FloatArray:
    """Derivatives (m, 2, 3) of m pixels with respect to their points in camera coordinates,
    [[fx, skew], [0, fy]] D P with P = [[1/z, 0, -x/z], [0, 1/z, -y/z]], from d distorted / d xy
    ``D`` (m, 2, 2), the ideal normalized points ``xy`` (m, 2), focal lengths ``f`` (m, 2),
    depths ``z`` (m,) and the camera's skew K[0, 1] (pixels)."""
    f_z = f / z[:, None]                                                        # (m, 2)
    out = np.empty((xy.shape[0], 2, 3))
    out[:, :, :2] = D * f_z[:, :, None]
    out[:, :, 2] = -np.einsum("mij,mj->mi", D, xy) * f_z
    if skew:                                              # row v is fy (D P)_y: add skew (D P)_y
        out[:, 0] += (skew / f[:, 1])[:, None] * out[:, 1]
    return out


def pose_pair_jacobian(A: FloatArray, W: FloatArray, Rc: FloatArray, Jl_c: FloatArray,
                       Xb: FloatArray, Jl_b: FloatArray) -> tuple[FloatArray, ...]:
    """Derivatives of m pixels seen by one camera with respect to its pose and to the board's.

    Args:
        A: (m, 2, 3) derivatives of the pixels with respect to the point in camera coordinates.
        W: (m, 3) the points rotated into the camera (Rc Y, before its translation).
        Rc: (3, 3) the camera's rotation; Jl_c: (3, 3) its left Jacobian.
        Xb: (m, 3) the board corners rotated into the world (Rb X, before the board's
            translation).
        Jl_b: (m, 3, 3) the left Jacobian of each observation's board rotation.
    Returns:
        (m, 2, 3) each: with respect to the camera's rotation vector, its translation, the
        board's rotation vector, its translation.
    """
    m = A.shape[0]
    ARc = (A.reshape(-1, 3) @ Rc).reshape(m, 2, 3)
    # a^T [w]_x = (a x w)^T: the rotation derivatives without skew matrices
    d_rc = (cross_rows(A, W).reshape(-1, 3) @ -Jl_c).reshape(m, 2, 3)
    d_rb = -(cross_rows(ARc, Xb) @ Jl_b)
    return d_rc, A, d_rb, ARc


def intrinsics_jacobian(xd: FloatArray, f: FloatArray, Dk: FloatArray,
                        skew: float = 0.0) -> FloatArray:
    """Derivatives (m, 2, 9) of m pixels with respect to fx, fy, cx, cy and the 5 distortion
    coefficients, from the distorted normalized points ``xd`` (m, 2), the focal lengths ``f``
    (m, 2), d distorted / d coefficients ``Dk`` (m, 2, 5) and the camera's (held) skew K[0, 1]
    (u = fx xd + skew yd + cx)."""
    out = np.zeros((xd.shape[0], 2, 9))
    out[:, 0, 0], out[:, 1, 1] = xd[:, 0], xd[:, 1]
    out[:, 0, 2] = out[:, 1, 3] = 1.0
    out[:, :, 4:] = f[:, :, None] * Dk
    if skew:
        out[:, 0, 4:] += skew * Dk[:, 1]
    return out


def _pinhole_distortion(xy: FloatArray, d: FloatArray, with_jacobian: bool
                        ) -> tuple[FloatArray, FloatArray | None, FloatArray | None]:
    x, y = xy[:, 0], xy[:, 1]
    k1, k2, p1, p2, k3 = d.T
    xx, yy, xy2 = x * x, y * y, 2 * x * y
    r2 = xx + yy
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = np.empty_like(xy)
    xd[:, 0] = x * radial + p1 * xy2 + p2 * (r2 + 2 * xx)
    xd[:, 1] = y * radial + p1 * (r2 + 2 * yy) + p2 * xy2
    if not with_jacobian:
        return xd, None, None
    dradial = k1 + r2 * (2 * k2 + 3 * k3 * r2)
    D = np.empty((x.size, 2, 2))
    D[:, 0, 0] = radial + 2 * xx * dradial + 2 * p1 * y + 6 * p2 * x
    D[:, 0, 1] = D[:, 1, 0] = xy2 * dradial + 2 * p1 * x + 2 * p2 * y
    D[:, 1, 1] = radial + 2 * yy * dradial + 6 * p1 * y + 2 * p2 * x
    r4 = r2 * r2
    Dk = np.empty((x.size, 2, 5))
    Dk[:, 0, 0], Dk[:, 0, 1], Dk[:, 0, 4] = x * r2, x * r4, x * r4 * r2
    Dk[:, 1, 0], Dk[:, 1, 1], Dk[:, 1, 4] = y * r2, y * r4, y * r4 * r2
    Dk[:, 0, 2], Dk[:, 0, 3] = xy2, r2 + 2 * xx
    Dk[:, 1, 2], Dk[:, 1, 3] = r2 + 2 * yy, xy2
    return xd, D, Dk


def _fisheye_distortion(xy: FloatArray, d: FloatArray
                        ) -> tuple[FloatArray, FloatArray, FloatArray]:
    r = np.hypot(xy[:, 0], xy[:, 1])
    safe = np.where(r > 1e-12, r, 1.0)
    theta = np.arctan(r)
    powers = theta[:, None] ** (2 * np.arange(1, 5))                     # (M, 4) th^2..th^8
    poly = 1 + (powers * d).sum(1)
    dpoly = 1 + ((2 * np.arange(1, 5) + 1) * powers * d).sum(1)         # d(theta poly)/dtheta
    s = np.where(r > 1e-12, theta * poly / safe, 1.0)
    ds_dr = np.where(r > 1e-12, (dpoly / (1 + r * r) - s) / safe, 0.0)
    u = xy / safe[:, None]                                               # unit direction
    D = s[:, None, None] * np.eye(2) + ds_dr[:, None, None] * xy[:, :, None] * u[:, None, :]
    Dk = np.zeros((xy.shape[0], 2, 5))
    Dk[:, :, :4] = (xy / safe[:, None])[:, :, None] * (theta[:, None] * powers)[:, None, :]
    return xy * s[:, None], D, Dk
