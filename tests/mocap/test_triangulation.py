"""Triangulation on exact data, then with noise, against ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from mocap.errors import TriangulationError
from mocap.keypoints import Keypoints2D
from mocap.synthetic.motion import synthetic_motion
from mocap.synthetic.observe import DetectorErrors, observe
from mocap.synthetic.studio import ring_rig
from mocap.triangulation import TriangulationConfig, triangulate
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
    with pytest.raises(TriangulationError, match="min_views must be at least 2"):
        triangulate(rig, kp, TriangulationConfig(min_views=1))
