"""Where in an image a ChArUco board can be: a quick marker search and the box holding the board.

OpenCV's ArUco detector thresholds the whole image with three window sizes and traces every
contour; on HD frames most of that time goes to background texture far from the board. Here
a cheaper pass (a small threshold window at full resolution for small sharp markers, then a
larger one at half resolution for large or blurred ones) only asks where markers of the
board's dictionary are. From any marker of the board, or from corners found in an earlier
frame, the board's outline is predicted through its known board coordinates, and the box
around it (with a margin for the perspective the prediction misses, the threshold windows
and the board's motion) is where the full detector then runs (``markers_in_box``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Hashable
from functools import lru_cache, wraps
from typing import TypeVar

import cv2
import numpy as np
from numpy.typing import NDArray

from calibration.board import Board, aruco_dictionary

FloatArray = NDArray[np.float64]
Box = tuple[int, int, int, int]        # x0, y0, x1, y1: columns x0..x1-1, rows y0..y1-1
Made = TypeVar("Made")

MIN_PERIMETER_RATE = 0.01              # of the frame's longer side: markers down to ~3 px a side
_QUICK_PASSES = ((1, 3), (2, 7))       # (downscale factor, adaptive threshold window px)
BIT_THRESHOLD = 0.6                     # see detector_parameters
PAD_PX = 24                            # > half the largest threshold window + border distance


def quick_markers(image: NDArray[np.uint8], board: Board
                  ) -> tuple[NDArray[np.int64], FloatArray]:
    """Markers of the board's dictionary found by a fast pass over a two-level pyramid.

    Args:
        image: (H, W) uint8 positive (not inverted) image.
        board: a ChArUco board.
    Returns:
        ids (n,) and corners (n, 4, 2) pixels of the markers found by the passes run: they
        stop at the first that finds a marker of the board.
    """
    ids, corners = [np.zeros(0, np.int64)], [np.zeros((0, 4, 2))]
    for scale, window in _QUICK_PASSES:
        level = image if scale == 1 else cv2.resize(image, None, fx=1 / scale, fy=1 / scale,
                                                    interpolation=cv2.INTER_AREA)
        found, found_ids, _ = _quick_detector(board.dictionary, window).detectMarkers(level)
        if found_ids is not None and len(found_ids):
            ids.append(found_ids.ravel().astype(np.int64))
            corners.append((np.asarray(found, np.float64).reshape(-1, 4, 2) + 0.5) * scale - 0.5)
            if (ids[-1] < board.n_markers).any():
                break                   # enough to place the box; the full detector does the rest
    return np.concatenate(ids), np.concatenate(corners)


def per_thread(make: Callable[..., Made]) -> Callable[..., Made]:
    """``make(*args)`` made once per thread and arguments: OpenCV's detectors keep state (the
    parameters ``markers_in_box`` sets for each call), so threads scanning cameras side by side
    must not share one."""
    local = threading.local()

    @wraps(make)
    def cached(*args: Hashable) -> Made:
        made: dict[tuple[Hashable, ...], Made] = local.__dict__.setdefault("made", {})
        if args not in made:
            made[args] = make(*args)
        return made[args]
    return cached


@per_thread
def _quick_detector(dictionary: str, window: int) -> cv2.aruco.ArucoDetector:
    """OpenCV's marker detector with a single threshold window."""
    params = detector_parameters()
    params.adaptiveThreshWinSizeMin = params.adaptiveThreshWinSizeMax = window
    return cv2.aruco.ArucoDetector(aruco_dictionary(dictionary), params)


def markers_in_box(image: NDArray[np.uint8], board: Board, box: Box
                   ) -> tuple[FloatArray, NDArray[np.int64]]:
    """Markers of the board's dictionary that OpenCV's full detector finds in a box.

    The pixel limits are those the detector has on the whole image, so these are the markers
    of the whole image that lie in the box, with one exception: OpenCV 4.11 stops its scan of
    nested contours early depending on how many contours the whole image holds, so a marker
    at the limit of detection is sometimes found in the whole image and not in the box, or
    the other way round (about 1 corner in 1,000 either way on our footage).

    Args:
        image: (H, W) uint8 positive image.
        box: the part of it to search.
    Returns:
        corners (m, 4, 2) in whole-image pixels (OpenCV's corner order) and ids (m,).
    """
    x0, y0, x1, y1 = box
    crop = np.ascontiguousarray(image[y0:y1, x0:x1])
    if min(crop.shape) < 8:
        return np.zeros((0, 4, 2)), np.zeros(0, np.int64)
    detector = _full_detector(board.dictionary)
    params = detector.getDetectorParameters()
    params.minMarkerPerimeterRate = MIN_PERIMETER_RATE * max(image.shape) / max(crop.shape)
    detector.setDetectorParameters(params)
    corners, ids, _ = detector.detectMarkers(crop)
    if ids is None or len(ids) == 0:
        return np.zeros((0, 4, 2)), np.zeros(0, np.int64)
    xy = np.asarray(corners, np.float64).reshape(-1, 4, 2) + [x0, y0]
    return xy, ids.ravel().astype(np.int64)


