"""``mocap export SESSION --format robot`` on a recorded reach: the default fits the arm."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from exporters.points3d import write_points3d
from mocap.cli import main
from mocap.synthetic.real_motion import motion_from_bvh

pytest.importorskip("ikpy")


@pytest.fixture
def motion(shared_data):
    """CMU 131_02's first 2 s at 30 fps: the right hand's path is 0.32 x 0.34 x 0.64 m."""
    return motion_from_bvh(shared_data / "cmu_mocap" / "131_02.bvh", "blazepose33", fps=30,
                           duration_s=2.0)


def _session(motion, folder):
    """A session holding only output/points3d.npz."""
    (folder / "output").mkdir()
    write_points3d(motion, folder / "output" / "points3d.npz")
    return folder


def test_export_robot_keeps_a_path_that_fits(motion, tmp_path, capsys):
    assert main(["export", str(_session(motion, tmp_path)), "--format", "robot"]) == 0
    note = capsys.readouterr().out
    # within 80 % of arm6's reach at human scale: nothing scaled, every frame within 5 mm
    assert "scaled" not in note and "100% of frames within 5 mm" in note


def test_export_robot_fits_a_wide_path_into_the_arm_by_default(motion, tmp_path, capsys):
    session = _session(replace(motion, xyz=motion.xyz * 3), tmp_path)   # a path 2.4 m across
    assert main(["export", str(session), "--format", "robot"]) == 0
    note = capsys.readouterr().out
    # no world_to_base: the path is shrunk into 80 % of arm6's reach, the note says so and how
    # to keep the human's scale, and then every frame is reached (within 5 mm)
    assert "to fit arm6's reach (set [export.robot] scale = 1 to keep it)" in note
    assert "100% of frames within 5 mm" in note
    robot = session / "output" / "robot"
    assert sorted(p.name for p in robot.iterdir()) == ["hand_right.csv", "joints_arm6.csv",
                                                        "joints_arm6.json"]
    joints = json.loads((robot / "joints_arm6.json").read_text())
    assert joints["unreachable"] == []
    assert len(joints["time_s"]) == len(motion.xyz)             # at the take's 30 fps
    assert np.max(joints["position_error_m"]) < 0.005


def test_export_robot_keeps_the_scale_asked_for(motion, tmp_path, capsys):
    session = _session(motion, tmp_path)
    (session / "session.toml").write_text("[export.robot]\nscale = 1\n")
    assert main(["export", str(session), "--format", "robot"]) == 0
    assert "scaled by 1 as configured" in capsys.readouterr().out
