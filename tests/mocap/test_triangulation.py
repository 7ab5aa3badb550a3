"""Triangulation on exact data, then with noise, against ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.triangulation import triangulate_points
from mocap.errors import TriangulationError
from mocap.keypoints import Keypoints2D
from mocap.synthetic.motion import synthetic_motion
from mocap.synthetic.observe import DetectorErrors, observe
from mocap.synthetic.studio import ring_rig
from mocap.triangulation import TriangulationConfig, reprojection_error, triangulate
from rigs.motion import MISSING, TRIANGULATED
from rigs.skeleton import get_skeleton


@pytest.fixture
def scene():
    rig = ring_rig(n=4)
    xyz = np.random.default_rng(0).uniform([-.5, -.5, 0.], [.5, .5, 1.8], (10, 2, 17, 3))
    kp = Keypoints2D(xy=rig.project(xyz), score=np.ones((4, 10, 2, 17)), cameras=rig.names,
                     skeleton=get_skeleton("coco17"), fps=30.0)
    return rig, xyz, kp


def test_noise_free_points_come_back_exactly(scene):
    rig, xyz, kp = scene
    out = triangulate(rig, kp)
    np.testing.assert_allclose(out.xyz, xyz, rtol=0, atol=1e-9)
    assert (out.n_views == 4).all()
    assert np.nanmax(out.reprojection_error) < 1e-6


def test_joint_seen_by_one_camera_is_missing_not_guessed(scene):
    rig, xyz, kp = scene
    score = kp.score.copy()
    score[1:, 0, 0, 3] = 0.0
    out = triangulate(rig, Keypoints2D(kp.xy, score, kp.cameras, kp.skeleton, kp.fps))
    assert np.isnan(out.xyz[0, 0, 3]).all() and out.n_views[0, 0, 3] == 0
    assert out.source[0, 0, 3] == 0 and out.source[0, 0, 4] == 1
    np.testing.assert_allclose(out.xyz[0, 0, 4], xyz[0, 0, 4], atol=1e-9)


def test_low_scores_are_ignored_and_two_views_suffice(scene):
    rig, xyz, kp = scene
    score = kp.score.copy()
    score[:2] = 0.1                                       # below min_score: cameras 1, 2 unused
    out = triangulate(rig, Keypoints2D(kp.xy, score, kp.cameras, kp.skeleton, kp.fps),
                      TriangulationConfig(min_score=0.3))
    assert (out.n_views == 2).all()
    np.testing.assert_allclose(out.xyz, xyz, rtol=0, atol=1e-9)


def test_camera_subset_and_order_follow_the_keypoints(scene):
    rig, xyz, kp = scene
    order = [2, 0, 3]
    sub = Keypoints2D(kp.xy[order], kp.score[order], tuple(kp.cameras[i] for i in order),
                      kp.skeleton, kp.fps)
    np.testing.assert_allclose(triangulate(rig, sub).xyz, xyz, rtol=0, atol=1e-9)


def test_noisy_detections_land_within_a_few_millimetres():
    rig = ring_rig(4, seed=1)
    truth = synthetic_motion("coco17", n_frames=90)
    out = triangulate(rig, observe(rig, truth, DetectorErrors(noise_px=1.0), seed=1))
    err = np.linalg.norm(out.xyz - truth.xyz, axis=-1) * 1000
    assert np.nanmean(err) < 5.0 and np.isfinite(err).mean() > 0.99
    assert 0.7 < np.nanmean(out.reprojection_error) < 1.5


def test_unknown_camera_and_bad_min_views_are_errors(scene):
    rig, _, kp = scene
    other = Keypoints2D(kp.xy, kp.score, ("cam_1", "cam_2", "cam_3", "cam_9"), kp.skeleton, 30.0)
    with pytest.raises(TriangulationError, match="cam_9 but the calibration has only"):
        triangulate(rig, other)
    with pytest.raises(TriangulationError, match=r"min_views must be 2 or more"):
        TriangulationConfig(min_views=1)
    with pytest.raises(TriangulationError, match=r"min_score must be in \[0, 1\]"):
        TriangulationConfig(min_score=-1.0)


# --- units and degeneracy ------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1000.0, 0.001])
@pytest.mark.parametrize("noise_px", [0.0, 1.0])
def test_a_rig_in_other_units_gives_the_same_points_in_those_units(scene, scale, noise_px):
    """Millimetres (x1000) or kilometres (x0.001): the same pixels give the same points times
    the scale, to rounding (1e-9 relative), and no joint is lost."""
    rig, _, kp = scene
    xy = kp.xy + np.random.default_rng(4).normal(0, noise_px, kp.xy.shape)
    kp = Keypoints2D(xy, kp.score, kp.cameras, kp.skeleton, kp.fps)
    metres = triangulate(rig, kp)
    other = triangulate(rig.transformed(np.eye(3), np.zeros(3), scale=scale), kp)
    assert (other.source == TRIANGULATED).all() and (other.n_views == 4).all()
    np.testing.assert_allclose(other.xyz, scale * metres.xyz, rtol=1e-9, atol=0)
    np.testing.assert_allclose(other.reprojection_error, metres.reprojection_error,
                               rtol=1e-6, atol=1e-9)


def _looking_along_z(centres: list[list[float]]) -> np.ndarray:
    """(C, 3, 4) extrinsics of cameras at ``centres`` with the world's axes (R = I)."""
    return np.stack([np.hstack([np.eye(3), -np.array(c, float)[:, None]]) for c in centres])


