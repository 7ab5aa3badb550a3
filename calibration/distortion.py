"""Lens distortion models and where they fold back: OpenCV's pinhole model (k1, k2, p1, p2, k3)
and its equidistant fisheye model (k1..k4), on ideal image coordinates at z = 1.

A distortion polynomial is one-to-one only up to its *fold*: the pinhole radius where the
distorted radius r (1 + k1 r^2 + k2 r^4 + k3 r^6) stops growing, or the fisheye angle where
theta (1 + k1 theta^2 + ... + k4 theta^8) stops growing (and at most 90 degrees, where the
fisheye's tan turns negative). Beyond it a point would be seen at the place of another one, so:

- ``distort`` gives NaN for points at or beyond the fold (the camera would show them at a wrong
  place), and ``undistort`` NaN for distorted points beyond the fold's image (no direction
  reaches them) and wherever Newton's method does not converge - never a point of the other
  branch or a mirrored one.
- The pinhole's tangential terms (p1, p2) are bounded, not ignored: their Jacobian has norm at
  most 6 |p| r, so inside the fold radius ``pinhole_fold_radius`` (where both singular values of
  the radial map exceed that bound) the full model's Jacobian determinant stays positive.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

_NEWTON_STEPS = 50
_STEP_TOL = 1e-12           # steps below 1e-12 sqrt(1 + r^2) have converged: 1e-9 px at f 1000 px
_REAL_ROOT_TOL = 1e-6       # a root this close to the real axis is a (near-)touching fold


def fold_parameter(dist: FloatArray, fisheye: bool) -> float:
    """The fold: the pinhole radius at z = 1 (``inf`` if none), or the fisheye angle in radians
    (at most pi / 2); NaN (every projection NaN) for non-finite coefficients. ``dist`` (5,)
    pinhole or (4,) fisheye coefficients."""
    if not np.isfinite(dist).all():
        return np.nan
    return fisheye_fold_angle(dist) if fisheye else pinhole_fold_radius(dist)


def pinhole_fold_radius(d: FloatArray) -> float:
    """Smallest radius at z = 1 where the pinhole model stops being one-to-one (``inf`` if never).

    The radial map's singular values are radial(r) (across) and d(r radial(r))/dr (along the
    radius); the tangential map's Jacobian has norm at most 6 |p| r. The fold is the first r
    where either singular value falls to that bound: exactly the radial fold when p = 0.
    """
    k1, k2, p1, p2, k3 = d
    tangential = 6.0 * float(np.hypot(p1, p2))
    slope = [7 * k3, 0.0, 5 * k2, 0.0, 3 * k1, -tangential, 1.0]     # in r, highest power first
    scale = [k3, 0.0, k2, 0.0, k1, -tangential, 1.0]
    return min(_smallest_positive_root(slope), _smallest_positive_root(scale))


def fisheye_fold_angle(d: FloatArray) -> float:
    """Smallest angle (radians) where theta_d(theta) stops growing, at most pi / 2."""
    k1, k2, k3, k4 = d
    slope = [9 * k4, 0.0, 7 * k3, 0.0, 5 * k2, 0.0, 3 * k1, 0.0, 1.0]
    return min(np.pi / 2, _smallest_positive_root(slope))


def fold_reach(dist: FloatArray, fisheye: bool, fold: float) -> float:
    """The distorted radius at z = 1 of the fold (radial terms): farther pixels are unreachable."""
    if fisheye:
        t2 = fold * fold
        return float(fold * (1 + t2 * (dist[0] + t2 * (dist[1] + t2 * (dist[2] + t2 * dist[3])))))
    if not np.isfinite(fold):
        return np.inf
    r2 = fold * fold
    return float(fold * (1 + r2 * (dist[0] + r2 * (dist[1] + r2 * dist[4]))))


def _smallest_positive_root(coefficients: list[float]) -> float:
    roots = np.roots(coefficients)                  # leading zeros are dropped; none: empty
    real = (np.abs(roots.imag) <= _REAL_ROOT_TOL * np.abs(roots)) & (roots.real > 0)
    return float(roots.real[real].min()) if real.any() else np.inf


# --- pinhole ---------------------------------------------------------------------------------
def distort_pinhole(xy: FloatArray, d: FloatArray, fold: float) -> FloatArray:
    """(..., 2) ideal to (..., 2) distorted coordinates at z = 1; NaN at or beyond ``fold``."""
    k1, k2, p1, p2, k3 = d
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    radial = np.where(r2 < fold * fold, radial, np.nan)
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([xd, yd], axis=-1)


def undistort_pinhole(distorted: FloatArray, d: FloatArray, fold: float) -> FloatArray:
    """Newton's method with the analytic 2x2 Jacobian, kept inside the fold radius.

    Args:
        distorted: (..., 2) distorted coordinates at z = 1; NaN stays NaN.
        d: (5,) k1, k2, p1, p2, k3.
        fold: :func:`pinhole_fold_radius` of ``d``.
    Returns:
        (..., 2) ideal coordinates at z = 1, inside ``fold``; NaN where no point inside it
        distorts to the input (beyond the fold's image) or Newton did not converge.
    """
    if not d.any():
        return distorted.copy()
    flat = distorted.reshape(-1, 2)
    out = np.full_like(flat, np.nan)
    todo = np.flatnonzero(np.isfinite(flat[:, 0] + flat[:, 1]))             # (n,) still moving
    tx, ty = flat[todo, 0], flat[todo, 1]                                   # (n,) targets
    x, y = _pull_inside(tx.copy(), ty.copy(), np.zeros_like(tx), np.zeros_like(ty), fold)
    for _ in range(_NEWTON_STEPS):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):   # unreachable: NaN
            sx, sy, r2 = _pinhole_newton_step(x, y, tx, ty, d)
            done = sx * sx + sy * sy <= _STEP_TOL**2 * (1 + r2)             # NaN: not done
            x, y = _pull_inside(x - sx, y - sy, x, y, fold)
        if done.any():
            out[todo[done], 0], out[todo[done], 1] = x[done], y[done]
            left = ~done
            todo, x, y, tx, ty = todo[left], x[left], y[left], tx[left], ty[left]
            if not todo.size:
                break
    return out.reshape(distorted.shape)


def _pinhole_newton_step(x: FloatArray, y: FloatArray, tx: FloatArray, ty: FloatArray,
                         d: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Newton step J^-1 (distort(x, y) - (tx, ty)) of the pinhole model (no fold cut), and
    x^2 + y^2; all (n,)."""
    k1, k2, p1, p2, k3 = d
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    dradial = k1 + r2 * (2 * k2 + 3 * k3 * r2)                              # d radial / d r2
    rx = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x) - tx
    ry = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y - ty
    a = radial + 2 * x * x * dradial + 2 * p1 * y + 6 * p2 * x              # dxd/dx
    b = 2 * x * y * dradial + 2 * p1 * x + 2 * p2 * y                       # dxd/dy = dyd/dx
    c = radial + 2 * y * y * dradial + 6 * p1 * y + 2 * p2 * x              # dyd/dy
    det = a * c - b * b
    return (c * rx - b * ry) / det, (a * ry - b * rx) / det, r2


