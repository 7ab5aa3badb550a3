"""calibration/importers: other systems' calibration files become our CameraRig."""

from __future__ import annotations

import glob
import tomllib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tomli_w

from calibration.camera import Camera, CameraRig
from calibration.errors import CalibrationFileError
from calibration.importers import (
    detect_format,
    import_calibration,
    read_caliscope,
    read_freemocap,
    read_qualisys,
    rotate_image,
)
from calibration.io import calibration_to_toml, write_calibration
from mocap.synthetic.studio import ring_rig

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
QCA = DATA / "pose2sim_demo" / "calibration" / "Calib.qca.txt"
POSE2SIM_TOML = DATA / "pose2sim_demo" / "calibration" / "Calib_qualisys_pose2sim_format.toml"
CHECKERBOARDS = DATA / "pose2sim_demo" / "calibration" / "checkerboard_intrinsics"
CALISCOPE = DATA / "caliscope_charuco_4cam"


# --- Qualisys --------------------------------------------------------------------------------
def _reference() -> dict:
    table = tomllib.loads(POSE2SIM_TOML.read_text())
    return {k: v for k, v in table.items() if k != "metadata"}


def test_qualisys_reproduces_pose2sim_conversion_to_1e6():
    rig = read_qualisys(QCA, pose2sim_distortion=True)
    reference = _reference()
    assert rig.names == list(reference) == ["cam_01", "cam_02", "cam_03", "cam_04"]
    for cam in rig:
        ref = reference[cam.name]
        assert cam.size == tuple(int(v) for v in ref["size"]) == (1088, 1920)
        np.testing.assert_allclose(cam.K, ref["matrix"], rtol=0, atol=1e-6)
        np.testing.assert_allclose(cam.dist, ref["distortions"] + [0.0], rtol=0, atol=1e-6)
        np.testing.assert_allclose(cam.rvec, ref["rotation"], rtol=0, atol=1e-6)
        np.testing.assert_allclose(cam.t, ref["translation"], rtol=0, atol=1e-6)
    assert [c.extra["serial"] for c in rig] == ["cam01", "cam02", "cam03", "cam04"]


def test_qualisys_keeps_distortion_coefficients_as_written_by_default():
    rig, compat = read_qualisys(QCA), read_qualisys(QCA, pose2sim_distortion=True)
    np.testing.assert_allclose(rig["cam_01"].dist, [-0.046183, 0.139983, 0.000608, 0.00069, 0])
    for a, b in zip(rig, compat):
        np.testing.assert_allclose(a.dist, 64 * b.dist, rtol=1e-12)
        for key in ("K", "R", "t"):
            np.testing.assert_array_equal(getattr(a, key), getattr(b, key))


def _checkerboard_views(camera: str) -> list[np.ndarray]:
    views = []
    for file in sorted(glob.glob(str(CHECKERBOARDS / f"int_{camera}_img" / "*.jpg"))):
        gray = cv2.imread(file, cv2.IMREAD_GRAYSCALE)
        found, corners = cv2.findChessboardCorners(gray, (4, 7), flags=cv2.CALIB_CB_FAST_CHECK
                                                   | cv2.CALIB_CB_ADAPTIVE_THRESH)
        if found:
            views.append(cv2.cornerSubPix(gray, corners, (11, 11), (-1, -1),
                                          (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT,
                                           30, 1e-3)))
    return views


