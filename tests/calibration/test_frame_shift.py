"""Whole-frame synchronisation errors: a camera whose frames are one frame off its timestamps,
or one that started a frame late in lockstep footage, is found and moved by ``calibrate``."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.calibrate import calibrate
from calibration.config import CalibrationConfig
from calibration.detections import BoardDetections
from calibration.frame_shift import combined, shifted_inputs, suspect_shifts
from calibration.result import CameraTiming, MotionReport
from mocap.synthetic.board_observations import GridBoard
from mocap.synthetic.rolling_board import film_board
from mocap.synthetic.studio import ring_rig

FPS = 30.0
NO_FLOOR = CalibrationConfig(world_frame=None)    # the world is the root camera's frame


@pytest.fixture(scope="module")
def studio():
    return ring_rig(4, size=(1280, 720), hfov_deg=60.0), GridBoard(7, 5, 0.1)


def test_a_camera_one_frame_off_its_timestamps_is_moved(studio):
    rig, board = studio
    latency = {"cam_1": 0.0, "cam_2": 0.003, "cam_3": 1 / FPS + 0.004, "cam_4": -0.002}
    readout = {c.name: 0.02 for c in rig}
    detections, times = film_board(rig, board, latency, readout, 150, fps=FPS, seed=2)
    result = calibrate(detections, board, NO_FLOOR, intrinsics={c.name: c for c in rig},
                       frame_times=times)
    shifts = result.report.frame_shifts
    assert shifts.cameras == {"cam_3": 1}
    assert shifts.rms_px[1] < 0.5 * shifts.rms_px[0]
    motion, root = result.report.motion, result.report.root_camera
    assert motion.unit == "ms"
    for name, fit in motion.cameras.items():        # the latency left is the true one
        left = latency[name] - (name == "cam_3") / FPS - latency[root] + (root == "cam_3") / FPS
        assert abs(fit.offset - 1000 * left) < 1.5, name
    assert result.report.bundle.rms_px < 0.15
    named = [w for w in result.report.warnings if "moved them" in w]
    assert len(named) == 1 and named[0].startswith("camera cam_3: ") and "later" in named[0]


def test_a_camera_that_started_a_frame_late_in_lockstep_footage_is_moved(studio):
    rig, board = studio
    zero = {c.name: 0.0 for c in rig}
    detections, _ = film_board(rig, board, zero, zero, 150, fps=FPS, seed=3)
    late = detections["cam_2"]                          # its frame f shows instant f + 1
    keep = late.frames >= 1
    detections["cam_2"] = BoardDetections("cam_2", late.image_size, late.frames[keep] - 1,
                                          late.xy[keep], late.n_frames - 1)
    result = calibrate(detections, board, NO_FLOOR, intrinsics={c.name: c for c in rig})
    assert result.report.frame_shifts.cameras == {"cam_2": 1}
    assert result.report.motion.unit == "frames"
    assert result.report.bundle.rms_px < 0.3     # 2 ms frame jitter unknown: see ^
    assert any(w.startswith("camera cam_2: ") and "index" in w
               for w in result.report.warnings)


def _motion(offsets: dict[str, float], at_bound: set[str], applied: bool = True
            ) -> MotionReport:
    return MotionReport(applied, 1.0, 1.0, "ms",
                        {n: CameraTiming(True, o, 0.0, n in at_bound, False)
                         for n, o in offsets.items()})


def test_suspects_are_the_cameras_on_the_bound_or_the_root_when_all_others_are():
    one = _motion({"a": 0.0, "b": -83.0, "c": 20.0}, {"b"})
    assert suspect_shifts(one, "a") == {"b": -1}
    everyone = _motion({"a": 0.0, "b": 83.0, "c": 83.0}, {"b", "c"})
    assert suspect_shifts(everyone, "a") == {"a": -1}
    assert suspect_shifts(_motion({"a": 0.0, "b": -83.0}, {"b"}), "a") == {"b": -1}
    assert suspect_shifts(_motion({"a": 0.0, "b": -83.0}, {"b"}, applied=False), "a") == {}


def test_shifted_inputs_move_times_by_periods_or_the_index_sync():
    det = {n: BoardDetections(n, (10, 10), np.arange(3), np.zeros((3, 4, 2)), 5)
           for n in ("a", "b")}
    times = {"a": np.arange(5) * 0.1, "b": np.arange(5) * 0.1 + 0.01}
    moved, table = shifted_inputs(det, times, {"b": -1})
    assert table is None
    np.testing.assert_allclose(moved["b"], times["b"] - 0.1)
    np.testing.assert_array_equal(moved["a"], times["a"])
    moved, table = shifted_inputs(det, None, {"b": 1})
    assert moved is None
    np.testing.assert_array_equal(table["a"], [0, 1, 2, 3, 4, -1])
    np.testing.assert_array_equal(table["b"], [-1, 0, 1, 2, 3, 4])


def test_combined_shifts_move_the_fewest_cameras():
    names = ["a", "b", "c", "d"]
    assert combined({}, {"b": -1, "c": -1, "d": -1}, names) == {"a": 1}
    assert combined({"a": 1}, {"b": 1}, names) == {"a": 1, "b": 1}
    assert combined({"b": -1}, {"b": 1}, names) == {}
    assert combined({}, {"b": 1, "c": -1}, names) == {"b": 1, "c": -1}
