"""Unit quaternions (w, x, y, z), batched over any leading axes.

A quaternion q stands for the rotation matrix :func:`to_matrix` gives; q and -q are the same
rotation, so a sequence is made continuous (:func:`continuous`) before it is interpolated,
filtered or written out as Euler angles.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def to_matrix(q: FloatArray) -> FloatArray:
    """(..., 4) quaternions (w, x, y, z), normalised here, to (..., 3, 3) rotation matrices."""
    q = np.asarray(q, dtype=float)
    w, x, y, z = np.moveaxis(q / np.linalg.norm(q, axis=-1, keepdims=True), -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def from_matrix(R: FloatArray) -> FloatArray:
    """(..., 3, 3) rotation matrices to (..., 4) unit quaternions with w >= 0.

    Each is computed from the largest of the four candidate denominators (Shepperd's method),
    so none divides by a small number."""
    R = np.asarray(R, dtype=float)
    trace = np.trace(R, axis1=-2, axis2=-1)
    diagonal = np.diagonal(R, axis1=-2, axis2=-1)                           # (..., 3)
    choice = np.argmax(np.concatenate([trace[..., None], diagonal], -1), -1)
    # 4 q_i^2 for the chosen component, then the other three from off-diagonal sums
    q = np.empty(R.shape[:-2] + (4,))
    r = {(i, j): R[..., i, j] for i in range(3) for j in range(3)}
    candidates = [
        np.stack([1 + trace, r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]], -1),
        np.stack([r[2, 1] - r[1, 2], 1 + 2 * r[0, 0] - trace, r[0, 1] + r[1, 0],
                  r[0, 2] + r[2, 0]], -1),
        np.stack([r[0, 2] - r[2, 0], r[0, 1] + r[1, 0], 1 + 2 * r[1, 1] - trace,
                  r[1, 2] + r[2, 1]], -1),
        np.stack([r[1, 0] - r[0, 1], r[0, 2] + r[2, 0], r[1, 2] + r[2, 1],
                  1 + 2 * r[2, 2] - trace], -1),
    ]
    for k, candidate in enumerate(candidates):
        pick = choice == k
        q[pick] = candidate[pick]
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)


def multiply(a: FloatArray, b: FloatArray) -> FloatArray:
    """(..., 4) Hamilton products a b (the rotation b, then a)."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a, dtype=float), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, dtype=float), -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz,
                     aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw], -1)


def conjugate(q: FloatArray) -> FloatArray:
    """(..., 4) inverses of unit quaternions."""
    return np.asarray(q, dtype=float) * np.array([1.0, -1.0, -1.0, -1.0])


def angle_between(a: FloatArray, b: FloatArray) -> FloatArray:
    """(...) radians of the rotation taking a to b (0 to pi; q and -q count as one)."""
    dot = np.abs(np.einsum("...i,...i->...", a, b))
    return 2 * np.arccos(np.clip(dot, 0.0, 1.0))


def continuous(q: FloatArray, axis: int = 0) -> FloatArray:
    """``q`` with signs flipped along ``axis`` (time) so each quaternion is in the hemisphere
    of the one before: no step between neighbours flips to the far side of the sphere."""
    q = np.moveaxis(np.asarray(q, dtype=float), axis, 0)
    flips = np.einsum("f...i,f...i->f...", q[1:], q[:-1]) < 0                # (F-1, ...)
    sign = np.concatenate([np.ones((1,) + q.shape[1:-1]),
                           np.cumprod(np.where(flips, -1.0, 1.0), axis=0)], axis=0)
    return np.moveaxis(q * sign[..., None], 0, axis)
