"""The world frame of a calibrated rig: Z up, origin on the floor, metres (the board's scale).

Three ways, best first:
1. A board lying on the floor (found automatically, or given by its frame): the floor is the
   plane of that view and of every other view lying in the same plane (a still board, or the
   board laid at several places), Z its normal towards the cameras, the origin and x axis the
   chosen view's.
2. A plane fitted to 3D points on the floor: Z is its normal towards the cameras, the origin lies
   below the cameras' centre, x points towards the first camera.
3. No floor at all: Z is the cameras' up (see :func:`cameras_up`), the origin lies below the
   cameras' centre at the height of the lowest board corner, x points towards the first camera;
   the description carries a warning.

The floor board is found from the geometry of the session, not from the cameras' up, which is
biased by the cameras' pitch when they do not surround the volume (an arc in front of it): the
floor is the plane of a board view that has every camera above it and (almost) every board
corner of the session on or above it, seen in the most views, then the most level.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import ConvexHull, QhullError

from calibration.camera import CameraRig
from calibration.errors import CalibrationError
from calibration.extrinsics import BoardPoses

FloatArray = NDArray[np.float64]

FLOOR_MAX_TILT_DEG = 45.0       # a floor's normal is within this of the cameras' up (a sanity gate)
FLOOR_HEIGHT_TOLERANCE = 0.05   # board corners may dip this far below the floor, m
FLOOR_MAX_BELOW = 0.02          # fraction of board views that may dip further (bad poses)
SAME_PLANE_DEG = 2.0            # views in the floor's plane: normals within this, degrees
SAME_PLANE_M = 0.02             # and every corner within this of the plane, m
CAMERA_UP_MIN_AGREEMENT = 0.5   # |mean image up| per camera below this: the cameras' ups cancel
FLOOR_POINTS_MIN_SPREAD = 0.02  # floor points this narrow across their length lie on a line
HORIZON_MIN_SPREAD = 0.05       # horizons must span a plane: 2nd eigenvalue per camera
HORIZON_MAX_ROLL = np.sin(np.radians(10.0)) ** 2   # and agree on it: 1st eigenvalue per camera
HORIZON_MAX_DEG = 60.0          # horizon up this close to the mean image up (same hemisphere)
_NO_FLOOR = ("no board view lying on the floor was found, so Z up is the cameras' up ({how}) "
             "and the origin lies below their centre at the lowest board corner; to set the "
             "floor, film the board lying flat on the floor where 2 or more cameras see it")


@dataclass(frozen=True)
class WorldFrame:
    """How the world frame was set (calibration.toml's ``[metadata.world_frame]``, the report).

    Attributes:
        method: "floor_board" (a board lying on the floor), "floor_points" (a plane through
            given points), "cameras" (no floor: the cameras' up) or "camera" (a camera's own
            frame).
        camera: for "camera", whose frame.
        frame: for "floor_board", the chosen view's frame (its origin and x axis are the
            world's).
        chosen: for "floor_board", "auto" (found) or "given".
        floor_frames: for "floor_board", the views the floor plane was fitted to.
        cameras_above: for "floor_board", how many cameras lie above the floor.
        how: for "floor_board", a sentence on how the floor was chosen.
        warning: a doubt about the world frame, or None.
    """

    method: str
    camera: str | None = None
    frame: int | None = None
    chosen: str | None = None
    floor_frames: tuple[int, ...] | None = None
    cameras_above: int | None = None
    how: str | None = None
    warning: str | None = None

    def to_table(self) -> dict[str, Any]:
        """The fields that are set, as TOML values, in the order above."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()
                if v is not None}


@dataclass(frozen=True)
class CamerasUp:
    """The cameras' idea of up in the rig frame.

    Attributes:
        up: (3,) unit vector, or None where the cameras' up directions cancel.
        how: "level horizons" (normal of the cameras' image x axes, unbiased by their pitch)
            or "mean image up" (mean of minus their image y axes).
    """

    up: FloatArray | None
    how: str


@dataclass(frozen=True)
class FloorBoard:
    """A board view found lying on the floor.

    Attributes:
        index: the chosen view (its origin and x axis become the world's).
        views: (M,) indices of every view lying in the same plane, the chosen one included.
        tilt_deg: angle between the floor's normal and the cameras' up (NaN if they have none).
    """

    index: int
    views: NDArray[np.int64]
    tilt_deg: float


