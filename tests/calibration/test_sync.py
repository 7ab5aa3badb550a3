"""calibration/sync.py: grouping the frames of several cameras taken at the same instant."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from calibration.detections import BoardDetections
from calibration.errors import CalibrationError, SyncError
from calibration.sync import (
    SyncTable,
    check_footage,
    read_timestamps,
    sync_by_index,
    sync_by_timestamps,
    sync_footage,
)

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
CALISCOPE_TIMES = DATA / "caliscope_charuco_4cam" / "calibration" / "extrinsic" / "timestamps.csv"


# --- real caliscope timestamps --------------------------------------------------------------
def test_caliscope_timestamps_read_per_camera():
    times = read_timestamps(CALISCOPE_TIMES)
    assert list(times) == ["cam_0", "cam_1", "cam_2", "cam_3"]      # the video stems
    for t in times.values():
        assert t.shape == (111,) and np.all(np.diff(t) > 0)         # 111 frames per video
        assert 0.16 < np.median(np.diff(t)) < 0.17                   # 6 fps


def test_caliscope_footage_syncs_into_111_complete_instants():
    times = read_timestamps(CALISCOPE_TIMES)
    table = sync_footage({f"cam_{i}": 111 for i in range(4)}, CALISCOPE_TIMES)
    assert len(table) == 111 and (table.n_views == 4).all()
    assert table.spread.max() < 0.05                # measured 42.7 ms at most (6 fps: 167 ms)
    assert np.median(table.spread) < 0.005          # measured 3.0 ms
    for camera in table.cameras:
        np.testing.assert_array_equal(table[camera], np.arange(111))
        assert np.all(np.abs(times[camera] - table.times) <= table.spread)


def test_caliscope_grouping_matches_caliscope_own_sync_index():
    with CALISCOPE_TIMES.open() as f:
        rows = list(csv.DictReader(f))
    first = min(int(r["frame_index"]) for r in rows)
    theirs = {}
    for r in rows:
        theirs.setdefault(int(r["sync_index"]), {})[f"cam_{r['cam_id']}"] = \
            int(r["frame_index"]) - first
    table = sync_by_timestamps(read_timestamps(CALISCOPE_TIMES))
    ours = [{c: int(table[c][s]) for c in table.cameras} for s in range(len(table))]
    assert ours == [theirs[k] for k in sorted(theirs)]


# --- synthetic timestamps with known truth ---------------------------------------------------
def _jittered_session(seed: int):
    """4 cameras at 30 fps (33 ms) over 300 instants: per-camera offsets up to 4 ms, 1.5 ms
    jitter, 5 % of frames dropped, one camera starting late and one ending early."""
    rng = np.random.default_rng(seed)
    instants = np.arange(300) / 30.0 + 100.0                           # (S,) seconds
    offsets = rng.uniform(-0.004, 0.004, 4)
    present = rng.random((4, 300)) > 0.05                              # (C, S)
    present[1, :20] = False
    present[2, 280:] = False
    times, truth = {}, np.full((4, 300), -1)
    for c in range(4):
        kept = np.flatnonzero(present[c])
        times[f"cam_{c}"] = instants[kept] + offsets[c] + rng.normal(0, 0.0015, kept.size)
        truth[c, kept] = np.arange(kept.size)
    keep = truth.max(axis=0) >= 0                                      # instants anyone saw
    return times, truth[:, keep], instants[keep]


@pytest.mark.parametrize("seed", range(5))
def test_jittered_timestamps_recover_the_true_groups(seed):
    times, truth, instants = _jittered_session(seed)
    table = sync_by_timestamps(times)
    np.testing.assert_array_equal(table.frames, truth)
    assert np.abs(table.times - instants).max() < 0.02
    assert table.cameras == ("cam_0", "cam_1", "cam_2", "cam_3")
    for c, camera in enumerate(table.cameras):               # every frame used exactly once
        used = table[camera][table[camera] >= 0]
        np.testing.assert_array_equal(used, np.arange(times[camera].size))


def test_camera_at_double_rate_pairs_with_nearest_frames():
    slow = np.arange(50) / 30.0
    fast = np.arange(100) / 60.0 + 0.001
    table = sync_by_timestamps({"slow": slow, "fast": fast})
    assert len(table) == 100
    paired = table["slow"] >= 0
    np.testing.assert_array_equal(table["fast"][paired], 2 * np.arange(50))
    assert (table["slow"][~paired] == -1).all() and paired.sum() == 50


def test_frames_farther_apart_than_tolerance_stay_apart():
    table = sync_by_timestamps({"a": np.array([0.0, 1.0]), "b": np.array([0.03, 1.01])},
                               tolerance=0.02)
    np.testing.assert_array_equal(table.frames, [[0, -1, 1], [-1, 0, 1]])
    np.testing.assert_allclose(table.times, [0.0, 0.03, 1.005])
    np.testing.assert_allclose(table.spread, [0.0, 0.0, 0.01])


def test_a_frame_joins_at_most_one_group_and_the_closest_wins():
    table = sync_by_timestamps({"a": np.array([0.0, 1.0, 2.0]),
                                "b": np.array([0.9, 0.98, 2.1])}, tolerance=0.15)
    np.testing.assert_array_equal(table.frames, [[0, -1, 1, 2], [-1, 0, 1, 2]])
    assert (table.frames >= 0).sum() == 6


def test_sync_by_index_pads_shorter_cameras():
    table = sync_by_index({"a": 3, "b": 5}, fps=10.0)
    np.testing.assert_array_equal(table.frames, [[0, 1, 2, -1, -1], [0, 1, 2, 3, 4]])
    np.testing.assert_allclose(table.times, np.arange(5) / 10.0)
    assert np.isnan(sync_by_index({"a": 2}).times).all()
    assert sync_footage({"a": 3, "b": 5}).frames.shape == (2, 5)


def test_sync_table_lookup_and_read_only():
    table = sync_by_index({"a": 2, "b": 2})
    assert table.as_dict().keys() == {"a", "b"}
    with pytest.raises(SyncError, match="camera 'c' is not in the sync table"):
        table["c"]
    with pytest.raises(ValueError):
        table.frames[0, 0] = 5
    with pytest.raises(SyncError, match="shape"):
        SyncTable(("a",), np.zeros((1, 3)), np.zeros(2), np.zeros(3))


def test_corners_are_gathered_per_instant_in_each_cameras_own_frames():
    table = SyncTable(("a", "b"), np.array([[0, 2, -1], [1, -1, 3]]), np.zeros(3), np.zeros(3))
    xy = np.arange(4 * 3 * 2, dtype=float).reshape(4, 3, 2)          # 4 frames, 3 corners
    dets = {"a": BoardDetections("a", (10, 10), np.array([0, 2]), xy[[0, 2]], 4),
            "b": BoardDetections("b", (10, 10), np.array([3]), xy[[3]], 4)}
    out = table.corners(dets)                                          # (C, S, K, 2)
    assert out.shape == (2, 3, 3, 2)
    np.testing.assert_array_equal(out[0, 0], xy[0])
    np.testing.assert_array_equal(out[0, 1], xy[2])
    np.testing.assert_array_equal(out[1, 2], xy[3])
    assert np.isnan(out[0, 2]).all() and np.isnan(out[1, :2]).all()   # no frame / no board


# --- the generic layout ----------------------------------------------------------------------
def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "timestamps.csv"
    path.write_text(text)
    return path


def test_generic_layout_in_any_row_order(tmp_path):
    path = _write(tmp_path, "camera,frame,time\nleft,1,0.034\nright,0,0.001\nleft,0,0.0\n"
                            "right,1,0.035\n")
    times = read_timestamps(path)
    assert list(times) == ["left", "right"]
    np.testing.assert_array_equal(times["left"], [0.0, 0.034])
    table = sync_footage({"left": 2, "right": 2}, path)
    np.testing.assert_array_equal(table.frames, [[0, 1], [0, 1]])


def test_caliscope_layout_without_frame_index_uses_file_order(tmp_path):
    path = _write(tmp_path, "port,frame_time\n1,5.0\n0,5.01\n1,5.5\n0,5.49\n")
    times = read_timestamps(path)
    assert list(times) == ["cam_0", "cam_1"]
    np.testing.assert_array_equal(times["cam_1"], [5.0, 5.5])


# --- errors: one per message ------------------------------------------------------------------
@pytest.mark.parametrize("text, words", [
    ("cam,when\n0,1.0\n", ["columns cam, when", "frame_time", "camera, frame, time"]),
    ("camera,frame,time\na,0,0.0\na,1,soon\n", ["line 3", "'time'", "'soon'"]),
    ("camera,frame,time\na,0,0.0\na,1,0.5\na,2,0.4\n", ["line 4", "camera a", "increase"]),
    ("camera,frame,time\na,0,0.0\na,0,0.5\n", ["camera a", "frame 0 is listed twice"]),
    ("camera,frame,time\na,0,0.0\na,3,0.5\n", ["camera a", "frames 1..2 are missing"]),
    ("camera,frame,time\na,0,0.0\na,2,0.5\n", ["camera a", "frame 1 is missing", "lines 2"]),
    ("camera,frame,time\na,1,0.0\na,2,0.5\n", ["camera a", "first frame", "0-based"]),
    ("camera,frame,time\na,0\n", ["line 2", "2 values"]),
    ("cam_id,frame_index,frame_time\nx,0,1.0\n", ["line 2", "port 'x'"]),
    ("camera,frame,time\n", ["no timestamp rows"]),
])
def test_bad_timestamps_file_names_file_line_and_camera(tmp_path, text, words):
    path = _write(tmp_path, text)
    with pytest.raises(SyncError) as info:
        read_timestamps(path)
    assert isinstance(info.value, CalibrationError)
    for word in [str(path)] + words:
        assert word in str(info.value)


def test_missing_timestamps_file(tmp_path):
    with pytest.raises(SyncError, match="timestamps file not found"):
        read_timestamps(tmp_path / "absent.csv")


@pytest.mark.parametrize("footage, words", [
    ({"cam_0": 111, "cam_1": 111, "cam_2": 111}, ["cam_3 have timestamps but no footage"]),
    ({f"cam_{i}": 111 for i in range(5)}, ["cam_4 have footage but no timestamps"]),
    ({"cam_0": 111, "cam_1": 110, "cam_2": 111, "cam_3": 111},
     ["camera cam_1 has 111 timestamps", "110 frames"]),
])
def test_footage_and_timestamps_must_agree(footage, words):
    with pytest.raises(SyncError) as info:
        sync_footage(footage, CALISCOPE_TIMES)
    for word in [str(CALISCOPE_TIMES)] + words:
        assert word in str(info.value)
    with pytest.raises(SyncError):
        check_footage(read_timestamps(CALISCOPE_TIMES), footage, CALISCOPE_TIMES)


def test_sync_by_timestamps_rejects_bad_arrays():
    with pytest.raises(SyncError, match="camera b: frame 2 has time"):
        sync_by_timestamps({"a": np.arange(3.0), "b": np.array([0.0, 1.0, 1.0])})
    with pytest.raises(SyncError, match="camera a: times must be a 1-D array"):
        sync_by_timestamps({"a": np.array([0.0, np.nan])})
    with pytest.raises(SyncError, match="pass tolerance"):
        sync_by_timestamps({"a": np.array([0.0]), "b": np.array([0.01])})
    with pytest.raises(SyncError, match="tolerance must be a positive"):
        sync_by_timestamps({"a": np.arange(3.0)}, tolerance=0.0)
