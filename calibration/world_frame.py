"""The world frame of a calibrated rig: Z up, origin on the floor, metres (the board's scale).

Three ways, best first:
1. A frame in which the board lies on the floor (found automatically, or given by its index): the
   board's plane is z = 0, its origin the world origin, its x axis the world x axis, and Z points
   up towards the cameras.
2. A plane fitted to 3D points on the floor: Z is its normal towards the cameras, the origin lies
   below the cameras' centre, x points towards the first camera.
3. No floor at all: Z is the cameras' average "up" (minus their image y axis), the origin lies
   below the cameras' centre at the height of the lowest board corner, x points towards the
   first camera; the description carries a warning.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from calibration.camera import CameraRig
from calibration.errors import CalibrationError
from calibration.extrinsics import BoardPoses

FloatArray = NDArray[np.float64]

FLOOR_MAX_TILT_DEG = 15.0       # a floor board's normal is this close to the cameras' up
FLOOR_HEIGHT_TOLERANCE = 0.05   # and its corners within this of the lowest board corners, m
_NO_FLOOR = ("no board view lying on the floor was found, so Z up is the cameras' average up "
             "direction and the origin lies below their centre at the lowest board corner; "
             "to set the floor, film the board lying flat on the floor where 2 or more cameras "
             "see it")


def align_world(rig: CameraRig, board: BoardPoses, object_points: FloatArray, *,
                floor_frame: int | str | None = "auto", floor_points: FloatArray | None = None,
                weights: FloatArray | None = None) -> tuple[CameraRig, dict[str, Any]]:
    """Move ``rig`` into the world frame; see :func:`world_transform` for the arguments.

    Returns:
        (the rig in the new frame, its description), the description also stored in
        ``rig.extra["metadata"]["world_frame"]`` so that it is written to calibration.toml.
    """
    R, t, description = world_transform(rig, board, object_points, floor_frame=floor_frame,
                                        floor_points=floor_points, weights=weights)
    moved = rig.transformed(R, t)
    metadata = dict(moved.extra.get("metadata", {}))
    metadata["world_frame"] = description
    return CameraRig(moved.cameras, {**moved.extra, "metadata": metadata}), description


def transform_board_poses(board: BoardPoses, R: FloatArray, t: FloatArray) -> BoardPoses:
    """Board poses in a new world frame where ``x_new = R @ x_old + t``."""
    return BoardPoses(board.frames, np.einsum("ij,fjk->fik", R, board.R), board.t @ R.T + t)


def world_transform(rig: CameraRig, board: BoardPoses, object_points: FloatArray, *,
                    floor_frame: int | str | None = "auto",
                    floor_points: FloatArray | None = None,
                    weights: FloatArray | None = None
                    ) -> tuple[FloatArray, FloatArray, dict[str, Any]]:
    """The rigid motion (R (3, 3), t (3,)) with ``x_world = R @ x_current + t``.

    Args:
        rig: posed cameras (their current frame, e.g. the first camera's).
        board: F board poses in the same frame.
        object_points: (K, 3) board corners, z = 0.
        floor_frame: "auto" (look for a board lying on the floor), a frame index (that board
            view lies on the floor), or None (do not use board views).
        floor_points: (N, 3) points on the floor; takes precedence over ``floor_frame``.
        weights: (F,) how well each board pose is known (e.g. corners observed); ties of the
            automatic choice go to the best known.
    Returns:
        R, t and a description {"method", "frame" (where used), "warning" (where any)}.
    Raises:
        CalibrationError: a given floor frame is not among the board poses, or too few floor
            points.
    """
    up = _camera_up(rig)
    if floor_points is not None:
        return (*_from_floor_points(rig, np.asarray(floor_points, float), up),
                {"method": "floor_points"})
    if isinstance(floor_frame, (int, np.integer)):
        hits = np.flatnonzero(board.frames == floor_frame)
        if hits.size == 0:
            raise CalibrationError(f"world frame: frame {floor_frame} has no board pose (the "
                                   f"board was not seen there by a calibrated camera); pick one "
                                   f"of frames {board.frames[0]}..{board.frames[-1]} where the "
                                   f"board lies on the floor")
        return (*_from_board(board, int(hits[0]), rig, up),
                {"method": "floor_board", "frame": int(floor_frame)})
    if floor_frame == "auto":
        index = find_floor_board(board, object_points, up, weights)
        if index is not None:
            return (*_from_board(board, index, rig, up),
                    {"method": "floor_board", "frame": int(board.frames[index])})
    elif floor_frame is not None:
        raise CalibrationError(f"world frame: floor_frame must be 'auto', a frame index or "
                               f"None, got {floor_frame!r}")
    return (*_from_cameras(rig, board, object_points, up),
            {"method": "cameras", "warning": _NO_FLOOR})


def find_floor_board(board: BoardPoses, object_points: FloatArray, up: FloatArray,
                     weights: FloatArray | None = None) -> int | None:
    """Index of the board pose that lies on the floor, or None.

    A floor board's normal is within FLOOR_MAX_TILT_DEG of ``up`` and its corners are within
    FLOOR_HEIGHT_TOLERANCE of the lowest board corners of the whole session (a board held flat at
    waist height is not the floor). Among several, the best known (``weights``), then the lowest.
    """
    heights = board.corners(object_points) @ up                           # (F, K)
    level = np.abs(board.R[:, :, 2] @ up) >= np.cos(np.radians(FLOOR_MAX_TILT_DEG))
    lowest = np.percentile(heights, 1)
    low = heights.max(axis=1) <= lowest + FLOOR_HEIGHT_TOLERANCE
    candidates = np.flatnonzero(level & low)
    if candidates.size == 0:
        return None
    w = np.ones(board.frames.size) if weights is None else np.asarray(weights, float)
    order = np.lexsort((heights[candidates].mean(axis=1), -w[candidates]))
    return int(candidates[order[0]])


def _camera_up(rig: CameraRig) -> FloatArray:
    """(3,) unit mean of the cameras' up directions (minus the image y axis) in the rig frame."""
    up = -np.stack([c.R[1] for c in rig]).sum(axis=0)
    return up / np.linalg.norm(up)


def _from_board(board: BoardPoses, index: int, rig: CameraRig,
                up: FloatArray) -> tuple[FloatArray, FloatArray]:
    """World = the board's frame, turned 180 degrees about x if its z points down."""
    axes = board.R[index].copy()                                          # columns x, y, z
    above = rig.centers.mean(axis=0) - board.t[index]
    if axes[:, 2] @ above < 0:
        axes[:, 1:] *= -1
    return axes.T, -axes.T @ board.t[index]


def _from_floor_points(rig: CameraRig, points: FloatArray, up: FloatArray
                       ) -> tuple[FloatArray, FloatArray]:
    points = points[np.isfinite(points).all(axis=1)]
    if points.shape[0] < 3:
        raise CalibrationError(f"world frame: {points.shape[0]} floor points given, a plane "
                               f"needs at least 3 that are not on one line")
    center = points.mean(axis=0)
    normal = np.linalg.svd(points - center)[2][-1]
    if normal @ (rig.centers.mean(axis=0) - center) < 0:
        normal = -normal
    return _frame_below_cameras(rig, normal, center)


def _from_cameras(rig: CameraRig, board: BoardPoses, object_points: FloatArray,
                  up: FloatArray) -> tuple[FloatArray, FloatArray]:
    lowest = board.corners(object_points).reshape(-1, 3)
    return _frame_below_cameras(rig, up, lowest[np.argmin(lowest @ up)])


def _frame_below_cameras(rig: CameraRig, up: FloatArray, on_floor: FloatArray
                         ) -> tuple[FloatArray, FloatArray]:
    """Z = ``up``, origin below the cameras' centre in the plane through ``on_floor``, x towards
    the first camera (or any horizontal direction if it sits right above the origin)."""
    middle = rig.centers.mean(axis=0)
    origin = middle - ((middle - on_floor) @ up) * up
    x = rig.centers[0] - origin
    x -= (x @ up) * up
    if np.linalg.norm(x) < 1e-9:
        x = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
    x /= np.linalg.norm(x)
    axes = np.stack([x, np.cross(up, x), up], axis=1)
    return axes.T, -axes.T @ origin