def align_world(rig: CameraRig, board: BoardPoses, object_points: FloatArray, *,
                floor_frame: int | str | None = "auto", floor_points: FloatArray | None = None,
                weights: FloatArray | None = None) -> tuple[CameraRig, WorldFrame]:
    """Move ``rig`` into the world frame; see :func:`world_transform` for the arguments.

    Returns:
        (the rig in the new frame, its description), the description also stored (as its
        ``to_table()``) in ``rig.extra["metadata"]["world_frame"]`` so that it is written to
        calibration.toml.
    """
    R, t, description = world_transform(rig, board, object_points, floor_frame=floor_frame,
                                        floor_points=floor_points, weights=weights)
    moved = rig.transformed(R, t)
    metadata = dict(moved.extra.get("metadata", {}))
    metadata["world_frame"] = description.to_table()
    return CameraRig(moved.cameras, {**moved.extra, "metadata": metadata}), description


def transform_board_poses(board: BoardPoses, R: FloatArray, t: FloatArray) -> BoardPoses:
    """Board poses in a new world frame where ``x_new = R @ x_old + t``."""
    return BoardPoses(board.frames, np.einsum("ij,fjk->fik", R, board.R), board.t @ R.T + t)


def world_transform(rig: CameraRig, board: BoardPoses, object_points: FloatArray, *,
                    floor_frame: int | str | None = "auto",
                    floor_points: FloatArray | None = None,
                    weights: FloatArray | None = None
                    ) -> tuple[FloatArray, FloatArray, WorldFrame]:
    """The rigid motion (R (3, 3), t (3,)) with ``x_world = R @ x_current + t``.

    Args:
        rig: posed cameras (their current frame, e.g. the first camera's).
        board: F board poses in the same frame.
        object_points: (K, 3) board corners, z = 0.
        floor_frame: "auto" (look for a board lying on the floor), a frame index (that board
            view lies on the floor), or None (do not use board views).
        floor_points: (N, 3) points on the floor; takes precedence over ``floor_frame``.
        weights: (F,) how well each board pose is known (e.g. corners observed); among the
            views of the floor, the best known gives the origin and x axis.
    Returns:
        R, t and the WorldFrame describing them (method floor_board, floor_points or cameras).
    Raises:
        CalibrationError: a given floor frame is not among the board poses, too few floor
            points or all on one line, or no floor and the cameras' up directions cancel.
    """
    if floor_points is not None:
        R, t, warning = _from_floor_points(rig, np.asarray(floor_points, float))
        return R, t, WorldFrame("floor_points", warning=warning)
    cameras = cameras_up(rig)
    if isinstance(floor_frame, (int, np.integer)):
        hits = np.flatnonzero(board.frames == floor_frame)
        if hits.size == 0:
            raise CalibrationError(f"world frame: frame {floor_frame} has no board pose (the "
                                   f"board was not seen there by a calibrated camera); pick one "
                                   f"of frames {board.frames[0]}..{board.frames[-1]} where the "
                                   f"board lies on the floor")
        floor = _given_floor(board, object_points, int(hits[0]), rig, cameras)
        return (*_from_board(board, object_points, floor, rig),
                _floor_description(board, floor, rig, cameras, "given"))
    if floor_frame == "auto":
        found = find_floor_board(board, object_points, rig, weights)
        if found is not None:
            return (*_from_board(board, object_points, found, rig),
                    _floor_description(board, found, rig, cameras, "auto"))
    elif floor_frame is not None:
        raise CalibrationError(f"world frame: floor_frame must be 'auto', a frame index or "
                               f"None, got {floor_frame!r}")
    if cameras.up is None:
        raise CalibrationError("world frame: no board view lying on the floor was found and the "
                               "cameras' up directions (minus their image y axes) cancel out, "
                               "so which way is up is unknown; film the board lying flat on "
                               "the floor where 2 or more cameras see it, or give floor points")
    return (*_from_cameras(rig, board, object_points, cameras.up),
            WorldFrame("cameras", warning=_NO_FLOOR.format(how=cameras.how)))


def cameras_up(rig: CameraRig) -> CamerasUp:
    """Up as the cameras see it, in the rig frame.

    Cameras are mounted level (their image x axis horizontal) far more reliably than they are
    mounted without pitch, so where their horizons span the horizontal plane (they do not all
    face one way) and agree on it within about 10 degrees, up is the normal to that plane; it is
    not biased by cameras that pitch down on one side of the volume. Otherwise up is the mean of
    their image up directions. Either way it is pointed along that mean; where the image ups
    cancel (cameras mounted upside down or sideways), there is no up.
    """
    image_up = -np.stack([c.R[1] for c in rig])                            # (C, 3)
    mean = image_up.mean(axis=0)
    if np.linalg.norm(mean) < CAMERA_UP_MIN_AGREEMENT:
        return CamerasUp(None, "their up directions cancel")
    mean /= np.linalg.norm(mean)
    horizons = np.stack([c.R[0] for c in rig])                             # (C, 3)
    spread, axes = np.linalg.eigh(horizons.T @ horizons / len(rig))       # ascending
    level = axes[:, 0] * np.sign(axes[:, 0] @ mean)
    if (spread[1] >= HORIZON_MIN_SPREAD and spread[0] <= HORIZON_MAX_ROLL
            and level @ mean >= np.cos(np.radians(HORIZON_MAX_DEG))):
        return CamerasUp(level, "level horizons")
    return CamerasUp(mean, "mean image up")


