"""Rotations about the coordinate axes, batched: angles (...,) radians -> matrices (..., 3, 3)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def rot_x(a: FloatArray) -> FloatArray:
    c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([i, o, o], -1), np.stack([o, c, -s], -1),
                     np.stack([o, s, c], -1)], -2)


def rot_y(a: FloatArray) -> FloatArray:
    c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, o, s], -1), np.stack([o, i, o], -1),
                     np.stack([-s, o, c], -1)], -2)


def rot_z(a: FloatArray) -> FloatArray:
    c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, -s, o], -1), np.stack([s, c, o], -1),
                     np.stack([o, o, i], -1)], -2)
