"""BlazePose's landmark model: mediapipe's ``pose_landmark_full.tflite`` on rotated crops.

Follows MediaPipe's ``pose_landmark_by_roi_cpu`` graph: a square region of interest (ROI),
turned so that the body is upright, is cut to 256 x 256 RGB in [0, 1]; the model gives 39
landmarks (the 33 of the body, then the hip centre and a full-body scale point that place the
next frame's ROI, then 4 unused) as x, y, z in crop pixels with visibility and presence logits,
a pose-presence probability, a 256 x 256 segmentation of the person (logits) and 64 x 64
heatmaps (logits) that refine the landmarks. People already found can be hidden from a crop
(their segmentation filled with the crop's background colour) so that the model looks at
someone else there.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from mocap.detection.person_detector import mediapipe_model, tflite_interpreter
from mocap.errors import DetectionError

CROP_SIZE = 256                 # the model's square input, px
N_LANDMARKS = 39                # landmarks the model gives
N_BODY = 33                     # the body's landmarks (blazepose33), first
ALIGNMENT = (33, 34)            # hip centre and full-body scale point, for the next ROI
ROI_SCALE = 1.25                # ROI side / twice the alignment distance (MediaPipe's margin)
HEATMAP_KERNEL = 7              # heatmap cells a side averaged around a landmark
HEATMAP_MIN_CONFIDENCE = 0.5    # a landmark moves only where the heatmap peak is this sure
MASK_THRESHOLD = 0.5            # segmentation probability from which a pixel is the person's


@dataclass(frozen=True)
class Rois:
    """Rotated square regions of interest, one per person.

    Attributes:
        centre: (P, 2) px in the frame.
        side: (P,) px.
        angle: (P,) radians; the crop's x axis is the frame's turned by this, clockwise on
            screen (the image's y axis points down).
    """

    centre: NDArray[np.float64]
    side: NDArray[np.float64]
    angle: NDArray[np.float64]

    @classmethod
    def from_alignment(cls, points: NDArray[np.float64]) -> Rois:
        """ROIs from alignment points (P, 2, 2): the hip centre, then the scale point.

        As MediaPipe's AlignmentPointsRectsCalculator (target angle 90 degrees) and its
        RectTransformationCalculator (scale 1.25, square): the crop is centred on the hips, its
        side 2.5 times the distance to the scale point, turned so that point is straight up.
        """
        d = points[:, 1] - points[:, 0]
        angle = np.pi / 2 - np.arctan2(-d[:, 1], d[:, 0])
        angle = (angle + np.pi) % (2 * np.pi) - np.pi
        return cls(points[:, 0].copy(), 2 * ROI_SCALE * np.hypot(d[:, 0], d[:, 1]), angle)

    def __len__(self) -> int:
        return len(self.side)

    def take(self, index: NDArray[np.int64] | NDArray[np.bool_]) -> Rois:
        return Rois(self.centre[index], self.side[index], self.angle[index])

    @staticmethod
    def concat(parts: list[Rois]) -> Rois:
        return Rois(*(np.concatenate([getattr(p, k) for p in parts])
                      for k in ("centre", "side", "angle")))

    def to_crop(self, size: int = CROP_SIZE) -> NDArray[np.float64]:
        """(P, 2, 3) affines from frame px to crop px (the ROI's corners at the crop's edges,
        as MediaPipe's ImageToTensorCalculator maps them)."""
        k = size / self.side
        cos, sin = np.cos(self.angle) * k, np.sin(self.angle) * k
        linear = np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], -2)  # (P,2,2)
        shift = size / 2 - np.einsum("pij,pj->pi", linear, self.centre)
        return np.concatenate([linear, shift[..., None]], axis=-1)

    def to_frame(self, xy: NDArray[np.float64], size: int = CROP_SIZE) -> NDArray[np.float64]:
        """(P, L, 2) crop px back to frame px."""
        k = self.side / size
        cos, sin = np.cos(self.angle) * k, np.sin(self.angle) * k
        linear = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
        return np.einsum("pij,plj->pli", linear, xy - size / 2) + self.centre[:, None]


