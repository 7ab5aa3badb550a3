"""Synchronisation from the motion (issue 19 item 3): offsets found in the 2D of CMU takes with
issue 17's detector errors, the 3D error they give back, the edge of the search range, the
interpolation of 2D to sub-frame times, ``[sync]`` and ``--sync``."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.io import write_calibration
from exporters.points3d import write_points3d
from mocap.cli import main
from mocap.config import SessionConfig, SyncConfig
from mocap.errors import ConfigError, InputError
from mocap.keypoints import Keypoints2D
from mocap.keypoints_io import camera_keypoints, write_camera_keypoints
from mocap.metrics import joint_errors, summarize_errors
from mocap.pipeline import triangulate_session
from mocap.reconstruction_stage import filter_motion, triangulate_and_adjust
from mocap.session import Session
from mocap.sync_estimation import (
    JUMP_PX,
    estimate_offsets,
    shift_keypoints,
    snapped,
    synchronise,
)
from mocap.synthetic.lagged import lagged_take
from mocap.synthetic.motion import synthetic_motion
from mocap.synthetic.observe import DetectorErrors, observe
from mocap.synthetic.studio import studio_rig
from rigs.motion import Motion3D

# issue 17's detector-like errors
DETECTOR_LIKE = DetectorErrors(noise_px=2.0, outlier_rate=0.08, swap_rate=0.02,
                               dropout_rate=0.10)


def _take(shared_data, clip: str, n_cameras: int, seed: int, lags: np.ndarray):
    """(rig, truth, synchronized 2D, lagged 2D) of ``clip``: camera c ``lags[c]`` frames late."""
    take = lagged_take(shared_data / "cmu_mocap" / f"{clip}.bvh", n_cameras, seed, lags,
                       DETECTOR_LIKE)
    return take.rig, take.truth, take.synced, take.lagged


def _mean_error_mm(rig, kp: Keypoints2D, truth: Motion3D) -> float:
    """Mean joint error (mm) of the 3D path ``mocap run`` takes: robust triangulation, skeleton
    adjustment, gap filling and filter, with the default settings."""
    config = SessionConfig()
    motion = filter_motion(triangulate_and_adjust(rig, kp, config)[0], config)
    return summarize_errors(joint_errors(motion, truth))["mean_mm"]


# --- acceptance 3 ----------------------------------------------------------------------------
# (clip, cameras, seed): four studios and motions; measured (benchmarks/sync.py): offsets within
# 0.05 frame of the truth, mean 3D error after "auto" from 12 % below to 7 % above the
# synchronized take's (same detector errors).
@pytest.mark.parametrize(("clip", "n_cameras", "seed"), [("131_01", 5, 0), ("131_02", 5, 3),
                                                         ("01_01", 4, 2), ("131_03", 6, 1)])
def test_offsets_of_a_delayed_and_an_advanced_camera_are_found(shared_data, clip, n_cameras,
                                                               seed):
    lags = np.zeros(n_cameras)
    lags[1], lags[3] = 5.0, -2.5                 # delayed 5 frames, advanced 2.5 frames
    rig, truth, synced, kp = _take(shared_data, clip, n_cameras, seed, lags)
    found = estimate_offsets(rig, kp, max_shift_frames=8)
    # goal (issue 19): every offset within 0.25 frame
    np.testing.assert_allclose(found.offsets, lags, rtol=0, atol=0.25)
    assert found.off.tolist() == (lags != 0).tolist() and not found.at_edge.any()
    # goal: residuals tell a good estimate (measured <= 0.05 frame)
    assert np.nanmax(found.residual_frames) < 0.1
    synced_mm = _mean_error_mm(rig, synced, truth)
    fixed_mm = _mean_error_mm(rig, shift_keypoints(kp, snapped(found.offsets)), truth)
    # goal (issue 19): with the offsets applied, within 10 % of the synchronized take's error;
    # and the test can fail: unsynchronized, the error is far above
    assert fixed_mm <= 1.10 * synced_mm
    assert _mean_error_mm(rig, kp, truth) > 1.5 * synced_mm


def test_a_reference_camera_gets_offset_zero(shared_data):
    lags = np.array([0.0, 5.0, 0.0, -2.5, 0.0])
    rig, _, _, kp = _take(shared_data, "131_01", 5, 0, lags)
    found = estimate_offsets(rig, kp, max_shift_frames=8, reference=kp.cameras[1])
    assert found.offsets[1] == 0.0
    np.testing.assert_allclose(found.offsets, lags - 5.0, rtol=0, atol=0.25)   # goal: 0.25


# --- beyond the search range -----------------------------------------------------------------
def test_an_offset_beyond_the_search_range_is_reported_and_never_applied(shared_data):
    lags = np.array([0.0, 5.0, 0.0, 0.0])
    rig, _, _, kp = _take(shared_data, "01_01", 4, 2, lags)
    found = estimate_offsets(rig, kp, max_shift_frames=3)      # 5 frames is beyond +-3
    assert found.at_edge[1] and not found.at_edge[[0, 2, 3]].any()
    with pytest.raises(InputError, match=r"cam_2 .*edge of the search range.*max_shift_frames"):
        synchronise(rig, kp, SyncConfig(mode="auto", max_shift_frames=3))
    shifted, lines = synchronise(rig, kp, SyncConfig(mode="check", max_shift_frames=3))
    assert shifted is kp
    assert any(line.startswith("warning: sync: the offsets of cam_2") for line in lines)


def test_too_few_cameras_or_an_unknown_reference_are_errors():
    rig = studio_rig(2, seed=0)
    kp = observe(rig, synthetic_motion(n_frames=20))
    with pytest.raises(InputError, match="2 or more cameras"):
        estimate_offsets(rig.subset(["cam_1"]), Keypoints2D(
            kp.xy[:1], kp.score[:1], ("cam_1",), kp.skeleton, kp.fps))
    with pytest.raises(InputError, match="'cam_9' is not among"):
        estimate_offsets(rig, kp, reference="cam_9")


# --- shift_keypoints -------------------------------------------------------------------------
def test_shifting_interpolates_linearly_and_leaves_out_what_it_cannot_see():
    rng = np.random.default_rng(4)
    motion = synthetic_motion(n_frames=12)
    kp = observe(studio_rig(3, seed=4), motion, DetectorErrors(noise_px=0.0))
    xy = kp.xy.copy()
    xy[1, 6, 0, 2] = np.nan                                        # a missing sample
    kp = Keypoints2D(xy, np.where(np.isfinite(xy[..., 0]), rng.uniform(0.5, 1, xy.shape[:-1]), 0),
                     kp.cameras, kp.skeleton, kp.fps, np.zeros(xy.shape[:3], dtype=np.int64))
    out = shift_keypoints(kp, np.array([0.0, 0.25, -2.0]))
    np.testing.assert_array_equal(out.xy[0], kp.xy[0])
    np.testing.assert_allclose(out.xy[1, 3], 0.75 * kp.xy[1, 3] + 0.25 * kp.xy[1, 4], atol=1e-9)
    assert np.isnan(out.xy[1, 5, 0, 2]).all() and np.isnan(out.xy[1, 6, 0, 2]).all()
    assert out.score[1, 5, 0, 2] == 0 and np.isnan(out.xy[1, -1]).all()   # past the take's end
    np.testing.assert_array_equal(out.xy[2, 2:], kp.xy[2, :-2])
    assert np.isnan(out.xy[2, :2]).all() and (out.track_id[2, :2] == -1).all()
    with pytest.raises(InputError, match="3 finite numbers"):
        shift_keypoints(kp, np.array([0.0, np.nan, 1.0]))


def test_a_joint_that_jumps_between_the_blended_frames_is_left_out():
    """An outlier (or a left/right swap) in one of the two frames a sub-frame time is blended
    from: half of it would be a wrong point no later test sees, so the joint is left out there;
    at whole-frame times nothing is blended and nothing is left out."""
    motion = synthetic_motion(n_frames=12)
    kp = observe(studio_rig(2, seed=1), motion, DetectorErrors(noise_px=0.0))
    xy = kp.xy.copy()
    xy[1, 6, 0, 3] += JUMP_PX * 2                                  # an outlier in frame 6
    kp = Keypoints2D(xy, kp.score, kp.cameras, kp.skeleton, kp.fps)
    half = shift_keypoints(kp, np.array([0.0, 0.5]))
    assert np.isnan(half.xy[1, 5:7, 0, 3]).all() and half.score[1, 5, 0, 3] == 0
    assert np.isfinite(half.xy[1, 5:7, 0, 4]).all()               # its neighbours stay
    whole = shift_keypoints(kp, np.array([0.0, 1.0]))
    np.testing.assert_array_equal(whole.xy[1, 5], kp.xy[1, 6])


# --- [sync] and --sync -----------------------------------------------------------------------
def test_sync_settings_are_checked():
    assert SessionConfig().sync.mode == "off"
    with pytest.raises(ConfigError, match="did you mean 'auto'"):
        SyncConfig(mode="autp")
    with pytest.raises(ConfigError, match="max_shift_frames"):
        SyncConfig(max_shift_frames=0.5)


def _lagged_session(folder, lag: int):
    """A 4-camera synthetic session whose camera cam_2's 2D lags ``lag`` frames behind."""
    n_frames, rig = 90, studio_rig(4, seed=5)
    motion = synthetic_motion(n_frames=n_frames + lag)

    def part(start: int) -> Motion3D:
        return Motion3D(xyz=motion.xyz[start:start + n_frames], skeleton=motion.skeleton,
                        fps=30.0)

    synced, late = (observe(rig, part(s), DetectorErrors(noise_px=1.0), seed=5) for s in (lag, 0))
    xy = np.concatenate([synced.xy[:1], late.xy[1:2], synced.xy[2:]])
    score = np.concatenate([synced.score[:1], late.score[1:2], synced.score[2:]])
    kp = Keypoints2D(xy, score, synced.cameras, synced.skeleton, 30.0)
    for name in kp.cameras:
        write_camera_keypoints(camera_keypoints(kp, name), folder / "keypoints2d" / f"{name}.npz")
    write_calibration(rig, folder / "calibration" / "calibration.toml")
    write_points3d(part(lag), folder / "ground_truth" / "points3d.npz")
    return folder


