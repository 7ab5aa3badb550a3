"""From what importers parse (per-instance rows, text cells) to one camera's keypoint arrays.

Every importer ends the same way: detections of N person-instances, each with a frame number and
a track id, become dense (F, P, K) arrays (frame index is time: frames with nobody stay empty),
then the file's K columns land in a keypoint set (``layouts``) as CameraKeypoints.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mocap.errors import DetectionError
from mocap.imports2d.layouts import Layout
from mocap.keypoints import CameraKeypoints

MAX_FRAMES = 1_000_000            # 4.6 h at 60 fps; a larger frame number is not a frame count
MAX_FPS = 10_000.0                # the same bound as keypoints_io's


def frame_number(path: Path, name: str) -> int:
    """The frame number in a file name or image id: its last run of digits.

    Raises:
        DetectionError: ``name`` holds no number.
    """
    digits = re.findall(r"\d+", re.sub(r"\.[A-Za-z][A-Za-z0-9]*$", "", name))
    if not digits:
        raise DetectionError(f"{path}: cannot tell the frame of '{name}': its name holds no "
                             "frame number; number the frames (e.g. frame_000012)")
    return int(digits[-1])


def json_numbers(path: Path, values: Any, what: str) -> NDArray[np.float64]:
    """A JSON list of numbers as floats (JSON's NaN reads as NaN: not seen).

    Raises:
        DetectionError: naming ``what`` and the first value that is not a number.
    """
    try:
        array = np.array(values)
    except ValueError:                                  # ragged nesting
        array = np.array([], dtype=object)
    if isinstance(values, list) and array.dtype.kind in "iuf":
        return array.astype(float)
    bad = values if not isinstance(values, list) else \
        next((v for v in _leaves(values) if not _is_number(v)), values)
    raise DetectionError(f"{path}: {what} must be numbers, found {json_repr(bad)}; re-export "
                         "the file from its tool or fix that value")


def _leaves(values: list[Any]) -> list[Any]:
    return [leaf for v in values for leaf in (_leaves(v) if isinstance(v, list) else [v])]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def json_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def text_numbers(path: Path, cells: NDArray[np.str_], where: Callable[[int, int], str]
                 ) -> NDArray[np.float64]:
    """(N, C) text cells to floats; an empty cell or 'nan' is NaN (not seen).

    Args:
        where: (row, column) of a cell to how a message names it (e.g. "line 7, column 'x'").
    Raises:
        DetectionError: naming the first cell that is not a number.
    """
    cells = np.char.strip(np.asarray(cells, dtype=str))
    try:
        return np.where(cells == "", "nan", cells).astype(float)
    except ValueError:
        for (r, c), cell in np.ndenumerate(cells):      # only to name the bad cell
            try:
                float(cell or "nan")
            except ValueError:
                raise DetectionError(f"{path}: {where(r, c)}: '{cell}' is not a number; "
                                     "write numbers (empty or nan where not seen)") from None
        raise


def first_line(path: Path) -> str:
    """The file's first line (for telling formats apart and for header comments)."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            return f.readline().strip()
    except (OSError, UnicodeDecodeError) as e:
        raise DetectionError(f"{path}: cannot be read as text ({e})") from e


def csv_table(path: Path, rows_from: int = 0) -> tuple[NDArray[np.str_], list[int]]:
    """A CSV file's rows from ``rows_from`` on as an (N, C) text array, with their line numbers.

    Raises:
        DetectionError: the file cannot be read, or a row has another number of cells.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            rows, lines = [], []
            for row in reader:
                rows.append(row)
                lines.append(reader.line_num)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DetectionError(f"{path}: cannot be read as CSV text ({e})") from e
    rows, lines = rows[rows_from:], lines[rows_from:]
    if not rows:
        return np.zeros((0, 0), dtype=str), lines
    odd = next((i for i, r in enumerate(rows) if len(r) != len(rows[0])), None)
    if odd is not None:
        raise DetectionError(f"{path}: line {lines[odd]} has {len(rows[odd])} cells where line "
                             f"{lines[0]} has {len(rows[0])}; the file is cut or mixes layouts")
    return np.array(rows, dtype=str).reshape(len(rows), -1), lines


def whole_numbers(path: Path, values: NDArray[np.float64], lines: Sequence[int], column: str
                  ) -> NDArray[np.int64]:
    """(N,) parsed cells that must be whole numbers (frame, person, ids)."""
    bad = ~np.isfinite(values) | (values != np.round(values))
    if bad.any():
        i = int(np.argmax(bad))
        raise DetectionError(f"{path}: line {lines[i]}: {column} must be a whole number, got "
                             f"{values[i]}")
    return values.astype(np.int64)


def gather_long(path: Path, frames: NDArray[np.int64], persons: NDArray[np.int64],
                columns: NDArray[np.int64], xy: NDArray[np.float64], score: NDArray[np.float64],
                lines: Sequence[int], n_columns: int
                ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64],
                           NDArray[np.float64]]:
    """Long-format rows (one keypoint of one person in one frame each) to person-instances.

    Args:
        frames, persons, columns: (N,) frame, person id and keypoint column of each row.
        xy: (N, 2) pixels; score: (N,).
    Returns:
        frame (I,), person (I,), xy (I, K, 2) and score (I, K) of the I (frame, person) pairs,
        sorted by frame then person; keypoints no row gives are NaN with score 0.
    Raises:
        DetectionError: two rows give the same keypoint of one person in one frame.
    """
    pairs, inst = np.unique(np.stack([frames, persons], 1).reshape(-1, 2), axis=0,
                            return_inverse=True)
    inst = inst.ravel()
    key = inst * n_columns + columns
    order = np.argsort(key, kind="stable")
    again = np.flatnonzero(np.diff(key[order]) == 0)
    if again.size:
        a, b = sorted(order[again[0]:again[0] + 2])
        raise DetectionError(f"{path}: lines {lines[a]} and {lines[b]} give the same keypoint of "
                             f"person {persons[a]} in frame {frames[a]}; keep one of them")
    out_xy = np.full((len(pairs), n_columns, 2), np.nan)
    out_score = np.zeros((len(pairs), n_columns))
    out_xy[inst, columns], out_score[inst, columns] = xy, score
    return pairs[:, 0], pairs[:, 1], out_xy, out_score


def stack_instances(path: Path, frames: Sequence[int] | NDArray[np.int64],
                    tracks: Sequence[int] | NDArray[np.int64], xy: NDArray[np.float64],
                    score: NDArray[np.float64], n_frames: int = 0
                    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """N person-instances to dense arrays, people in each frame in the order they came.

    Args:
        frames: (N,) frame index of each instance, 0-based.
        tracks: (N,) track id of each instance; if any is negative (untracked) or one frame
            holds an id twice (no identity), every person's id is its slot in the frame instead.
        xy: (N, K, 2) pixels; score: (N, K).
        n_frames: at least this many frames (F = max(n_frames, last frame + 1)).
    Returns:
        xy (F, P, K, 2) with NaN in empty slots, score (F, P, K), track_id (F, P) (-1 empty).
    """
    frames, tracks = np.asarray(frames, dtype=np.int64), np.asarray(tracks, dtype=np.int64)
    check_frames(path, frames)
    n_f = max(n_frames, int(frames.max()) + 1 if frames.size else 0)
    order = np.argsort(frames, kind="stable")
    sorted_frames = frames[order]
    first = np.searchsorted(sorted_frames, sorted_frames)                  # (N,) group starts
    slot = np.empty_like(frames)
    slot[order] = np.arange(frames.size) - first
    n_p = int(slot.max()) + 1 if slot.size else 0
    out_xy = np.full((n_f, n_p, xy.shape[1], 2), np.nan)
    out_score = np.zeros((n_f, n_p, xy.shape[1]))
    out_track = np.full((n_f, n_p), -1, dtype=np.int64)
    out_xy[frames, slot], out_score[frames, slot] = xy, score
    tracked = (tracks >= 0).all() and \
        len(np.unique(np.stack([frames, tracks], 1).reshape(-1, 2), axis=0)) == frames.size
    out_track[frames, slot] = tracks if tracked else slot
    return out_xy, out_score, out_track


def check_frames(path: Path, frames: NDArray[np.int64]) -> None:
    bad = (frames < 0) | (frames >= MAX_FRAMES)
    if bad.any():
        raise DetectionError(f"{path}: frame number {int(frames[bad][0])} is not a frame index "
                             f"(0 to {MAX_FRAMES - 1:,}); number frames from 0 in the order "
                             "of the video")


def camera_keypoints(path: Path, xy: NDArray[np.float64], score: NDArray[np.float64],
                     track: NDArray[np.int64], layout: Layout, fps: float | None
                     ) -> CameraKeypoints:
    """The file's (F, P, K) columns as CameraKeypoints of ``layout``'s set.

    Scores are clipped to [0, 1] (heatmap and SimCC maxima may exceed 1; a NaN score is 0); a
    slot with no seen joint gets track id -1.

    Raises:
        DetectionError: an infinite coordinate (named by frame, person and column), or an fps
            that is not a positive number.
    """
    if np.isinf(xy).any():
        f, p, k = np.argwhere(np.isinf(xy).any(-1))[0]
        raise DetectionError(f"{path}: keypoint {k} of person {p} in frame {f} is infinite; "
                             "write NaN (or a score of 0) where a keypoint was not seen")
    if fps is not None and not (np.isfinite(fps) and 0 < fps <= MAX_FPS):
        raise DetectionError(f"{path}: fps must be a number of frames per second in (0, "
                             f"{MAX_FPS:g}], got {fps!r}")
    score = np.clip(np.nan_to_num(score, nan=0.0), 0.0, 1.0)
    set_xy, set_score = layout.apply(xy, score)
    seen = (np.isfinite(set_xy).all(-1) & (set_score > 0)).any(-1)        # (F, P)
    return CameraKeypoints(set_xy, set_score, np.where(seen, track, -1), layout.skeleton,
                           None if fps is None else float(fps))