@per_thread
def _full_detector(dictionary: str) -> cv2.aruco.ArucoDetector:
    """OpenCV's full marker detector (three threshold windows, 3 to 23 px)."""
    return cv2.aruco.ArucoDetector(aruco_dictionary(dictionary), detector_parameters())


def detector_parameters() -> cv2.aruco.DetectorParameters:
    """OpenCV's marker detector parameters as we use them: markers down to MIN_PERIMETER_RATE
    of the image; a marker cell whose share of white pixels lies between 1 - BIT_THRESHOLD and
    BIT_THRESHOLD (a blurred cell) matches either bit. OpenCV 5.1's default of 0.49 reads every
    cell by majority and loses blurred markers that OpenCV 4.x read."""
    params = cv2.aruco.DetectorParameters()
    params.minMarkerPerimeterRate = MIN_PERIMETER_RATE
    params.validBitIdThreshold = BIT_THRESHOLD
    return params


def marker_board_points(board: Board, legacy: bool) -> FloatArray:
    """(n_markers, 4, 2) board coordinates (metres, the frame of ``Board.object_points``) of
    every marker's corners, in OpenCV's corner order, indexed by marker id."""
    return _marker_board_points(board, legacy).copy()


@lru_cache(maxsize=16)
def _marker_board_points(board: Board, legacy: bool) -> FloatArray:
    cv_board = board.cv2_board()
    cv_board.setLegacyPattern(legacy)
    points = np.zeros((board.n_markers, 4, 2))
    for marker_id, obj in zip(np.asarray(cv_board.getIds()).ravel(), cv_board.getObjPoints()):
        points[marker_id] = np.asarray(obj, np.float64)[:, :2]
    return points


def board_box(xy: FloatArray, board_xy: FloatArray, board: Board, shape: tuple[int, ...],
              grow: float) -> Box:
    """The image box that holds the whole board, predicted from some of its points.

    The board's outline is mapped into the image by the homography of the four points
    farthest along the board's diagonals (by an affine fit of all points when those four span
    almost no area or the outline would cross the horizon); the box bounds the outline and
    the points, widened on every side by ``grow`` times its longer side plus ``PAD_PX``, and
    clipped to the image.

    Args:
        xy: (N, 2) image pixels of board points (N >= 3, not all on one line).
        board_xy: (N, 2) the same points on the board, metres.
        board: the board (its outline).
        shape: the image's shape, (H, W).
        grow: relative margin for perspective and motion.
    """
    w, h = board.size_m
    outline = np.array([[0.0, 0.0, 1.0], [w, 0.0, 1.0], [w, h, 1.0], [0.0, h, 1.0]])
    predicted = _homography_outline(xy, board_xy, outline, board.square_size)
    if predicted is None:
        design = np.ones((len(xy), 3))
        design[:, :2] = board_xy
        predicted = outline @ np.linalg.lstsq(design, xy, rcond=None)[0]   # affine, (4, 2)
    lx, ly = np.minimum(xy.min(axis=0), predicted.min(axis=0)).tolist()
    hx, hy = np.maximum(xy.max(axis=0), predicted.max(axis=0)).tolist()
    margin = grow * max(hx - lx, hy - ly) + PAD_PX
    rows, cols = shape[:2]
    return (min(max(math.floor(lx - margin), 0), cols), min(max(math.floor(ly - margin), 0), rows),
            min(max(math.ceil(hx + margin) + 1, 0), cols), min(max(math.ceil(hy + margin) + 1, 0), rows))


def _homography_outline(xy: FloatArray, board_xy: FloatArray, outline: FloatArray,
                        square: float) -> FloatArray | None:
    """(4, 2) image of the board ``outline`` (4, 3) through the homography of the four points
    farthest along the board's diagonals; None when they span almost no area (points along
    one line) or the outline crosses the horizon."""
    u, v = board_xy[:, 0] + board_xy[:, 1], board_xy[:, 0] - board_xy[:, 1]
    pick = [int(u.argmin()), int(v.argmax()), int(u.argmax()), int(v.argmin())]
    quad = board_xy[pick]
    x, y = quad[:, 0], quad[:, 1]
    area = 0.5 * abs(float(x @ y[[1, 2, 3, 0]] - y @ x[[1, 2, 3, 0]]))      # shoelace
    if area < 0.05 * square * square:
        return None
    H = cv2.getPerspectiveTransform(quad.astype(np.float32), xy[pick].astype(np.float32))
    q = np.concatenate([outline[:, :2], quad]) @ H[:, :2].T + H[:, 2]      # (8, 3)
    if not (q[:, 2] * q[4, 2] > 0).all():
        return None
    return q[:4, :2] / q[:4, 2:]


def union(a: Box, b: Box) -> Box:
    """The smallest box holding both."""
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def contains(outer: Box, inner: Box) -> bool:
    """True when ``inner`` lies within ``outer``."""
    return (outer[0] <= inner[0] and outer[1] <= inner[1]
            and outer[2] >= inner[2] and outer[3] >= inner[3])


def mirror_box(box: Box, width: int) -> Box:
    """The box in the left-right mirrored image of the given width."""
    return width - box[2], box[1], width - box[0], box[3]
