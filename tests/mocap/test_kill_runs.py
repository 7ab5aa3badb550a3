"""``kill -9`` of ``mocap run`` and ``mocap calibrate`` while detecting, solving and writing
(issue 22, acceptance 3): no detection worker outlives the main process by more than 5 s, the
outputs are entirely the earlier run's or entirely the new run's (every file the manifest lists
has the hash it records, no half-done commit), and a rerun gives exactly the results of an
uninterrupted run."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

from mocap.run_outputs import manifest_files
from tests.calibration.test_board_scan import MAX_ORPHAN_S, _alive, _workers

REPO = Path(__file__).resolve().parents[2]
RUN_FILES = {"calibration.toml", "calibration_report/calibration_report.txt", "points3d.npz",
             "points3d.trc"}


def _mocap(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mocap.cli", *args, "-q"],
                            env=dict(os.environ, PYTHONPATH=str(REPO)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the kill point was never reached")
        time.sleep(0.01)


def _detecting(proc: subprocess.Popen, out: Path) -> bool:
    return len(_workers(proc.pid)) == 2


def _solving(proc: subprocess.Popen, out: Path) -> bool:
    return len(list((out / "cache").glob("board_*.npz"))) == 4 and not _workers(proc.pid)


def _writing(proc: subprocess.Popen, out: Path) -> bool:
    return any(p.is_file() for staging in out.glob(".staging-*") for p in staging.rglob("*"))


KILL_POINTS = {"detecting": _detecting, "solving": _solving, "writing": _writing}


@pytest.fixture(scope="module")
def sessions(tmp_path_factory) -> dict[str, Path]:
    """The bundled session run once (the earlier outputs), then its board footage touched so
    that the next run detects and calibrates afresh; and a reference: the same inputs run
    uninterrupted."""
    root = tmp_path_factory.mktemp("kill")
    session = root / "studio"
    shutil.copytree(REPO / "sample_sessions" / "studio4", session)
    assert _mocap("run", str(session)).wait(timeout=300) == 0
    for video in (session / "calibration").glob("*.mp4"):
        os.utime(video, ns=(time.time_ns(), time.time_ns()))
    reference = root / "reference"
    assert _mocap("run", str(session), "-o", str(reference)).wait(timeout=300) == 0
    return {"session": session, "reference": reference}


def _consistent(out: Path) -> dict[str, str]:
    """The manifest's files, after checking each has the hash it lists and no commit is
    half-done."""
    assert not list(out.glob(".commit-*")), "a commit was left half-done"
    files = manifest_files(out)
    assert {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in files} \
        == files
    return files


@pytest.mark.parametrize("command", ["run", "calibrate"])
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_killed_run_leaves_one_runs_outputs_and_a_rerun_matches(sessions, tmp_path, command,
                                                                 point):
    reached = KILL_POINTS[point]
    out = tmp_path / "out"
    shutil.copytree(sessions["session"] / "output", out, symlinks=True)
    before = _consistent(out)
    proc = _mocap(command, str(sessions["session"]), "-o", str(out))
    try:
        _wait_for(lambda: reached(proc, out) or proc.poll() is not None)
        assert proc.poll() is None, f"the run ended before the kill point: {proc.stderr.read()}"
        workers = _workers(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
    killed = time.monotonic()
    _wait_for(lambda: not any(_alive(w) for w in workers) or time.monotonic() - killed > 30)
    assert time.monotonic() - killed < MAX_ORPHAN_S
    after = _consistent(out)
    made = RUN_FILES if command == "run" else {f for f in RUN_FILES if "points3d" not in f}
    assert after == before or (made <= set(after) and after != before)
    assert _mocap("run", str(sessions["session"]), "-o", str(out)).wait(timeout=300) == 0
    _assert_same_results(out, sessions["reference"])


def _assert_same_results(out: Path, reference: Path) -> None:
    cameras = [tomllib.loads((folder / "calibration.toml").read_text())
               for folder in (out, reference)]
    for name, ref in cameras[1].items():
        if name != "metadata":
            for key in ("size", "matrix", "distortions", "rotation", "translation"):
                assert cameras[0][name][key] == ref[key], (name, key)
    with np.load(out / "points3d.npz") as a, np.load(reference / "points3d.npz") as b:
        for key in ("xyz", "reprojection_error", "n_views", "source"):
            np.testing.assert_array_equal(a[key], b[key])
