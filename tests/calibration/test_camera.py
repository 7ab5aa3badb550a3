"""The camera model on exact data: projection, undistortion, rig transforms."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from calibration.camera import Camera, CameraRig, matrix_to_rodrigues, rodrigues_to_matrix
from calibration.errors import CalibrationError
from mocap.synthetic.studio import ring_rig


@pytest.fixture
def rig() -> CameraRig:
    return ring_rig(4, seed=3)


def _image_grid(cam: Camera, n: int = 101) -> np.ndarray:
    w, h = cam.size
    u, v = np.meshgrid(np.linspace(0, w - 1, n), np.linspace(0, h - 1, n))
    return np.stack([u, v], -1)                                            # (n, n, 2)


@pytest.mark.parametrize("fisheye", [False, True])
def test_undistort_then_distort_is_exact_over_the_whole_image(rig, fisheye):
    cam = rig[0]
    if fisheye:
        cam = cam.replace(fisheye=True, dist=np.array([-0.02, 0.004, -0.001, 0.0002]))
    uv = _image_grid(cam)
    back = cam.normalized_to_pixels(cam.undistort(uv))
    np.testing.assert_allclose(back, uv, rtol=0, atol=1e-6)
    corners = np.array([[0, 0], [cam.size[0] - 1, cam.size[1] - 1]], float)
    np.testing.assert_allclose(cam.normalized_to_pixels(cam.undistort(corners)), corners,
                               rtol=0, atol=1e-6)


def test_project_then_undistort_gives_the_pinhole_pixel(rig):
    cam = rig[1]
    xyz = np.random.default_rng(0).uniform([-1, -1, 0], [1, 1, 2], (500, 3))
    ideal = cam.world_to_camera(xyz)
    ideal = ideal[:, :2] / ideal[:, 2:] @ cam.K[:2, :2].T + cam.K[:2, 2]
    np.testing.assert_allclose(cam.undistort_pixels(cam.project(xyz)), ideal, rtol=0, atol=1e-6)


def test_project_matches_opencv(rig):
    cam = rig[2]
    xyz = np.random.default_rng(1).uniform([-1, -1, 0], [1, 1, 2], (200, 3))
    ref, _ = cv2.projectPoints(xyz, cam.rvec, cam.t, cam.K, cam.dist)
    np.testing.assert_allclose(cam.project(xyz), ref.reshape(-1, 2), rtol=0, atol=1e-9)


def test_fisheye_project_matches_opencv(rig):
    cam = rig[0].replace(fisheye=True, dist=np.array([0.05, -0.01, 0.002, -0.0005]))
    xyz = np.random.default_rng(2).uniform([-1, -1, 0], [1, 1, 2], (200, 3))
    ref, _ = cv2.fisheye.projectPoints(xyz[:, None], cam.rvec, cam.t, cam.K, cam.dist)
    np.testing.assert_allclose(cam.project(xyz), ref.reshape(-1, 2), rtol=0, atol=1e-9)


def test_points_behind_the_camera_and_nan_come_back_nan(rig):
    cam = rig[0]
    behind = cam.center - 2.0 * (cam.R.T @ [0, 0, 1.0])
    out = cam.project(np.stack([behind, [np.nan] * 3]))
    assert np.isnan(out).all()
    assert np.isnan(cam.undistort(np.array([np.nan, 1.0]))).all()


def test_rig_projects_any_batch_shape_camera_first(rig):
    xyz = np.zeros((5, 2, 17, 3)) + [0, 0, 1.0]
    assert rig.project(xyz).shape == (4, 5, 2, 17, 2)
    assert rig.undistort(rig.project(xyz)).shape == (4, 5, 2, 17, 2)


def test_rig_in_a_new_world_frame_projects_the_same(rig):
    R = rodrigues_to_matrix(np.array([0.1, -0.3, 0.7]))
    t, scale = np.array([0.5, -1.0, 2.0]), 1.7
    moved = rig.transformed(R, t, scale)
    xyz = np.random.default_rng(3).uniform([-1, -1, 0], [1, 1, 2], (50, 3))
    np.testing.assert_allclose(moved.project(scale * xyz @ R.T + t), rig.project(xyz),
                               rtol=0, atol=1e-8)


def test_rodrigues_round_trip():
    rvecs = np.random.default_rng(4).uniform(-1.7, 1.7, size=(20, 3))   # |r| < pi
    for r in rvecs:
        np.testing.assert_allclose(matrix_to_rodrigues(rodrigues_to_matrix(r)), r, atol=1e-12)
        np.testing.assert_allclose(rodrigues_to_matrix(r), cv2.Rodrigues(r)[0], atol=1e-14)


def test_bad_camera_values_are_rejected_with_the_camera_named():
    with pytest.raises(CalibrationError, match="camera c1: K has shape"):
        Camera("c1", (10, 10), np.eye(2), np.zeros(5))
    with pytest.raises(CalibrationError, match="camera c1: 6 distortion coefficients"):
        Camera("c1", (10, 10), np.eye(3), np.zeros(6))
    with pytest.raises(CalibrationError, match="camera names must be unique"):
        CameraRig((Camera("a", (1, 1), np.eye(3), []), Camera("a", (1, 1), np.eye(3), [])))
