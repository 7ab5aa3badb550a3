"""Retarget a hand trajectory to a URDF arm: inverse kinematics, reach report and retiming.

Each frame is solved by ikpy's bounded least squares (``scipy.optimize.least_squares`` with the
URDF's position limits as bounds, so no solution leaves them), warm-started from the previous
frame's solution: a smooth target then gives a smooth joint path, which is why frames are solved
one after the other. The residual is the position error (metres) and the orientation error
(difference of the rotation matrices) times ``orientation_weight`` metres; ikpy weighs
orientation by a fixed 1, so the chain and targets are scaled by 1/orientation_weight instead.

Why ikpy rather than pinocchio (``pin`` 4.1.0), measured on the same 76-frame CMU reach mapped
onto ``arm6.urdf`` (``tests/rigs/test_robot_ik.py``'s trajectory, one shared CPU core, best of
3): ikpy with this module's restarts solves 152 frames/s, every frame within 1e-10 m and 1e-5
degrees; a damped-least-squares loop over pinocchio's kinematics and Jacobians (same weights,
joints clipped to their limits, warm-started) solves 685-840 frames/s but loses the track where
the shoulder reaches its limit (14 of 76 frames over 5 mm, up to 0.15 m), so it would need the
same restarts and its own bounded solver, and pin installs 480 MB of compiled libraries. ikpy
stays the ``robot`` extra: pure Python, bounds enforced by the solver, and 152 frames/s is five
times real time for a 30 fps take.

A frame is unreachable where the position error stays above ``tolerance`` after the solve
(and after restarts from seeded random poses, of which the solution nearest the previous
frame's joints is kept); consecutive such
frames are reported as one :class:`Stretch`. The joint path is then retimed
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
        restarts: random starting poses tried where the warm-started solve misses the
            tolerance.
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
    """(F, N) joints, frame by frame, each solve warm-started from the previous solution."""
    chain, active, unit = _ikpy_chain(arm, scale)
    rng = np.random.default_rng(seed)
    low, high = np.maximum(arm.lower, -np.pi), np.minimum(arm.upper, np.pi)
    n = len(arm.moving)
    q = np.zeros((len(target.time), n))
    current = np.clip(np.zeros(n), arm.lower, arm.upper)
    for f, (p, R) in enumerate(zip(target.position, target.rotation, strict=True)):
        if np.isfinite(p).all() and np.isfinite(R).all():
            frame = np.eye(4)
            frame[:3, :3], frame[:3, 3] = R, p * scale
            solve = _frame_solver(chain, active, unit, frame, arm, p)
            best = solve(current)
            if f == 0 or best[1] > tolerance:
                tries = [best] + [solve(s) for s in rng.uniform(low, high, (restarts, n))]
                best = min(tries, key=lambda t: (t[1] > tolerance, t[1] if t[1] > tolerance
                                                 else _cost(t[0], f, current, arm)))
            current = np.clip(best[0], arm.lower, arm.upper)
        q[f] = current
    return q


def _cost(q: FloatArray, f: int, previous: FloatArray, arm: UrdfArm) -> float:
    """Rank of a solution q (N,) within tolerance: on the first frame the most room to the
    position limits (the least, as a fraction of each joint's range) wins, later the smallest
    joint jump from ``previous``."""
    if f > 0:
        return float(np.abs(q - previous).max())
    span = np.where(np.isfinite(arm.upper - arm.lower), arm.upper - arm.lower, np.inf)
    return -float(np.min(np.minimum(q - arm.lower, arm.upper - q) / span))


def _frame_solver(chain: Any, active: NDArray[np.bool_], unit: FloatArray, frame: FloatArray,
                  arm: UrdfArm, position: FloatArray
                  ) -> Callable[[FloatArray], tuple[FloatArray, float]]:
    """A function: starting joints (N,) -> (solved joints (N,), position error m) for one frame."""
    def solve(start: FloatArray) -> tuple[FloatArray, float]:
        full = np.zeros(len(chain.links))
        full[active] = start * unit
        solved = chain.inverse_kinematics_frame(frame, initial_position=full,
                                                 orientation_mode="all")[active] / unit
        return solved, float(np.linalg.norm(arm.forward(solved)[:3, 3] - position))
    return solve


def _ikpy_chain(arm: UrdfArm, scale: float) -> tuple[Any, NDArray[np.bool_], FloatArray]:
    """ikpy chain of ``arm`` with lengths times ``scale``; its active-link mask; q's units."""
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
    return Chain(links, active_links_mask=active, name=arm.name), active, units


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