def test_file_distortion_fits_the_real_checkerboard_photos_better_than_a_64th_of_it():
    """The same cameras photographed a 4x7-corner, 60 mm checkerboard: with the Qualisys K
    held fixed, each view's pose is solved and the corners reprojected with either set of
    distortion coefficients; the file's own values must fit better overall."""
    board = np.zeros((28, 3), np.float32)
    board[:, :2] = np.mgrid[0:4, 0:7].T.reshape(-1, 2) * 0.06
    rigs = {"file": read_qualisys(QCA), "pose2sim": read_qualisys(QCA, pose2sim_distortion=True)}
    squared = {name: [] for name in rigs}
    for cam_name, serial in zip(rigs["file"].names, ("cam01", "cam02", "cam03", "cam04")):
        views = _checkerboard_views(serial)
        assert len(views) >= 5
        for name, rig in rigs.items():
            cam = rig[cam_name]
            for corners in views:
                _, rvec, tvec = cv2.solvePnP(board, corners, cam.K, cam.dist)
                uv = cam.replace(R=cv2.Rodrigues(rvec)[0], t=tvec.ravel()).project(board)
                squared[name].append(((uv - corners.reshape(-1, 2)) ** 2).sum(axis=1))
    rms = {name: float(np.sqrt(np.concatenate(v).mean())) for name, v in squared.items()}
    assert rms["file"] < rms["pose2sim"] - 0.03, rms          # measured 0.495 vs 0.551 px


def _edited_qca(tmp_path: Path, old: str, new: str, count: int = -1) -> Path:
    text = QCA.read_text()
    assert old in text
    path = tmp_path / "edited.qca.txt"
    path.write_text(text.replace(old, new, count))
    return path


def test_qualisys_video_crop_moves_principal_point_and_size(tmp_path):
    crop = _edited_qca(tmp_path, '<fov_video bottom="1919" left="0" right="1087" top="0"/>',
                       '<fov_video bottom="1819" left="100" right="1087" top="200"/>')
    full, cropped = read_qualisys(QCA), read_qualisys(crop)
    points = np.random.default_rng(0).uniform([-1, -1, 0], [1, 1, 1.8], (50, 3))
    for a, b in zip(full, cropped):
        assert b.size == (988, 1620)
        np.testing.assert_allclose(b.project(points), a.project(points) - [100, 200],
                                   rtol=0, atol=1e-9)


def test_qualisys_view_rotation_turns_the_image(tmp_path):
    turned = read_qualisys(_edited_qca(tmp_path, 'viewrotation="0"', 'viewrotation="90"', 1))
    plain = read_qualisys(QCA)
    assert turned["cam_01"].size == (1920, 1088)
    points = np.random.default_rng(1).uniform([-1, -1, 0], [1, 1, 1.8], (50, 3))
    uv = plain["cam_01"].project(points)
    np.testing.assert_allclose(turned["cam_01"].project(points),
                               np.stack([1920 - 1 - uv[:, 1], uv[:, 0]], axis=-1), atol=1e-9)
    assert turned["cam_02"].size == (1088, 1920)


@pytest.mark.parametrize("fisheye", [False, True])
def test_rotate_image_moves_every_projection_with_the_image(fisheye):
    cam = ring_rig(1, size=(640, 480), seed=2)[0]
    if fisheye:
        cam = cam.replace(fisheye=True, dist=np.array([0.05, -0.01, 0.002, -0.001]))
    else:
        cam = cam.replace(dist=np.array([-0.1, 0.03, 0.004, -0.003, 0.01]))
    points = np.random.default_rng(3).uniform([-1, -1, 0], [1, 1, 1.8], (200, 3))
    uv = cam.project(points)
    w, h = cam.size
    expected = {1: np.stack([h - 1 - uv[:, 1], uv[:, 0]], -1),
                2: np.stack([w - 1 - uv[:, 0], h - 1 - uv[:, 1]], -1),
                3: np.stack([uv[:, 1], w - 1 - uv[:, 0]], -1)}
    for turns, want in expected.items():
        np.testing.assert_allclose(rotate_image(cam, turns).project(points), want, atol=1e-9)
    back = rotate_image(cam, 4)
    np.testing.assert_allclose(back.K, cam.K, atol=1e-12)
    np.testing.assert_allclose(back.dist, cam.dist, atol=1e-15)
    np.testing.assert_allclose(back.R, cam.R, atol=1e-15)


