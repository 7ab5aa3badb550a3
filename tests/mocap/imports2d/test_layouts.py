"""File layouts: the sets other tools' columns land in, and choosing one by count or by names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mocap.errors import DetectionError
from mocap.imports2d.layouts import (
    COCO18,
    LAYOUTS,
    choose_layout,
    layout_from_names,
    snake_case,
)
from rigs.skeleton import get_skeleton

FILE = Path("cam.json")


@pytest.mark.parametrize("name, size, target", [("coco18", 18, "body25"),
                                                ("halpe136", 136, "halpe26"),
                                                ("coco_wholebody133", 133, "halpe26")])
def test_layouts_land_each_named_point_once(name, size, target):
    layout = LAYOUTS[name]
    kept = [c for c in layout.columns if c >= 0]
    assert len(layout.columns) == size and layout.skeleton.name == target
    assert len(kept) == len(set(kept))                      # no joint filled twice
    assert len(kept) == {"coco18": 18, "halpe136": 26, "coco_wholebody133": 23}[name]


def test_coco18_columns_are_body25_joints_by_name():
    body25 = get_skeleton("body25")
    assert [body25.joints[c] for c in LAYOUTS["coco18"].columns] == list(COCO18)


def test_apply_scatters_columns_and_leaves_the_rest_missing():
    layout = LAYOUTS["coco18"]
    xy = np.arange(2 * 18 * 2, dtype=float).reshape(2, 18, 2)
    out_xy, out_score = layout.apply(xy, np.ones((2, 18)))
    assert out_xy.shape == (2, 25, 2)
    np.testing.assert_array_equal(out_xy[:, list(layout.columns)], xy)
    mid_hip = get_skeleton("body25").index("mid_hip")
    assert np.isnan(out_xy[:, mid_hip]).all() and (out_score[:, mid_hip] == 0).all()


def test_choose_layout_by_count_or_by_the_callers_word():
    by_count = {25: ("body25", "body25b"), 18: "coco18"}
    assert choose_layout(FILE, 18, None, by_count).name == "coco18"
    assert choose_layout(FILE, 25, "body25b", by_count).skeleton.name == "body25b"
    assert choose_layout(FILE, 17, "h36m17", by_count).skeleton.name == "h36m17"
    with pytest.raises(DetectionError, match=r"cam\.json: 25 keypoints per person fits body25 "
                       r"or body25b; say which with skeleton= \('body25', 'body25b'\)"):
        choose_layout(FILE, 25, None, by_count)


@pytest.mark.parametrize("name, expected", [("LeftShoulder", "left_shoulder"),
                                            ("left-big toe", "left_big_toe"),
                                            ("nose", "nose"), ("RHip", "r_hip")])
def test_snake_case(name, expected):
    assert snake_case(name) == expected


def test_layout_from_names_picks_the_smallest_set_or_the_given_one():
    assert layout_from_names(FILE, ["nose", "left_eye"], None).skeleton.name == "coco17"
    assert layout_from_names(FILE, ["hip", "head"], None).skeleton.name == "halpe26"
    layout = layout_from_names(FILE, ["right_heel", "nose"], "body25")
    body25 = get_skeleton("body25")
    assert layout.columns == (body25.index("right_heel"), body25.index("nose"))
    with pytest.raises(DetectionError, match=r"no keypoint set holds all of its keypoint names "
                       r"\(left_eye_inner, mid_hip\)"):
        layout_from_names(FILE, ["mid_hip", "left_eye_inner"], None)
