"""AlphaPose results JSON (``alphapose-results.json``, AlphaPose's default ``--format``).

A list with one entry per detected person: ``{"image_id": "12.jpg", "category_id": 1,
"keypoints": [x0, y0, s0, ...], "score": 2.9, "box": [x, y, w, h], "idx": 3}``. Keypoints per
person: 17 is COCO-17, 26 Halpe-26, 136 Halpe full body and 133 COCO-WholeBody (both read as
Halpe-26, see ``layouts``). Frames come from the image ids as in ``coco_results`` (AlphaPose
names a video's frames ``0.jpg``, ``1.jpg``...). ``idx`` (a number, or a list holding one) is the
track id: PoseFlow's with ``--pose_track``; without tracking AlphaPose numbers the people of each
frame, no identity across frames (ids repeated within a frame fall back to slot order). The
frame rate is not recorded: the caller gives ``fps``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mocap.imports2d.coco_results import load_json, results_to_keypoints
from mocap.keypoints import CameraKeypoints

BY_COUNT: dict[int, str | tuple[str, ...]] = {17: "coco17", 26: "halpe26", 133: "coco_wholebody133",
                                              136: "halpe136"}
EXPECTED = ("a list of {image_id, keypoints: [x, y, score, ...], score, box, idx} "
            "(AlphaPose results)")


def read_alphapose(path: Path, skeleton: str | None = None, fps: float | None = None
                   ) -> CameraKeypoints:
    """One camera's AlphaPose results file (module docstring).

    Raises:
        DetectionError: naming the file and the entry that is malformed.
    """
    path = Path(path)
    return from_json(path, load_json(path), skeleton, fps)


def from_json(path: Path, data: Any, skeleton: str | None, fps: float | None
              ) -> CameraKeypoints:
    """The keypoints of AlphaPose results already parsed from ``path``."""
    return results_to_keypoints(path, data, skeleton, fps, BY_COUNT, "idx", EXPECTED)
