"""Importers of 2D keypoints that other tools made, so a session can skip our detector.

``import_keypoints(path)`` recognises the format from the path and its content:

===========================  ===========================================  ===================
path                         format                                       module
===========================  ===========================================  ===================
folder of ``*.json``         OpenPose JSON, one file per frame            ``openpose``
``.json``: list of entries   AlphaPose results (entries with idx or box)  ``alphapose``
with image_id, keypoints     COCO keypoint results (Detectron2, MMPose)   ``coco_results``
``.json``: frame_id /        MMPose 1.x predictions                       ``mmpose``
predictions / instances
``.csv`` from ``scorer``     DeepLabCut                                   ``deeplabcut``
``.h5`` / ``.hdf5``          DeepLabCut (needs the ``dlc`` extra)         ``deeplabcut``
``.csv`` with img_loc_x      caliscope ``xy_<TRACKER>.csv`` (all cameras) ``caliscope``
``.csv`` frame,person,...    the generic keypoint CSV (ours)              ``generic_csv``
===========================  ===========================================  ===================

Each keeps its file's own keypoint set (``rigs.keypoint_map.map_keypoints`` moves it onto
another). None of these formats records the frame rate reliably: the caller gives ``fps``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mocap.errors import DetectionError
from mocap.imports2d import alphapose, coco_results, mmpose
from mocap.imports2d.alphapose import read_alphapose
from mocap.imports2d.assemble import first_line, json_repr
from mocap.imports2d.caliscope import read_caliscope
from mocap.imports2d.coco_results import load_json, read_coco_results
from mocap.imports2d.deeplabcut import H5_SUFFIXES, read_deeplabcut
from mocap.imports2d.generic_csv import COLUMNS, SKELETON_LINE, read_generic_csv
from mocap.imports2d.mmpose import read_mmpose
from mocap.imports2d.openpose import read_openpose
from mocap.keypoints import CameraKeypoints

__all__ = ["import_keypoints", "read_alphapose", "read_caliscope", "read_coco_results",
           "read_deeplabcut", "read_generic_csv", "read_mmpose", "read_openpose"]

JsonReader = Callable[[Path, Any, str | None, float | None], CameraKeypoints]
CsvReader = Callable[[Path, str | None, float | None],
                     CameraKeypoints | dict[str, CameraKeypoints]]


def import_keypoints(path: Path, skeleton: str | None = None, fps: float | None = None
                     ) -> dict[str, CameraKeypoints]:
    """Read another tool's 2D keypoints (module docstring for the formats).

    Args:
        path: a file, or a folder of OpenPose JSON.
        skeleton: the file's keypoint set or layout where the file cannot tell ('body25' or
            'body25b' for 25-keypoint OpenPose, 'h36m17' for H36M models...); None: by content.
        fps: the video's frame rate, or None (no format here records it).
    Returns:
        camera name to keypoints: the path's stem (a folder's name) for one-camera formats,
        ``cam_<n>`` for caliscope's files that hold every camera.
    Raises:
        DetectionError: naming the file, what was expected and what was found.
    """
    path = Path(path)
    if path.is_dir():
        return {path.name: read_openpose(path, skeleton, fps)}
    if not path.is_file():
        raise DetectionError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix == ".json":
        data = load_json(path)
        return {path.stem: _json_reader(path, data)(path, data, skeleton, fps)}
    if suffix == ".csv":
        read = _csv_reader(path)(path, skeleton, fps)
        return read if isinstance(read, dict) else {path.stem: read}
    if suffix in H5_SUFFIXES:
        return {path.stem: read_deeplabcut(path, skeleton, fps)}
    raise DetectionError(f"{path}: unknown keypoint file type '{suffix}'; expected a folder of "
                         "OpenPose JSON, a .json (AlphaPose, COCO results, MMPose), a .csv "
                         "(DeepLabCut, caliscope, the generic keypoint CSV) or DeepLabCut's .h5")


def _json_reader(path: Path, data: Any) -> JsonReader:
    first = data[0] if isinstance(data, list) and data else None
    if isinstance(data, dict) and "people" in data:
        raise DetectionError(f"{path}: one frame of OpenPose JSON; import the folder that "
                             "holds every frame's file")
    if isinstance(data, dict) and "predictions" in data or isinstance(first, dict) and (
            "frame_id" in first or "keypoint_scores" in first):
        return mmpose.from_json
    if isinstance(first, dict) and "image_id" in first and "keypoints" in first:
        return alphapose.from_json if "idx" in first or "box" in first else \
            coco_results.from_json
    raise DetectionError(f"{path}: found {json_repr(data)}; expected AlphaPose or COCO "
                         "keypoint results (a list of {image_id, keypoints, score}) or MMPose "
                         "predictions (frame_id/instances, or keypoints with keypoint_scores)")


def _csv_reader(path: Path) -> CsvReader:
    line = first_line(path)
    cells = [c.strip().lower() for c in line.split(",")]
    if cells[0] == "scorer":
        return read_deeplabcut
    if "img_loc_x" in cells:
        return read_caliscope
    if SKELETON_LINE.match(line) or sorted(cells) == sorted(COLUMNS):
        return read_generic_csv
    raise DetectionError(f"{path}: line 1 is '{line[:80]}'; expected a DeepLabCut CSV (rows "
                         "scorer, bodyparts, coords), a caliscope xy CSV (sync_index, cam_id, "
                         f"keypoint_id, img_loc_x, img_loc_y, ...) or the generic CSV header "
                         f"{','.join(COLUMNS)}")
