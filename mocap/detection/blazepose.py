"""The default detector: BlazePose's 33 body keypoints for every person in view, offline.

Both models ship inside the mediapipe wheel and run directly (person_detector.py,
pose_landmarks.py). Per video, each person is a track: the person detector places a rotated
crop around each new person; from then on the landmarks' own alignment points place the next
frame's crop, as MediaPipe's Pose does for its one person. The person detector runs again every
``redetect_every`` frames to find people who came in while fewer than ``max_people`` are
tracked (with ``max_people = 1`` it runs only to find the person, as MediaPipe's Pose does),
and on every frame while a track lost in
the last ``REMEMBER_LOST`` frames has not been found again; lost tracks are looked for in their
last crop meanwhile and take their id back when found. Where people meet, a track's crop holds
someone else too, and the model may fit them (a person facing the camera wins over one turned
away) or a blend of both: that crop is looked at again with the people found before it hidden.
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
from mocap.detection.pose_landmarks import (
    ALIGNMENT,
    MASK_THRESHOLD,
    N_BODY,
    LandmarkModel,
    Landmarks,
    Rois,
    Silhouettes,
)
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
    centre keeps the person and the other looks again without them (:meth:`_past_others`),
    counting as missed if it still finds no one else.
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
        room = len(tracks) < self._config.max_people          # someone new could be kept
        if len(tracks) == 0 or (tracks.missed > 0).any() \
                or (room and self._since_detection >= self._config.redetect_every):
            tracks = self._with_detections(frame, tracks)
        self._since_detection += 1
        if len(tracks) == 0:
            return FramePeople.empty(N_BODY)
        found = self._landmarks(frame, tracks.rois)
        priority = _priority(found, tracks.rois)
        found = self._past_others(frame, tracks, found, priority)
        return self._follow(tracks, found, _seen(found, tracks, priority))

    def _past_others(self, frame: NDArray[np.uint8], tracks: _Tracks, found: Landmarks,
                     priority: NDArray[np.int64]) -> Landmarks:
        """``found`` after each track's crop, in order of ``priority`` (T,), is looked at
        again with the people found before it hidden, where the crop holds any of them.

        The model fits the most salient person of a crop (one facing the camera over one
        turned away), so a track's crop that also holds someone already found may give that
        person, or a blend of both. The fit of the crop without them replaces the first where
        it shows a person of its own and the first does not, or shows another person.
        """
        kept = np.zeros(len(tracks), dtype=bool)          # fits of a person of their own
        side = tracks.rois.side
        for k in np.argsort(-priority, kind="stable"):
            before = kept & (priority > priority[k])
            others = (found.xy[before], side[before])
            kept[k] = _own(found.xy[k], found.pose[k], side[k], *others)
            # a blend needs the two bodies to meet; a crop without a person of its own may
            # hold one behind the people found anywhere in it. New people are not retried:
            # with the one they duplicate hidden, a crop has no earlier sign of anyone.
            reach = _body_box(found.xy[[k]]) if kept[k] else _crop_box(tracks.rois.take([k]))
            if tracks.ids[k] < 0 or not (box_iou(reach, _body_box(others[0])) > 0).any():
                continue
            again = self._landmarks(frame, tracks.rois.take([k]),
                                    Silhouettes(tracks.rois.take(before), found.mask[before]))
            if _own(again.xy[0], again.pose[0], side[k], *others) and not (
                    kept[k] and _duplicate_of(again.xy[0], side[k], found.xy[[k]], side[[k]])):
                found, kept[k] = found.replaced(np.array([k]), again), True
        return found

    def _follow(self, tracks: _Tracks, found: Landmarks, seen: NDArray[np.bool_]) -> FramePeople:
        """The people ``seen`` (T,) among ``found`` in ``tracks``' crops, the most confident
        first (new ones given ids); the tracks to follow in the next frame kept."""
        seen_order = np.flatnonzero(seen)[np.argsort(-found.pose[seen], kind="stable")]
        shown = seen_order[:self._config.max_people]
        ids = tracks.ids.copy()
        fresh = shown[ids[shown] < 0]
        ids[fresh] = self._next_id + np.arange(len(fresh))
        self._next_id += len(fresh)
        lost = np.flatnonzero(~seen & (ids >= 0) & (tracks.missed < REMEMBER_LOST))
        lost = lost[np.argsort(tracks.missed[lost], kind="stable")]
        hips = found.xy[shown][:, ALIGNMENT]
        self._tracks = _Tracks.concat([
            _Tracks(ids[shown], Rois.from_alignment(hips), body_boxes(hips),
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


def _present(found: Landmarks) -> NDArray[np.bool_]:
    """(P,) True where the landmark model is sure enough its crop holds a person."""
    return found.pose >= PRESENCE_THRESHOLD


def _priority(found: Landmarks, rois: Rois) -> NDArray[np.int64]:
    """(T,) rank of each fit (higher first): present fits first, then those whose hips moved
    least from their crop's centre (the previous frame's hips)."""
    drift = np.linalg.norm(found.xy[:, ALIGNMENT[0]] - rois.centre, axis=-1) / rois.side
    return -np.argsort(np.lexsort((drift, ~_present(found))))


def _seen(found: Landmarks, tracks: _Tracks, priority: NDArray[np.int64]) -> NDArray[np.bool_]:
    """(T,) True for the fits in ``tracks``' crops that show a person of their own: present,
    not a duplicate of a fit of higher ``priority`` (T,), not a new fit overlapping a tracked
    person."""
    present = _present(found)
    seen = present & ~_duplicates(found.xy, tracks.rois.side, priority)
    return seen & ~_overlapping_new(found.xy, tracks.ids, seen, found.pose)


def _crop_box(rois: Rois) -> NDArray[np.float64]:
    """(T, 4) px x0 y0 x1 y1: the upright box around each crop."""
    reach = rois.side / 2 * (np.abs(np.cos(rois.angle)) + np.abs(np.sin(rois.angle)))
    return np.concatenate([rois.centre - reach[:, None], rois.centre + reach[:, None]], axis=1)


def _body_box(xy: NDArray[np.float64]) -> NDArray[np.float64]:
    """(P, 4) px x0 y0 x1 y1: the box around each person's body landmarks (of (P, 39, 2))."""
    body = xy[:, :N_BODY]
    return np.concatenate([body.min(axis=1), body.max(axis=1)], axis=1)


