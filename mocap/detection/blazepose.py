"""The default detector: BlazePose's 33 body keypoints for every person in view, offline.

Both models ship inside the mediapipe wheel and run directly (person_detector.py,
pose_landmarks.py). Per video, each person is a track: the person detector places a rotated
crop around each new person; from then on the landmarks' own alignment points place the next
frame's crop, as MediaPipe's Pose does for its one person. The person detector runs again every
``redetect_every`` frames to find people who came in, and on every frame while a track lost in
the last ``REMEMBER_LOST`` frames has not been found again; lost tracks are looked for in their
last crop meanwhile and take their id back when found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from mocap.detection.config import DetectionConfig
from mocap.detection.detector import FramePeople, register_detector
from mocap.detection.person_detector import (
    PersonDetector,
    body_boxes,
    box_iou,
    file_sha256,
    mediapipe_model,
)
from mocap.detection.pose_landmarks import ALIGNMENT, N_BODY, LandmarkModel, Rois
from rigs.skeleton import get_skeleton

PRESENCE_THRESHOLD = 0.5   # pose probability under which a track is lost (MediaPipe's default)
MATCH_IOU = 0.5            # body-box overlap making a detection a tracked person's
SAME_PERSON = 0.05         # torso landmarks this close (/ crop side): two tracks on one person
TORSO = (11, 12, 23, 24)   # shoulders and hips of blazepose33
TORSO_MIRRORED = (12, 11, 24, 23)   # the same, left and right swapped
NEW_OVERLAP = 0.5          # landmark-box overlap with a tracked person that rejects a new one
REMEMBER_LOST = 30         # frames a lost track's id waits for its person to be detected again


@dataclass(frozen=True)
class _Tracks:
    """People followed from frame to frame.

    Attributes:
        ids: (T,) track ids; -1 for a person just detected, not yet confirmed by landmarks.
        rois: T crops to look for each person in the next frame.
        boxes: (T, 4) px body boxes x0 y0 x1 y1 where each was last seen.
        missed: (T,) frames since each was last seen (0: seen in the last frame).
    """

    ids: NDArray[np.int64]
    rois: Rois
    boxes: NDArray[np.float64]
    missed: NDArray[np.int64]

    @classmethod
    def none(cls) -> _Tracks:
        return cls(np.zeros(0, np.int64), Rois(np.zeros((0, 2)), np.zeros(0), np.zeros(0)),
                   np.zeros((0, 4)), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, index: NDArray[np.int64] | NDArray[np.bool_]) -> _Tracks:
        return _Tracks(self.ids[index], self.rois.take(index), self.boxes[index],
                       self.missed[index])

    @staticmethod
    def concat(parts: list[_Tracks]) -> _Tracks:
        return _Tracks(np.concatenate([p.ids for p in parts]), Rois.concat([p.rois for p in parts]),
                       np.concatenate([p.boxes for p in parts]),
                       np.concatenate([p.missed for p in parts]))


class BlazePoseTracker:
    """BlazePose over one video's frames, in order; see the module's docstring.

    Each frame, the landmark model looks in every track's crop, lost tracks' last crops too.
    Where two crops find the same person, the track whose hips moved least from its crop's
    centre keeps the person and the other counts as missed.
    """

    def __init__(self, detector: PersonDetector, landmarks: LandmarkModel,
                 config: DetectionConfig) -> None:
        self._detector, self._landmarks, self._config = detector, landmarks, config
        self._tracks = _Tracks.none()
        self._since_detection = config.redetect_every      # detect on the first frame
        self._next_id = 0

    def __call__(self, frame: NDArray[np.uint8]) -> FramePeople:
        """The people in ``frame``, a (H, W, 3) BGR uint8 image, the most confident first."""
        tracks = self._tracks
        if len(tracks) == 0 or (tracks.missed > 0).any() \
                or self._since_detection >= self._config.redetect_every:
            tracks = self._with_detections(frame, tracks)
        self._since_detection += 1
        if len(tracks) == 0:
            return FramePeople.empty(N_BODY)
        found = self._landmarks(frame, tracks.rois)
        hips = found.xy[:, ALIGNMENT]                                       # (T, 2, 2)
        drift = np.linalg.norm(hips[:, 0] - tracks.rois.centre, axis=-1) / tracks.rois.side
        present = found.pose >= PRESENCE_THRESHOLD
        priority = np.where(present, -drift, -1e9)
        seen = present & ~_duplicates(found.xy, tracks.rois.side, priority)
        seen &= ~_overlapping_new(found.xy, tracks.ids, seen, found.pose)
        seen_order = np.flatnonzero(seen)[np.argsort(-found.pose[seen], kind="stable")]
        shown = seen_order[:self._config.max_people]
        ids = tracks.ids.copy()
        fresh = shown[ids[shown] < 0]
        ids[fresh] = self._next_id + np.arange(len(fresh))
        self._next_id += len(fresh)
        lost = np.flatnonzero(~seen & (ids >= 0) & (tracks.missed < REMEMBER_LOST))
        lost = lost[np.argsort(tracks.missed[lost], kind="stable")]
        self._tracks = _Tracks.concat([
            _Tracks(ids[shown], Rois.from_alignment(hips[shown]), body_boxes(hips[shown]),
                    np.zeros(len(shown), np.int64)),
            _Tracks(ids[lost], tracks.rois.take(lost), tracks.boxes[lost],
                    tracks.missed[lost] + 1)]).take(slice(0, self._config.max_people))
        return FramePeople(found.xy[shown, :N_BODY], found.visibility[shown, :N_BODY],
                           ids[shown])

    def _with_detections(self, frame: NDArray[np.uint8], tracks: _Tracks) -> _Tracks:
        """``tracks`` (lost ones matched by a detection starting again from its crop) and the
        people the person detector finds beside them (id -1 until confirmed)."""
        self._since_detection = 0
        boxes, _, points = self._detector(frame)
        detected = Rois.from_alignment(points[:, :2])
        pairs = _match(tracks.boxes, boxes)                                 # (n, 2) track, det
        restart = pairs[tracks.missed[pairs[:, 0]] > 0]
        rois = Rois.concat([tracks.rois, detected.take(restart[:, 1])])
        index = np.arange(len(tracks))
        index[restart[:, 0]] = len(tracks) + np.arange(len(restart))
        tracks = _Tracks(tracks.ids, rois.take(index), tracks.boxes, tracks.missed)
        new = np.setdiff1d(np.arange(len(boxes)), pairs[:, 1])[:self._config.max_people]
        return _Tracks.concat([tracks, _Tracks(np.full(len(new), -1), detected.take(new),
                                               boxes[new], np.zeros(len(new), np.int64))])


def _match(track_boxes: NDArray[np.float64], boxes: NDArray[np.float64]) -> NDArray[np.int64]:
    """(n, 2) pairs (track, detection) of one-to-one best overlap, each at least MATCH_IOU."""
    iou = box_iou(track_boxes, boxes)
    rows, cols = linear_sum_assignment(-iou)
    good = iou[rows, cols] >= MATCH_IOU
    return np.stack([rows[good], cols[good]], axis=1).astype(np.int64).reshape(-1, 2)


def _duplicates(xy: NDArray[np.float64], side: NDArray[np.float64],
                priority: NDArray[np.float64]) -> NDArray[np.bool_]:
    """(P,) True for a track that follows the same person as one of higher priority (P,) (the
    earlier on ties): each of their shoulders and hips (of the landmarks (P, 39, 2) px) lie
    within SAME_PERSON of the crop side (P,) of each other, or do so with left and right
    swapped (two crops may disagree on whether a person faces the camera). Heads and hands of
    people one behind the other can coincide; their torsos do not."""
    torso, mirrored = xy[:, TORSO], xy[:, TORSO_MIRRORED]                # (P, 4, 2)
    gap = np.minimum(np.linalg.norm(torso[:, None] - torso[None, :], axis=-1).max(axis=-1),
                     np.linalg.norm(torso[:, None] - mirrored[None, :], axis=-1).max(axis=-1))
    same = gap < SAME_PERSON * np.minimum(side[:, None], side[None, :])
    better = (priority[None, :] > priority[:, None]) | (
        (priority[None, :] == priority[:, None]) & np.tri(len(side), k=-1, dtype=bool))
    return (same & better).any(axis=1)


def _overlapping_new(xy: NDArray[np.float64], ids: NDArray[np.int64], seen: NDArray[np.bool_],
                     priority: NDArray[np.float64]) -> NDArray[np.bool_]:
    """(P,) True for a person just detected (id -1) whose body landmarks' box (of xy
    (P, 39, 2) px) overlaps by more than NEW_OVERLAP that of a seen person ranking before it
    (tracked people first, then by priority (P,)): most likely a second, worse fit of that
    person (seen from behind, say) rather than someone new."""
    body = xy[:, :N_BODY]
    boxes = np.concatenate([body.min(axis=1), body.max(axis=1)], axis=1)
    tracked = ids >= 0
    ranks_before = (tracked[None, :] & ~tracked[:, None]) | (
        (tracked[None, :] == tracked[:, None]) & (priority[None, :] > priority[:, None]))
    overlap = box_iou(boxes, boxes) > NEW_OVERLAP                           # (P, P)
    return ~tracked & (overlap & ranks_before & seen[None, :]).any(axis=1)


class BlazePose:
    """The ``blazepose`` detector: models shared by the trackers this process makes."""

    name = "blazepose"

    def __init__(self, config: DetectionConfig, *, refine: bool = True) -> None:
        self.config = config
        self.skeleton = get_skeleton("blazepose33")
        self.refine = refine
        self._files = [mediapipe_model(m) for m in (PersonDetector.model_file,
                                                    LandmarkModel.model_file)]
        self._models: tuple[PersonDetector, LandmarkModel] | None = None

    def settings(self) -> dict[str, Any]:
        return {**{f.name: file_sha256(f) for f in self._files},
                "max_people": self.config.max_people,
                "min_person_score": self.config.min_person_score,
                "redetect_every": self.config.redetect_every,
                "presence_threshold": PRESENCE_THRESHOLD, "match_iou": MATCH_IOU,
                "same_person": SAME_PERSON, "new_overlap": NEW_OVERLAP,
                "remember_lost": REMEMBER_LOST,
                "heatmap_refinement": self.refine}

    def stream(self) -> BlazePoseTracker:
        if self._models is None:
            self._models = (PersonDetector(self.config.min_person_score),
                            LandmarkModel(refine=self.refine))
        return BlazePoseTracker(*self._models, self.config)


@register_detector("blazepose")
def make_blazepose(config: DetectionConfig) -> BlazePose:
    return BlazePose(config)
