"""Mapping keypoints between sets: by name, through exact aliases, approximate ones on request."""

from __future__ import annotations

import numpy as np
import pytest

from rigs.errors import RigError
from rigs.keypoint_map import keypoint_index, map_keypoints
from rigs.skeleton import get_skeleton, skeleton_names


def _random_keypoints(n_joints: int, seed: int, lead: tuple[int, ...] = (3, 2)):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1000, (*lead, n_joints, 2))
    score = rng.uniform(0.1, 1.0, (*lead, n_joints))
    return xy, score


@pytest.mark.parametrize("name", skeleton_names())
@pytest.mark.parametrize("approximate", [False, True])
def test_a_set_maps_onto_itself_unchanged(name, approximate):
    skel = get_skeleton(name)
    xy, score = _random_keypoints(len(skel), seed=len(name))
    out_xy, out_score = map_keypoints(xy, score, skel, skel, approximate=approximate)
    np.testing.assert_array_equal(out_xy, xy)
    np.testing.assert_array_equal(out_score, score)


@pytest.mark.parametrize("seed", [0, 1])
def test_body25_onto_coco17_moves_every_joint_by_name(seed):
    body25, coco = get_skeleton("body25"), get_skeleton("coco17")
    xy, score = _random_keypoints(25, seed, lead=(4, 3, 2))     # any leading axes
    out_xy, out_score = map_keypoints(xy, score, body25, coco)
    assert out_xy.shape == (4, 3, 2, 17, 2) and out_score.shape == (4, 3, 2, 17)
    for j, name in enumerate(coco.joints):
        np.testing.assert_array_equal(out_xy[..., j, :], xy[..., body25.index(name), :])
        np.testing.assert_array_equal(out_score[..., j], score[..., body25.index(name)])


def test_joints_the_source_lacks_are_nan_with_score_zero():
    coco, halpe = get_skeleton("coco17"), get_skeleton("halpe26")
    xy, score = _random_keypoints(17, seed=2)
    out_xy, out_score = map_keypoints(xy, score, coco, halpe)
    np.testing.assert_array_equal(out_xy[..., :17, :], xy)
    assert np.isnan(out_xy[..., 17:, :]).all() and (out_score[..., 17:] == 0).all()


def test_halpe_hip_and_body25_mid_hip_are_one_point_both_ways():
    body25, halpe = get_skeleton("body25"), get_skeleton("halpe26")
    xy, score = _random_keypoints(25, seed=3)
    to_halpe, s_halpe = map_keypoints(xy, score, body25, halpe)
    np.testing.assert_array_equal(to_halpe[..., halpe.index("hip"), :],
                                  xy[..., body25.index("mid_hip"), :])
    back, s_back = map_keypoints(to_halpe, s_halpe, halpe, body25)
    np.testing.assert_array_equal(back, xy)       # Halpe holds all 25 BODY_25 points
    np.testing.assert_array_equal(s_back, score)


def test_body25b_upper_neck_is_not_the_neck_of_other_sets():
    body25b = get_skeleton("body25b")
    for other in ("body25", "halpe26"):
        index = keypoint_index("body25b", body25b.joints, get_skeleton(other), approximate=True)
        assert index[get_skeleton(other).index("neck")] == -1, other


def test_halpe_head_is_not_body25b_head_top():
    halpe, body25b = get_skeleton("halpe26"), get_skeleton("body25b")
    index = keypoint_index("halpe26", halpe.joints, body25b, approximate=True)
    assert index[body25b.index("head_top")] == -1


def test_h36m_points_map_to_openpose_only_when_approximate_is_asked():
    h36m, body25, halpe = get_skeleton("h36m17"), get_skeleton("body25"), get_skeleton("halpe26")
    exact = keypoint_index("h36m17", h36m.joints, body25)
    assert exact[body25.index("mid_hip")] == -1 and exact[body25.index("neck")] == -1
    approx = keypoint_index("h36m17", h36m.joints, body25, approximate=True)
    assert approx[body25.index("mid_hip")] == h36m.index("pelvis")
    assert approx[body25.index("neck")] == h36m.index("thorax")
    for approximate in (False, True):     # H36M's head top is never Halpe's head point
        index = keypoint_index("h36m17", h36m.joints, halpe, approximate=approximate)
        assert index[halpe.index("head")] == -1 and index[halpe.index("neck")] != \
            h36m.index("neck")


@pytest.mark.parametrize("name", skeleton_names())
def test_shapes_that_do_not_hold_the_source_set_are_refused(name):
    skel = get_skeleton(name)
    xy, score = _random_keypoints(len(skel) - 1, seed=4)
    expected = rf"keypoints of {name} must be xy \(\.\.\., {len(skel)}, 2\)"
    with pytest.raises(RigError, match=expected):
        map_keypoints(xy, score, skel, get_skeleton("coco17"))
