"""Plain checkerboards: finding the inner-corner grid and giving each corner its board id.

``findChessboardCornersSB`` runs on a copy at most 1000 px wide (fast, and it finds more boards
there than at full resolution), then every corner is refined at full resolution. OpenCV's
corner order is ambiguous up to flips and half turns; we fix it from the board's handedness
and the colour of its first square, and reject grids that are part of a larger board.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from calibration.board import Board
from calibration.subpixel import refine_corners

FloatArray = NDArray[np.float64]

_MAX_SIDE = 1000               # checkerboards are searched on a copy at most this large, px
_MIN_SPREAD = 0.2              # corners must spread this many squares off any one line


def find_checkerboard(image: NDArray[np.uint8], board: Board, min_corners: int = 6
                      ) -> FloatArray | None:
    """Corners of a plain checkerboard in a positive (not inverted) image.

    Returns:
        (K, 2) refined corners in the board's id order, NaN where refinement failed; None
        when no grid is found, fewer than max(min_corners, K / 2) corners survive, or the grid
        found is not the board (part of a larger board, or not one plane).
    """
    h, w = image.shape
    scale = min(1.0, _MAX_SIDE / max(h, w))
    small = image if scale == 1.0 else cv2.resize(image, None, fx=scale, fy=scale,
                                                  interpolation=cv2.INTER_AREA)
    flags = cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_EXHAUSTIVE
    found, corners = cv2.findChessboardCornersSB(small, board.corner_grid, flags=flags)
    if not found:
        return None
    xy = (corners.reshape(-1, 2).astype(float) + 0.5) / scale - 0.5                 # full-res pixels
    ordered = _checker_order(image, xy, board)
    if ordered is None:
        return None
    xy = refine_corners(image, ordered, board.object_points[:, :2], 0.25 * board.square_size,
                        board.square_size)
    keep = np.isfinite(xy[:, 0])
    if keep.sum() < max(min_corners, board.n_corners // 2) \
            or not spans_plane(board.object_points[keep, :2], board.square_size) \
            or not _planar_grid(xy[keep], board.object_points[keep, :2], board.square_size):
        return None
    return xy


def _planar_grid(xy: FloatArray, board_xy: FloatArray, square: float) -> bool:
    """True when the corners (N, 2) sit where one homography of the board puts them, within
    a sixth of a square (lens distortion bends a real board far less; a false grid more)."""
    H, _ = cv2.findHomography(board_xy, xy, 0)
    if H is None:
        return False
    q = np.c_[board_xy, np.ones(len(board_xy))] @ H.T
    residual = np.linalg.norm(q[:, :2] / q[:, 2:] - xy, axis=1)
    step = np.median(np.linalg.norm(np.diff(xy, axis=0), axis=1))          # ~ a square, px
    scale = np.median(np.linalg.norm(np.diff(board_xy, axis=0), axis=1)) / square
    return bool(residual.max() < step / scale / 6)


def _checker_order(image: NDArray[np.uint8], xy: FloatArray, board: Board) -> FloatArray | None:
    """Reorder OpenCV's corners (K, 2) to the board's ids: the board must appear with its
    front towards the camera (not mirrored), and its first square must be dark — which fixes
    the half turn when columns + rows is odd (otherwise the board is symmetric and corner 0
    is taken as the one nearer the image's top-left). None when the squares go on beyond the
    grid (a part of a larger board: ``squares`` is wrong)."""
    nx, ny = board.corner_grid
    grid = xy.reshape(ny, nx, 2)
    a, b = grid[0, -1] - grid[0, 0], grid[-1, 0] - grid[0, 0]
    if a[0] * b[1] - a[1] * b[0] < 0:                                       # mirrored order
        grid = grid[:, ::-1]
    cols, rows = board.squares
    r, c = (v.ravel() for v in np.mgrid[-1:rows + 1, -1:cols + 1])         # squares + a ring
    values = _square_values(image, grid.reshape(-1, 2), board, r, c)       # NaN off-image
    odd = (r + c) % 2 == 1
    on_board = (r >= 0) & (r < rows) & (c >= 0) & (c < cols)
    contrast = _mean(values[on_board & odd]) - _mean(values[on_board & ~odd])
    along = (c >= 0) & (c < cols)
    sides = [(r == -1) & along, (r == rows) & along, (c == -1) & (r >= 0) & (r < rows),
             (c == cols) & (r >= 0) & (r < rows)]
    for side in sides:                                     # squares going on past an edge?
        ring = _mean(values[side & odd]) - _mean(values[side & ~odd])
        if ring * np.sign(contrast) > 0.5 * abs(contrast):
            return None
    turn = grid[-1, -1].sum() < grid[0, 0].sum() if (cols + rows) % 2 == 0 else contrast < 0
    return (grid[::-1, ::-1] if turn else grid).reshape(-1, 2)


def _mean(values: FloatArray) -> float:
    """Mean of the finite values (NaN when there are none)."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _square_values(image: NDArray[np.uint8], xy: FloatArray, board: Board, r: NDArray[np.int64],
                   c: NDArray[np.int64]) -> FloatArray:
    """(n,) smoothed grey level at the centres of squares (row r, column c) (n,), from the
    homography of the corners xy (K, 2); NaN outside the image."""
    H, _ = cv2.findHomography(board.object_points[:, :2], xy, 0)
    centres = np.c_[(c + 0.5) * board.square_size, (r + 0.5) * board.square_size, np.ones(r.size)]
    uv = centres @ np.asarray(H).T
    uv = np.rint(uv[:, :2] / uv[:, 2:]).astype(int)
    h, w = image.shape
    inside = (uv >= 0).all(axis=1) & (uv[:, 0] < w) & (uv[:, 1] < h)
    smooth = cv2.blur(image, (5, 5))
    values = np.full(r.size, np.nan)
    values[inside] = smooth[uv[inside, 1], uv[inside, 0]]
    return values


# --- footage ------------------------------------------------------------------------------------


def spans_plane(board_xy: FloatArray, square: float) -> bool:
    """True when the points (N, 2) do not all lie near one line."""
    centred = board_xy - board_xy.mean(axis=0)
    return np.linalg.svd(centred, compute_uv=False)[-1] / np.sqrt(len(board_xy)) \
        > _MIN_SPREAD * square
