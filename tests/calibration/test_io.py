"""calibration/io.py: our calibration TOML (the anipose / Pose2Sim layout) reads and writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calibration.camera import Camera, CameraRig
from calibration.errors import CalibrationFileError
from calibration.io import (
    calibration_to_toml,
    read_calibration,
    read_intrinsics,
    write_calibration,
)
from mocap.synthetic.studio import ring_rig

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
POSE2SIM_TOML = DATA / "pose2sim_demo" / "calibration" / "Calib_qualisys_pose2sim_format.toml"


def _rig() -> CameraRig:
    rig = ring_rig(3, seed=3)
    cams = list(rig)
    cams[0] = cams[0].replace(extra={"rms": 0.31, "note": "kept as is"})
    rng = np.random.default_rng(5)
    cams.append(Camera.from_rvec("fish", (1280, 800), cams[1].K, rng.uniform(-0.05, 0.05, 4),
                                 rng.normal(size=3), rng.normal(size=3), fisheye=True))
    return CameraRig(tuple(cams), {"metadata": {"adjusted": True, "error": 0.42}})


def _assert_same_rig(a: CameraRig, b: CameraRig) -> None:
    assert a.names == b.names and a.extra == b.extra
    for x, y in zip(a, b):
        assert x.size == y.size and x.fisheye == y.fisheye and x.extra == y.extra
        for key in ("K", "dist", "R", "t", "rvec"):
            np.testing.assert_array_equal(getattr(x, key), getattr(y, key), err_msg=key)


def test_write_read_write_gives_identical_text_and_arrays(tmp_path):
    rig = _rig()
    first = write_calibration(rig, tmp_path / "a.toml")
    back = read_calibration(first)
    second = write_calibration(back, tmp_path / "b.toml")
    assert first.read_text() == second.read_text()
    _assert_same_rig(back, read_calibration(second))
    for x, y in zip(rig, back):                    # the numbers written are the numbers read
        np.testing.assert_array_equal(x.K, y.K)
        np.testing.assert_array_equal(x.t, y.t)
        np.testing.assert_array_equal(x.rvec, y.rvec)
        np.testing.assert_allclose(x.R, y.R, rtol=0, atol=1e-15)


def test_write_leaves_no_temporary_file(tmp_path):
    write_calibration(_rig(), tmp_path / "out" / "calibration.toml")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["calibration.toml"]


def test_pose2sim_file_loads_with_its_numbers():
    rig = read_calibration(POSE2SIM_TOML)
    assert rig.names == ["cam_01", "cam_02", "cam_03", "cam_04"]
    cam = rig["cam_01"]
    assert cam.size == (1088, 1920) and not cam.fisheye
    np.testing.assert_array_equal(cam.K[0], [1681.244873046875, 0.0, 532.97369384375])
    np.testing.assert_array_equal(cam.dist, [-0.000721609375, 0.002187234375, 9.5e-06,
                                             1.078125e-05, 0.0])      # 4 given, k3 = 0 added
    np.testing.assert_array_equal(cam.rvec, [1.6882754799999993, 1.0483220499999997,
                                             -0.41955852000000016])
    np.testing.assert_array_equal(cam.t, [0.3211048899999996, 0.9563320600000009,
                                          2.8907130499999996])
    assert rig.extra == {"metadata": {"adjusted": False, "error": 0.0}}
    # Qualisys cameras ring the volume at about 1.7-2.1 m height
    assert np.all((rig.centers[:, 2] > 1.5) & (rig.centers[:, 2] < 2.2))


def test_pose2sim_file_round_trips(tmp_path):
    rig = read_calibration(POSE2SIM_TOML)
    text = calibration_to_toml(rig)
    (tmp_path / "c.toml").write_text(text)
    again = read_calibration(tmp_path / "c.toml")
    assert calibration_to_toml(again) == text
    _assert_same_rig(rig, again)


_GOOD = """[cam_1]
name = "cam_1"
size = [1920.0, 1080.0]
matrix = [[1000.0, 0.0, 960.0], [0.0, 1000.0, 540.0], [0.0, 0.0, 1.0]]
distortions = [-0.1, 0.01, 0.0, 0.0, 0.0]
rotation = [0.1, 0.2, 0.3]
translation = [0.0, 0.0, 3.0]
"""


@pytest.mark.parametrize("old, new, words", [
    ("translation = [0.0, 0.0, 3.0]\n", "", ["[cam_1]", "'translation'"]),
    ("rotation = [0.1, 0.2, 0.3]", "rotation = [0.1, 0.2]", ["[cam_1]", "'rotation'", "3"]),
    ("matrix = [[1000.0, 0.0, 960.0], [0.0, 1000.0, 540.0], [0.0, 0.0, 1.0]]",
     "matrix = [[1000.0, 0.0, 960.0], [0.0, 1000.0, 540.0]]", ["[cam_1]", "'matrix'", "3x3"]),
    ("size = [1920.0, 1080.0]", 'size = ["wide", 1080.0]', ["[cam_1]", "'size'"]),
    ("distortions = [-0.1, 0.01, 0.0, 0.0, 0.0]", 'distortions = [-0.1, "x", 0.0]',
     ["[cam_1]", "'distortions'"]),
    ("distortions = [-0.1, 0.01, 0.0, 0.0, 0.0]", "distortions = [-0.1, 0.01, 0, 0, 0, 0]",
     ["[cam_1]", "'distortions'", "4 or 5"]),
    ("translation = [0.0, 0.0, 3.0]", "translation = [0.0, nan, 3.0]",
     ["[cam_1]", "'translation'", "finite"]),
    ('name = "cam_1"', "name = 7", ["[cam_1]", "'name'"]),
    ("[cam_1]", "[cam_1", ["not valid TOML"]),
])
def test_malformed_file_names_file_table_and_key(tmp_path, old, new, words):
    assert old in _GOOD
    path = tmp_path / "bad.toml"
    path.write_text(_GOOD.replace(old, new))
    with pytest.raises(CalibrationFileError) as info:
        read_calibration(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message


def test_good_fixture_reads(tmp_path):
    (tmp_path / "ok.toml").write_text(_GOOD)
    cam = read_calibration(tmp_path / "ok.toml")["cam_1"]
    assert cam.size == (1920, 1080)
    np.testing.assert_allclose(cam.center, -cam.R.T @ [0.0, 0.0, 3.0])


def test_missing_file_and_empty_file_are_named(tmp_path):
    with pytest.raises(CalibrationFileError, match="not found") as info:
        read_calibration(tmp_path / "nope.toml")
    assert "nope.toml" in str(info.value)
    (tmp_path / "empty.toml").write_text("[metadata]\nerror = 0.0\n")
    with pytest.raises(CalibrationFileError, match="no camera table") as info:
        read_calibration(tmp_path / "empty.toml")
    assert "empty.toml" in str(info.value)


# --- lens folds and intrinsics-only files ----------------------------------------------------
_FOLDING = _GOOD.replace("distortions = [-0.1, 0.01, 0.0, 0.0, 0.0]",
                         "distortions = [-0.5, 0.0, 0.0, 0.0, 0.0]")


def _fraction_beyond(radius_px: float, size: tuple[int, int], centre: tuple[float, float]) -> float:
    """Share of the image's pixels farther than ``radius_px`` from ``centre`` (1 px grid)."""
    u, v = np.meshgrid(np.arange(size[0]), np.arange(size[1]))
    return float((np.hypot(u - centre[0], v - centre[1]) > radius_px).mean())


