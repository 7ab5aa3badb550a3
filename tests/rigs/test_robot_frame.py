"""Robot base frame from a transform or a board, workspace placement, resampling."""

from __future__ import annotations

import numpy as np
import pytest

from rigs import quaternions
from rigs.errors import RigError
from rigs.hand_pose import HandTrajectory
from rigs.robot_frame import base_from_board, place_in_workspace, reach_scale, resample, to_base


def _turning(frames: int = 5) -> HandTrajectory:
    """x moves 0.1 m per frame, the frame turns 10 degrees about z per frame, at 10 fps."""
    angle = np.radians(10.0) * np.arange(frames)
    q = np.stack([np.cos(angle / 2), 0 * angle, 0 * angle, np.sin(angle / 2)], -1)
    position = np.c_[0.1 * np.arange(frames), np.zeros(frames), np.ones(frames)]
    return HandTrajectory(np.arange(frames) / 10, position, quaternions.to_matrix(q),
                          np.linspace(0.02, 0.06, frames))


def test_board_at_base_gives_board_coordinates():
    # board 2 m along world x, turned 90 degrees about z: world (2, 1, 0) is board (1, 0, 0)
    R = np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])
    T = base_from_board(R, np.array([2.0, 0, 0]))
    hand = to_base(_turning(), T)
    assert np.allclose(T @ [2, 1, 0, 1], [1, 0, 0, 1])
    assert hand.frame == "robot_base"
    assert np.allclose(hand.rotation[0], R.T)
    offset = np.eye(4)
    offset[2, 3] = -0.01                                      # board 1 cm above the base origin
    assert np.allclose(base_from_board(R, np.array([2.0, 0, 0]), offset) @ [2, 1, 0, 1],
                       [1, 0, -0.01, 1])


def test_non_rigid_transform_is_refused():
    with pytest.raises(RigError, match="rigid transform"):
        to_base(_turning(), np.diag([2.0, 1, 1, 1]))


def test_place_in_workspace_centres_and_scales():
    placed = place_in_workspace(_turning(), centre=(0.4, 0, 0.4), scale=0.5)
    box = np.ptp(placed.position, 0)
    assert np.allclose((placed.position.min(0) + placed.position.max(0)) / 2, [0.4, 0, 0.4])
    assert np.isclose(box[0], 0.2)


def test_reach_scale_keeps_a_path_that_fits():
    # _turning spans 0.4 m: centred 0.4 m from the shoulder, its ends lie 0.45 m away,
    # inside 80 % of a 0.83 m reach (0.664 m)
    assert reach_scale(_turning(), (0.4, 0, 0.4), (0, 0, 0.4), 0.83) == 1.0


def test_reach_scale_shrinks_a_wide_path_onto_the_safe_sphere():
    hand = _turning()
    wide = HandTrajectory(hand.time, hand.position * 10, hand.rotation, hand.aperture)  # 4 m
    wide.position[1] = np.nan                                   # unknown frames are ignored
    scale = reach_scale(wide, (0.4, 0, 0.4), (0, 0, 0.4), 0.83)
    placed = place_in_workspace(wide, (0.4, 0, 0.4), scale)
    distance = np.linalg.norm(placed.position - [0, 0, 0.4], axis=1)
    # exactly on 0.8 x 0.83 m at the furthest frame: along x, 0.4 + 2 s = 0.664
    assert scale == pytest.approx((0.664 - 0.4) / 2.0)
    assert np.nanmax(distance) == pytest.approx(0.664)


def test_reach_scale_refuses_a_centre_out_of_reach():
    with pytest.raises(RigError, match="move the centre closer"):
        reach_scale(_turning(), (1.0, 0, 0.4), (0, 0, 0.4), 0.83)


def test_resample_interpolates_position_and_slerps_rotation():
    fine = resample(_turning(), 20.0)
    assert np.allclose(fine.time, np.arange(9) / 20)
    assert np.allclose(fine.position[:, 0], 0.05 * np.arange(9))
    angle = np.arctan2(fine.rotation[:, 1, 0], fine.rotation[:, 0, 0])
    assert np.allclose(np.degrees(angle), 5.0 * np.arange(9))     # halfway is 5 degrees
    assert np.allclose(fine.aperture, np.linspace(0.02, 0.06, 9))
    cubic = resample(_turning(), 20.0, "cubic")
    assert np.allclose(cubic.position[:, 0], 0.05 * np.arange(9))  # a line stays a line


def test_resample_does_not_bridge_gaps():
    hand = _turning()
    hand.position[2] = np.nan
    fine = resample(hand, 20.0)
    assert np.isnan(fine.position[3:6]).all() and np.isnan(fine.rotation[3:6]).all()
    assert np.isfinite(fine.position[[0, 1, 2, 6, 7, 8]]).all()
