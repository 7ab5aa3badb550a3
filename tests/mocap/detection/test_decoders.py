"""Decoders: each output family gives back the keypoints a tiny ONNX model was built to show."""

from __future__ import annotations

import numpy as np
import pytest

from mocap.detection.decoders import (
    decode_heatmaps,
    decode_movenet,
    decode_regression,
    decode_simcc,
    decode_single_stage,
    heatmap_argmax,
)
from mocap.detection.runtimes import open_model

INPUT = (192, 256)                 # model input (width, height) px, the common top-down size
HEATMAP = (48, 64)                 # its heatmap (width, height): stride 4
STRIDE = 4
J = 17
IMAGE_SHAPE = (1, 3, INPUT[1], INPUT[0])


def model_outputs(fixed_model, outputs: list[np.ndarray]) -> list[np.ndarray]:
    """What an ONNX model built to give ``outputs`` gives through onnxruntime."""
    runtime = open_model(fixed_model(outputs, IMAGE_SHAPE))
    return runtime(np.zeros(IMAGE_SHAPE, np.float32))


def gaussian_heatmaps(centres: np.ndarray, sigma: float) -> np.ndarray:
    """(N, J, H, W) Gaussians of peak 1 at ``centres`` (N, J, 2) heatmap px."""
    x, y = np.arange(HEATMAP[0]), np.arange(HEATMAP[1])
    dx = x - centres[..., 0, None]                                              # (N, J, W)
    dy = y - centres[..., 1, None]                                              # (N, J, H)
    return np.exp(-(dy[..., :, None] ** 2 + dx[..., None, :] ** 2) / (2 * sigma**2))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dark_finds_gaussian_centres_off_the_grid_that_argmax_misses(fixed_model, seed):
    rng = np.random.default_rng(seed)
    # 2 people; centres 3 sigma or more inside the edges, where the blur's zero padding shows
    centres = rng.uniform([6, 6], [HEATMAP[0] - 7, HEATMAP[1] - 7], (2, J, 2))
    truth = centres * STRIDE                                                    # input px
    [heatmaps] = model_outputs(fixed_model, [gaussian_heatmaps(centres, 2.0)])
    xy, score = decode_heatmaps(heatmaps, INPUT, sigma=2.0)
    peak, _ = heatmap_argmax(heatmaps.astype(float))
    dark_error = np.linalg.norm(xy - truth, axis=-1)
    argmax_error = np.linalg.norm(peak * STRIDE - truth, axis=-1)
    # The log of a Gaussian (smoothed by a Gaussian: still one) is a quadratic, so the Newton
    # step is exact but for float32 storage (1e-7 relative) and the blur's cut-off at 4 sigma:
    # 0.01 heatmap px, 0.04 input px, is a wide margin.
    assert dark_error.max() < 0.04
    # Argmax is off by the centre's fraction of a pixel, uniform in [0, 0.5] per axis: on
    # average about 0.38 heatmap px, 1.5 input px; 34 joints averaging under 0.5 px would take
    # every centre landing near the grid.
    assert argmax_error.mean() > 0.5
    # The peak sample is at most 0.71 heatmap px from the centre: exp(-0.5 / 8) = 0.94.
    assert ((score > 0.93) & (score <= 1.0)).all()


def test_a_flat_heatmap_decodes_to_its_argmax_without_nan():
    heatmaps = np.zeros((1, J, HEATMAP[1], HEATMAP[0]))
    xy, score = decode_heatmaps(heatmaps, INPUT, sigma=2.0)
    np.testing.assert_array_equal(xy, 0.0)
    np.testing.assert_array_equal(score, 0.0)


@pytest.mark.parametrize("split", [2.0, 3.0])
def test_simcc_recovers_keypoints_within_half_a_bin(fixed_model, split):
    rng = np.random.default_rng(int(split))
    truth = rng.uniform([0, 0], [INPUT[0] - 1, INPUT[1] - 1], (1, J, 2))         # input px
    peaks = rng.uniform(0.4, 1.0, (2, 1, J))                                      # x, y peaks
    vectors = [peaks[a, ..., None] * np.exp(
        -(np.arange(int(INPUT[a] * split)) - truth[..., a, None] * split) ** 2 / (2 * 6.0**2))
        for a in (0, 1)]                              # RTMPose-like: sigma 6 bins
    simcc_x, simcc_y = model_outputs(fixed_model, vectors)
    xy, score = decode_simcc(simcc_x, simcc_y, INPUT)
    # The peak bin is the nearest to truth * split: at most half a bin, 0.5 / split px, off
    # per axis.
    assert np.abs(xy - truth).max() <= 0.5 / split + 1e-9
    # MMPose's score: the lower of the two peaks (a sample within half a bin of the top:
    # exp(-0.25 / 72) of it).
    np.testing.assert_allclose(score, peaks.min(axis=0), rtol=4e-3)


