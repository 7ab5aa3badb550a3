"""Frame synchronisation of calibration footage: which frames of the cameras show one instant.

A :class:`SyncTable` maps each synchronized index ``s`` (one instant, S of them, in time
order) to every camera's own frame index, ``-1`` where that camera has no frame then. It comes
from per-frame capture times (:func:`sync_by_timestamps`, e.g. read from caliscope's
``timestamps.csv`` by :func:`read_timestamps`) or, for footage recorded in lockstep, from the
frame index alone (:func:`sync_by_index`). :func:`sync_footage` picks one for a session.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from calibration.detections import BoardDetections
from calibration.errors import SyncError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# column names of the two layouts read_timestamps understands
_CALISCOPE_CAMERA = ("cam_id", "port")
_CALISCOPE_FRAME, _CALISCOPE_TIME = "frame_index", "frame_time"
_GENERIC = ("camera", "frame", "time")


@dataclass(frozen=True, eq=False)
class SyncTable:
    """Frames of C cameras grouped into S synchronized instants.

    Attributes:
        cameras: (C,) camera names.
        frames: (C, S) each camera's own frame index at each instant; -1 where it has none.
        times: (S,) the instant in seconds (mean capture time of its frames); NaN if unknown.
        spread: (S,) latest minus earliest capture time of the instant's frames, seconds
            (0 for a single frame); NaN if unknown.
    """

    cameras: tuple[str, ...]
    frames: IntArray
    times: FloatArray
    spread: FloatArray

    def __post_init__(self) -> None:
        frames = np.asarray(self.frames, dtype=np.int64).reshape(len(self.cameras), -1)
        values = {"frames": frames, "times": np.asarray(self.times, dtype=float),
                  "spread": np.asarray(self.spread, dtype=float)}
        for key in ("times", "spread"):
            if values[key].shape != (frames.shape[1],):
                raise SyncError(f"SyncTable.{key} has shape {values[key].shape}, expected "
                                f"({frames.shape[1]},)")
        object.__setattr__(self, "cameras", tuple(self.cameras))
        for key, value in values.items():
            value.setflags(write=False)
            object.__setattr__(self, key, value)

    def __len__(self) -> int:
        return self.frames.shape[1]

    def __getitem__(self, camera: str) -> IntArray:
        """(S,) frame indices of ``camera``, -1 where it has no frame."""
        try:
            return self.frames[self.cameras.index(camera)]
        except ValueError:
            raise SyncError(f"camera '{camera}' is not in the sync table (it has "
                            f"{', '.join(self.cameras)})") from None

    @property
    def n_views(self) -> IntArray:
        """(S,) how many cameras have a frame at each instant."""
        return (self.frames >= 0).sum(axis=0)

    def as_dict(self) -> dict[str, IntArray]:
        """``{camera: (S,) frame indices}``."""
        return dict(zip(self.cameras, self.frames))

    def corners(self, detections: Mapping[str, BoardDetections]) -> FloatArray:
        """(C, S, K, 2) each camera's board corners at each instant (cameras in this table's
        order, ``detections`` in their own frame indices); NaN where a camera has no frame
        then or did not see the corner."""
        n_corners = next(iter(detections.values())).xy.shape[1]
        xy = np.full((len(self.cameras), len(self), n_corners, 2), np.nan)
        for c, name in enumerate(self.cameras):
            det = detections[name]
            row = np.full(det.n_frames + 1, -1)        # frame -> detection row; [-1] = none
            row[det.frames] = np.arange(det.frames.size)
            rows = row[np.clip(self.frames[c], -1, det.n_frames)]
            xy[c, rows >= 0] = det.xy[rows[rows >= 0]]
        return xy


# --- reading -------------------------------------------------------------------------------
def read_timestamps(path: str | Path) -> dict[str, FloatArray]:
    """Per-camera capture times from a timestamps CSV, ``{camera: (N,) seconds}``.

    Two layouts, told apart by the header:

    - caliscope: ``cam_id`` (or ``port``), ``frame_time`` and optionally ``frame_index``
      (other columns such as ``sync_index`` are ignored). Cameras are named ``cam_<port>``.
      A camera's rows in frame-index order (file order without ``frame_index``) are its video
      frames 0, 1, ...; caliscope's frame indices may start above 0 in trimmed recordings.
    - generic: ``camera``, ``frame`` (0-based video frame), ``time`` (seconds).

    Element ``i`` of a camera's array is the capture time of its video frame ``i``.

    Raises:
        SyncError: naming the file, the line and the camera: missing columns, a value that is
            not a number, a frame listed twice or skipped, times that do not increase.
    """
    path = Path(path)
    header, rows = _read_csv(path)
    camera_col, frame_col, time_col, caliscope = _layout(header, path)
    cams = [row[camera_col].strip() for row in rows]                    # (R,)
    times = _column_numbers(rows, time_col, header, path)               # (R,)
    frames = (_column_numbers(rows, frame_col, header, path) if frame_col is not None
              else None)                                                # (R,) or file order
    lines = np.arange(len(rows)) + 2                                    # 1-based, after header
    if caliscope:
        cams = [_port_name(c, line, path) for c, line in zip(cams, lines)]
    names, which = np.unique(np.array(cams, dtype=object), return_inverse=True)
    first_row = np.array([np.flatnonzero(which == i)[0] for i in range(len(names))])
    ports = [int(str(n).removeprefix("cam_")) for n in names] if caliscope else first_row
    result = {}
    for i in np.argsort(ports, kind="stable"):      # caliscope: by port; generic: file order
        rows_c = np.flatnonzero(which == i)
        if frames is not None:
            rows_c = rows_c[np.argsort(frames[rows_c], kind="stable")]
            _check_frames(frames[rows_c], lines[rows_c], str(names[i]), path,
                          zero_based=not caliscope)
        _check_increasing(times[rows_c], str(names[i]), lines[rows_c], path)
        result[str(names[i])] = times[rows_c]
    return result


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    if not path.is_file():
        raise SyncError(f"{path}: timestamps file not found")
    try:
        with path.open(newline="", encoding="utf-8") as f:
            table = [row for row in csv.reader(f) if row and any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise SyncError(f"{path}: cannot be read as CSV ({e})") from e
    if len(table) < 2:
        raise SyncError(f"{path}: no timestamp rows; expected a header and one row per frame")
    header = [h.strip().lower() for h in table[0]]
    for line, row in enumerate(table[1:], start=2):
        if len(row) != len(header):
            raise SyncError(f"{path}: line {line} has {len(row)} values but the header has "
                            f"{len(header)} columns ({', '.join(header)})")
    return header, table[1:]


def _layout(header: list[str], path: Path) -> tuple[int, int | None, int, bool]:
    """Column indices (camera, frame or None, time) and whether the layout is caliscope's."""
    camera = next((c for c in _CALISCOPE_CAMERA if c in header), None)
    if camera is not None and _CALISCOPE_TIME in header:
        frame = header.index(_CALISCOPE_FRAME) if _CALISCOPE_FRAME in header else None
        return header.index(camera), frame, header.index(_CALISCOPE_TIME), True
    if all(c in header for c in _GENERIC):
        return header.index("camera"), header.index("frame"), header.index("time"), False
    raise SyncError(f"{path}: the header has columns {', '.join(header)}; expected caliscope's "
                    "(cam_id or port, frame_time[, frame_index]) or camera, frame, time "
                    "(time in seconds, frame the 0-based video frame)")