def find_floor_board(board: BoardPoses, object_points: FloatArray, rig: CameraRig,
                     weights: FloatArray | None = None) -> FloorBoard | None:
    """The board view lying on the floor, and the views in its plane; None if there is none.

    A floor candidate is a view whose plane has every camera above it (on the side most
    cameras are on), is within FLOOR_MAX_TILT_DEG of the cameras' up (a loose sanity gate), and
    is the lowest: at most FLOOR_MAX_BELOW of the session's board views dip more than
    FLOOR_HEIGHT_TOLERANCE below it (a board held flat at waist height is not the floor).
    Candidates in one plane (a still board, or the board laid at several places) support each
    other: the plane with the most views wins, then the most level; its best known view
    (``weights``, else the first) is chosen.
    """
    cameras = cameras_up(rig)
    normal, height = _view_planes(board, rig)                              # (F, 3), (F,)
    tilt = _tilt_deg(normal, cameras.up)                                   # (F,)
    above = (rig.centers @ normal.T > height).all(axis=0)
    candidates = np.flatnonzero(above & ~(tilt > FLOOR_MAX_TILT_DEG))     # NaN tilt: no gate
    outline = board.corners(_outline(object_points))                      # (F, H, 3)
    offsets = (np.einsum("ci,fhi->cfh", normal[candidates], outline)
               - height[candidates][:, None, None])                       # (N, F, H)
    lowest = (offsets.min(axis=2) < -FLOOR_HEIGHT_TOLERANCE).mean(axis=1) <= FLOOR_MAX_BELOW
    candidates, offsets = candidates[lowest], offsets[lowest]
    if candidates.size == 0:
        return None
    same = _in_plane(normal[candidates], normal[candidates], offsets[:, candidates])
    best = np.lexsort((np.nan_to_num(tilt[candidates]), -same.sum(axis=1)))[0]
    views = candidates[same[best]]
    w = np.ones(board.frames.size) if weights is None else np.asarray(weights, float)
    return FloorBoard(int(views[np.argmax(w[views])]), views, float(tilt[candidates[best]]))


def _given_floor(board: BoardPoses, object_points: FloatArray, index: int, rig: CameraRig,
                 cameras: CamerasUp) -> FloorBoard:
    """The view the user says lies on the floor, and the views in its plane."""
    normal, height = _view_planes(board, rig)
    offsets = (np.einsum("i,fhi->fh", normal[index], board.corners(_outline(object_points)))
               - height[index])                                            # (F, H)
    same = _in_plane(normal[index:index + 1], normal, offsets[None])[0]
    return FloorBoard(index, np.flatnonzero(same), float(_tilt_deg(normal[index:index + 1],
                                                                   cameras.up)[0]))


def _floor_description(board: BoardPoses, floor: FloorBoard, rig: CameraRig,
                       cameras: CamerasUp, chosen: str) -> WorldFrame:
    """What calibration.toml and the report say about a floor board."""
    normal, height = _view_planes(board, rig)
    heights = rig.centers @ normal[floor.index] - height[floor.index]      # (C,)
    below = [c.name for c, z in zip(rig, heights) if z <= 0]
    frame = int(board.frames[floor.index])
    tilt = (f"{floor.tilt_deg:.1f} degrees from the cameras' up ({cameras.how})"
            if np.isfinite(floor.tilt_deg) else f"the cameras have no common up ({cameras.how})")
    how = (f"the lowest board plane with all {len(rig)} cameras above it, seen in "
           f"{floor.views.size} views, {tilt}" if chosen == "auto" else
           f"frame {frame} as given, {floor.views.size} views in its plane, {tilt}")
    warning = None
    if below:
        warning = (f"cameras {', '.join(below)} are below the plane of the board in frame "
                   f"{frame}: is it lying on the floor?")
    elif floor.tilt_deg > FLOOR_MAX_TILT_DEG:
        warning = (f"the board in frame {frame} is {floor.tilt_deg:.0f} degrees from the "
                   f"cameras' up: is it lying on the floor?")
    elif cameras.up is None:
        warning = (f"the cameras' up directions cancel out, so nothing confirms that the board "
                   f"in frame {frame} lies on the floor (rather than against a wall); check the "
                   f"world frame, or give floor_frame")
    return WorldFrame("floor_board", frame=frame, chosen=chosen,
                      floor_frames=tuple(int(f) for f in board.frames[floor.views]),
                      cameras_above=len(rig) - len(below), how=how, warning=warning)


