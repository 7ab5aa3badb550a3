"""Board metrics on exact corners: zero error, and a scale error seen in the geometry."""

from __future__ import annotations

import numpy as np

from calibration.board import Board
from calibration.board_metrics import board_geometry_rms_mm, reprojection_rms_px
from calibration.detections import BoardDetections
from calibration.sync import sync_by_index
from mocap.synthetic.studio import ring_rig


def test_exact_corners_fit_and_a_one_percent_larger_world_shows_in_the_geometry():
    rig = ring_rig(4, size=(1280, 720), radius=3.0, height=2.0, seed=3)
    board = Board.charuco((5, 7), 0.1, 0.075, "DICT_4X4_50")
    rng = np.random.default_rng(1)
    X = board.object_points[None] + rng.uniform([-0.3, -0.3, 0.6], [0.3, 0.3, 1.2], (6, 1, 3))
    xy = rig.project(X)                                                    # (C, S, K, 2)
    xy[0, :, :5] = np.nan                                                  # unseen corners
    detections = {cam.name: BoardDetections(cam.name, cam.size, np.arange(6), xy[c], 6)
                  for c, cam in enumerate(rig)}
    synced = sync_by_index({n: 6 for n in rig.names}).corners(detections)
    np.testing.assert_array_equal(synced, xy)
    assert reprojection_rms_px(rig, synced) < 1e-6
    assert board_geometry_rms_mm(rig, synced, board.object_points) < 1e-6
    bigger = rig.transformed(np.eye(3), np.zeros(3), scale=1.01)
    assert board_geometry_rms_mm(bigger, synced, board.object_points) > 1.0
    noisy = synced + rng.normal(0, 0.5, synced.shape)
    assert 0.2 < reprojection_rms_px(rig, noisy) < 0.6


def test_a_corner_triangulated_behind_a_camera_that_saw_it_makes_the_rms_infinite():
    """Cameras 0 and 2 face each other; camera 0 sees one corner mirrored through its centre,
    so the two rays (as lines) meet behind camera 0. Leaving camera 0's view out would make the
    RMS 0 px; the view cannot be explained, so the RMS is infinite ("known to be bad")."""
    rig = ring_rig(4, size=(1280, 720), radius=3.0, height=2.0, seed=3)
    pair = rig.subset([rig.names[0], rig.names[2]])
    c0, c2 = pair[0].center, pair[1].center
    away = (c0 - c2) / np.linalg.norm(c0 - c2)
    aside = np.cross(away, [0.0, 0.0, 1.0])                                # off the baseline
    behind = c0 + 1.5 * away + 0.3 * aside / np.linalg.norm(aside)
    ahead = np.array([0.0, 0.0, 1.0])
    xy = pair.project(np.stack([behind, ahead]))[:, None]               # (2, 1, 2, 2)
    xy[0, 0, 0] = pair[0].project(2 * c0 - behind)
    assert np.isnan(pair[0].project(behind)).all()
    assert reprojection_rms_px(pair, xy) == np.inf
    assert reprojection_rms_px(pair, xy[:, :, 1:]) < 1e-6              # the good corner alone
