"""Robot retargeting: our ikpy-based tracking (``rigs.robot_ik.retarget``) beside pinocchio's
kinematics in a damped-least-squares loop (``benchmarks/peers/pin_ik.py``, in its own venv), on
the trajectory of ``tests/rigs/test_robot_ik.py``: CMU 131_02's right hand from 1 s to 3.5 s at
30 fps (76 frames), placed in front of the bundled arm6 at human scale.

Each runs once untimed, then once timed; both start from the same joints (ours' first frame).
Scored with our forward kinematics: largest position and orientation error, frames over 5 mm,
and how much the velocity limits stretch the timeline (``rigs.robot_ik.retime``).

Run: python benchmarks/robot_ik_vs_pin.py --pin-python ENV/bin/python
(ENV: ``python3.11 -m venv ENV && ENV/bin/pip install pin numpy``)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from mocap.synthetic.real_motion import motion_from_bvh
from rigs import quaternions
from rigs.hand_pose import HandTrajectory, hand_poses
from rigs.robot_frame import place_in_workspace, to_base
from rigs.robot_ik import retarget, retime
from rigs.urdf_arm import ARM6, UrdfArm, read_urdf

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cmu_mocap"
PEER_SCRIPT = Path(__file__).resolve().parent / "peers" / "pin_ik.py"
ORIENTATION_WEIGHT = 0.05 * np.sqrt(2)   # rigs.robot_ik's default, per radian


def row(name: str, arm: UrdfArm, target: HandTrajectory, q: np.ndarray, seconds: float) -> str:
    pose = arm.forward(q)
    position = np.linalg.norm(pose[:, :3, 3] - target.position, axis=-1)
    turn = np.degrees(quaternions.angle_between(quaternions.from_matrix(pose[:, :3, :3]),
                                                quaternions.from_matrix(target.rotation)))
    retimed = retime(q, target.time, arm.velocity)
    factor = (retimed[-1] - retimed[0]) / (target.time[-1] - target.time[0])
    return (f"| {name} | {len(q) / seconds:,.0f} | {position.max() * 1000:.2f} | "
            f"{turn.max():.1f} | {int((position > 0.005).sum())} of {len(q)} | x{factor:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pin-python", type=Path, required=True,
                        help="python of a virtual environment with pin (pinocchio)")
    args = parser.parse_args()
    motion = motion_from_bvh(DATA / "131_02.bvh", "blazepose33", fps=30, start_s=1.0,
                             duration_s=2.5)
    target = place_in_workspace(to_base(hand_poses(motion), np.eye(4)))
    arm = read_urdf(ARM6)
    retarget(arm, target)
    start = time.perf_counter()
    ours = retarget(arm, target)
    seconds = time.perf_counter() - start
    job = {"urdf": str(ARM6), "tip": arm.tip_link, "position": target.position.tolist(),
           "rotation": target.rotation.tolist(), "q0": ours.q[0].tolist(),
           "orientation_weight": ORIENTATION_WEIGHT}
    with tempfile.TemporaryDirectory() as tmp:
        job_path, result_path = Path(tmp) / "job.json", Path(tmp) / "result.json"
        job_path.write_text(json.dumps(job))
        subprocess.run([str(args.pin_python), str(PEER_SCRIPT), str(job_path), str(result_path)],
                       check=True, timeout=600)
        result = json.loads(result_path.read_text())
    if not result["ok"]:
        raise SystemExit(f"pinocchio failed: {result['error']}")
    print(f"{len(target.time)} frames; pin {result['versions']['pin']}")
    print("| solver | frames/s | max position error mm | max orientation error deg | "
          "frames over 5 mm | retimed |")
    print("|---|---|---|---|---|---|")
    print(row("ours: ikpy, step-bounded, restarts", arm, target, ours.q, seconds))
    print(row("pinocchio: damped least squares", arm, target, np.asarray(result["q"]),
              result["seconds"]))


if __name__ == "__main__":
    main()
