"""A bring-your-own pose model ready to run: input crops, the model, its decoder, frame pixels.

Top-down kinds see one crop per person box: the box grown to the input's aspect ratio and by
``box_scale``, resized to the input. Single-stage kinds see the whole frame letterboxed. Both
are affines of the frame, so keypoints go back to frame pixels through the inverse affine.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from mocap.detection import decoders
from mocap.detection.model_config import ModelConfig
from mocap.detection.runtimes import ModelRuntime, open_model
from mocap.errors import DetectionError
from rigs.skeleton import get_skeleton

Array = NDArray[np.float64]
LETTERBOX_GREY = 114            # the letterbox's border value (Ultralytics' convention)


class PoseModel:
    """A pose model from ``[detection.model]``; its outputs are checked once, on a blank input.

    Raises:
        DetectionError: the file is unreadable, or an output does not fit ``config.kind``
            (the message names the file, the shape given and the shape expected).
    """

    def __init__(self, config: ModelConfig, threads: int = 1) -> None:
        self.config = config
        self.skeleton = get_skeleton(config.keypoint_set)
        self.runtime: ModelRuntime = open_model(Path(config.file), threads)
        self._main = self.runtime.output_index(config.output)
        self._y = self.runtime.output_index(config.simcc_y_output) if config.kind == "simcc" \
            else self._main
        width, height = config.input_size
        outputs = self.runtime(self._tensor(np.zeros((1, height, width, 3), np.uint8)))
        self._check_outputs(outputs[self._main].shape, outputs[self._y].shape)

    def top_down(self, frame: NDArray[np.uint8], boxes: Array) -> tuple[Array, Array]:
        """Keypoints of the person in each box.

        Args:
            frame: (H, W, 3) BGR uint8 image.
            boxes: (P, 4) person boxes x0, y0, x1, y1 px.
        Returns:
            xy (P, J, 2) frame px and score (P, J) in [0, 1].
        """
        affines = crop_affines(boxes, self.config.input_size, self.config.box_scale)
        if len(boxes) == 0:
            return np.zeros((0, len(self.skeleton), 2)), np.zeros((0, len(self.skeleton)))
        crops = np.stack([cv2.warpAffine(frame, a, self.config.input_size, flags=cv2.INTER_LINEAR)
                          for a in affines])                                  # (P, h, w, 3)
        xy, score = self._decode(self.runtime(self._tensor(crops)))
        if self.config.score_activation == "sigmoid":
            score = decoders.sigmoid(score)
        return apply_affines(invert_affines(affines), xy), np.clip(score, 0.0, 1.0)

    def single_stage(self, frame: NDArray[np.uint8], min_score: float,
                     max_people: int) -> tuple[Array, Array, Array, Array]:
        """Every person the model finds in the whole frame, letterboxed to its input.

        Returns:
            boxes (P, 4) x0 y0 x1 y1 in continuous frame coordinates, box scores (P,),
            keypoints xy (P, J, 2) frame px and their scores (P, J) in [0, 1], the best
            scoring person first.
        """
        affine = letterbox_affine(frame.shape[1], frame.shape[0], self.config.input_size)
        image = cv2.warpAffine(frame, affine[0], self.config.input_size, flags=cv2.INTER_LINEAR,
                               borderValue=(LETTERBOX_GREY,) * 3)
        output = self.runtime(self._tensor(image[None]))[self._main]
        boxes, box_score, xy, score = decoders.decode_single_stage(
            output, len(self.skeleton), box_format=self.config.box_format, min_score=min_score,
            nms_iou=self.config.nms_iou, max_people=max_people,
            logits=self.config.score_activation == "sigmoid")
        back = invert_affines(affine)
        xy = apply_affines(back, xy.reshape(1, -1, 2))[0].reshape(xy.shape)
        return map_boxes(back[0], boxes), box_score, xy, np.clip(score, 0.0, 1.0)

    def _tensor(self, images: NDArray[np.uint8]) -> NDArray[np.float32]:
        """(N, h, w, 3) BGR images to the model's input, normalised and in its layout."""
        c = self.config
        x = images.astype(np.float32)
        if c.channels == "RGB":
            x = x[..., ::-1]
        if c.scale_to_unit:
            x = x / 255.0
        x = (x - np.float32(c.mean)) / np.float32(c.std)
        return x.transpose(0, 3, 1, 2) if c.layout == "NCHW" else x

    def _decode(self, outputs: list[NDArray]) -> tuple[Array, Array]:
        """Top-down outputs to xy (P, J, 2) input px and raw scores (P, J)."""
        c, n_joints, main = self.config, len(self.skeleton), outputs[self._main]
        if c.kind == "heatmap":
            heatmaps = main[:, -1] if main.ndim == 5 else main                  # CPM: last stage
            if c.layout == "NHWC":
                heatmaps = np.moveaxis(heatmaps, -1, 1)
            return decoders.decode_heatmaps(heatmaps[:, :n_joints], c.input_size, c.heatmap_sigma)
        if c.kind == "simcc":
            return decoders.decode_simcc(main, outputs[self._y], c.input_size)
        if c.kind == "regression":
            return decoders.decode_regression(main, n_joints, c.input_size,
                                              normalized=c.coordinates == "normalized",
                                              score_column=c.score_column,
                                              row_length=c.keypoint_values)
        return decoders.decode_movenet(main, c.input_size)

    def _check_outputs(self, main: tuple[int, ...], y: tuple[int, ...]) -> None:
        expected = expected_output(self.config, len(self.skeleton), main, y)
        if expected is None:
            return
        c = self.config
        given = f"{main} and {y}" if c.kind == "simcc" else str(main)
        name = self.runtime.output_names[self._main]
        raise DetectionError(
            f"{c.file}: output '{name}' gave shape {given} for a {c.input_size[0]}x"
            f"{c.input_size[1]} input, but a {c.kind} model of {len(self.skeleton)} "
            f"{c.keypoint_set} keypoints gives {expected}; check 'kind', 'keypoint_set', "
            f"'output' and 'layout' in [detection.model]")


