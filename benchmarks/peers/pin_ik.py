"""Track a tool trajectory with pinocchio: the peer side of ``benchmarks/robot_ik_vs_pin.py``.

Runs with the peer's own interpreter (``pip install pin numpy``), so it imports only
pinocchio, numpy and the standard library, and talks through two JSON files:

    python pin_ik.py JOB.json RESULT.json

JOB.json::

    {"urdf": path, "tip": link name, "position": (F, 3) metres in the base frame,
     "rotation": (F, 3, 3), "q0": (N,) start joints, "orientation_weight": metres per unit of
     orientation error (as rigs.robot_ik weighs it)}

RESULT.json::

    {"ok": bool, "error": str | null, "q": (F, N), "seconds": s of the timed call, "versions"}

The solver is damped least squares on pinocchio's kinematics and frame Jacobian, warm-started
from the previous frame, joints clipped to the URDF's limits: the plain loop pinocchio's own
examples use, without restarts.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pinocchio as pin
from peer_job import serve  # beside this script (run as one: its folder is on sys.path)

ITERATIONS = 100
DAMPING = 1e-8


def track(model, data, tip: int, position: np.ndarray, rotation: np.ndarray, q0: np.ndarray,
          weight: float) -> np.ndarray:
    """(F, N) joints following the (F, 3) positions and (F, 3, 3) rotations."""
    low, high = model.lowerPositionLimit, model.upperPositionLimit
    q, out = q0.copy(), []
    for p, R in zip(position, rotation):
        target = pin.SE3(R, p)
        for _ in range(ITERATIONS):
            pin.framesForwardKinematics(model, data, q)
            pose = data.oMf[tip]
            turn = pose.rotation @ pin.log3(pose.rotation.T @ target.rotation)
            error = np.r_[target.translation - pose.translation, weight * turn]
            if np.linalg.norm(error) < 1e-10:
                break
            J = pin.computeFrameJacobian(model, data, q, tip, pin.LOCAL_WORLD_ALIGNED)
            J = np.r_[J[:3], weight * J[3:]]
            q = np.clip(q + J.T @ np.linalg.solve(J @ J.T + DAMPING * np.eye(6), error),
                        low, high)
        out.append(q.copy())
    return np.array(out)


def run(job: dict) -> dict:
    model = pin.buildModelFromUrdf(job["urdf"])
    data = model.createData()
    tip = model.getFrameId(job["tip"])
    args = (np.asarray(job["position"], float), np.asarray(job["rotation"], float),
            np.asarray(job["q0"], float), float(job["orientation_weight"]))
    track(model, data, tip, *args)                                  # untimed first call
    start = time.perf_counter()
    q = track(model, data, tip, *args)
    return {"ok": True, "error": None, "q": q.tolist(),
            "seconds": time.perf_counter() - start}


def main(argv: list[str]) -> int:
    return serve(argv, __doc__ or "", run,
                 lambda: {"pin": pin.__version__, "numpy": np.__version__})


if __name__ == "__main__":
    sys.exit(main(sys.argv))