def _view_planes(board: BoardPoses, rig: CameraRig) -> tuple[FloatArray, FloatArray]:
    """(F, 3) unit normals of the board views' planes, each towards the side most cameras are
    on, and (F,) the planes' offsets (normal . point on the plane), metres."""
    normal = board.R[:, :, 2]                                              # (F, 3)
    side = np.sign(rig.centers @ normal.T - np.einsum("fi,fi->f", normal, board.t))  # (C, F)
    normal = normal * np.where(side.sum(axis=0) < 0, -1.0, 1.0)[:, None]
    return normal, np.einsum("fi,fi->f", normal, board.t)


def _tilt_deg(normal: FloatArray, up: FloatArray | None) -> FloatArray:
    """(F,) angles between (F, 3) unit normals and ``up`` in degrees; NaN where no up."""
    if up is None:
        return np.full(normal.shape[0], np.nan)
    return np.degrees(np.arccos(np.clip(normal @ up, -1.0, 1.0)))


def _outline(object_points: FloatArray) -> FloatArray:
    """(H, 3) the board corners on the convex hull of (K, 3) ``object_points`` (z = 0): the
    extremes of any height over a whole board view lie among them."""
    try:
        return object_points[ConvexHull(object_points[:, :2]).vertices]
    except QhullError:                                  # a single row of corners
        return object_points


def _in_plane(normal: FloatArray, other_normal: FloatArray, offsets: FloatArray
              ) -> NDArray[np.bool_]:
    """(N, M) whether view m lies in the plane of view n: normals (N, 3) and (M, 3) within
    SAME_PLANE_DEG, and its outline's (N, M, H) offsets from that plane within SAME_PLANE_M."""
    parallel = normal @ other_normal.T >= np.cos(np.radians(SAME_PLANE_DEG))
    return parallel & (np.abs(offsets).max(axis=2) <= SAME_PLANE_M)


def _from_board(board: BoardPoses, object_points: FloatArray, floor: FloorBoard,
                rig: CameraRig) -> tuple[FloatArray, FloatArray]:
    """Z = the normal of the plane fitted to every corner of the floor's views (towards the
    cameras), origin and x axis = the chosen view's projected onto that plane."""
    points = board.corners(object_points)[floor.views].reshape(-1, 3)
    centre = points.mean(axis=0)
    up = np.linalg.svd(points - centre)[2][-1]
    if up @ (rig.centers.mean(axis=0) - centre) < 0:
        up = -up
    origin = board.t[floor.index] - ((board.t[floor.index] - centre) @ up) * up
    x = board.R[floor.index, :, 0] - (board.R[floor.index, :, 0] @ up) * up
    x /= np.linalg.norm(x)
    axes = np.stack([x, np.cross(up, x), up], axis=1)
    return axes.T, -axes.T @ origin


def _from_floor_points(rig: CameraRig, points: FloatArray
                       ) -> tuple[FloatArray, FloatArray, str | None]:
    """A plane fitted to (N, 3) floor points; a warning where cameras lie below it."""
    points = points[np.isfinite(points).all(axis=1)]
    if points.shape[0] < 3:
        raise CalibrationError(f"world frame: {points.shape[0]} floor points given, a plane "
                               f"needs at least 3 that are not on one line")
    center = points.mean(axis=0)
    _, spread, axes = np.linalg.svd(points - center)
    if spread[1] < FLOOR_POINTS_MIN_SPREAD * spread[0]:
        raise CalibrationError(f"world frame: the {points.shape[0]} floor points lie on one line "
                               f"(spread {spread[1] / spread[0]:.3f} as wide as long), so the "
                               f"floor's tilt about it is unknown; give points spread over the "
                               f"floor in two directions")
    normal = axes[-1]
    if normal @ (rig.centers.mean(axis=0) - center) < 0:
        normal = -normal
    below = [c.name for c, z in zip(rig, (rig.centers - center) @ normal) if z <= 0]
    warning = (f"cameras {', '.join(below)} are below the plane of the floor points: are they "
               f"on the floor?" if below else None)
    return (*_frame_below_cameras(rig, normal, center), warning)


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
