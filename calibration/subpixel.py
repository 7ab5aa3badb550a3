"""Sub-pixel refinement of chessboard corners as saddle points of the blurred image.

Around a chessboard corner the printed pattern is point-symmetric (the two dark squares mirror
each other through the corner, and so do the two light ones, including the frames of ChArUco
markers up to the marker's first data bit). A blurred image of it stays point-symmetric under
any affine view, so a quadratic surface fitted over a window centred on the true corner has its
saddle exactly there. We sample the window in board coordinates (mapped to the image with the
local Jacobian of the board-to-image homography), so it covers only that symmetric region even
on steeply tilted boards, fit the quadric to all corners at once, and move each corner to its
saddle until it stops moving. On rendered boards this gives ~0.03 px RMS with no bias, where
OpenCV 4.11's ``CharucoDetector`` output sits about +0.5 px off (OpenCV issue 25539).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

_GRID = 9                     # samples per window side
_ITERATIONS = 15
_TOLERANCE_PX = 1e-4
MAX_RADIUS_PX = 6.0
_MIN_WINDOW_PX = 1.0          # corners whose window must shrink below this are dropped


def _quadric_fit() -> tuple[FloatArray, FloatArray]:
    """Unit window offsets (M, 2) and the (6, M) weighted least-squares operator that maps
    window samples to quadric coefficients a x^2 + b x y + c y^2 + d x + e y + f."""
    g = np.linspace(-1.0, 1.0, _GRID)
    x, y = (v.ravel() for v in np.meshgrid(g, g))
    sqrt_w = np.exp(-(x * x + y * y) / (4 * 0.6**2))
    design = np.stack([x * x, x * y, y * y, x, y, np.ones_like(x)], axis=1)
    return np.stack([x, y], axis=1), np.linalg.pinv(design * sqrt_w[:, None]) * sqrt_w


_OFFSETS, _FIT = _quadric_fit()


def homography_jacobians(H: FloatArray, points: FloatArray) -> FloatArray:
    """(N, 2, 2) derivative of the homography ``H`` (3, 3) at plane points (N, 2)."""
    q = np.c_[points, np.ones(len(points))] @ H.T                            # (N, 3)
    uv = q[:, :2] / q[:, 2:]
    return (H[None, :2, :2] - uv[:, :, None] * H[None, 2:3, :2]) / q[:, 2, None, None]


def refine_corners(gray: NDArray[np.uint8], xy: FloatArray, board_xy: FloatArray,
                   window_m: float, square_m: float) -> FloatArray:
    """Move corners to the saddle point of the blurred image.

    Args:
        gray: (H, W) image.
        xy: (N, 2) initial corner pixels (N >= 4, not all on one line).
        board_xy: (N, 2) the same corners on the board, metres.
        window_m: half-width of the point-symmetric region around a corner, board metres.
        square_m: the board's square size in metres (sets blur and the largest move).
    Returns:
        (N, 2) refined pixels; NaN where no saddle was found, the fit moved the corner more
        than max(2 px, a tenth of a square), or the corner is too close to the image border
        for a window (windows shrink near the border).
    """
    found_h, _ = cv2.findHomography(board_xy, xy, 0)
    if found_h is None:
        return np.full_like(xy, np.nan)
    H = np.asarray(found_h, np.float64)
    J = homography_jacobians(H, board_xy)                                    # (N, 2, 2)
    px_per_m = np.linalg.svd(J, compute_uv=False)[:, -1]                     # (N,) worst side
    sigma = float(np.clip(0.25 * np.median(px_per_m) * window_m, 0.7, 2.0))
    radius_m = np.maximum(window_m - 2.0 * sigma / px_per_m, 1.0 / px_per_m)
    radius_m = np.minimum(radius_m, MAX_RADIUS_PX / px_per_m)
    axes = J * radius_m[:, None, None]                                      # unit -> px
    h, w = gray.shape[:2]
    room = np.minimum(xy, [w - 1, h - 1] - xy) - 1.0                         # (N, 2) px
    fit = np.clip(room / np.abs(axes).sum(axis=2), 0.0, 1.0).min(axis=1)    # shrink at edges
    axes = axes * fit[:, None, None]
    reach = np.abs(axes).sum(axis=2).max(axis=0) + 3 * sigma + 2             # (2,) px
    x0, y0 = np.maximum(np.floor(xy.min(axis=0) - reach), 0).astype(int)
    x1, y1 = np.ceil(xy.max(axis=0) + reach).astype(int) + 1
    patch = np.asarray(cv2.GaussianBlur(gray[y0:y1, x0:x1].astype(np.float32), (0, 0), sigma),
                       np.float32)
    found, ok = _saddles(patch, xy - [x0, y0], axes)
    found += [x0, y0]
    max_shift = np.maximum(2.0, 0.1 * px_per_m * square_m)
    ok &= np.linalg.norm(found - xy, axis=1) <= max_shift
    ok &= np.linalg.svd(axes, compute_uv=False)[:, -1] >= _MIN_WINDOW_PX
    ok &= ((found >= 0) & (found <= [w - 1, h - 1])).all(axis=1)
    return np.where(ok[:, None], found, np.nan)


def _saddles(image: NDArray[np.float32], xy: FloatArray, axes: FloatArray
             ) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Iterate every corner (N, 2) to the saddle of the quadric fitted over its window
    ``xy + axes @ unit offsets``; returns positions (N, 2) and a mask of converged saddles."""
    xy = xy.astype(np.float64, copy=True)
    ok = np.ones(len(xy), bool)
    offsets = np.einsum("nij,mj->nmi", axes, _OFFSETS)                      # (N, M, 2)
    off_x, off_y = offsets[..., 0].copy(), offsets[..., 1].copy()            # (N, M) each
    for _ in range(_ITERATIONS):
        values = _bilinear(image, xy[:, :1] + off_x, xy[:, 1:] + off_y)      # (N, M)
        a, b, c, d, e, _ = _FIT @ values.T                                   # each (N,)
        det = 4 * a * c - b * b
        ok &= det < 0
        det = np.where(ok, det, -1.0)
        unit = np.stack([(b * e - 2 * c * d) / det, (b * d - 2 * a * e) / det], axis=1)
        step = np.einsum("nij,nj->ni", axes, np.clip(unit, -0.5, 0.5))
        step[~ok] = 0.0
        xy += step
        if not np.abs(step).max(initial=0.0) > _TOLERANCE_PX:
            break
    return xy, ok


def _bilinear(image: NDArray[np.float32], x: FloatArray, y: FloatArray) -> FloatArray:
    """(...) image (H, W) values at sub-pixel points with coordinates ``x``, ``y`` (same
    shape), bilinear at full precision (OpenCV's remap rounds positions to 1/32 px, which
    leaves the saddle jittering by ~1e-3 px); points outside take the nearest border value."""
    h, w = image.shape
    cx, cy = np.clip(x, 0, w - 1), np.clip(y, 0, h - 1)
    j, i = np.minimum(cx.astype(np.intp), w - 2), np.minimum(cy.astype(np.intp), h - 2)
    fx, fy = cx - j, cy - i
    flat = image.ravel()
    top = flat[i * w + j]                                       # the four neighbours
    right, below, diagonal = flat[i * w + j + 1], flat[(i + 1) * w + j], flat[(i + 1) * w + j + 1]
    return ((1 - fy) * ((1 - fx) * top + fx * right)
            + fy * ((1 - fx) * below + fx * diagonal))
