"""Acceptance 5 of issue 18: a recorded reach retargeted to the bundled arm."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mocap.synthetic.real_motion import motion_from_bvh
from rigs.hand_pose import hand_poses
from rigs.robot_frame import place_in_workspace, to_base
from rigs.robot_ik import retarget, retime, stretches
from rigs.urdf_arm import ARM6, read_urdf

pytest.importorskip("ikpy")


@pytest.fixture(scope="module")
def reach(shared_data):
    """CMU 131_02 from 1 s to 3.5 s at 30 fps: the right hand rises to shoulder height and
    comes down (0.45 m forward, 0.63 m up and down), mapped onto arm6 with the default placement
    (centre 0.4 m in front, 0.4 m high, human scale)."""
    motion = motion_from_bvh(shared_data / "cmu_mocap" / "131_02.bvh", "blazepose33", fps=30,
                             start_s=1.0, duration_s=2.5)
    return place_in_workspace(to_base(hand_poses(motion), np.eye(4)))


@pytest.fixture(scope="module")
def arm():
    return read_urdf(ARM6)


@pytest.fixture(scope="module")
def tracked(arm, reach):
    return retarget(arm, reach)


def test_reach_is_tracked_within_5mm(tracked, reach):
    # goal of acceptance 5: < 5 mm wherever reachable; every frame here lies within 0.75 m of
    # the shoulder axis (arm6 reaches 0.83 m), so every frame must be reachable
    shoulder = np.array([0.0, 0.0, 0.3])
    assert np.linalg.norm(reach.position - shoulder, axis=1).max() < 0.8
    assert tracked.unreachable == ()
    assert tracked.position_error.max() < 0.005
    assert np.degrees(tracked.orientation_error).max() < 5.0   # the orientation is followed too


def test_joint_limits_never_exceeded(tracked, arm):
    assert (tracked.q >= arm.lower).all() and (tracked.q <= arm.upper).all()


def test_velocities_within_limits_after_retiming(tracked, arm):
    speed = np.abs(np.diff(tracked.q, axis=0)) / np.diff(tracked.retimed_time)[:, None]
    assert (speed <= arm.velocity * (1 + 1e-9)).all()
    # the human's pace exceeds the arm's limits somewhere, so retiming had work to do
    raw = np.abs(np.diff(tracked.q, axis=0)) / np.diff(tracked.time)[:, None]
    assert (raw > arm.velocity).any() and tracked.retimed_time[-1] > tracked.time[-1]


def test_out_of_reach_stretch_is_reported(arm, reach):
    position = reach.position.copy()
    position[30:40] += [1.5, 0.0, 0.0]                  # 1.5 m further: beyond arm6's 0.83 m
    moved = replace(reach, position=position)
    result = retarget(arm, moved)
    assert [(s.start, s.stop) for s in result.unreachable] == [(30, 40)]
    stretch = result.unreachable[0]
    assert stretch.start_s == pytest.approx(1.0) and stretch.stop_s == pytest.approx(39 / 30)
    assert stretch.max_error_m > 0.5
    # the arm picks the track up again after the stretch
    assert result.position_error[40:].max() < 0.005


def test_retime_keeps_slow_intervals():
    q = np.array([[0.0], [0.1], [1.1], [1.2]])
    time = np.array([0.0, 1.0, 2.0, 3.0])
    assert np.allclose(retime(q, time, np.array([0.5])), [0.0, 1.0, 3.0, 4.0])


def test_stretches_of_a_mask():
    bad = np.array([True, False, True, True, False])
    found = stretches(bad, np.arange(5) / 10, np.array([1.0, 0.0, np.nan, 3.0, 0.0]))
    assert [(s.start, s.stop, s.max_error_m) for s in found] == [(0, 1, 1.0), (2, 4, 3.0)]


def test_target_must_be_in_base_frame(arm, reach):
    from rigs.errors import RigError
    with pytest.raises(RigError, match="robot base frame"):
        retarget(arm, replace(reach, frame="world"))


def test_missing_ikpy_names_the_extra(arm, reach, monkeypatch):
    import sys

    from rigs.errors import RigError
    monkeypatch.setitem(sys.modules, "ikpy.chain", None)
    with pytest.raises(RigError, match=r"pip install 'mocap\[robot\]'"):
        retarget(arm, reach)
