"""Rotations, batched over any leading axes: Rodrigues vectors <-> matrices (OpenCV's
convention, angle in [0, pi]), cross-product matrices, the left Jacobian of the rotation vector,
and rotations about the coordinate axes."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def skew(v: FloatArray) -> FloatArray:
    """(..., 3) vectors to (..., 3, 3) cross-product matrices: ``skew(v) @ p == v x p``."""
    v = np.asarray(v, dtype=float)
    out = np.zeros((*v.shape[:-1], 3, 3))
    out[..., 0, 1], out[..., 0, 2] = -v[..., 2], v[..., 1]
    out[..., 1, 0], out[..., 1, 2] = v[..., 2], -v[..., 0]
    out[..., 2, 0], out[..., 2, 1] = -v[..., 1], v[..., 0]
    return out


def rodrigues_to_matrix(rvec: FloatArray) -> FloatArray:
    """(..., 3) Rodrigues vectors to (..., 3, 3) rotation matrices."""
    r = np.asarray(rvec, dtype=float)
    theta = np.linalg.norm(r, axis=-1)[..., None, None]                    # (..., 1, 1)
    kx = skew(r / np.where(theta[..., 0] > 0, theta[..., 0], 1.0))          # (..., 3, 3)
    small = theta < 1e-8
    sin_t = np.where(small, theta, np.sin(theta))
    one_minus_cos = np.where(small, theta**2 / 2, 1 - np.cos(theta))
    return np.eye(3) + sin_t * kx + one_minus_cos * kx @ kx


def matrix_to_rodrigues(R: FloatArray) -> FloatArray:
    """(..., 3, 3) rotation matrices to (..., 3) Rodrigues vectors, angle in [0, pi]."""
    R = np.asarray(R, dtype=float)
    flat = R.reshape(-1, 3, 3)                                              # (N, 3, 3)
    cos = np.clip((np.trace(flat, axis1=1, axis2=2) - 1) / 2, -1.0, 1.0)
    theta = np.arccos(cos)
    axis = np.stack([flat[:, 2, 1] - flat[:, 1, 2], flat[:, 0, 2] - flat[:, 2, 0],
                     flat[:, 1, 0] - flat[:, 0, 1]], -1)                    # 2 sin(theta) k
    sin = np.sin(theta)
    small = sin < 1e-6
    out = np.where(small[:, None], axis / 2,
                   axis * (theta / np.where(small, 1, 2 * sin))[:, None])
    near_pi = small & (cos < 0)
    if near_pi.any():                      # the axis from the symmetric part: R = 2 k k^T - I
        S = (flat[near_pi] + np.eye(3)) / 2
        a = np.sqrt(np.clip(np.diagonal(S, axis1=1, axis2=2), 0, None))
        j = np.argmax(a, axis=1)
        col = S[np.arange(j.size), :, j] / a[np.arange(j.size), j][:, None]
        out[near_pi] = col / np.linalg.norm(col, axis=1, keepdims=True) * np.pi
    return out.reshape(*R.shape[:-2], 3)


def left_jacobian(r: FloatArray) -> FloatArray:
    """(..., 3) Rodrigues vectors to (..., 3, 3) J with d(R(r) p)/dr = -[R(r) p]_x J."""
    r = np.asarray(r, dtype=float)
    theta = np.linalg.norm(r, axis=-1)[..., None, None]
    small = theta < 1e-6
    t = np.where(small, 1.0, theta)
    a = np.where(small, 0.5 - theta**2 / 24, (1 - np.cos(t)) / t**2)
    b = np.where(small, 1.0 / 6 - theta**2 / 120, (t - np.sin(t)) / t**3)
    S = skew(r)
    return np.eye(3) + a * S + b * S @ S


def rot_x(a: FloatArray) -> FloatArray:
    """(...,) angles in radians to (..., 3, 3) rotations about the x axis."""
    c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([i, o, o], -1), np.stack([o, c, -s], -1),
                     np.stack([o, s, c], -1)], -2)


def rot_y(a: FloatArray) -> FloatArray:
    """(...,) angles in radians to (..., 3, 3) rotations about the y axis."""
    c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, o, s], -1), np.stack([o, i, o], -1),
                     np.stack([-s, o, c], -1)], -2)


def rot_z(a: FloatArray) -> FloatArray:
    """(...,) angles in radians to (..., 3, 3) rotations about the z axis."""
    c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, -s, o], -1), np.stack([s, c, o], -1),
                     np.stack([o, o, i], -1)], -2)
