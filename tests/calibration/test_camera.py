"""The camera model on exact data: projection, undistortion, rig transforms."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from calibration.camera import Camera, CameraRig
from calibration.errors import CalibrationError
from calibration.rotations import matrix_to_rodrigues, rodrigues_to_matrix
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


# --- lens folds: where the distortion polynomial turns back, answers are NaN, never wrong ------
K_1080 = np.array([[1000.0, 0.0, 960.0], [0.0, 1000.0, 540.0], [0.0, 0.0, 1.0]])
BARREL_FOLD = np.sqrt(2 / 3)            # k1 = -0.5: d(r - r^3 / 2)/dr = 0 at r^2 = 2/3
BARREL_REACH = BARREL_FOLD * (1 - 1 / 3)  # the largest distorted radius the lens reaches


def _radial_fold_by_sampling(k1: float, k2: float, k3: float) -> float:
    """First r where d(r radial(r))/dr <= 0, on a grid of step 1e-5 up to r = 10."""
    r = np.arange(0.0, 10.0, 1e-5)
    s = r * r
    slope = 1 + 3 * k1 * s + 5 * k2 * s**2 + 7 * k3 * s**3
    below = np.flatnonzero(slope <= 0)
    return r[below[0]] if below.size else np.inf


def _on_a_ray(cam: Camera, radii: np.ndarray, angle: float) -> np.ndarray:
    """(N, 2) pixels at distorted normalised radii ``radii`` from the principal point."""
    direction = np.array([np.cos(angle), np.sin(angle)])
    return cam.normalized_to_pixels(np.zeros(2)) + radii[:, None] * direction * cam.K[0, 0]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_fold_radius_is_where_the_radial_distortion_first_stops_growing(seed):
    rng = np.random.default_rng(seed)
    k1, k2, k3 = rng.uniform(-0.6, 0.3), rng.uniform(-0.3, 0.3), rng.uniform(-0.1, 0.1)
    cam = Camera("c", (1920, 1080), K_1080, [k1, k2, 0.0, 0.0, k3])
    expected = _radial_fold_by_sampling(k1, k2, k3)
    if np.isinf(expected):
        assert np.isinf(cam.fold_radius)
    else:                                          # the sampling grid's step is 1e-5
        assert abs(cam.fold_radius - expected) <= 1e-5
    barrel = Camera("c", (1920, 1080), K_1080, [-0.5, 0, 0, 0, 0])
    assert barrel.fold_radius == pytest.approx(BARREL_FOLD, rel=1e-12)
    assert np.isinf(Camera("c", (1920, 1080), K_1080, [0.1, 0.01, 0, 0, 0]).fold_radius)


@pytest.mark.parametrize("angle", [0.0, 0.7, 2.0, -2.6])
def test_pixels_beyond_the_fold_undistort_to_nan_not_to_a_wrong_point(angle):
    cam = Camera("c", (1920, 1080), K_1080, [-0.5, 0, 0, 0, 0])
    radii = np.linspace(0.0, 1.2, 1201)
    ideal = cam.undistort(_on_a_ray(cam, radii, angle))                      # (N, 2)
    reachable = radii < BARREL_REACH * (1 - 1e-3)  # Newton is slow at the fold's very edge
    assert np.isfinite(ideal[reachable]).all()
    assert (np.hypot(*ideal[reachable].T) < BARREL_FOLD).all()                # the main branch
    np.testing.assert_allclose(cam.distort(ideal[reachable]),
                               (_on_a_ray(cam, radii, angle)[reachable] - cam.K[:2, 2]) / 1000,
                               rtol=0, atol=1e-12)
    assert np.isnan(ideal[radii > BARREL_REACH]).all()                       # unreachable


def test_project_and_distort_beyond_the_fold_are_nan():
    cam = Camera("c", (1920, 1080), K_1080, [-0.5, 0, 0, 0, 0])
    xy = np.array([[0.5, 0.0], [0.0, 0.8], [0.9, 0.0], [0.6, 0.6]])          # r 0.5 0.8 0.9 0.85
    inside = np.hypot(*xy.T) < BARREL_FOLD
    out = cam.distort(xy)
    assert np.isfinite(out[inside]).all() and np.isnan(out[~inside]).all()
    points = np.concatenate([xy, np.ones((4, 1))], axis=1) * 3.0              # at z = 3 m
    assert np.array_equal(np.isnan(cam.project(points)).any(-1), ~inside)


def test_fisheye_pixels_beyond_90_degrees_are_nan_not_mirrored():
    cam = Camera("f", (1920, 1080), K_1080, [0, 0, 0, 0], fisheye=True)      # theta_d = theta
    theta_d = np.array([0.5, 1.5, np.pi / 2 + 1e-6, 2.0, 3.0])
    ideal = cam.undistort(_on_a_ray(cam, theta_d, 0.3))
    ahead = theta_d < np.pi / 2
    np.testing.assert_allclose(np.hypot(*ideal[ahead].T), np.tan(theta_d[ahead]), rtol=1e-12)
    assert np.isnan(ideal[~ahead]).all()


def test_fisheye_fold_before_90_degrees_is_nan_both_ways():
    cam = Camera("f", (1920, 1080), K_1080, [-0.2, 0, 0, 0], fisheye=True)
    theta_fold = np.sqrt(1 / 0.6)                  # d(theta - 0.2 theta^3)/dtheta = 0
    reach = theta_fold * (1 - 0.2 * theta_fold**2)
    assert cam.fold_radius == pytest.approx(np.tan(theta_fold), rel=1e-12)
    theta_d = np.linspace(0.0, 1.2, 1201)
    ideal = cam.undistort(_on_a_ray(cam, theta_d, -1.0))
    reachable = theta_d < reach * (1 - 1e-3)
    assert np.isfinite(ideal[reachable]).all()
    assert (np.arctan(np.hypot(*ideal[reachable].T)) < theta_fold).all()
    assert np.isnan(ideal[theta_d > reach]).all()
    xy = np.array([[np.tan(1.2), 0.0], [np.tan(1.35), 0.0]])                  # before, after
    out = cam.distort(xy)
    assert np.isfinite(out[0]).all() and np.isnan(out[1]).all()


@pytest.mark.parametrize("fisheye", [False, True])
def test_newton_that_does_not_converge_gives_nan(monkeypatch, fisheye):
    dist = [-0.02, 0.004, -0.001, 0.0002] if fisheye else [-0.3, 0.1, 1e-3, -1e-3, 0.0]
    cam = Camera("c", (1920, 1080), K_1080, dist, fisheye=fisheye)
    uv = np.array([[960.0, 540.0], [1900.0, 1000.0]])   # principal point, far corner
    monkeypatch.setattr("calibration.distortion._NEWTON_STEPS", 1)
    out = cam.undistort(uv)
    np.testing.assert_array_equal(out[0], [0.0, 0.0])   # the first step is already exact
    assert np.isnan(out[1]).all()                       # one step cannot reach 1e-12


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tangential_terms_never_fold_within_the_fold_radius(seed):
    """The Jacobian of the full (radial + tangential) model stays positive inside the radius."""
    rng = np.random.default_rng(seed)
    dist = [rng.uniform(-0.5, 0.1), rng.uniform(-0.1, 0.2), rng.uniform(-0.05, 0.05),
            rng.uniform(-0.05, 0.05), rng.uniform(-0.05, 0.05)]
    cam = Camera("c", (1920, 1080), K_1080, dist)
    r = min(cam.fold_radius, 5.0) * np.sqrt(rng.uniform(0, 1, 4000)) * (1 - 1e-6)
    a = rng.uniform(0, 2 * np.pi, 4000)
    xy = np.stack([r * np.cos(a), r * np.sin(a)], -1)
    h = 1e-7
    dx = (cam.distort(xy + [h, 0]) - cam.distort(xy - [h, 0])) / (2 * h)
    dy = (cam.distort(xy + [0, h]) - cam.distort(xy - [0, h])) / (2 * h)
    assert (dx[:, 0] * dy[:, 1] - dx[:, 1] * dy[:, 0] > 0).all()
    pure = Camera("c", (1920, 1080), K_1080, [0, 0, 0.05, 0, 0])
    assert pure.fold_radius == pytest.approx(1 / (6 * 0.05), rel=1e-12)  # |J_tan| <= 6 |p| r
