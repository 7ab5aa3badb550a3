"""Why a camera's footage shows no board: the sentence a BoardNotFoundError ends with.

While detection streams frames, :class:`FailureLog` counts the frames without the board and
keeps a few of them (a bounded random sample, so memory stays flat). When a camera ends up
with no board view, :func:`diagnose` tries the usual mistakes on those frames — wrong
``inverted`` flag, wrong dictionary, wrong squares or legacy pattern, inner corners given
instead of squares — and names the one that fits.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
from numpy.typing import NDArray

from calibration.board import Board, aruco_dictionary
from calibration.detection import charuco_corners, find_board
from calibration.marker_search import detector_parameters

_FAMILIES = ("DICT_4X4_1000", "DICT_5X5_1000", "DICT_6X6_1000", "DICT_7X7_1000",
             "DICT_ARUCO_ORIGINAL", "DICT_APRILTAG_36h11", "DICT_APRILTAG_25h9",
             "DICT_ARUCO_MIP_36h12")
_MIN_MARKERS = 2               # markers in a frame that count as "markers seen"
_MIN_FOREIGN = 3               # markers of another dictionary needed to name it


class FailureLog:
    """Frames in which the board was not found: counts and a small random sample of them."""

    def __init__(self, per_kind: int = 3, seed: int = 0) -> None:
        self.n_failed = 0
        self.n_with_markers = 0
        self.max_marker_id = -1
        self._per_kind = per_kind
        self._rng = np.random.default_rng(seed)
        self._seen = [0, 0]                                  # frames without / with markers
        self.samples: list[list[NDArray[np.uint8]]] = [[], []]

    def add(self, index: int, gray: NDArray[np.uint8], marker_ids: NDArray[np.int64]) -> None:
        """Record frame ``index`` (H, W) that showed no board and the marker ids seen in it."""
        self.n_failed += 1
        kind = int(len(marker_ids) >= _MIN_MARKERS)
        if kind:
            self.n_with_markers += 1
            self.max_marker_id = max(self.max_marker_id, int(marker_ids.max()))
        self._seen[kind] += 1
        sample = self.samples[kind]
        if len(sample) < self._per_kind:                     # reservoir sampling
            sample.append(gray.copy())
        else:
            slot = self._rng.integers(self._seen[kind])
            if slot < self._per_kind:
                sample[slot] = gray.copy()

    def release_images(self) -> None:
        """Drop the sampled frames (before sending the log to another process)."""
        self.samples = [[], []]

    def summary(self, board: Board) -> str:
        """The counts as a sentence."""
        if board.type == "checkerboard":
            return f"{self.n_failed} frames showed no complete checkerboard"
        return f"{self.n_with_markers} frames showed ArUco markers but no board"


def diagnose(board: Board, log: FailureLog) -> str:
    """A sentence saying how many frames showed markers but no board and what to fix."""
    cause = _checker_cause(board, log) if board.type == "checkerboard" \
        else _charuco_cause(board, log)
    if cause:
        return f"{log.summary(board)}; {cause}"
    cols, rows = board.squares
    if board.type == "checkerboard":
        return (f"{log.summary(board)}; check {board.source} ({cols}x{rows} squares = "
                f"{cols - 1}x{rows - 1} inner corners), that the whole board is in view, and "
                "whether the board is printed inverted")
    return (f"{log.summary(board)}; check {board.source} (dictionary {board.dictionary}, "
            f"{cols}x{rows} squares) or whether the board is printed inverted")


def _positive(gray: NDArray[np.uint8], inverted: bool) -> NDArray[np.uint8]:
    return np.ascontiguousarray(255 - gray if inverted else gray)


def _count_markers(image: NDArray[np.uint8], dictionary: str) -> tuple[int, int]:
    """(number of markers, largest id) of ``dictionary`` in ``image``."""
    detector = cv2.aruco.ArucoDetector(aruco_dictionary(dictionary), detector_parameters())
    _, ids, _ = detector.detectMarkers(image)
    return (0, -1) if ids is None or len(ids) == 0 else (len(ids), int(ids.max()))


def _charuco_cause(board: Board, log: FailureLog) -> str | None:
    src, flag = board.source, board.inverted
    if log.max_marker_id >= board.n_markers:
        return (f"markers with ids up to {log.max_marker_id} were seen, but a "
                f"{board.squares[0]}x{board.squares[1]} board uses ids 0-{board.n_markers - 1}: "
                f"squares or dictionary in {src} do not match the printed board")
    frames = log.samples[0] + log.samples[1]
    if not log.n_with_markers and any(
            _count_markers(_positive(g, not flag), board.dictionary)[0] >= _MIN_MARKERS
            for g in frames):
        return (f"the markers are found only in the inverted image: set inverted = "
                f"{str(not flag).lower()} in {src}")
    if not log.n_with_markers:
        return _foreign_dictionary(board, frames)
    return _charuco_layout(board, log.samples[1])


def _foreign_dictionary(board: Board, frames: list[NDArray[np.uint8]]) -> str | None:
    own = _family(board.dictionary)
    for name in _FAMILIES:
        if _family(name) == own:
            continue
        for invert in (board.inverted, not board.inverted):
            counts = [_count_markers(_positive(g, invert), name) for g in frames]
            n, top = max(counts, default=(0, -1))
            if n >= _MIN_MARKERS + 1:
                hint = "" if invert == board.inverted else \
                    f" and inverted = {str(invert).lower()}"
                return (f"markers of the {_family(name)} family were found (ids up to {top}), "
                        f"not of {board.dictionary}: set dictionary{hint} in {board.source}")
    return None


def _family(name: str) -> str:
    parts = name.upper().split("_")
    return "_".join(parts[:2]) if parts[1] in ("4X4", "5X5", "6X6", "7X7") else name.upper()


def _charuco_layout(board: Board, frames: list[NDArray[np.uint8]]) -> str | None:
    cols, rows = board.squares
    images = [_positive(g, board.inverted) for g in frames]
    if any(charuco_corners(im, board, legacy=not board.legacy_pattern)[0] is not None
           for im in images):
        return (f"the board is found with legacy_pattern = "
                f"{str(not board.legacy_pattern).lower()}: set it in {board.source}")
    if cols != rows:
        swapped = dataclasses.replace(board, squares=(rows, cols))
        if any(charuco_corners(im, swapped)[0] is not None for im in images):
            return (f"the board is found with squares = [{rows}, {cols}]: set it in "
                    f"{board.source} ([columns, rows] as printed)")
    return None


def _checker_cause(board: Board, log: FailureLog) -> str | None:
    frames = (log.samples[0] + log.samples[1])[:2]
    cols, rows = board.squares
    variants = [(dataclasses.replace(board, inverted=not board.inverted),
                 f"inverted = {str(not board.inverted).lower()}")]
    for dc in (-1, 1):
        if min(cols + dc, rows + dc) >= 4:
            fix = f"squares = [{cols + dc}, {rows + dc}] (count squares, not inner corners)"
            variants.append((dataclasses.replace(board, squares=(cols + dc, rows + dc)), fix))
    for variant, fix in variants:
        if any(find_board(g, variant).xy is not None for g in frames):
            return f"a board is found with {fix}: set it in {board.source}"
    return None
