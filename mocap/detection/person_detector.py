"""BlazePose's person detector: mediapipe's ``pose_detection.tflite`` run directly.

The model comes inside the mediapipe wheel (the ``detect`` extra); nothing is downloaded and
none of mediapipe's graph code runs. The pre- and post-processing follow MediaPipe's
``pose_detection_cpu`` graph: the frame is letterboxed to 224 x 224 in [-1, 1], each of the
2254 SSD anchors regresses a face box and 4 alignment keypoints (0: hip centre, 1: a point
whose distance and direction from the hip centre give the whole body's size and rotation,
2 and 3: the same for the upper body), scores are sigmoids, and overlapping detections are
merged by score-weighted non-maximum suppression over their face boxes.
"""

from __future__ import annotations

import hashlib
import importlib.util
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from exporters.quiet import quiet_native_output
from mocap.errors import DetectionError

INPUT_SIZE = 224                       # the model's square input, px
ANCHOR_STRIDES = (8, 16, 32, 32, 32)   # SSD layers (MediaPipe's SsdAnchorsCalculator options)
ANCHORS_PER_LAYER = 2                  # aspect ratio 1 plus the interpolated scale, per cell
N_KEYPOINTS = 4                        # alignment keypoints per detection
NMS_IOU = 0.3                          # face-box overlap above which detections merge
SCORE_CLIP = 100.0                     # raw scores are clipped to +-this before the sigmoid
TILE_ASPECT = 1.2                      # frames longer than this x their width are also tiled
TILE_MARGIN = 0.05                     # faces this near a tile's inner edge (/ tile) are dropped


def mediapipe_model(relative_path: str) -> Path:
    """A model file shipped inside the installed mediapipe package.

    Raises:
        DetectionError: mediapipe is not installed or the file is missing from it.
    """
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise DetectionError("the BlazePose detector needs the models shipped with mediapipe "
                             "0.10.14; install them with: pip install 'mocap[detect]'")
    path = Path(next(iter(spec.submodule_search_locations))) / relative_path
    if not path.is_file():
        raise DetectionError(f"{path} is missing from the installed mediapipe; reinstall it "
                             "with: pip install --force-reinstall 'mediapipe==0.10.14'")
    return path


@cache
def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tflite_interpreter(path: Path, num_threads: int = 1):  # -> ai_edge_litert Interpreter
    """A ready TFLite interpreter for ``path`` (XNNPACK on the CPU)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:
        raise DetectionError("running TFLite models needs ai-edge-litert: "
                             "pip install 'mocap[detect]'") from e
    try:
        with quiet_native_output(stdout=False):  # TFLite prints "INFO: Created ... delegate" there
            interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        raise DetectionError(f"{path}: not a loadable TFLite model ({e})") from e
    return interpreter


def ssd_anchor_centres(size: int = INPUT_SIZE) -> NDArray[np.float64]:
    """(2254, 2) anchor centres x, y in input pixels, in the model's output order.

    Layers of equal stride share one grid (rows then columns), each cell holding
    ``ANCHORS_PER_LAYER`` anchors per layer; with MediaPipe's ``fixed_anchor_size`` every anchor
    is 1 x 1, so only the centres matter.
    """
    strides, counts = np.unique(ANCHOR_STRIDES, return_counts=True)
    blocks = []
    for stride, n_layers in zip(strides, counts, strict=True):
        n = -(-size // stride)                                            # cells a side
        x, y = np.meshgrid(np.arange(n), np.arange(n))
        cells = (np.stack([x, y], -1).reshape(-1, 2) + 0.5) / n * size    # (n * n, 2)
        blocks.append(np.repeat(cells, n_layers * ANCHORS_PER_LAYER, axis=0))
    return np.concatenate(blocks)


def decode_detections(raw: NDArray[np.float32], raw_scores: NDArray[np.float32],
                      anchors: NDArray[np.float64]
                      ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """The model's regressions as boxes and keypoints in input pixels.

    Args:
        raw: (A, 12) per anchor: box centre offset x, y, box width, height, then 4 keypoint
            offsets x, y, all in input pixels (anchors are 1 x 1 input, scale 224).
        raw_scores: (A,) logits.
        anchors: (A, 2) anchor centres in input pixels.
    Returns:
        face boxes (A, 4) x0, y0, x1, y1; scores (A,) in [0, 1]; keypoints (A, 4, 2) x, y.
    """
    centre = raw[:, :2] + anchors
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = raw[:, 4:4 + 2 * N_KEYPOINTS].reshape(-1, N_KEYPOINTS, 2) + anchors[:, None]
    scores = 1 / (1 + np.exp(-np.clip(raw_scores.astype(np.float64), -SCORE_CLIP, SCORE_CLIP)))
    return boxes.astype(np.float64), scores, keypoints.astype(np.float64)


def box_iou(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """(N, M) intersection over union of boxes a (N, 4) and b (M, 4), x0 y0 x1 y1; 0 where
    both are empty."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=-1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def weighted_nms(boxes: NDArray[np.float64], scores: NDArray[np.float64],
                 keypoints: NDArray[np.float64], iou_threshold: float = NMS_IOU
                 ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """MediaPipe's weighted non-maximum suppression.

    The best remaining detection and every remaining one overlapping it by more than
    ``iou_threshold`` form a cluster; the cluster's boxes and keypoints are averaged with the
    scores as weights and it keeps its best score. Repeats until none remain.

    Args:
        boxes: (N, 4) x0 y0 x1 y1; scores: (N,) positive; keypoints: (N, K, 2).
    Returns:
        boxes (M, 4), scores (M,), keypoints (M, K, 2), best first.
    """
    if len(scores) == 0:
        return boxes, scores, keypoints
    order = np.argsort(-scores, kind="stable")
    boxes, scores, keypoints = boxes[order], scores[order], keypoints[order]
    overlap = box_iou(boxes, boxes) > iou_threshold                       # (N, N)
    remaining = np.ones(len(scores), dtype=bool)
    clusters = []
    while remaining.any():
        top = int(np.argmax(remaining))                                   # best remaining
        members = remaining & overlap[top]
        members[top] = True                                               # empty boxes too
        clusters.append(members)
        remaining &= ~members
    members = np.array(clusters)                                          # (M, N)
    weights = members * scores
    weights /= weights.sum(axis=1, keepdims=True)
    return (weights @ boxes, scores[members.argmax(axis=1)],
            np.einsum("mn,nkd->mkd", weights, keypoints))