def expected_output(config: ModelConfig, n_joints: int, main: tuple[int, ...],
                    y: tuple[int, ...]) -> str | None:
    """None where the output shapes (batch of 1) fit ``config.kind``, else what they should be."""
    (w, h), kind, j = config.input_size, config.kind, n_joints
    if kind == "heatmap":
        maps = main[:1] + main[2:] if len(main) == 5 else main
        channels = maps[1] if config.layout == "NCHW" else maps[-1]
        fits = len(maps) == 4 and channels >= j
        grid = f"(1, {j}, H, W)" if config.layout == "NCHW" else f"(1, H, W, {j})"
        return None if fits else f"{grid} heatmaps (or with a stage axis after the batch)"
    if kind == "simcc":
        fits = (len(main) == len(y) == 3 and main[1] == y[1] == j and main[2] >= w
                and main[2] * h == y[2] * w)
        return None if fits else f"x (1, {j}, {w}k) and y (1, {j}, {h}k) for a split ratio k >= 1"
    if kind == "regression":
        values, d = int(np.prod(main[1:])), config.keypoint_values
        row = main[2] if len(main) == 3 else d or values // j
        columns = max(2, config.score_column + 1)
        fits = len(main) in (2, 3) and row >= columns and (d in (0, row)) \
            and values % row == 0 and values // row >= j
        what = f"x, y{', score' if config.score_column >= 0 else ''}"
        return None if fits else (f"(1, R * D) or (1, R, D): R >= {j} keypoint rows of D = "
                                  f"{d or f'{columns} or more'} values ({what}, ...)")
    if kind == "movenet":
        return None if tuple(main) == (1, 1, j, 3) else f"(1, 1, {j}, 3) rows of y, x, score"
    rows = 5 + 3 * j
    fits = len(main) == 3 and rows in main[1:]
    return None if fits else f"(1, {rows}, A) or (1, A, {rows}) candidates: box, score, " \
                             f"then x, y, score of each keypoint"


def crop_affines(boxes: Array, input_size: tuple[int, int], box_scale: float) -> Array:
    """(P, 2, 3) affines from frame px to input px (pixel centres on integers, as OpenCV's
    warps), one per (P, 4) box x0 y0 x1 y1 in continuous coordinates (the frame spans
    [0, W] x [0, H]).

    Each box is grown to the input's aspect ratio, then by ``box_scale`` about its centre, and
    that region fills the input.
    """
    w, h = input_size
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2                                     # (P, 2)
    scale = w / crop_sizes(boxes, input_size, box_scale)[:, 0]                      # (P,)
    affines = np.zeros((len(boxes), 2, 3))
    affines[:, 0, 0] = affines[:, 1, 1] = scale
    affines[:, :, 2] = (0.5 - centre) * scale[:, None] + (np.array([w, h]) - 1) / 2
    return affines


def crop_sizes(boxes: Array, input_size: tuple[int, int], box_scale: float) -> Array:
    """(P, 2) width and height in frame px of the crops :func:`crop_affines` makes."""
    w, h = input_size
    size = boxes[:, 2:] - boxes[:, :2]
    width = np.maximum(np.maximum(size[:, 0], size[:, 1] * w / h) * box_scale, 1.0)
    return np.stack([width, width * h / w], axis=1)


def letterbox_affine(width: int, height: int, input_size: tuple[int, int]) -> Array:
    """(1, 2, 3) affine from a frame's px to input px holding the whole frame, centred."""
    return crop_affines(np.array([[0.0, 0.0, width, height]]), input_size, 1.0)


def invert_affines(affines: Array) -> Array:
    """(P, 2, 3) inverses of (P, 2, 3) affines."""
    linear = np.linalg.inv(affines[:, :, :2])                                       # (P, 2, 2)
    return np.concatenate([linear, -linear @ affines[:, :, 2:]], axis=2)


def apply_affines(affines: Array, xy: Array) -> Array:
    """(P, K, 2) points mapped by their person's (P, 2, 3) affine."""
    return np.einsum("pij,pkj->pki", affines[:, :, :2], xy) + affines[:, None, :, 2]


def map_boxes(affine: Array, boxes: Array) -> Array:
    """(N, 4) boxes x0 y0 x1 y1 in continuous coordinates mapped by one (2, 3) pixel affine."""
    corners = apply_affines(affine[None], boxes.reshape(1, -1, 2) - 0.5)[0] + 0.5
    return corners.reshape(-1, 4)
