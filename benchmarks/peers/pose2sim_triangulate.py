"""Triangulate 2D keypoints with Pose2Sim's ``triangulation_from_best_cameras``: the peer side of
``benchmarks/reconstruction_vs_peers.py`` and ``benchmarks/triangulation_vs_pose2sim.py``.

Runs with the peer's own interpreter, so it imports only Pose2Sim, numpy, OpenCV and the
standard library, and talks through two JSON files:

    python pose2sim_triangulate.py JOB.json RESULT.json

JOB.json::

    {"method": "best_cameras" | "best_cameras_lr",   # handle_LR_swap false | true
     "cameras": [{"name": "cam_1", "K": 3x3, "dist": [k1, k2, p1, p2, k3],
                  "rvec": [3], "tvec": [3], "size": [w, h]}, ...],   # world-to-camera, metres
     "points": (C, F, J, 2) pixels in the distorted images, NaN where not seen,
     "scores": (C, F, J) detector likelihoods, NaN where not seen,
     "swap": (J,) index of each joint's left/right twin (itself on the midline),
     "triangulation": {...},        # Pose2Sim's [triangulation] keys, handle_LR_swap set here
     "warmup_frames": n,            # frames of an untimed first call
     "max_seconds": s | null}       # stop the timed call after s seconds (and the warm-up)

RESULT.json::

    {"ok": bool, "error": str | null, "xyz": (F, J, 3) metres, NaN where Pose2Sim drops the point
     or past the last point done, "points": joint-points done, "frames": whole frames done,
     "seconds": s of the timed call up to its last point done, "versions": {...}}

Each frame goes through the steps of Pose2Sim's ``triangulate_all`` for one person: the 2D is
undistorted to ``getOptimalNewCameraMatrix`` pixels when ``undistort_points`` (as its
``computeP`` / ``retrieve_calib_params`` set up from the calibration), likelihoods under
``likelihood_threshold_triangulation`` become NaN, then ``triangulation_from_best_cameras`` runs
for every joint with its left/right twin as the swapped coordinates.
"""

from __future__ import annotations

import signal
import sys
import time
from importlib.metadata import version

import cv2
import numpy as np
from peer_job import serve  # beside this script (run as one: its folder is on sys.path)
from Pose2Sim.triangulation import triangulation_from_best_cameras


def calibration(cameras: list[dict], undistort: bool) -> tuple[list[np.ndarray], dict]:
    """(projection matrices, calib_params) as Pose2Sim's ``computeP`` and
    ``retrieve_calib_params`` build them from a calibration file."""
    params: dict[str, list] = {"S": [], "K": [], "dist": [], "optim_K": [], "R": [], "T": []}
    projections = []
    for c in cameras:
        K, dist = np.asarray(c["K"], float), np.asarray(c["dist"], float)
        size = [int(s) for s in c["size"]]
        optim_K = cv2.getOptimalNewCameraMatrix(K, dist, size, 1, size)[0]
        rvec, tvec = np.asarray(c["rvec"], float), np.asarray(c["tvec"], float)
        for key, value in zip(params, (np.asarray(size), K, dist, optim_K, rvec, tvec)):
            params[key].append(value)
        R = cv2.Rodrigues(rvec)[0]
        H = np.block([[R, tvec.reshape(3, 1)], [np.zeros(3), 1]])
        projections.append(np.block([optim_K if undistort else K, np.zeros((3, 1))]) @ H)
    return projections, params


class Capped(Exception):
    """The time cap interrupted Pose2Sim mid-point."""


def interrupt(signum: int, frame: object) -> None:
    raise Capped


def solve(job: dict, points: np.ndarray, scores: np.ndarray, max_seconds: float | None
          ) -> tuple[np.ndarray, int, float]:
    """(xyz (F, J, 3) NaN where dropped or not reached, joint-points done, seconds up to the
    last one) for (C, F, J, 2) pixels and (C, F, J) likelihoods, one Pose2Sim call per joint;
    a point running past ``max_seconds`` is interrupted (one point can take minutes at 16
    cameras)."""
    if job["method"] not in ("best_cameras", "best_cameras_lr"):
        raise ValueError(f"unknown method {job['method']!r}")
    config = {"triangulation": {**job["triangulation"],
                                "handle_LR_swap": job["method"] == "best_cameras_lr"}}
    projections, params = calibration(job["cameras"],
                                      config["triangulation"]["undistort_points"])
    xyz = np.full((*points.shape[1:3], 3), np.nan)
    done_at: list[float] = []
    start = time.perf_counter()
    signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, max_seconds or 0)
    try:
        triangulate_frames(config, np.asarray(job["swap"], int), points, scores, projections,
                           params, xyz, done_at)
    except Capped:
        pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return xyz, len(done_at), (done_at[-1] - start) if done_at else 0.0


def triangulate_frames(config: dict, swap: np.ndarray, points: np.ndarray, scores: np.ndarray,
                       projections: list[np.ndarray], params: dict, xyz: np.ndarray,
                       done_at: list[float]) -> None:
    """Fill ``xyz`` (F, J, 3) frame by frame as ``triangulate_all`` does (``swap`` (J,): each
    joint's left/right twin), appending the clock time each joint-point is done to
    ``done_at``."""
    settings = config["triangulation"]
    undistort = settings["undistort_points"]
    n_cams, n_frames, n_joints, _ = points.shape
    for f in range(n_frames):
        x, y, lik = points[:, f, :, 0].copy(), points[:, f, :, 1].copy(), scores[:, f].copy()
        if undistort:
            for i in range(n_cams):
                u = cv2.undistortPoints(points[i, f].reshape(-1, 1, 2).astype("float32"),
                                        params["K"][i], params["dist"][i], None,
                                        params["optim_K"][i])
                x[i], y[i] = u[:, 0, 0], u[:, 0, 1]
        with np.errstate(invalid="ignore"):
            low = lik < settings["likelihood_threshold_triangulation"]
        x[low], y[low], lik[low] = np.nan, np.nan, np.nan
        for j in range(n_joints):
            xyz[f, j] = triangulation_from_best_cameras(
                config, np.array((x[:, j], y[:, j], lik[:, j])),
                np.array((x[:, swap[j]], y[:, swap[j]], lik[:, swap[j]])), projections,
                params)[0]
            done_at.append(time.perf_counter())


def run(job: dict) -> dict:
    points = np.asarray(job["points"], float)
    scores = np.asarray(job["scores"], float)
    n, cap = int(job["warmup_frames"]), job.get("max_seconds")
    solve(job, points[:, :n], scores[:, :n], cap)
    xyz, done, seconds = solve(job, points, scores, cap)
    return {"ok": True, "error": None, "xyz": np.where(np.isfinite(xyz), xyz, np.nan).tolist(),
            "points": done, "frames": done // points.shape[2], "seconds": seconds}


def main(argv: list[str]) -> int:
    return serve(argv, __doc__ or "", run,
                 lambda: {"pose2sim": version("pose2sim"), "numpy": np.__version__,
                          "opencv": cv2.__version__})


if __name__ == "__main__":
    sys.exit(main(sys.argv))
