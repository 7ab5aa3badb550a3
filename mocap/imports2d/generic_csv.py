"""The generic keypoint CSV: the layout to convert any other tool's 2D into.

One camera per file, one row per keypoint of one person in one frame, a header naming the six
columns (in any order)::

    # skeleton: coco17
    frame,person,keypoint,x,y,score
    0,0,nose,512.3,301.0,0.98
    0,0,left_eye,518.9,295.4,0.95
    1,0,nose,513.0,300.2,0.97

- ``# skeleton: <set>`` (optional first line): the keypoint set (``coco17``, ``halpe26``,
  ``body25``, ``body25b``, ``blazepose33``, ``h36m17``). Without it (and without the
  ``skeleton=`` argument) the set is the smallest one holding every keypoint name.
- ``frame``: frame index from 0 (frame index is time; frames with no rows are empty).
- ``person``: a whole number that names the same person in every frame (a track id, 0 or more).
- ``keypoint``: the joint's name in the set, snake case (``left_shoulder``; ``LeftShoulder`` is
  read as that too).
- ``x``, ``y``: pixels in the original video, origin at the top-left pixel's corner; empty or
  ``nan`` where not seen.
- ``score``: confidence in [0, 1] (empty: 0). Keypoints with no row are missing.

The frame rate is not part of the file: the caller gives ``fps``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from mocap.errors import DetectionError
from mocap.imports2d.assemble import (
    camera_keypoints,
    csv_table,
    first_line,
    gather_long,
    stack_instances,
    text_numbers,
    whole_numbers,
)
from mocap.imports2d.layouts import layout_from_names
from mocap.keypoints import CameraKeypoints

COLUMNS = ("frame", "person", "keypoint", "x", "y", "score")
NUMERIC = ("frame", "person", "x", "y", "score")
SKELETON_LINE = re.compile(r"#\s*skeleton\s*[:=]\s*(\S+)\s*$")


def read_generic_csv(path: Path, skeleton: str | None = None, fps: float | None = None
                     ) -> CameraKeypoints:
    """One camera's generic keypoint CSV (module docstring).

    Args:
        skeleton: the keypoint set, if the file's ``# skeleton:`` line does not give it.
    Raises:
        DetectionError: naming the file, the line and the column that is wrong.
    """
    path = Path(path)
    declared = SKELETON_LINE.match(first_line(path))
    table, lines = csv_table(path, rows_from=1 if declared else 0)
    skeleton = skeleton or (declared.group(1) if declared else None)
    col = _header(path, table, lines)
    body, lines = table[1:], lines[1:]
    if not len(body) and skeleton is None:
        raise DetectionError(f"{path}: no keypoint rows after the header, so its keypoint set "
                             "is unknown; give '# skeleton: <set>' to import it empty")
    names, joint = np.unique(np.char.strip(body[:, col["keypoint"]]), return_inverse=True)
    layout = layout_from_names(path, [str(n) for n in names], skeleton)
    values = text_numbers(path, body[:, [col[c] for c in NUMERIC]],
                          lambda r, c: f"line {lines[r]}, column '{NUMERIC[c]}'")
    frames = whole_numbers(path, values[:, 0], lines, "frame")
    persons = whole_numbers(path, values[:, 1], lines, "person")
    if (persons < 0).any():
        i = int(np.argmax(persons < 0))
        raise DetectionError(f"{path}: line {lines[i]}: person {persons[i]}; a person is a "
                             "whole number from 0 that names one person in every frame")
    score = np.nan_to_num(values[:, 4], nan=0.0)
    inst_frames, inst_persons, xy, inst_score = gather_long(
        path, frames, persons, joint.ravel().astype(np.int64), values[:, 2:4], score, lines,
        len(names))
    out_xy, out_score, track = stack_instances(path, inst_frames, inst_persons, xy, inst_score)
    return camera_keypoints(path, out_xy, out_score, track, layout, fps)


def _header(path: Path, table: np.ndarray, lines: list[int]) -> dict[str, int]:
    header = [c.strip().lower() for c in table[0]] if len(table) else []
    if sorted(header) != sorted(COLUMNS):
        line = lines[0] if lines else 1
        raise DetectionError(f"{path}: line {line} is {header or 'empty'}; a generic keypoint "
                             f"CSV starts with the header {','.join(COLUMNS)} (any order), "
                             "after an optional '# skeleton: <set>' line")
    return {name: header.index(name) for name in COLUMNS}
