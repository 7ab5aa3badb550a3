"""The reconstruction benchmark's glue: the job aniposelib's peer script gets (its env is not
CI's, so the cameras are checked against OpenCV, whose conventions aniposelib's Camera uses)."""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from mocap.synthetic.motion import synthetic_motion
from mocap.synthetic.observe import DetectorErrors, observe
from mocap.synthetic.studio import studio_rig

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    """benchmarks/reconstruction_vs_peers.py, loaded from its path with its folder importable
    (it imports reconstruction.py beside it, as when run as a script)."""
    sys.path.insert(0, str(BENCH_DIR))
    try:
        spec = importlib.util.spec_from_file_location("bench_reconstruction_vs_peers",
                                                      BENCH_DIR / "reconstruction_vs_peers.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH_DIR))
    return module


def test_peer_script_imports_only_its_package_numpy_cv2_and_stdlib():
    tree = ast.parse((BENCH_DIR / "peers" / "aniposelib_triangulate.py").read_text())
    roots = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
    roots |= {node.module.split(".")[0] for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom) and node.module}
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    assert roots - stdlib == {"aniposelib", "numpy", "cv2", "peer_job"}


@pytest.mark.parametrize("seed", [0, 1])
def test_job_cameras_and_points_through_json(bench, seed):
    rig = studio_rig(4, seed=seed)
    truth = synthetic_motion("coco17", n_frames=12)
    kp = observe(rig, truth, DetectorErrors(noise_px=0.0, dropout_rate=0.2), seed=seed)
    job = json.loads(json.dumps(bench.peer_job(rig, kp, "triangulate", 5)))
    X = truth.xyz[:, 0].reshape(-1, 3)
    for cam, spec in zip(rig, job["cameras"]):
        assert spec["name"] == cam.name and len(spec["dist"]) == 5  # OpenCV's 5 coefficients
        px, _ = cv2.projectPoints(X, np.array(spec["rvec"]), np.array(spec["tvec"]),
                                  np.array(spec["K"]), np.array(spec["dist"]))
        # world-to-camera rvec / tvec as OpenCV (and aniposelib) read them: our projections, to
        # rounding
        np.testing.assert_allclose(px.reshape(-1, 2), cam.project(X), atol=1e-6)
    points = np.array(job["points"], float)                                 # (C, F, J, 2)
    assert points.shape == (4, 12, len(kp.skeleton), 2)
    unseen = kp.score[:, :, 0] == 0
    assert unseen.any() and np.isnan(points[unseen]).all()                 # dropouts are NaN
    np.testing.assert_array_equal(points[~unseen], kp.xy[:, :, 0][~unseen])
    assert job["bones"] == [list(b) for b in kp.skeleton.bones]
