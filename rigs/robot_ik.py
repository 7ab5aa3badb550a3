"""Retarget a hand trajectory to a URDF arm: inverse kinematics, reach report and retiming.

Each frame is solved by ikpy's bounded least squares (``scipy.optimize.least_squares`` with the
URDF's position limits as bounds, so no solution leaves them), warm-started from the previous
frame's solution: a smooth target then gives a smooth joint path, which is why frames are solved
one after the other. The residual is the position error (metres) and the orientation error
(difference of the rotation matrices) times ``orientation_weight`` metres; ikpy weighs
orientation by a fixed 1, so the chain and targets are scaled by 1/orientation_weight instead.

Why ikpy rather than pinocchio (``pin`` 4.1.0): ``python benchmarks/robot_ik_vs_pin.py
--pin-python ENV/bin/python`` tracks the same 76-frame CMU reach on ``arm6.urdf`` (the
trajectory of ``tests/rigs/test_robot_ik.py``) with both. Ours solves 74 frames/s with every
frame within 5 mm and a timeline stretched x1.75 by the velocity limits; a damped-least-squares
loop over pinocchio's kinematics and Jacobians (same weights, joints clipped to their limits,
warm-started) solves 589 frames/s but loses the track where the shoulder reaches its limit (14
of 76 frames over 5 mm, up to 0.15 m) and jumps (x6.08 retimed): it would need the same step
bounds, restarts and a bounded solver, and pin installs 480 MB of compiled libraries. ikpy stays
the ``robot`` extra: pure Python, bounds enforced by the solver, 74 frames/s is twice real time
for a 30 fps take.

Each frame's joints stay within 2 frame intervals' worth of the velocity limits of the previous
frame's, so the joint path is continuous (no jump to another IK branch); where that misses the
position, the orientation yields first (the wrist lags a hand turning faster than it can), then
the step bound widens. Seeded random restarts are tried only where a target within the arm's
reach stays 5 cm off (a joint limit in the way); beyond the reach the continuous closest pose is
kept. A frame is unreachable where the position error stays above ``tolerance``; consecutive
such frames are reported as one :class:`Stretch`. The joint path is then retimed
(:func:`retime`): every interval is stretched just enough that no joint exceeds its URDF
velocity limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rigs import quaternions
from rigs.errors import RigError
from rigs.hand_pose import HandTrajectory
from rigs.urdf_arm import UrdfArm

FloatArray = NDArray[np.float64]
# (start (N,), lower (N,) | None, upper (N,) | None) -> (joints (N,), position error m)
Solver = Callable[..., tuple[FloatArray, float]]

# a frame's joints move at most this many frame intervals' worth of their velocity limits from
# the previous frame's, unless the target cannot be reached so: the joint path stays continuous
# (no jump to another branch of the inverse kinematics) and retiming stretches it little
_STEP_INTERVALS = 2.0
# a warm-started solve ending this far (m) from a target within reach is stuck (a joint at its
# limit in the way), not short of a target at the edge of the workspace: only then are random
# restarts tried
_STUCK_M = 0.05
# where the position misses the tolerance, the orientation weight is divided by this: a unit
# orientation error then costs 0.5 mm instead of 5 cm (orientation_weight 0.05), so the
# position is met and the orientation only steers the remaining freedom
_POSITION_FIRST = 100.0


@dataclass(frozen=True)
class Stretch:
    """Consecutive unreachable frames [start, stop) and their times (s) on the target timeline."""

    start: int
    stop: int
    start_s: float
    stop_s: float
    max_error_m: float


@dataclass(frozen=True)
class JointTrajectory:
    """Joint positions tracking a hand trajectory.

    Attributes:
        joint_names: (N,) the arm's moving joints, in q's order.
        time: (F,) seconds, the target's timeline.
        retimed_time: (F,) seconds after retiming to the velocity limits (>= time's steps).
        q: (F, N) joint positions, rad (m for prismatic joints), within the position limits.
        position_error: (F,) metres from the tool to the target; NaN where no target.
        orientation_error: (F,) radians between the tool's and the target's frames.
        unreachable: stretches where the position error exceeds the tolerance (or no target).
    """

    joint_names: tuple[str, ...]
    time: FloatArray
    retimed_time: FloatArray
    q: FloatArray
    position_error: FloatArray
    orientation_error: FloatArray
    unreachable: tuple[Stretch, ...]


def retarget(arm: UrdfArm, target: HandTrajectory, *, orientation_weight: float = 0.05,
             tolerance: float = 0.005, speed_fraction: float = 1.0, restarts: int = 8,
             seed: int = 0) -> JointTrajectory:
    """Track ``target`` (in the arm's base frame) with ``arm``'s tool link.

    Args:
        arm: from :func:`rigs.urdf_arm.read_urdf`.
        target: poses in the base frame (metres); NaN frames keep the previous joints.
        orientation_weight: metres of position error worth a unit orientation error
            (Frobenius norm of the rotation difference, about sqrt(2) x the angle in rad).
        tolerance: position error (m) above which a frame counts as unreachable.
        speed_fraction: fraction of the URDF velocity limits the retimed path may use.
        restarts: random starting poses tried on the first frame, and where a warm-started
            solve stays 5 cm off a target within reach.
        seed: of those random poses.
    Raises:
        RigError: ikpy is missing, or the target is not in the robot base frame.
    """
    if target.frame != "robot_base":
        raise RigError(f"the target is in frame '{target.frame}'; express it in the robot base "
                       "frame first (rigs.robot_frame.to_base)")
    if not orientation_weight > 0 or not 0 < speed_fraction <= 1:
        raise RigError(f"orientation_weight must be > 0 and speed_fraction in (0, 1], got "
                       f"{orientation_weight} and {speed_fraction}")
    q = _solve(arm, target, 1.0 / orientation_weight, tolerance, restarts, seed)
    pose = arm.forward(q)                                                    # (F, 4, 4)
    position_error = np.linalg.norm(pose[:, :3, 3] - target.position, axis=-1)
    orientation_error = quaternions.angle_between(quaternions.from_matrix(pose[:, :3, :3]),
                                                  _quaternions(target.rotation))
    bad = ~(position_error <= tolerance)
    return JointTrajectory(arm.joint_names, target.time,
                           retime(q, target.time, arm.velocity * speed_fraction), q,
                           position_error, orientation_error,
                           stretches(bad, target.time, position_error))


def _quaternions(rotation: FloatArray) -> FloatArray:
    """(F, 4) quaternions of (F, 3, 3) rotations; NaN rows stay NaN."""
    known = np.isfinite(rotation).all((1, 2))
    q = quaternions.from_matrix(np.where(known[:, None, None], rotation, np.eye(3)))
    return np.where(known[:, None], q, np.nan)


def _solve(arm: UrdfArm, target: HandTrajectory, scale: float, tolerance: float, restarts: int,
           seed: int) -> FloatArray:
    """(F, N) joints, frame by frame, each solve warm-started from the previous solution.

    The first known frame tries ``restarts`` random poses too and keeps the one with the most
    room to the limits; later frames follow with :func:`_next`.
    """
    chains = [_ikpy_chain(arm, s) for s in (scale, scale * _POSITION_FIRST)]
    rng = np.random.default_rng(seed)
    n = len(arm.moving)
    q = np.zeros((len(target.time), n))
    current, last = np.clip(np.zeros(n), arm.lower, arm.upper), None
    for f, (t, p, R) in enumerate(zip(target.time, target.position, target.rotation,
                                      strict=True)):
        if np.isfinite(p).all() and np.isfinite(R).all():
            solve = _frame_solver(chains, arm, R, p)
            if last is None:
                tries = [solve(current)] + [solve(s) for s in _random_poses(arm, rng, restarts)]
                best = min(tries, key=lambda t: (t[1] > tolerance, t[1] if t[1] > tolerance
                                                 else -_room(t[0], arm)))
            else:
                in_reach = np.linalg.norm(p - arm.shoulder) <= arm.reach
                best = _next(solve, current, _STEP_INTERVALS * arm.velocity * (t - last), arm,
                             tolerance if in_reach else np.inf,
                             lambda: _random_poses(arm, rng, restarts))
            current, last = np.clip(best[0], arm.lower, arm.upper), t
        q[f] = current
    return q


def _next(solve: Solver, current: FloatArray, step: FloatArray, arm: UrdfArm, tolerance: float,
          starts: Callable[[], FloatArray]) -> tuple[FloatArray, float]:
    """The next frame's (joints (N,), position error m), continuous with ``current`` (N,).

    Solved with each joint within ``step`` (N,) of ``current``, then, where that misses the
    tolerance, with the position first (the orientation lags where the wrist cannot turn as
    fast as the hand). A target beyond the reach (``tolerance`` infinite) keeps that continuous
    closest pose. Only a target within reach that the step bound keeps out of tolerance is
    solved without it, and only where that stays :data:`_STUCK_M` off are the random
    ``starts`` (R, N) tried, of which the reaching solution nearest ``current`` is kept.
    """
    best = solve(current, np.maximum(arm.lower, current - step),
                 np.minimum(arm.upper, current + step))
    for widen in (1, 2, 4, 8, np.inf)[:5 if np.isfinite(tolerance) else 1]:
        if best[1] <= tolerance:
            break
        best = min(best, solve(current, np.maximum(arm.lower, current - widen * step),
                               np.minimum(arm.upper, current + widen * step),
                               position_first=True), key=lambda t: t[1])
    if best[1] <= tolerance or best[1] < _STUCK_M:
        return best
    reached = [t for t in (solve(s) for s in starts()) if t[1] <= tolerance]
    return min(reached, key=lambda t: np.abs(t[0] - current).max()) if reached else best


def _random_poses(arm: UrdfArm, rng: np.random.Generator, count: int) -> FloatArray:
    """(count, N) joints drawn uniformly within the limits (continuous joints in [-pi, pi])."""
    low, high = np.maximum(arm.lower, -np.pi), np.minimum(arm.upper, np.pi)
    return rng.uniform(low, high, (count, len(arm.moving)))


def _room(q: FloatArray, arm: UrdfArm) -> float:
    """The least room of q (N,) to the position limits, as a fraction of each joint's range."""
    span = np.where(np.isfinite(arm.upper - arm.lower), arm.upper - arm.lower, np.inf)
    return float(np.min(np.minimum(q - arm.lower, arm.upper - q) / span))


def _frame_solver(chains: list[tuple[Any, NDArray[np.bool_], FloatArray, float]],
                  arm: UrdfArm, rotation: FloatArray, position: FloatArray) -> Solver:
    """A :data:`Solver` for one target pose (rotation (3, 3), position (3,) m), with the
    chain of the usual orientation weight or (``position_first``) of the reduced one."""
    def solve(start: FloatArray, lower: FloatArray | None = None,
              upper: FloatArray | None = None, position_first: bool = False
              ) -> tuple[FloatArray, float]:
        chain, active, unit, scale = chains[position_first]
        lower = arm.lower if lower is None else lower
        upper = arm.upper if upper is None else upper
        moving = [link for link, a in zip(chain.links, active, strict=True) if a]
        for link, a, b, u in zip(moving, lower, upper, unit, strict=True):
            link.bounds = (a * u, b * u)
        frame = np.eye(4)
        frame[:3, :3], frame[:3, 3] = rotation, position * scale
        full = np.zeros(len(chain.links))
        full[active] = np.clip(start, lower, upper) * unit
        solved = chain.inverse_kinematics_frame(frame, initial_position=full,
                                                 orientation_mode="all")[active] / unit
        return solved, float(np.linalg.norm(arm.forward(solved)[:3, 3] - position))
    return solve


def _ikpy_chain(arm: UrdfArm, scale: float
                ) -> tuple[Any, NDArray[np.bool_], FloatArray, float]:
    """ikpy chain of ``arm`` with lengths times ``scale``; its active-link mask; q's units;
    ``scale``."""
    try:
        from ikpy.chain import Chain
        from ikpy.link import OriginLink, URDFLink
    except ImportError as e:
        raise RigError("retargeting to a robot arm needs ikpy: pip install 'mocap[robot]'") from e
    links = [OriginLink()]
    for joint in arm.chain:
        kind = "revolute" if joint.kind == "continuous" else joint.kind
        unit = scale if kind == "prismatic" else 1.0
        motion = {"prismatic": {"translation": joint.axis}, "fixed": {}}.get(
            kind, {"rotation": joint.axis})
        links.append(URDFLink(joint.name, joint.origin[:3, 3] * scale,
                              _rpy(joint.origin[:3, :3]), bounds=(joint.lower * unit,
                                                                   joint.upper * unit),
                              joint_type=kind, **motion))
    active = np.array([False] + [j.kind != "fixed" for j in arm.chain])
    units = np.array([scale if j.kind == "prismatic" else 1.0 for j in arm.moving])
    return Chain(links, active_links_mask=active, name=arm.name), active, units, scale


def _rpy(R: FloatArray) -> FloatArray:
    """URDF roll, pitch, yaw (rad) of a rotation, R = Rz(yaw) Ry(pitch) Rx(roll)."""
    return np.array([np.arctan2(R[2, 1], R[2, 2]), -np.arcsin(np.clip(R[2, 0], -1, 1)),
                     np.arctan2(R[1, 0], R[0, 0])])


def retime(q: FloatArray, time: FloatArray, velocity: FloatArray) -> FloatArray:
    """A new timeline on which no joint moves faster than its limit.

    Each interval keeps its length where every joint's finite-difference speed is within its
    limit, and is stretched by the largest ratio of speed to limit otherwise.

    Args:
        q: (F, N) joint positions; time: (F,) seconds; velocity: (N,) limits per second.
    Returns:
        (F,) seconds, starting at time[0].
    """
    step = np.diff(time)                                                     # (F-1,)
    ratio = np.max(np.abs(np.diff(q, axis=0)) / (velocity * step[:, None]), axis=1,
                   initial=0.0)
    stretched = step * np.maximum(1.0, ratio)
    return time[0] + np.concatenate([[0.0], np.cumsum(stretched)])


def stretches(bad: NDArray[np.bool_], time: FloatArray, error: FloatArray
              ) -> tuple[Stretch, ...]:
    """Runs of True in ``bad`` (F,) as stretches with their times and largest error."""
    edges = np.diff(np.concatenate([[0], bad.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return tuple(Stretch(int(a), int(b), float(time[a]), float(time[b - 1]),
                         float(np.max(np.nan_to_num(error[a:b], nan=-np.inf))))
                 for a, b in zip(starts, stops, strict=True))