@pytest.mark.parametrize("old, new, words", [
    ('focalLengthU="107599.671875" ', "", ["camera cam01", "<intrinsic>", "'focalLengthU'"]),
    ('r11="0.5536380477336265"', 'r11="zero"', ["camera cam01", "r11", "not a number"]),
    ('r11="0.5536380477336265"', 'r11="0.9"', ["camera cam01", "not a rotation"]),
    ('viewrotation="0"', 'viewrotation="45"', ["camera cam01", "viewrotation"]),
    ("</cameras>", "", ["not valid XML"]),
])
def test_malformed_qualisys_file_names_camera_and_attribute(tmp_path, old, new, words):
    path = _edited_qca(tmp_path, old, new, 1)
    with pytest.raises(CalibrationFileError) as info:
        import_calibration(path)
    assert str(path) in str(info.value)
    for word in words:
        assert word in str(info.value)


# --- our TOML --------------------------------------------------------------------------------
def test_our_toml_round_trips_exactly_through_import(tmp_path):
    rig = read_qualisys(QCA)
    first = write_calibration(rig, tmp_path / "ours.txt")           # extension says nothing
    assert detect_format(first) == "toml"
    back = import_calibration(first)
    assert calibration_to_toml(back) == first.read_text()
    for a, b in zip(rig, back):
        for key in ("K", "dist", "rvec", "t"):
            np.testing.assert_array_equal(getattr(a, key), getattr(b, key))


def test_pose2sim_reference_is_recognised_and_read():
    assert detect_format(POSE2SIM_TOML) == "toml"
    rig = import_calibration(POSE2SIM_TOML)
    assert rig.names == ["cam_01", "cam_02", "cam_03", "cam_04"]


def test_format_comes_from_content_not_extension(tmp_path):
    renamed = tmp_path / "calib.toml"
    renamed.write_bytes(QCA.read_bytes())
    assert detect_format(renamed) == "qualisys"
    assert import_calibration(renamed).names == read_qualisys(QCA).names


# --- caliscope -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["camera_array.toml", "config.toml"])
def test_caliscope_files_import_as_plausible_rig(name):
    path = CALISCOPE / name
    assert detect_format(path) == "caliscope"
    rig = import_calibration(path)
    assert rig.names == ["cam_0", "cam_1", "cam_2", "cam_3"]         # the video stems
    for cam in rig:
        assert cam.size == (1280, 720)
        assert 500 < cam.K[0, 0] < 1200 and abs(cam.K[1, 1] / cam.K[0, 0] - 1) < 0.01
        assert abs(cam.K[0, 2] - 640) < 40 and abs(cam.K[1, 2] - 360) < 40
        np.testing.assert_allclose(cam.R @ cam.R.T, np.eye(3), atol=1e-12)
    # the optical axes meet near one point about 1 m in front of every camera
    axes = rig.extrinsics[:, 2, :3]                                          # (C, 3)
    projector = np.eye(3) - axes[:, :, None] * axes[:, None, :]              # (C, 3, 3)
    focus = np.linalg.solve(projector.sum(0), np.einsum("cij,cj->i", projector, rig.centers))
    depth = np.einsum("ci,ci->c", focus - rig.centers, axes)
    assert np.all((depth > 0.7) & (depth < 1.5))
    pairwise = np.linalg.norm(rig.centers[:, None] - rig.centers[None], axis=-1)
    assert 0.3 < pairwise[pairwise > 0].min() and pairwise.max() < 2.0
    uv = rig.project(focus)                                                  # (C, 2)
    assert all(cam.in_image(p) for cam, p in zip(rig, uv))


def test_caliscope_both_files_agree_and_keep_ports():
    a = read_caliscope(CALISCOPE / "camera_array.toml")
    b = read_caliscope(CALISCOPE / "config.toml")
    assert [c.extra["port"] for c in a] == [0, 1, 2, 3]
    for x, y in zip(a, b):
        for key in ("K", "dist", "R", "t"):
            np.testing.assert_array_equal(getattr(x, key), getattr(y, key))


