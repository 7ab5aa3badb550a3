"""Rolling shutter and capture latencies: a board waved past cameras whose rows are read out
one after another and whose frames start late by unknown amounts; the calibration recovers the
readout times and latencies and fits the corners as well as the noise allows."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.calibrate import calibrate
from calibration.camera import CameraRig
from calibration.config import CalibrationConfig
from calibration.detections import BoardDetections
from calibration.report import format_report
from calibration.rolling_shutter import corner_velocities
from calibration.sync import sync_by_timestamps
from mocap.synthetic.board_observations import GridBoard
from mocap.synthetic.rolling_board import film_board
from mocap.synthetic.studio import ring_rig

FPS = 30.0
NO_FLOOR = CalibrationConfig(world_frame=None)    # the world is the root camera's frame
HEIGHT = 720
LATENCY = {"cam_1": -0.010, "cam_2": 0.0, "cam_3": 0.008, "cam_4": -0.005}     # seconds
READOUT = {"cam_1": 0.030, "cam_2": 0.020, "cam_3": 0.0, "cam_4": 0.025}


@pytest.fixture(scope="module")
def studio() -> tuple[CameraRig, GridBoard]:
    return ring_rig(4, size=(1280, HEIGHT), hfov_deg=60.0), GridBoard(7, 5, 0.1)


def test_readout_and_latency_are_recovered(studio):
    rig, board = studio
    latency, readout = LATENCY, READOUT
    detections, times = film_board(rig, board, latency, readout, 150, fps=FPS, seed=3)
    result = calibrate(detections, board, NO_FLOOR, intrinsics={c.name: c for c in rig},
                       frame_times=times)
    motion = result.report.motion
    assert motion.applied and motion.unit == "ms"
    root = result.report.root_camera
    for name, fit in motion.cameras.items():
        # the fitted latency refers to the middle row and to the root camera
        middle = latency[name] + readout[name] / 2 - latency[root] - readout[root] / 2
        assert fit.fitted and not fit.offset_at_bound
        assert abs(fit.readout - 1000 * readout[name]) < 2.0, name
        assert abs(fit.offset - 1000 * middle) < 1.0, name
    # measured: 30.0, 20.2, 0.3, 25.0 ms; offsets within 0.2 ms; RMS 0.34 -> 0.14 px
    assert result.report.bundle.rms_px < 0.15            # the 0.1 px noise per axis
    assert motion.rms_px_uncorrected > 2 * result.report.bundle.rms_px
    assert "board motion (rolling shutter, capture latency): applied" in format_report(result)


def test_cameras_of_one_model_share_their_readout(studio):
    """Same image size, same readout: one line time for all (fewer unknowns), still found."""
    rig, board = studio
    latency = {"cam_1": -0.004, "cam_2": 0.0, "cam_3": 0.006, "cam_4": 0.002}
    readout = {c.name: 0.025 for c in rig}
    detections, times = film_board(rig, board, latency, readout, 150, fps=FPS, seed=5)
    result = calibrate(detections, board, NO_FLOOR, intrinsics={c.name: c for c in rig},
                       frame_times=times)
    assert result.report.motion.unit == "ms"
    fits = result.report.motion.cameras.values()
    assert len({f.readout for f in fits}) == 1
    assert all(abs(f.readout - 25.0) < 1.0 for f in fits)


@pytest.mark.parametrize(("late", "seed"), [("cam_3", 6), ("cam_2", 7)])
def test_a_camera_late_by_most_of_a_frame_is_named(studio, late, seed):
    """A latency past half a frame is a synchronisation error: with the frames matched as the
    caller says (a sync table), the fit stops at the bound and the calibration says which
    cameras to check (``calibration.frame_shift`` moves them when it may). The camera that is
    really late must be the one found late, with the sign that says so, whichever camera the
    calibration takes as its root (seed 6 roots it at the late cam_3 itself, seed 7 at cam_3
    with cam_2 late): a fit that blames another camera, or the right one the wrong way, fails.
    """
    rig, board = studio
    latency = {"cam_1": 0.0, "cam_2": 0.0, "cam_3": 0.0, "cam_4": 0.004} | {late: 0.027}
    readout = {c.name: 0.02 for c in rig}
    detections, times = film_board(rig, board, latency, readout, 150, fps=FPS, seed=seed)
    result = calibrate(detections, board, NO_FLOOR, intrinsics={c.name: c for c in rig},
                       frame_times=times, sync=sync_by_timestamps(times))
    motion, root = result.report.motion, result.report.root_camera
    assert motion.applied and motion.unit == "ms" and result.report.frame_shifts is None
    offset = {n: f.offset for n, f in motion.cameras.items()}   # relative to root, ms
    # The late camera is found the latest, ahead of every other by more than a quarter of a
    # frame: its true lead is 23-27 ms, past the 16.7 ms (half a frame) the fit may reach, so
    # the bound, not the footage, caps what can be asked; blaming another camera gives <= 0.
    assert max(offset, key=offset.get) == late
    lead = min(offset[late] - o for n, o in offset.items() if n != late)
    assert lead > 1000 / FPS / 4                                      # measured: 14.7, 24.6
    # On the bound: the late camera found later than the root, or, when it is the root, the
    # others found earlier than it (measured: cam_1 and cam_2; cam_4, itself 4 ms late, is
    # within the bound); the warnings say the same, camera by camera.
    at_bound = {n: o for n, o in offset.items() if motion.cameras[n].offset_at_bound}
    if root == late:
        assert at_bound and all(o < 0 for o in at_bound.values())
    else:
        assert list(at_bound) == [late] and at_bound[late] > 0
    named = [w for w in result.report.warnings if "frame times say" in w]
    assert len(named) == len(at_bound)
    for name, warning in zip(at_bound, named):
        assert warning.startswith(f"camera {name}:") and f"relative to camera {root}" in warning
        assert ("earlier" if root == late else "later") in warning


def test_without_frame_times_time_is_counted_in_frames(studio):
    rig, board = studio
    latency, readout = LATENCY, READOUT
    detections, _ = film_board(rig, board, latency, readout, 150, fps=FPS, seed=3)
    result = calibrate(detections, board, NO_FLOOR, intrinsics={c.name: c for c in rig})
    motion = result.report.motion
    assert motion.applied and motion.unit == "frames"
    for name, fit in motion.cameras.items():
        assert abs(fit.readout - FPS * readout[name]) < 0.1, name
    # the frames' 2 ms jitter is unknown without their times: 0.34 -> 0.25 px
    assert result.report.bundle.rms_px < 0.8 * motion.rms_px_uncorrected


def test_a_global_shutter_rig_gets_no_correction(studio):
    rig, board = studio
    zero = {c.name: 0.0 for c in rig}
    detections, times = film_board(rig, board, zero, zero, 150, fps=FPS, seed=4)
    result = calibrate(detections, board, NO_FLOOR, intrinsics={c.name: c for c in rig},
                       frame_times=times)
    motion = result.report.motion
    assert motion.unit == "ms"
    for fit in motion.cameras.values():
        assert fit.readout < 1.5 and abs(fit.offset) < 1.0
    assert result.report.bundle.rms_px < 0.2
    assert result.report.frame_shifts is None


def test_corner_velocities_central_one_sided_and_unknown():
    xy = np.zeros((4, 2, 2))
    xy[:, :, 0] = np.array([0.0, 2.0, 4.0, 10.0])[:, None]      # x per view, both corners
    xy[0, 1] = np.nan                                          # corner 1 unseen in frame 3
    det = BoardDetections("c", (100, 100), np.array([3, 4, 5, 8]), xy, 10)
    times = np.arange(10) * 0.5
    v = corner_velocities(det, times)
    np.testing.assert_allclose(v[1, 0], [4.0, 0.0])            # central: (4 - 0) / 1 s
    np.testing.assert_allclose(v[0, 0], [4.0, 0.0])            # forward: (2 - 0) / 0.5 s
    np.testing.assert_allclose(v[1, 1], [4.0, 0.0])            # forward: corner 1 lacks f3
    np.testing.assert_allclose(v[2, 0], [4.0, 0.0])            # backward
    assert np.isnan(v[3]).all()                                # frame 8 has no neighbour
    assert np.isnan(v[0, 1]).all()
    np.testing.assert_allclose(corner_velocities(det)[1, 0], [2.0, 0.0])   # per frame
    short = corner_velocities(det, times[:5])                   # times end before frame 5
    np.testing.assert_allclose(short[1, 0], [4.0, 0.0])          # backward only
    assert np.isnan(short[1, 1]).all() and np.isnan(short[2:]).all()
