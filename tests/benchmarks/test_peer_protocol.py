"""The calibration benchmark's glue: the peer's job/result JSON and RESULTS.md."""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from calibration.board import Board
from calibration.camera import CameraRig
from mocap.synthetic.studio import ring_rig

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    """benchmarks/calibration.py loaded under another name (its own would shadow the package)."""
    spec = importlib.util.spec_from_file_location("bench_calibration",
                                                  BENCH_DIR / "calibration.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_calibration"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rig() -> CameraRig:
    return ring_rig(4, size=(1280, 720), radius=3.0, height=2.0, seed=3)


def test_peer_script_imports_only_aniposelib_numpy_cv2_and_stdlib():
    tree = ast.parse((BENCH_DIR / "peers" / "aniposelib_calibrate.py").read_text())
    roots = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
    roots |= {node.module.split(".")[0] for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom) and node.module}
    allowed = {"aniposelib", "numpy", "cv2", "__future__"} | set(sys.stdlib_module_names)
    assert roots - allowed == set()
    assert {"aniposelib", "numpy", "cv2"} <= roots


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
                            "dictionary": "DICT_4X4_1000"}
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