def _pull_inside(x: FloatArray, y: FloatArray, x_from: FloatArray, y_from: FloatArray,
                 fold: float) -> tuple[FloatArray, FloatArray]:
    """(n,) points; those at or beyond radius ``fold`` go halfway from the radius of
    (``x_from``, ``y_from``) to it, in place."""
    if not np.isfinite(fold):
        return x, y
    outside = np.flatnonzero(x * x + y * y >= fold * fold)
    if outside.size:
        r_from = np.hypot(x_from[outside], y_from[outside])
        scale = 0.5 * (r_from + fold) / np.hypot(x[outside], y[outside])
        x[outside] *= scale
        y[outside] *= scale
    return x, y


# --- fisheye ---------------------------------------------------------------------------------
def distort_fisheye(xy: FloatArray, d: FloatArray, fold: float) -> FloatArray:
    """(..., 2) ideal to (..., 2) distorted coordinates at z = 1; NaN at angles >= ``fold``."""
    r = np.hypot(xy[..., 0], xy[..., 1])
    theta = np.arctan(r)
    t2 = theta * theta
    theta_d = theta * (1 + t2 * (d[0] + t2 * (d[1] + t2 * (d[2] + t2 * d[3]))))
    scale = np.where(r > 1e-12, theta_d / np.where(r > 1e-12, r, 1.0), 1.0)
    return xy * np.where(theta < fold, scale, np.nan)[..., None]


def undistort_fisheye(distorted: FloatArray, d: FloatArray, fold: float) -> FloatArray:
    """Newton's method on theta_d = theta (1 + k1 theta^2 + ... + k4 theta^8), theta kept in
    [0, ``fold``) (``fold`` = :func:`fisheye_fold_angle`, at most 90 degrees).

    Returns:
        (..., 2) ideal coordinates at z = 1; NaN beyond the fold's image (or 90 degrees) and
        where Newton did not converge.
    """
    flat = distorted.reshape(-1, 2)
    theta_d = np.hypot(flat[:, 0], flat[:, 1])                              # (N,)
    theta = np.full_like(theta_d, np.nan)
    todo = np.flatnonzero(np.isfinite(theta_d))
    target = theta_d[todo]
    t = np.where(target < fold, target, 0.5 * fold)
    for _ in range(_NEWTON_STEPS):
        t2 = t * t
        f = t * (1 + t2 * (d[0] + t2 * (d[1] + t2 * (d[2] + t2 * d[3])))) - target
        df = 1 + t2 * (3 * d[0] + t2 * (5 * d[1] + t2 * (7 * d[2] + t2 * 9 * d[3])))
        step = f / df
        done = np.abs(step) <= _STEP_TOL * (1 + t)                          # NaN: not done
        moved = t - step
        out = np.flatnonzero((moved >= fold) | (moved < 0))                 # keep in [0, fold)
        moved[out] = 0.5 * (t[out] + np.where(moved[out] < 0, 0.0, fold))
        t = moved
        if done.any():
            theta[todo[done]] = t[done]
            todo, target, t = todo[~done], target[~done], t[~done]
            if not todo.size:
                break
    small = theta_d > 1e-12
    near_axis = np.where(np.isnan(theta), np.nan, 1.0)
    scale = np.where(small, np.tan(theta) / np.where(small, theta_d, 1.0), near_axis)
    return (flat * scale[:, None]).reshape(distorted.shape)
