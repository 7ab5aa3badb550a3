"""caliscope xy_<TRACKER>.csv: every camera from one file, its column generations, tracker ids."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mocap.errors import DetectionError
from mocap.imports2d.caliscope import read_caliscope

NEW = ("sync_index,cam_id,frame_time,object_id,keypoint_id,img_loc_x,img_loc_y,obj_loc_x,"
       "obj_loc_y,obj_loc_z")
OLD = ",sync_index,port,frame_index,frame_time,point_id,img_loc_x,img_loc_y,obj_loc_x,obj_loc_y"


def _rows(seed: int, n_cams: int, n_frames: int, n_ids: int, drop: float = 0.3):
    """Random landmarks (frame, cam, id, x, y); about ``drop`` of them not written."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(np.arange(n_frames), np.arange(n_cams), np.arange(n_ids),
                                indexing="ij"), -1).reshape(-1, 3)
    grid = grid[rng.random(len(grid)) > drop]
    return grid, rng.uniform(0, 1280, (len(grid), 2))


def _write_new(path, grid, xy, object_ids=None):
    obj = np.zeros(len(grid), int) if object_ids is None else object_ids
    lines = [NEW] + [f"{f},{c},{f / 30:.4f},{o},{k},{x!r},{y!r},,," for (f, c, k), o, (x, y)
                     in zip(grid.tolist(), obj.tolist(), xy.tolist())]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("seed", [0, 1])
def test_holistic_file_gives_every_camera_as_blazepose33(tmp_path, seed):
    grid, xy = _rows(seed, n_cams=3, n_frames=5, n_ids=33)
    hands = np.array([[0, 0, 100], [1, 2, 205], [2, 1, 512]])        # hand and face ids
    path = _write_new(tmp_path / "xy_HOLISTIC.csv", np.concatenate([grid, hands]),
                      np.concatenate([xy, np.ones((3, 2))]))
    cams = read_caliscope(path, fps=30.0)
    assert sorted(cams) == ["cam_0", "cam_1", "cam_2"]
    for c, kp in cams.items():
        assert kp.skeleton.name == "blazepose33" and kp.xy.shape[:3] == (5, 1, 33)
        assert kp.fps == 30.0
        expected = np.full((5, 33, 2), np.nan)
        rows = grid[:, 1] == int(c[-1])
        expected[grid[rows, 0], grid[rows, 2]] = xy[rows]
        np.testing.assert_array_equal(kp.xy[:, 0], expected)
        np.testing.assert_array_equal(kp.score[:, 0], np.isfinite(expected[..., 0]) * 1.0)


def test_object_ids_are_people_and_onnx_halpe_ids_are_halpe26(tmp_path):
    grid = np.array([[0, 1, 19], [0, 1, 19], [1, 1, 0]])
    path = _write_new(tmp_path / "xy_ONNX_rtmpose_m_halpe26.csv", grid,
                      np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), np.array([0, 4, 4]))
    kp = read_caliscope(path)["cam_1"]
    assert kp.skeleton.name == "halpe26"
    np.testing.assert_array_equal(kp.track_id, [[0, 4], [4, -1]])
    np.testing.assert_array_equal(kp.xy[0, :, 19], [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(kp.xy[1, 0, 0], [5.0, 6.0])


def test_older_files_with_port_and_point_id(tmp_path):
    lines = [OLD, "0,0,2,0,0.0,11,100.5,200.25,,", "1,3,2,3,0.1,0,7.0,8.0,,"]
    path = tmp_path / "xy_POSE.csv"
    path.write_text("\n".join(lines))
    kp = read_caliscope(path)["cam_2"]
    assert kp.n_frames == 4
    np.testing.assert_array_equal(kp.xy[0, 0, 11], [100.5, 200.25])
    np.testing.assert_array_equal(kp.xy[3, 0, 0], [7.0, 8.0])


def test_wholebody_ids_land_in_halpe26(tmp_path):
    path = _write_new(tmp_path / "xy_ONNX_rtmpose_l_coco_wholebody.csv",
                      np.array([[0, 0, 22], [0, 0, 60]]), np.array([[1.0, 2.0], [3.0, 4.0]]))
    kp = read_caliscope(path)["cam_0"]
    np.testing.assert_array_equal(kp.xy[0, 0, kp.skeleton.index("right_heel")], [1.0, 2.0])
    assert np.isfinite(kp.xy[0, 0]).all(-1).sum() == 1           # face point 60 dropped


@pytest.mark.parametrize("name, text, message", [
    ("xy_CHARUCO.csv", NEW + "\n", r"cannot tell which keypoints the ids of tracker 'CHARUCO'"),
    ("xy_POSE.csv", "sync_index,cam_id,img_loc_x,img_loc_y\n0,0,1,2\n",
     r"line 1 has no column keypoint_id or point_id"),
    ("xy_POSE.csv", NEW + "\n0,0,0.0,0,40,1.0,2.0,,,\n", (r"line 2: keypoint id 40 is not one of "
     r"blazepose33's 33 keypoints")),
    ("xy_POSE.csv", NEW + "\n0,0,0.0,0,4,1.0,2.0,,,\n0,1,0.0,0,4,1.0,2.0,,,\n"
     "0,0,0.0,0,4,1.5,2.0,,,\n", r"lines 2 and 4 give the same keypoint of person 0 in frame 0"),
    ("xy_POSE.csv", NEW + "\n0,0,0.0,0,4,1.0,abc,,,\n", (r"line 2, column 'img_loc_y': 'abc' is "
     r"not a number")),
    ("xy_POSE.csv", NEW + "\n0.5,0,0.0,0,4,1.0,2.0,,,\n", (r"line 2: sync_index must be a whole "
     r"number, got 0.5")),
    ("xy_POSE.csv", NEW + "\n", r"no blazepose33 keypoints in it"),
])
def test_malformed_files_name_file_line_and_fix(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DetectionError, match=re.escape(str(path)) + ": " + message):
        read_caliscope(path)
