"""Keypoint sets: sizes, names, bones and mirrored pairs."""

from __future__ import annotations

import numpy as np
import pytest

from rigs.errors import UnknownSkeletonError
from rigs.skeleton import Skeleton, get_skeleton, skeleton_names

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


@pytest.mark.parametrize("name", skeleton_names())
def test_anatomy_knows_every_link_of_the_published_sets(name):
    """Every link of our sets is classified by the table of body parts: limb segments, the
    pelvis and the feet are rigid; links to the neck, the spine and shoulder to shoulder bend."""
    skeleton = get_skeleton(name)
    rigid, known = skeleton.anatomy
    assert known.all()
    pairs = {frozenset((skeleton.joints[a], skeleton.joints[b])): r
             for (a, b), r in zip(skeleton.bones, rigid)}
    for side in ("left", "right"):
        for bone in ((f"{side}_shoulder", f"{side}_elbow"), (f"{side}_elbow", f"{side}_wrist"),
                     (f"{side}_hip", f"{side}_knee"), (f"{side}_knee", f"{side}_ankle")):
            assert pairs[frozenset(bone)]
    assert not pairs.get(frozenset(("left_shoulder", "right_shoulder")), False)
    assert not any(r for pair, r in pairs.items()
                   if pair & {"neck", "upper_neck", "spine", "thorax"})


def test_links_of_unknown_joints_are_left_to_the_data():
    rigid, known = Skeleton("custom", ("left_knee", "marker_7", "left_ankle"), (-1, 0, 0),
                            ((0, 1), (0, 2)), ()).anatomy
    np.testing.assert_array_equal(known, [False, True])
    np.testing.assert_array_equal(rigid, [False, True])
