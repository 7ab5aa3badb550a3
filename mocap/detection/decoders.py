"""Pose-model output decoders, vectorised over people and joints.

Every decoder gives keypoints in pixels of the model's input (OpenCV's convention: pixel ``i``
is centred on ``i``); the detector maps them to the frame through the crop or letterbox affine.
Heatmap and SimCC outputs follow MMPose's encodings (heatmap pixel ``i`` is input pixel
``i * stride``; SimCC bin ``k`` is input pixel ``k / split_ratio``); regression, MoveNet and
YOLO-pose coordinates are continuous image coordinates (0 at the input's left edge, pixel ``i``
spanning ``[i, i + 1]``), as MediaPipe, MoveNet and Ultralytics give them. Boxes stay in
continuous coordinates: they bound regions, not pixels.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter

Array = NDArray[np.float64]
Size = tuple[int, int]                  # (width, height) px


def decode_heatmaps(heatmaps: NDArray, input_size: Size, sigma: float) -> tuple[Array, Array]:
    """Heatmap peaks with DARK's sub-pixel refinement (Zhang et al. 2020).

    Args:
        heatmaps: (N, J, H, W) one heatmap per person and joint.
        input_size: the model's input (width, height) px; the stride is input / heatmap.
        sigma: Gaussian smoothing of the heatmaps before the Taylor step, heatmap px (0: none).
    Returns:
        xy (N, J, 2) input px and score (N, J), each heatmap's peak value.
    """
    hm = np.asarray(heatmaps, dtype=float)
    peak, score = heatmap_argmax(hm)
    xy = peak + dark_offsets(hm, peak, sigma)
    return xy * (np.asarray(input_size) / hm.shape[:1:-1]), score


def heatmap_argmax(heatmaps: Array) -> tuple[NDArray[np.int64], Array]:
    """(N, J, H, W) heatmaps to their integer peaks (N, J, 2) as (x, y) and values (N, J)."""
    flat = heatmaps.reshape(*heatmaps.shape[:2], -1)
    idx = flat.argmax(-1)
    score = np.take_along_axis(flat, idx[..., None], -1)[..., 0]
    return np.stack([idx % heatmaps.shape[3], idx // heatmaps.shape[3]], -1), score


def dark_offsets(heatmaps: Array, peak: NDArray[np.int64], sigma: float) -> Array:
    """Sub-pixel offsets (N, J, 2) of each peak: a Newton step on the smoothed log-heatmap.

    A Gaussian heatmap's logarithm is a quadratic, so the step lands on its centre exactly;
    where the peak is no maximum of the quadratic (flat or saddle), the offset is 0.
    """
    smooth = gaussian_filter(heatmaps, (0, 0, sigma, sigma), mode="constant") if sigma else heatmaps
    logh = np.pad(np.log(np.maximum(smooth, 1e-10)), ((0, 0), (0, 0), (1, 1), (1, 1)), "edge")
    n, j = np.indices(peak.shape[:2])
    x, y = peak[..., 0] + 1, peak[..., 1] + 1

    def at(dy: int, dx: int) -> Array:
        return logh[n, j, y + dy, x + dx]

    gx, gy = 0.5 * (at(0, 1) - at(0, -1)), 0.5 * (at(1, 0) - at(-1, 0))
    hxx = at(0, 1) - 2 * at(0, 0) + at(0, -1)
    hyy = at(1, 0) - 2 * at(0, 0) + at(-1, 0)
    hxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
    det = hxx * hyy - hxy**2
    maximum = (hxx < 0) & (det > 0)
    safe = np.where(maximum, det, 1.0)
    offset = -np.stack([hyy * gx - hxy * gy, hxx * gy - hxy * gx], -1) / safe[..., None]
    return np.where(maximum[..., None], np.clip(offset, -1.0, 1.0), 0.0)


def decode_simcc(simcc_x: NDArray, simcc_y: NDArray, input_size: Size) -> tuple[Array, Array]:
    """RTMPose's SimCC: one 1D classification per axis, ``split_ratio`` bins per input pixel.

    Args:
        simcc_x: (N, J, W * k) scores over x bins; simcc_y: (N, J, H * k) over y bins.
        input_size: the model's input (W, H) px; k = bins / pixels.
    Returns:
        xy (N, J, 2) input px and score (N, J), the lower of the two peaks (as MMPose).
    """
    split = simcc_x.shape[-1] / input_size[0]
    xy = np.stack([simcc_x.argmax(-1), simcc_y.argmax(-1)], -1) / split
    return xy, np.minimum(simcc_x.max(-1), simcc_y.max(-1)).astype(float)


def decode_regression(output: NDArray, n_joints: int, input_size: Size, *, normalized: bool,
                      score_column: int, row_length: int = 0) -> tuple[Array, Array]:
    """Direct regression (DeepPose-style): per keypoint a row (x, y, ...) of D values.

    Args:
        output: (N, R * D) or (N, R, D), R >= J rows of which the first J are read (MediaPipe's
            pose model gives 39 rows for its 33 keypoints); x and y first, in [0, 1] of the
            input if ``normalized``, else in input px.
        score_column: the row's score column, -1 where the model gives none (score 1).
        row_length: D for a flat output; 0: the output's size over J.
    Returns:
        xy (N, J, 2) input px and score (N, J).
    """
    output = np.asarray(output, dtype=float)
    d = output.shape[2] if output.ndim == 3 else row_length or output.shape[1] // n_joints
    rows = output.reshape(len(output), -1, d)[:, :n_joints]                         # (N, J, D)
    xy = rows[..., :2] * (np.asarray(input_size) if normalized else 1.0) - 0.5
    if score_column < 0:
        return xy, np.ones(rows.shape[:2])
    return xy, rows[..., score_column]


def decode_movenet(output: NDArray, input_size: Size) -> tuple[Array, Array]:
    """MoveNet single-pose: (N, 1, J, 3) rows of (y, x, score), y and x in [0, 1] of the input.

    Returns:
        xy (N, J, 2) input px and score (N, J).
    """
    rows = np.asarray(output, dtype=float)[:, 0]                                # (N, J, 3)
    return rows[..., 1::-1] * input_size - 0.5, rows[..., 2]


def decode_single_stage(output: NDArray, n_joints: int, *, box_format: str, min_score: float,
                        nms_iou: float, max_people: int,
                        logits: bool) -> tuple[Array, Array, Array, Array]:
    """YOLO-pose / CenterNet-style candidates, thresholded and non-maximum suppressed.

    Args:
        output: (1, 5 + 3J, A) or (1, A, 5 + 3J) candidates: box (cx, cy, w, h or x0, y0, x1,
            y1 after ``box_format``) in input px, person score, then (x, y, score) per joint.
            With ``n_joints`` 0, a YOLO detector's (1, 4 + classes, A): class 0 is the person.
        min_score: candidates scoring less are dropped.
        nms_iou: of boxes overlapping more than this, only the best scoring is kept.
        max_people: at most this many people, the best scoring first.
        logits: scores are logits and go through a sigmoid.
    Returns:
        boxes (P, 4) as x0, y0, x1, y1 in continuous input coordinates; box scores (P,);
        keypoints xy (P, J, 2) input px and their scores (P, J).
    """
    rows = 5 + 3 * n_joints
    cand = np.asarray(output, dtype=float)[0]
    if cand.shape[1] != rows and (cand.shape[0] == rows or cand.shape[0] < cand.shape[1]):
        cand = cand.T                                                           # (A, rows)
    boxes = cand[:, :4] if box_format == "xyxy" else np.concatenate(
        [cand[:, :2] - cand[:, 2:4] / 2, cand[:, :2] + cand[:, 2:4] / 2], 1)
    box_score = sigmoid(cand[:, 4]) if logits else cand[:, 4]
    keep = nms(boxes, box_score, min_score, nms_iou)[:max_people]
    joints = cand[keep, 5:rows].reshape(len(keep), n_joints, 3)                 # (P, J, 3)
    score = sigmoid(joints[..., 2]) if logits else joints[..., 2]
    return boxes[keep], box_score[keep], joints[..., :2] - 0.5, score


def nms(boxes: Array, scores: Array, min_score: float, max_iou: float) -> NDArray[np.int64]:
    """Greedy non-maximum suppression: indices of the kept (N, 4) x0 y0 x1 y1 boxes, best first."""
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1)
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), min_score, max_iou)
    keep = np.asarray(keep, dtype=np.int64).reshape(-1)
    return keep[np.argsort(-scores[keep], kind="stable")]


def sigmoid(x: Array) -> Array:
    return 0.5 * (1.0 + np.tanh(0.5 * x))