def test_a_lens_folding_inside_its_image_is_refused_with_file_camera_and_extent(tmp_path):
    path = tmp_path / "calibration.toml"
    path.write_text(_FOLDING)
    with pytest.raises(CalibrationFileError) as info:
        read_calibration(path)
    message = str(info.value)
    # k1 = -0.5: the distorted radius r (1 - r^2 / 2) peaks at r^2 = 2/3, at 0.544 f = 544 px
    reach = np.sqrt(2 / 3) * (2 / 3) * 1000.0
    assert str(path) in message and "camera cam_1:" in message and "folds back" in message
    assert f"{reach:.0f} px from the principal point" in message
    share = float(message.split("% of the image")[0].split()[-1])
    # the check samples a grid of the image: its share within 1 percentage point of the truth
    assert abs(share - 100 * _fraction_beyond(reach, (1920, 1080), (960, 540))) < 1.0


def test_a_lens_folding_just_outside_its_image_loads(tmp_path):
    # the same lens on an 800x600 image: corners 500 px away, the fold 544 px away
    text = _FOLDING.replace("size = [1920.0, 1080.0]", "size = [800.0, 600.0]").replace(
        "960.0], [0.0, 1000.0, 540.0]", "400.0], [0.0, 1000.0, 300.0]")
    (tmp_path / "ok.toml").write_text(text)
    cam = read_calibration(tmp_path / "ok.toml")["cam_1"]
    corners = np.array([[0, 0], [799, 599]], float)
    assert np.isfinite(cam.undistort(corners)).all()


