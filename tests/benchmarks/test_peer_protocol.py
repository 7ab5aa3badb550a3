"""The calibration benchmark's glue: the peers' job/result JSON, the pairings they report and
RESULTS.md. The caliscope peer script runs here against a stand-in for caliscope's scripting
API (the real one lives in its own env, not in CI's)."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from calibration.board import Board
from calibration.camera import CameraRig
from calibration.detections import BoardDetections
from mocap.synthetic.studio import ring_rig

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    """benchmarks/calibration_vs_peers.py, loaded from its path (benchmarks/ is no package)."""
    spec = importlib.util.spec_from_file_location("bench_calibration",
                                                  BENCH_DIR / "calibration_vs_peers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_calibration"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rig() -> CameraRig:
    return ring_rig(4, size=(1280, 720), radius=3.0, height=2.0, seed=3)


def _imported(script: str) -> set[str]:
    tree = ast.parse((BENCH_DIR / "peers" / script).read_text())
    roots = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
    return roots | {node.module.split(".")[0] for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and node.module}


@pytest.mark.parametrize("peer", ["aniposelib", "caliscope"])
def test_peer_script_imports_only_its_package_numpy_cv2_and_stdlib(peer):
    """A peer script runs with its own env's python: nothing of ours but the stdlib-only job
    glue beside it, nothing else installed."""
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    roots = _imported(f"{peer}_calibrate.py")
    assert roots - ({peer, "numpy", "cv2", "peer_job"} | stdlib) == set()
    assert {peer, "numpy", "cv2", "peer_job"} <= roots
    assert _imported("peer_job.py") <= stdlib


def test_result_cameras_through_json_give_back_the_same_projections(bench, rig):
    # what the peer writes: OpenCV K, dist, world-to-camera rvec / tvec, size
    result = json.loads(json.dumps({c.name: {"K": c.K.tolist(), "dist": c.dist.tolist(),
                                             "rvec": c.rvec.tolist(), "tvec": c.t.tolist(),
                                             "size": list(c.size)} for c in rig}))
    back = bench.rig_from_result(result)
    assert back.names == rig.names
    X = np.random.default_rng(0).uniform([-1, -1, 0], [1, 1, 2], (50, 3))
    np.testing.assert_allclose(back.project(X), rig.project(X), atol=1e-9)


def test_job_tables_carry_board_and_intrinsics(bench, rig):
    board = Board.charuco((4, 5), 0.054, 0.0405, "DICT_4X4_1000", inverted=True)
    job = json.loads(json.dumps({"board": bench.board_spec(board),
                                 "intrinsics": bench.intrinsics_spec(rig)}))
    assert job["board"] == {"squares": [4, 5], "square_size": 0.054, "marker_size": 0.0405,
                            "dictionary": "DICT_4X4_1000", "inverted": True,
                            "legacy_pattern": False}
    for cam in rig:
        np.testing.assert_array_equal(job["intrinsics"][cam.name]["matrix"], cam.K)
        np.testing.assert_array_equal(job["intrinsics"][cam.name]["distortions"], cam.dist)


def test_results_sections_are_replaced_case_by_case(bench, tmp_path):
    path = tmp_path / "RESULTS.md"
    bench.update_results({"a": "first A", "b": "first B"}, path)
    bench.update_results({"a": "second A"}, path)
    text = path.read_text()
    assert "second A" in text and "first B" in text and "first A" not in text
    assert text.index("second A") < text.index("first B")


def test_caliscope_job_keeps_the_timestamps_ports_as_cam_ids(bench, rig, tmp_path):
    board = Board.charuco((4, 5), 0.054, 0.0405, "DICT_4X4_1000", inverted=True)
    videos = {"cam_0": tmp_path / "a.mp4", "cam_12": tmp_path / "b.mp4", "left": tmp_path / "c"}
    named = rig.subset(rig.names[:3])
    named = CameraRig(tuple(c.replace(name=n) for c, n in zip(named, videos)))
    job = json.loads(json.dumps(bench.caliscope_job(videos, board, named, tmp_path / "t.csv")))
    # cam_<n> is caliscope CSV port n (read_timestamps names them so); others: their position
    assert job["cameras"] == [["cam_0", str(videos["cam_0"]), 0],
                              ["cam_12", str(videos["cam_12"]), 12], ["left", str(videos["left"]), 2]]
    assert job["timestamps"] == str(tmp_path / "t.csv") and job["board"]["inverted"] is True
    np.testing.assert_array_equal(job["intrinsics"]["cam_12"]["matrix"], named[1].K)
    assert bench.caliscope_job(videos, board, named, None)["timestamps"] is None


def test_pairing_table_pairs_our_corners_as_the_peer_said(bench):
    xy = np.arange(3 * 2 * 2, dtype=float).reshape(3, 2, 2)            # (N, K, 2)
    dets = {"a": BoardDetections("a", (640, 480), np.array([0, 1, 2]), xy, 4),
            "b": BoardDetections("b", (640, 480), np.array([1, 2, 3]), xy + 100, 4)}
    # the peer paired b's frame f + 1 with a's frame f; a's frame 3 has no partner
    table = bench.pairing_table(json.loads(json.dumps({"a": [0, 1, 2, 3], "b": [1, 2, 3, -1]})))
    assert table.cameras == ("a", "b") and len(table) == 4
    corners = table.corners(dets)                                        # (C, S, K, 2)
    np.testing.assert_array_equal(corners[0, :3], xy)
    np.testing.assert_array_equal(corners[1, :3], xy + 100)
    assert np.isnan(corners[:, 3]).all()                 # a's frame 3 undetected, b has none


def test_timed_runs_take_turns_and_the_median_run_is_kept(bench):
    """ours, peer, ours, peer, ...: other jobs on a shared machine slow both alike; the row
    shown is each one's median run, and the note gives every turn's ratio."""
    order, totals = [], {"ours": iter([3.0, 1.0, 2.0]), "peer": iter([5.0, 9.0, 4.0])}

    def timed(name):
        def run():
            order.append(name)
            return bench.Run(name, None, total_s=next(totals[name]))
        return run
    ours, peer = bench.alternated([timed("ours"), timed("peer")], 3)
    assert order == ["ours", "peer"] * 3
    assert (ours.total_s, peer.total_s) == (2.0, 5.0)
    assert ours.metrics["totals_s"] == [3.0, 1.0, 2.0]
    [note] = bench.speed_notes([bench.Run("reference", None), ours, peer])
    assert "1.67, 9.00, 2.00 per turn, 2.50 of the medians" in note


# --- the caliscope peer script against a stand-in for its scripting API ------------------------
def fake_caliscope(rig: CameraRig, sync: dict[int, dict[int, int | None]], calls: dict,
                   fail: bool = False) -> dict[str, types.ModuleType]:
    """Modules standing in for caliscope.api and its SynchronizedTimestamps: the board is
    detected with 7 corners in the cam_id's even frames and 1 in its odd ones; the calibration
    poses the cameras as ``rig`` (cam_id i = rig camera i) keeping the intrinsics given."""
    api = types.ModuleType("caliscope.api")
    api.Charuco = types.SimpleNamespace(
        from_squares=lambda *a, **k: calls.setdefault("charuco", (a, k)))
    api.CharucoTracker = lambda charuco: ("tracker", charuco)

    def extract(videos, tracker, *, timestamps, progress):
        calls["extract"] = (sorted(videos), timestamps, progress)
        rows = [(i, f) for i in videos for f in range(4) for _ in range(7 if f % 2 == 0 else 1)]
        return types.SimpleNamespace(df={"cam_id": np.array([r[0] for r in rows]),
                                         "frame_index": np.array([r[1] for r in rows])})

    class _Array(dict):                         # cam_id -> camera; all posed once calibrated
        posed_cameras = property(lambda self: dict(self))

    def calibrate(points, cameras, constraints, *, refine_intrinsics):
        calls["calibrate"] = (constraints, refine_intrinsics)
        if fail:
            raise RuntimeError("no stereo pairs")
        for i, cam in cameras.items():
            cam.rotation, cam.translation = rig[i].R, rig[i].t
        report = types.SimpleNamespace(overall_rmse=0.5)
        volume = types.SimpleNamespace(camera_array=cameras, reprojection_report=report)
        return types.SimpleNamespace(capture_volume=volume)

    api.CameraArray = types.SimpleNamespace(from_video_metadata=lambda videos: _Array(
        {i: types.SimpleNamespace(size=rig[i].size, matrix=None, distortions=None)
         for i in videos}))
    api.extract_image_points_multicam = extract
    api.calibrate_extrinsics = calibrate
    synced = types.SimpleNamespace(sync_indices=sorted(sync),
                                   frame_for=lambda s, cam_id: sync[s][cam_id])

    def from_csv_path(path):
        calls["pairing from"] = str(path)
        return synced

    def from_video_paths(videos):
        calls["pairing from"] = sorted(videos)
        return synced

    module = types.ModuleType("caliscope.recording.synchronized_timestamps")
    module.SynchronizedTimestamps = types.SimpleNamespace(from_csv_path=from_csv_path,
                                                          from_video_paths=from_video_paths)
    return {"caliscope": types.ModuleType("caliscope"), "caliscope.api": api,
            "caliscope.recording": types.ModuleType("caliscope.recording"),
            "caliscope.recording.synchronized_timestamps": module}


def run_caliscope_peer(monkeypatch, modules, job: dict, tmp_path: Path) -> dict:
    """The peer script's main on ``job`` with the stand-in modules; its RESULT.json."""
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.11.8 (stand-in)")
    monkeypatch.syspath_prepend(str(BENCH_DIR / "peers"))      # as when run as a script
    spec = importlib.util.spec_from_file_location("caliscope_peer",
                                                  BENCH_DIR / "peers" / "caliscope_calibrate.py")
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    (tmp_path / "job.json").write_text(json.dumps(job))
    assert peer.main(["peer", str(tmp_path / "job.json"), str(tmp_path / "result.json")]) == 0
    return json.loads((tmp_path / "result.json").read_text())


