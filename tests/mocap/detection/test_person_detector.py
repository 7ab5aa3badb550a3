"""BlazePose's person detector: anchors, decoding and suppression by hand, then a real frame."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from mocap.detection.person_detector import (
    PersonDetector,
    body_boxes,
    decode_detections,
    detection_windows,
    letterbox_matrix,
    mediapipe_model,
    ssd_anchor_centres,
    weighted_nms,
)
from mocap.errors import DetectionError
from rigs.skeleton import get_skeleton


def test_anchors_are_mediapipes_2254_in_layer_order():
    anchors = ssd_anchor_centres()
    # 28 x 28 cells x 2 (stride 8) + 14 x 14 x 2 (stride 16) + 7 x 7 x 6 (three stride-32 layers)
    assert anchors.shape == (28 * 28 * 2 + 14 * 14 * 2 + 7 * 7 * 6, 2) == (2254, 2)
    np.testing.assert_array_equal(anchors[:3], [[4, 4], [4, 4], [12, 4]])   # rows of x first
    np.testing.assert_array_equal(anchors[2 * 28], [4, 12])                  # second row
    np.testing.assert_array_equal(anchors[1568], [8, 8])                     # stride 16 begins
    np.testing.assert_array_equal(anchors[1568 + 392:1568 + 392 + 6], [[16, 16]] * 6)
    np.testing.assert_array_equal(anchors[-1], [208, 208])


def test_decoding_by_hand():
    anchors = np.array([[12.0, 4.0], [100.0, 50.0]])
    raw = np.zeros((2, 12), dtype=np.float32)
    raw[0, :4] = [2, -1, 20, 40]                      # centre offset (2, -1), 20 x 40 px
    raw[0, 4:12] = [1, 2, -3, 4, 0, 0, 5, -6]         # keypoint offsets from the anchor
    faces, scores, keypoints = decode_detections(raw, np.array([0.0, 1e6], np.float32), anchors)
    np.testing.assert_allclose(faces[0], [4, -17, 24, 23])
    np.testing.assert_allclose(keypoints[0], [[13, 6], [9, 8], [12, 4], [17, -2]])
    np.testing.assert_allclose(faces[1], [100, 50, 100, 50])
    np.testing.assert_allclose(scores, [0.5, 1 / (1 + np.exp(-100))])   # logits clipped at 100


def test_weighted_nms_averages_overlapping_detections_by_score():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], dtype=float)
    scores = np.array([0.6, 0.9, 0.7])
    keypoints = np.array([[[0, 0]], [[3, 3]], [[9, 9]]], dtype=float)
    out_boxes, out_scores, out_points = weighted_nms(boxes, scores, keypoints)
    np.testing.assert_allclose(out_scores, [0.9, 0.7])           # best first, its own score
    np.testing.assert_allclose(out_boxes[0], (0.9 * boxes[1] + 0.6 * boxes[0]) / 1.5)
    np.testing.assert_allclose(out_points[0], [[0.9 * 3 / 1.5] * 2])
    np.testing.assert_allclose(out_boxes[1], boxes[2])


def test_weighted_nms_of_nothing_is_nothing():
    out = weighted_nms(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 4, 2)))
    assert [a.shape[0] for a in out] == [0, 0, 0]


@pytest.mark.parametrize("size", [(1088, 1920), (1920, 1080), (640, 640)])
def test_letterbox_spans_the_long_side_centred(size):
    width, height = size
    m = letterbox_matrix((0, 0, width, height))
    corners = np.array([[0, 0], [width, height]], dtype=float) @ m[:, :2].T + m[:, 2]
    long_axis = int(height > width)
    np.testing.assert_allclose(corners[:, long_axis], [0, 224])
    np.testing.assert_allclose(corners.mean(axis=0), [112, 112])


def test_long_frames_get_square_tiles_half_a_tile_apart_at_most():
    windows = detection_windows(1088, 1920)
    assert windows[0] == (0, 0, 1088, 1920)
    assert windows[1:] == [(0, 0, 1088, 1088), (0, 416, 1088, 1088), (0, 832, 1088, 1088)]
    assert detection_windows(640, 480)[1:] == [(0, 0, 480, 480), (160, 0, 480, 480)]
    assert detection_windows(600, 560) == [(0, 0, 600, 560)]         # near square: whole only


def test_body_box_bounds_the_turned_body_square():
    upright = np.array([[[100, 200], [100, 120], [0, 0], [0, 0]]], dtype=float)
    np.testing.assert_allclose(body_boxes(upright), [[20, 120, 180, 280]])
    tilted = np.array([[[0, 0], [30, 40], [0, 0], [0, 0]]], dtype=float)   # r = 50, turned
    np.testing.assert_allclose(body_boxes(tilted), [[-70, -70, 70, 70]])   # r (|cos| + |sin|)


@pytest.fixture(scope="module")
def detector() -> PersonDetector:
    return PersonDetector()


def first_frame(path: Path) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    ok, frame = cap.read()
    cap.release()
    assert ok, path
    return frame


def test_real_subject_is_found_where_openpose_put_them(detector, shared_data):
    demo = shared_data / "pose2sim_demo" / "single_person"
    frame = first_frame(demo / "videos" / "cam01.mp4")
    boxes, scores, keypoints = detector(frame)
    # OpenPose's 2D of the same frame (an independent detector) marks where the subject is
    people = json.loads((demo / "openpose_body25b" / "cam01_json" / "cam01.0000.json")
                        .read_text())["people"]
    joints = np.array(people[0]["pose_keypoints_2d"]).reshape(-1, 3)
    joints = joints[joints[:, 2] > 0.3, :2]
    inside = ((joints >= boxes[:, None, :2]) & (joints <= boxes[:, None, 2:])).all(-1)  # (N, J)
    assert scores[0] >= 0.5                           # the detector's own confidence threshold
    assert inside[0].all()                            # the best detection's body box holds them
    names = get_skeleton("body25b").joints
    hips = np.array(people[0]["pose_keypoints_2d"]).reshape(-1, 3)[
        [names.index("left_hip"), names.index("right_hip")], :2].mean(axis=0)
    # the hip-centre keypoint within 10 % of the body size (r: hip to scale point, about the
    # hip-to-head-top distance) of OpenPose's hip midpoint; the two place hips differently
    r = np.linalg.norm(keypoints[0, 1] - keypoints[0, 0])
    assert np.linalg.norm(keypoints[0, 0] - hips) < 0.1 * r


def test_empty_scene_gives_no_people(detector):
    boxes, scores, keypoints = detector(np.full((480, 640, 3), 128, np.uint8))
    assert boxes.shape == (0, 4) and scores.shape == (0,) and keypoints.shape == (0, 4, 2)


def test_a_frame_that_is_not_bgr_uint8_is_refused(detector):
    with pytest.raises(DetectionError, match=r"expected an \(H, W, 3\) uint8 BGR frame"):
        detector(np.zeros((480, 640), np.uint8))


def test_a_model_missing_from_mediapipe_is_named():
    with pytest.raises(DetectionError, match="modules/nothing.tflite is missing"):
        mediapipe_model("modules/nothing.tflite")