def _column_numbers(rows: list[list[str]], col: int, header: list[str],
                    path: Path) -> FloatArray:
    cells = [row[col].strip() for row in rows]
    try:
        values = np.array(cells, dtype=float)
    except ValueError:
        values = None
    if values is None or not np.isfinite(values).all():
        for line, cell in enumerate(cells, start=2):
            try:
                ok = np.isfinite(float(cell))
            except ValueError:
                ok = False
            if not ok:
                raise SyncError(f"{path}: line {line}, column '{header[col]}': {cell!r} is not "
                                "a finite number")
    return np.asarray(values, dtype=float)


def _port_name(value: str, line: int, path: Path) -> str:
    try:
        port = float(value)
    except ValueError:
        port = float("nan")
    if not port.is_integer():
        raise SyncError(f"{path}: line {line}: camera port {value!r} is not an integer")
    return f"cam_{int(port)}"


def _check_frames(frames: FloatArray, lines: IntArray, camera: str, path: Path,
                  zero_based: bool) -> None:
    """Frame numbers (N,), sorted, must be whole and consecutive (from 0 when ``zero_based``)."""
    bad = np.flatnonzero(frames != np.round(frames))
    if bad.size:
        raise SyncError(f"{path}: line {lines[bad[0]]}, camera {camera}: frame "
                        f"{frames[bad[0]]} is not a whole number")
    if zero_based and frames[0] != 0:
        raise SyncError(f"{path}: camera {camera}: the first frame listed is {int(frames[0])}; "
                        "frames are 0-based video frame indices, list every frame from 0")
    step = np.diff(frames)
    bad = np.flatnonzero(step != 1)
    if bad.size:
        k = bad[0]
        gap = (f"frame {int(frames[k]) + 1} is" if step[k] == 2 else
               f"frames {int(frames[k]) + 1}..{int(frames[k + 1]) - 1} are")
        what = (f"frame {int(frames[k])} is listed twice (lines {lines[k]} and {lines[k + 1]})"
                if step[k] == 0 else
                f"{gap} missing (between lines {lines[k]} and {lines[k + 1]})")
        raise SyncError(f"{path}: camera {camera}: {what}; every video frame needs one row")


