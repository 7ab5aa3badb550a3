"""The humanoid rig: which bones each keypoint set drives, the T-pose, names and bad mappings."""

from __future__ import annotations

import numpy as np
import pytest

from rigs.errors import RigError
from rigs.humanoid import humanoid_layout, humanoid_rig
from rigs.skeleton import get_skeleton, skeleton_names

LIMBS = [f"{bone}.{side}" for side in "LR" for bone in (
    "shoulder", "upper_arm", "forearm", "hand", "thigh", "shin", "foot")]


def _rig(name: str, naming: str = "blender"):
    layout = humanoid_layout(get_skeleton(name))
    n = len(layout.bones)
    offsets, tails = np.linspace(0.1, 0.5, n), np.linspace(0.05, 0.3, n)
    return layout, humanoid_rig(layout, offsets, tails, naming=naming)


@pytest.mark.parametrize("name", skeleton_names())
def test_every_set_drives_the_trunk_and_all_limbs(name):
    _, rig = _rig(name)
    assert {"hips", "spine", "neck", "head", *LIMBS} <= set(rig.bones)
    assert rig.bones[0] == "hips"
    parent = {b: rig.bones[p] for b, p in zip(rig.bones, rig.parents) if p >= 0}
    for side in "LR":
        assert parent[f"thigh.{side}"] == "hips"
        assert parent[f"forearm.{side}"] == f"upper_arm.{side}"
        assert parent[f"shoulder.{side}"] in ("spine", "chest")


def test_bones_a_set_lacks_are_left_out_and_extra_points_add_bones():
    coco, _ = _rig("coco17")
    blaze, _ = _rig("blazepose33")
    h36m, _ = _rig("h36m17")
    assert "toe.L" not in coco.bones and "chest" not in coco.bones
    assert "toe.L" in blaze.bones and "chest" in h36m.bones
    hand, foot = coco.bones.index("hand.L"), coco.bones.index("foot.L")
    assert coco.aims[hand] is None and coco.aims[foot] is None       # leaves in COCO-17
    assert blaze.aims[blaze.bones.index("hand.L")] is not None       # knuckles aim the hand
    assert h36m.parents[h36m.bones.index("neck")] == h36m.bones.index("chest")


def test_rest_pose_is_a_t_pose_facing_minus_y_with_ankles_on_the_floor():
    for name in ("coco17", "body25b", "h36m17"):
        _, rig = _rig(name)
        rest = rig.rest_positions
        at = {b: rest[i] for i, b in enumerate(rig.bones)}
        for side, sign in (("L", 1.0), ("R", -1.0)):
            # arms straight out along +-X at shoulder height: exact in the T-pose (1e-12)
            arm = at[f"hand.{side}"] - at[f"upper_arm.{side}"]
            np.testing.assert_allclose(arm[1:], 0.0, atol=1e-12)
            assert sign * arm[0] > 0
            assert rig.tails[rig.index(f"foot.{side}"), 1] < 0          # toes forward (-Y)
        # the ankles' mean height is the floor (the lengths here differ left and right)
        np.testing.assert_allclose(at["foot.L"][2] + at["foot.R"][2], 0.0, atol=1e-12)
        assert at["head"][2] > at["neck"][2] > at["hips"][2]


def test_keypoints_name_the_set_joint_or_nothing_for_midpoints():
    _, rig = _rig("coco17")
    keypoints = dict(zip(rig.bones, rig.keypoints))
    assert keypoints["hips"] == "" and keypoints["neck"] == ""            # midpoints in COCO
    assert keypoints["thigh.L"] == "left_hip" and keypoints["hand.R"] == "right_wrist"
    _, h36m = _rig("h36m17")
    assert dict(zip(h36m.bones, h36m.keypoints))["hips"] == "pelvis"


def test_mixamo_names():
    _, rig = _rig("halpe26", naming="mixamo")
    assert rig.bones[0] == "mixamorig:Hips"
    assert {"mixamorig:LeftArm", "mixamorig:RightUpLeg", "mixamorig:LeftToeBase"} <= set(rig.bones)


def test_a_mapping_overrides_the_table():
    layout = humanoid_layout(get_skeleton("halpe26"), {"toe.L": "left_small_toe"})
    toe = layout.point_names.index("toe.L")
    assert layout.point_joints[toe].tolist() == [get_skeleton("halpe26").index("left_small_toe")] * 2


def test_a_mapping_naming_a_missing_joint_is_refused():
    with pytest.raises(RigError, match="no joint.*left_big_toe"):
        humanoid_layout(get_skeleton("coco17"), {"toe.L": "left_big_toe"})
    with pytest.raises(RigError, match="unknown points.*big_toe"):
        humanoid_layout(get_skeleton("coco17"), {"big_toe": "left_ankle"})


def test_bad_lengths_and_naming_are_refused():
    layout = humanoid_layout(get_skeleton("coco17"))
    n = len(layout.bones)
    with pytest.raises(RigError, match=f"needs \\({n},\\)"):
        humanoid_rig(layout, np.ones(n - 1), np.ones(n))
    with pytest.raises(RigError, match="naming"):
        humanoid_rig(layout, np.ones(n), np.ones(n), naming="maya")
