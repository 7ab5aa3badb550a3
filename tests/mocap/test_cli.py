"""`mocap run` end to end on sessions, and its answers to bad input."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mocap.cli import main
from mocap.synthetic.sample_session import make_sample_session

REPO = Path(__file__).resolve().parents[2]


def _mocap(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "mocap.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def session(tmp_path: Path) -> Path:
    return make_sample_session(tmp_path / "studio", n_frames=60, board_videos=False)


def test_bundled_sample_session_is_calibrated_and_reconstructed_within_5_mm(tmp_path):
    sample = REPO / "sample_sessions" / "studio4"
    result = _mocap("run", str(sample), "-o", str(tmp_path), "-q")
    assert result.returncode == 0 and result.stdout == "", result.stderr
    result = _mocap("run", str(sample), "-o", str(tmp_path))      # resumes from the cache
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "calibration: reused" in out and "board detection" not in result.stderr
    cameras = out.split("against the true cameras (after one rigid alignment): ")[1]
    for entry in cameras.splitlines()[0].split(", "):               # "cam_1 0.05 deg / 1.1 mm / f"
        _, deg, _, _, mm, *_ = entry.split()
        assert float(deg) < 0.2 and float(mm) < 10.0, entry
    line = next(l for l in out.splitlines() if l.startswith("ground truth"))
    assert float(line.split("mean joint error ")[1].split(" mm")[0]) < 5.0
    for name in ("points3d.npz", "points3d.trc", "calibration.toml",
                 "calibration_report/cameras_top_down.png"):
        assert (tmp_path / name).is_file(), name


def test_help_and_version():
    assert "run" in _mocap("--help").stdout
    assert _mocap("--version").stdout.startswith("mocap ")


def _assert_clean_failure(capsys, argv: list[str], message: str, output: Path) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mocap: error: ") and message in err, err
    assert "Traceback" not in err
    assert not output.exists() or not any(output.iterdir())


def test_missing_session_folder(tmp_path, capsys):
    _assert_clean_failure(capsys, ["run", str(tmp_path / "nope")], "nope not found",
                          tmp_path / "nope" / "output")


def test_malformed_calibration_names_file_and_key(session, capsys):
    calib = session / "calibration" / "calibration.toml"
    calib.write_text(calib.read_text().replace("matrix = [", "matrix = [[1, 2], ", 1))
    _assert_clean_failure(capsys, ["run", str(session)], f"{calib}: [cam_1] 'matrix' must be 3x3",
                          session / "output")


def test_calibration_syntax_error_names_the_file(session, capsys):
    calib = session / "calibration" / "calibration.toml"
    calib.write_text("[cam_1\nname = 1\n")
    _assert_clean_failure(capsys, ["run", str(session)], f"{calib}: not valid TOML",
                          session / "output")


def test_keypoints_of_a_camera_the_calibration_lacks(session, capsys):
    kp = session / "keypoints2d"
    shutil.copy(kp / "cam_2.npz", kp / "cam_9.npz")
    _assert_clean_failure(capsys, ["run", str(session)], "camera 'cam_9' is not in",
                          session / "output")


def test_keypoints_with_wrong_shapes(session, capsys):
    path = session / "keypoints2d" / "cam_3.npz"
    with np.load(path) as data:
        arrays = dict(data)
    arrays["xy"] = arrays["xy"][..., :1]
    np.savez(path, **arrays)
    _assert_clean_failure(capsys, ["run", str(session)], "cam_3.npz: 'xy' must be numbers "
                          "shaped [F, P, 17, 2]", session / "output")


def test_unknown_session_toml_key(session, capsys):
    (session / "session.toml").write_text("[triangulation]\nmin_view = 3\n")
    _assert_clean_failure(capsys, ["run", str(session)],
                          "unknown key 'min_view'; did you mean 'min_views'?", session / "output")


def test_errors_from_the_command_line_have_no_traceback(tmp_path):
    result = _mocap("run", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "not found" in result.stderr


def test_a_failed_run_keeps_the_previous_outputs(session, capsys):
    assert main(["run", str(session), "-q"]) == 0
    before = (session / "output" / "points3d.npz").read_bytes()
    (session / "keypoints2d" / "cam_1.npz").write_bytes(b"not an npz")
    assert main(["run", str(session), "-q"]) == 2
    assert (session / "output" / "points3d.npz").read_bytes() == before
    assert sorted(p.name for p in (session / "output").iterdir()       # cache/: triangulation
                  if not p.name.startswith(".")) == ["cache", "points3d.npz", "points3d.trc",
                                                     "report.html", "run.json", "skeleton.bvh",
                                                     "skeleton.fbx", "viewer.html"]


@pytest.mark.parametrize("options, message", [
    (["--dpi", "0"], "--dpi 0: print resolutions run from 72 to 2400"),
    (["--dpi", "100000"], "--dpi 100000: print resolutions run from 72 to 2400"),
])
def test_board_create_refuses_an_impossible_resolution(tmp_path, options, message, capsys):
    """--dpi 0 wrote a 44x60 px board and exited 0; --dpi 100000 ended in a traceback."""
    _assert_clean_failure(capsys, ["board", "create", "-o", str(tmp_path / "b"), *options],
                          message, tmp_path / "b")


def test_board_create_into_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "board"
    target.write_text("keep me")
    assert main(["board", "create", "-o", str(target)]) == 2
    assert "is a file; give a folder" in capsys.readouterr().err
    assert target.read_text() == "keep me"


def test_calibration_settings_in_session_toml_are_used_and_recalibrate(tmp_path):
    """[calibration] in session.toml reaches calibrate(); a changed setting recalibrates (the
    board detections stay cached), an unchanged one reuses the calibration."""
    session = tmp_path / "studio"
    shutil.copytree(REPO / "sample_sessions" / "studio4", session,
                    ignore=shutil.ignore_patterns("output"))
    (session / "session.toml").write_text("[calibration]\nmax_views = 20\n")
    assert "calibration: calibrated" in _mocap("run", str(session)).stdout
    assert "calibration: reused" in _mocap("run", str(session)).stdout
    (session / "session.toml").write_text("[calibration]\nmax_views = 25\n")
    again = _mocap("run", str(session))
    assert "calibration: calibrated" in again.stdout and "board detection" not in again.stderr


def test_a_calibration_made_by_other_code_is_calibrated_again(tmp_path, monkeypatch, capsys):
    """output/calibration.toml is reused only while the code that calibrates is the same (a
    newer solver recalibrates; the board detections, made by unchanged code, stay cached)."""
    from mocap import calibration_stage
    session = tmp_path / "studio"
    shutil.copytree(REPO / "sample_sessions" / "studio4", session,
                    ignore=shutil.ignore_patterns("output"))
    assert main(["run", str(session)]) == 0
    assert "calibration: calibrated" in capsys.readouterr().out
    assert main(["run", str(session)]) == 0
    assert "calibration: reused" in capsys.readouterr().out
    monkeypatch.setattr(calibration_stage, "CALIBRATION_VERSION", "another solver")
    assert main(["run", str(session)]) == 0
    again = capsys.readouterr()
    assert "calibration: calibrated" in again.out and "board detection" not in again.err
