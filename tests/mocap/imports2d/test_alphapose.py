"""AlphaPose results JSON: track ids from idx, Halpe sets by count, malformed entries."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from mocap.errors import DetectionError
from mocap.imports2d.alphapose import read_alphapose
from rigs.skeleton import get_skeleton


def _write(tmp_path, entries):
    path = tmp_path / "alphapose-results.json"
    path.write_text(json.dumps(entries))
    return path


def _entry(image: str, xy: np.ndarray, score: np.ndarray, idx) -> dict:
    return {"image_id": image, "category_id": 1, "score": 2.7, "box": [1.0, 2.0, 30.0, 90.0],
            "idx": idx, "keypoints": np.concatenate([xy, score[:, None]], 1).ravel().tolist()}


@pytest.mark.parametrize("seed, n_joints", [(0, 26), (1, 17)])
def test_results_round_trip_with_idx_as_track_id(tmp_path, seed, n_joints):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1920, (3, 2, n_joints, 2))
    score = rng.uniform(0.05, 1.0, (3, 2, n_joints))
    tracks = [[4, 9], [9, 4], [4, 9]]
    entries = [_entry(f"{f}.jpg", xy[f, p], score[f, p], tracks[f][p])
               for f in range(3) for p in range(2)]
    kp = read_alphapose(_write(tmp_path, entries), fps=50.0)
    assert kp.skeleton.name == {26: "halpe26", 17: "coco17"}[n_joints] and kp.fps == 50.0
    np.testing.assert_array_equal(kp.xy, xy)
    np.testing.assert_array_equal(kp.score, score)
    np.testing.assert_array_equal(kp.track_id, tracks)


def test_full_body_136_keeps_its_first_26_as_halpe26(tmp_path):
    rng = np.random.default_rng(2)
    xy, score = rng.uniform(0, 900, (136, 2)), rng.uniform(0.1, 1.0, 136)
    kp = read_alphapose(_write(tmp_path, [_entry("0.jpg", xy, score, [1.0])]))   # idx as a list
    assert kp.skeleton == get_skeleton("halpe26") and kp.track_id[0, 0] == 1
    np.testing.assert_array_equal(kp.xy[0, 0], xy[:26])


def test_untracked_people_are_numbered_by_their_place(tmp_path):
    rng = np.random.default_rng(3)
    xy, score = rng.uniform(0, 900, (17, 2)), rng.uniform(0.1, 1.0, 17)
    entries = [{k: v for k, v in _entry("0.jpg", xy, score, 0).items() if k != "idx"}] * 2
    np.testing.assert_array_equal(read_alphapose(_write(tmp_path, entries)).track_id, [[0, 1]])


@pytest.mark.parametrize("idx", ["a", 1.5, [], True])
def test_a_track_id_that_is_no_whole_number_names_the_entry(tmp_path, idx):
    rng = np.random.default_rng(4)
    entries = [_entry("0.jpg", rng.uniform(0, 9, (17, 2)), np.ones(17), 0),
               _entry("1.jpg", rng.uniform(0, 9, (17, 2)), np.ones(17), idx)]
    path = _write(tmp_path, entries)
    with pytest.raises(DetectionError, match=re.escape(str(path)) + r": entry 1's track id must "
                       r"be a whole number"):
        read_alphapose(path)


def test_a_count_alphapose_does_not_write_lists_its_counts(tmp_path):
    path = _write(tmp_path, [_entry("0.jpg", np.ones((18, 2)), np.ones(18), 0)])
    with pytest.raises(DetectionError, match=r"18 keypoints per person; this format is read "
                       r"with 17 \(coco17\); 26 \(halpe26\); 133 \(coco_wholebody133\); 136 "
                       r"\(halpe136\)"):
        read_alphapose(path)


def test_ids_repeated_within_a_frame_are_no_track_ids(tmp_path):
    rng = np.random.default_rng(5)
    entries = [_entry("0.jpg", rng.uniform(0, 9, (17, 2)), np.ones(17), [0]) for _ in range(2)]
    np.testing.assert_array_equal(read_alphapose(_write(tmp_path, entries)).track_id, [[0, 1]])
