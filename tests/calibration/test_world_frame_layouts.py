"""World frame on studio layouts (issue 15, item 1): the floor board is found and measured on
arcs of cameras in front of the volume as well as on rings, without leaning on the cameras'
mean up (biased by 6-16 degrees on arcs whose cameras pitch down); degenerate layouts are
errors, never a silent tilt."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.calibrate import calibrate
from calibration.camera import Camera, CameraRig
from calibration.errors import CalibrationError
from calibration.extrinsics import BoardPoses
from calibration.rotations import rodrigues_to_matrix
from calibration.world_frame import align_world, transform_board_poses, world_transform
from mocap.synthetic.board_observations import GridBoard, floor_board_poses, simulate_board_session
from mocap.synthetic.studio import look_at, studio_rig

BOARD = GridBoard(4, 6, 0.096)                     # 0.29 x 0.48 m, a small desk/studio board
OBJ = BOARD.object_points
LAYOUTS = [(4, 90.0), (4, 120.0), (4, 180.0), (6, 360.0), (8, 360.0)]

# The goal on generated studios, given the floor board is seen.
MAX_UP_DEG = 0.2
MAX_HEIGHT_M = 0.005

# What bundle adjustment leaves on one board pose: on arcs of 4 cameras over 120 degrees
# (calibrate, 150 frames, 0.4 px), the normals of the 5 views of the still floor board scatter
# by 0.03-0.45 degrees and their heights by up to 1.7 mm; these per-pose errors are drawn
# independently for every view, as the bundle estimates every frame's pose on its own.
POSE_NOISE_DEG = 0.10                              # per rotation axis, standard deviation
POSE_NOISE_M = 0.001                               # per coordinate, standard deviation


def studio_scene(n_cameras: int, span_deg: float, seed: int, *, n_floor: int = 10,
                 floor: bool = True):
    """(true rig, true board poses of the frames some camera saw, floor frames, the rig and
    noisy board poses moved into an arbitrary frame, as calibration leaves them)."""
    rig = studio_rig(n_cameras, span_deg=span_deg, seed=seed)
    s = simulate_board_session(rig, board=BOARD, n_frames=200, n_floor_frames=n_floor if floor
                               else 0, seed=seed)
    seen = np.unique(np.concatenate([d.frames for d in s.detections.values()]))
    truth = BoardPoses(seen, s.R[seen], s.t[seen])
    rng = np.random.default_rng(seed + 100)
    wobble = rodrigues_to_matrix(rng.normal(0, np.radians(POSE_NOISE_DEG), (seen.size, 3)))
    noisy = BoardPoses(seen, truth.R @ wobble, truth.t + rng.normal(0, POSE_NOISE_M,
                                                                    truth.t.shape))
    Rm, tm = rodrigues_to_matrix(rng.normal(0, 1.0, 3)), rng.normal(0, 2.0, 3)
    return rig, truth, s.floor_frames, rig.transformed(Rm, tm), transform_board_poses(noisy,
                                                                                      Rm, tm)


def world_errors(world: CameraRig, truth: CameraRig) -> tuple[float, float]:
    """(angle between the world's Z and the true Z in degrees, largest camera height error in
    metres). Z is compared through the rotation that best maps the calibrated cameras'
    orientations onto the true ones (all cameras, so that one camera's own error in a
    calibrated rig does not count as a tilt of the world)."""
    u, _, vt = np.linalg.svd(sum(t.R.T @ w.R for w, t in zip(world, truth)))
    z = (u @ vt)[:, 2]                                   # the world's Z in the true world
    up = np.degrees(np.arctan2(np.hypot(z[0], z[1]), z[2]))
    return float(up), float(np.abs(world.centers[:, 2] - truth.centers[:, 2]).max())


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n_cameras, span_deg", LAYOUTS)
def test_floor_board_found_and_measured_on_arcs_and_rings(n_cameras, span_deg, seed):
    truth_rig, _, floor_frames, rig, board = studio_scene(n_cameras, span_deg, seed)
    world, description = align_world(rig, board, OBJ)
    assert description.method == "floor_board"
    assert description.frame in floor_frames
    assert set(description.floor_frames) == set(floor_frames)
    up, height = world_errors(world, truth_rig)
    assert up < MAX_UP_DEG and height < MAX_HEIGHT_M


def test_description_says_how_the_floor_was_chosen():
    _, _, floor_frames, rig, board = studio_scene(4, 120.0, 0)
    _, _, description = world_transform(rig, board, OBJ)
    assert description.chosen == "auto"
    assert description.cameras_above == 4
    assert "lowest" in description.how and "cameras' up" in description.how
    _, _, given = world_transform(rig, board, OBJ, floor_frame=int(floor_frames[3]))
    assert given.chosen == "given" and given.frame == floor_frames[3]


def test_a_given_floor_frame_with_cameras_below_its_plane_is_warned():
    """A waved (upright) view given as the floor on a ring: cameras on both sides of it."""
    truth_rig, truth, _, rig, board = studio_scene(6, 360.0, 0)
    side = np.sign((truth_rig.centers - truth.t[0]) @ truth.R[0, :, 2])
    assert set(side) == {-1.0, 1.0}                         # the view has cameras both sides
    _, _, description = world_transform(rig, board, OBJ, floor_frame=int(board.frames[0]))
    assert description.cameras_above < 6
    assert "are below the plane of the board" in description.warning


def test_board_tilted_low_at_the_back_of_the_volume_is_not_the_floor():
    """A single view of the board tilted 30 degrees up towards the cameras, its lower edge on the
    floor at the far side of an arc: every camera and every other board view lies on its front
    side, as for the floor; the floor's 10 still views and its level outrank it."""
    truth_rig, truth, floor_frames, _, _ = studio_scene(4, 120.0, 1)
    lean = rodrigues_to_matrix(np.array([0.0, np.radians(30.0), 0.0]))
    R_back = lean @ floor_board_poses(1)[0][0]
    t_back = np.array([-2.5, 0.0, 0.0]) - R_back @ OBJ.min(axis=0)
    extra = BoardPoses(np.r_[truth.frames, 999], np.r_[truth.R, R_back[None]],
                       np.r_[truth.t, t_back[None]])
    corners = extra.corners(OBJ)
    normal = -R_back[:, 2]
    assert (corners[:-1] @ normal >= corners[-1] @ normal).all()   # truly the lowest plane
    world, description = align_world(truth_rig, extra, OBJ)
    assert description.frame in floor_frames
    assert world_errors(world, truth_rig)[0] < 1e-6


