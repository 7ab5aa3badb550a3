"""How robust triangulation's cost grows from 2 to 16 cameras: ours and Pose2Sim 0.10.49.

Takes of ``benchmarks/reconstruction.py`` (CMU clip, generated studio of 2, 4, 8 and 16
cameras, issue 17's detector-like errors). Ours: robust triangulation on the whole take;
Pose2Sim's ``triangulation_from_best_cameras`` without and with its left/right swap handling
(through ``benchmarks/peers/pose2sim_triangulate.py``, settings as in
``benchmarks/reconstruction_vs_peers.py``), each of its calls interrupted after ``--cap-s``
seconds (one point can take minutes at 16 cameras with the swap handling). Each runs once after
an untimed call on the first ``--warmup-frames`` frames, ours then Pose2Sim's, per camera count.
Rates count the joint-points done; growth is the time per joint-point relative to 4 cameras;
accuracy is scored on the whole frames Pose2Sim did (ours on the same frames).

Run: python benchmarks/triangulation_vs_pose2sim.py --pose2sim-python P2S/bin/python
(P2S: ``python3.11 -m venv P2S && P2S/bin/pip install pose2sim==0.10.49``)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import reconstruction_vs_peers as vs  # beside this script, as is reconstruction
from reconstruction import make_take, scores

from rigs.motion import Motion3D

CAMERAS = (2, 4, 8, 16)


def first(motion: Motion3D, n: int) -> Motion3D:
    """The first ``n`` frames of ``motion``."""
    return Motion3D(motion.xyz[:n], motion.skeleton, motion.fps)


def measure(python: Path, n_cameras: int, args: argparse.Namespace, workdir: Path
            ) -> list[tuple[str, int, int, float, str]]:
    """(method, frames done, frames in the take, joint-points/s (0: not one point within the
    cap), scores) of each method."""
    truth, rig, kp, _ = make_take(args.clip, "coco17", args.fps, args.seconds, n_cameras,
                                  args.seed)
    warmup = vs.short_of(kp, args.warmup_frames)
    motion, seconds = vs.run_ours("robust triangulation", rig, kp, warmup)
    ours_rate = motion.xyz[..., 0].size / seconds
    out = []
    for method in vs.POSE2SIM_METHODS:
        job = vs.pose2sim_job(rig, kp, method, args.warmup_frames, args.cap_s)
        peer, _, error = vs.run_peer(python, job, kp, workdir, vs.POSE2SIM_SCRIPT)
        if peer is None:
            sys.exit(f"Pose2Sim {method} at {n_cameras} cameras failed: {error}")
        result = json.loads((workdir / f"{method}.result.json").read_text())
        n = peer.n_frames
        if method == vs.POSE2SIM_METHODS[0]:
            out.append(("ours: robust triangulation", truth.n_frames, truth.n_frames, ours_rate,
                        scores(first(motion, n), first(truth, n))))
        out.append((f"Pose2Sim: `{method}`", n, truth.n_frames,
                    result["points"] / result["seconds"] if result["points"] else 0.0,
                    scores(peer, first(truth, n)) if n else "none whole | |"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pose2sim-python", type=Path, required=True,
                        help="python of a virtual environment with Pose2Sim 0.10.49")
    parser.add_argument("--clip", default="131_01")
    parser.add_argument("--fps", type=float, default=60.0)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup-frames", type=int, default=1)
    parser.add_argument("--cap-s", type=float, default=30.0,
                        help="interrupt each Pose2Sim call (warm-up, timed) after this")
    args = parser.parse_args()
    if not args.pose2sim_python.exists():
        sys.exit(f"no python at {args.pose2sim_python}; create the peer's environment with "
                 "python3.11 -m venv P2S && P2S/bin/pip install pose2sim==0.10.49")
    with tempfile.TemporaryDirectory() as tmp:
        rows = {n: measure(args.pose2sim_python, n, args, Path(tmp)) for n in CAMERAS}
    print(f"{args.clip} coco17 at {args.fps:g} fps, {args.seconds:g} s, seed {args.seed}; "
          f"each Pose2Sim call interrupted after {args.cap_s:g} s (frames: whole frames done)")
    print("| cameras | method | frames | joint-points/s | time per point vs 4 cameras "
          "| mean / p95 mm | missing | bone CV |")
    print("|---|---|---|---|---|---|---|---|")
    at4 = {method: rate for method, _, _, rate, _ in rows[4]}
    for n, methods in rows.items():
        for method, done, total, rate, score in methods:
            growth = f"{at4[method] / rate:.2f}x" if rate else "no point done"
            print(f"| {n} | {method} | {done} of {total} | {rate:,.0f} | {growth} | {score} |")


if __name__ == "__main__":
    main()
