"""3D reconstruction side by side with aniposelib 0.8, on the same take and the same 2D.

The 4-camera coco17 take of ``benchmarks/reconstruction.py`` (CMU clip, generated studio, issue
17's detector-like errors). Ours: plain DLT, robust triangulation, robust triangulation +
skeleton adjustment; aniposelib (in its own virtual environment, through
``benchmarks/peers/aniposelib_triangulate.py``): ``triangulate`` (DLT), ``triangulate_ransac``
and ``triangulate_optim`` (the skeleton's bones as its length constraints). The six run in
turn, ours then the peer's, once each after an untimed first call (on the first
``--warmup-frames`` frames; on the whole take for the DLTs, as jax compiles aniposelib's per
array shape); each is scored against the ground truth.

Run: python benchmarks/reconstruction_vs_peers.py --peer-python ENV/bin/python
(ENV: ``python3.11 -m venv ENV && ENV/bin/pip install "aniposelib>=0.8,<0.9"``)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from reconstruction import make_take, scores  # beside this script

from calibration.camera import CameraRig
from mocap.keypoints import Keypoints2D
from mocap.skeleton_adjustment import fit_skeleton
from mocap.triangulation import TriangulationConfig, triangulate, triangulate_views
from rigs.motion import Motion3D

PEER_SCRIPT = Path(__file__).resolve().parent / "peers" / "aniposelib_triangulate.py"
PEER_TIMEOUT_S = 1800


def ours_dlt(rig: CameraRig, kp: Keypoints2D) -> Motion3D:
    return triangulate(rig, kp, TriangulationConfig(method="dlt"))


def ours_robust(rig: CameraRig, kp: Keypoints2D) -> Motion3D:
    return triangulate_views(rig, kp).motion


def ours_adjusted(rig: CameraRig, kp: Keypoints2D) -> Motion3D:
    robust = triangulate_views(rig, kp)
    return fit_skeleton(rig, kp, robust.motion, robust.kept, swapped=robust.swapped).motion


OURS: dict[str, Callable[[CameraRig, Keypoints2D], Motion3D]] = {
    "plain DLT": ours_dlt, "robust triangulation": ours_robust,
    "robust + skeleton adjustment": ours_adjusted}
PEERS = ("triangulate", "triangulate_ransac", "triangulate_optim")    # paired with OURS


def run_ours(step: str, rig: CameraRig, kp: Keypoints2D, warmup: Keypoints2D
             ) -> tuple[Motion3D, float]:
    """(motion, seconds of the timed call) of our ``step``, after an untimed call on ``warmup``."""
    OURS[step](rig, warmup)
    start = time.perf_counter()
    motion = OURS[step](rig, kp)
    return motion, time.perf_counter() - start


def peer_job(rig: CameraRig, kp: Keypoints2D, method: str, warmup_frames: int) -> dict:
    """The peer's JOB.json for one person's 2D: cameras as OpenCV K, 5 distortion
    coefficients, world-to-camera rvec / tvec (metres); points (C, F, J, 2), NaN where unseen."""
    seen = np.isfinite(kp.xy).all(-1) & (kp.score > 0)                    # (C, F, P, J)
    points = np.where(seen[..., None], kp.xy, np.nan)[:, :, 0]            # (C, F, J, 2)
    cameras = [{"name": c.name, "K": c.K.tolist(), "dist": np.ravel(c.dist)[:5].tolist(),
                "rvec": np.ravel(c.rvec).tolist(), "tvec": np.ravel(c.t).tolist(),
                "size": list(c.size)} for c in rig.subset(kp.cameras)]
    return {"method": method, "cameras": cameras, "points": points.tolist(),
            "bones": [list(b) for b in kp.skeleton.bones], "warmup_frames": warmup_frames}


def run_peer(python: Path, job: dict, kp: Keypoints2D, workdir: Path
             ) -> tuple[Motion3D | None, float | None, str | None]:
    """(motion, seconds, error) of the peer on ``job``, run as ``python PEER_SCRIPT``."""
    path, out, log = (workdir / f"{job['method']}.{ext}" for ext in ("job.json", "result.json",
                                                                      "log"))
    path.write_text(json.dumps(job))
    with log.open("w") as f:
        try:
            subprocess.run([str(python), str(PEER_SCRIPT), str(path), str(out)], stdout=f,
                           stderr=subprocess.STDOUT, timeout=PEER_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            return None, None, f"timed out after {PEER_TIMEOUT_S} s"
    if not out.exists():
        return None, None, f"the peer script wrote no result; see {log}"
    result = json.loads(out.read_text())
    if not result["ok"]:
        return None, None, result["error"]
    xyz = np.asarray(result["xyz"], float)[:, None]                       # (F, 1, J, 3)
    return Motion3D(xyz, kp.skeleton, kp.fps), result["seconds"], None


def row(method: str, motion: Motion3D | None, seconds: float | None, error: str | None,
        truth: Motion3D) -> str:
    """'| method | mean / p95 | missing | bone CV | s | joint-points/s |'."""
    if motion is None:
        return f"| {method} | failed: {error} | | | | |"
    rate = truth.xyz[..., 0].size / seconds
    return f"| {method} | {scores(motion, truth)} | {seconds:.2f} | {rate:,.0f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peer-python", type=Path, required=True,
                        help="python of a virtual environment with aniposelib 0.8")
    parser.add_argument("--clip", default="131_01")
    parser.add_argument("--fps", type=float, default=60.0)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup-frames", type=int, default=10)
    args = parser.parse_args()
    if not args.peer_python.exists():
        sys.exit(f"no python at {args.peer_python}; create the peer's environment with "
                 "python3.11 -m venv ENV && ENV/bin/pip install 'aniposelib>=0.8,<0.9'")
    truth, rig, kp, take = make_take(args.clip, "coco17", args.fps, args.seconds, 4, args.seed)
    n = args.warmup_frames
    short = dataclasses.replace(kp, xy=kp.xy[:, :n], score=kp.score[:, :n], track_id=None
                                if kp.track_id is None else kp.track_id[:, :n])
    print(f"{take}; {truth.xyz[..., 0].size:,} joint-points")
    print("| method | mean / p95 mm | missing | bone CV | s | joint-points/s |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for step, method in zip(OURS, PEERS):
            dlt = method == "triangulate"
            print(row(f"ours: {step}", *run_ours(step, rig, kp, kp if dlt else short), None,
                      truth), flush=True)
            job = peer_job(rig, kp, method, kp.n_frames if dlt else args.warmup_frames)
            print(row(f"aniposelib 0.8: `{method}`", *run_peer(args.peer_python, job, kp,
                                                                 Path(tmp)), truth), flush=True)


if __name__ == "__main__":
    main()
