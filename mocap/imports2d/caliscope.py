"""caliscope's 2D point files, ``xy_<TRACKER>.csv``: every camera's landmarks in one file.

One row per landmark seen, in the three column sets caliscope has written:

- 0.11 and later: ``sync_index, cam_id, frame_time, object_id, keypoint_id, img_loc_x,
  img_loc_y, obj_loc_x, obj_loc_y, obj_loc_z`` (object_id tells people apart);
- earlier: ``sync_index, cam_id`` or ``port``, ``frame_index, frame_time, point_id, img_loc_x,
  img_loc_y, ...`` (one person).

``sync_index`` (caliscope's synchronised frame index) is the frame; camera ``n`` becomes
``cam_n`` (caliscope's video names). The tracker in the file name sets the keypoint ids:

- ``POSE``, ``HOLISTIC``, ``SIMPLE_HOLISTIC`` (MediaPipe): ids 0-32 are BlazePose-33; the
  holistic trackers' hand (100-120, 200-220) and face (500 on) ids are left out;
- ``ONNX_<model>`` with ``halpe26`` in the model name: Halpe-26 ids; with ``coco_wholebody``:
  COCO-WholeBody ids (read as Halpe-26, ``layouts``);
- any other tracker: give ``skeleton=`` (ids are then that set's joint indices).

caliscope writes no confidence: a landmark it wrote scores 1 (its trackers drop points below
their threshold); one it did not write is missing. ``frame_time`` is not used: the caller gives
``fps``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from mocap.errors import DetectionError
from mocap.imports2d.assemble import (
    camera_keypoints,
    csv_table,
    gather_long,
    stack_instances,
    text_numbers,
    whole_numbers,
)
from mocap.imports2d.layouts import Layout, layout_named
from mocap.keypoints import CameraKeypoints

MEDIAPIPE_TRACKERS = ("POSE", "HOLISTIC", "SIMPLE_HOLISTIC")
HAND_AND_FACE_IDS = 100                   # holistic trackers number hands and face from here
FILE_NAME = re.compile(r"xy_(?P<tracker>.+)\.csv", re.IGNORECASE)


def read_caliscope(path: Path, skeleton: str | None = None, fps: float | None = None
                   ) -> dict[str, CameraKeypoints]:
    """Every camera's keypoints in a caliscope ``xy_<TRACKER>.csv`` (module docstring).

    Returns:
        camera name (``cam_<n>``) to its keypoints, all cameras over the same frames.
    Raises:
        DetectionError: naming the file, the line and the column that is wrong, or the tracker
            whose ids are unknown.
    """
    path = Path(path)
    layout = _tracker_layout(path, skeleton)
    table, lines = csv_table(path)
    col = _columns(path, table[0] if len(table) else [])
    body, lines = table[1:], lines[1:]
    names = list(col)
    values = text_numbers(path, body[:, list(col.values())],
                          lambda r, c: f"line {lines[r]}, column '{names[c]}'")
    ints = {n: whole_numbers(path, values[:, i], lines, n)
            for i, n in enumerate(names) if n not in ("img_loc_x", "img_loc_y")}
    ids, cams = ints["keypoint_id"], ints["cam_id"]
    kept = ids < HAND_AND_FACE_IDS if layout.name == "blazepose33" else np.ones(len(ids), bool)
    bad = kept & ((ids < 0) | (ids >= len(layout.columns)))
    if bad.any():
        i = int(np.argmax(bad))
        raise DetectionError(f"{path}: line {lines[i]}: keypoint id {ids[i]} is not one of "
                             f"{layout.name}'s {len(layout.columns)} keypoints; is skeleton= "
                             "(or the tracker in the file name) right?")
    if not kept.any():
        raise DetectionError(f"{path}: no {layout.name} keypoints in it; nothing to import")
    n_frames = int(ints["sync_index"][kept].max()) + 1
    xy = values[:, [names.index("img_loc_x"), names.index("img_loc_y")]]
    cameras = {}
    for cam in np.unique(cams[kept]):
        rows = kept & (cams == cam)
        cameras[f"cam_{cam}"] = _camera(path, layout, fps, n_frames,
                                        np.asarray(lines)[rows].tolist(),
                                        {k: v[rows] for k, v in ints.items()}, xy[rows])
    return cameras


def _tracker_layout(path: Path, skeleton: str | None) -> Layout:
    if skeleton is not None:
        return layout_named(path, skeleton)
    match = FILE_NAME.fullmatch(path.name)
    tracker = match.group("tracker") if match else ""
    if tracker.upper() in MEDIAPIPE_TRACKERS:
        return layout_named(path, "blazepose33")
    if tracker.upper().startswith("ONNX_") and "halpe26" in tracker.lower():
        return layout_named(path, "halpe26")
    if tracker.upper().startswith("ONNX_") and "coco_wholebody" in tracker.lower():
        return layout_named(path, "coco_wholebody133")
    raise DetectionError(f"{path}: cannot tell which keypoints the ids of tracker "
                         f"'{tracker or path.stem}' are; caliscope's body trackers are "
                         f"{', '.join(MEDIAPIPE_TRACKERS)} and ONNX halpe26 / coco_wholebody "
                         "models; give skeleton= for another (ids are its joint indices)")


def _columns(path: Path, header: list[str] | np.ndarray) -> dict[str, int]:
    """Column index by our name: sync_index, cam_id, keypoint_id, object_id?, img_loc_x/y."""
    cells = [str(c).strip() for c in header]
    pick = {"sync_index": ("sync_index",), "cam_id": ("cam_id", "port"),
            "keypoint_id": ("keypoint_id", "point_id"), "object_id": ("object_id",),
            "img_loc_x": ("img_loc_x",), "img_loc_y": ("img_loc_y",)}
    found = {name: next((cells.index(a) for a in aliases if a in cells), None)
             for name, aliases in pick.items()}
    missing = [" or ".join(pick[n]) for n, i in found.items() if i is None and n != "object_id"]
    if missing:
        raise DetectionError(f"{path}: line 1 has no column {', '.join(missing)}; expected "
                             "caliscope's xy CSV header (sync_index, cam_id, keypoint_id, "
                             "img_loc_x, img_loc_y, ...)")
    return {n: i for n, i in found.items() if i is not None}


def _camera(path: Path, layout: Layout, fps: float | None, n_frames: int, lines: list[int],
            ints: dict[str, np.ndarray], xy: np.ndarray) -> CameraKeypoints:
    """One camera's rows: ints (N,) by column, xy (N, 2)."""
    people = ints.get("object_id", np.zeros(len(xy), dtype=np.int64))
    frames, persons, inst_xy, inst_score = gather_long(
        path, ints["sync_index"], people, ints["keypoint_id"], xy, np.ones(len(xy)), lines,
        len(layout.columns))
    out_xy, out_score, track = stack_instances(path, frames, persons, inst_xy, inst_score,
                                               n_frames=n_frames)
    return camera_keypoints(path, out_xy, out_score, track, layout, fps)
