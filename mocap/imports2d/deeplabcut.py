"""DeepLabCut CSV: ``analyze_videos(..., save_as_csv=True)`` output, single or multi-animal.

Header rows, then one row per frame::

    scorer,DLC_resnet50_humanJan1shuffle1_100000,DLC_resnet50_...,...
    individuals,person1,person1,person1,...          (multi-animal projects only)
    bodyparts,nose,nose,nose,left_eye,...
    coords,x,y,likelihood,x,y,likelihood,...
    0,512.3,301.0,0.98,...

The first column is the frame index (labelled-data files, whose index is an image path or three
path columns, take the number in the image name). Body parts must be the joint names of one of
our keypoint sets (any case style: ``LeftShoulder`` is ``left_shoulder``); without ``skeleton=``
the set is the smallest one holding them all. Individuals are people with fixed track ids in
their column order; DLC's ``single`` individual (unique body parts, not a person) is left out.
Files without likelihood columns (labelled data) score 1 where x and y are given. Empty cells
are missing keypoints. The frame rate is not recorded: the caller gives ``fps``.

DeepLabCut's ``.h5`` holds the same table as a pandas DataFrame (key ``df_with_missing``;
napari-deeplabcut's labels: ``keypoints``) with the header rows as its column levels; it is read
through the same column handling. Reading it needs pandas and PyTables (``pip install
'mocap[dlc]'``); without them, export CSV from DeepLabCut instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from mocap.errors import DetectionError
from mocap.imports2d.assemble import (
    camera_keypoints,
    check_frames,
    csv_table,
    frame_number,
    text_numbers,
    whole_numbers,
)
from mocap.imports2d.layouts import layout_from_names
from mocap.keypoints import CameraKeypoints

COORDS = ("x", "y", "likelihood")
UNIQUE_BODYPARTS = "single"
NUMBER = re.compile(r"[-+]?\d+(\.\d*)?")
H5_SUFFIXES = (".h5", ".hdf5")
H5_KEYS = ("df_with_missing", "keypoints")      # DeepLabCut's analyses, napari-deeplabcut's labels
H5_LEVELS = (["scorer", "bodyparts", "coords"], ["scorer", "individuals", "bodyparts", "coords"])


def read_deeplabcut(path: Path, skeleton: str | None = None, fps: float | None = None
                    ) -> CameraKeypoints:
    """One camera's DeepLabCut CSV or ``.h5`` (module docstring).

    Raises:
        DetectionError: naming the file, the line (CSV) or row (.h5) and the column that is
            wrong; for .h5 also a missing pandas/PyTables or a file that is not DLC's table.
    """
    path = Path(path)
    table = _h5_table(path) if path.suffix.lower() in H5_SUFFIXES else _csv_table(path)
    people, parts, columns = _columns(path, table.header, table.n_index)   # (I, B, 3), -1 absent
    if not len(table.values):
        raise DetectionError(f"{path}: no frame rows after the header; nothing to import")
    frames = _frames(path, table.row_index, table.rows, table.row_word)
    padded = np.concatenate([table.values, np.ones((len(frames), 1))], axis=1)  # -1 picks 1.0
    picked = padded[:, columns]                                                # (N, I, B, 3)
    layout = layout_from_names(path, parts, skeleton)
    n_f = int(frames.max()) + 1
    xy = np.full((n_f, len(people), len(parts), 2), np.nan)
    score = np.zeros((n_f, len(people), len(parts)))
    xy[frames], score[frames] = picked[..., :2], picked[..., 2]
    track = np.broadcast_to(np.arange(len(people)), (n_f, len(people)))
    return camera_keypoints(path, xy, score, track, layout, fps)


class _Table(NamedTuple):
    """A DLC table, from CSV or .h5, as the CSV's header rows and numbers."""
    header: dict[str, list[str]]    # scorer, [individuals,] bodyparts, coords: n_index + C cells
    n_index: int                    # leading header cells that label the index, not values
    row_index: NDArray[np.str_]     # (N, 1 or 3) each row's frame number or image path
    values: NDArray[np.float64]     # (N, C) x, y, likelihood cells; NaN: not seen
    rows: list[int]                 # (N,) where each row is, for messages
    row_word: str                   # "line" (CSV) or "row" (.h5)


def _csv_table(path: Path) -> _Table:
    table, lines = csv_table(path)
    header = _header_rows(path, table, lines)
    n_index = _index_width(path, header["coords"], lines[len(header) - 1])
    body, body_lines = table[len(header):], lines[len(header):]
    values = text_numbers(path, body[:, n_index:],
                          lambda r, c: f"line {body_lines[r]}, column {c + n_index + 1}")
    return _Table(header, n_index, body[:, :n_index], values, body_lines, "line")


def _h5_table(path: Path) -> _Table:
    """DLC's DataFrame as the CSV's header rows: one row per column level, its name first."""
    frame, key = _h5_frame(path)
    names = list(frame.columns.names)
    if names not in H5_LEVELS:
        raise DetectionError(f"{path}: table '{key}' has column levels {names}; expected "
                             "DeepLabCut's (scorer, [individuals,] bodyparts, coords)")
    header = {name: [name] + [str(c) for c in frame.columns.get_level_values(name)]
              for name in names}
    if frame.index.dtype.kind in "fc":
        raise DetectionError(f"{path}: table '{key}' is indexed by {frame.index.dtype} values; "
                             "expected frame numbers 0, 1, ... or image paths")
    labels = [row if isinstance(row, tuple) else (row,) for row in frame.index]
    index = np.array(labels, dtype=str).reshape(len(labels), frame.index.nlevels)  # (N, 1 or 3)
    try:
        values = frame.to_numpy(dtype=float)                              # (N, C)
    except (TypeError, ValueError) as e:
        raise DetectionError(f"{path}: table '{key}' holds cells that are not numbers ({e}); "
                             "expected x, y and likelihood numbers (NaN where not seen)") from e
    return _Table(header, 1, index, values, list(range(1, len(values) + 1)), "row")