@dataclass(frozen=True)
class Landmarks:
    """The landmark model's answer for P people.

    Attributes:
        xy: (P, 39, 2) frame px.
        visibility: (P, 39) probability that the landmark is in view and not hidden.
        presence: (P, 39) probability that the landmark is inside the frame.
        pose: (P,) probability that the crop holds a person.
        mask: (P, 256, 256) probability that each crop pixel shows the person found.
    """

    xy: NDArray[np.float64]
    visibility: NDArray[np.float64]
    presence: NDArray[np.float64]
    pose: NDArray[np.float64]
    mask: NDArray[np.float32]

    def replaced(self, index: NDArray[np.int64], other: Landmarks) -> Landmarks:
        """A copy with the people at ``index`` (n,) replaced by ``other``'s n."""
        parts = {}
        for name in ("xy", "visibility", "presence", "pose", "mask"):
            parts[name] = getattr(self, name).copy()
            parts[name][index] = getattr(other, name)
        return Landmarks(**parts)


@dataclass(frozen=True)
class Silhouettes:
    """People to hide from the landmark model: their crops and segmentations there.

    Attributes:
        rois: Q crops.
        mask: (Q, 256, 256) probability that each crop pixel shows that crop's person.
    """

    rois: Rois
    mask: NDArray[np.float32]

    def in_crop(self, to_crop: NDArray[np.float64]) -> NDArray[np.bool_]:
        """(256, 256) True where any of the people covers a pixel of the crop whose affine
        from frame px is ``to_crop`` (2, 3)."""
        to_theirs = self.rois.to_crop()                                   # (Q, 2, 3)
        hidden = np.zeros((CROP_SIZE, CROP_SIZE), dtype=bool)
        for theirs, mask in zip(to_theirs, self.mask, strict=True):
            to_ours = _compose(to_crop, cv2.invertAffineTransform(theirs))
            warped = cv2.warpAffine(mask, to_ours, (CROP_SIZE, CROP_SIZE),
                                    flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            hidden |= warped >= MASK_THRESHOLD
        return hidden


class LandmarkModel:
    """mediapipe's full BlazePose landmark model, one crop at a time.

    Batching several people's crops into one call saved about 1 ms per person of 15 (measured
    with ai-edge-litert 2.3 on 2 cores) and re-allocates on every change of the number of
    people, so crops run one by one.
    """

    model_file = "modules/pose_landmark/pose_landmark_full.tflite"

    def __init__(self, num_threads: int = 1, refine: bool = True) -> None:
        self.path = mediapipe_model(self.model_file)
        self.refine = refine
        self._interpreter = tflite_interpreter(self.path, num_threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = {tuple(d["shape"][1:]): d["index"]
                   for d in self._interpreter.get_output_details()}
        wanted = [(N_LANDMARKS * 5,), (1,), (64, 64, N_LANDMARKS), (CROP_SIZE, CROP_SIZE, 1)]
        if not set(wanted) <= set(outputs):
            raise DetectionError(f"{self.path}: expected outputs shaped {wanted}, got "
                                 f"{sorted(outputs)}; reinstall mediapipe==0.10.14")
        self._outputs = [outputs[w] for w in wanted]

    def __call__(self, frame_bgr: NDArray[np.uint8], rois: Rois,
                 hide: Silhouettes | None = None) -> Landmarks:
        """Landmarks of the people in ``rois`` of one (H, W, 3) BGR frame; the people of
        ``hide`` are painted over in each crop with the mean colour of the rest of it."""
        to_crop = rois.to_crop()
        raw = np.empty((len(rois), N_LANDMARKS, 5))
        pose = np.empty(len(rois))
        heatmap = np.empty((len(rois), 64, 64, N_LANDMARKS), dtype=np.float32)
        mask = np.empty((len(rois), CROP_SIZE, CROP_SIZE), dtype=np.float32)
        tensor = np.empty((1, CROP_SIZE, CROP_SIZE, 3), dtype=np.float32)  # RGB in [0, 1]
        for p in range(len(rois)):                                        # one model call each
            crop = cv2.warpAffine(frame_bgr, to_crop[p], (CROP_SIZE, CROP_SIZE),
                                  flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            if hide is not None:
                hidden = hide.in_crop(to_crop[p])
                rest = crop[~hidden] if not hidden.all() else crop.reshape(-1, 3)
                crop[hidden] = rest.mean(axis=0).round().astype(np.uint8)
            np.multiply(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB), np.float32(1 / 255),
                        out=tensor[0], casting="unsafe")
            self._interpreter.set_tensor(self._input, tensor)
            self._interpreter.invoke()
            out = [self._interpreter.get_tensor(i)[0] for i in self._outputs]
            raw[p], pose[p], heatmap[p] = out[0].reshape(N_LANDMARKS, 5), out[1][0], out[2]
            mask[p] = _sigmoid(out[3][..., 0])                             # float32: 6x cheaper
        xy = refine_with_heatmap(raw[..., :2], heatmap) if self.refine else raw[..., :2]
        return Landmarks(rois.to_frame(xy), _sigmoid(raw[..., 3]), _sigmoid(raw[..., 4]), pose,
                         mask)


def refine_with_heatmap(xy: NDArray[np.float64], heatmap: NDArray[np.float32],
                        size: int = CROP_SIZE, kernel: int = HEATMAP_KERNEL,
                        min_confidence: float = HEATMAP_MIN_CONFIDENCE) -> NDArray[np.float64]:
    """Landmarks moved to the heatmap's local mean, as MediaPipe's
    RefineLandmarksFromHeatmapCalculator does.

    Around each landmark's heatmap cell, a ``kernel``-wide window (cut at the heatmap's edges)
    of sigmoid confidences gives the mean cell index; the landmark moves there (cell index / n
    of the crop, MediaPipe's convention) where the window's peak reaches ``min_confidence``.

    Args:
        xy: (P, L, 2) crop px; heatmap: (P, n, n, L) logits.
    Returns:
        (P, L, 2) crop px.
    """
    n = heatmap.shape[1]
    cell = np.trunc(xy / size * n).astype(np.int64)                       # (P, L, 2) col, row
    inside = ((cell >= 0) & (cell < n)).all(-1)
    window = cell[..., None] + np.arange(kernel) - kernel // 2            # (P, L, 2, K)
    valid = (window >= 0) & (window < n)
    cols, rows = np.clip(window, 0, n - 1).transpose(2, 0, 1, 3)          # (P, L, K) each
    p = np.arange(xy.shape[0])[:, None, None, None]
    joint = np.arange(xy.shape[1])[None, :, None, None]
    logits = heatmap[p, rows[..., :, None], cols[..., None, :], joint]    # (P, L, K, K)
    conf = _sigmoid(logits.astype(np.float64))
    conf *= valid[:, :, 1, :, None] & valid[:, :, 0, None, :]
    total = conf.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_col = (conf * window[:, :, 0, None, :]).sum(axis=(-2, -1)) / total
        mean_row = (conf * window[:, :, 1, :, None]).sum(axis=(-2, -1)) / total
    move = inside & (conf.max(axis=(-2, -1)) >= min_confidence) & (total > 0)
    refined = np.stack([mean_col, mean_row], -1) / n * size
    return np.where(move[..., None], refined, xy)


def _compose(outer: NDArray[np.float64], inner: NDArray[np.float64]) -> NDArray[np.float64]:
    """(2, 3) affine applying ``inner`` (2, 3), then ``outer`` (2, 3)."""
    return np.concatenate([outer[:, :2] @ inner[:, :2],
                           outer[:, :2] @ inner[:, 2:] + outer[:, 2:]], axis=1)


def _sigmoid(x: NDArray[np.floating]) -> NDArray[np.floating]:
    """Logistic function in ``x``'s precision (clipped where float32's exp would overflow)."""
    return 1 / (1 + np.exp(-np.clip(x, -80, 80)))
