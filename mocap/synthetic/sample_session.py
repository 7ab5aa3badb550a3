"""Make the bundled sample session: a 4-camera studio, one person walking then waving.

The session holds what a user records: ChArUco board videos in ``calibration/`` (rendered from
the true cameras, with the board lying on the floor at the world origin for the last frames) and
2D keypoints in ``keypoints2d/``; ``ground_truth/`` holds the true cameras and 3D joints.
Run ``python -m mocap.synthetic.sample_session sample_sessions/studio4`` to (re)make it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from calibration.board import Board, write_board_toml
from calibration.camera import CameraRig
from calibration.io import write_calibration
from exporters.points3d import write_points3d
from mocap.keypoints import Keypoints2D
from mocap.keypoints_io import camera_keypoints, write_camera_keypoints
from mocap.synthetic.board_views import board_trajectory, render_session
from mocap.synthetic.motion import synthetic_motion
from mocap.synthetic.observe import DetectorErrors, observe
from mocap.synthetic.studio import ring_rig

SAMPLE_BOARD = Board.charuco((6, 8), 0.1, 0.075, "DICT_4X4_50")


def sample_rig(n_cameras: int = 4, seed: int = 0) -> CameraRig:
    """720p cameras on a 3.5 m ring, 3 m high: they see a board lying on the floor too."""
    return ring_rig(n_cameras, radius=3.5, height=3.0, size=(1280, 720), hfov_deg=60.0,
                    seed=seed)


def floor_pose(board: Board) -> np.ndarray:
    """(4, 4) board-to-world pose of the board lying face up with its origin at the world
    origin and its x axis along world x (so the board defines exactly the true world frame)."""
    pose = np.eye(4)
    pose[:3, :3] = np.diag([1.0, -1.0, -1.0])                  # board z points into the floor
    return pose


def make_sample_session(folder: Path, *, n_cameras: int = 4, n_frames: int = 240,
                        fps: float = 30.0, noise_px: float = 1.0, board_frames: int = 90,
                        board_videos: bool = True, seed: int = 0) -> Path:
    """Write the session into ``folder``.

    Args:
        board_videos: render ``board_frames`` frames of board video per camera (plus 3 with the
            board on the floor); False writes the true ``calibration/calibration.toml`` instead.
    """
    rig = sample_rig(n_cameras, seed)
    truth = synthetic_motion("coco17", n_frames=n_frames, fps=fps)
    kp = observe(rig, truth, DetectorErrors(noise_px=noise_px), seed=seed)
    kp = Keypoints2D(xy=kp.xy.astype(np.float32).astype(float), score=kp.score.round(3),
                     cameras=kp.cameras, skeleton=kp.skeleton, fps=fps)
    for name in kp.cameras:
        write_camera_keypoints(camera_keypoints(kp, name), folder / "keypoints2d" / f"{name}.npz")
    write_points3d(truth, folder / "ground_truth" / "points3d.npz")
    if board_videos:
        poses = np.concatenate([board_trajectory(board_frames, seed, board=SAMPLE_BOARD,
                                                 half_extent=(1.0, 1.0, 0.45)),
                                np.repeat(floor_pose(SAMPLE_BOARD)[None], 3, axis=0)])
        render_session(rig, SAMPLE_BOARD, len(poses), folder / "calibration", seed=seed,
                       poses=poses, noise=0.5, clutter=False)
        write_board_toml(SAMPLE_BOARD, folder / "calibration" / "board.toml")
        write_calibration(rig, folder / "ground_truth" / "calibration.toml")
    else:
        write_calibration(rig, folder / "calibration" / "calibration.toml")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    make_sample_session(args.folder, seed=args.seed)
    print(f"wrote {args.folder}")


if __name__ == "__main__":
    main()
