"""Board corner detection: one image, one camera's footage, or all cameras in parallel.

ChArUco boards are found with OpenCV's ArUco detector run only in a box around the board (where
the previous frame showed it, or where a quick marker search places it: ``marker_search``),
then ``CharucoDetector`` interpolates the corners from those markers on the whole image;
plain checkerboards with ``findChessboardCornersSB`` on a downscaled copy. Every corner is
then refined at full resolution as the saddle point of the image (``calibration.subpixel``),
which removes the +0.5 px offset of OpenCV 4.11's ChArUco corners. Inverted boards are
detected on the inverted image; a double-sided board's back (the mirror image of its front)
on the mirrored image, its corners mapped back to the original pixels and to the front's ids.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_module
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from calibration.board import Board, aruco_dictionary
from calibration.board_diagnosis import FailureLog, diagnose
from calibration.checkerboard import find_checkerboard, spans_plane
from calibration.detections import BoardDetections
from calibration.errors import BoardNotFoundError
from calibration.footage import FrameStream, count_frames
from calibration.marker_search import (
    Box,
    board_box,
    contains,
    marker_board_points,
    markers_in_box,
    mirror_box,
    quick_markers,
    union,
)
from calibration.subpixel import refine_corners

FloatArray = NDArray[np.float64]
Progress = bool | Callable[[int], Any]

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


@lru_cache(maxsize=16)
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


def detect_footage(path: str | Path, board: Board, camera: str | None = None, *, step: int = 1,
                   progress: Progress = True, min_views: int = 1) -> BoardDetections:
    """Detect the board in every ``step``-th frame of one camera's video or image folder.

    Args:
        path: video file or image folder.
        camera: camera name (default: the file stem / folder name).
        progress: True for a tqdm bar, False for none, or a callable given frame counts.
        min_views: fewest frames with the board that the camera needs.
    Returns:
        BoardDetections; ``n_frames`` is the footage's frame count (frame indices are < it).
    Raises:
        BoardNotFoundError: fewer than ``min_views`` frames show the board; the message says
            how many frames showed markers but no board and what is likely wrong.
        FootageError: unreadable, empty or inconsistent footage.
    """
    path = Path(path)
    camera = camera or (path.name if path.is_dir() else path.stem)
    outcome = _scan(path, board, camera, step, progress)
    if outcome.error is not None:
        raise BoardNotFoundError(camera, *outcome.error)
    if len(outcome.detections.frames) < min_views:
        n = len(outcome.detections.frames)
        raise BoardNotFoundError(camera, n, outcome.n_read,
                                 f"the camera needs at least {min_views} views; "
                                 + outcome.log.summary(board))
    return outcome.detections


@dataclass
class _Outcome:
    detections: BoardDetections
    n_read: int
    log: FailureLog
    error: tuple[int, int, str] | None = None     # (n_found, n_read, detail) when none found


def _scan(path: Path, board: Board, camera: str, step: int, progress: Progress) -> _Outcome:
    """Detect over all frames; when no frame shows the board, diagnose why."""
    total = -(-count_frames(path) // step)
    bar: tqdm | None = None
    if callable(progress):
        tick = progress
    else:
        bar = tqdm(total=total, desc=camera, unit="frame", disable=not progress, leave=False)
        tick = bar.update
    frames, xys, mirrored, log = [], [], [], FailureLog()
    size, stream, finder = (0, 0), FrameStream(path, step), BoardFinder(board)
    try:
        for index, gray in stream:
            size = (gray.shape[1], gray.shape[0])
            found = finder(gray)
            if found.xy is not None:
                frames.append(index)
                xys.append(found.xy)
                mirrored.append(found.mirrored)
            else:
                log.add(index, gray, found.marker_ids)
            tick(1)
    finally:
        if bar is not None:
            bar.close()
    n_read = len(frames) + log.n_failed
    xy = np.stack(xys) if xys else np.zeros((0, board.n_corners, 2))
    detections = BoardDetections(camera, size, np.asarray(frames, np.int64), xy,
                                 stream.n_frames, np.asarray(mirrored, bool))
    error = None if frames else (0, n_read, diagnose(board, log))
    return _Outcome(detections, n_read, log, error)


def detect_all(footage: dict[str, Path], board: Board, *, workers: int | None = None,
               progress: bool = True, step: int = 1, min_views: int = 1
               ) -> dict[str, BoardDetections]:
    """Detect the board in every camera's footage, one process per camera.

    Args:
        footage: camera name to video file or image folder (see ``find_footage``).
        workers: parallel processes (default: one per camera, at most the CPU count);
            1 runs in this process.
        progress: show one tqdm bar over all frames with rate and ETA.
    Returns:
        camera name to BoardDetections, in the order of ``footage``.
    Raises:
        BoardNotFoundError: for the first camera (in order) with too few views, naming the
            other failing cameras too.
    """
    totals = {cam: -(-count_frames(p) // step) for cam, p in footage.items()}
    workers = min(len(footage), workers or os.cpu_count() or 1)
    bar = tqdm(total=sum(totals.values()), desc="board detection", unit="frame",
               disable=not progress)
    try:
        if workers <= 1:
            outcomes = {cam: _scan(Path(p), board, cam, step, bar.update)
                        for cam, p in footage.items()}
        else:
            outcomes = _scan_in_pool(footage, board, step, workers, bar)
    finally:
        bar.close()
    return _collect(outcomes, board, min_views)


def _collect(outcomes: dict[str, _Outcome], board: Board, min_views: int
             ) -> dict[str, BoardDetections]:
    failed = [cam for cam, o in outcomes.items()
              if o.error is not None or len(o.detections.frames) < min_views]
    if failed:
        first = outcomes[failed[0]]
        n = len(first.detections.frames)
        detail = first.error[2] if first.error else (
            f"the camera needs at least {min_views} views; " + first.log.summary(board))
        if len(failed) > 1:
            detail += f" (cameras {', '.join(failed[1:])} have too few views too)"
        raise BoardNotFoundError(failed[0], n, first.n_read, detail)
    return {cam: o.detections for cam, o in outcomes.items()}


def _scan_in_pool(footage: dict[str, Path], board: Board, step: int, workers: int,
                  bar: tqdm) -> dict[str, _Outcome]:
    context = mp.get_context("spawn")
    ticks = context.Queue()
    outcomes: dict[str, _Outcome] = {}
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(ticks,)) as pool:
        pending: dict[Future, str] = {
            pool.submit(_scan_worker, str(p), board, cam, step): cam for cam, p in footage.items()}
        while pending:
            done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(ticks, bar)
            for future in done:
                outcomes[pending.pop(future)] = future.result()
        _drain(ticks, bar)
    return {cam: outcomes[cam] for cam in footage}


_TICKS: Any = None


def _init_worker(ticks: Any) -> None:
    global _TICKS
    _TICKS = ticks
    cv2.setNumThreads(1)


def _scan_worker(path: str, board: Board, camera: str, step: int) -> _Outcome:
    outcome = _scan(Path(path), board, camera, step, _TICKS.put)
    outcome.log.release_images()
    return outcome


def _drain(ticks: Any, bar: tqdm) -> None:
    while True:
        try:
            bar.update(ticks.get_nowait())
        except queue_module.Empty:
            return
