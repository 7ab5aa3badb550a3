"""MMPose 1.x prediction JSON (``MMPoseInferencer(...)(video, pred_out_dir=...)``).

Three layouts, one file each:

- a video's predictions: ``[{"frame_id": 0, "instances": [instance, ...]}, ...]``;
- the inferencer's result dict: ``{"predictions": [[instance, ...], ...]}`` (one list per frame);
- one image's predictions: ``[instance, ...]`` (one frame).

An instance is ``{"keypoints": [[x, y], ...], "keypoint_scores": [s, ...], "bbox": ...,
"bbox_score": ...}`` with an optional ``track_id``; without one, people are numbered by their
order in the frame. Keypoints per person: 17 is COCO-17 (``skeleton='h36m17'`` for H36M
models), 26 Halpe-26, 133 COCO-WholeBody (``layouts``). Scores above 1 (SimCC heads) are
clipped to 1. The frame rate is not recorded: the caller gives ``fps``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mocap.errors import DetectionError
from mocap.imports2d.assemble import camera_keypoints, json_numbers, json_repr, stack_instances
from mocap.imports2d.coco_results import load_json
from mocap.imports2d.layouts import choose_layout, layout_named
from mocap.keypoints import CameraKeypoints

BY_COUNT: dict[int, str | tuple[str, ...]] = {17: "coco17", 26: "halpe26",
                                              133: "coco_wholebody133"}
EXPECTED = ("MMPose predictions: a list of {frame_id, instances}, a dict with 'predictions' "
            "(one list of instances per frame), or one image's list of instances, each "
            "instance {keypoints: [[x, y], ...], keypoint_scores: [...]}")


def read_mmpose(path: Path, skeleton: str | None = None, fps: float | None = None
                ) -> CameraKeypoints:
    """One camera's MMPose prediction file (module docstring).

    Raises:
        DetectionError: naming the file, the frame and the instance that is malformed.
    """
    path = Path(path)
    return from_json(path, load_json(path), skeleton, fps)


def from_json(path: Path, data: Any, skeleton: str | None, fps: float | None
              ) -> CameraKeypoints:
    """The keypoints of MMPose predictions already parsed from ``path``."""
    frames = mmpose_frames(path, data)                           # [(frame, [instance...])]
    found = [(f, i, inst) for f, insts in frames for i, inst in enumerate(insts)]
    if not found and skeleton is None:
        raise DetectionError(f"{path}: no person in any frame, so its keypoint set is unknown; "
                             "give skeleton= to import it empty")
    xy = [_keypoints(path, f, i, inst) for f, i, inst in found]      # [(K, 2), (K,)]
    counts = {k.shape[0] for k, _ in xy}
    if len(counts) > 1:
        raise DetectionError(f"{path}: instances hold {sorted(counts)} keypoints; one model "
                             "writes one count")
    layout = choose_layout(path, counts.pop(), skeleton, BY_COUNT) if counts else \
        layout_named(path, str(skeleton))
    n = len(layout.columns)
    points = np.array([p for p, _ in xy]).reshape(-1, n, 2)
    scores = np.array([s for _, s in xy]).reshape(-1, n)
    tracks = [_track(path, f, i, inst.get("track_id", -1)) for f, i, inst in found]
    out_xy, out_score, track = stack_instances(
        path, [f for f, _, _ in found], tracks, points, scores,
        n_frames=max((f for f, _ in frames), default=-1) + 1)
    return camera_keypoints(path, out_xy, out_score, track, layout, fps)


def mmpose_frames(path: Path, data: Any) -> list[tuple[int, list[Any]]]:
    """The file's (frame index, instances) pairs, whichever of the three layouts it has."""
    if isinstance(data, dict) and isinstance(data.get("predictions"), list):
        return [(f, _instances(path, f, insts)) for f, insts in enumerate(data["predictions"])]
    if isinstance(data, list) and all(isinstance(e, dict) and "frame_id" in e for e in data) \
            and data:
        return [(_frame_id(path, e["frame_id"]), _instances(path, e["frame_id"],
                                                             e.get("instances")))
                for e in data]
    if isinstance(data, list) and all(isinstance(e, dict) and "keypoints" in e for e in data):
        return [(0, data)]
    raise DetectionError(f"{path}: found {json_repr(data)}; expected {EXPECTED}")


def _instances(path: Path, frame: Any, value: Any) -> list[Any]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise DetectionError(f"{path}: frame {json_repr(frame)}: instances must be a list of "
                             f"{{keypoints, keypoint_scores}}, found {json_repr(value)}")
    return value


def _frame_id(path: Path, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DetectionError(f"{path}: frame_id {json_repr(value)} is not a frame index (a "
                             "whole number from 0)")
    return value


def _keypoints(path: Path, frame: int, i: int, inst: dict[str, Any]
               ) -> tuple[np.ndarray, np.ndarray]:
    where = f"frame {frame}, instance {i}"
    if "keypoints" not in inst or "keypoint_scores" not in inst:
        raise DetectionError(f"{path}: {where} lacks 'keypoints' or 'keypoint_scores'; "
                             f"expected {EXPECTED}")
    points = json_numbers(path, inst["keypoints"], f"{where} 'keypoints'")
    scores = json_numbers(path, inst["keypoint_scores"], f"{where} 'keypoint_scores'")
    if points.ndim != 2 or points.shape[1] != 2 or scores.shape != points.shape[:1]:
        raise DetectionError(f"{path}: {where}: 'keypoints' must be [[x, y], ...] with one "
                             f"score each in 'keypoint_scores'; got {list(points.shape)} "
                             f"points and {list(scores.shape)} scores")
    return points, scores


def _track(path: Path, frame: int, i: int, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DetectionError(f"{path}: frame {frame}, instance {i}: track_id must be a whole "
                             f"number, got {json_repr(value)}")
    return value
