"""Calibration accuracy and speed, side by side with aniposelib 0.8 and caliscope 0.11.8 (each
in its own virtual env).

Cases:
  caliscope   caliscope's real 4-webcam session (111 frames at 6 fps, inverted ChArUco board),
              compared with caliscope's own calibration (camera_array.toml): each camera's pose
              relative to cam_0, focal lengths, reprojection RMS and the triangulated board's
              geometry. Ours runs twice (intrinsics solved; caliscope's intrinsics fixed),
              caliscope's scripting API once (its intrinsics fixed), aniposelib three ways.
  studio6     a 6-camera studio of varied lenses (``studio_rig``) and 600 rendered board frames
              (``render_session``, cached in .bench/), the true intrinsics given to every tool,
              compared with the truth after one rigid alignment of the world frames.
  synthetic8  an 8-camera ring (``ring_rig``) and 600 rendered board frames with blur, noise and
              occluding hands, intrinsics solved, compared with the truth likewise.

Every rig is scored on the frame pairing its tool chose and on the timestamps' pairing (by
index for the rendered, lockstep cases).

Run: python benchmarks/calibration_vs_peers.py [--case caliscope|studio6|synthetic8|all]
         [--peer-venv PATH] [--caliscope-venv PATH] [--peers aniposelib caliscope]
Writes the tables to benchmarks/RESULTS.md (only the sections of the cases run are replaced).
The peers run through benchmarks/peers/<peer>_calibrate.py with their env's python; a missing
env is created (python3.11 -m venv, pip install the pinned version).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from numpy.typing import NDArray

from calibration.board import Board, board_from_caliscope
from calibration.board_metrics import board_geometry_rms_mm, reprojection_rms_px
from calibration.board_scan import detect_all
from calibration.camera import Camera, CameraRig
from calibration.compare import compare_rigs
from calibration.detections import BoardDetections
from calibration.errors import CalibrationError
from calibration.footage import find_footage
from calibration.importers import import_calibration
from calibration.io import read_calibration, write_calibration, write_text_atomically
from calibration.sync import SyncTable, read_timestamps, sync_by_index, sync_by_timestamps
from mocap.synthetic.board_views import render_session
from mocap.synthetic.studio import ring_rig, studio_rig

if TYPE_CHECKING:
    from calibration.result import CalibrationReport

FloatArray = NDArray[np.float64]
_HERE = Path(__file__).resolve().parent
REPO = _HERE.parent
CALISCOPE = REPO / ".." / "shared" / "data" / "caliscope_charuco_4cam"
BENCH = REPO / ".bench"
RESULTS = _HERE / "RESULTS.md"
PEER_PACKAGES = {"aniposelib": "aniposelib>=0.8,<0.9", "caliscope": "caliscope==0.11.8"}
PEER_TIMEOUT_S = 3600
REPEAT = 3                          # timed turns of ours and caliscope (see ``alternated``)


# --- one calibration run and its measurements ---------------------------------------------------
@dataclass
class Run:
    """One method's calibration of a case: the rig (None if it failed), its timings and the
    frame pairing it chose (None: the timestamps' pairing)."""

    method: str
    rig: CameraRig | None
    detect_s: float | None = None
    solve_s: float | None = None
    total_s: float | None = None
    error: str | None = None
    reference: bool = False
    pairing: SyncTable | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


# --- ours ---------------------------------------------------------------------------------------
def run_ours(method: str, videos: dict[str, Path], board: Board,
             frame_times: dict[str, FloatArray] | None, workers: int | None,
             intrinsics: CameraRig | None = None) -> tuple[Run, dict[str, BoardDetections]]:
    """Detect the board in ``videos`` (``workers`` processes; None: ``detect_all``'s default,
    as ``mocap calibrate`` runs it) and calibrate with our pipeline,
    end to end (frames matched by ``frame_times``, or by index without them); the detections
    come back for the common metrics, the cameras whose frames it moved in
    ``metrics["frame_shifts"]`` and the solve's stages in ``metrics["solve_split"]``."""
    # Imported here, not above: the spawned detection workers import this script again (as
    # they import mocap.cli under `mocap calibrate`), and the solver's imports (scipy.optimize)
    # would double their start-up.
    from calibration.calibrate import calibrate
    start = time.perf_counter()
    detections = detect_all(videos, board, workers=workers, progress=False)
    detect_s = time.perf_counter() - start
    found = {"boards_found": {name: d.frames.size for name, d in detections.items()},
             "workers": workers or min(len(videos), os.cpu_count() or 1)}
    t0 = time.perf_counter()
    try:
        result = calibrate(detections, board, frame_times=frame_times,
                           intrinsics={c.name: c for c in intrinsics} if intrinsics else None)
    except CalibrationError as e:               # a failure is a result of the benchmark
        solve_s = time.perf_counter() - t0
        return Run(method, None, detect_s, solve_s, detect_s + solve_s,
                   error=f"{type(e).__name__}: {e}", metrics=found), detections
    solve_s = time.perf_counter() - t0
    moved = result.report.frame_shifts
    shifts = {} if moved is None else moved.cameras
    found.update(frame_shifts=shifts, solve_split=solve_split(result.report, solve_s))
    return Run(method, result.rig, detect_s, solve_s, detect_s + solve_s,
               pairing=chosen_pairing(detections, frame_times, shifts),
               metrics=found), detections


def chosen_pairing(detections: dict[str, BoardDetections],
                   frame_times: dict[str, FloatArray] | None, shifts: dict[str, int]
                   ) -> SyncTable:
    """The instants our calibration fitted: the timestamps' (or index) pairing with the
    cameras it moved by ``shifts`` frames."""
    from calibration.frame_shift import shifted_inputs  # see run_ours
    times, table = shifted_inputs(detections, frame_times, shifts)
    if times is not None:
        return sync_by_timestamps(times)
    return table if table is not None else sync_by_index(
        {n: d.n_frames for n, d in detections.items()})


def solve_split(report: CalibrationReport, solve_s: float) -> dict[str, float]:
    """Seconds of the solve's stages (the kept calibration's ``report.timing_s``) and of
    the passes before it (the frame-shift search's: the first calibration, its trials)."""
    split = {k: v for k, v in report.timing_s.items() if k != "total"}
    split["passes before the kept one"] = max(solve_s - report.timing_s["total"], 0.0)
    return split


def alternated(timed: list[Callable[[], Run]], repeat: int) -> list[Run]:
    """Run each of ``timed`` ``repeat`` times, taking turns (a, b, a, b, ...), so that other jobs
    on the shared machine slow them alike. Each Run returned is the one of median total time
    (its detection and solve times with it); ``metrics["totals_s"]`` holds every total."""
    turns: list[list[Run]] = [[] for _ in timed]
    for _ in range(repeat):
        for runs, run in zip(turns, timed):
            runs.append(run())
    kept = []
    for runs in turns:
        done = sorted((r for r in runs if r.total_s is not None), key=lambda r: r.total_s or 0)
        median = done[(len(done) - 1) // 2] if done else runs[0]
        median.metrics["totals_s"] = [r.total_s for r in runs]
        kept.append(median)
    return kept


def speed_notes(runs: list[Run]) -> list[str]:
    """For the two runs timed in turn (``alternated``; ours first), the second's total time
    over ours, turn by turn and of the medians."""
    paired = [r for r in runs if "totals_s" in r.metrics]
    if len(paired) != 2 or not (paired[0].total_s and paired[1].total_s):
        return []
    ours, peer = paired
    a, b = ours.metrics["totals_s"], peer.metrics["totals_s"]
    turns = [f"{q / p:.2f}" for p, q in zip(a, b) if p and q]
    return [(f"Speed, {ours.method} vs {peer.method}: timed in turn {len(a)} times (ours, then "
            f"the peer); totals {', '.join(_num(t, '.2f') for t in a)} s against "
            f"{', '.join(_num(t, '.2f') for t in b)} s; the peer's time over ours "
            f"{', '.join(turns)} per turn, {peer.total_s / ours.total_s:.2f} of the medians "
            "(the rows show the median run of each).")]


# --- the peers, each in its own environment ----------------------------------------------------
def peer_python(venv: Path, peer: str) -> Path:
    """The peer env's python, creating the env (python3.11 -m venv + pip install) if needed."""
    python = venv / "bin" / "python"
    if python.exists() and _imports(python, peer):
        return python
    print(f"creating the {peer} environment in {venv} (once)", file=sys.stderr)
    if not python.exists():
        subprocess.run(["python3.11", "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", PEER_PACKAGES[peer]],
                   check=True)
    if not _imports(python, peer):
        raise RuntimeError(f"{venv}: {peer} still cannot be imported after pip install")
    return python


def _imports(python: Path, module: str) -> bool:
    done = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True,
                          check=False)
    return done.returncode == 0


def board_spec(board: Board) -> dict[str, object]:
    """The job file's board table."""
    return {"squares": list(board.squares), "square_size": board.square_size,
            "marker_size": board.marker_size, "dictionary": board.dictionary,
            "inverted": board.inverted, "legacy_pattern": board.legacy_pattern}


def intrinsics_spec(rig: CameraRig) -> dict[str, dict[str, list]]:
    """The job file's fixed intrinsics table, ``{camera: {matrix, distortions}}``."""
    return {c.name: {"matrix": c.K.tolist(), "distortions": c.dist.tolist()} for c in rig}


def aniposelib_job(videos: dict[str, Path], board: Board, *, skip: int = 20,
                   intrinsics: CameraRig | None = None) -> dict[str, object]:
    """aniposelib_calibrate.py's job: its detection every ``skip`` frames."""
    return {"cameras": [[name, str(path)] for name, path in videos.items()],
            "board": board_spec(board), "skip": skip, "seed": 0,
            "intrinsics": intrinsics_spec(intrinsics) if intrinsics is not None else None}


def caliscope_job(videos: dict[str, Path], board: Board, intrinsics: CameraRig,
                  timestamps: Path | None) -> dict[str, object]:
    """caliscope_calibrate.py's job; cameras named ``cam_<n>`` (as ``read_timestamps`` names
    a caliscope CSV's ports) keep ``n`` as caliscope's cam_id, others get their position."""
    ids = [int(m[1]) if (m := re.fullmatch(r"cam_(\d+)", name)) else i
           for i, name in enumerate(videos)]
    return {"cameras": [[name, str(path), cam_id]
                        for (name, path), cam_id in zip(videos.items(), ids)],
            "board": board_spec(board), "intrinsics": intrinsics_spec(intrinsics),
            "timestamps": str(timestamps) if timestamps is not None else None}


def rig_from_result(cameras: dict[str, dict]) -> CameraRig:
    """The peer's result cameras (K, dist, rvec, tvec, size) as our rig."""
    return CameraRig(tuple(Camera.from_rvec(name, tuple(c["size"]), np.array(c["K"]),
                                            np.array(c["dist"])[:5], np.array(c["rvec"]),
                                            np.array(c["tvec"]))
                           for name, c in cameras.items()))


def pairing_table(pairing: dict[str, list[int]]) -> SyncTable:
    """A peer's pairing, ``{camera: its frame at each instant, -1 where none}``, as a sync
    table (times unknown)."""
    frames = np.array([pairing[name] for name in pairing], dtype=np.int64).reshape(
        len(pairing), -1)                                                       # (C, S)
    nan = np.full(frames.shape[1], np.nan)
    return SyncTable(tuple(pairing), frames, nan, nan)


def result_run(method: str, result: dict) -> Run:
    """A peer's RESULT.json as a Run (the pairing it chose where it reports one)."""
    rig = rig_from_result(result["cameras"]) if result.get("ok") else None
    run = Run(method, rig, result.get("detect_s"), result.get("solve_s"), result.get("wall_s"),
              result.get("error"))
    if result.get("pairing"):
        run.pairing = pairing_table(result["pairing"])
    run.metrics["versions"] = result.get("versions", {})
    found, seen = result.get("detections", {}), result.get("detections_any", {})
    run.metrics["boards_found"] = {name: f"{n} ({seen[name]} with any corner)"
                                   if seen.get(name, n) != n else n for name, n in found.items()}
    return run


def run_peer(method: str, python: Path, peer: str, job: dict[str, object],
             workdir: Path) -> Run:
    """Run ``peers/<peer>_calibrate.py`` on ``job`` with ``python``; its log goes to
    ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    tag = re.sub(r"\W+", "_", method).strip("_")
    path, out, log = (workdir / f"{tag}.{ext}" for ext in ("job.json", "result.json", "log"))
    path.write_text(json.dumps(job))
    out.unlink(missing_ok=True)
    script = _HERE / "peers" / f"{peer}_calibrate.py"
    with log.open("w") as f:
        try:
            subprocess.run([str(python), str(script), str(path), str(out)], stdout=f,
                           stderr=subprocess.STDOUT, timeout=PEER_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            return Run(method, None, error=f"timed out after {PEER_TIMEOUT_S} s")
    if not out.exists():
        return Run(method, None, error=f"the peer script wrote no result; see {log}")
    return result_run(method, json.loads(out.read_text()))


# --- metrics ------------------------------------------------------------------------------------
def measure(run: Run, detections: dict[str, BoardDetections], board: Board, ref: CameraRig,
            aligned: bool, stamped: SyncTable) -> None:
    """Fill ``run.metrics`` with the poses vs ``ref`` (the reference or the truth) and, on our
    ``detections``, the reprojection RMS and board geometry with the frames paired as the run
    chose ("own") and as the timestamps say ("stamped")."""
    if run.rig is None:
        return
    diffs = compare_rigs(run.rig.subset(ref.names), ref, align="rigid" if aligned else "first")
    run.metrics.update(rotation=np.array([d.rotation_deg for d in diffs]),
                       centre=np.array([d.center_mm for d in diffs]),
                       focal=np.array([d.focal_pct for d in diffs]))
    for key, table in (("own", run.pairing or stamped), ("stamped", stamped)):
        rig, xy = run.rig.subset(list(table.cameras)), table.corners(detections)
        run.metrics[key] = (reprojection_rms_px(rig, xy),
                            board_geometry_rms_mm(rig, xy, board.object_points))


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None or not np.isfinite(value) else format(value, fmt)


def summary_table(runs: list[Run], stamped: str) -> str:
    """One row per method: times, reprojection RMS and board geometry on its own pairing and
    on the ``stamped`` one, worst pose errors."""
    lines = [("| method | detection s | solving s | total s | own pairing: reproj. RMS px / "
              f"board geometry RMS mm | {stamped}: reproj. RMS px / board geometry RMS mm | "
              "max rotation err ° | max centre err mm |"), "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        m, times = r.metrics, " | ".join(_num(t, ".1f") for t in (r.detect_s, r.solve_s,
                                                                    r.total_s))
        if r.rig is None:
            error = str(r.error).replace("|", "\\|")
            lines.append(f"| {r.method} | {times} | **failed**: {error} | | | |")
            continue
        scores = [f"{_num(m[k][0], '.3f')} / {_num(m[k][1], '.2f')}" if k in m else "-"
                  for k in ("own", "stamped")]
        worst = [float(np.max(m[k])) if k in m and not r.reference else None
                 for k in ("rotation", "centre")]
        lines.append(f"| {r.method} | {times} | {scores[0]} | {scores[1]} | "
                     f"{_num(worst[0], '.2f')} | {_num(worst[1], '.1f')} |")
    return "\n".join(lines)


def camera_table(runs: list[Run], names: list[str]) -> str:
    """One row per method, one column per camera: rotation err / centre err / focal err."""
    lines = ["| method | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for r in runs:
        if r.rig is None or r.reference or "rotation" not in r.metrics:
            continue
        m = r.metrics
        cells = [f"{m['rotation'][k]:.2f}° / {m['centre'][k]:.1f} mm / {m['focal'][k]:+.2f} %"
                 for k in range(len(names))]
        lines.append(f"| {r.method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def time_note(run: Run) -> str:
    """Where our run's time went: detection, then the solve's stages."""
    split = run.metrics.get("solve_split", {})
    stages = ", ".join(f"{k} {v:.1f}" for k, v in split.items() if v >= 0.05)
    return (f"Where the time goes, {run.method}: detection {_num(run.detect_s, '.1f')} s "
            f"({run.metrics.get('workers', 1)} process(es), decoding included), solve "
            f"{_num(run.solve_s, '.1f')} s ({stages}; seconds).")


def pairing_note(stamped: SyncTable, theirs: SyncTable, who: str) -> str:
    """How ``theirs`` pairs the frames compared with the timestamps' ``stamped`` pairing
    (instants of >= 2 cameras)."""
    def groups(table: SyncTable) -> set[tuple[int, ...]]:
        frames = np.stack([table[c] for c in stamped.cameras])                  # (C, S)
        return set(map(tuple, frames[:, (frames >= 0).sum(0) >= 2].T.tolist()))
    a, b = groups(stamped), groups(theirs)
    return (f"{who} pairs the frames into {len(b)} instants of >= 2 cameras, the timestamps' "
            f"pairing into {len(a)}; {len(a & b)} of them hold the same frames.")


# --- case 1: caliscope's real session -----------------------------------------------------------
def inverted_copies(videos: dict[str, Path], out_dir: Path) -> dict[str, Path]:
    """Negative copies of ``videos`` (MJPG at quality 100 in .avi) for a detector that cannot
    read an inverted board."""
    out: dict[str, Path] = {}
    for name, path in videos.items():
        cap = cv2.VideoCapture(str(path))
        fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
        size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        out[name] = out_dir / f"{name}.avi"
        writer = cv2.VideoWriter(str(out[name]), cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
        writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 100)
        ok, frame = cap.read()
        while ok:
            writer.write(255 - frame)
            ok, frame = cap.read()
        writer.release()
        cap.release()
    return out


def caliscope_case(pythons: dict[str, Path], workers: int | None, repeat: int) -> str:
    """Case 1's markdown section: ours with the intrinsics solved, ours and caliscope with
    caliscope's intrinsics (timed in turn ``repeat`` times), aniposelib three ways, vs
    caliscope's rig."""
    folder = CALISCOPE / "calibration" / "extrinsic"
    board = board_from_caliscope(CALISCOPE / "charuco.toml")
    ref = import_calibration(CALISCOPE / "camera_array.toml")
    videos = find_footage(folder)
    times = read_timestamps(folder / "timestamps.csv")
    times = {name: times[name] for name in videos}
    reference = Run("caliscope's own calibration (reference)", ref, reference=True)
    runs = [reference]
    run, detections = run_ours("ours, intrinsics solved", videos, board, times, workers)
    runs.append(run)
    work = BENCH / "caliscope"
    timed = [lambda: run_ours("ours, caliscope intrinsics fixed", videos, board, times, workers,
                              intrinsics=ref)[0]]
    if "caliscope" in pythons:
        job = caliscope_job(videos, board, ref, folder / "timestamps.csv")
        timed.append(lambda: run_peer("caliscope 0.11.8, its intrinsics fixed",
                                      pythons["caliscope"], "caliscope", job, work))
    runs += alternated(timed, repeat if len(timed) > 1 else 1)
    if "caliscope" in pythons:
        reference.pairing = runs[-1].pairing
    if "aniposelib" in pythons:
        by_index = sync_by_index({n: d.n_frames for n, d in detections.items()})
        runs += aniposelib_runs(pythons["aniposelib"], videos, board, ref, work, by_index)
    stamped = sync_by_timestamps(times)
    for r in runs:
        measure(r, detections, board, ref, aligned=False, stamped=stamped)
    return caliscope_section(runs, ref, stamped, detections)


def aniposelib_runs(python: Path, videos: dict[str, Path], board: Board, ref: CameraRig,
                    work: Path, by_index: SyncTable) -> list[Run]:
    """aniposelib on negative copies of the (inverted-board) videos: its default, every
    frame, and ``ref``'s intrinsics fixed; it pairs frames ``by_index``."""
    with tempfile.TemporaryDirectory(dir=_tmp_root()) as tmp:
        negative = inverted_copies(videos, Path(tmp))          # not timed
        runs = [run_peer("aniposelib, own intrinsics (default: every 20th frame)", python,
                         "aniposelib", aniposelib_job(negative, board), work),
                run_peer("aniposelib, own intrinsics, every frame (skip=1)", python,
                         "aniposelib", aniposelib_job(negative, board, skip=1), work),
                run_peer("aniposelib, caliscope intrinsics fixed", python, "aniposelib",
                         aniposelib_job(negative, board, intrinsics=ref), work)]
    for r in runs:
        r.pairing = by_index
    return runs


def caliscope_section(runs: list[Run], ref: CameraRig, stamped: SyncTable,
                      detections: dict[str, BoardDetections]) -> str:
    """Case 1's markdown; ``stamped``: our pairing of the frames by their timestamps."""
    xy = stamped.corners(detections)
    n_sync = int((np.isfinite(xy).all(-1).any(-1).sum(0) >= 2).sum())
    intro = ("`../shared/data/caliscope_charuco_4cam`: 4 webcams, 1280x720, 111 frames at 6 fps, "
             "ChArUco 4x5 squares, DICT_4X4_1000, 54 mm squares, printed inverted. Reference: "
             "caliscope's own `camera_array.toml` (intrinsics from separate recordings). Poses "
             "are compared after expressing every rig relative to cam_0.")
    notes = [
        (f"Pairings: ours matches frames by `timestamps.csv` ({len(stamped)} instants; "
         "`sync_by_timestamps`) and may then move a camera by whole frames "
         "(`calibration.frame_shift`, when the fitted capture latency sits on its half-frame "
         "bound); caliscope pairs them from the same file by its own rule; aniposelib gets the "
         "videos only and pairs frames by index."),
        ("Reprojection RMS and board geometry are measured the same way for every rig, on our "
         f"detections at the instants of a pairing ({n_sync} of the timestamps' with the board "
         "in >= 2 cameras): each corner seen by >= 2 cameras is triangulated from all of them "
         "(linear, undistorted); reprojection RMS over those observations; board geometry = "
         "RMS of all pairwise corner distances within an instant minus the printed board's. "
         "'own pairing' pairs the frames as that tool chose, 'timestamps' pairing' as "
         "`sync_by_timestamps` does."),
        ("caliscope 0.11.8 runs its scripting API in its own env: "
         "`extract_image_points_multicam` (its pairing, then its ChArUco tracker on each "
         "paired frame, one thread per camera, the board inverted by the tracker) is its "
         "detection time; `calibrate_extrinsics(refine_intrinsics=False)` with caliscope's "
         "intrinsics (bootstrap, optimise, drop the worst 2.5 %, optimise) its solve."),
        ("aniposelib cannot read an inverted board, so it is given negative copies of the "
         "videos (MJPG, quality 100), written before its timer starts; making them is not timed. "
         "With fixed intrinsics its cameras get caliscope's matrices and distortions and "
         "`calibrate_rows(init_intrinsics=False, only_extrinsics=True)` adjusts only the "
         "extrinsics.")]
    tools = {r.method.split(" ")[0].rstrip(",") for r in runs}     # ours, caliscope, ...
    notes = [n for n in notes if n.split(" ")[0] not in PEER_PACKAGES or n.split(" ")[0] in tools]
    for r in runs:
        if r.metrics.get("frame_shifts"):
            moved = ", ".join(f"{n} {k:+d} frame" for n, k in r.metrics["frame_shifts"].items())
            notes.append(f"{r.method}: moved {moved} relative to the timestamps.")
    notes += [pairing_note(stamped, r.pairing, "caliscope 0.11.8") + " caliscope's own file "
              "is scored on this pairing as its own." for r in runs
              if r.method.startswith("caliscope ") and r.pairing is not None]
    notes += speed_notes(runs)
    notes += [time_note(r) for r in runs if "solve_split" in r.metrics][:2]
    return _section("Case 1: caliscope's 4-webcam session (real footage)", intro, runs,
                    ref.names, "Per camera: rotation difference / camera-centre distance "
                    "(relative to cam_0) / focal length difference, vs caliscope's calibration:",
                    notes, "timestamps' pairing")


def _section(title: str, intro: str, runs: list[Run], names: list[str], per_camera: str,
             notes: list[str], stamped: str) -> str:
    """A case's markdown: title, setup, summary table, per-camera table, notes."""
    versions = {next(iter(v)): v for r in runs if (v := r.metrics.get("versions"))}
    workers = next((r.metrics["workers"] for r in runs if "workers" in r.metrics), 1)
    peers = "".join(f"; {peer}'s own env: " + ", ".join(f"{k} {v}" for k, v in v.items())
                    for peer, v in versions.items())
    machine = (f"Machine: {os.cpu_count()} CPU cores (shared with other jobs); ours: numpy "
               f"{np.__version__}, OpenCV {cv2.__version__}, detection in {workers} "
               f"process(es){peers}. Times: wall-clock seconds inside each process, "
               "imports excluded, from the videos to a calibrated rig; other jobs share the "
               "machine, so they vary up to 2-3x between runs: compare the ratios of runs "
               "timed in turn.")
    found: dict[str, list[str]] = {}
    for r in runs:
        if r.metrics.get("boards_found"):
            counts = ", ".join(f"{k} {v}" for k, v in r.metrics["boards_found"].items())
            found.setdefault(counts, []).append(r.method)
    frames = ("Frames with the board, per camera (ours: with >= 6 corners, the fewest it keeps; "
              "caliscope: likewise, and in brackets those with any corner, which it keeps; "
              "aniposelib: with >= 8 corners, which its `calibrate_rows` keeps, and in "
              "brackets those with any): "
              + "; ".join(f"{' and '.join(methods)}: {c}" for c, methods in found.items()) + ".")
    bullets = "\n".join(f"- {n}" for n in [machine, *notes, frames])
    return "\n\n".join([f"## {title}", intro, summary_table(runs, stamped), per_camera,
                        camera_table(runs, names), "Notes:\n" + bullets])


def _tmp_root() -> Path:
    BENCH.mkdir(exist_ok=True)
    return BENCH


# --- cases 2 and 3: rendered studios ---------------------------------------------------------
BOARD: dict[str, Any] = {"type": "charuco", "squares": [5, 7], "square_size": 0.1, "marker_size": 0.075,
         "dictionary": "DICT_4X4_50"}
SYNTHETIC: dict[str, Any] = {"n_cameras": 8, "n_frames": 600, "radius": 3.0, "height": 2.0,
             "size": [1280, 720], "hfov_deg": 70.0, "seed": 0, "blur": 0.7, "noise": 2.0,
             "occlusion": 0.2, "board": BOARD}
STUDIO: dict[str, Any] = {"rig": "studio_rig", "n_cameras": 6, "n_frames": 200, "size": [1280, 720],
          "seed": 0, "blur": 0.7, "noise": 2.0, "occlusion": 0.2, "board": BOARD}


def rendered_session(params: dict[str, Any], cache: Path,
                     make_rig: Callable[[dict[str, Any]], CameraRig]
                     ) -> tuple[dict[str, Path], CameraRig, Board]:
    """A rendered session (videos, true rig, board) of ``make_rig(params)``, rendered once
    into ``cache`` and reused while ``params`` are unchanged."""
    board = Board.from_table(dict(params["board"]), "benchmark board")
    stamp, truth_file, videos = cache / "params.json", cache / "truth.toml", cache / "videos"
    wanted = json.dumps(params, sort_keys=True)
    if not (stamp.exists() and stamp.read_text() == wanted):
        stamp.unlink(missing_ok=True)
        rig = make_rig(params)
        print(f"rendering {len(rig)} x {params['n_frames']} board views into {videos} "
              "(once; about half a minute per 100 views)", file=sys.stderr)
        render_session(rig, board, params["n_frames"], videos, seed=params["seed"],
                       blur=params["blur"], noise=params["noise"],
                       occlusion=params["occlusion"])
        write_calibration(rig, truth_file)
        write_text_atomically(stamp, wanted)
    return find_footage(videos), read_calibration(truth_file), board


def _render_notes(p: dict) -> str:
    b = p["board"]
    return (f"`render_session` renders {p['n_frames']} frames per camera of a ChArUco "
            f"{b['squares'][0]}x{b['squares'][1]} board ({b['square_size'] * 1000:.0f} mm "
            f"squares, {b['dictionary']}) moving and turning once around the volume, blur "
            f"sigma {p['blur']} px, noise {p['noise']} grey levels, a hand over the board in "
            f"{p['occlusion']:.0%} of views (MP4 videos, cached in `.bench/`). Errors are vs the "
            "truth after one rigid motion (rotation + translation, no scale; fitted to the "
            "camera centres and axes, `calibration.compare.compare_rigs`) maps each solution's "
            "world frame onto the true one.")


def studio_case(pythons: dict[str, Path], workers: int | None, repeat: int) -> str:
    """Case 2's markdown section: the true intrinsics given to ours and caliscope (timed in
    turn ``repeat`` times) and aniposelib, vs the truth."""
    p = STUDIO
    videos, truth, board = rendered_session(p, BENCH / "studio6", lambda q: studio_rig(
        q["n_cameras"], size=tuple(q["size"]), seed=q["seed"]))
    found: list[dict[str, BoardDetections]] = []

    def ours() -> Run:
        run, detections = run_ours("ours, true intrinsics fixed", videos, board, None, workers,
                                   intrinsics=truth)
        found.append(detections)
        return run
    work = BENCH / "studio6" / "peer"
    timed = [ours]
    if "caliscope" in pythons:
        job = caliscope_job(videos, board, truth, None)
        timed.append(lambda: run_peer("caliscope 0.11.8, true intrinsics fixed",
                                      pythons["caliscope"], "caliscope", job, work))
    runs = alternated(timed, repeat if len(timed) > 1 else 1)
    detections = found[0]
    by_index = sync_by_index({n: d.n_frames for n, d in detections.items()})
    if "aniposelib" in pythons:
        runs.append(run_peer("aniposelib, true intrinsics fixed (default: every 20th frame)",
                             pythons["aniposelib"], "aniposelib",
                             aniposelib_job(videos, board, intrinsics=truth), work))
        runs[-1].pairing = by_index
    for r in runs:
        measure(r, detections, board, truth, aligned=True, stamped=by_index)
    intro = (f"`studio_rig({p['n_cameras']}, size={tuple(p['size'])}, seed={p['seed']})`: a "
             "ring of cameras 3-4.5 m from the volume's axis at 1.6-2.6 m, focal lengths "
             "800-1400 px, radial distortion k1 -0.35..0.1, k2 -0.05..0.15. The true intrinsics "
             "are given to every tool and held. " + _render_notes(p))
    notes = [("Reprojection RMS and board geometry as in case 1, on our detections; the "
              "cameras run in lockstep, so the timestamps' pairing is by index; caliscope gets "
              "no timestamps and pairs from the videos' frame rate and count."),
             ("caliscope 0.11.8 and aniposelib as in case 1 (the board is not inverted here: "
              "all tools read the same videos)."),
             *speed_notes(runs),
             *[time_note(r) for r in runs if "solve_split" in r.metrics][:1]]
    return _section(f"Case 2: synthetic {p['n_cameras']}-camera studio, {p['n_frames']} "
                    "rendered frames, intrinsics given (truth known)", intro, runs,
                    truth.names, "Per camera: rotation error / centre error / focal length "
                    "error vs the truth:", notes, "index pairing")


def synthetic_case(pythons: dict[str, Path], workers: int | None, repeat: int) -> str:
    """Case 3's markdown section: ours and aniposelib (default and dense) vs the truth."""
    p = SYNTHETIC
    videos, truth, board = rendered_session(p, BENCH / "synthetic8", lambda q: ring_rig(
        q["n_cameras"], radius=q["radius"], height=q["height"], size=tuple(q["size"]),
        hfov_deg=q["hfov_deg"], seed=q["seed"]))
    by_index = sync_by_index({name: p["n_frames"] for name in videos})
    run, detections = run_ours("ours", videos, board, None, workers)
    runs = [run]
    if "aniposelib" in pythons:
        work = BENCH / "synthetic8" / "peer"
        runs += [run_peer("aniposelib (default: every 20th frame)", pythons["aniposelib"],
                          "aniposelib", aniposelib_job(videos, board), work),
                 run_peer("aniposelib, every frame (skip=1)", pythons["aniposelib"],
                          "aniposelib", aniposelib_job(videos, board, skip=1), work)]
    for r in runs:
        measure(r, detections, board, truth, aligned=True, stamped=by_index)
    intro = (f"`ring_rig({p['n_cameras']}, radius={p['radius']}, height={p['height']}, "
             f"size={tuple(p['size'])}, hfov_deg={p['hfov_deg']}, seed={p['seed']})` with lens "
             "distortion; intrinsics solved by every tool. " + _render_notes(p))
    notes = [
        ("Reprojection RMS and board geometry as in case 1, on our detections (frames paired by "
         "index: the cameras run in lockstep)."),
        ("aniposelib's default `detect_video(skip=20)` looks at every 20th frame (and the 9 "
         "after each hit); `skip=1` is its densest setting, run through its own "
         "`CharucoBoard.detect_video` and `CameraGroup.calibrate_rows`.")]
    return _section(f"Case 3: synthetic {p['n_cameras']}-camera ring, {p['n_frames']} rendered "
                    "frames (truth known)", intro, runs, truth.names, "Per camera: rotation "
                    "error / centre error / focal length error vs the truth:", notes,
                    "index pairing")


# --- RESULTS.md ------------------------------------------------------------------------------
CASES = {"caliscope": caliscope_case, "studio6": studio_case, "synthetic8": synthetic_case}
_HEADER = ("# Benchmark results\n\n"
           "Calibration: `python benchmarks/calibration_vs_peers.py --case all` (sections are replaced "
           "case by case). The peers' envs: `python3.11 -m venv ENV && ENV/bin/pip install "
           "caliscope==0.11.8` (or `\"aniposelib>=0.8,<0.9\"`), passed as `--caliscope-venv ENV` "
           "(`--peer-venv ENV`); the script creates them in .bench/ when missing.\n")


def update_results(sections: dict[str, str], path: Path = RESULTS) -> None:
    """Replace (or add) each case's section of ``path`` and write it atomically."""
    text = path.read_text(encoding="utf-8") if path.exists() else _HEADER
    for case, body in sections.items():
        block = f"<!-- begin {case} -->\n{body}\n<!-- end {case} -->"
        pattern = re.compile(rf"<!-- begin {case} -->.*?<!-- end {case} -->", re.DOTALL)
        if pattern.search(text):
            text = pattern.sub(lambda _, b=block: b, text)
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
    write_text_atomically(path, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=[*CASES, "all"], default="all")
    parser.add_argument("--peers", nargs="*", choices=list(PEER_PACKAGES),
                        default=list(PEER_PACKAGES), help="the peers to run (default: all)")
    parser.add_argument("--peer-venv", type=Path, default=BENCH / "venv-aniposelib",
                        help="aniposelib's virtual env (created with python3.11 -m venv and "
                             "pip install aniposelib when missing)")
    parser.add_argument("--caliscope-venv", type=Path, default=BENCH / "venv-caliscope",
                        help="caliscope's virtual env (created with python3.11 -m venv and "
                             "pip install caliscope==0.11.8 when missing)")
    parser.add_argument("--workers", type=int, default=None,
                        help="our detection's processes (default: as `mocap calibrate` runs "
                             "it, one per camera up to the CPU count; caliscope likewise runs "
                             "a thread per camera)")
    parser.add_argument("--repeat", type=int, default=REPEAT,
                        help=f"times ours and caliscope are timed in turn (default {REPEAT})")
    args = parser.parse_args(argv)
    venvs = {"aniposelib": args.peer_venv, "caliscope": args.caliscope_venv}
    pythons = {peer: peer_python(venvs[peer].resolve(), peer) for peer in args.peers}
    sections = {}
    for case in (CASES if args.case == "all" else [args.case]):
        sections[case] = CASES[case](pythons, args.workers, max(args.repeat, 1))
        print(sections[case] + "\n", flush=True)
    update_results(sections)
    print(f"written {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
