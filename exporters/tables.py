"""Motion3D as CSV (spreadsheets, ``pandas.read_csv``) and JSON (with its metadata).

CSV, one row per frame and person slot (frame-major), comma separated, a single header row:
``frame, time_s, person_id``, then ``<joint>_x, <joint>_y, <joint>_z`` for every joint (metres,
Z-up world, 1 um steps), then ``<joint>_reprojection_error_px`` (0.001 px steps),
``<joint>_n_views`` and ``<joint>_source`` for every joint (source codes of ``rigs.motion``:
0 missing, 1 triangulated, 2 lifted, 3 filled). Frames count from 0, time_s = frame / fps.

JSON: ``format``, ``format_version``, ``fps``, ``units`` ("m"), ``up_axis`` ("z"),
``skeleton``, ``keypoints`` (the J joint names), ``person_id``, ``source_codes`` and
``frames``: a list of ``{frame, time_s, people}``, each person
``{person_id, xyz: J x [x, y, z], reprojection_error_px: J, n_views: J, source: J}``.

NaN policy: a missing joint (any coordinate NaN) is 3 empty CSV fields, which spreadsheets show
blank and pandas reads NaN, and a JSON ``null`` in place of its [x, y, z]; an unknown
reprojection error is empty / ``null`` likewise. Both files are written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from exporters.atomic import atomic_output
from exporters.errors import ExportError
from rigs.errors import RigError
from rigs.motion import Motion3D
from rigs.skeleton import get_skeleton, skeleton_names

FORMAT = "mocap-motion3d"
FORMAT_VERSION = 1
SOURCE_CODES = {0: "missing", 1: "triangulated", 2: "lifted", 3: "filled"}
QUALITY = ("reprojection_error_px", "n_views", "source")


def csv_columns(joints: list[str] | tuple[str, ...]) -> list[str]:
    """The CSV header for ``joints``, in file order."""
    xyz = [f"{j}_{axis}" for j in joints for axis in "xyz"]
    return ["frame", "time_s", "person_id", *xyz, *[f"{j}_{q}" for q in QUALITY for j in joints]]


def write_motion_csv(motion: Motion3D, path: str | Path) -> Path:
    """Write every person of ``motion`` (xyz (F, P, J, 3) metres) as one CSV table."""
    path = Path(path)
    n_rows, n_joints = motion.n_frames * motion.n_people, len(motion.skeleton)
    frame = np.repeat(np.arange(motion.n_frames), motion.n_people)           # (F*P,)
    xyz = motion.xyz.reshape(n_rows, n_joints, 3)
    coords = np.char.mod("%.6f", xyz)
    coords[~np.isfinite(xyz).all(-1)] = ""
    error = motion.reprojection_error.reshape(n_rows, n_joints)
    errors = np.char.mod("%.3f", error)
    errors[~np.isfinite(error)] = ""
    cells = np.concatenate([
        frame.astype(str)[:, None], np.char.mod("%.9f", frame / motion.fps)[:, None],
        np.tile(motion.person_id, motion.n_frames).astype(str)[:, None],
        coords.reshape(n_rows, 3 * n_joints), errors,
        motion.n_views.reshape(n_rows, n_joints).astype(str),
        motion.source.reshape(n_rows, n_joints).astype(str)], axis=1)
    lines = [",".join(csv_columns(motion.skeleton.joints))] + [",".join(r) for r in cells.tolist()]
    with atomic_output(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _csv_skeleton(path: Path, header: list[str], name: str | None) -> str:
    """The joint names the header's ``_x`` columns give, checked against a known skeleton."""
    joints = [c[:-2] for c in header[3:] if c.endswith("_x")]
    if header != csv_columns(joints):
        wrong = next(c for c, e in zip([*header, ""], [*csv_columns(joints), ""]) if c != e)
        raise ExportError(f"{path}: unexpected CSV column '{wrong}'; the columns must be "
                          f"{', '.join(csv_columns(joints)[:4])}... as write_motion_csv writes")
    matches = [n for n in ([name] if name else skeleton_names())
               if list(get_skeleton(n).joints) == joints]
    if len(matches) != 1:
        raise ExportError(f"{path}: its joints fit {matches or 'no'} keypoint set; pass the "
                          f"one it was written with as skeleton=")
    return matches[0]