def _check_increasing(times: FloatArray, camera: str, lines: IntArray | None,
                      path: Path | None) -> None:
    """Capture times (N,) must strictly increase with the frame index."""
    bad = np.flatnonzero(np.diff(times) <= 0)
    if bad.size:
        k = bad[0]
        where = f"{path}: line {lines[k + 1]}, " if path is not None and lines is not None else ""
        raise SyncError(f"{where}camera {camera}: frame {k + 1} has time {times[k + 1]!r} s, not "
                        f"after frame {k} at {times[k]!r} s; times must increase with the frame "
                        "(fix the clock jump or drop the camera's bad rows)")


# --- synchronising -------------------------------------------------------------------------
def sync_by_index(n_frames: Mapping[str, int], fps: float | None = None,
                  shifts: Mapping[str, int] | None = None) -> SyncTable:
    """Instant ``s`` is frame ``s`` of every camera (footage recorded in lockstep).

    Args:
        n_frames: ``{camera: number of frames}``.
        fps: frame rate giving ``times = s / fps``; ``None`` leaves the times NaN.
        shifts: ``{camera: k}``: that camera's frame ``f`` shows instant ``f + k`` instead
            (it started recording ``k`` frames late); instants then start at the earliest.

    Returns:
        S instants from the earliest frame to the latest; -1 where a camera has no frame.
    """
    names = list(n_frames)
    counts = np.array([int(n_frames[c]) for c in names], dtype=np.int64)        # (C,)
    if not names or (counts < 0).any():
        raise SyncError(f"frame counts must be given and >= 0, got {dict(n_frames)}")
    shift = np.array([int((shifts or {}).get(c, 0)) for c in names], dtype=np.int64)
    shift -= shift.min()
    S = int((counts + shift).max())
    s = np.arange(S)
    frames = s[None, :] - shift[:, None]                                        # (C, S)
    frames = np.where((frames >= 0) & (frames < counts[:, None]), frames, -1)
    if fps is not None and not fps > 0:
        raise SyncError(f"fps must be > 0, got {fps}")
    times = s / fps if fps is not None else np.full(S, np.nan)
    spread = np.zeros(S) if fps is not None else np.full(S, np.nan)
    return SyncTable(tuple(names), frames, times, spread)


def sync_by_timestamps(times: Mapping[str, FloatArray],
                       tolerance: float | None = None) -> SyncTable:
    """Group the frames of different cameras captured at the same instant.

    The camera with the most frames seeds the instants; each other camera in turn matches
    every frame to the nearest instant (its running mean time) within ``tolerance``, keeping
    the closest frame where two compete, and its unmatched frames become new instants. So a
    camera's frame joins at most one instant and an instant holds at most one frame per camera.

    Args:
        times: ``{camera: (N,) capture times in seconds}``, strictly increasing per camera
            (element ``i`` is the camera's frame ``i``).
        tolerance: largest distance in seconds from a frame to its instant; default half the
            shortest median frame interval among the cameras.

    Returns:
        a :class:`SyncTable` with the instants in time order.

    Raises:
        SyncError: naming the camera whose times are not increasing or not finite, or when
            the tolerance cannot be inferred.
    """
    names = list(times)
    series = [np.asarray(times[c], dtype=float) for c in names]
    for name, t in zip(names, series):
        if t.ndim != 1 or not np.isfinite(t).all():
            raise SyncError(f"camera {name}: times must be a 1-D array of finite seconds, got "
                            f"shape {t.shape}")
        _check_increasing(t, name, None, None)
    tol = _tolerance(names, series, tolerance)
    members = np.full((len(names), 0), -1, dtype=np.int64)      # (C, G)
    total, count = np.zeros(0), np.zeros(0)                     # (G,) sum and number of times
    for c in sorted(range(len(names)), key=lambda i: -series[i].size):
        t = series[c]
        match = _match_nearest(total / np.maximum(count, 1), t, tol)            # (N,)
        hit = match >= 0
        members[c, match[hit]] = np.flatnonzero(hit)
        np.add.at(total, match[hit], t[hit])
        np.add.at(count, match[hit], 1)
        new = np.full((len(names), int((~hit).sum())), -1, dtype=np.int64)
        new[c] = np.flatnonzero(~hit)
        members = np.concatenate([members, new], axis=1)
        total = np.concatenate([total, t[~hit]])
        count = np.concatenate([count, np.ones(new.shape[1])])
        order = np.argsort(total / count, kind="stable")
        members, total, count = members[:, order], total[order], count[order]
    return SyncTable(tuple(names), members, total / np.maximum(count, 1),
                     _spread(members, series))