def test_sync_auto_on_the_command_line_finds_and_applies_the_offset(tmp_path, capsys):
    session = _lagged_session(tmp_path / "take", lag=4)
    assert main(["triangulate", str(session), "--sync", "check"]) == 0
    out = capsys.readouterr().out
    assert "cam_2 +4.00" in out and "warning: camera cam_2 is +4.00 frames off" in out
    assert main(["triangulate", str(session), "--sync", "auto"]) == 0
    out = capsys.readouterr().out
    assert "sync: offsets applied" in out and "warning: camera" not in out
    checked = triangulate_session(Session.open(session), progress=False, sync="check")
    applied = triangulate_session(Session.open(session), progress=False, sync="auto")
    off = triangulate_session(Session.open(session), progress=False)
    assert off.sync_notes == []                                    # mode off estimates nothing
    # goal: the applied offset brings the error down (4 frames of walking is centimetres)
    assert applied.accuracy["mean_mm"] < 0.5 * checked.accuracy["mean_mm"]


def test_a_wrong_sync_mode_on_the_command_line_exits_2(tmp_path, capsys):
    session = _lagged_session(tmp_path / "take", lag=2)
    with pytest.raises(SystemExit) as stop:
        main(["triangulate", str(session), "--sync", "sometimes"])
    assert stop.value.code == 2 and "invalid choice" in capsys.readouterr().err
