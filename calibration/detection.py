"""Board corner detection in one image (scanning footage is ``calibration.board_scan``).

ChArUco boards are found with OpenCV's ArUco detector run only in a box around the board (where
the previous frame showed it, or where a quick marker search places it: ``marker_search``),
then ``CharucoDetector`` interpolates the corners from those markers on the whole image;
plain checkerboards with ``findChessboardCornersSB`` on a downscaled copy. Every corner is
then refined at full resolution as the saddle point of the image (``calibration.subpixel``),
more accurate than OpenCV's own ChArUco corners. Inverted boards are
detected on the inverted image; a double-sided board's back (the mirror image of its front)
on the mirrored image, its corners mapped back to the original pixels and to the front's ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np
from numpy.typing import NDArray

from calibration.board import Board, aruco_dictionary
from calibration.checkerboard import find_checkerboard, spans_plane
from calibration.marker_search import (
    Box,
    board_box,
    contains,
    marker_board_points,
    markers_in_box,
    mirror_box,
    per_thread,
    quick_markers,
    union,
)
from calibration.subpixel import refine_corners

FloatArray = NDArray[np.float64]

MIN_CHARUCO_CORNERS = 6        # fewer corners give no usable pose
_SEARCH_GROW = 0.25            # box margin around a board predicted from a few markers
_TRACK_GROW = 0.2              # ... around the previous frame's board (perspective + motion)
_CHECK_GROW = 0.1              # the markers found must predict the board this far inside
_MAX_WIDENINGS = 3


@dataclass(frozen=True)
class FrameResult:
    """What one image showed.

    Attributes:
        xy: (K, 2) corner pixels, NaN where unseen; None when the board was not found.
        mirrored: the corners come from the back of a double-sided board.
        marker_ids: (n,) ids of the ArUco markers of the board's dictionary seen (ChArUco).
    """

    xy: FloatArray | None
    mirrored: bool = False
    marker_ids: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))


def detect_corners(gray: NDArray[np.uint8], board: Board) -> tuple[FloatArray, bool] | None:
    """Find the board's corners in one image.

    Args:
        gray: (H, W) uint8 grey image (a colour (H, W, 3) BGR image is converted).
        board: the board definition.
    Returns:
        ((K, 2) subpixel corner positions, NaN where unseen, ids as in
        ``board.object_points``; mirrored) or None when too few corners were found
        (fewer than 6 corners, fewer than half of a checkerboard's, or all on one line).
    """
    found = find_board(gray, board)
    return None if found.xy is None else (found.xy, found.mirrored)


def find_board(gray: NDArray[np.uint8], board: Board) -> FrameResult:
    """:func:`detect_corners` plus the marker ids seen (used to diagnose failures)."""
    return BoardFinder(board)(gray)


class BoardFinder:
    """Finds the board in the frames of one camera's footage, taken in order.

    A ChArUco board found in one frame is looked for first in a box around the same place in
    the next; when it is not there, or in the first frame, a quick marker search over the
    whole frame says where to look (``calibration.marker_search``). Either way OpenCV's full
    detector runs only in a box that holds the whole board, and the corners are refined at full
    resolution, so the result is the full-frame result at a fraction of the cost.
    """

    def __init__(self, board: Board) -> None:
        self.board = board
        self._last: FrameResult | None = None       # the previous frame's, when found

    def __call__(self, gray: NDArray[np.uint8]) -> FrameResult:
        """The board in the next frame, (H, W) uint8 grey or (H, W, 3) BGR."""
        if gray.ndim == 3:
            gray = np.asarray(cv2.cvtColor(gray, cv2.COLOR_BGR2GRAY), np.uint8)
        board = self.board
        image = np.asarray(cv2.bitwise_not(gray), np.uint8) if board.inverted \
            else np.ascontiguousarray(gray)
        if board.type == "checkerboard":
            return FrameResult(find_checkerboard(image, board, MIN_CHARUCO_CORNERS))
        last = self._last
        found = None if last is None or last.xy is None else \
            self._track(image, last.xy, last.mirrored)
        if found is None:
            found = _search(image, board)
        self._last = found if found.xy is not None else None
        return found

    def _track(self, image: NDArray[np.uint8], last_xy: FloatArray, mirrored: bool
               ) -> FrameResult | None:
        """The board near ``last_xy`` (K, 2), where the previous frame showed it (on the same
        side), or None."""
        board, width = self.board, image.shape[1]
        seen = np.isfinite(last_xy[:, 0])
        box = board_box(last_xy[seen], _board_xy(board)[seen], board, image.shape,
                        _TRACK_GROW)
        if mirrored:
            image = np.ascontiguousarray(image[:, ::-1])
            box = mirror_box(box, width)
        xy, markers = _charuco_in_box(image, board, box, board.legacy_pattern)
        if xy is None:
            return None
        if mirrored:
            xy[:, 0] = width - 1 - xy[:, 0]
        return FrameResult(xy, mirrored, markers)


def _search(image: NDArray[np.uint8], board: Board) -> FrameResult:
    """The board anywhere in a positive image: front first, then a double-sided board's back
    (found in the mirrored image and mapped back to the original pixels)."""
    xy, markers = charuco_corners(image, board)
    if xy is None and board.double_sided:
        back, _ = charuco_corners(np.ascontiguousarray(image[:, ::-1]), board)
        if back is not None:
            back[:, 0] = image.shape[1] - 1 - back[:, 0]
            return FrameResult(back, True, markers)
    return FrameResult(xy, False, markers)


def charuco_corners(image: NDArray[np.uint8], board: Board, legacy: bool | None = None
                    ) -> tuple[FloatArray | None, NDArray[np.int64]]:
    """ChArUco corners of a positive (not inverted) image, front side only.

    Returns:
        ((K, 2) refined corners or None, (n,) ids of the markers seen).
    """
    legacy = board.legacy_pattern if legacy is None else legacy
    ids, corners = quick_markers(image, board)
    on_board = ids < board.n_markers
    if not on_board.any():
        return None, np.unique(ids)
    board_xy = marker_board_points(board, legacy)[ids[on_board]]            # (n, 4, 2)
    box = board_box(corners[on_board].reshape(-1, 2), board_xy.reshape(-1, 2), board,
                    image.shape, _SEARCH_GROW)
    xy, markers = _charuco_in_box(image, board, box, legacy)
    return xy, np.union1d(ids, markers)


def _charuco_in_box(image: NDArray[np.uint8], board: Board, box: Box, legacy: bool
                    ) -> tuple[FloatArray | None, NDArray[np.int64]]:
    """Find the markers in ``box`` of the image, widening the box while they predict board
    parts outside it; then OpenCV's ChArUco corners from those markers on the whole image
    (exactly its full-frame result when the box holds the board), refined.

    Returns:
        ((K, 2) refined corners or None, (n,) ids of the markers seen in the box).
    """
    points = marker_board_points(board, legacy)
    for _ in range(_MAX_WIDENINGS):
        marker_xy, markers = markers_in_box(image, board, box)
        on_board = markers < board.n_markers
        if not on_board.any():
            return None, markers
        needed = board_box(marker_xy[on_board].reshape(-1, 2),
                           points[markers[on_board]].reshape(-1, 2), board, image.shape,
                           _CHECK_GROW)
        if contains(box, needed):
            break
        box = union(box, needed)
    corners, ids, _, _ = _charuco_detector(board, legacy).detectBoard(
        image, markerCorners=tuple(marker_xy[:, None].astype(np.float32)),
        markerIds=markers.astype(np.int32)[:, None])
    if ids is None or len(ids) < MIN_CHARUCO_CORNERS:
        return None, markers
    return _refined(image, board, corners.reshape(-1, 2).astype(np.float64),
                    ids.ravel().astype(np.int64)), markers


def _refined(image: NDArray[np.uint8], board: Board, corners: FloatArray,
             ids: NDArray[np.integer]) -> FloatArray | None:
    """(K, 2) saddle-refined corners from OpenCV's (n, 2) with ids (n,), NaN where unseen or
    refinement failed; None when too few survive or they lie on one line."""
    board_xy = _board_xy(board)[ids]
    if not spans_plane(board_xy, board.square_size):
        return None
    xy = refine_corners(image, corners, board_xy, _charuco_window(board), board.square_size)
    keep = np.isfinite(xy[:, 0])
    if keep.sum() < MIN_CHARUCO_CORNERS or not spans_plane(board_xy[keep], board.square_size):
        return None
    out = np.full((board.n_corners, 2), np.nan)
    out[ids[keep]] = xy[keep]
    return out


@lru_cache(maxsize=16)
def _board_xy(board: Board) -> FloatArray:
    """(K, 2) board coordinates of the corners (``Board.object_points`` computes them anew
    on every call; read-only here)."""
    xy = np.ascontiguousarray(board.object_points[:, :2])
    xy.flags.writeable = False
    return xy


@per_thread
def _charuco_detector(board: Board, legacy: bool) -> cv2.aruco.CharucoDetector:
    """Interpolates and refines ChArUco corners from markers (``markers_in_box``)."""
    cv_board = board.cv2_board()
    cv_board.setLegacyPattern(legacy)
    return cv2.aruco.CharucoDetector(cv_board)


def _charuco_window(board: Board) -> float:
    """Half-width (board metres) of the point-symmetric region around a ChArUco corner: the
    white margin plus the marker's black frame, with a safety factor."""
    bits = aruco_dictionary(board.dictionary).markerSize
    symmetric = (board.square_size - board.marker_size) / 2 + board.marker_size / (bits + 2)
    return 0.8 * symmetric