@pytest.mark.parametrize("scale", [1.0, 1000.0])
def test_degenerate_views_are_still_nan_in_any_unit(scale):
    ahead = np.zeros((2, 1, 2))                          # both see the point on their axis
    weights = np.ones((2, 1))
    # a point on the baseline: the second camera stands 1 unit behind the first on its axis
    on_baseline = triangulate_points(_looking_along_z([[0, 0, 0], [0, 0, -scale]]), ahead,
                                     weights)
    # parallel rays: side by side, both seeing the point straight ahead (at infinity)
    parallel = triangulate_points(_looking_along_z([[0, 0, 0], [scale, 0, 0]]), ahead, weights)
    assert np.isnan(on_baseline).all() and np.isnan(parallel).all()
    # the same cameras seeing a real point at 5 units resolve it
    seen = np.array([[[0.0, 0.0]], [[-0.2, 0.0]]])
    np.testing.assert_allclose(triangulate_points(
        _looking_along_z([[0, 0, 0], [scale, 0, 0]]), seen, weights), [[0, 0, 5 * scale]],
        rtol=1e-12, atol=1e-12 * scale)


# --- a point behind one of its cameras ------------------------------------------------------
def _seen_from_behind(rig, xyz):
    """Pixels of ``xyz`` (J, 3) in cameras 0 and 2 of ``rig`` (which face each other), where
    joint 0 is a point behind camera 0 that camera 0 'sees' mirrored through its centre: both
    rays (as lines) meet behind camera 0, where linear triangulation puts the joint."""
    pair = rig.subset([rig.names[0], rig.names[2]])
    c0 = pair[0].center
    xyz = xyz.copy()
    away = (c0 - pair[1].center) / np.linalg.norm(c0 - pair[1].center)
    aside = np.cross(away, [0.0, 0.0, 1.0])                        # off the baseline
    xyz[0] = c0 + 1.5 * away + 0.3 * aside / np.linalg.norm(aside)
    xy = pair.project(xyz)                                         # (2, J, 2)
    xy[0, 0] = pair[0].project(2 * c0 - xyz[0])                   # in front of camera 0
    return pair, xyz, xy


def test_a_view_that_cannot_see_the_point_makes_the_error_infinite_not_smaller(scene):
    rig, xyz, _ = scene
    pair, points, xy = _seen_from_behind(rig, xyz[0, 0])
    assert np.isnan(pair[0].project(points[0])).all()              # behind camera 0 indeed
    error = reprojection_error(pair, points, xy, np.ones(xy.shape[:-1]))
    assert error[0] == np.inf                                      # not camera 2's 0 px alone
    assert (error[1:] < 1e-6).all()


def test_a_joint_triangulated_behind_a_camera_that_saw_it_is_missing_not_kept(scene):
    rig, xyz, _ = scene
    pair, points, xy = _seen_from_behind(rig, xyz[0, 0])
    kp = Keypoints2D(xy[:, None, None], np.ones((2, 1, 1, 17)), pair.names,
                     get_skeleton("coco17"), 30.0)
    out = triangulate(pair, kp)
    assert np.isnan(out.xyz[0, 0, 0]).all() and out.source[0, 0, 0] == MISSING
    assert out.n_views[0, 0, 0] == 0
    assert (out.source[0, 0, 1:] == TRIANGULATED).all()
    np.testing.assert_allclose(out.xyz[0, 0, 1:], points[1:], rtol=0, atol=1e-9)
