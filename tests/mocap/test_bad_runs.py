"""Issue 22's runs that must not replace good results: each exits 2 with one line saying what to
fix, and the earlier outputs stay byte-for-byte as they were."""

from __future__ import annotations

import re
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tomli_w

from calibration.io import read_calibration
from mocap.cli import main
from mocap.errors import InputError
from mocap.keypoints_stage import camera_notes
from mocap.session import Session

REPO = Path(__file__).resolve().parents[2]


def _outputs(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".lock"}


def _refused(capsys, argv: list[str], message: str, output: Path) -> None:
    before = _outputs(output)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mocap: error: ") and err.count("\n") == 1 and message in err, err
    assert _outputs(output) == before


@pytest.mark.parametrize("options, message", [
    (["--min-views", "99"], "no joint was triangulated in 30 frames: each needs 99 or more"),
    (["--min-score", "-1"], "--min-score -1.0: min_score must be in [0, 1]"),
    (["--min-score", "2"], "--min-score 2.0: min_score must be in [0, 1]"),
    (["--min-views", "1"], "--min-views 1: min_views must be 2 or more"),
])
def test_a_run_with_nothing_to_triangulate_keeps_the_outputs(good_run, capsys, options,
                                                              message):
    _refused(capsys, ["run", str(good_run), "-q", *options], message, good_run / "output")


def test_keypoints_of_one_camera_only_are_lifted(good_run, tmp_path, capsys):
    """With torch (CI installs it) one camera's 2D is a one-camera take for the lifter."""
    session = tmp_path / "one"
    shutil.copytree(good_run, session)
    for path in (session / "keypoints2d").glob("*.npz"):
        if path.stem != "cam_1":
            path.unlink()
    assert main(["run", str(session)]) == 0
    assert "one camera (cam_1): its 2D is lifted to 3D by the lifter" in capsys.readouterr().out


def test_keypoints_of_one_camera_without_the_lifter_are_refused(good_run):
    """Without torch the same 2D is refused, saying what to add or install."""
    session = Session.open(good_run)
    rig = read_calibration(good_run / "calibration" / "calibration.toml")
    kp = session.load_keypoints(rig, {"cam_1": good_run / "keypoints2d" / "cam_1.npz"})
    with pytest.raises(InputError, match=re.escape(
            "2D keypoints of only 1 camera (cam_1); triangulation needs 2 or more cameras (the "
            "calibration also has cam_2, cam_3, cam_4): add their 2D keypoints or, for a "
            "one-camera take lifted to 3D by the lifter, install torch: pip install "
            "'mocap[lift]' torch==2.13.0")):
        camera_notes(kp, rig, good_run / "keypoints2d", can_lift=False)


def test_keypoints_with_zero_frames(good_run, tmp_path, capsys):
    session = tmp_path / "empty"
    shutil.copytree(good_run, session)
    for path in (session / "keypoints2d").glob("*.npz"):
        with np.load(path) as data:
            arrays = {k: data[k][:0] if k in ("xy", "score", "track_id") else data[k]
                      for k in data.files}
        np.savez(path, **arrays)
    _refused(capsys, ["run", str(session), "-q"], "no joint was triangulated in 0 frames",
             session / "output")


def test_an_output_path_that_is_a_file_is_refused_before_any_work(good_run, tmp_path, capsys):
    target = tmp_path / "points.npz"
    target.write_bytes(b"keep")
    assert main(["run", str(good_run), "-q", "-o", str(target)]) == 2
    assert "cannot write the outputs to" in capsys.readouterr().err
    assert target.read_bytes() == b"keep"


