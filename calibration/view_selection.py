"""Which board views a camera's intrinsics are fitted from: image coverage and board tilt.

A video holds hundreds of near-duplicate views; a few dozen that cover the image (a grid of
COVERAGE_CELLS) and the board's tilts pin the lens as well and cost a fraction of the time.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from calibration.camera import Camera
from calibration.detections import BoardDetections
from calibration.extrinsics import ippe_poses

FloatArray = NDArray[np.float64]

COVERAGE_CELLS = (8, 6)          # image grid (columns, rows) for coverage and view selection


def select_views(det: BoardDetections, obj: FloatArray, camera: Camera,
                 max_views: int) -> NDArray[np.int64]:
    """Greedy choice of at most ``max_views`` views: each pick adds the most image cells not yet
    covered and board tilts not yet seen; once nothing new is left, coverage starts over.

    Returns:
        (V,) indices into ``det.frames``, in the order chosen.
    """
    cells = _cells_per_view(det)                                       # (N, S) bool
    bins = _tilt_bins(det, obj, camera)                                # (N,) int
    onehot = np.eye(bins.max() + 1, dtype=bool)[bins]                  # (N, B)
    fill = det.n_corners / det.xy.shape[1]
    covered = np.zeros(cells.shape[1], bool)
    seen_bins = np.zeros(onehot.shape[1], bool)
    free = np.ones(det.frames.size, bool)
    chosen: list[int] = []
    while free.any() and len(chosen) < max_views:
        gain = (cells & ~covered).sum(1) + 4.0 * (onehot & ~seen_bins).sum(1) + 0.5 * fill
        if not (gain[free] >= 1.0).any():
            covered[:], seen_bins[:] = False, False
            continue
        i = int(np.argmax(np.where(free, gain, -np.inf)))
        chosen.append(i)
        free[i] = False
        covered |= cells[i]
        seen_bins |= onehot[i]
    return np.asarray(chosen, np.int64)


def coverage_grid(det: BoardDetections,
                  cells: tuple[int, int] = COVERAGE_CELLS) -> NDArray[np.int64]:
    """(rows, columns) number of detected corners falling in each cell of the image grid."""
    xy = det.xy[np.isfinite(det.xy[..., 0])]                            # (M, 2)
    col, row = _cell_of(xy, det.image_size, cells)
    grid = np.zeros((cells[1], cells[0]), np.int64)
    np.add.at(grid, (row, col), 1)
    return grid


def _cell_of(xy: FloatArray, size: tuple[int, int], cells: tuple[int, int]
             ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    col = np.clip((xy[..., 0] / size[0] * cells[0]).astype(np.int64), 0, cells[0] - 1)
    row = np.clip((xy[..., 1] / size[1] * cells[1]).astype(np.int64), 0, cells[1] - 1)
    return col, row


def _cells_per_view(det: BoardDetections,
                    cells: tuple[int, int] = COVERAGE_CELLS) -> NDArray[np.bool_]:
    """(N, columns * rows) True where a view has a corner in a cell."""
    seen = np.isfinite(det.xy[..., 0])                                       # (N, K)
    col, row = _cell_of(np.nan_to_num(det.xy), det.image_size, cells)        # (N, K)
    out = np.zeros((det.frames.size, cells[0] * cells[1]), bool)
    view = np.broadcast_to(np.arange(det.frames.size)[:, None], seen.shape)
    out[view[seen], (row * cells[0] + col)[seen]] = True
    return out


def _tilt_bins(det: BoardDetections, obj: FloatArray, camera: Camera) -> NDArray[np.int64]:
    """(N,) bin of each view's board tilt: 0 facing the camera, then 4 directions x 3 angles."""
    normals = ippe_poses(camera, obj, det.xy).R[:, :, 2]                    # (N, 3)
    tilt = np.degrees(np.arccos(np.clip(np.abs(normals[:, 2]), 0, 1)))
    direction = ((np.arctan2(normals[:, 1], normals[:, 0]) + np.pi / 4) // (np.pi / 2)) % 4
    level = np.digitize(tilt, [15.0, 30.0, 45.0])                            # 0..3
    return np.where(level == 0, 0, 1 + 4 * (level - 1) + direction).astype(np.int64)


def spans_plane(xy: FloatArray, obj: FloatArray) -> NDArray[np.bool_]:
    """(N,) True for views whose seen corners (xy (N, K, 2), NaN where unseen) do not all lie
    on one line of the board: a row or column alone fixes no board pose."""
    seen = np.isfinite(xy[..., 0])                                           # (N, K)
    n = np.maximum(seen.sum(1), 1)[:, None, None]
    p = np.where(seen[..., None], obj[None, :, :2], 0.0)                     # (N, K, 2)
    mean = p.sum(1, keepdims=True) / n
    d = np.where(seen[..., None], p - mean, 0.0)
    cov = np.einsum("nki,nkj->nij", d, d) / n                                # (N, 2, 2)
    return np.linalg.det(cov) > 1e-6 * np.trace(cov, axis1=1, axis2=2) ** 2
