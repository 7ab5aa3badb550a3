"""The generic keypoint CSV (frame,person,keypoint,x,y,score): round trips and every bad cell."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mocap.errors import DetectionError
from mocap.imports2d.generic_csv import read_generic_csv
from rigs.skeleton import get_skeleton


def _write(path, skeleton_line: str | None, xy, score, persons, order=(0, 1, 2, 3, 4, 5),
           seed=0):
    """Rows for every seen keypoint of xy (F, P, J, 2), in shuffled order and column order."""
    names = get_skeleton("blazepose33").joints
    header = ["frame", "person", "keypoint", "x", "y", "score"]
    rows = [[str(f), str(persons[p]), names[j], repr(float(xy[f, p, j, 0])),
             repr(float(xy[f, p, j, 1])), repr(float(score[f, p, j]))]
            for f, p, j in np.argwhere(score > 0)]
    rows = [rows[i] for i in np.random.default_rng(seed).permutation(len(rows))]
    lines = ([skeleton_line] if skeleton_line else []) + \
        [",".join(r[i] for i in order) for r in [header] + rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("seed, order", [(0, (0, 1, 2, 3, 4, 5)), (1, (5, 3, 4, 2, 1, 0))])
def test_rows_in_any_order_round_trip_exactly(tmp_path, seed, order):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1920, (4, 2, 33, 2))
    score = rng.uniform(0.05, 1.0, (4, 2, 33))
    score[rng.random(score.shape) < 0.2] = 0.0                    # not written: missing
    score[2] = 0.0                                                # nobody in frame 2
    path = _write(tmp_path / "cam03.csv", "# skeleton: blazepose33", xy, score, [3, 8], order,
                  seed)
    kp = read_generic_csv(path, fps=60.0)
    assert kp.skeleton.name == "blazepose33" and kp.fps == 60.0 and kp.xy.shape == xy.shape
    seen = score > 0
    np.testing.assert_array_equal(kp.xy[seen], xy[seen])
    np.testing.assert_array_equal(kp.score, score)
    assert np.isnan(kp.xy[~seen]).all()
    np.testing.assert_array_equal(kp.track_id, [[3, 8], [3, 8], [-1, -1], [3, 8]])


def test_the_set_is_the_smallest_holding_every_name(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("frame,person,keypoint,x,y,score\n0,0,left_eye_inner,1.5,2.5,0.9\n"
                    "1,0,nose,3.0,4.0,\n")                         # empty score: 0
    kp = read_generic_csv(path)
    assert kp.skeleton.name == "blazepose33" and kp.n_frames == 2
    np.testing.assert_array_equal(kp.xy[0, 0, 1], [1.5, 2.5])
    assert kp.score[1, 0, 0] == 0.0 and np.isnan(kp.xy[1, 0, 0]).all()


HEADER = "frame,person,keypoint,x,y,score"


@pytest.mark.parametrize("lines, message", [
    (["frame,id,joint,x,y,score", "0,0,nose,1,2,0.5"], (r"line 1 is \['frame', 'id', 'joint', "
     r"'x', 'y', 'score'\]; a generic keypoint CSV starts with the header")),
    ([HEADER, "0,0,nose,1,2,0.5", "1,0,nose,1,two,0.5"], (r"line 3, column 'y': 'two' is not a "
     r"number")),
    ([HEADER, "0,0,nose,1,2,0.5", "1.5,0,nose,1,2,0.5"], (r"line 3: frame must be a whole "
     r"number, got 1.5")),
    ([HEADER, "0,-1,nose,1,2,0.5"], r"line 2: person -1; a person is a whole number from 0"),
    ([HEADER, "0,0,nose,1,2,0.5", "0,1,nose,1,2,0.5", "0,0,nose,3,4,0.5"],
     r"lines 2 and 4 give the same keypoint of person 0 in frame 0; keep one"),
    ([HEADER, "0,0,nose,1,2,0.5", "0,0,left_shouldr,1,2,0.5"], (r"keypoints \['left_shouldr'\] "
     r"are not joints of any keypoint set \('left_shouldr': did you mean 'left_shoulder'\?\)")),
    (["# skeleton: coco17", HEADER, "0,0,neck,1,2,0.5"], (r"keypoints \['neck'\] are not joints "
     r"of keypoint set coco17")),
    ([HEADER, "0,0,nose,1,2,0.5", "0,0,left_big_toe,1,2,0.5"], (r"its keypoint names fit body25 "
     r"and body25b alike; say which with skeleton=")),
    ([HEADER, "0,0,nose,1,2,0.5", "0,0,nose,1,2"], r"line 3 has 5 cells where line 1 has 6"),
    ([HEADER, "0,0,nose,inf,2,0.5"], r"keypoint 0 of person 0 in frame 0 is infinite"),
    ([HEADER], r"no keypoint rows after the header"),
])
def test_malformed_rows_name_the_file_and_line(tmp_path, lines, message):
    path = tmp_path / "cam.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DetectionError, match=re.escape(str(path)) + ": " + message):
        read_generic_csv(path)


def test_an_empty_file_with_a_known_set_is_an_empty_camera(tmp_path):
    path = tmp_path / "cam.csv"
    path.write_text("# skeleton: halpe26\n" + HEADER + "\n")
    kp = read_generic_csv(path)
    assert kp.skeleton.name == "halpe26" and kp.xy.shape == (0, 0, 26, 2)