def _caliscope_copy(tmp_path: Path, edit) -> Path:
    table = tomllib.loads((CALISCOPE / "camera_array.toml").read_text())
    edit(table["cameras"])
    path = tmp_path / "camera_array.toml"
    path.write_text(tomli_w.dumps(table))
    return path


def test_caliscope_rodrigues_rotation_and_ignored_camera(tmp_path):
    def edit(cams):
        cams["2"]["rotation"] = cv2.Rodrigues(np.array(cams["2"]["rotation"]))[0].ravel().tolist()
        cams["3"]["ignore"] = True
    rig = read_caliscope(_caliscope_copy(tmp_path, edit))
    original = read_caliscope(CALISCOPE / "camera_array.toml")
    assert rig.names == ["cam_0", "cam_1", "cam_2"]
    np.testing.assert_allclose(rig["cam_2"].R, original["cam_2"].R, atol=1e-12)


@pytest.mark.parametrize("key, value, words", [
    ("translation", None, ["[cameras.1]", "'translation'", "extrinsic", "ignore = true"]),
    ("matrix", "null", ["[cameras.1]", "'matrix'", "intrinsic"]),
    ("rotation", [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]], ["[cameras.1]", "rotation"]),
])
def test_caliscope_camera_without_calibration_is_named(tmp_path, key, value, words):
    def edit(cams):
        if value is None:
            del cams["1"][key]
        else:
            cams["1"][key] = value
    path = _caliscope_copy(tmp_path, edit)
    with pytest.raises(CalibrationFileError) as info:
        import_calibration(path)
    for word in [str(path)] + words:
        assert word in str(info.value)


# --- FreeMoCap -------------------------------------------------------------------------------
def _freemocap_file(tmp_path: Path, rig: CameraRig, newer: bool, square: float = 39.0) -> Path:
    """A calibration laid out as FreeMoCap writes it: lengths in millimetres (the unit of
    charuco_square_size); older versions key tables cam_0.., newer ones by camera name and add
    world_orientation / world_position."""
    table = {}
    for i, cam in enumerate(rig):
        entry = {"name": cam.name, "size": list(cam.size), "matrix": cam.K.tolist(),
                 "distortions": cam.dist.tolist(), "rotation": cam.rvec.tolist(),
                 "translation": (cam.t * 1000).tolist()}
        if newer:
            entry["world_orientation"] = cam.R.T.tolist()
            entry["world_position"] = (cam.center * 1000).tolist()
        table[cam.name if newer else f"cam_{i}"] = entry
    table["metadata"] = {"charuco_square_size": square,
                         "charuco_board_object": "CharucoBoardDefinition(5x3)",
                         "path_to_recorded_videos": "C:/freemocap_data/calibration/videos",
                         "date_time_calibrated": "2024-05-01T10:00:00"}
    path = tmp_path / "recording_camera_calibration.toml"
    path.write_text(tomli_w.dumps(table))
    return path


