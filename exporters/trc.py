"""TRC marker files, the layout OpenSim and Pose2Sim read.

Our world is Z up; OpenSim's is Y up. Files are written Y up (x_trc = x, y_trc = z,
z_trc = -y), in metres, one file per person. The header is the one OpenSim's TRCFileAdapter
writes (and Pose2Sim's ``make_trc``): 8 keys and 8 values, a marker-name row whose names
each take 3 tab-ended columns, an ``X1 Y1 Z1 ...`` row, then a blank line; frames count from
1 and time from 0 s. NaN policy: a missing marker (any coordinate NaN) is 3 empty fields,
which OpenSim 4 reads as NaN (opensim-core PR 2187) and pandas (Pose2Sim) reads as NaN.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from exporters.atomic import atomic_output
from exporters.errors import ExportError

# Z-up world -> Y-up OpenSim: a rotation of -90 degrees about x.
Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def write_trc(xyz: NDArray[np.float64], markers: list[str], fps: float, path: str | Path) -> Path:
    """Write one person's markers.

    Args:
        xyz: (F, J, 3) positions in metres, Z-up world; NaN = missing.
        markers: J marker names.
        fps: frame rate.
        path: output .trc file, written atomically.
    """
    xyz = np.asarray(xyz, dtype=float)
    if xyz.ndim != 3 or xyz.shape[1:] != (len(markers), 3):
        raise ExportError(f"TRC needs (F, {len(markers)}, 3) positions, got {xyz.shape}")
    path = Path(path)
    bad = [m for m in markers if not m.strip() or any(c in m for c in "\t\r\n")]
    if bad:
        raise ExportError(f"{path}: TRC marker names must be non-empty with no tab or line "
                          f"break, got {bad!r}; rename those joints")
    n_frames, n_markers = xyz.shape[:2]
    y_up = xyz @ Z_UP_TO_Y_UP.T                                              # (F, J, 3)
    header = [
        f"PathFileType\t4\t(X/Y/Z)\t{path.name}",
        ("DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame"
         "\tOrigNumFrames"),
        f"{fps:g}\t{fps:g}\t{n_frames}\t{n_markers}\tm\t{fps:g}\t1\t{n_frames}",
        "Frame#\tTime\t" + "".join(f"{m}\t\t\t" for m in markers),
        "\t\t" + "".join(f"X{i}\tY{i}\tZ{i}\t" for i in range(1, n_markers + 1)),
        "",
    ]
    values = np.char.mod("%.6f", y_up.reshape(n_frames, -1))
    values[~np.isfinite(y_up.reshape(n_frames, -1))] = ""
    frames = np.arange(1, n_frames + 1)
    lines = [f"{i}\t{i / fps - 1 / fps:.6f}\t" + "\t".join(row)
             for i, row in zip(frames, values.tolist())]
    with atomic_output(path) as tmp:
        tmp.write_text("\n".join(header + lines) + "\n", encoding="utf-8")
    return path


def read_trc(path: str | Path) -> tuple[NDArray[np.float64], list[str], float]:
    """Read a TRC file back into our Z-up world.

    Returns:
        xyz (F, J, 3) in metres (converted from the file's units), marker names, fps.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        keys, values = lines[1].split("\t"), lines[2].split("\t")
        info = dict(zip(keys, values))
        fps, units = float(info["DataRate"]), info.get("Units", "m").strip()
        markers = [m for m in lines[3].split("\t")[2:] if m.strip()]
        rows = [line.split("\t") for line in lines[5:] if line.strip()]
        data = np.array([[float(v) if v.strip() else np.nan for v in row[2:2 + 3 * len(markers)]]
                         + [np.nan] * max(0, 3 * len(markers) - len(row) + 2) for row in rows])
    except (OSError, IndexError, KeyError, ValueError) as e:
        raise ExportError(f"{path}: not a readable TRC file ({e})") from e
    scale = {"m": 1.0, "mm": 1e-3, "cm": 1e-2}.get(units)
    if scale is None:
        raise ExportError(f"{path}: unknown TRC units '{units}' (expected m, cm or mm)")
    y_up = data.reshape(len(rows), len(markers), 3) * scale
    return y_up @ Z_UP_TO_Y_UP, markers, fps