def _own(xy: NDArray[np.float64], pose: float, side: float, others: NDArray[np.float64],
         other_sides: NDArray[np.float64]) -> bool:
    """Whether a fit of landmarks xy (39, 2) px and pose probability ``pose``, in a crop of
    ``side`` px, shows a person: present and none of ``others`` (see :func:`_duplicate_of`)."""
    return pose >= PRESENCE_THRESHOLD and not _duplicate_of(xy, side, others, other_sides)


def _duplicate_of(xy: NDArray[np.float64], side: float, others: NDArray[np.float64],
                  other_sides: NDArray[np.float64]) -> bool:
    """Whether the person of landmarks xy (39, 2) px, found in a crop of ``side`` px, is one
    of ``others`` (Q, 39, 2) px found in crops of ``other_sides`` (Q,) px (see
    :func:`_duplicates`)."""
    people = np.concatenate([others, xy[None]])
    priority = np.append(np.zeros(len(others), np.int64), -1)
    return bool(_duplicates(people, np.append(other_sides, side), priority)[-1])


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
    boxes = _body_box(xy)
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
                "redetect_every": self.config.redetect_every, "redetect_while": "room",
                "presence_threshold": PRESENCE_THRESHOLD, "match_iou": MATCH_IOU,
                "same_person": SAME_PERSON, "new_overlap": NEW_OVERLAP,
                "remember_lost": REMEMBER_LOST, "hide_found_people": MASK_THRESHOLD,
                "heatmap_refinement": self.refine}

    def stream(self) -> BlazePoseTracker:
        if self._models is None:
            self._models = (PersonDetector(self.config.min_person_score),
                            LandmarkModel(refine=self.refine))
        return BlazePoseTracker(*self._models, self.config)


@register_detector("blazepose")
def make_blazepose(config: DetectionConfig) -> BlazePose:
    return BlazePose(config)
