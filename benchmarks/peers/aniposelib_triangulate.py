"""Triangulate 2D keypoints with aniposelib: the peer side of
``benchmarks/reconstruction_vs_peers.py``.

Runs with the peer's own interpreter, so it imports only aniposelib, numpy, OpenCV and the
standard library, and talks through two JSON files:

    python aniposelib_triangulate.py JOB.json RESULT.json

JOB.json::

    {"method": "triangulate" | "triangulate_ransac" | "triangulate_optim",
     "cameras": [{"name": "cam_1", "K": 3x3, "dist": [k1, k2, p1, p2, k3],
                  "rvec": [3], "tvec": [3], "size": [w, h]}, ...],   # world-to-camera, metres
     "points": (C, F, J, 2) pixels in the distorted images, NaN where not seen,
     "bones": [[a, b], ...],        # joint index pairs, triangulate_optim's constraints
     "warmup_frames": n}            # frames of an untimed first call (jax compiles per shape)

RESULT.json::

    {"ok": bool, "error": str | null, "xyz": (F, J, 3) metres, NaN where none,
     "seconds": s of the timed call, "versions": {...}}

``triangulate_ransac`` raises on a point no camera sees (PEERS.md), so it is given only the
points seen by 2 or more cameras; the others stay NaN, as every method leaves them.
"""

from __future__ import annotations

import sys
import time

import aniposelib
import cv2
import numpy as np
from aniposelib.cameras import Camera, CameraGroup
from peer_job import serve  # beside this script (run as one: its folder is on sys.path)


def make_group(cameras: list[dict]) -> CameraGroup:
    """aniposelib's CameraGroup from OpenCV K, 5 distortion coefficients and world-to-camera
    rvec / tvec."""
    return CameraGroup([Camera(matrix=np.asarray(c["K"], float),
                               dist=np.asarray(c["dist"], float), size=c["size"],
                               rvec=np.asarray(c["rvec"], float),
                               tvec=np.asarray(c["tvec"], float), name=c["name"])
                        for c in cameras])


def solve(group: CameraGroup, method: str, points: np.ndarray, bones: list) -> np.ndarray:
    """(C, F, J, 2) pixels -> (F, J, 3) with ``method``."""
    n_cams, n_frames, n_joints, _ = points.shape
    flat = points.reshape(n_cams, -1, 2)
    if method == "triangulate":
        return group.triangulate(flat, undistort=True).reshape(n_frames, n_joints, 3)
    if method == "triangulate_ransac":
        seen = np.isfinite(flat[..., 0]).sum(0) >= 2                       # (N,)
        out = np.full((flat.shape[1], 3), np.nan)
        out[seen] = group.triangulate_ransac(flat[:, seen], undistort=True)[0]
        return out.reshape(n_frames, n_joints, 3)
    if method == "triangulate_optim":
        return group.triangulate_optim(points, constraints=bones)
    raise ValueError(f"unknown method {method!r}")


def run(job: dict) -> dict:
    group = make_group(job["cameras"])
    points = np.asarray(job["points"], float)
    solve(group, job["method"], points[:, :int(job["warmup_frames"])], job["bones"])
    start = time.perf_counter()
    xyz = solve(group, job["method"], points, job["bones"])
    seconds = time.perf_counter() - start
    return {"ok": True, "error": None, "xyz": np.where(np.isfinite(xyz), xyz, np.nan).tolist(),
            "seconds": seconds}


def main(argv: list[str]) -> int:
    return serve(argv, __doc__ or "", run,
                 lambda: {"aniposelib": getattr(aniposelib, "__version__", "?"),
                          "numpy": np.__version__, "opencv": cv2.__version__})


if __name__ == "__main__":
    sys.exit(main(sys.argv))
