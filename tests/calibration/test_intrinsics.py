"""Single-camera intrinsics: accuracy on synthetic views, view selection, fixed intrinsics,
fisheye, plausibility checks and their messages."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.camera import Camera, CameraRig
from calibration.detections import BoardDetections
from calibration.errors import BoardNotFoundError, SolverError
from calibration.intrinsics import (
    calibrate_intrinsics,
    distortion_is_monotonic,
    initial_camera,
    intrinsics_problems,
    raise_if_implausible,
)
from calibration.view_selection import coverage_grid, select_views
from mocap.synthetic.board_observations import GridBoard, handheld_board_poses, observe_board
from mocap.synthetic.studio import ring_rig

BOARD = GridBoard()


def handheld(camera: Camera, n: int = 150, seed: int = 0, noise: float = 0.3,
             **kwargs: float) -> BoardDetections:
    rng = np.random.default_rng(seed)
    R, t = handheld_board_poses(camera, BOARD, n, rng)
    return observe_board(CameraRig((camera,)), BOARD, R, t, rng, noise_px=noise,
                         **kwargs)[camera.name]


@pytest.fixture(scope="module")
def camera() -> Camera:
    return ring_rig(1, seed=4)[0]


def test_intrinsics_of_a_handheld_board_are_accurate(camera):
    det = handheld(camera)
    result = calibrate_intrinsics(det, BOARD)
    K, truth = result.camera.K, camera.K
    np.testing.assert_allclose(K[[0, 1], [0, 1]], truth[[0, 1], [0, 1]], rtol=3e-3)
    np.testing.assert_allclose(K[:2, 2], truth[:2, 2], atol=4.0)
    assert 0.35 < result.rms < 0.5                  # noise 0.3 px per axis: 0.42 px RMS
    assert result.views_used.size == 40 and result.coverage > 0.9
    assert set(result.views_used) <= set(det.frames)
    assert result.std[:4].max() < 5.0
    ideal = np.random.default_rng(1).uniform(-0.6, 0.6, (200, 2))
    err = np.abs(result.camera.distort(ideal) - camera.distort(ideal)) * truth[0, 0]
    assert err.max() < 1.5                          # the lens model matches to ~1 px


def test_outlier_corners_and_views_are_rejected(camera):
    clean = calibrate_intrinsics(handheld(camera, seed=2), BOARD)
    noisy = calibrate_intrinsics(handheld(camera, seed=2, p_outlier=0.02), BOARD)
    assert noisy.rms < 0.5
    assert abs(noisy.camera.K[0, 0] / clean.camera.K[0, 0] - 1) < 2e-3


def test_initial_focal_length_is_close(camera):
    prior = initial_camera(handheld(camera, n=30, noise=0.0), BOARD.object_points)
    assert abs(prior.K[0, 0] / camera.K[0, 0] - 1) < 0.05
    assert not prior.dist.any()


def test_view_selection_covers_more_of_the_image_than_consecutive_frames(camera):
    det = handheld(camera, n=200)
    chosen = select_views(det, BOARD.object_points, camera, 15)
    first = np.arange(15)
    assert chosen.size == 15 and np.unique(chosen).size == 15

    def cells(idx):
        return (coverage_grid(det.select(np.isin(np.arange(det.frames.size), idx))) > 0).sum()
    assert cells(chosen) > cells(first)


def test_fixed_intrinsics_are_kept_and_measured(camera):
    det = handheld(camera, n=20)
    result = calibrate_intrinsics(det, BOARD, fixed=camera)
    np.testing.assert_array_equal(result.camera.K, camera.K)
    np.testing.assert_array_equal(result.camera.dist, camera.dist)
    assert 0.3 < result.rms < 0.55 and result.views_used.size == det.frames.size


def test_fisheye_intrinsics(camera):
    K = np.array([[800.0, 0, 955], [0, 800.0, 545], [0, 0, 1]])
    fish = Camera("fish", camera.size, K, [0.05, -0.02, 0.01, -0.004], fisheye=True)
    det = handheld(fish, n=120, seed=3, noise=0.2)
    result = calibrate_intrinsics(det, BOARD, fisheye=True)
    assert result.camera.fisheye
    np.testing.assert_allclose(result.camera.K[[0, 1], [0, 1]], 800.0, rtol=5e-3)
    assert result.rms < 0.4


def test_too_few_views_raises_board_not_found(camera):
    det = handheld(camera, n=40)
    few = det.select(np.arange(det.frames.size) < 2)
    with pytest.raises(BoardNotFoundError, match=r"camera cam_1: the board was found in 2 of "
                                                 r"40 frames; intrinsics need at least 3"):
        calibrate_intrinsics(few, BOARD)


def test_implausible_intrinsics_name_the_camera_and_what_to_film():
    K = np.array([[900.0, 0, 1400], [0, 700.0, 540], [0, 0, 1]])
    bad = Camera("cam_7", (1920, 1080), K, [0.0, 0, 0, 0, 0])
    problems = intrinsics_problems(bad)
    assert any("differ by more than 10 %" in p for p in problems)
    assert any("principal point (1400, 540) is far" in p for p in problems)
    with pytest.raises(SolverError, match=r"camera cam_7: intrinsic calibration failed: .*"
                                          r"film the board closer"):
        raise_if_implausible(bad)


def test_folding_distortion_is_caught_only_where_it_matters():
    K = np.array([[1000.0, 0, 960], [0, 1000.0, 540], [0, 0, 1]])
    folds = Camera("c", (1920, 1080), K, [0.2, -0.3, 0, 0, 0])     # folds near r = 0.95
    assert not distortion_is_monotonic(folds)                       # before the corner (1.1)
    assert distortion_is_monotonic(folds, radius=0.6)               # fine where data was
    assert distortion_is_monotonic(folds.replace(dist=np.array([0.2, -0.3, 0, 0, 0.3])))
