"""OpenPose JSON folders: one file per frame, as ``openpose --write_json`` writes them.

Each file is ``{"people": [{"person_id": [-1], "pose_keypoints_2d": [x0, y0, c0, x1, ...]},
...]}``. The frame index is the last number in the file name (``video_000000000012_keypoints.json``
and Pose2Sim's ``cam01.0012.json`` are frame 12); numbers with no file are frames with nobody.
Keypoints per person: 25 is BODY_25 or BODY_25B (the count cannot tell them apart: say which
with ``skeleton='body25'`` or ``'body25b'``), 18 is OpenPose's COCO model (``coco18``, read as
body25, see ``layouts``). A ``person_id`` of 0 or more (OpenPose's tracking) is the track id;
otherwise people are numbered by their place in the file. Coordinates are pixels (OpenPose's
default ``--keypoint_scale 0``); a keypoint with confidence 0 is missing. OpenPose does not
record the frame rate: the caller gives ``fps``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mocap.errors import DetectionError
from mocap.imports2d.assemble import (
    camera_keypoints,
    frame_number,
    json_numbers,
    json_repr,
    stack_instances,
)
from mocap.imports2d.layouts import choose_layout, layout_named
from mocap.keypoints import CameraKeypoints

BY_COUNT: dict[int, str | tuple[str, ...]] = {25: ("body25", "body25b"), 18: "coco18"}


def read_openpose(folder: Path, skeleton: str | None = None, fps: float | None = None
                  ) -> CameraKeypoints:
    """One camera's folder of OpenPose JSON files.

    Args:
        folder: the folder holding one ``*.json`` per frame.
        skeleton: 'body25', 'body25b' or 'coco18'; needed where the count is 25.
        fps: the video's frame rate, or None.
    Raises:
        DetectionError: naming the file (and person) that is not OpenPose JSON, has a count of
            values that is not x, y, confidence per keypoint, or non-numbers.
    """
    folder = Path(folder)
    frames, files = _frame_files(folder)
    people = [_people(f) for f in files]                 # per file: (tracks, (n, 3K) values)
    counts = {f: v.shape[1] // 3 for f, (_, v) in zip(files, people) if len(v)}
    first, k0 = next(iter(counts.items()), (folder, 0))
    odd = next((f for f, k in counts.items() if k != k0), None)
    if odd is not None:
        raise DetectionError(f"{odd}: {counts[odd]} keypoints per person, but {first} has "
                             f"{k0}; every file of a camera must come from one OpenPose model")
    if not counts and skeleton is None:
        raise DetectionError(f"{folder}: no person in any of its {len(files)} files, so its "
                             "keypoint set is unknown; give skeleton= to import it empty")
    layout = choose_layout(folder, k0, skeleton, BY_COUNT) if counts else \
        layout_named(folder, str(skeleton))
    k = len(layout.columns)
    values = np.concatenate([v.reshape(-1, 3 * k) for _, v in people])   # (N, 3K)
    tracks = np.concatenate([t for t, _ in people]).astype(np.int64)
    per_file = [len(t) for t, _ in people]
    xyc = values.reshape(-1, k, 3)
    xy, score, track = stack_instances(folder, np.repeat(frames, per_file), tracks,
                                       xyc[..., :2], xyc[..., 2], n_frames=max(frames) + 1)
    return camera_keypoints(folder, xy, score, track, layout, fps)


def _frame_files(folder: Path) -> tuple[list[int], list[Path]]:
    """The folder's frame numbers and files, in file-name order."""
    if not folder.is_dir():
        raise DetectionError(f"{folder}: not a folder; OpenPose JSON is read from a folder "
                             "with one *.json file per frame")
    files = sorted(folder.glob("*.json"))
    if not files:
        raise DetectionError(f"{folder}: no *.json files; expected OpenPose's --write_json "
                             "output, one file per frame")
    seen: dict[int, Path] = {}
    for f in files:
        n = frame_number(f, f.name)
        if n in seen:
            raise DetectionError(f"{f}: frame number {n} again (also {seen[n].name}); keep "
                                 "one camera's files per folder, one file per frame")
        seen[n] = f
    return list(seen), files


def _people(path: Path) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """One file's people: track ids (n,) and pose values (n, 3K)."""
    data = _load(path)
    people = data.get("people") if isinstance(data, dict) else None
    if not isinstance(people, list):
        raise DetectionError(f"{path}: not OpenPose JSON: no 'people' list at the top "
                             f"(found {json_repr(data)}); expected OpenPose's --write_json output")
    rows, tracks = [], []
    for i, person in enumerate(people):
        raw = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
        if raw is None:
            raise DetectionError(f"{path}: people[{i}] has no 'pose_keypoints_2d'; run OpenPose "
                                 "with the body model on (not --body 0)")
        values = json_numbers(path, raw, f"people[{i}].pose_keypoints_2d")
        if values.ndim != 1 or values.size == 0 or values.size % 3:
            raise DetectionError(f"{path}: people[{i}].pose_keypoints_2d holds {values.size} "
                                 "values; OpenPose writes x, y, confidence for each keypoint "
                                 "(a multiple of 3); the file is cut or not OpenPose's")
        rows.append(values)
        tracks.append(_person_id(path, i, person.get("person_id", -1)))
    if len({r.size for r in rows}) > 1:
        raise DetectionError(f"{path}: its people hold {sorted({r.size // 3 for r in rows})} "
                             "keypoints; one OpenPose model writes one count")
    values = np.stack(rows) if rows else np.zeros((0, 0))
    return np.array(tracks, dtype=np.int64), values


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DetectionError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: "
                             f"{e.msg}); the file may be cut short: re-export it or remove "
                             "it (its frame then counts as empty)") from e
    except (OSError, UnicodeDecodeError) as e:
        raise DetectionError(f"{path}: cannot be read as JSON text ({e})") from e


def _person_id(path: Path, i: int, value: Any) -> int:
    """OpenPose writes ``person_id`` as ``[-1]`` (untracked) or ``[n]``; a bare int is taken too."""
    ids = json_numbers(path, value if isinstance(value, list) else [value],
                       f"people[{i}].person_id")
    if ids.size != 1 or not np.isfinite(ids[0]) or ids[0] != round(ids[0]):
        raise DetectionError(f"{path}: people[{i}].person_id must be one whole number, got "
                             f"{json_repr(value)}")
    return int(ids[0])
