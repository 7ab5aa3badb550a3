"""Detector "model": the user's own pose model, set by ``[detection.model]`` in session.toml.

Top-down kinds (heatmap, simcc, regression, movenet) look at one crop per person. The person
boxes come from the bundled BlazePose person detector (or the user's ONNX person detector) on
the first frame, every ``redetect_every`` frames and on the frame after a person was lost; in
between, from the box around each person's keypoints in the previous frame. Single-stage kinds
(yolo_pose) look at the whole frame. Track ids follow the people's boxes by overlap.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from mocap.detection.config import DetectionConfig
from mocap.detection.decoders import decode_single_stage, nms
from mocap.detection.detector import FramePeople, register_detector
from mocap.detection.person_detector import box_iou
from mocap.detection.pose_model import (
    LETTERBOX_GREY,
    PoseModel,
    crop_sizes,
    invert_affines,
    letterbox_affine,
    map_boxes,
)
from mocap.detection.runtimes import open_model
from mocap.errors import ConfigError, DetectionError

Array = NDArray[np.float64]
PersonFinder = Callable[[NDArray[np.uint8]], tuple[Array, Array]]   # frame -> boxes, scores
TRACK_IOU = 0.3          # box overlap from one frame to the next that keeps a track id
SAME_PERSON_COVER = 0.7  # share of a tracked box inside a new detection's: the same person
MIN_CROP_FILL = 0.2      # a top-down pose spanning less of its crop (width or height) is no
#                          person: one the crop was made for spans about 1 / box_scale of it


@register_detector("model")
def model_detector(config: DetectionConfig) -> ModelDetector:
    """The pose model of ``config.model`` (file paths as given: see ModelConfig.within)."""
    return ModelDetector(config)


class ModelDetector:
    """A bring-your-own pose model with its person boxes and tracking."""

    name = "model"

    def __init__(self, config: DetectionConfig) -> None:
        if config.model is None:
            raise ConfigError("detector 'model' needs a [detection.model] table in session.toml "
                              "with at least 'file' (the .onnx or .tflite pose model) and 'kind'")
        self.config, self.model_config = config, config.model
        self.model = PoseModel(config.model)
        self.skeleton = self.model.skeleton
        self._find_people = _person_finder(config) if config.model.top_down else None

    def settings(self) -> dict[str, Any]:
        model = {k: v for k, v in asdict(self.model_config).items()
                 if k not in ("file", "person_detector")}
        person = self.model_config.person_detector
        return {"model": model, "model_sha256": _sha256(Path(self.model_config.file)),
                "person_detector": _sha256(Path(person)) if person else "blazepose",
                "max_people": self.config.max_people,
                "min_person_score": self.config.min_person_score,
                "redetect_every": self.config.redetect_every}

    def stream(self) -> TopDownTracker | SingleStageTracker:
        if self._find_people is None:
            return SingleStageTracker(self.model, self.config)
        return TopDownTracker(self.model, self._find_people, self.config)


class _People:
    """What the trackers share: thresholds, duplicate removal and track ids by box overlap."""

    def __init__(self, model: PoseModel, config: DetectionConfig) -> None:
        self.model, self.config = model, config
        self.boxes, self.ids = np.zeros((0, 4)), np.zeros(0, dtype=np.int64)   # last frame's
        self._next_id = 0

    def _keep(self, xy: Array, score: Array, boxes: Array,
              plausible: NDArray[np.bool_]) -> FramePeople:
        """The plausible people (P,) whose mean score reaches ``min_pose_score``, with
        duplicates (by their boxes (P, 4)) and the least confident beyond ``max_people``
        dropped; they get the track ids of the last frame's people their boxes overlap."""
        m = self.model.config
        seen = score >= m.min_keypoint_score                                      # (P, J)
        rank = score.mean(axis=1)
        good = np.flatnonzero(plausible & (rank >= m.min_pose_score) & (seen.sum(axis=1) >= 2))
        keep = good[nms(boxes[good], rank[good], 0.0, m.nms_iou)][:self.config.max_people]
        ids, self._next_id = match_tracks(self.boxes, self.ids, boxes[keep], self._next_id)
        self.boxes, self.ids = boxes[keep], ids
        xy = np.where(seen[keep, :, None], xy[keep], np.nan)
        return FramePeople(xy, np.where(seen[keep], score[keep], 0.0), ids)


class TopDownTracker(_People):
    """A top-down pose model over one video's frames, in order."""

    def __init__(self, model: PoseModel, find_people: PersonFinder,
                 config: DetectionConfig) -> None:
        super().__init__(model, config)
        self._find_people = find_people
        self._since_detection = config.redetect_every         # detect on the first frame
        self._lost = False

    def __call__(self, frame: NDArray[np.uint8]) -> FramePeople:
        """The people in ``frame``, a (H, W, 3) BGR uint8 image."""
        boxes = self.boxes
        if self._lost or len(boxes) == 0 or self._since_detection >= self.config.redetect_every:
            found, _ = self._find_people(frame)
            covered = box_cover(boxes, found).max(axis=1, initial=0.0) >= SAME_PERSON_COVER
            boxes = np.concatenate([boxes[~covered], found])   # detections reset their tracks
            self._since_detection = 0
        self._since_detection += 1
        tracked = len(self.ids)
        xy, score = self.model.top_down(frame, boxes)
        m = self.model.config
        pose_boxes = keypoint_boxes(xy, score >= m.min_keypoint_score)
        fill = (pose_boxes[:, 2:] - pose_boxes[:, :2]) / crop_sizes(boxes, m.input_size,
                                                                     m.box_scale)
        people = self._keep(xy, score, pose_boxes, fill.max(axis=1) >= MIN_CROP_FILL)
        self._lost = len(people.track_id) < tracked
        return people


