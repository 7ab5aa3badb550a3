"""Robot trajectory files: CSV, JSON and NPZ read back to the values written."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from exporters.errors import ExportError
from exporters.robot import hand_columns, write_hand_trajectory, write_joint_trajectory
from rigs import quaternions
from rigs.hand_pose import HandTrajectory
from rigs.robot_ik import JointTrajectory, Stretch


def _hand() -> HandTrajectory:
    rotation = quaternions.to_matrix(np.array([[1.0, 0, 0, 0], [0.9, 0.1, 0.2, 0.3],
                                               [1.0, 0, 0, 0]]))
    rotation[2] = np.nan
    return HandTrajectory(np.array([0.0, 0.1, 0.2]), np.arange(9.0).reshape(3, 3) / 10,
                          rotation, np.array([0.05, np.nan, 0.04]), "robot_base")


def _joints() -> JointTrajectory:
    return JointTrajectory(("a", "b"), np.array([0.0, 0.1, 0.2]), np.array([0.0, 0.3, 0.4]),
                           np.array([[0.0, 1.0], [0.5, 1.5], [0.6, 1.6]]),
                           np.array([0.001, 0.2, 0.002]), np.zeros(3),
                           (Stretch(1, 2, 0.1, 0.1, 0.2),))


def test_hand_csv_round_trip(tmp_path):
    path = write_hand_trajectory(_hand(), tmp_path / "hand.csv")
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == ["time_s", "x_m", "y_m", "z_m", "qw", "qx", "qy", "qz",
                             "aperture_m"]
    q = [float(rows[1][k]) for k in ("qw", "qx", "qy", "qz")]
    assert np.allclose(quaternions.to_matrix(np.array(q)), _hand().rotation[1])
    assert rows[1]["aperture_m"] == "" and rows[2]["qw"] == ""      # NaN is an empty cell
    assert float(rows[2]["x_m"]) == pytest.approx(0.6)


def test_hand_json_and_npz_round_trip(tmp_path):
    data = json.loads(write_hand_trajectory(_hand(), tmp_path / "hand.json").read_text())
    assert data["frame"] == "robot_base" and data["aperture_m"] == [0.05, None, 0.04]
    with np.load(write_hand_trajectory(_hand(), tmp_path / "hand.npz")) as npz:
        expected = np.stack(list(hand_columns(_hand()).values()), 1)
        assert np.allclose(npz["table"], expected, equal_nan=True)
        assert list(npz["columns"])[:2] == ["time_s", "x_m"]


def test_joint_files_carry_retimed_time_and_unreachable(tmp_path):
    rows = list(csv.DictReader(write_joint_trajectory(_joints(), tmp_path / "j.csv").open()))
    assert [float(r["reachable"]) for r in rows] == [1.0, 0.0, 1.0]
    assert [float(r["retimed_time_s"]) for r in rows] == [0.0, 0.3, 0.4]
    assert float(rows[2]["b"]) == 1.6
    data = json.loads(write_joint_trajectory(_joints(), tmp_path / "j.json", "arm6").read_text())
    assert data["robot"] == "arm6" and data["unreachable"] == [[1, 2, 0.1, 0.1, 0.2]]
    with np.load(write_joint_trajectory(_joints(), tmp_path / "j.npz")) as npz:
        assert list(npz["joint_names"]) == ["a", "b"]
        assert np.allclose(npz["unreachable"], [[1, 2, 0.1, 0.1, 0.2]])


def test_unknown_suffix(tmp_path):
    with pytest.raises(ExportError, match="hand.txt: unknown suffix '.txt'"):
        write_hand_trajectory(_hand(), tmp_path / "hand.txt")
    assert not (tmp_path / "hand.txt").exists()
