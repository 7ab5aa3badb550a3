"""import_keypoints: each format recognised from its path and content; clear words otherwise."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from mocap.errors import DetectionError
from mocap.imports2d import import_keypoints

POINTS = [1.0, 2.0, 0.5] * 17


@pytest.mark.parametrize("name, content, skeleton", [
    ("cam1.json", [{"image_id": 0, "keypoints": POINTS, "score": 0.9}], "coco17"),
    ("cam1.json", [{"image_id": "0.jpg", "keypoints": POINTS, "score": 0.9, "idx": 2,
                    "box": [0, 0, 1, 1]}], "coco17"),
    ("cam1.json", [{"image_id": "0.jpg", "keypoints": [1.0, 2.0, 0.5] * 26, "idx": 2}],
     "halpe26"),
    ("cam1.json", [{"frame_id": 0, "instances": [{"keypoints": [[1.0, 2.0]] * 17,
                                                  "keypoint_scores": [0.5] * 17}]}], "coco17"),
    ("cam1.json", {"predictions": [[{"keypoints": [[1.0, 2.0]] * 26,
                                     "keypoint_scores": [0.5] * 26}]]}, "halpe26"),
    ("cam1.csv", "frame,person,keypoint,x,y,score\n0,0,nose,1.0,2.0,0.5\n", "coco17"),
    ("cam1.csv", "scorer,s,s,s\nbodyparts,nose,nose,nose\ncoords,x,y,likelihood\n0,1,2,0.5\n",
     "coco17"),
])
def test_one_camera_formats_are_recognised_and_named_by_the_stem(tmp_path, name, content,
                                                                  skeleton):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    out = import_keypoints(path, fps=24.0)
    assert list(out) == ["cam1"]
    assert out["cam1"].skeleton.name == skeleton and out["cam1"].fps == 24.0
    np.testing.assert_array_equal(out["cam1"].xy[0, 0, 0], [1.0, 2.0])


def test_openpose_folder_and_caliscope_file(tmp_path):
    folder = tmp_path / "cam07"
    folder.mkdir()
    (folder / "f_0000_keypoints.json").write_text(
        json.dumps({"people": [{"pose_keypoints_2d": [1.0, 2.0, 0.5] * 25}]}))
    assert import_keypoints(folder, skeleton="body25b")["cam07"].skeleton.name == "body25b"
    xy = tmp_path / "xy_POSE.csv"
    xy.write_text("sync_index,cam_id,keypoint_id,img_loc_x,img_loc_y\n0,0,0,1,2\n0,3,0,1,2\n")
    assert sorted(import_keypoints(xy)) == ["cam_0", "cam_3"]


@pytest.mark.parametrize("name, content, message", [
    ("k.json", {"people": []}, r"one frame of OpenPose JSON; import the folder"),
    ("k.json", {"version": 2}, (r"found \{'version': 2\}; expected AlphaPose or COCO keypoint "
     r"results .* or MMPose predictions")),
    ("k.csv", "a,b,c\n", (r"line 1 is 'a,b,c'; expected a DeepLabCut CSV .* or the generic CSV "
     r"header frame,person,keypoint,x,y,score")),
    ("k.h5", "", r"not an HDF5 file; expected DeepLabCut's \.h5"),
    ("k.txt", "", r"unknown keypoint file type '\.txt'; expected a folder of OpenPose JSON"),
])
def test_unknown_content_says_what_was_expected(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(DetectionError, match=re.escape(str(path)) + ": " + message):
        import_keypoints(path)


def test_a_missing_path_is_named(tmp_path):
    with pytest.raises(DetectionError, match=r"nothing\.json: no such file or folder"):
        import_keypoints(tmp_path / "nothing.json")


def test_a_bad_fps_is_refused(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("frame,person,keypoint,x,y,score\n0,0,nose,1.0,2.0,0.5\n")
    for fps in (0.0, -30.0, float("nan")):
        with pytest.raises(DetectionError, match=r"c\.csv: fps must be a number of frames per "
                           r"second in \(0, 10000\]"):
            import_keypoints(path, fps=fps)