def letterbox_matrix(window: tuple[float, float, float, float],
                     size: int = INPUT_SIZE) -> NDArray[np.float64]:
    """(2, 3) affine from frame pixels to a ``size`` square holding ``window`` (x0, y0, width,
    height px) centred (MediaPipe's keep-aspect-ratio transform: the long side spans it)."""
    x0, y0, width, height = window
    k = size / max(width, height)
    return np.array([[k, 0, size / 2 - k * (x0 + width / 2)],
                     [0, k, size / 2 - k * (y0 + height / 2)]])


def detection_windows(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """The whole frame, then, where it is longer than wide (or the reverse), squares of its
    short side along the long one, half a square apart at most: people look larger in them.

    Returns:
        windows (x0, y0, width, height) px.
    """
    short, long = min(width, height), max(width, height)
    if long <= TILE_ASPECT * short:
        return [(0, 0, width, height)]
    n = int(np.ceil((long - short) / (short / 2))) + 1
    starts = np.round(np.linspace(0, long - short, n)).astype(int)
    tiles = [(0, int(s)) if width < height else (int(s), 0) for s in starts]
    return [(0, 0, width, height)] + [(x, y, short, short) for x, y in tiles]


def body_boxes(keypoints: NDArray[np.float64]) -> NDArray[np.float64]:
    """(N, 4) upright boxes x0 y0 x1 y1 around whole bodies, from alignment keypoints (N, K, 2).

    The body is the square centred on keypoint 0 (the hips) whose half side is the distance to
    keypoint 1, turned to the direction from 0 to 1; the box bounds that turned square.
    """
    d = keypoints[:, 1] - keypoints[:, 0]                                 # (N, 2)
    half = np.abs(d).sum(axis=1, keepdims=True)          # r (|cos| + |sin|) for both axes
    return np.concatenate([keypoints[:, 0] - half, keypoints[:, 0] + half], axis=1)


class PersonDetector:
    """Every person in a frame, by mediapipe's BlazePose person detector.

    Args:
        min_score: detections scoring below this are dropped (MediaPipe's legacy Pose: 0.5).
        tiles: also look in square tiles of tall or wide frames (:func:`detection_windows`);
            False: the whole frame only, as MediaPipe does.
        num_threads: CPU threads of the model (cameras run in parallel processes, so 1).
    """

    model_file = "modules/pose_detection/pose_detection.tflite"

    def __init__(self, min_score: float = 0.5, *, tiles: bool = True,
                 num_threads: int = 1) -> None:
        self.path = mediapipe_model(self.model_file)
        self.min_score, self.tiles = min_score, tiles
        self._interpreter = tflite_interpreter(self.path, num_threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = {tuple(d["shape"]): d["index"] for d in self._interpreter.get_output_details()}
        self._anchors = ssd_anchor_centres()
        n = len(self._anchors)
        if set(outputs) != {(1, n, 4 + 2 * N_KEYPOINTS), (1, n, 1)}:
            raise DetectionError(f"{self.path}: expected outputs (1, {n}, 12) and (1, {n}, 1), "
                                 f"got {sorted(outputs)}; reinstall mediapipe==0.10.14")
        self._raw, self._scores = outputs[(1, n, 4 + 2 * N_KEYPOINTS)], outputs[(1, n, 1)]

    def __call__(self, frame_bgr: NDArray[np.uint8]
                 ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """People in one frame, the most confident first; detections of one person in several
        windows of the frame are merged.

        Args:
            frame_bgr: (H, W, 3) uint8 BGR image.
        Returns:
            boxes (N, 4) x0 y0 x1 y1 px around each whole body (see :func:`body_boxes`),
            scores (N,) in [0, 1], alignment keypoints (N, 4, 2) px (hip centre, full-body
            scale point, shoulder centre, upper-body scale point).
        """
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise DetectionError(f"person detector: expected an (H, W, 3) uint8 BGR frame, got "
                                 f"{frame_bgr.shape} {frame_bgr.dtype}")
        height, width = frame_bgr.shape[:2]
        windows = detection_windows(width, height) if self.tiles else [(0, 0, width, height)]
        found = [self._detect_in(frame_bgr, w) for w in windows]
        faces, scores, keypoints = (np.concatenate(parts) for parts in zip(*found, strict=True))
        _, scores, keypoints = weighted_nms(faces, scores, keypoints)
        return body_boxes(keypoints), scores, keypoints

    def _detect_in(self, frame_bgr: NDArray[np.uint8], window: tuple[int, int, int, int]
                   ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Detections in one window of the frame, before suppression: face boxes (N, 4),
        scores (N,) and keypoints (N, 4, 2) in frame px."""
        to_input = letterbox_matrix(window)
        image = cv2.warpAffine(frame_bgr, to_input, (INPUT_SIZE, INPUT_SIZE),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        tensor = image[None, :, :, ::-1].astype(np.float32) / 127.5 - 1.0    # RGB in [-1, 1]
        self._interpreter.set_tensor(self._input, tensor)
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._raw)[0]
        raw_scores = self._interpreter.get_tensor(self._scores)[0, :, 0]
        faces, scores, keypoints = decode_detections(raw, raw_scores, self._anchors)
        k, offset = to_input[0, 0], to_input[:, 2]
        faces, keypoints = (faces - np.tile(offset, 2)) / k, (keypoints - offset) / k
        outline = np.concatenate([faces.reshape(-1, 2, 2), keypoints[:, :2]], axis=1)
        keep = (scores >= self.min_score) & _clear_of_edges(outline, window,
                                                             frame_bgr.shape[1::-1])
        return faces[keep], scores[keep], keypoints[keep]


def _clear_of_edges(points: NDArray[np.float64], window: tuple[int, int, int, int],
                    frame_size: tuple[int, int]) -> NDArray[np.bool_]:
    """(N,) True where all M points (N, M, 2) px lie TILE_MARGIN of the window's size clear
    of its edges that are inside the frame. A detection whose face, hips or head reach a tile's
    edge shows a person in part, often mistaken (e.g. legs for an upside-down torso); the tiles
    overlap by half, so another window sees that person whole."""
    x0, y0, width, height = window
    margin = TILE_MARGIN * max(width, height)
    lo = np.array([x0, y0], dtype=float) + margin
    hi = np.array([x0 + width, y0 + height], dtype=float) - margin
    lo[[x0 <= 0, y0 <= 0]] = -np.inf
    hi[[x0 + width >= frame_size[0], y0 + height >= frame_size[1]]] = np.inf
    return ((points >= lo) & (points <= hi)).all(axis=(1, 2))
