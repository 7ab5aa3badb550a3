"""COCO keypoint-results JSON: what Detectron2 (Mask R-CNN), MMPose and most top-down tools write.

The file is a list with one entry per detected person: ``{"image_id": 12, "category_id": 1,
"keypoints": [x0, y0, s0, x1, ...], "score": 0.93}``. Keypoints per person: 17 is COCO-17
(``skeleton='h36m17'`` for H36M models), 26 Halpe-26, 133 COCO-WholeBody (``layouts``).

Frames: integer image ids are frame numbers (the same numbering in every camera keeps cameras
in sync, and an image where nobody was found, which the file leaves out, keeps its place;
1-based ids give an empty frame 0). Image ids that are file names take the number in the name
(``frame_000012.jpg`` is frame 12); names without numbers are numbered in sorted order.
People are numbered by their order in each image (the format has no track ids). The format
does not record the frame rate: the caller gives ``fps``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from mocap.errors import DetectionError
from mocap.imports2d.assemble import (
    camera_keypoints,
    frame_number,
    json_numbers,
    json_repr,
    stack_instances,
)
from mocap.imports2d.layouts import choose_layout
from mocap.keypoints import CameraKeypoints

BY_COUNT: dict[int, str | tuple[str, ...]] = {17: "coco17", 26: "halpe26",
                                              133: "coco_wholebody133"}
EXPECTED = "a list of {image_id, keypoints: [x, y, score, ...], score} (COCO keypoint results)"


def read_coco_results(path: Path, skeleton: str | None = None, fps: float | None = None
                      ) -> CameraKeypoints:
    """One camera's COCO keypoint-results file (module docstring).

    Raises:
        DetectionError: naming the file and the entry that is malformed.
    """
    path = Path(path)
    return from_json(path, load_json(path), skeleton, fps)


def from_json(path: Path, data: Any, skeleton: str | None, fps: float | None
              ) -> CameraKeypoints:
    """The keypoints of COCO results already parsed from ``path``."""
    return results_to_keypoints(path, data, skeleton, fps, BY_COUNT, None, EXPECTED)


def load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DetectionError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: "
                             f"{e.msg}); the file may be cut short: export it again") from e
    except (OSError, UnicodeDecodeError) as e:
        raise DetectionError(f"{path}: cannot be read as JSON text ({e})") from e


def results_to_keypoints(path: Path, entries: Any, skeleton: str | None, fps: float | None,
                         by_count: dict[int, str | tuple[str, ...]], track_key: str | None,
                         expected: str) -> CameraKeypoints:
    """Per-person result entries (COCO's layout, AlphaPose's too) as one camera's keypoints.

    Args:
        track_key: the entries' track-id key (AlphaPose's 'idx'), or None.
        expected: the layout in words, for messages.
    """
    if not isinstance(entries, list) or not all(
            isinstance(e, dict) and "image_id" in e and "keypoints" in e for e in entries):
        bad = entries if not isinstance(entries, list) else next(
            e for e in entries if not (isinstance(e, dict) and "image_id" in e
                                       and "keypoints" in e))
        raise DetectionError(f"{path}: found {json_repr(bad)}; expected {expected}")
    if not entries:
        raise DetectionError(f"{path}: no detections at all; expected {expected}")
    values = _keypoint_values(path, entries)                            # (N, 3K)
    k = values.shape[1] // 3
    layout = choose_layout(path, k, skeleton, by_count)
    frames = image_frames(path, [e["image_id"] for e in entries])
    tracks = [_track(path, i, e.get(track_key, -1)) if track_key else -1
              for i, e in enumerate(entries)]
    xyc = values.reshape(-1, k, 3)
    xy, score, track = stack_instances(path, frames, tracks, xyc[..., :2], xyc[..., 2])
    return camera_keypoints(path, xy, score, track, layout, fps)


def _keypoint_values(path: Path, entries: list[dict[str, Any]]) -> np.ndarray:
    rows = [json_numbers(path, e["keypoints"], f"entry {i} (image {json_repr(e['image_id'])}) "
                         "'keypoints'") for i, e in enumerate(entries)]
    for i, row in enumerate(rows):
        if row.ndim != 1 or row.size == 0 or row.size % 3 or row.size != rows[0].size:
            raise DetectionError(f"{path}: entry {i} (image {json_repr(entries[i]['image_id'])}) "
                                 f"has {row.size} keypoint values where entry 0 has "
                                 f"{rows[0].size}; each entry holds x, y, score per keypoint "
                                 "for one model's keypoints")
    return np.stack(rows)


def image_frames(path: Path, ids: list[Any]) -> np.ndarray:
    """(N,) frame index of each image id (module docstring)."""
    if all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        return np.asarray(ids, dtype=np.int64)
    if not all(isinstance(i, str) for i in ids):
        bad = next(i for i in ids if not isinstance(i, str))
        raise DetectionError(f"{path}: image_id {json_repr(bad)} is neither a whole number nor "
                             "a file name; use one kind of image id per file")
    if all(any(c.isdigit() for c in i) for i in ids):
        return np.array([frame_number(path, i) for i in ids], dtype=np.int64)
    names = sorted(set(ids))
    return np.searchsorted(names, ids).astype(np.int64)


def _track(path: Path, i: int, value: Any) -> int:
    """A track id: a whole number, or a list whose first element is one (AlphaPose writes both)."""
    first = value[0] if isinstance(value, list) and value else value
    if isinstance(first, bool) or not isinstance(first, int | float) \
            or not math.isfinite(first) or first != round(first):
        raise DetectionError(f"{path}: entry {i}'s track id must be a whole number, got "
                             f"{json_repr(value)}")
    return int(first)
