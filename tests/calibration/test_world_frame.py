"""World frame: from a board lying on the floor (found or given), from floor points, from the
cameras alone (with a warning); the description travels into calibration.toml."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.camera import CameraRig
from calibration.errors import CalibrationError
from calibration.extrinsics import BoardPoses
from calibration.io import read_calibration, write_calibration
from calibration.rotations import rodrigues_to_matrix
from calibration.world_frame import (
    WorldFrame,
    align_world,
    find_floor_board,
    transform_board_poses,
    world_transform,
)
from mocap.synthetic.board_observations import GridBoard, floor_board_poses, waved_board_poses
from mocap.synthetic.studio import ring_rig

BOARD = GridBoard()
OBJ = BOARD.object_points


def scene(floor: bool = True, seed: int = 0):
    """The true rig and board poses, and both moved into an arbitrary frame (as calibration
    leaves them: the first camera's)."""
    rig = ring_rig(5, seed=seed)
    rng = np.random.default_rng(seed)
    R, t = waved_board_poses(80, rng, board_center=BOARD.center)
    if floor:
        Rf, tf = floor_board_poses(3, origin=(0.0, 0.0, 0.0))
        R, t = np.concatenate([R, Rf]), np.concatenate([t, tf])
    truth = BoardPoses(np.arange(R.shape[0]) * 2, R, t)
    Rm, tm = rodrigues_to_matrix(rng.normal(0, 1.0, 3)), rng.normal(0, 2.0, 3)
    return rig, truth, rig.transformed(Rm, tm), transform_board_poses(truth, Rm, tm)


def assert_same_rig(a: CameraRig, b: CameraRig, atol: float = 1e-9) -> None:
    for ca, cb in zip(a, b):
        np.testing.assert_allclose(ca.R, cb.R, atol=atol)
        np.testing.assert_allclose(ca.t, cb.t, atol=atol)


def test_floor_board_found_automatically_restores_the_world():
    truth_rig, truth_board, rig, board = scene()
    world, description = align_world(rig, board, OBJ)
    assert description.method == "floor_board" and description.chosen == "auto"
    assert description.frame == int(truth_board.frames[80])
    assert list(description.floor_frames) == truth_board.frames[80:].tolist()   # still board
    assert_same_rig(world, truth_rig)
    assert world.extra["metadata"]["world_frame"] == description.to_table()


def test_floor_board_given_by_frame_index():
    truth_rig, truth_board, rig, board = scene()
    frame = int(truth_board.frames[81])
    R, t, description = world_transform(rig, board, OBJ, floor_frame=frame)
    assert description.method == "floor_board" and description.chosen == "given"
    assert description.frame == frame and description.warning is None
    assert_same_rig(rig.transformed(R, t), truth_rig)
    with pytest.raises(CalibrationError, match=r"world frame: frame 3 has no board pose"):
        world_transform(rig, board, OBJ, floor_frame=3)


def test_board_held_flat_above_the_floor_is_not_the_floor():
    truth_rig, truth_board, _, _ = scene(floor=False)
    R, t = truth_board.R.copy(), truth_board.t.copy()
    R[10] = floor_board_poses(1)[0][0]                     # level, but at the waving height
    flat = BoardPoses(truth_board.frames, R, t)
    assert find_floor_board(flat, OBJ, truth_rig) is None
    low = BoardPoses(flat.frames, R, np.where(np.arange(len(t))[:, None] == 10,
                                              t - [0, 0, t[10, 2]], t))
    assert find_floor_board(low, OBJ, truth_rig).index == 10


def test_floor_points_set_up_and_height():
    truth_rig, _, rig, board = scene(floor=False, seed=1)
    rng = np.random.default_rng(3)
    floor = np.c_[rng.uniform(-2, 2, (30, 2)), np.zeros(30)]
    Rm, tm = _motion(truth_rig, rig)
    R, t, description = world_transform(rig, board, OBJ, floor_points=floor @ Rm.T + tm)
    world = rig.transformed(R, t)
    assert description == WorldFrame("floor_points")
    np.testing.assert_allclose(world.centers[:, 2], truth_rig.centers[:, 2], atol=1e-9)
    horizontal = np.linalg.norm(world.centers[:, :2], axis=1)
    np.testing.assert_allclose(horizontal, np.linalg.norm(truth_rig.centers[:, :2]
                                                          - truth_rig.centers[:, :2].mean(0),
                                                          axis=1), atol=1e-9)
    assert world.centers[0, 1] == pytest.approx(0.0, abs=1e-9) and world.centers[0, 0] > 0


def test_without_a_floor_the_cameras_set_up_with_a_warning():
    truth_rig, truth_board, rig, board = scene(floor=False, seed=2)
    world, description = align_world(rig, board, OBJ)
    assert description.method == "cameras"
    assert "film the board lying flat on the floor" in description.warning
    heights = world.centers[:, 2]
    lowest = truth_board.corners(OBJ)[..., 2].min()
    np.testing.assert_allclose(heights, truth_rig.centers[:, 2] - lowest, atol=0.1)
    tilt = np.degrees(np.arccos(_up_of(world, truth_rig)))
    assert tilt < 3.0


def test_description_is_written_to_the_calibration_file(tmp_path):
    _, _, rig, board = scene()
    world, description = align_world(rig, board, OBJ)
    back = read_calibration(write_calibration(world, tmp_path / "calibration.toml"))
    assert back.extra["metadata"]["world_frame"] == description.to_table()
    assert back.names == world.names


def test_description_table_holds_what_the_method_sets_in_a_fixed_order():
    """calibration.toml's [metadata.world_frame] as before the description was typed: the keys
    of its method only, method first, warning last."""
    _, _, rig, board = scene()
    _, floor = align_world(rig, board, OBJ)
    assert list(floor.to_table()) == ["method", "frame", "chosen", "floor_frames",
                                      "cameras_above", "how"]
    assert isinstance(floor.to_table()["floor_frames"], list)
    assert WorldFrame("camera", camera="cam_2").to_table() == {"method": "camera",
                                                                "camera": "cam_2"}
    assert list(WorldFrame("cameras", warning="no floor").to_table()) == ["method", "warning"]


def _motion(truth: CameraRig, moved: CameraRig):
    """(R, t) with x_moved = R x_truth + t, from the first camera's poses."""
    a, b = truth[0], moved[0]
    R = b.R.T @ a.R
    return R, b.center - R @ a.center


def _up_of(world: CameraRig, truth: CameraRig) -> float:
    """Cosine between the world's Z and the true Z, both seen from the first camera."""
    return float(np.clip(world[0].R[:, 2] @ truth[0].R[:, 2], -1.0, 1.0))
