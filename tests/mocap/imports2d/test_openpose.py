"""OpenPose JSON folders: the Pose2Sim demo's BODY_25B files, exact round trips, malformed files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from mocap.errors import DetectionError
from mocap.imports2d.layouts import COCO18
from mocap.imports2d.openpose import read_openpose
from rigs.skeleton import get_skeleton

DEMO = Path("pose2sim_demo/single_person/openpose_body25b")
CAMERAS = ("cam01", "cam02", "cam03", "cam04")


def _raw_people(path: Path) -> list[np.ndarray]:
    return [np.array(p["pose_keypoints_2d"]).reshape(-1, 3)
            for p in json.loads(path.read_text())["people"]]


@pytest.mark.parametrize("camera", CAMERAS)
def test_pose2sim_demo_imports_exactly_as_body25b(shared_data, camera):
    folder = shared_data / DEMO / f"{camera}_json"
    kp = read_openpose(folder, skeleton="body25b", fps=60.0)   # the demo was filmed at 60 fps
    assert kp.skeleton == get_skeleton("body25b") and kp.fps == 60.0
    assert kp.n_frames == 100                                  # files .0000 to .0099
    for frame in (0, 1, 37, 64, 99):                           # spot checks against the files
        people = _raw_people(folder / f"{camera}.{frame:04d}.json")
        assert (kp.track_id[frame, :len(people)] == np.arange(len(people))).all()
        assert (kp.track_id[frame, len(people):] == -1).all()
        for p, raw in enumerate(people):
            seen = raw[:, 2] > 0
            np.testing.assert_array_equal(kp.xy[frame, p][seen], raw[seen, :2])
            np.testing.assert_array_equal(kp.score[frame, p], raw[:, 2])
            assert np.isnan(kp.xy[frame, p][~seen]).all()


def test_pose2sim_demo_without_fps_or_set_says_what_to_give(shared_data):
    folder = shared_data / DEMO / "cam01_json"
    assert read_openpose(folder, skeleton="body25b").fps is None   # OpenPose records no fps
    with pytest.raises(DetectionError, match=r"fits body25 or body25b; say which with skeleton="):
        read_openpose(folder)


def _write_frames(folder: Path, xy: np.ndarray, score: np.ndarray, counts: list[int],
                  skip: tuple[int, ...] = (), person_ids: np.ndarray | None = None) -> None:
    """Frame f holds counts[f] people; frames in ``skip`` get no file at all."""
    folder.mkdir(parents=True, exist_ok=True)
    for f, n in enumerate(counts):
        if f in skip:
            continue
        people = []
        for p in range(n):
            values = np.concatenate([xy[f, p], score[f, p, :, None]], axis=1).ravel()
            pid = -1 if person_ids is None else int(person_ids[f, p])
            people.append({"person_id": [pid], "pose_keypoints_2d": values.tolist()})
        (folder / f"video_{f:012d}_keypoints.json").write_text(
            json.dumps({"version": 1.3, "people": people}))


def _arrays(seed: int, n_frames: int, n_people: int, n_joints: int):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1920, (n_frames, n_people, n_joints, 2))
    score = rng.uniform(0.05, 1.0, (n_frames, n_people, n_joints))
    score[rng.random(score.shape) < 0.1] = 0.0                    # OpenPose's missing: 0, 0, 0
    xy[score == 0] = 0.0
    return xy, score


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_files_round_trip_exactly_with_missing_frames_empty(tmp_path, seed):
    xy, score = _arrays(seed, n_frames=6, n_people=3, n_joints=25)
    counts = [3, 1, 0, 2, 3, 2]
    _write_frames(tmp_path / "cam", xy, score, counts, skip=(4,))
    kp = read_openpose(tmp_path / "cam", skeleton="body25", fps=30.0)
    assert kp.xy.shape == (6, 3, 25, 2) and kp.skeleton.name == "body25"
    for f, n in enumerate(counts):
        n = 0 if f == 4 else n                                    # frame 4 has no file
        seen = score[f, :n] > 0
        np.testing.assert_array_equal(kp.xy[f, :n][seen], xy[f, :n][seen])
        np.testing.assert_array_equal(kp.score[f, :n], score[f, :n])
        assert np.isnan(kp.xy[f, n:]).all() and (kp.track_id[f, n:] == -1).all()


def test_person_ids_are_track_ids(tmp_path):
    xy, score = _arrays(3, n_frames=2, n_people=2, n_joints=25)
    ids = np.array([[7, 3], [3, 7]])
    _write_frames(tmp_path / "cam", xy, score, [2, 2], person_ids=ids)
    np.testing.assert_array_equal(read_openpose(tmp_path / "cam", "body25b").track_id, ids)


def test_coco18_lands_in_body25_by_name(tmp_path):
    xy, score = _arrays(4, n_frames=2, n_people=1, n_joints=18)
    score[:] = np.maximum(score, 0.5)
    _write_frames(tmp_path / "cam", xy, score, [1, 1])
    kp = read_openpose(tmp_path / "cam")                          # 18 is COCO-18 alone
    body25 = kp.skeleton
    assert body25.name == "body25"
    np.testing.assert_array_equal(kp.xy[:, 0, body25.indices(COCO18)], xy[:, 0])
    missing = [body25.index(j) for j in body25.joints if j not in COCO18]
    assert np.isnan(kp.xy[:, 0, missing]).all() and (kp.score[:, 0, missing] == 0).all()


def _one_file(tmp_path: Path, text: str, name: str = "cam01.0003.json") -> Path:
    folder = tmp_path / "cam01"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


GOOD_PERSON = {"person_id": [-1], "pose_keypoints_2d": [1.0, 2.0, 0.5] * 25}


@pytest.mark.parametrize("text, message", [
    ('{"people": [{"pose_keypoints_2d": [1, 2', r"not valid JSON \(line 1, column \d+"),
    ('[1, 2, 3]', r"not OpenPose JSON: no 'people' list"),
    (json.dumps({"people": [{"pose_keypoints_2d": [1.0, 2.0] * 37}]}), r"holds 74 values"),
    (json.dumps({"people": [{"pose_keypoints_2d": [1.0, "x", 0.5] * 25}]}),
     r"people\[0\]\.pose_keypoints_2d must be numbers, found 'x'"),
    (json.dumps({"people": [{"pose_keypoints_2d": [1.0, None, 0.5] * 25}]}),
     r"must be numbers, found None"),
    (json.dumps({"people": [GOOD_PERSON, {"face_keypoints_2d": []}]}),
     r"people\[1\] has no 'pose_keypoints_2d'"),
    (json.dumps({"people": [GOOD_PERSON, {"pose_keypoints_2d": [1.0, 2.0, 0.5] * 18}]}),
     r"its people hold \[18, 25\] keypoints"),
    (json.dumps({"people": [dict(GOOD_PERSON, person_id=[1.5])]}),
     r"person_id must be one whole number"),
])
def test_malformed_file_is_named_with_what_is_wrong(tmp_path, text, message):
    path = _one_file(tmp_path, text)
    with pytest.raises(DetectionError, match=re.escape(str(path)) + ".*" + message):
        read_openpose(path.parent, skeleton="body25")


def test_a_count_of_no_openpose_model_lists_the_counts_read(tmp_path):
    path = _one_file(tmp_path, json.dumps({"people": [{"pose_keypoints_2d": [1.0] * 60}]}))
    with pytest.raises(DetectionError, match=r"cam01: 20 keypoints per person; this format is "
                       r"read with 18 \(coco18\); 25 \(body25 or body25b\)"):
        read_openpose(path.parent)


def test_files_of_two_models_in_one_folder_name_the_odd_file(tmp_path):
    _one_file(tmp_path, json.dumps({"people": [GOOD_PERSON]}), "f_000.json")
    odd = _one_file(tmp_path, json.dumps({"people": [{"pose_keypoints_2d": [1.0] * 54}]}),
                    "f_001.json")
    with pytest.raises(DetectionError, match=re.escape(str(odd)) + r": 18 keypoints per person, "
                       r"but .*f_000\.json has 25"):
        read_openpose(odd.parent, skeleton="body25")


@pytest.mark.parametrize("names, message", [
    (("frame.json",), r"frame\.json': its name holds no frame number"),
    (("a_0001.json", "b_0001.json"), r"b_0001\.json: frame number 1 again \(also a_0001\.json\)"),
])
def test_file_names_must_number_frames_once(tmp_path, names, message):
    for name in names:
        _one_file(tmp_path, json.dumps({"people": [GOOD_PERSON]}), name)
    with pytest.raises(DetectionError, match=message):
        read_openpose(tmp_path / "cam01", skeleton="body25")


def test_a_folder_without_json_or_people_says_so(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DetectionError, match=r"empty: no \*\.json files"):
        read_openpose(tmp_path / "empty")
    _one_file(tmp_path, json.dumps({"people": []}))
    with pytest.raises(DetectionError, match=r"no person in any of its 1 files"):
        read_openpose(tmp_path / "cam01")
    kp = read_openpose(tmp_path / "cam01", skeleton="body25b")       # nobody, but a known set
    assert kp.xy.shape == (4, 0, 25, 2)
