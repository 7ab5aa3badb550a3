"""A session that brings another tool's 2D: the Pose2Sim demo's OpenPose JSON through
``mocap run``, imported exactly, with clear errors for what such files cannot tell."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mocap.cli import main
from mocap.imports2d import import_keypoints

CAMERAS = ("cam_01", "cam_02", "cam_03", "cam_04")


@pytest.fixture
def session(shared_data: Path, tmp_path: Path) -> Path:
    """keypoints2d/<camera> links to the demo's OpenPose folders (nothing copied)."""
    (tmp_path / "keypoints2d").mkdir()
    for camera in CAMERAS:
        source = shared_data / "pose2sim_demo/single_person/openpose_body25b" / \
            f"cam{camera[-2:]}_json"
        (tmp_path / "keypoints2d" / camera).symlink_to(source, target_is_directory=True)
    return tmp_path


def _run(session: Path, shared_data: Path) -> int:
    calibration = shared_data / "pose2sim_demo/calibration/Calib.qca.txt"
    return main(["run", str(session), "--calibration", str(calibration), "-q"])


def test_openpose_folders_run_as_body25b(session, shared_data):
    (session / "session.toml").write_text('fps = 60\nkeypoint_set = "body25b"\n')
    assert _run(session, shared_data) == 0
    with np.load(session / "output/points3d.npz") as out:
        assert str(out["skeleton"]) == "body25b" and float(out["fps"]) == 60.0
        assert out["xyz"].shape[:1] == (100,)
    # the people as OpenPose listed them in frame 0 of cam_01: slot order kept, values exact
    first = min((session / "keypoints2d/cam_01").glob("*.json"))
    people = json.loads(first.read_text())["people"]
    raw = np.array(people[0]["pose_keypoints_2d"]).reshape(25, 3)
    kp = import_keypoints(session / "keypoints2d/cam_01", "body25b", 60.0)["cam_01"]
    seen = raw[:, 2] > 0
    np.testing.assert_array_equal(kp.xy[0, 0][seen], raw[seen, :2])


def test_an_ambiguous_keypoint_count_asks_for_keypoint_set(session, shared_data, capsys):
    (session / "session.toml").write_text("fps = 60\n")
    assert _run(session, shared_data) == 2
    message = capsys.readouterr().err
    assert "cam_01" in message and "body25b" in message and "keypoint_set" in message


def test_a_missing_frame_rate_is_asked_for(session, shared_data, capsys):
    (session / "session.toml").write_text('keypoint_set = "body25b"\n')
    assert _run(session, shared_data) == 2
    message = capsys.readouterr().err
    assert "frame rate" in message and "fps" in message and "session.toml" in message
