"""Extrinsic initialisation: board poses per view, the camera graph, relative poses, poses along
the spanning tree (also through other cameras), board poses per frame, graph errors."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.errors import CameraGraphError
from calibration.extrinsics import (
    ViewPoses,
    board_poses_in_camera,
    camera_graph,
    check_connected,
    initial_board_poses,
    initial_camera_poses,
    relative_pose,
)
from mocap.synthetic.board_observations import forbid_shared_views, simulate_board_session
from mocap.synthetic.studio import ring_rig


@pytest.fixture(scope="module")
def ring():
    rig = ring_rig(6)
    s = simulate_board_session(rig, n_frames=200, seed=2, noise_px=0.3)
    views = {c.name: board_poses_in_camera(s.detections[c.name], c, s.board.object_points)
             for c in rig}
    return s, views


def angle_deg(Ra, Rb):
    return np.degrees(np.arccos(np.clip((np.trace(Ra.T @ Rb) - 1) / 2, -1, 1)))


def relative_truth(rig, root):
    """World-to-camera poses of the true rig expressed in camera ``root``'s frame."""
    R0, t0 = rig[root].R, rig[root].t
    return {c.name: (c.R @ R0.T, c.t - c.R @ R0.T @ t0) for c in rig}


def test_board_poses_of_noise_free_views_are_exact():
    rig = ring_rig(3)
    s = simulate_board_session(rig, n_frames=40, seed=1, noise_px=0.0, p_outlier=0.0)
    cam = rig[0]
    views = board_poses_in_camera(s.detections[cam.name], cam, s.board.object_points)
    R_true = np.einsum("ij,fjk->fik", cam.R, s.R[views.frames])          # board to camera
    t_true = s.t[views.frames] @ cam.R.T + cam.t
    np.testing.assert_allclose(views.R[:, 0], R_true, atol=1e-7)
    np.testing.assert_allclose(views.t[:, 0], t_true, atol=1e-7)
    assert (views.rms[:, 0] < 1e-6).all() and views.frames.size == s.detections[cam.name].frames.size


def test_relative_pose_is_robust_to_a_flipped_view(ring):
    s, views = ring
    a, b = views["cam_1"], views["cam_2"]
    shared = np.intersect1d(a.frames, b.frames)
    i = np.searchsorted(a.frames, shared[0])
    R = a.R.copy()
    R[i, 0] = R[i, 1]                                # the other planar solution in one frame
    flipped = ViewPoses(a.frames, R, a.t, a.rms, a.n_corners)
    R_ab, t_ab, kept = relative_pose(flipped, b)
    truth = relative_truth(s.rig, "cam_1")["cam_2"]
    assert angle_deg(R_ab, truth[0]) < 0.1
    assert np.linalg.norm(t_ab - truth[1]) < 0.01
    assert kept < shared.size


def test_poses_along_the_spanning_tree_match_the_truth(ring):
    s, views = ring
    graph = camera_graph(views)
    assert graph["cam_1"]["cam_2"]["frames"] > 30
    poses, root = initial_camera_poses(graph, views)
    truth = relative_truth(s.rig, root)
    for name, (R, t) in poses.items():
        assert angle_deg(R, truth[name][0]) < 0.3
        assert np.linalg.norm(t - truth[name][1]) < 0.03


def test_cameras_linked_only_through_their_neighbours(ring):
    s, _ = ring
    far = [("cam_1", "cam_3"), ("cam_1", "cam_4"), ("cam_1", "cam_5")]
    dets = forbid_shared_views(s.detections, far)
    views = {c.name: board_poses_in_camera(dets[c.name], c, s.board.object_points) for c in s.rig}
    graph = camera_graph(views)
    assert set(graph.neighbors("cam_1")) == {"cam_2", "cam_6"}
    check_connected(graph, dets)
    poses, _ = initial_camera_poses(graph, views, root="cam_4")
    truth = relative_truth(s.rig, "cam_4")
    assert angle_deg(poses["cam_1"][0], truth["cam_1"][0]) < 0.5
    assert np.linalg.norm(poses["cam_1"][1] - truth["cam_1"][1]) < 0.05


def test_board_pose_per_frame_from_the_best_fitting_view(ring):
    s, views = ring
    cams = {c.name: c for c in s.rig}                 # the true poses, in the world frame
    board = initial_board_poses(views, cams, s.detections, s.board.object_points)
    seen = np.unique(np.concatenate([v.frames for v in views.values()]))
    np.testing.assert_array_equal(board.frames, seen)
    err = np.linalg.norm(board.t - s.t[board.frames], axis=1)
    assert np.median(err) < 0.005 and np.percentile(err, 95) < 0.01 and err.max() < 0.1


def test_disconnected_cameras_name_both_groups_and_a_link():
    rig = ring_rig(4)
    s = simulate_board_session(rig, n_frames=120, seed=4, n_floor_frames=0)
    across = [(a, b) for a in ("cam_1", "cam_2") for b in ("cam_3", "cam_4")]
    dets = forbid_shared_views(s.detections, across)
    graph = camera_graph(dets)
    with pytest.raises(CameraGraphError,
                       match=r"cameras cam_1 and cam_2 and cameras cam_3 and cam_4 share no "
                             r"board view: film the board where a camera of each group sees it "
                             r"at the same time, e.g. between cam_\d and cam_\d"):
        check_connected(graph, dets)