def read_motion_csv(path: str | Path, *, skeleton: str | None = None,
                    fps: float | None = None) -> Motion3D:
    """Read a CSV written by :func:`write_motion_csv`.

    Args:
        skeleton: keypoint-set name; by default the one set whose joints the columns name.
        fps: frame rate; by default from the frame and time_s columns, to 0.001 fps.
    Returns:
        Motion3D with xyz (F, P, J, 3) metres; slots absent from a frame are missing.
    """
    path = Path(path)
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        header = lines[0].split(",")
        cells = np.array([line.split(",") for line in lines[1:]])            # (rows, columns)
        values = np.where(cells == "", "nan", cells).astype(float).reshape(-1, len(header))
    except (OSError, IndexError, ValueError) as e:
        raise ExportError(f"{path}: not a readable motion CSV ({e})") from e
    name = _csv_skeleton(path, header, skeleton)
    n_joints = len(get_skeleton(name))
    frame = values[:, 0].astype(int)
    ids, first = np.unique(values[:, 2].astype(int), return_index=True)
    person_id = ids[np.argsort(first)]                                       # (P,) file order
    slot = np.argsort(np.argsort(first))[np.searchsorted(ids, values[:, 2].astype(int))]
    if fps is None:
        span = values[frame.argmax(), 1] - values[frame.argmin(), 1]
        if not span > 0:
            raise ExportError(f"{path}: one frame only or no time_s span; pass fps=")
        fps = round(float(np.ptp(frame) / span), 3)
    grid = np.full((frame.max() + 1, len(person_id), 6 * n_joints), np.nan)
    grid[frame, slot] = values[:, 3:]
    xyz = grid[..., :3 * n_joints].reshape(*grid.shape[:2], n_joints, 3)
    error, views, source = np.split(grid[..., 3 * n_joints:], 3, axis=-1)
    try:
        return Motion3D(xyz=xyz, skeleton=get_skeleton(name), fps=fps,
                        reprojection_error=error, n_views=np.nan_to_num(views),
                        source=np.nan_to_num(source), person_id=person_id)
    except RigError as e:
        raise ExportError(f"{path}: {e}") from e


def _nulls(values: NDArray[np.float64], digits: int) -> list[Any]:
    """(..., J) or (..., J, 3) floats as nested lists, a missing value or joint as None."""
    known = np.isfinite(values) if values.ndim == 1 else np.isfinite(values).all(-1)
    return [v if k else None for v, k in zip(np.round(values, digits).tolist(), known.tolist())]


def write_motion_json(motion: Motion3D, path: str | Path) -> Path:
    """Write ``motion`` (xyz (F, P, J, 3) metres) with its metadata as one JSON document."""
    path = Path(path)
    people = zip(motion.xyz.reshape(-1, len(motion.skeleton), 3),
                 motion.reprojection_error.reshape(-1, len(motion.skeleton)),
                 motion.n_views.reshape(-1, len(motion.skeleton)).tolist(),
                 motion.source.reshape(-1, len(motion.skeleton)).tolist(),
                 np.tile(motion.person_id, motion.n_frames).tolist())
    entries = [{"person_id": pid, "xyz": _nulls(xyz, 6), "reprojection_error_px": _nulls(err, 3),
                "n_views": views, "source": source}
               for xyz, err, views, source, pid in people]
    frames = [{"frame": f, "time_s": round(f / motion.fps, 9),
               "people": entries[f * motion.n_people:(f + 1) * motion.n_people]}
              for f in range(motion.n_frames)]
    document = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "fps": motion.fps, "units": "m",
        "up_axis": "z", "skeleton": motion.skeleton.name, "keypoints": list(motion.skeleton.joints),
        "person_id": motion.person_id.tolist(),
        "source_codes": {str(k): v for k, v in SOURCE_CODES.items()}, "frames": frames}
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(document, allow_nan=False), encoding="utf-8")
    return path


def read_motion_json(path: str | Path) -> Motion3D:
    """Read a JSON written by :func:`write_motion_json`; xyz (F, P, J, 3) metres, Z up."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != FORMAT or doc.get("units") != "m" or doc.get("up_axis") != "z":
            raise ExportError(f"{path}: not a {FORMAT} file in metres, Z up (format "
                              f"{doc.get('format')!r}); write it with write_motion_json")
        skeleton = get_skeleton(doc["skeleton"])
        if doc["keypoints"] != list(skeleton.joints):
            raise ExportError(f"{path}: 'keypoints' do not match the {skeleton.name} joint list")
        people = [p for f in doc["frames"] for p in f["people"]]
        shape = (len(doc["frames"]), len(doc["person_id"]), len(skeleton))
        xyz = np.array([[[np.nan] * 3 if v is None else v for v in p["xyz"]] for p in people],
                       float).reshape(*shape, 3)
        error = np.array([p["reprojection_error_px"] for p in people], float).reshape(shape)
        return Motion3D(xyz=xyz, skeleton=skeleton, fps=float(doc["fps"]),
                        reprojection_error=error,
                        n_views=np.array([p["n_views"] for p in people]).reshape(shape),
                        source=np.array([p["source"] for p in people]).reshape(shape),
                        person_id=doc["person_id"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RigError) as e:
        raise ExportError(f"{path}: not a readable {FORMAT} JSON ({e})") from e
