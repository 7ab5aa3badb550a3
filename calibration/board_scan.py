"""Scanning footage for the board: one camera's video or image folder, or every camera in
parallel processes, with a progress bar; when a camera never shows the board, the reason
(``calibration.board_diagnosis``). The per-image work is ``calibration.detection``."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_module
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from calibration.board import Board
from calibration.board_diagnosis import FailureLog, diagnose
from calibration.detection import BoardFinder
from calibration.detections import BoardDetections
from calibration.errors import BoardNotFoundError
from calibration.footage import FrameStream, count_frames

Progress = bool | Callable[[int], Any]
PARENT_POLL_S = 0.5            # how often a worker checks that the main process still lives


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
                             initargs=(ticks, os.getpid())) as pool:
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


def _init_worker(ticks: Any, parent: int) -> None:
    global _TICKS
    _TICKS = ticks
    cv2.setNumThreads(1)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """End this worker within PARENT_POLL_S of its parent's death (a SIGKILL or SIGTERM of the
    main process leaves the pool no chance to stop its workers; they would scan on for
    minutes)."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


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
