"""COCO keypoint-results JSON: image ids to frames, layouts by count, malformed entries."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from mocap.errors import DetectionError
from mocap.imports2d.coco_results import read_coco_results
from rigs.skeleton import get_skeleton


def _entries(xy: np.ndarray, score: np.ndarray, image_ids: list, counts: list[int]) -> list:
    """One entry per person: frame f holds counts[f] people, image id image_ids[f]."""
    return [{"image_id": image_ids[f], "category_id": 1, "score": 0.9,
             "keypoints": np.concatenate([xy[f, p], score[f, p, :, None]], 1).ravel().tolist()}
            for f, n in enumerate(counts) for p in range(n)]


def _arrays(seed: int, n_frames: int, n_people: int, n_joints: int):
    rng = np.random.default_rng(seed)
    return (rng.uniform(0, 1280, (n_frames, n_people, n_joints, 2)),
            rng.uniform(0.05, 1.0, (n_frames, n_people, n_joints)))


def _write(tmp_path, data, name="cam01.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("seed", [0, 1])
def test_integer_ids_are_frame_numbers_and_values_round_trip(tmp_path, seed):
    xy, score = _arrays(seed, n_frames=4, n_people=2, n_joints=17)
    # image 2 had nobody: the file leaves it out, and frame 2 stays (empty)
    entries = _entries(xy, score, [0, 1, 2, 3], [2, 1, 0, 2])
    kp = read_coco_results(_write(tmp_path, entries), fps=25.0)
    assert kp.skeleton.name == "coco17" and kp.xy.shape == (4, 2, 17, 2) and kp.fps == 25.0
    for f, n in enumerate([2, 1, 0, 2]):
        np.testing.assert_array_equal(kp.xy[f, :n], xy[f, :n])
        np.testing.assert_array_equal(kp.score[f, :n], score[f, :n])
        assert np.isnan(kp.xy[f, n:]).all()
    np.testing.assert_array_equal(kp.track_id, [[0, 1], [0, -1], [-1, -1], [0, 1]])


def test_file_name_ids_take_the_number_in_the_name(tmp_path):
    xy, score = _arrays(2, n_frames=3, n_people=1, n_joints=17)
    ids = ["frame_000005.jpg", "frame_000001.jpg", "frame_000003.jpg"]
    kp = read_coco_results(_write(tmp_path, _entries(xy, score, ids, [1, 1, 1])))
    assert kp.n_frames == 6
    np.testing.assert_array_equal(kp.xy[[5, 1, 3], 0], xy[:, 0])


def test_names_without_numbers_are_numbered_in_sorted_order(tmp_path):
    xy, score = _arrays(3, n_frames=3, n_people=1, n_joints=17)
    kp = read_coco_results(_write(tmp_path, _entries(xy, score, ["c", "a", "b"], [1, 1, 1])))
    np.testing.assert_array_equal(kp.xy[[2, 0, 1], 0], xy[:, 0])


def test_wholebody_lands_in_halpe26_and_17_can_be_h36m(tmp_path):
    xy, score = _arrays(4, n_frames=1, n_people=1, n_joints=133)
    kp = read_coco_results(_write(tmp_path, _entries(xy, score, [0], [1])))
    halpe = get_skeleton("halpe26")
    assert kp.skeleton == halpe
    np.testing.assert_array_equal(kp.xy[0, 0, :17], xy[0, 0, :17])
    np.testing.assert_array_equal(kp.xy[0, 0, halpe.index("right_heel")], xy[0, 0, 22])
    assert np.isnan(kp.xy[0, 0, halpe.indices(["head", "neck", "hip"])]).all()
    xy17, score17 = _arrays(5, n_frames=1, n_people=1, n_joints=17)
    h36m = read_coco_results(_write(tmp_path, _entries(xy17, score17, [0], [1]), "h.json"),
                             skeleton="h36m17")
    assert h36m.skeleton.name == "h36m17"
    np.testing.assert_array_equal(h36m.xy[0, 0], xy17[0, 0])


def test_scores_above_one_are_clipped_and_nan_pixels_are_missing(tmp_path):
    xy, score = _arrays(6, n_frames=1, n_people=1, n_joints=17)
    score[0, 0, 3] = 1.7                              # heatmap maxima may pass 1
    xy[0, 0, 4] = np.nan
    kp = read_coco_results(_write(tmp_path, _entries(xy, score, [0], [1])))
    assert kp.score[0, 0, 3] == 1.0
    assert np.isnan(kp.xy[0, 0, 4]).all() and kp.score[0, 0, 4] == 0.0


GOOD = {"image_id": 0, "keypoints": [1.0, 2.0, 0.5] * 17, "score": 0.9}


@pytest.mark.parametrize("data, message", [
    ({"annotations": []}, r"found \{'annotations': \[\]\}; expected a list of \{image_id"),
    ([GOOD, {"image_id": 1}], r"found \{'image_id': 1\}; expected a list of \{image_id"),
    ([], r"no detections at all"),
    ([GOOD, dict(GOOD, keypoints=[1.0, 2.0] * 17)],
     r"entry 1 \(image 0\) has 34 keypoint values where entry 0 has 51"),
    ([dict(GOOD, keypoints=[1.0, 2.0, "high"] * 17)],
     r"entry 0 \(image 0\) 'keypoints' must be numbers, found 'high'"),
    ([GOOD, dict(GOOD, image_id="x.jpg")], r"image_id 0 is neither a whole number nor"),
    ([dict(GOOD, keypoints=[1.0, 2.0, 0.5] * 20)],
     (r"20 keypoints per person; this format is read with 17 \(coco17\); 26 \(halpe26\); "
     r"133 \(coco_wholebody133\); give skeleton=")),
])
def test_malformed_results_name_the_file_and_entry(tmp_path, data, message):
    path = _write(tmp_path, data)
    with pytest.raises(DetectionError, match=re.escape(str(path)) + ": " + message):
        read_coco_results(path)


def test_truncated_json_names_line_and_column(tmp_path):
    path = tmp_path / "cut.json"
    path.write_text(json.dumps([GOOD])[:-30])
    with pytest.raises(DetectionError, match=re.escape(str(path)) + r": not valid JSON \(line 1"):
        read_coco_results(path)


def test_a_skeleton_of_another_size_is_refused(tmp_path):
    path = _write(tmp_path, [GOOD])
    with pytest.raises(DetectionError, match=r"17 keypoints per person, but 'halpe26' has 26"):
        read_coco_results(path, skeleton="halpe26")
    with pytest.raises(DetectionError, match=r"unknown keypoint set 'coco71'; did you mean"):
        read_coco_results(path, skeleton="coco71")


def test_a_frame_number_too_large_for_a_take_is_refused(tmp_path):
    path = _write(tmp_path, [dict(GOOD, image_id=397133000)])     # a dataset id, not a frame
    with pytest.raises(DetectionError, match=r"frame number 397133000 is not a frame index"):
        read_coco_results(path)