@pytest.mark.parametrize("timestamps", [True, False])
def test_caliscope_peer_round_trip(bench, rig, monkeypatch, tmp_path, timestamps):
    """Our job -> the peer script -> its result -> our Run: the poses it found, the intrinsics
    we gave, the pairing it used, the frames it saw, through the JSON files."""
    board = Board.charuco((4, 5), 0.054, 0.0405, "DICT_4X4_1000", inverted=True)
    named = CameraRig(tuple(c.replace(name=f"cam_{i}") for i, c in enumerate(rig)))
    videos = {c.name: tmp_path / f"{c.name}.mp4" for c in named}
    csv = tmp_path / "timestamps.csv" if timestamps else None
    sync = {0: {0: 0, 1: 0, 2: 1, 3: 0}, 1: {0: 1, 1: None, 2: 2, 3: 1}}
    calls: dict = {}
    result = run_caliscope_peer(monkeypatch, fake_caliscope(named, sync, calls),
                                bench.caliscope_job(videos, board, named, csv), tmp_path)
    assert result["ok"] and result["error"] is None
    assert calls["charuco"] == ((4, 5, pytest.approx(5.4)), {
        "dictionary": "DICT_4X4_1000", "aruco_scale": pytest.approx(0.75), "inverted": True,
        "legacy_pattern": False})
    assert calls["extract"] == ([0, 1, 2, 3], str(csv) if csv else None, None)
    assert calls["calibrate"] == (None, False)                # the given intrinsics held
    assert calls["pairing from"] == (str(csv) if csv else [0, 1, 2, 3])
    run = bench.result_run("caliscope", result)
    X = np.random.default_rng(1).uniform([-1, -1, 0], [1, 1, 2], (20, 3))
    np.testing.assert_allclose(run.rig.project(X), named.project(X), atol=1e-9)
    assert run.pairing.as_dict().keys() == set(videos)
    np.testing.assert_array_equal(run.pairing["cam_1"], [0, -1])
    np.testing.assert_array_equal(run.pairing["cam_2"], [1, 2])
    # 2 of its 4 frames per camera have >= 6 corners, all 4 have one
    assert run.metrics["boards_found"] == {c: "2 (4 with any corner)" for c in videos}
    assert run.metrics["versions"]["caliscope"] == "0.11.8 (stand-in)"
    assert None not in (run.detect_s, run.solve_s, run.total_s)


def test_caliscope_peer_failure_is_its_result(bench, rig, monkeypatch, tmp_path):
    named = CameraRig(tuple(c.replace(name=f"cam_{i}") for i, c in enumerate(rig)))
    videos = {c.name: tmp_path / f"{c.name}.mp4" for c in named}
    board = Board.charuco((5, 7), 0.1, 0.075, "DICT_4X4_50")
    result = run_caliscope_peer(
        monkeypatch, fake_caliscope(named, {0: dict.fromkeys(range(4), 0)}, {}, fail=True),
        bench.caliscope_job(videos, board, named, None), tmp_path)
    run = bench.result_run("caliscope", result)
    assert not result["ok"] and run.rig is None
    assert run.error == "RuntimeError: no stereo pairs"
    assert run.pairing is not None and run.metrics["boards_found"]           # still reported