class SingleStageTracker(_People):
    """A single-stage (yolo_pose) model over one video's frames, in order."""

    def __call__(self, frame: NDArray[np.uint8]) -> FramePeople:
        """The people in ``frame``, a (H, W, 3) BGR uint8 image."""
        boxes, _, xy, score = self.model.single_stage(frame, self.config.min_person_score,
                                                      self.config.max_people)
        return self._keep(xy, score, boxes, np.ones(len(boxes), dtype=bool))


def box_cover(a: Array, b: Array) -> Array:
    """(N, M) share of each (N, 4) box's area inside each (M, 4) box, boxes x0 y0 x1 y1."""
    low = np.maximum(a[:, None, :2], b[None, :, :2])
    high = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(high - low, 0, None), axis=-1)
    area = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=-1)[:, None]
    return np.divide(inter, area, out=np.zeros_like(inter), where=area > 0)


def keypoint_boxes(xy: Array, seen: NDArray[np.bool_]) -> Array:
    """(P, 4) bounds x0 y0 x1 y1 of each person's seen keypoints (P, J, 2); 0 where none."""
    inside = np.where(seen[..., None], xy, np.nan)
    if not seen.any(axis=1).all():
        inside = np.where(seen.any(axis=1)[:, None, None], inside, 0.0)
    return np.concatenate([np.nanmin(inside, axis=1), np.nanmax(inside, axis=1)], axis=1)


def match_tracks(previous: Array, previous_ids: NDArray[np.int64], boxes: Array,
                 next_id: int) -> tuple[NDArray[np.int64], int]:
    """Track ids of (P, 4) boxes: a previous frame's id where its box overlaps by TRACK_IOU or
    more (one to one, the largest total overlap), else a new id from ``next_id``.

    Returns:
        ids (P,) and the next unused id.
    """
    iou = box_iou(boxes, previous)                                               # (P, T)
    rows, cols = linear_sum_assignment(-iou)
    same = iou[rows, cols] >= TRACK_IOU
    ids = np.full(len(boxes), -1, dtype=np.int64)
    ids[rows[same]] = previous_ids[cols[same]]
    new = ids < 0
    ids[new] = next_id + np.arange(new.sum())
    return ids, next_id + int(new.sum())


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _person_finder(config: DetectionConfig) -> PersonFinder:
    """The user's ONNX person detector, or the bundled BlazePose one."""
    model = config.model
    if model is not None and model.person_detector:
        return OnnxPersonDetector(Path(model.person_detector), config.min_person_score,
                                  model.nms_iou, config.max_people)
    from mocap.detection.person_detector import PersonDetector

    detector = PersonDetector(min_score=config.min_person_score)
    return lambda frame: detector(frame)[:2]


class OnnxPersonDetector:
    """A YOLO-style ONNX person detector (e.g. an Ultralytics detection export).

    Input (1, 3, S, S) RGB in [0, 1], the frame letterboxed (S from the model; 640 where left
    open); output (1, 4 + classes, A) or (1, A, 4 + classes): box centre x, y, width, height in
    input px, then class scores, class 0 the person.
    """

    def __init__(self, path: Path, min_score: float, nms_iou: float, max_people: int) -> None:
        self.runtime = open_model(path)
        shape = self.runtime.input_shape
        if len(shape) != 4 or shape[1] != 3:
            raise DetectionError(f"{path}: a person detector takes (1, 3, S, S) RGB images; "
                                 f"this one takes {shape}")
        self.size = (shape[3] or 640, shape[2] or 640)
        self.min_score, self.nms_iou, self.max_people = min_score, nms_iou, max_people
        out = self.runtime(np.zeros((1, 3, self.size[1], self.size[0]), np.float32))[0]
        if out.ndim != 3 or out.shape[0] != 1 or max(out.shape[1:]) < 5:
            raise DetectionError(f"{path}: output {out.shape}; a person detector gives "
                                 f"(1, 4 + classes, A) or (1, A, 4 + classes) candidates")

    def __call__(self, frame: NDArray[np.uint8]) -> tuple[Array, Array]:
        """Person boxes (N, 4) x0 y0 x1 y1 in continuous frame coordinates and scores (N,),
        best first."""
        affine = letterbox_affine(frame.shape[1], frame.shape[0], self.size)
        image = cv2.warpAffine(frame, affine[0], self.size, flags=cv2.INTER_LINEAR,
                               borderValue=(LETTERBOX_GREY,) * 3)
        x = image[None, :, :, ::-1].transpose(0, 3, 1, 2).astype(np.float32) / 255.0
        boxes, scores, _, _ = decode_single_stage(
            self.runtime(x)[0], 0, box_format="cxcywh", min_score=self.min_score,
            nms_iou=self.nms_iou, max_people=self.max_people, logits=False)
        return map_boxes(invert_affines(affine)[0], boxes), scores
