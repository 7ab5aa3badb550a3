"""Scanning footage for the board: one camera's video or image folder, or every camera in
parallel processes, with a progress bar; when a camera never shows the board, the reason
(``calibration.board_diagnosis``). The per-image work is ``calibration.detection``."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from calibration.board import Board
from calibration.board_diagnosis import FailureLog, diagnose
from calibration.detection import BoardFinder
from calibration.detections import BoardDetections
from calibration.errors import BoardNotFoundError
from calibration.footage import FrameStream, count_frames
from calibration.process_pool import run_tasks, tick

Progress = bool | Callable[[int], Any]


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
    tasks = {cam: (_scan_task, (str(p), board, cam, step)) for cam, p in footage.items()}
    with tqdm(total=sum(totals.values()), desc="board detection", unit="frame",
              disable=not progress) as bar:
        outcomes = run_tasks(tasks, workers=workers or os.cpu_count() or 1, progress=bar.update)
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


def _scan_task(path: str, board: Board, camera: str, step: int) -> _Outcome:
    """One camera's scan as a task of ``run_tasks`` (its images dropped before pickling)."""
    outcome = _scan(Path(path), board, camera, step, tick)
    outcome.log.release_images()
    return outcome
