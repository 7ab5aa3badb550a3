"""Hand trajectories in a robot's base frame, placed in its workspace and resampled.

The base frame is given either as a 4x4 world-to-base transform or by a calibration board laid
at the robot's base (:func:`base_from_board`: the board's axes become the base's, its origin
the base's, unless an offset from board to base is given). A human recording rarely lies in an
arm's workspace; :func:`place_in_workspace` moves (and optionally scales) it there, and
:func:`reach_scale` finds the scale that fits it into the arm's reach.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.interpolate import CubicSpline

from rigs import quaternions
from rigs.errors import RigError
from rigs.hand_pose import HandTrajectory

FloatArray = NDArray[np.float64]

# share of an arm's reach a path is fitted into by default: at 80 % of arm6's 0.83 m the elbow
# is still bent by 74 degrees, away from the stretched-out singularity (where a joint's speed
# per unit tool speed grows without bound) and with room for the wrist to turn the tool
REACH_SHARE = 0.8


def base_from_board(R: FloatArray, t: FloatArray, board_to_base: FloatArray | None = None
                    ) -> FloatArray:
    """(4, 4) world-to-base transform from a board lying at the robot's base.

    Args:
        R, t: (3, 3), (3,) the board's pose in the world, x_world = R @ x_board + t (metres),
            as calibration's board poses give it.
        board_to_base: (4, 4) x_base = board_to_base @ x_board, where the board does not sit
            exactly on the base's origin and axes; None for identity.
    """
    R, t = np.asarray(R, dtype=float), np.asarray(t, dtype=float)
    if R.shape != (3, 3) or t.shape != (3,) or not np.allclose(R @ R.T, np.eye(3), atol=1e-6):
        raise RigError(f"the board pose must be a (3, 3) rotation and a (3,) translation, got "
                       f"{R.shape} and {t.shape}")
    world_to_board = np.eye(4)
    world_to_board[:3, :3], world_to_board[:3, 3] = R.T, -R.T @ t
    offset = np.eye(4) if board_to_base is None else np.asarray(board_to_base, dtype=float)
    return offset @ world_to_board


def to_base(trajectory: HandTrajectory, world_to_base: FloatArray) -> HandTrajectory:
    """``trajectory`` expressed in the robot base frame.

    Args:
        world_to_base: (4, 4) rigid transform, x_base = T @ x_world.
    """
    T = np.asarray(world_to_base, dtype=float)
    if T.shape != (4, 4) or not np.allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-6):
        raise RigError(f"world_to_base must be a (4, 4) rigid transform, got {T.shape}")
    return HandTrajectory(trajectory.time, trajectory.position @ T[:3, :3].T + T[:3, 3],
                          T[:3, :3] @ trajectory.rotation, trajectory.aperture, "robot_base")


def place_in_workspace(trajectory: HandTrajectory, centre: FloatArray = (0.4, 0.0, 0.4),
                       scale: float = 1.0) -> HandTrajectory:
    """Translate (and scale about its centre) a trajectory so its centre lies at ``centre``.

    The centre is the midpoint of the positions' bounding box (NaN frames ignored); the
    default puts it 0.4 m in front of the base (+x) at 0.4 m height, inside the bundled arm's
    reach (``rigs/data/arm6.urdf``). Orientations are unchanged.

    Args:
        centre: (3,) metres in the trajectory's frame.
        scale: factor on the motion's extent (1 keeps the human's distances).
    """
    middle = (np.nanmin(trajectory.position, 0) + np.nanmax(trajectory.position, 0)) / 2
    position = (trajectory.position - middle) * scale + np.asarray(centre, dtype=float)
    return HandTrajectory(trajectory.time, position, trajectory.rotation, trajectory.aperture,
                          trajectory.frame)


def reach_scale(trajectory: HandTrajectory, centre: FloatArray, shoulder: FloatArray,
                reach: float, share: float = REACH_SHARE) -> float:
    """The largest scale, at most 1, at which :func:`place_in_workspace` (same ``centre``) puts
    every known position within ``share`` x ``reach`` of ``shoulder``.

    Per frame, |centre - shoulder + s (p - middle)| = share x reach is a quadratic in s; the
    smallest positive root over the frames is the answer (1 where the path already fits).

    Args:
        centre, shoulder: (3,) metres in the base frame (``UrdfArm.shoulder``).
        reach: metres from the shoulder to the stretched-out tip (``UrdfArm.reach``).
    Raises:
        RigError: ``centre`` itself lies beyond share x reach, or no position is known.
    """
    a = np.asarray(centre, dtype=float) - np.asarray(shoulder, dtype=float)    # (3,)
    radius = share * reach
    known = np.isfinite(trajectory.position).all(1)
    if not known.any() or not np.linalg.norm(a) < radius:
        raise RigError(f"cannot fit the hand path into the arm's reach: workspace centre "
                       f"{tuple(np.round(a + shoulder, 3))} is not within {radius:.2f} m of the "
                       "shoulder, or no hand position is known; move the centre closer")
    p = trajectory.position[known]
    b = p - (p.min(0) + p.max(0)) / 2                                          # (F', 3)
    bb, ab = np.einsum("fi,fi->f", b, b), b @ a
    root = np.divide(-ab + np.sqrt(ab ** 2 - bb * (a @ a - radius ** 2)), bb,
                     out=np.full_like(bb, np.inf), where=bb > 0)     # at the middle: any scale
    return float(min(1.0, root.min()))


def resample(trajectory: HandTrajectory, fps: float, method: str = "linear") -> HandTrajectory:
    """The trajectory at ``fps`` frames per second over the same span.

    Positions and aperture interpolate linearly or by a cubic spline (``method``), rotations by
    spherical linear interpolation. A new frame whose two neighbouring old frames are not both
    known is NaN: gaps are never bridged.
    """
    if not fps > 0 or method not in ("linear", "cubic"):
        raise RigError(f"resample needs fps > 0 and method 'linear' or 'cubic', got {fps}, "
                       f"{method!r}")
    old = trajectory.time
    new = np.arange(0.0, old[-1] - old[0] + 1e-9, 1.0 / fps) + old[0]
    right = np.clip(np.searchsorted(old, new, side="right"), 1, len(old) - 1)
    left = right - 1
    u = np.clip((new - old[left]) / (old[right] - old[left]), 0.0, 1.0)      # (F',)
    known = np.isfinite(trajectory.position).all(1) & np.isfinite(trajectory.rotation).all((1, 2))
    at_left, at_right = u <= 0.0, u >= 1.0                   # new frames on an old frame's time
    gap = ~((known[left] | at_right) & (known[right] | at_left))

    def signal(values: FloatArray) -> FloatArray:
        ok = np.isfinite(values).reshape(len(old), -1).all(1)
        shape = (-1,) + (1,) * (values.ndim - 1)
        if method == "cubic" and ok.sum() >= 4:
            out = CubicSpline(old[ok], values[ok])(new)
        else:
            a, b = values[left], values[right]
            out = np.where(at_right.reshape(shape), b, np.where(
                at_left.reshape(shape), a, a + (b - a) * u.reshape(shape)))
        missing = gap | ~((ok[left] | at_right) & (ok[right] | at_left))
        return np.where(missing.reshape(shape), np.nan, out)

    q = quaternions.continuous(quaternions.from_matrix(np.where(
        known[:, None, None], trajectory.rotation, np.eye(3))))
    rotation = quaternions.to_matrix(_slerp(q[left], q[right], u))
    rotation[gap] = np.nan
    aperture = None if trajectory.aperture is None else signal(trajectory.aperture)
    return HandTrajectory(new, signal(trajectory.position), rotation, aperture, trajectory.frame)


def _slerp(a: FloatArray, b: FloatArray, u: FloatArray) -> FloatArray:
    """(F, 4) spherical interpolation from quaternions a to b (F, 4) at fractions u (F,)."""
    dot = np.einsum("fi,fi->f", a, b)
    b = np.where(dot[:, None] < 0, -b, b)
    angle = np.arccos(np.clip(np.abs(dot), 0.0, 1.0))
    small = angle < 1e-6
    sin = np.where(small, 1.0, np.sin(angle))
    wa = np.where(small, 1 - u, np.sin((1 - u) * angle) / sin)
    wb = np.where(small, u, np.sin(u * angle) / sin)
    return wa[:, None] * a + wb[:, None] * b