def test_regression_of_normalised_coordinates_and_scores(fixed_model):
    rng = np.random.default_rng(3)
    rows = rng.uniform(0, 1, (1, J, 3))                       # x, y in [0, 1] of the input, score
    [output] = model_outputs(fixed_model, [rows.reshape(1, -1)])
    xy, score = decode_regression(output, J, INPUT, normalized=True, score_column=2)
    # Continuous coordinates: x = 0 is the left edge, half a pixel left of pixel 0's centre.
    # float32 holds values below 1 to 6e-8: 2e-5 px at 256 px.
    np.testing.assert_allclose(xy, rows[..., :2] * INPUT - 0.5, atol=1e-4)
    np.testing.assert_allclose(score, rows[..., 2], atol=1e-6)


def test_regression_in_input_pixels_with_a_score_column(fixed_model):
    rng = np.random.default_rng(4)
    rows = rng.uniform(0, 1, (1, J, 5)) * [*INPUT, 1, 1, 1]   # MediaPipe-like x, y, z, vis, pres
    [output] = model_outputs(fixed_model, [rows])
    xy, score = decode_regression(output, J, INPUT, normalized=False, score_column=3)
    np.testing.assert_allclose(xy, rows[..., :2] - 0.5, atol=1e-4)   # float32 at 256: 3e-5
    np.testing.assert_allclose(score, rows[..., 3], atol=1e-6)


def test_movenet_rows_of_y_x_score(fixed_model):
    rng = np.random.default_rng(5)
    rows = rng.uniform(0, 1, (1, 1, J, 3))
    [output] = model_outputs(fixed_model, [rows])
    xy, score = decode_movenet(output, INPUT)
    np.testing.assert_allclose(xy, rows[:, 0, :, 1::-1] * INPUT - 0.5, atol=1e-4)
    np.testing.assert_allclose(score, rows[..., 2][:, 0], atol=1e-6)


def yolo_candidates(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A, 5 + 3J) candidates: two people, a near copy of the first scoring less (for NMS),
    and 5 weak candidates; with the two people's boxes (2, 4) xyxy and keypoints (2, J, 3)."""
    boxes = np.array([[100.0, 150, 80, 200], [220, 140, 70, 190]])               # cx, cy, w, h
    keypoints = np.concatenate([rng.uniform(b[:2] - b[2:] / 2, b[:2] + b[2:] / 2, (J, 2))
                                for b in boxes]).reshape(2, J, 2)
    keypoints = np.concatenate([keypoints, rng.uniform(0.3, 1, (2, J, 1))], -1)  # (2, J, 3)
    people = np.concatenate([boxes, [[0.9], [0.8]], keypoints.reshape(2, -1)], 1)
    twin = people[0] + np.r_[3.0, -2, 0, 0, -0.2, rng.normal(0, 2, 3 * J)]       # IoU ~0.9
    weak = np.concatenate([rng.uniform(0, 300, (5, 4)), np.full((5, 1), 0.1),
                           rng.uniform(0, 300, (5, 3 * J))], 1)
    corners = np.concatenate([boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, :2] + boxes[:, 2:] / 2], 1)
    return np.concatenate([weak[:2], [twin], people[1:], weak[2:], people[:1]]), corners, keypoints


@pytest.mark.parametrize("channels_first", [True, False])
def test_single_stage_keeps_two_people_and_suppresses_the_duplicate(fixed_model, channels_first):
    cand, corners, keypoints = yolo_candidates(np.random.default_rng(6))
    raw = cand.T[None] if channels_first else cand[None]       # Ultralytics: (1, 5 + 3J, A)
    [output] = model_outputs(fixed_model, [raw])
    boxes, box_score, xy, score = decode_single_stage(
        output, J, box_format="cxcywh", min_score=0.5, nms_iou=0.5, max_people=4, logits=False)
    # float32 holds values up to 300 to 2e-5 px.
    np.testing.assert_allclose(boxes, corners, atol=1e-4)
    np.testing.assert_allclose(box_score, [0.9, 0.8], atol=1e-6)
    np.testing.assert_allclose(xy, keypoints[..., :2] - 0.5, atol=1e-4)   # continuous -> px
    np.testing.assert_allclose(score, keypoints[..., 2], atol=1e-6)


def test_single_stage_logits_and_max_people():
    cand, corners, keypoints = yolo_candidates(np.random.default_rng(7))
    logits = cand.copy()
    scores = np.r_[4, 7:cand.shape[1]:3]                        # box score, keypoint scores
    p = np.clip(cand[:, scores], 1e-6, 1 - 1e-6)                # the weak rows' are arbitrary
    logits[:, scores] = np.log(p / (1 - p))
    boxes, box_score, xy, score = decode_single_stage(
        logits[None], J, box_format="cxcywh", min_score=0.5, nms_iou=0.5, max_people=1,
        logits=True)
    np.testing.assert_allclose(boxes, corners[:1], atol=1e-9)
    np.testing.assert_allclose(box_score, [0.9], atol=1e-9)
    np.testing.assert_allclose(xy, keypoints[:1, :, :2] - 0.5, atol=1e-9)
    np.testing.assert_allclose(score, keypoints[:1, :, 2], atol=1e-9)
