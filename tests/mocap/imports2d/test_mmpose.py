"""MMPose 1.x predictions: the video, result-dict and one-image layouts; malformed instances."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from mocap.errors import DetectionError
from mocap.imports2d.mmpose import read_mmpose


def _instances(xy: np.ndarray, score: np.ndarray, tracks=None) -> list[dict]:
    return [dict({"keypoints": xy[p].tolist(), "keypoint_scores": score[p].tolist(),
                  "bbox": [[0.0, 0.0, 10.0, 10.0]], "bbox_score": 0.9},
                 **({} if tracks is None else {"track_id": tracks[p]}))
            for p in range(len(xy))]


def _arrays(seed: int, n_frames: int, n_people: int, n_joints: int = 17):
    rng = np.random.default_rng(seed)
    return (rng.uniform(0, 1280, (n_frames, n_people, n_joints, 2)),
            rng.uniform(0.05, 1.0, (n_frames, n_people, n_joints)))


def _write(tmp_path, data):
    path = tmp_path / "cam02.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("seed", [0, 1])
def test_video_predictions_round_trip(tmp_path, seed):
    xy, score = _arrays(seed, n_frames=4, n_people=2)
    counts = [2, 0, 1, 2]
    data = [{"frame_id": f, "instances": _instances(xy[f, :n], score[f, :n])}
            for f, n in enumerate(counts)]
    kp = read_mmpose(_write(tmp_path, data), fps=30.0)
    assert kp.skeleton.name == "coco17" and kp.xy.shape == (4, 2, 17, 2) and kp.fps == 30.0
    for f, n in enumerate(counts):
        np.testing.assert_array_equal(kp.xy[f, :n], xy[f, :n])
        np.testing.assert_array_equal(kp.score[f, :n], score[f, :n])
        assert np.isnan(kp.xy[f, n:]).all()


def test_result_dict_predictions_with_track_ids(tmp_path):
    xy, score = _arrays(2, n_frames=2, n_people=2, n_joints=26)
    data = {"predictions": [_instances(xy[0], score[0], [5, 2]),
                            _instances(xy[1], score[1], [2, 5])]}
    kp = read_mmpose(_write(tmp_path, data))
    assert kp.skeleton.name == "halpe26"
    np.testing.assert_array_equal(kp.xy, xy)
    np.testing.assert_array_equal(kp.track_id, [[5, 2], [2, 5]])


def test_one_image_is_one_frame_and_simcc_scores_clip_to_one(tmp_path):
    xy, score = _arrays(3, n_frames=1, n_people=1)
    score[0, 0, 0] = 1.08                      # RTMPose's SimCC scores may pass 1
    kp = read_mmpose(_write(tmp_path, _instances(xy[0], score[0])))
    assert kp.xy.shape == (1, 1, 17, 2) and kp.score[0, 0, 0] == 1.0
    np.testing.assert_array_equal(kp.xy[0, 0], xy[0, 0])


GOOD = {"keypoints": [[1.0, 2.0]] * 17, "keypoint_scores": [0.5] * 17}


@pytest.mark.parametrize("data, message", [
    ({"frames": []}, r"found \{'frames': \[\]\}; expected MMPose predictions"),
    ([{"frame_id": -1, "instances": [GOOD]}], r"frame_id -1 is not a frame index"),
    ([{"frame_id": 0, "instances": GOOD}], r"frame 0: instances must be a list"),
    ({"predictions": [[{"keypoints": [[1.0, 2.0]] * 17}]]},
     r"frame 0, instance 0 lacks 'keypoints' or 'keypoint_scores'"),
    ({"predictions": [[GOOD], [GOOD, dict(GOOD, keypoints=[[1.0, 2.0, 3.0]] * 17)]]},
     r"frame 1, instance 1: 'keypoints' must be \[\[x, y\], \.\.\.\]"),
    ({"predictions": [[dict(GOOD, keypoint_scores=[0.5] * 16)]]},
     r"frame 0, instance 0: 'keypoints' must be .* got \[17, 2\] points and \[16\] scores"),
    ({"predictions": [[dict(GOOD, keypoints=[[1.0, "a"]] * 17)]]},
     r"frame 0, instance 0 'keypoints' must be numbers, found 'a'"),
    ({"predictions": [[GOOD, dict(GOOD, keypoints=[[1.0, 2.0]] * 26,
                                  keypoint_scores=[0.5] * 26)]]},
     r"instances hold \[17, 26\] keypoints"),
    ({"predictions": [[dict(GOOD, track_id="p1")]]},
     r"frame 0, instance 0: track_id must be a whole number, got 'p1'"),
    ({"predictions": [[], []]}, r"no person in any frame"),
])
def test_malformed_predictions_name_the_file_frame_and_instance(tmp_path, data, message):
    path = _write(tmp_path, data)
    with pytest.raises(DetectionError, match=re.escape(str(path)) + ": " + message):
        read_mmpose(path)
