"""Hand poses: axes from the hand keypoints, forearm fallback, aperture and NaN frames."""

from __future__ import annotations

import numpy as np
import pytest

from rigs.errors import RigError
from rigs.hand_pose import hand_poses
from rigs.motion import Motion3D
from rigs.skeleton import get_skeleton


def _motion(name: str, points: dict[str, tuple[float, float, float]], frames: int = 2):
    skeleton = get_skeleton(name)
    xyz = np.zeros((frames, 1, len(skeleton), 3))
    for joint, xyz_j in points.items():
        xyz[:, 0, skeleton.joints.index(joint)] = xyz_j
    return Motion3D(xyz=xyz, skeleton=skeleton, fps=10.0)


def test_right_hand_palm_down_fingers_forward():
    # palm down, fingers along +x, thumb side (index) at +y: z must point down out of the palm
    motion = _motion("blazepose33", {
        "right_elbow": (-0.3, 0, 1), "right_wrist": (0, 0, 1), "right_index": (0.08, 0.02, 1),
        "right_pinky": (0.07, -0.03, 1), "right_thumb": (0.05, 0.06, 1)})
    hand = hand_poses(motion)
    assert np.allclose(hand.rotation[0], [[1, 0, 0], [0, -1, 0], [0, 0, -1]], atol=0.1)
    assert np.allclose(hand.rotation[0].T @ hand.rotation[0], np.eye(3), atol=1e-12)
    assert np.isclose(np.linalg.det(hand.rotation[0]), 1.0)
    assert np.allclose(hand.position, [0, 0, 1]) and np.allclose(hand.time, [0, 0.1])
    assert np.allclose(hand.aperture, np.hypot(0.03, 0.04))


def test_left_hand_mirrors_to_the_same_palm_normal():
    motion = _motion("blazepose33", {
        "left_elbow": (-0.3, 0, 1), "left_wrist": (0, 0, 1), "left_index": (0.08, -0.02, 1),
        "left_pinky": (0.07, 0.03, 1)})
    assert np.allclose(hand_poses(motion, "left").rotation[0][:, 2], [0, 0, -1])


def test_coco_uses_forearm_and_world_down_without_aperture():
    motion = _motion("coco17", {"right_elbow": (0, -0.3, 1), "right_wrist": (0, 0, 1)})
    hand = hand_poses(motion)
    assert hand.aperture is None
    assert np.allclose(hand.rotation[0][:, 0], [0, 1, 0]) and np.allclose(
        hand.rotation[0][:, 2], [0, 0, -1])
    vertical = _motion("coco17", {"right_elbow": (0, 0, 0.7), "right_wrist": (0, 0, 1)})
    assert np.allclose(hand_poses(vertical).rotation[0][:, 2], [1, 0, 0])


def test_missing_frame_is_nan_and_kept():
    motion = _motion("coco17", {"right_elbow": (0, -0.3, 1), "right_wrist": (0, 0, 1)}, 3)
    motion.xyz[1, 0, motion.skeleton.joints.index("right_wrist")] = np.nan
    hand = hand_poses(motion)
    assert np.isnan(hand.position[1]).all() and np.isnan(hand.rotation[1]).all()
    assert np.isfinite(hand.rotation[[0, 2]]).all()


def test_bad_side_and_person():
    motion = _motion("coco17", {})
    with pytest.raises(RigError, match="side must be"):
        hand_poses(motion, "middle")
    with pytest.raises(RigError, match="person 1 is out of range"):
        hand_poses(motion, person=1)
