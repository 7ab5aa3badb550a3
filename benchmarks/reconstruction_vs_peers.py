"""3D reconstruction side by side with aniposelib 0.8 and Pose2Sim 0.10, on the same takes and 2D.

The 4-camera coco17 take of ``benchmarks/reconstruction.py`` (CMU clip, generated studio, issue
17's detector-like errors). Ours: plain DLT, robust triangulation, robust triangulation +
skeleton adjustment; aniposelib (in its own virtual environment, through
``benchmarks/peers/aniposelib_triangulate.py``): ``triangulate`` (DLT), ``triangulate_ransac``
and ``triangulate_optim`` (the skeleton's bones as its length constraints); with
``--pose2sim-python``, Pose2Sim's ``triangulation_from_best_cameras`` beside our robust
triangulation, without and with its left/right swap handling (through
``benchmarks/peers/pose2sim_triangulate.py``, with the [triangulation] settings of its demo
Config.toml and undistortion on, as the studio's lenses are strongly distorted). Each method
runs in turn, ours then the peers', once each after an untimed first call (on the first
``--warmup-frames`` frames; on the whole take for the DLTs, as jax compiles aniposelib's per
array shape); each is scored against the ground truth. ``--dlt-seconds`` gives the two plain
DLTs a take of their own, sampled at ``--dlt-fps``, long enough to time.

Run: python benchmarks/reconstruction_vs_peers.py --peer-python ENV/bin/python
[--pose2sim-python P2S/bin/python] [--dlt-seconds 8 --dlt-fps 1200]
(ENV: ``python3.11 -m venv ENV && ENV/bin/pip install "aniposelib>=0.8,<0.9"``;
P2S: ``python3.11 -m venv P2S && P2S/bin/pip install pose2sim==0.10.49``)
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
POSE2SIM_SCRIPT = PEER_SCRIPT.with_name("pose2sim_triangulate.py")
POSE2SIM_METHODS = ("best_cameras", "best_cameras_lr")           # handle_LR_swap false, true
# Pose2Sim's [triangulation] settings of its demo Config.toml; undistortion on for our lenses
POSE2SIM_SETTINGS = {"reproj_error_threshold_triangulation": 15.0,
                     "likelihood_threshold_triangulation": 0.3,
                     "min_cameras_for_triangulation": 2, "undistort_points": True}
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


def pose2sim_job(rig: CameraRig, kp: Keypoints2D, method: str, warmup_frames: int,
                 max_seconds: float | None = None) -> dict:
    """Pose2Sim's JOB.json: ``peer_job``'s plus likelihoods (C, F, J) NaN where unseen, each
    joint's left/right twin (J,), its settings, and a cap in seconds on the timed call."""
    job = peer_job(rig, kp, method, warmup_frames)
    seen = np.isfinite(kp.xy).all(-1) & (kp.score > 0)                    # (C, F, P, J)
    return {**job, "scores": np.where(seen, kp.score, np.nan)[:, :, 0].tolist(),
            "swap": kp.skeleton.mirror.tolist(), "triangulation": POSE2SIM_SETTINGS,
            "max_seconds": max_seconds}


def run_peer(python: Path, job: dict, kp: Keypoints2D, workdir: Path,
             script: Path = PEER_SCRIPT) -> tuple[Motion3D | None, float | None, str | None]:
    """(motion, seconds, error) of the peer on ``job``, run as ``python script``; the motion
    holds the frames the peer did (all but where a cap in seconds stopped it)."""
    path, out, log = (workdir / f"{job['method']}.{ext}" for ext in ("job.json", "result.json",
                                                                      "log"))
    path.write_text(json.dumps(job))
    with log.open("w") as f:
        try:
            subprocess.run([str(python), str(script), str(path), str(out)], stdout=f,
                           stderr=subprocess.STDOUT, timeout=PEER_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            return None, None, f"timed out after {PEER_TIMEOUT_S} s"
    if not out.exists():
        return None, None, f"the peer script wrote no result; see {log}"
    result = json.loads(out.read_text())
    if not result["ok"]:
        return None, None, result["error"]
    xyz = np.asarray(result["xyz"], float)[:result.get("frames"), None]   # (F, 1, J, 3)
    return Motion3D(xyz, kp.skeleton, kp.fps), result["seconds"], None


def row(method: str, motion: Motion3D | None, seconds: float | None, error: str | None,
        truth: Motion3D) -> str:
    """'| method | mean / p95 | missing | bone CV | s | joint-points/s |'."""
    if motion is None:
        return f"| {method} | failed: {error} | | | | |"
    rate = motion.xyz[..., 0].size / seconds
    return f"| {method} | {scores(motion, truth)} | {seconds:.2f} | {rate:,.0f} |"


def short_of(kp: Keypoints2D, n: int) -> Keypoints2D:
    """The first ``n`` frames of ``kp``."""
    return dataclasses.replace(kp, xy=kp.xy[:, :n], score=kp.score[:, :n], track_id=None
                               if kp.track_id is None else kp.track_id[:, :n])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peer-python", type=Path, required=True,
                        help="python of a virtual environment with aniposelib 0.8")
    parser.add_argument("--pose2sim-python", type=Path,
                        help="python of a virtual environment with Pose2Sim 0.10.49")
    parser.add_argument("--clip", default="131_01")
    parser.add_argument("--fps", type=float, default=60.0)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--dlt-seconds", type=float,
                        help="a take of its own for the plain DLTs (default: the main take)")
    parser.add_argument("--dlt-fps", type=float, default=1200.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup-frames", type=int, default=10)
    args = parser.parse_args()
    for python, setup in ((args.peer_python, "'aniposelib>=0.8,<0.9'"),
                          (args.pose2sim_python, "pose2sim==0.10.49")):
        if python is not None and not python.exists():
            sys.exit(f"no python at {python}; create the peer's environment with "
                     f"python3.11 -m venv ENV && ENV/bin/pip install {setup}")
    truth, rig, kp, take = make_take(args.clip, "coco17", args.fps, args.seconds, 4, args.seed)
    dlt_take = (truth, rig, kp, take) if args.dlt_seconds is None else make_take(
        args.clip, "coco17", args.dlt_fps, args.dlt_seconds, 4, args.seed)
    short = short_of(kp, args.warmup_frames)
    print(f"{take}; {truth.xyz[..., 0].size:,} joint-points")
    if args.dlt_seconds is not None:
        print(f"plain DLT rows: {dlt_take[3]}; {dlt_take[0].xyz[..., 0].size:,} joint-points")
    print("| method | mean / p95 mm | missing | bone CV | s | joint-points/s |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for step, method in zip(OURS, PEERS):
            dlt = method == "triangulate"
            t_truth, t_rig, t_kp, _ = dlt_take if dlt else (truth, rig, kp, take)
            print(row(f"ours: {step}", *run_ours(step, t_rig, t_kp, t_kp if dlt else short),
                      None, t_truth), flush=True)
            job = peer_job(t_rig, t_kp, method, t_kp.n_frames if dlt else args.warmup_frames)
            print(row(f"aniposelib 0.8: `{method}`", *run_peer(args.peer_python, job, t_kp,
                                                                 Path(tmp)), t_truth), flush=True)
            if method != "triangulate_ransac" or args.pose2sim_python is None:
                continue
            for p2s in POSE2SIM_METHODS:
                job = pose2sim_job(rig, kp, p2s, args.warmup_frames)
                print(row(f"Pose2Sim 0.10.49: `{p2s}`", *run_peer(
                    args.pose2sim_python, job, kp, Path(tmp), POSE2SIM_SCRIPT), truth), flush=True)

if __name__ == "__main__":
    main()
