"""Keypoint sets: sizes, names, bones and mirrored pairs."""

from __future__ import annotations

import numpy as np
import pytest

from rigs.errors import UnknownSkeletonError
from rigs.skeleton import get_skeleton, skeleton_names

SIZES = {"coco17": 17, "halpe26": 26, "body25": 25, "body25b": 25, "blazepose33": 33,
         "h36m17": 17}


@pytest.mark.parametrize("name", SIZES)
def test_every_set_is_a_connected_tree_with_mirrored_pairs(name):
    skel = get_skeleton(name)
    assert len(skel) == SIZES[name] and len(set(skel.joints)) == len(skel)
    roots = [j for j, p in enumerate(skel.parents) if p < 0]
    assert len(roots) == 1, roots
    for j in range(len(skel)):                       # every joint reaches the root
        seen = set()
        while skel.parents[j] >= 0:
            assert j not in seen
            seen.add(j)
            j = skel.parents[j]
    for left, right in skel.lr_pairs:
        assert skel.joints[left].replace("left", "right") == skel.joints[right]
    mirror = skel.mirror
    assert sorted(mirror) == list(range(len(skel))) and (mirror[mirror] == np.arange(len(skel))).all()


def test_coco17_names_follow_the_published_order():
    skel = get_skeleton("coco17")
    assert skel.joints[:5] == ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
    assert skel.joints[-1] == "right_ankle" and len(skel.lr_pairs) == 8


def test_blazepose_pairs_include_the_mouth():
    skel = get_skeleton("blazepose33")
    assert (skel.index("mouth_left"), skel.index("mouth_right")) in skel.lr_pairs


def test_unknown_names_suggest_the_closest():
    with pytest.raises(UnknownSkeletonError, match="did you mean 'coco17'"):
        get_skeleton("coco_17")
    with pytest.raises(UnknownSkeletonError, match="did you mean 'left_knee'"):
        get_skeleton("coco17").index("left_kne")
    assert "blazepose33" in skeleton_names()