def test_board_footage_of_one_camera_keeps_a_good_calibration(tmp_path, capsys):
    """Board footage for one camera used to replace a good 4-camera calibration.toml and its
    report with a 1-camera rig."""
    sample = REPO / "sample_sessions" / "studio4"
    session = tmp_path / "studio"
    (session / "calibration").mkdir(parents=True)
    for name in ("board.toml", "cam_1.mp4"):
        shutil.copy(sample / "calibration" / name, session / "calibration" / name)
    output = session / "output"
    (output / "calibration_report").mkdir(parents=True)
    shutil.copy(sample / "ground_truth" / "calibration.toml", output / "calibration.toml")
    (output / "calibration_report" / "calibration_report.txt").write_text("4 cameras\n")
    _refused(capsys, ["calibrate", str(session), "-q"], "a rig needs 2 or more cameras, board "
             "footage was given for 1 (cam_1)", output)


def _set(key: str, value: object, index: tuple[int, ...] = ()) -> Callable[[dict], None]:
    """An edit of one camera table: ``table[key][index] = value`` (the whole value if no
    index)."""
    def edit(table: dict) -> None:
        if not index:
            table[key] = value
            return
        target = table[key]
        for i in index[:-1]:
            target = target[i]
        target[index[-1]] = value
    return edit


@pytest.mark.parametrize("edit, message", [
    (_set("rotation", [True, False, True]),
     "'rotation' must be 3 finite numbers, got [True, False, True]"),
    (_set("matrix", False, (1, 2)), "'matrix' must be 3x3 finite numbers"),
    (_set("distortions", [-0.1, 0.01, 0.0]), "'distortions' must hold 4 or 5 (k1, k2, p1, p2"),
])
def test_booleans_in_a_calibration_file_are_not_numbers(good_run, tmp_path, edit, message,
                                                         capsys):
    """Booleans read as 1 and 0 gave 309 mm and 486 mm joint errors with exit 0; a list of 3
    distortion coefficients was padded with zeros without a word."""
    session = tmp_path / "s"
    shutil.copytree(good_run, session)
    path = session / "calibration" / "calibration.toml"
    table = tomllib.loads(path.read_text())
    edit(table["cam_2"])
    path.write_text(tomli_w.dumps(table))
    _refused(capsys, ["run", str(session), "-q"], message, session / "output")


@pytest.mark.parametrize("edit, message", [
    (_set("matrix", 0.0, (0, 0)), "positive focal lengths"),
    (_set("size", [0, 720]), "'size' must be [width, height] in whole pixels, 1 to 100000"),
    (_set("rotation_count", "x"), "'rotation_count' must be a whole number"),
    (_set("matrix", "903", (1, 1)), "'matrix' must be 3x3 finite numbers"),
    (_set("translation", float("nan"), (1,)), "'translation' must be 3 finite numbers"),
    (_set("distortions", float("inf"), (0,)), "'distortions' must be finite numbers"),
])
def test_a_bad_caliscope_file_is_refused(good_run, shared_data, tmp_path, edit, message,
                                         capsys):
    """A zero focal length in caliscope's file gave a 196 mm error with exit 0; a text field
    gave a traceback."""
    table = tomllib.loads((shared_data / "caliscope_charuco_4cam" / "camera_array.toml")
                          .read_text())
    edit(table["cameras"]["0"])
    path = tmp_path / "camera_array.toml"
    path.write_text(tomli_w.dumps(table))
    _refused(capsys, ["run", str(good_run), "-q", "--calibration", str(path)], message,
             good_run / "output")


@pytest.mark.parametrize("toml, message", [
    ("[calibration]\nmax_view = 30\n", "unknown key 'max_view'; did you mean 'max_views'?"),
    ("[calibration]\nmax_views = 1\n", "max_views must be a whole number of at least 3"),
    ("[calibration]\nrefine_intrinsics = 1\n", "'refine_intrinsics' must be bool or str"),
])
def test_bad_calibration_settings_name_the_file_and_key(good_run, toml, message, capsys):
    (good_run / "session.toml").write_text(toml)
    try:
        _refused(capsys, ["run", str(good_run), "-q"], message, good_run / "output")
    finally:
        (good_run / "session.toml").unlink()