@pytest.mark.parametrize("newer", [False, True])
def test_freemocap_file_imports_in_metres(tmp_path, newer):
    truth = ring_rig(4, seed=7, prefix="Camera_00")
    path = _freemocap_file(tmp_path, truth, newer)
    assert detect_format(path) == "freemocap"
    rig = import_calibration(path)
    assert rig.names == truth.names
    for a, b in zip(rig, truth):
        np.testing.assert_allclose(a.t, b.t, rtol=0, atol=1e-12)
        np.testing.assert_allclose(a.R, b.R, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(a.K, b.K)
        if newer:
            np.testing.assert_allclose(a.extra["world_position"], a.center, atol=1e-12)
    assert rig.extra["metadata"]["length_unit_m"] == 0.001


def test_freemocap_unknown_square_size_asks_for_unit(tmp_path):
    truth = ring_rig(3, seed=8)
    path = _freemocap_file(tmp_path, truth, newer=False, square=1)
    with pytest.raises(CalibrationFileError, match="length_unit") as info:
        import_calibration(path)
    assert str(path) in str(info.value)
    rig = read_freemocap(path, length_unit=0.001)
    np.testing.assert_allclose(rig.centers, truth.centers, atol=1e-12)


def test_freemocap_wrong_unit_is_caught(tmp_path):
    path = _freemocap_file(tmp_path, ring_rig(3, seed=9), newer=False)
    with pytest.raises(CalibrationFileError, match="plausible"):
        read_freemocap(path, length_unit=1.0)                    # mm read as metres: 8 km


# --- unknown formats -------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    '{"cameras": []}',
    "<?xml version='1.0'?><scene><camera/></scene>",
    "[board]\nsquares = [4, 5]\n",
    "this is not a calibration",
])
def test_unknown_format_names_file_and_supported_formats(tmp_path, text):
    path = tmp_path / "mystery.cal"
    path.write_text(text)
    with pytest.raises(CalibrationFileError) as info:
        import_calibration(path)
    message = str(info.value)
    assert str(path) in message and "supported" in message
    for name in ("Qualisys", "caliscope", "FreeMoCap", "Pose2Sim"):
        assert name in message


def test_missing_file_and_unknown_format_name(tmp_path):
    with pytest.raises(CalibrationFileError, match="not found"):
        import_calibration(tmp_path / "absent.toml")
    with pytest.raises(CalibrationFileError, match="unknown calibration format 'vicon'"):
        import_calibration(QCA, format="vicon")


def test_import_returns_cameras_usable_by_the_camera_model():
    rig = import_calibration(QCA)
    assert isinstance(rig[0], Camera)
    centre = np.array([0.0, 0.0, 1.0])                  # the capture volume, 1 m above the floor
    uv = rig.project(centre)
    assert all(cam.in_image(p) for cam, p in zip(rig, uv))


# --- lenses that fold back inside their image are refused by every reader ---------------------
def _folding_qualisys(tmp_path: Path) -> Path:
    # k1 -1 with the file's k2 0.14: the distortion folds back 0.39 f from the principal point,
    # the 1088x1920 image's corners lie 0.67 f away
    return _edited_qca(tmp_path, 'radialDistortion1="-0.047847"', 'radialDistortion1="-1.0"')


def _folding_caliscope(tmp_path: Path) -> Path:
    def edit(cams):                              # folds 0.38 f away, corners 1.16 f away
        cams["2"]["distortions"] = [-1.0, 0.0, 0.0, 0.0, 0.0]
    return _caliscope_copy(tmp_path, edit)


def _folding_freemocap(tmp_path: Path) -> Path:
    rig = ring_rig(3, seed=7)                    # folds 0.38 f away, corners 0.71 f away
    folding = rig[1].replace(dist=np.array([-1.0, 0.0, 0.0, 0.0, 0.0]))
    return _freemocap_file(tmp_path, CameraRig((rig[0], folding, rig[2])), newer=True)


@pytest.mark.parametrize("make, camera", [(_folding_qualisys, "cam_02"),
                                          (_folding_caliscope, "cam_2"),
                                          (_folding_freemocap, "cam_2")])
def test_a_lens_folding_inside_its_image_is_refused_by_every_importer(tmp_path, make, camera):
    path = make(tmp_path)
    with pytest.raises(CalibrationFileError, match="folds back") as info:
        import_calibration(path)
    message = str(info.value)
    assert str(path) in message and f"camera {camera}:" in message
    assert "px from the principal point" in message and "% of the image" in message


@pytest.mark.parametrize("path", [QCA, POSE2SIM_TOML, CALISCOPE / "camera_array.toml",
                                  CALISCOPE / "config.toml"])
def test_real_calibrations_have_no_fold_inside_their_images(path):
    rig = import_calibration(path)
    for cam in rig:
        w, h = cam.size
        corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], float)
        assert np.isfinite(cam.undistort(corners)).all()
