"""Synthetic board corner observations: a planar grid waved through a studio, seen by its cameras.

No images are rendered: the board's corners are projected into every camera of a rig, with the
things a real detector gives a solver to cope with: pixel noise, corners outside the image,
board faces turned away, partial views (a hand over the board), missed frames and occasional
outlier corners. The result is one :class:`~calibration.detections.BoardDetections` per camera,
exactly what corner detection on real footage produces, plus the ground truth.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter1d

from calibration.camera import Camera, CameraRig
from calibration.detections import BoardDetections
from calibration.rotations import rodrigues_to_matrix

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class GridBoard:
    """A flat grid of ``columns`` x ``rows`` corners, ``square_size`` metres apart (z = 0).

    Corner ``k`` sits at column ``k % columns`` and row ``k // columns`` (x along columns).
    """

    columns: int = 9
    rows: int = 6
    square_size: float = 0.09

    @property
    def object_points(self) -> FloatArray:
        """(K, 3) corner positions in the board frame, metres, z = 0."""
        col, row = np.meshgrid(np.arange(self.columns), np.arange(self.rows))
        xy = np.stack([col.ravel(), row.ravel()], axis=-1) * self.square_size
        return np.hstack([xy, np.zeros((xy.shape[0], 1))])

    @property
    def n_corners(self) -> int:
        return self.columns * self.rows

    @property
    def center(self) -> FloatArray:
        """(3,) the middle of the grid in the board frame."""
        return self.object_points.mean(axis=0)


@dataclass(frozen=True)
class BoardSession:
    """Ground truth and observations of one synthetic board session.

    Attributes:
        rig: the true cameras (Z-up world, metres).
        board: the board whose corners were observed.
        R: (F, 3, 3) board-to-world rotations, ``x_world = R @ x_board + t``.
        t: (F, 3) board-to-world translations in metres.
        detections: per camera name, the corners it saw (frames where it saw >= min_corners).
        floor_frames: (G,) frames in which the board lies flat on the floor (z = 0).
    """

    rig: CameraRig
    board: GridBoard
    R: FloatArray
    t: FloatArray
    detections: dict[str, BoardDetections]
    floor_frames: NDArray[np.int64]

    def world_corners(self) -> FloatArray:
        """(F, K, 3) true corner positions in the world frame."""
        return np.einsum("fij,kj->fki", self.R, self.board.object_points) + self.t[:, None]


def waved_board_poses(n_frames: int, rng: np.random.Generator, *,
                      center: Iterable[float] = (0.0, 0.0, 1.1),
                      extent: Iterable[float] = (2.0, 2.0, 0.6), max_tilt_deg: float = 45.0,
                      board_center: FloatArray | None = None,
                      smoothness: float = 3.0) -> tuple[FloatArray, FloatArray]:
    """A board waved through the volume while its holder turns around: smooth random motion.

    The board's front (the side whose corners a camera detects, facing ``-z`` of the board
    frame) sweeps every azimuth several times and tilts up to ``max_tilt_deg`` off vertical.

    Args:
        n_frames: F.
        rng: seeded generator.
        center: (3,) middle of the volume the board's centre moves in, metres.
        extent: (3,) half-widths of that volume along x, y, z.
        board_center: (3,) the board's centre in its own frame (default: origin).
        smoothness: Gaussian smoothing in frames of the random motion.
    Returns:
        R (F, 3, 3), t (F, 3): board-to-world poses.
    """
    def smooth(shape: tuple[int, ...]) -> FloatArray:
        x = gaussian_filter1d(rng.standard_normal(shape), smoothness, axis=0, mode="wrap")
        return x / np.maximum(np.abs(x).max(axis=0), 1e-12)            # in [-1, 1]

    pos = np.asarray(center, float) + smooth((n_frames, 3)) * np.asarray(extent, float)
    turns = rng.uniform(2.0, 3.0)
    azimuth = np.linspace(0, 2 * np.pi * turns, n_frames) + 0.6 * smooth((n_frames,))
    tilt = np.radians(max_tilt_deg) * smooth((n_frames,))               # normal above/below horizon
    roll = np.radians(35.0) * smooth((n_frames,))
    normal = np.stack([np.cos(azimuth) * np.cos(tilt), np.sin(azimuth) * np.cos(tilt),
                       np.sin(tilt)], axis=-1)                          # (F, 3) front direction
    R = _frames_from_normal(normal, roll)
    offset = np.zeros(3) if board_center is None else np.asarray(board_center, float)
    return R, pos - np.einsum("fij,j->fi", R, offset)


def floor_board_poses(n_frames: int, *, origin: Iterable[float] = (0.0, 0.0, 0.0),
                      yaw_deg: float = 0.0) -> tuple[FloatArray, FloatArray]:
    """The board lying still on the floor, face up, its origin at ``origin``, its x axis at
    ``yaw_deg`` from world x. With yaw 0 the board frame is the world frame turned 180 degrees
    about x (board z points down into the floor, board y along world -y).

    Returns:
        R (F, 3, 3), t (F, 3): board-to-world poses.
    """
    yaw = np.radians(yaw_deg)
    Rz = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    R = Rz @ np.diag([1.0, -1.0, -1.0])
    return np.repeat(R[None], n_frames, 0), np.repeat(np.asarray(origin, float)[None], n_frames, 0)


def handheld_board_poses(camera: Camera, board: GridBoard, n_frames: int,
                         rng: np.random.Generator, *, distance: tuple[float, float] = (0.8, 2.0),
                         max_tilt_deg: float = 50.0) -> tuple[FloatArray, FloatArray]:
    """The board held in front of one camera, as when filming for intrinsics: its centre on the
    ray through a random pixel, ``distance`` metres away, facing the camera within
    ``max_tilt_deg`` and turned in-plane at random.

    Returns:
        R (F, 3, 3), t (F, 3): board-to-world poses.
    """
    w, h = camera.size
    pixels = np.stack([rng.uniform(0.1, 0.9, n_frames) * w, rng.uniform(0.1, 0.9, n_frames) * h,
                       np.ones(n_frames)], axis=-1)                              # (F, 3)
    rays = pixels @ np.linalg.inv(camera.K).T
    centre = rays / np.linalg.norm(rays, axis=1, keepdims=True) * rng.uniform(*distance,
                                                                              (n_frames, 1))
    axis = rng.normal(size=(n_frames, 3))
    axis -= np.einsum("fi,fi->f", axis, rays)[:, None] * rays / np.einsum(
        "fi,fi->f", rays, rays)[:, None]
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    tilt = rodrigues_to_matrix(axis * np.radians(rng.uniform(0, max_tilt_deg, (n_frames, 1))))
    spin = rodrigues_to_matrix(np.outer(rng.uniform(-np.pi, np.pi, n_frames), [0, 0, 1.0]))
    facing = np.stack([look_along(r) for r in rays])                         # board z = ray
    R_cam = tilt @ facing @ spin                                              # board to camera
    t_cam = centre - np.einsum("fij,j->fi", R_cam, board.center)
    R = np.einsum("ji,fjk->fik", camera.R, R_cam)                             # board to world
    t = (t_cam - camera.t) @ camera.R
    return R, t


def look_along(direction: FloatArray) -> FloatArray:
    """(3, 3) rotation whose z column is ``direction`` (normalised) and x column horizontal in
    the frame the direction is given in (x, y plane = z = 0... any perpendicular if vertical)."""
    z = np.asarray(direction, float) / np.linalg.norm(direction)
    x = np.cross([0.0, 1.0, 0.0], z)
    if np.linalg.norm(x) < 1e-9:
        x = np.array([1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z], axis=1)


def observe_board(rig: CameraRig, board: GridBoard, R: FloatArray, t: FloatArray,
                  rng: np.random.Generator, *, noise_px: float = 0.4,
                  max_view_angle_deg: float = 75.0, p_miss: float = 0.05,
                  p_partial: float = 0.2, p_outlier: float = 0.002,
                  outlier_px: tuple[float, float] = (5.0, 30.0),
                  min_corners: int = 6) -> dict[str, BoardDetections]:
    """Project the board's corners into every camera, then spoil them like a real detector.

    Args:
        rig: C cameras.
        board: K corners.
        R: (F, 3, 3), t: (F, 3) board-to-world poses.
        noise_px: standard deviation of the Gaussian noise per coordinate, pixels.
        max_view_angle_deg: a camera farther than this from the board's front normal sees
            nothing (the board is turned away or seen too obliquely).
        p_miss: chance that a view is lost entirely (motion blur, detector failure).
        p_partial: chance that part of the board is hidden (a straight cut across it).
        p_outlier: chance per corner of a wrong detection, ``outlier_px`` pixels off.
        min_corners: views with fewer corners are not reported, as a detector would not.
    Returns:
        per camera name, its BoardDetections (only the frames where it saw the board).
    """
    corners = np.einsum("fij,kj->fki", R, board.object_points) + t[:, None]      # (F, K, 3)
    n_frames, n_corners = corners.shape[:2]
    front = -R[:, :, 2]                                                            # (F, 3)
    mid = corners.mean(axis=1)                                                     # (F, 3)
    local = board.object_points[:, :2] - board.object_points[:, :2].mean(0)        # (K, 2)
    out = {}
    for cam in rig:
        uv = cam.project(corners)                                                  # (F, K, 2)
        to_cam = cam.center - mid
        cos_view = np.einsum("fi,fi->f", front, to_cam) / np.linalg.norm(to_cam, axis=1)
        seen = cam.in_image(uv) & (cos_view > np.cos(np.radians(max_view_angle_deg)))[:, None]
        seen &= (rng.random(n_frames) >= p_miss)[:, None]
        seen &= ~_partial_mask(local, n_frames, p_partial, rng)
        uv = uv + rng.normal(0.0, noise_px, uv.shape)
        bad = rng.random((n_frames, n_corners)) < p_outlier
        angle = rng.uniform(0, 2 * np.pi, bad.sum())
        uv[bad] += rng.uniform(*outlier_px, bad.sum())[:, None] * np.stack(
            [np.cos(angle), np.sin(angle)], -1)
        uv[~seen] = np.nan
        keep = seen.sum(axis=1) >= min_corners
        out[cam.name] = BoardDetections(cam.name, cam.size, np.flatnonzero(keep), uv[keep],
                                        n_frames)
    return out


def simulate_board_session(rig: CameraRig, *, board: GridBoard | None = None,
                           n_frames: int = 300, n_floor_frames: int = 5, seed: int = 0,
                           noise_px: float = 0.4, extent: Iterable[float] = (2.0, 2.0, 0.6),
                           **observe_kwargs: float) -> BoardSession:
    """A whole calibration session: the board waved through the volume of ``rig`` (its centre
    within ``extent`` metres of (0, 0, 1.1) along x, y, z; see :func:`waved_board_poses`), then
    laid on the floor at the world origin (x along world x) for the last ``n_floor_frames``
    frames.

    Returns:
        BoardSession with the truth and the per-camera detections.
    """
    board = GridBoard() if board is None else board
    rng = np.random.default_rng(seed)
    R, t = waved_board_poses(n_frames, rng, extent=extent, board_center=board.center)
    Rf, tf = floor_board_poses(n_floor_frames)
    R, t = np.concatenate([R, Rf]), np.concatenate([t, tf])
    detections = observe_board(rig, board, R, t, rng, noise_px=noise_px, **observe_kwargs)
    floor = np.arange(n_frames, n_frames + n_floor_frames)
    return BoardSession(rig, board, R, t, detections, floor)


def forbid_shared_views(detections: dict[str, BoardDetections],
                        pairs: Iterable[tuple[str, str]]) -> dict[str, BoardDetections]:
    """Remove views so that no listed pair of cameras ever sees the board in the same frame.

    In a frame both cameras of a pair saw, the view with fewer corners is dropped (the second
    camera's on a tie).

    Returns:
        new per-camera detections; the other cameras are untouched.
    """
    dets = dict(detections)
    for a, b in pairs:
        da, db = dets[a], dets[b]
        _, ia, ib = np.intersect1d(da.frames, db.frames, return_indices=True)
        drop_a = da.n_corners[ia] < db.n_corners[ib]
        keep_a = np.ones(da.frames.size, bool)
        keep_b = np.ones(db.frames.size, bool)
        keep_a[ia[drop_a]] = False
        keep_b[ib[~drop_a]] = False
        dets[a], dets[b] = da.select(keep_a), db.select(keep_b)
    return dets


def _frames_from_normal(normal: FloatArray, roll: FloatArray) -> FloatArray:
    """(F, 3) front normals and (F,) in-plane roll angles to (F, 3, 3) board-to-world rotations
    whose z axis is ``-normal`` and whose x axis is horizontal before the roll."""
    z = -normal
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = np.cross(z, x)
    base = np.stack([x, y, z], axis=-1)                                   # columns: board axes
    spin = rodrigues_to_matrix(roll[:, None] * np.array([0.0, 0.0, 1.0]))
    return base @ spin


def _partial_mask(local: FloatArray, n_frames: int, p_partial: float,
                  rng: np.random.Generator) -> NDArray[np.bool_]:
    """(F, K) True where a straight occluder across the board hides a corner."""
    hit = rng.random(n_frames) < p_partial
    angle = rng.uniform(0, 2 * np.pi, n_frames)
    direction = np.stack([np.cos(angle), np.sin(angle)], -1)             # (F, 2)
    reach = np.abs(local).max() * rng.uniform(-0.3, 0.8, n_frames)       # cut position
    return hit[:, None] & (local @ direction.T > reach).T