def frame_period(times: FloatArray) -> float | None:
    """The median time between a camera's frames (``times`` (N,) seconds); None below 2."""
    t = np.asarray(times, float).reshape(-1)
    return float(np.median(np.diff(t))) if t.size >= 2 else None


def _tolerance(names: list[str], series: list[FloatArray], tolerance: float | None) -> float:
    if tolerance is not None:
        if not (np.isfinite(tolerance) and tolerance > 0):
            raise SyncError(f"tolerance must be a positive number of seconds, got {tolerance}")
        return float(tolerance)
    periods = [p for t in series if (p := frame_period(t)) is not None]
    if not periods:
        raise SyncError(f"cameras {', '.join(names)} have fewer than 2 frames each, so the frame "
                        "period is unknown; pass tolerance=<seconds>")
    return 0.5 * min(periods)


def _match_nearest(grid: FloatArray, t: FloatArray, tol: float) -> IntArray:
    """For sorted instants (G,) and times (N,): index of the nearest instant within ``tol``,
    one time per instant (the closest), else -1; (N,)."""
    match = np.full(t.size, -1, dtype=np.int64)
    if grid.size == 0 or t.size == 0:
        return match
    k = np.searchsorted(grid, t)
    lo, hi = np.clip(k - 1, 0, grid.size - 1), np.clip(k, 0, grid.size - 1)
    pick = np.where(np.abs(t - grid[lo]) <= np.abs(grid[hi] - t), lo, hi)      # (N,)
    dist = np.abs(t - grid[pick])
    idx = np.flatnonzero(dist <= tol)
    idx = idx[np.lexsort((dist[idx], pick[idx]))]               # by instant, closest first
    first = np.ones(idx.size, dtype=bool)
    first[1:] = pick[idx[1:]] != pick[idx[:-1]]
    match[idx[first]] = pick[idx[first]]
    return match


def _spread(members: IntArray, series: list[FloatArray]) -> FloatArray:
    """(S,) latest minus earliest capture time per instant."""
    stamp = np.full(members.shape, np.nan)                                      # (C, S)
    for c, t in enumerate(series):
        seen = members[c] >= 0
        stamp[c, seen] = t[members[c, seen]]
    if stamp.shape[1] == 0:
        return np.zeros(0)
    return np.nanmax(stamp, axis=0) - np.nanmin(stamp, axis=0)


# --- sessions ------------------------------------------------------------------------------
def check_footage(times: Mapping[str, FloatArray], n_frames: Mapping[str, int],
                  source: str | Path) -> None:
    """The timestamps (from ``source``) and the footage must list the same cameras and frames.

    Raises:
        SyncError: a camera with timestamps but no footage, footage but no timestamps, or a
            different number of timestamps and frames.
    """
    extra = [c for c in times if c not in n_frames]
    if extra:
        raise SyncError(f"{source}: cameras {', '.join(extra)} have timestamps but no footage "
                        f"(footage found for {', '.join(n_frames) or 'none'}); add their videos "
                        "or remove their rows")
    missing = [c for c in n_frames if c not in times]
    if missing:
        raise SyncError(f"{source}: cameras {', '.join(missing)} have footage but no "
                        "timestamps; add their rows, or remove the file to pair frames by index")
    for camera, n in n_frames.items():
        if len(times[camera]) != n:
            raise SyncError(f"{source}: camera {camera} has {len(times[camera])} timestamps but "
                            f"its footage has {n} frames; they must be one per frame")


def footage_times(n_frames: Mapping[str, int], timestamps: str | Path | None
                  ) -> dict[str, FloatArray] | None:
    """Each camera's frame times from a ``timestamps`` CSV (:func:`read_timestamps`), checked
    against its footage's ``n_frames`` and in their order; None without a file."""
    if timestamps is None:
        return None
    times = read_timestamps(timestamps)
    check_footage(times, n_frames, timestamps)
    return {c: times[c] for c in n_frames}


def sync_footage(n_frames: Mapping[str, int], timestamps: str | Path | None = None,
                 tolerance: float | None = None) -> SyncTable:
    """Synchronize a session's footage: by ``timestamps`` (a CSV) if given, else by index.

    Args:
        n_frames: ``{camera: number of frames of its footage}``, in the rig's camera order.
        timestamps: path of the timestamps CSV (see :func:`read_timestamps`), or None.
        tolerance: see :func:`sync_by_timestamps`.
    """
    times = footage_times(n_frames, timestamps)
    return sync_by_index(n_frames) if times is None else sync_by_timestamps(times, tolerance)