def test_without_a_floor_an_arc_takes_up_from_the_cameras_level_horizons():
    """The generated cameras have level horizons (no roll), so up from them is exact; the mean
    image up of this arc is 14 degrees off."""
    truth_rig, _, _, rig, board = studio_scene(4, 120.0, 0, floor=False)
    world, description = align_world(rig, board, OBJ)
    assert description.method == "cameras"
    assert "level horizons" in description.warning
    assert world_errors(world, truth_rig)[0] < 1e-6


def test_cameras_whose_up_directions_cancel_give_an_error_without_a_floor():
    """Two cameras side by side looking the same way, one mounted upside down: neither their
    image up nor their horizons say where up is. Without a floor that is an error; a floor
    board is still found, with a warning that nothing confirms it."""
    cams = []
    for i, roll in enumerate([0.0, np.pi]):
        R, _ = look_at(np.array([3.0, 0.5 * i, 2.0]), np.array([0.0, 0.5 * i, 1.0]))
        R = rodrigues_to_matrix(np.array([0.0, 0.0, roll])) @ R
        cams.append(Camera(f"cam_{i + 1}", (1280, 720), np.diag([900.0, 900.0, 1.0]),
                           np.zeros(5), R, -R @ np.array([3.0, 0.5 * i, 2.0])))
    rig = CameraRig(tuple(cams))
    _, truth, floor_frames, _, _ = studio_scene(4, 120.0, 0)
    with pytest.raises(CalibrationError, match=r"cameras' up directions .*cancel"):
        world_transform(rig, truth, OBJ, floor_frame=None)
    _, _, description = world_transform(rig, truth, OBJ)      # a floor board, but unconfirmed
    assert description.frame in floor_frames
    assert "nothing confirms" in description.warning


def test_floor_points_on_one_line_are_an_error():
    truth_rig, truth, _, _, _ = studio_scene(4, 120.0, 0)
    line = np.c_[np.linspace(-1, 1, 10), np.zeros(10), np.zeros(10)]
    with pytest.raises(CalibrationError, match=r"floor points lie on one line"):
        world_transform(truth_rig, truth, OBJ, floor_points=line)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_calibrated_arc_takes_its_world_frame_from_the_floor_board(seed):
    """End to end: 4 cameras over 120 degrees, 300 waved frames, then the board lying still on
    the floor for 10 frames; the issue's goal on up and heights. 300 frames, as the goal needs
    a rig whose own centres are good to a few mm: with 150 frames of this small board the
    calibrated centres alone are up to 19 mm off (seed 0), and the heights with them.
    Measured: up 0.030, 0.042, 0.056 degrees, heights within 3.8, 3.9, 2.7 mm."""
    truth = studio_rig(4, span_deg=120.0, seed=seed)
    s = simulate_board_session(truth, board=BOARD, n_frames=300, n_floor_frames=10, seed=seed)
    result = calibrate(s.detections, BOARD)
    description = result.report.world_frame
    assert description.method == "floor_board" and description.frame in s.floor_frames
    assert set(description.floor_frames) <= set(s.floor_frames)
    up, height = world_errors(result.rig, truth)
    assert up < MAX_UP_DEG and height < MAX_HEIGHT_M