def _h5_frame(path: Path) -> tuple[Any, str]:
    """The pandas DataFrame under DLC's key in an HDF5 file, and that key."""
    try:
        import pandas as pd  # type: ignore[import-untyped]
        import tables  # type: ignore[import-untyped]
    except ImportError as e:
        raise DetectionError(f"{path}: reading DeepLabCut's .h5 needs pandas and PyTables "
                             f"({e}); pip install 'mocap[dlc]', or export CSV from DeepLabCut "
                             "(analyze_videos(..., save_as_csv=True)) and import that") from e
    if not path.is_file():
        raise DetectionError(f"{path}: no such file")
    if not tables.is_hdf5_file(path):
        raise DetectionError(f"{path}: not an HDF5 file; expected DeepLabCut's .h5 (a pandas "
                             f"table under the key '{H5_KEYS[0]}')")
    try:
        with pd.HDFStore(path, mode="r") as store:
            keys = [k.lstrip("/") for k in store]
            key = next((k for k in H5_KEYS if k in keys), None)
            frame = None if key is None else store.get(key)
    except (OSError, tables.HDF5ExtError) as e:
        raise DetectionError(f"{path}: cannot be read as a pandas HDF5 file ({e}); expected "
                             "DeepLabCut's .h5") from e
    if key is None or not isinstance(frame, pd.DataFrame):
        found = f"'{key}' is a {type(frame).__name__}" if key else f"its tables are {keys}"
        raise DetectionError(f"{path}: {found}; expected DeepLabCut's DataFrame under the key "
                             f"{' or '.join(H5_KEYS)}, written by analyze_videos")
    return frame, key


def _header_rows(path: Path, table: NDArray[np.str_], lines: list[int]) -> dict[str, list[str]]:
    """The header rows by name (scorer, [individuals,] bodyparts, coords)."""
    first = [str(r[0]).strip().lower() for r in table[:4]] if table.size else []
    names = ["scorer", "individuals", "bodyparts", "coords"] if first[1:2] == ["individuals"] \
        else ["scorer", "bodyparts", "coords"]
    if first[:len(names)] != names:
        raise DetectionError(f"{path}: its first cells are {first}; a DeepLabCut CSV starts "
                             "with the rows scorer, [individuals,] bodyparts, coords; export it "
                             "with deeplabcut.analyze_videos(..., save_as_csv=True)")
    return {name: [str(c).strip() for c in table[i]] for i, name in enumerate(names)}


def _index_width(path: Path, coords: list[str], line: int) -> int:
    """How many leading columns index the rows (1 for videos, 1 or 3 for labelled data)."""
    width = next((i for i, c in enumerate(coords) if c in COORDS), None)
    if width is None or width == 0:
        raise DetectionError(f"{path}: line {line} (coords) names no x, y or likelihood "
                             "column; expected coords,x,y,likelihood,...")
    return width


def _columns(path: Path, header: dict[str, list[str]], n_index: int
             ) -> tuple[list[str], list[str], NDArray[np.int64]]:
    """People, body parts and the (I, B, 3) value column of each x, y, likelihood (-1: none)."""
    coords = header["coords"][n_index:]
    parts_row = header["bodyparts"][n_index:]
    people_row = header.get("individuals", ["person"] * len(header["coords"]))[n_index:]
    keep = [i for i, p in enumerate(people_row) if p != UNIQUE_BODYPARTS]
    people = list(dict.fromkeys(people_row[i] for i in keep))
    if not people:
        raise DetectionError(f"{path}: only DeepLabCut's unique body parts ('single'), no "
                             "individual; nothing to import as people")
    parts = list(dict.fromkeys(parts_row[i] for i in keep))
    columns = np.full((len(people), len(parts), 3), -1, dtype=np.int64)
    for i in keep:
        if coords[i] not in COORDS:
            raise DetectionError(f"{path}: column {i + n_index + 1} is '{coords[i]}'; the coords "
                                 "row holds x, y and likelihood only")
        columns[people.index(people_row[i]), parts.index(parts_row[i]),
                COORDS.index(coords[i])] = i
    missing = np.argwhere(columns[..., :2] < 0)
    if missing.size:
        p, b, c = missing[0]
        raise DetectionError(f"{path}: {people[p]} {parts[b]} has no '{COORDS[c]}' column; each "
                             "body part needs x and y (and likelihood)")
    return people, parts, columns


def _frames(path: Path, index: NDArray[np.str_], lines: list[int], row_word: str
            ) -> NDArray[np.int64]:
    """(N,) frame index of each row: the index number, or the number in an image path.

    Args:
        lines: (N,) where each row is in the file, named in messages as ``row_word`` (line/row).
    """
    last = [str(c).strip() for c in index[:, -1]]
    if index.shape[1] == 1 and all(NUMBER.fullmatch(c) for c in last):
        frames = whole_numbers(path, np.array(last, dtype=float), lines, "the frame index")
    else:
        frames = np.array([frame_number(path, c) for c in last], dtype=np.int64)
    check_frames(path, frames)
    order = np.sort(frames)
    if (np.diff(order) == 0).any():
        again = order[np.flatnonzero(np.diff(order) == 0)[0]]
        rows = [lines[i] for i in np.flatnonzero(frames == again)[:2]]
        raise DetectionError(f"{path}: {row_word}s {rows[0]} and {rows[1]} are both frame "
                             f"{again}; one row per frame")
    return frames
