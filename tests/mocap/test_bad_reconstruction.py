"""Issue 17's bad reconstruction inputs: calibration and 2D of different cameras, cameras that saw
nobody, a calibration with NaN or infinite numbers. A refused run exits 2 with one line naming
the file or camera and the fix, and leaves the earlier outputs byte-for-byte as they were; a
camera that adds nothing but leaves 2 or more that saw someone is left out and named in the
summary."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest
import tomli_w

from exporters.points3d import read_points3d
from mocap.cli import main
from tests.mocap.test_bad_runs import _refused

CAMERAS = ("cam_1", "cam_2", "cam_3", "cam_4")           # make_sample_session's four


@pytest.fixture
def session(good_run, tmp_path) -> Path:
    """A copy of the good run to spoil."""
    return Path(shutil.copytree(good_run, tmp_path / "studio"))


def _blind(session: Path, cameras: tuple[str, ...], *, nan_xy: bool = True) -> None:
    """Make ``cameras`` see nobody: every keypoint NaN (or, ``nan_xy`` False, score 0)."""
    for camera in cameras:
        path = session / "keypoints2d" / f"{camera}.npz"
        with np.load(path) as data:
            arrays = dict(data)
        if nan_xy:
            arrays["xy"] = np.full(arrays["xy"].shape, np.nan)
        arrays["score"] = np.zeros(arrays["score"].shape)
        np.savez(path, **arrays)


def _edit_calibration(session: Path, edit) -> None:
    path = session / "calibration" / "calibration.toml"
    table = tomllib.loads(path.read_text())
    edit(table)
    path.write_text(tomli_w.dumps(table))


def test_2d_of_a_camera_the_calibration_lacks_is_refused(session, capsys):
    _edit_calibration(session, lambda table: table.pop("cam_4"))
    _refused(capsys, ["run", str(session), "-q"], "keypoints2d/cam_4.npz: camera 'cam_4' is not "
             "in the calibration (it has cam_1, cam_2, cam_3); rename the keypoints file after "
             "its camera or calibrate that camera", session / "output")


@pytest.mark.parametrize("left_out", ["cam_1", "cam_4"])
def test_a_calibrated_camera_without_2d_is_left_out(session, left_out, capsys):
    """Calibrating more cameras than filmed the take is usual: they add nothing, and the summary
    says so."""
    (session / "keypoints2d" / f"{left_out}.npz").unlink()
    assert main(["run", str(session)]) == 0
    assert f"{left_out} calibrated but has no 2D keypoints: not used" in capsys.readouterr().out
    motion = read_points3d(session / "output" / "points3d.npz")
    # 3 cameras at 1 px noise see every joint of the sample's one walking person: all of them
    # triangulate, from 3 views at most
    assert np.isfinite(motion.xyz).all()
    assert motion.n_views.max() == 3


@pytest.mark.parametrize("nan_xy", [True, False], ids=["NaN xy", "score 0"])
def test_a_camera_that_saw_nobody_is_left_out_and_named(session, nan_xy, capsys):
    _blind(session, ("cam_3",), nan_xy=nan_xy)
    assert main(["run", str(session)]) == 0
    out = capsys.readouterr().out
    assert "cam_3 has no detections (every keypoint NaN or score 0): not used" in out, out
    motion = read_points3d(session / "output" / "points3d.npz")
    assert np.isfinite(motion.xyz).all()             # as above, 3 cameras see every joint
    assert motion.n_views.max() == 3


@pytest.mark.parametrize("kept", ["cam_1", "cam_3"])
def test_one_camera_that_saw_anyone_is_refused(session, kept, capsys):
    blind = tuple(c for c in CAMERAS if c != kept)
    _blind(session, blind)
    _refused(capsys, ["run", str(session), "-q"], f"keypoints2d: only camera {kept} saw anyone, "
             f"{', '.join(blind)} have no detections (every keypoint NaN or score 0); "
             "triangulation needs 2 or more cameras that see the person (for a one-camera take "
             "lifted to 3D by the lifter, keep only that camera's 2D keypoints)",
             session / "output")


@pytest.mark.parametrize("nan_xy", [True, False], ids=["NaN xy", "score 0"])
def test_a_take_where_nobody_is_visible_is_refused(session, nan_xy, capsys):
    _blind(session, CAMERAS, nan_xy=nan_xy)
    _refused(capsys, ["run", str(session), "-q"], "keypoints2d: no camera saw anyone: every "
             "keypoint of cam_1, cam_2, cam_3, cam_4 is missing (NaN or score 0) in all 30 "
             "frames; check that the 2D keypoints belong to this take", session / "output")


@pytest.mark.parametrize("key, index, want", [
    ("matrix", (0, 2), "3x3 finite numbers"),
    ("matrix", (1, 1), "3x3 finite numbers"),
    ("distortions", (1,), "finite numbers"),
    ("rotation", (0,), "3 finite numbers"),
    ("translation", (2,), "3 finite numbers"),
])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_a_calibration_with_nan_or_inf_is_refused(session, key, index, want, value, capsys):
    def edit(table: dict) -> None:
        target = table["cam_2"][key]
        for i in index[:-1]:
            target = target[i]
        target[index[-1]] = float(value)
    _edit_calibration(session, edit)
    _refused(capsys, ["run", str(session), "-q"], f"calibration/calibration.toml: [cam_2] "
             f"'{key}' must be {want}, got ", session / "output")
