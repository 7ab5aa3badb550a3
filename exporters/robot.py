"""Robot trajectory files: hand (tool) poses and joint trajectories as CSV, JSON or NPZ.

The format follows the file's suffix. Every file carries timestamps in seconds; NaN (unknown)
is an empty CSV cell, JSON null, NaN in NPZ.

Hand trajectory (:func:`write_hand_trajectory`), one row per frame, in the robot base frame:

============  ===================================================================
column        meaning
============  ===================================================================
time_s        seconds from the first frame
x_m y_m z_m   tool position, metres (``rigs.hand_pose`` for where on the hand)
qw qx qy qz   tool orientation, unit quaternion (w first), base from tool
aperture_m    gripper opening (thumb tip to index knuckle), metres; only with fingers
============  ===================================================================

Joint trajectory (:func:`write_joint_trajectory`): ``time_s`` (the target's timeline),
``retimed_time_s`` (the timeline within the velocity limits: play the joints on this one),
one column per joint named after the URDF joint (rad, or m for prismatic joints),
``position_error_m``, ``orientation_error_rad`` and ``reachable`` (1 or 0). JSON and NPZ add
``unreachable``: one row per stretch, start frame, stop frame (exclusive), start and end time
in seconds on ``time_s`` and the largest position error in metres.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from exporters.atomic import atomic_output
from exporters.errors import ExportError
from rigs import quaternions
from rigs.hand_pose import HandTrajectory
from rigs.robot_ik import JointTrajectory

_SUFFIXES = (".csv", ".json", ".npz")


def hand_columns(trajectory: HandTrajectory) -> dict[str, NDArray[np.float64]]:
    """Column name -> (F,) values of a hand trajectory, in the order they are written."""
    known = np.isfinite(trajectory.rotation).all((1, 2))
    q = quaternions.continuous(quaternions.from_matrix(
        np.where(known[:, None, None], trajectory.rotation, np.eye(3))))
    q[~known] = np.nan
    columns = {"time_s": trajectory.time}
    columns.update(zip(("x_m", "y_m", "z_m"), trajectory.position.T, strict=True))
    columns.update(zip(("qw", "qx", "qy", "qz"), q.T, strict=True))
    if trajectory.aperture is not None:
        columns["aperture_m"] = trajectory.aperture
    return columns


def joint_columns(joints: JointTrajectory) -> dict[str, NDArray[np.float64]]:
    """Column name -> (F,) values of a joint trajectory, in the order they are written."""
    columns = {"time_s": joints.time, "retimed_time_s": joints.retimed_time}
    columns.update(zip(joints.joint_names, joints.q.T, strict=True))
    columns["position_error_m"] = joints.position_error
    columns["orientation_error_rad"] = joints.orientation_error
    reachable = np.ones(len(joints.time))
    for stretch in joints.unreachable:
        reachable[stretch.start:stretch.stop] = 0.0
    columns["reachable"] = reachable
    return columns


def write_hand_trajectory(trajectory: HandTrajectory, path: str | Path) -> Path:
    """Write hand poses to ``path`` (.csv, .json or .npz) atomically."""
    return _write(hand_columns(trajectory), {"frame": trajectory.frame}, path)


def write_joint_trajectory(joints: JointTrajectory, path: str | Path, robot: str = "") -> Path:
    """Write a joint trajectory to ``path`` (.csv, .json or .npz) atomically.

    Args:
        robot: the robot's name, stored in JSON and NPZ.
    """
    stretches = [[s.start, s.stop, s.start_s, s.stop_s, s.max_error_m] for s in joints.unreachable]
    extra = {"robot": robot, "joint_names": list(joints.joint_names),
             "unreachable": stretches,
             "unreachable_columns": ["start_frame", "stop_frame", "start_s", "end_s",
                                     "max_error_m"]}
    return _write(joint_columns(joints), extra, path)


def _write(columns: dict[str, NDArray[np.float64]], extra: dict[str, object], path: str | Path
           ) -> Path:
    path = Path(path)
    if path.suffix not in _SUFFIXES:
        raise ExportError(f"{path}: unknown suffix '{path.suffix}'; robot trajectories are "
                          f"written as {', '.join(_SUFFIXES)}")
    table = np.stack(list(columns.values()), axis=1)                        # (F, K)
    with atomic_output(path) as tmp:
        if path.suffix == ".csv":
            lines = [",".join(columns)] + [",".join("" if not np.isfinite(v) else repr(float(v))
                                                    for v in row) for row in table]
            tmp.write_text("\n".join(lines) + "\n")
        elif path.suffix == ".json":
            data = {**extra, **{k: [None if not np.isfinite(v) else float(v) for v in values]
                                for k, values in columns.items()}}
            tmp.write_text(json.dumps(data, indent=1))
        else:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, columns=np.array(list(columns)), table=table,
                                    **{k: np.asarray(v) for k, v in extra.items()})
    return path