def test_a_lens_folding_only_in_the_extreme_corners_loads_with_those_pixels_nan(tmp_path):
    """The same lens on a 1000x700 image: 2.9 % of it lies beyond the fold (at most
    MAX_FOLDED_SHARE, 5 %, may: the corners a board rarely reaches, where the fitted polynomial
    extrapolates); those pixels undistort to NaN, never to a wrong point."""
    text = _FOLDING.replace("size = [1920.0, 1080.0]", "size = [1000.0, 700.0]").replace(
        "960.0], [0.0, 1000.0, 540.0]", "500.0], [0.0, 1000.0, 350.0]")
    (tmp_path / "corners.toml").write_text(text)
    cam = read_calibration(tmp_path / "corners.toml")["cam_1"]
    assert _fraction_beyond(np.sqrt(2 / 3) * (2 / 3) * 1000.0, cam.size, (500, 350)) <= 0.05
    assert np.isnan(cam.undistort(np.array([[0.0, 0.0], [999.0, 699.0]]))).all()
    assert np.isfinite(cam.undistort(np.array([[500.0, 0.0], [0.0, 350.0]]))).all()


_INTRINSICS = """[cam_1]
name = "cam_1"
size = [1920.0, 1080.0]
matrix = [[1000.0, 0.0, 960.0], [0.0, 1000.0, 540.0], [0.0, 0.0, 1.0]]
distortions = [-0.1, 0.01, 0.0, 0.0, 0.0]

[cam_2]
name = "cam_2"
size = [1280.0, 800.0]
matrix = [[900.0, 0.0, 640.0], [0.0, 900.0, 400.0], [0.0, 0.0, 1.0]]
distortions = [0.01, -0.002, 0.0005, 0.0001]
fisheye = true
"""


def test_intrinsics_file_needs_no_rotation_or_translation(tmp_path):
    path = tmp_path / "intrinsics.toml"
    path.write_text(_INTRINSICS)
    rig = read_intrinsics(path)
    assert rig.names == ["cam_1", "cam_2"] and rig["cam_2"].fisheye
    np.testing.assert_array_equal(rig["cam_1"].K[0], [1000.0, 0.0, 960.0])
    np.testing.assert_array_equal(rig["cam_2"].dist, [0.01, -0.002, 0.0005, 0.0001])
    with pytest.raises(CalibrationFileError, match="no 'rotation' key"):
        read_calibration(path)                   # a full calibration stays strict


def test_intrinsics_file_written_by_us_reads_too_and_folds_are_refused(tmp_path):
    write_calibration(_rig(), tmp_path / "ours.toml")
    assert read_intrinsics(tmp_path / "ours.toml").names == _rig().names
    path = tmp_path / "intrinsics.toml"
    path.write_text(_INTRINSICS.replace("[-0.1, 0.01, 0.0, 0.0, 0.0]", "[-0.5, 0.0, 0, 0, 0]"))
    with pytest.raises(CalibrationFileError, match=r"camera cam_1: .*folds back"):
        read_intrinsics(path)
    path.write_text(_INTRINSICS.replace("matrix = [[900.0", "matrix = [[-900.0"))
    with pytest.raises(CalibrationFileError, match=r"\[cam_2\] 'matrix' must have positive"):
        read_intrinsics(path)


def test_session_known_intrinsics_reads_an_intrinsics_only_file(tmp_path):
    from mocap.calibration_stage import CalibrationInputs, known_intrinsics
    path = tmp_path / "intrinsics.toml"
    path.write_text(_INTRINSICS)
    inputs = CalibrationInputs(board=None, footage={}, timestamps=None, intrinsics=path)
    cameras = known_intrinsics(inputs)
    assert sorted(cameras) == ["cam_1", "cam_2"]
    np.testing.assert_array_equal(cameras["cam_1"].K, read_intrinsics(path)["cam_1"].K)
