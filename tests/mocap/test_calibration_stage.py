"""The calibration stage's detection cache: reused while the footage, the board and the code that
detects (and OpenCV) are unchanged, redone when any of them changes."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.board import Board
from calibration.detections import BoardDetections
from mocap import calibration_stage
from mocap.calibration_stage import code_version, detect_cached

BOARD = Board.charuco((5, 4), 0.04, 0.03, "DICT_4X4_50")


@pytest.fixture
def detector(monkeypatch):
    """Stands in for the board detector: records which cameras it was asked to detect."""
    calls: list[list[str]] = []

    def detect_all(todo, board, **_):
        calls.append(sorted(todo))
        n = board.object_points.shape[0]
        return {cam: BoardDetections(cam, (640, 480), np.array([0]), np.full((1, n, 2), 5.0), 1)
                for cam in todo}

    monkeypatch.setattr(calibration_stage, "detect_all", detect_all)
    return calls


def footage(tmp_path):
    video = tmp_path / "cam_1.mp4"
    video.write_bytes(b"not decoded: detect_all is replaced")
    return {"cam_1": video}


def test_cached_detections_are_reused_while_nothing_changes(tmp_path, detector):
    videos = footage(tmp_path)
    first = detect_cached(videos, BOARD, tmp_path / "cache", progress=False)
    again = detect_cached(videos, BOARD, tmp_path / "cache", progress=False)
    assert detector == [["cam_1"]]
    np.testing.assert_array_equal(again["cam_1"].xy, first["cam_1"].xy)


def test_detections_cached_by_other_detection_code_are_redone(tmp_path, detector, monkeypatch):
    videos = footage(tmp_path)
    detect_cached(videos, BOARD, tmp_path / "cache", progress=False)
    monkeypatch.setattr(calibration_stage, "DETECTION_VERSION", "another detector")
    detect_cached(videos, BOARD, tmp_path / "cache", progress=False)
    assert detector == [["cam_1"], ["cam_1"]]
    detect_cached(videos, BOARD, tmp_path / "cache", progress=False)
    assert len(detector) == 2                      # and stored under the new version


def test_the_detection_version_follows_the_detection_code_and_opencv(tmp_path, monkeypatch):
    assert calibration_stage.DETECTION_VERSION == code_version()
    module = tmp_path / "stand_in_detector.py"
    module.write_text("THRESHOLD = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    modules = ("calibration.detection", "stand_in_detector")
    before = code_version(modules)
    assert code_version(modules) == before                 # a pure function
    module.write_text("THRESHOLD = 2\n")                            # the code changed
    edited = code_version(modules)
    assert edited != before
    monkeypatch.setattr(calibration_stage.cv2, "__version__", "99.0.0")   # OpenCV changed
    assert code_version(modules) not in (before, edited)
