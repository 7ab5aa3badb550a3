"""A board waved past rolling-shutter cameras: each image row is exposed at its own time and
each camera's frames start late by its own latency, so a moving board is seen sheared and at
slightly different instants (the ground truth for ``calibration.rolling_shutter`` and
``calibration.frame_shift``)."""

from __future__ import annotations

import numpy as np

from calibration.camera import CameraRig
from calibration.detections import BoardDetections
from mocap.synthetic.board_observations import GridBoard


def board_pose(t: np.ndarray, board: GridBoard) -> tuple[np.ndarray, np.ndarray]:
    """(..., 3, 3), (..., 3): the board turning about the vertical (its front sweeping every
    camera) while its centre swings about 2 m/s through the volume, at times t (seconds)."""
    azimuth = 1.6 * t + 0.3 * np.sin(1.3 * t)
    tilt = 0.3 * np.sin(0.9 * t)
    normal = np.stack([np.cos(azimuth) * np.cos(tilt), np.sin(azimuth) * np.cos(tilt),
                       np.sin(tilt)], axis=-1)                                # front, world
    z = -normal                                                  # the board's z faces away
    x = np.cross(np.array([0.0, 0.0, 1.0]), z)
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    R = np.stack([x, np.cross(z, x), z], axis=-1)                              # columns
    center = np.stack([0.6 * np.sin(3.1 * t), 0.6 * np.cos(2.7 * t),
                       1.0 + 0.3 * np.sin(3.9 * t)], axis=-1)
    mid = board.object_points.mean(0)
    return R, center - np.einsum("...ij,j->...i", R, mid)


def film_board(rig: CameraRig, board: GridBoard, latency: dict[str, float],
               readout: dict[str, float], n_frames: int, *, fps: float = 30.0, seed: int = 0
               ) -> tuple[dict[str, BoardDetections], dict[str, np.ndarray]]:
    """Each camera's corners where the board was when each row was exposed.

    Frame f of camera c is stamped f / fps (plus 2 ms jitter) but starts latency[c] seconds
    later, and image row y is exposed readout[c] * y / height after that. Corners get 0.1 px
    noise; a camera keeps the frames where it sees 8 or more corners of the board's front.

    Returns:
        (per camera its BoardDetections, per camera (n_frames,) timestamps in seconds).
    """
    rng = np.random.default_rng(seed)
    obj = board.object_points
    detections, times = {}, {}
    for cam in rig:
        height = cam.size[1]
        stamps = np.arange(n_frames) / fps + rng.normal(0, 0.002, n_frames)     # (F,)
        start = (stamps + latency[cam.name])[:, None]                             # (F, 1)
        row = np.full((n_frames, obj.shape[0]), height / 2)
        for _ in range(4):                                      # the row a corner lands in
            R, t = board_pose(start + readout[cam.name] * row / height, board)    # (F, K, ...)
            uv = cam.project(np.einsum("fkij,kj->fki", R, obj) + t)
            row = np.nan_to_num(uv[..., 1], nan=height / 2)
        R0, _ = board_pose(stamps, board)
        facing = np.einsum("fi,i->f", -R0[:, :, 2], cam.center - np.array([0, 0, 1.0]))
        seen = cam.in_image(uv) & (facing > 0.4 * np.linalg.norm(cam.center))[:, None]
        uv = np.where(seen[..., None], uv + rng.normal(0, 0.1, uv.shape), np.nan)
        keep = seen.sum(1) >= 8
        detections[cam.name] = BoardDetections(cam.name, cam.size, np.flatnonzero(keep),
                                               uv[keep], n_frames)
        times[cam.name] = stamps
    return detections, times
