"""The arrays of the 3D viewer (:mod:`mocap.viewer`): the frames it keeps, bone polylines and
the scene's fixed bounds (the frusta and the floor grid are :mod:`mocap.scene3d`'s, drawn
through :func:`polylines`). Numpy only: no plotly, no files.

Plotly draws a line trace as one polyline and breaks it at a NaN point, so every set of
segments here comes back as points ``a, b, NaN`` per segment."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from mocap.errors import ConfigError

FloatArray = NDArray[np.float64]
COLOURINGS = ("error", "source")   # joints coloured by reprojection error or by source
MAX_FRAMES = 300            # frames a page holds at most (--max-frames): about 1.5 kB each
MARGIN = 0.05               # share of the scene's size added around it
FRUSTUM_SHARE = 0.06        # a camera's drawn depth, as a share of the scene's size
FLOOR_STEP = 0.1            # the floor grid's finest spacing (m): coarser for larger scenes
FLOOR_LINES = 25            # the floor grid's lines per axis at most: a light page


def shown_frames(n_frames: int, max_frames: int = MAX_FRAMES) -> NDArray[np.int64]:
    """The frames the page holds: every one of a short take, else ``max_frames`` spread evenly
    from the first to the last (both kept), sorted.

    Raises:
        ConfigError: ``max_frames`` is below 2 (a page needs two frames to play).
    """
    if max_frames < 2:
        raise ConfigError(f"--max-frames must be 2 or more (a first and a last frame), got "
                          f"{max_frames}")
    count = min(n_frames, max_frames)
    return np.unique(np.linspace(0, n_frames - 1, count).round().astype(np.int64))


def polylines(segments: FloatArray) -> FloatArray:
    """(..., S, 2, 3) segments -> (..., 3 S, 3) points ``a, b, NaN`` per segment."""
    gap = np.full((*segments.shape[:-2], 1, 3), np.nan)
    return np.concatenate([segments, gap], axis=-2).reshape(*segments.shape[:-3], -1, 3)


def bone_lines(xyz: FloatArray, bones: NDArray[np.int64]) -> FloatArray:
    """(T, P, J, 3) joints and (B, 2) bones -> (T, 3 P B, 3) points of every bone of every
    person per frame; a bone with a missing end is NaN (not drawn)."""
    segments = xyz[:, :, bones]                                            # (T, P, B, 2, 3)
    return polylines(segments).reshape(len(xyz), -1, 3)


def scene_bounds(points: FloatArray) -> FloatArray:
    """(N, 3) points (NaN rows ignored) -> (3, 2) low and high per axis: one cube around them
    and the floor (z = 0), the same size on every axis so that the page's aspect is equal."""
    known = points[np.isfinite(points).all(-1)]
    known = np.concatenate([known, np.zeros((1, 3))]) if len(known) else np.zeros((1, 3))
    low, high = known.min(axis=0), known.max(axis=0)
    half = max((high - low).max() / 2 * (1 + 2 * MARGIN), 0.5)            # at least 1 m wide
    middle = (low + high) / 2
    return np.stack([middle - half, middle + half], axis=1)


def error_range(error: FloatArray) -> float:
    """The top of the colour scale of reprojection errors (px): their 95th percentile (a few
    outliers do not wash out the rest), at least 1 px."""
    known = error[np.isfinite(error)]
    return max(float(np.percentile(known, 95)), 1.0) if len(known) else 1.0
