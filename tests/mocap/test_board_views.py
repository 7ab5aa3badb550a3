"""Rendered board views: trajectories, exact ground truth, pixel-exact rendering, videos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from calibration.board import Board
from calibration.camera import Camera
from mocap.synthetic.board_views import (
    BoardTexture,
    board_trajectory,
    render_session,
    render_view,
    true_corners,
)
from mocap.synthetic.studio import look_at, ring_rig

BOARD = Board.charuco((5, 7), 0.08, 0.06, "DICT_4X4_50")


def _front_camera(size=(640, 480), f=600.0, distance=2.0):
    """A camera on -y looking at +y, upright; a board facing it has pose facing_pose()."""
    R, t = look_at(np.array([0.0, -distance, 1.0]), np.array([0.0, 0.0, 1.0]))
    K = np.array([[f, 0, size[0] / 2 - 0.5], [0, f, size[1] / 2 - 0.5], [0, 0, 1]])
    return Camera("front", size, K, np.zeros(5), R, t)


def _facing_pose(board, centre=(0.0, 0.0, 1.0)):
    """Board upright in the x-z plane, its front towards -y (board x = world x, y = -z)."""
    T = np.eye(4)
    T[:3, :3] = np.column_stack([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])
    w, h = board.size_m
    T[:3, 3] = np.asarray(centre) - T[:3, :3] @ [w / 2, h / 2, 0]
    return T


def test_trajectory_is_rigid_inside_the_volume_and_tilted_at_most_60_degrees():
    poses = board_trajectory(200, seed=1, board=BOARD, n_floor=10)
    assert poses.shape == (200, 4, 4)
    R = poses[:, :3, :3]
    np.testing.assert_allclose(R @ R.transpose(0, 2, 1), np.broadcast_to(np.eye(3), R.shape),
                               atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-12)
    centres = poses[:190, :3, 3] + R[:190] @ [0.2, 0.28, 0.0]
    assert (np.abs(centres - [0, 0, 1.1]) <= [0.7 + 1e-9, 0.7 + 1e-9, 0.35 + 1e-9]).all()
    normal_elevation = np.degrees(np.arcsin(np.abs(R[:190, 2, 2])))   # board z vs horizontal
    assert normal_elevation.max() <= 60.0 + 1e-6 and normal_elevation.max() > 25.0
    facing = np.degrees(np.arctan2(-R[:190, 1, 2], -R[:190, 0, 2]))    # azimuth of the front
    assert np.ptp(np.unwrap(np.radians(facing))) > np.radians(300)    # turns all the way round


def test_floor_frames_lie_on_the_floor_face_up():
    poses = board_trajectory(12, seed=2, board=BOARD, n_floor=4)
    world = BOARD.object_points @ poses[-4:, :3, :3].transpose(0, 2, 1) + poses[-4:, None, :3, 3]
    np.testing.assert_allclose(world[..., 2], 0.0, atol=1e-12)
    np.testing.assert_allclose(poses[-4:, :3, 2], np.tile([0, 0, -1.0], (4, 1)), atol=1e-12)


def test_true_corners_project_and_hide_the_back_of_a_one_sided_board():
    camera = _front_camera()
    pose = _facing_pose(BOARD)
    uv = true_corners(camera, BOARD, pose)
    world = BOARD.object_points @ pose[:3, :3].T + pose[:3, 3]
    np.testing.assert_allclose(uv, camera.project(world))
    assert np.isfinite(uv).all()
    assert uv[1, 0] > uv[0, 0] and uv[4, 1] > uv[0, 1]       # board x right, y down on screen
    turned = pose.copy()
    turned[:3, :3] = pose[:3, :3] @ np.diag([-1.0, 1.0, -1.0])   # half turn about board y
    assert np.isnan(true_corners(camera, BOARD, turned)).all()
    two_sided = Board.charuco((5, 7), 0.08, 0.06, "DICT_4X4_50", double_sided=True)
    assert np.isfinite(true_corners(camera, two_sided, turned)).all()


def test_edges_land_exactly_where_the_geometry_puts_them():
    """Each pixel is its area's average: the black-to-white step across a square edge sits at
    the projected edge to a hundredth of a pixel (pixel centres at integer coordinates)."""
    board = Board.checkerboard((4, 4), 0.1)
    camera = _front_camera(size=(400, 300), f=523.7)
    pose = _facing_pose(board, centre=(0.0137, 0.0, 1.0061))
    image = render_view(camera, board, pose, blur=0, noise=0, uneven_light=0,
                        supersample=8).astype(float)
    edge = camera.project(pose[:3, :3] @ [0.1, 0.05, 0.0] + pose[:3, 3])   # board x = 0.1
    row = int(np.rint(edge[1]))
    dark, light = image[row, int(edge[0]) - 8], image[row, int(edge[0]) + 8]
    col = int(np.floor(edge[0] + 0.5))                        # pixel holding the edge
    cover = (image[row, col] - light) / (dark - light)        # dark fraction of that pixel
    assert 0.05 < cover < 0.95
    assert abs((col - 0.5 + cover) - edge[0]) < 0.01


def test_rendered_image_has_camera_size_and_board_texture():
    camera = _front_camera(size=(320, 240), f=300)
    image = render_view(camera, BOARD, _facing_pose(BOARD), rng=np.random.default_rng(0),
                        occlusion=1.0)
    assert image.shape == (240, 320) and image.dtype == np.uint8
    texture = BoardTexture.of(BOARD, px_per_square=32)
    assert texture.image.shape == (7 * 32 + 32, 5 * 32 + 32)
    np.testing.assert_allclose(texture.extent_m(), [-0.04, -0.04, 0.44, 0.60])


def test_render_session_writes_readable_videos(tmp_path):
    rig = ring_rig(2, radius=2.5, size=(320, 240), seed=3)
    poses = render_session(rig, BOARD, 4, tmp_path, seed=1)
    assert poses.shape == (4, 4, 4)
    for camera in rig:
        capture = cv2.VideoCapture(str(tmp_path / f"{camera.name}.mp4"))
        n = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            assert frame.shape[:2] == (240, 320)
            n += 1
        capture.release()
        assert n == 4
    assert not list(tmp_path.glob(".*"))                      # no temporary files left


@pytest.mark.parametrize("seed", [0, 1])
def test_render_is_deterministic_for_a_seed(seed):
    camera = _front_camera(size=(160, 120), f=150)
    a = render_view(camera, BOARD, _facing_pose(BOARD), rng=np.random.default_rng(seed))
    b = render_view(camera, BOARD, _facing_pose(BOARD), rng=np.random.default_rng(seed))
    np.testing.assert_array_equal(a, b)
