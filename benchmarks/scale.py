"""How the pipeline's cost grows: the 3D part against cameras, frames and people, and
``mocap batch`` throughput against Ray workers, with an Amdahl projection.

The 3D part is what ``mocap run`` does after it has the 2D: association
(:func:`mocap.association.take_people`), triangulation and skeleton adjustment
(:func:`mocap.reconstruction_stage.triangulate_and_adjust`) and the filter
(:func:`mocap.reconstruction_stage.filter_motion`), on synthetic crowd takes
(:func:`mocap.synthetic.crowd.crowd_take`: detector-like noise, outliers, dropouts, swaps, 2D
not associated across cameras) at 30 fps with default settings (``[triangulation] people`` set
to the take's). One setting changes at a time from 4 cameras, 1,000 frames, 1 person (the
people at 240 frames: the generator finds no paths for 4 people that cross without overlapping
over longer takes). Wall time
and this process's CPU time are both given: on a shared machine the wall time includes waiting
for the cores.

Batch throughput: ``--batch-takes`` sample sessions (4 cameras, 300 frames, 2D given) through
:func:`mocap.batch.run_batch` on one local Ray instance of 2 CPUs, with 1 then 2 workers, from
scratch each time (outputs and caches removed). The serial fraction ``s`` follows from the
speed-up on 2 workers (``S2 = T1 / T2``, ``s = 2 / S2 - 1``) and projects ``S(N) = 1 / (s + (1 -
s) / N)``.

Run: python benchmarks/scale.py [--largest 100000] [--batch-takes 6]
(writes the "Scaling" section of benchmarks/RESULTS.md and benchmarks/scale.png)
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import traceback
from dataclasses import replace
from pathlib import Path

import numpy as np

from mocap.association import take_people
from mocap.config import SessionConfig
from mocap.reconstruction_stage import filter_motion, triangulate_and_adjust
from mocap.synthetic.crowd import crowd_take

HERE = Path(__file__).resolve().parent
RESULTS, PLOT = HERE / "RESULTS.md", HERE / "scale.png"
BEGIN, END = "<!-- begin scale -->", "<!-- end scale -->"
BASE = {"cameras": 4, "frames": 1000, "people": 1}
SWEEPS = {"cameras": [2, 4, 8, 16], "frames": [100, 1000, 10_000, 30_000], "people": [1, 2, 3, 4, 5]}
STAGES = ("association", "triangulation + skeleton", "filter")
PROJECTED = (4, 8, 16, 64)
PEOPLE_FRAMES = 240          # 8 s: as the crowd tests; 4 people over 33 s find no paths


def time_3d(cameras: int, frames: int, people: int, seed: int = 0) -> dict[str, float]:
    """Seconds (wall) of each 3D stage and of the whole, and the CPU seconds of the whole."""
    take = crowd_take(people, cameras, n_frames=frames, seed=seed)
    config = SessionConfig()
    config = replace(config, triangulation=replace(config.triangulation, people=people))
    wall, cpu = [time.perf_counter()], time.process_time()
    keypoints, _ = take_people(take.rig, take.keypoints, config.triangulation)
    wall.append(time.perf_counter())
    motion, _ = triangulate_and_adjust(take.rig, keypoints, config)
    wall.append(time.perf_counter())
    filter_motion(motion, config)
    wall.append(time.perf_counter())
    out = dict(zip(STAGES, np.diff(wall).tolist()))
    return {**out, "total": wall[-1] - wall[0], "cpu": time.process_time() - cpu}


def sweep_3d(largest: int) -> list[dict[str, float]]:
    """One row per setting: the sweeps of SWEEPS, and ``largest`` frames at the base."""
    time_3d(2, 100, 2)                          # warm-up: lazy imports, first-call caches
    rows = []
    sweeps = {**SWEEPS, "frames": SWEEPS["frames"] + ([largest] if largest else [])}
    for name, values in sweeps.items():
        for value in values:
            setting = {**BASE, name: value}
            if name == "people":                    # the generator finds people who cross but
                setting["frames"] = PEOPLE_FRAMES   # never overlap only over short takes
            try:
                times = time_3d(setting["cameras"], setting["frames"], setting["people"])
            except MemoryError as e:                 # a finding, not the end of the sweep
                rows.append({"varied": name, **setting, "failed": out_of_memory(e)})
                print(f"{name} {value}: {rows[-1]['failed']}", flush=True)
                continue
            rows.append({"varied": name, **setting, **times})
            print(f"{name} {value}: {times['total']:.2f} s wall, {times['cpu']:.2f} s CPU",
                  flush=True)
    return rows


def out_of_memory(error: MemoryError) -> str:
    """'out of memory in <our module>:<line> <function>' (the deepest frame of our code)."""
    ours = [f for f in traceback.extract_tb(error.__traceback__)
            if "/mocap/" in f.filename or "/calibration/" in f.filename]
    where = f" in {Path(ours[-1].filename).parent.name}/{Path(ours[-1].filename).name}:" \
            f"{ours[-1].lineno} {ours[-1].name}()" if ours else ""
    return f"out of memory{where}{f' ({error})' if str(error) else ''}"


def batch_throughput(n_takes: int) -> dict[int, float]:
    """Seconds of a batch of ``n_takes`` sample takes with 1 and 2 Ray workers."""
    import ray

    from mocap.batch import run_batch
    from mocap.synthetic.sample_session import make_sample_session
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    folder = Path(tempfile.mkdtemp(prefix="mocap-scale-"))
    try:
        for i in range(n_takes):
            make_sample_session(folder / f"take{i}", n_frames=300, board_videos=False, seed=i)
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        seconds = {}
        for workers in (2, 1, 2):                    # the first run warms Ray's workers up
            for take in folder.iterdir():
                shutil.rmtree(take / "output", ignore_errors=True)
            start = time.perf_counter()
            rows = run_batch([folder], ray="auto", workers=workers, progress=False)
            seconds[workers] = time.perf_counter() - start
            if any(row["status"] != "ok" for row in rows):
                raise RuntimeError(f"a take failed: {rows}")
        return seconds
    finally:
        ray.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


def amdahl(t1: float, t2: float) -> tuple[float, dict[int, float]]:
    """Serial fraction from the 1- and 2-worker times, and the projected speed-ups."""
    s = float(np.clip(2 * t2 / t1 - 1, 0.0, 1.0))
    return s, {n: 1 / (s + (1 - s) / n) for n in PROJECTED}


def plot(rows: list[dict[str, float]], batch: dict[int, float], path: Path) -> None:
    """Wall time per stage against each setting, and the batch speed-up with its projection."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 4, figsize=(17, 4))
    for ax, name in zip(axes, SWEEPS):
        part = [r for r in rows if r["varied"] == name and "failed" not in r]
        x = [r[name] for r in part]
        for stage in (*STAGES, "total"):
            ax.plot(x, [r[stage] for r in part], "o-", label=stage)
        if name == "frames":
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel(name)
        ax.set_ylabel("seconds (wall)")
        ax.set_title(f"3D part vs {name}")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    s = amdahl(batch[1], batch[2])[0]
    n = np.array([1, 2, *PROJECTED])
    axes[3].plot(n, 1 / (s + (1 - s) / n), "--", label=f"Amdahl, serial fraction {s:.2f}")
    axes[3].plot([1, 2], [1.0, batch[1] / batch[2]], "o", label="measured (2-core machine)")
    axes[3].plot(n, n, ":", color="grey", label="ideal")
    axes[3].set_xscale("log", base=2)
    axes[3].set_yscale("log", base=2)
    axes[3].set_xlabel("Ray workers")
    axes[3].set_ylabel("speed-up over 1 worker")
    axes[3].set_title("mocap batch throughput")
    axes[3].legend(fontsize=8)
    axes[3].grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def section(rows: list[dict[str, float]], batch: dict[int, float], n_takes: int,
            command: str) -> str:
    """The markdown section: command, load, the 3D table, the batch table."""
    s, projected = amdahl(batch[1], batch[2])
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    lines = [BEGIN, "## Scaling: the 3D part and `mocap batch`", "",
             (f"`{command}` (writes this section and `benchmarks/scale.png`). Machine: "
             f"{os.cpu_count()} cores shared with other jobs (load average {load} at the "
             "end): wall time includes waiting for a core, CPU time is this process's own."),
             "", "![scaling](scale.png)", "",
             ("3D part (association, triangulation + skeleton adjustment, filter) on synthetic "
             "crowd takes, one setting varied from 4 cameras, 1,000 frames, 1 person (people: at "
              "240 frames, as the crowd generator needs):"), "",
             ("| varied | cameras | frames | people | association s | triangulation + "
             "skeleton s | filter s | total s (wall) | CPU s | ms per frame |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "failed" in r:
            lines.append(f"| {r['varied']} | {r['cameras']} | {r['frames']:,} | {r['people']} "
                         f"| failed: {r['failed']} | | | | | |")
            continue
        lines.append(f"| {r['varied']} | {r['cameras']} | {r['frames']:,} | {r['people']} | "
                     + " | ".join(f"{r[k]:.2f}" for k in (*STAGES, "total", "cpu"))
                     + f" | {1000 * r['total'] / r['frames']:.2f} |")
    lines += ["", (f"`mocap batch` of {n_takes} sample takes (4 cameras, 300 frames, 2D given; "
              "each take's whole run: 3D part, exports, report) on a local Ray instance of 2 "
              "CPUs:"), "", "| Ray workers | seconds | takes per minute | speed-up |",
              "|---|---|---|---|"]
    for w in (1, 2):
        lines.append(f"| {w} | {batch[w]:.1f} | {60 * n_takes / batch[w]:.1f} | "
                     f"{batch[1] / batch[w]:.2f} |")
    lines += ["", f"Serial fraction from these (Amdahl): s = {s:.2f}; projected speed-up "
              + ", ".join(f"{n} workers {v:.1f}x" for n, v in projected.items())
              + ". The projection assumes as many free cores as workers; here 2 workers "
              "share 2 cores with the driver and the other jobs on the machine, so the "
              "measured serial fraction includes that contention and the projection is "
              "pessimistic for a cluster of idle nodes.", END]
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace (or append) the section between BEGIN and END in RESULTS."""
    old = RESULTS.read_text(encoding="utf-8")
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + text + old[old.index(END) + len(END):]
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    RESULTS.write_text(new, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--largest", type=int, default=100_000,
                        help="frames of the longest take, at the base setting only (0: none)")
    parser.add_argument("--batch-takes", type=int, default=12)
    args = parser.parse_args()
    command = (f"python benchmarks/scale.py --largest {args.largest} "
               f"--batch-takes {args.batch_takes}")
    rows = sweep_3d(args.largest)
    batch = batch_throughput(args.batch_takes)
    print(f"batch: {batch}", flush=True)
    plot(rows, batch, PLOT)
    write_section(section(rows, batch, args.batch_takes, command))
    print(f"wrote {RESULTS} and {PLOT}")


if __name__ == "__main__":
    main()
