"""Calibration accuracy and speed, side by side with aniposelib 0.8 (in its own virtual env).

Cases:
  caliscope   caliscope's real 4-webcam session (111 frames at 6 fps, inverted ChArUco board),
              compared with caliscope's own calibration (camera_array.toml): each camera's pose
              relative to cam_0, focal lengths, reprojection RMS and the triangulated board's
              geometry. Ours runs twice (intrinsics solved; caliscope's intrinsics fixed).
  synthetic8  an 8-camera ring (``ring_rig``) and 600 rendered board frames with blur, noise and
              occluding hands (``render_session``, cached in .bench/), compared with the truth
              after one rigid alignment of the world frames.

Run: python benchmarks/calibration.py [--case caliscope|synthetic8|all] [--peer-venv PATH]
Writes the tables to benchmarks/RESULTS.md (only the sections of the cases run are replaced).
aniposelib runs through benchmarks/peers/aniposelib_calibrate.py with the peer env's python.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# ``calibration`` package: drop that folder before importing the project.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import json
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray

from calibration.board import Board, board_from_caliscope
from calibration.board_scan import detect_all
from calibration.calibrate import calibrate
from calibration.camera import Camera, CameraRig
from calibration.compare import compare_rigs
from calibration.detections import BoardDetections
from calibration.errors import CalibrationError
from calibration.footage import find_footage
from calibration.frame_shift import shifted_inputs
from calibration.importers import import_calibration
from calibration.io import read_calibration, write_calibration, write_text_atomically
from calibration.sync import SyncTable, read_timestamps, sync_by_index, sync_by_timestamps
from mocap.board_metrics import board_geometry_rms_mm, reprojection_rms_px
from mocap.synthetic.board_views import render_session
from mocap.synthetic.studio import ring_rig

FloatArray = NDArray[np.float64]
REPO = _HERE.parent
CALISCOPE = REPO / ".." / "shared" / "data" / "caliscope_charuco_4cam"
BENCH = REPO / ".bench"
RESULTS = _HERE / "RESULTS.md"
PEER_SCRIPT = _HERE / "peers" / "aniposelib_calibrate.py"
PEER_PACKAGE = "aniposelib>=0.8,<0.9"
PEER_TIMEOUT_S = 3600
PARALLEL = os.cpu_count() or 1      # our detection's default: a process per camera, per core


# --- one calibration run and its measurements ---------------------------------------------------
@dataclass
class Run:
    """One method's calibration of a case: the rig (None if it failed) and its timings."""

    method: str
    rig: CameraRig | None
    detect_s: float | None = None
    solve_s: float | None = None
    total_s: float | None = None
    error: str | None = None
    reference: bool = False
    metrics: dict[str, object] = field(default_factory=dict)


# --- ours ---------------------------------------------------------------------------------------
def run_ours(method: str, videos: dict[str, Path], board: Board,
             frame_times: dict[str, FloatArray] | None, workers: int,
             intrinsics: CameraRig | None = None) -> tuple[Run, dict[str, BoardDetections]]:
    """Detect the board in ``videos`` (``workers`` processes) and calibrate with our pipeline,
    end to end (frames matched by ``frame_times``, or by index without them); the detections
    come back for the common metrics, the cameras whose frames it moved in
    ``metrics["frame_shifts"]``."""
    start = time.perf_counter()
    detections = detect_all(videos, board, workers=workers, progress=False)
    detect_s = time.perf_counter() - start
    found = {"boards_found": {name: d.frames.size for name, d in detections.items()},
             "workers": workers}
    t0 = time.perf_counter()
    try:
        result = calibrate(detections, board, frame_times=frame_times,
                           intrinsics={c.name: c for c in intrinsics} if intrinsics else None)
    except CalibrationError as e:               # a failure is a result of the benchmark
        solve_s = time.perf_counter() - t0
        return Run(method, None, detect_s, solve_s, detect_s + solve_s,
                   error=f"{type(e).__name__}: {e}", metrics=found), detections
    solve_s = time.perf_counter() - t0
    found["frame_shifts"] = result.report.get("frame_shifts", {}).get("cameras", {})
    return Run(method, result.rig, detect_s, solve_s, detect_s + solve_s,
               metrics=found), detections


# --- aniposelib in its own environment ---------------------------------------------------------
def peer_python(venv: Path) -> Path:
    """The peer env's python, creating the env (python3.11 -m venv + pip install) if needed."""
    python = venv / "bin" / "python"
    if python.exists() and _imports(python, "aniposelib"):
        return python
    print(f"creating the aniposelib environment in {venv} (once)", file=sys.stderr)
    if not python.exists():
        subprocess.run(["python3.11", "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", PEER_PACKAGE], check=True)
    if not _imports(python, "aniposelib"):
        raise RuntimeError(f"{venv}: aniposelib still cannot be imported after pip install")
    return python


def _imports(python: Path, module: str) -> bool:
    done = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True,
                          check=False)
    return done.returncode == 0


def board_spec(board: Board) -> dict[str, object]:
    """The job file's board table."""
    return {"squares": list(board.squares), "square_size": board.square_size,
            "marker_size": board.marker_size, "dictionary": board.dictionary}


def intrinsics_spec(rig: CameraRig) -> dict[str, dict[str, list]]:
    """The job file's fixed intrinsics table, ``{camera: {matrix, distortions}}``."""
    return {c.name: {"matrix": c.K.tolist(), "distortions": c.dist.tolist()} for c in rig}


def rig_from_result(cameras: dict[str, dict]) -> CameraRig:
    """The peer's result cameras (K, dist, rvec, tvec, size) as our rig."""
    return CameraRig(tuple(Camera.from_rvec(name, tuple(c["size"]), np.array(c["K"]),
                                            np.array(c["dist"])[:5], np.array(c["rvec"]),
                                            np.array(c["tvec"]))
                           for name, c in cameras.items()))


def run_peer(method: str, python: Path, videos: dict[str, Path], board: Board, workdir: Path,
             *, skip: int = 20, intrinsics: CameraRig | None = None) -> Run:
    """Run aniposelib on ``videos`` through the peer script; its log goes to ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    tag = re.sub(r"\W+", "_", method).strip("_")
    job, out, log = (workdir / f"{tag}.{ext}" for ext in ("job.json", "result.json", "log"))
    job.write_text(json.dumps({
        "cameras": [[name, str(path)] for name, path in videos.items()],
        "board": board_spec(board), "skip": skip, "seed": 0,
        "intrinsics": intrinsics_spec(intrinsics) if intrinsics is not None else None}))
    out.unlink(missing_ok=True)
    with log.open("w") as f:
        try:
            subprocess.run([str(python), str(PEER_SCRIPT), str(job), str(out)], stdout=f,
                           stderr=subprocess.STDOUT, timeout=PEER_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            return Run(method, None, error=f"timed out after {PEER_TIMEOUT_S} s")
    if not out.exists():
        return Run(method, None, error=f"the peer script wrote no result; see {log}")
    res = json.loads(out.read_text())
    rig = rig_from_result(res["cameras"]) if res.get("ok") else None
    run = Run(method, rig, res.get("detect_s"), res.get("solve_s"), res.get("wall_s"),
              res.get("error"))
    run.metrics["versions"] = res.get("versions", {})
    run.metrics["boards_found"] = res.get("detections", {})
    return run


# --- metrics ------------------------------------------------------------------------------------
def measure(run: Run, xy: FloatArray, board: Board, ref: CameraRig, aligned: bool) -> None:
    """Fill ``run.metrics`` with the common metrics vs ``ref`` (the reference or the truth);
    ``xy`` (C, S, K, 2) the synchronized corners every rig is measured on."""
    if run.rig is None:
        return
    rig = run.rig.subset(ref.names)
    diffs = compare_rigs(rig, ref, align="rigid" if aligned else "first")
    run.metrics.update(rotation=np.array([d.rotation_deg for d in diffs]),
                       centre=np.array([d.center_mm for d in diffs]),
                       focal=np.array([d.focal_pct for d in diffs]),
                       reprojection=reprojection_rms_px(rig, xy),
                       geometry=board_geometry_rms_mm(rig, xy, board.object_points))


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None or not np.isfinite(value) else format(value, fmt)


def summary_table(runs: list[Run]) -> str:
    """One row per method: times, reprojection RMS, board geometry, worst pose errors."""
    lines = [("| method | detection s | solving s | total s | reproj. RMS px | board geometry "
              "RMS mm | max rotation err ° | max centre err mm |"),
             "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        m = r.metrics
        if r.rig is None:
            error = str(r.error).replace("|", "\\|")
            lines.append(f"| {r.method} | {_num(r.detect_s, '.1f')} | {_num(r.solve_s, '.1f')} "
                         f"| {_num(r.total_s, '.1f')} | **failed**: {error} | | | |")
            continue
        worst = [float(np.max(m[k])) if k in m and not r.reference else None
                 for k in ("rotation", "centre")]
        lines.append(f"| {r.method} | {_num(r.detect_s, '.1f')} | {_num(r.solve_s, '.1f')} | "
                     f"{_num(r.total_s, '.1f')} | {_num(m.get('reprojection'), '.3f')} | "
                     f"{_num(m.get('geometry'), '.2f')} | {_num(worst[0], '.2f')} | "
                     f"{_num(worst[1], '.1f')} |")
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
        writer = cv2.VideoWriter(str(out[name]), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
        writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 100)
        ok, frame = cap.read()
        while ok:
            writer.write(255 - frame)
            ok, frame = cap.read()
        writer.release()
        cap.release()
    return out


def caliscope_case(python: Path, workers: int) -> str:
    """Case 1's markdown section: ours twice and aniposelib three ways vs caliscope's rig."""
    folder = CALISCOPE / "calibration" / "extrinsic"
    board = board_from_caliscope(CALISCOPE / "charuco.toml")
    ref = import_calibration(CALISCOPE / "camera_array.toml")
    videos = find_footage(folder)
    times = read_timestamps(folder / "timestamps.csv")
    times = {name: times[name] for name in videos}
    runs = [Run("caliscope's own calibration (reference)", ref, reference=True)]
    run, detections = run_ours("ours, intrinsics solved", videos, board, times, workers)
    runs.append(run)
    runs.append(run_ours("ours, caliscope intrinsics fixed", videos, board, times, workers,
                         intrinsics=ref)[0])
    if PARALLEL > workers:
        runs.append(run_ours(f"ours, intrinsics solved, {PARALLEL} processes (default)",
                             videos, board, times, PARALLEL)[0])
        runs.append(run_ours(f"ours, caliscope intrinsics fixed, {PARALLEL} processes "
                             "(default)", videos, board, times, PARALLEL, intrinsics=ref)[0])
    work = BENCH / "caliscope"
    with tempfile.TemporaryDirectory(dir=_tmp_root()) as tmp:
        negative = inverted_copies(videos, Path(tmp))          # not timed
        runs.append(run_peer("aniposelib, own intrinsics (default: every 20th frame)", python,
                             negative, board, work))
        runs.append(run_peer("aniposelib, own intrinsics, every frame (skip=1)", python,
                             negative, board, work, skip=1))
        runs.append(run_peer("aniposelib, caliscope intrinsics fixed", python, negative, board,
                             work, intrinsics=ref))
    stamped = sync_by_timestamps(times)
    shifts = runs[2].metrics.get("frame_shifts") or {}     # ours, caliscope intrinsics fixed
    sync = sync_by_timestamps(shifted_inputs(detections, times, shifts)[0]) if shifts else stamped
    xy = sync.corners(detections)
    for r in runs:
        measure(r, xy, board, ref, aligned=False)
    as_stamped = {r.method: (reprojection_rms_px(r.rig, stamped.corners(detections)),
                             board_geometry_rms_mm(r.rig, stamped.corners(detections),
                                                   board.object_points))
                  for r in runs[:3] if r.rig is not None and shifts}
    return caliscope_section(runs, ref, sync, xy, shifts, as_stamped)


def caliscope_section(runs: list[Run], ref: CameraRig, sync: SyncTable, xy: FloatArray,
                      shifts: dict[str, int], as_stamped: dict[str, tuple[float, float]]
                      ) -> str:
    """Case 1's markdown; ``xy`` (C, S, K, 2) are the synchronized corners measured on, with
    the cameras' frames moved by ``shifts``; ``as_stamped``: method -> (RMS, geometry) with
    the frames paired as the timestamps say."""
    n_sync = int((np.isfinite(xy).all(-1).any(-1).sum(0) >= 2).sum())
    intro = ("`../shared/data/caliscope_charuco_4cam`: 4 webcams, 1280x720, 111 frames at 6 fps, "
             "ChArUco 4x5 squares, DICT_4X4_1000, 54 mm squares, printed inverted. Reference: "
             "caliscope's own `camera_array.toml` (intrinsics from separate recordings). Poses "
             "are compared after expressing every rig relative to cam_0.")
    notes = [
        (f"Ours synchronises frames by `timestamps.csv` ({len(sync)} instants); aniposelib gets "
         "the videos only and pairs frames by index (its rule; here the same pairs)."),
        ("aniposelib cannot read an inverted board, so it is given negative copies of the "
         "videos (MJPG, quality 100), written before its timer starts; making them is not timed."),
        ("aniposelib with fixed intrinsics: its cameras get caliscope's matrices and distortions "
         "and `calibrate_rows(init_intrinsics=False, only_extrinsics=True)` adjusts only the "
         "extrinsics."),
        ("Reprojection RMS and board geometry are measured the same way for every rig, on our "
         f"detections at the synchronized instants ({n_sync} with the board in >= 2 cameras): "
         "each corner seen by >= 2 cameras is triangulated from all of them (linear, "
         "undistorted); reprojection RMS over those observations; board geometry = RMS of all "
         "pairwise corner distances within an instant minus the printed board's.")]
    if shifts:
        moved = ", ".join(f"{n} {k:+d} frame" for n, k in shifts.items())
        stamped = "; ".join(f"{m}: {rms:.3f} px, {geo:.2f} mm"
                            for m, (rms, geo) in as_stamped.items())
        notes.append(f"Our calibration found that the frames fit clearly better with {moved} "
                     "relative to its timestamps (`calibration.frame_shift`: that camera's "
                     "fitted capture latency sat on its half-frame bound), so the corners are "
                     "measured at the instants paired that way. Paired as the timestamps say "
                     f"instead: {stamped}.")
    return _section("Case 1: caliscope's 4-webcam session (real footage)", intro, runs,
                    ref.names, "Per camera: rotation difference / camera-centre distance "
                    "(relative to cam_0) / focal length difference, vs caliscope's calibration:",
                    notes)


def _section(title: str, intro: str, runs: list[Run], names: list[str], per_camera: str,
             notes: list[str]) -> str:
    """A case's markdown: title, setup, summary table, per-camera table, notes."""
    versions = next((r.metrics["versions"] for r in runs if r.metrics.get("versions")), {})
    workers = next((r.metrics["workers"] for r in runs if "workers" in r.metrics), 1)
    rows = (f" (rows marked '{PARALLEL} processes' use one per core, as `mocap calibrate` does)"
            if any(r.metrics.get("workers", workers) != workers for r in runs) else "")
    machine = (f"Machine: {os.cpu_count()} CPU cores (shared with other jobs); ours: numpy "
               f"{np.__version__}, OpenCV {cv2.__version__}, detection in {workers} "
               f"process(es){rows}; aniposelib's own env: "
               + ", ".join(f"{k} {v}" for k, v in versions.items())
               + " (detection in 1 process). Times: wall-clock seconds inside each process, "
               "imports excluded; other jobs share the machine, so they vary up to 2-3x "
               "between runs: compare rows of one run.")
    found: dict[str, list[str]] = {}
    for r in runs:
        if r.metrics.get("boards_found"):
            counts = ", ".join(f"{k} {v}" for k, v in r.metrics["boards_found"].items())
            found.setdefault(counts, []).append(r.method)
    frames = ("Frames with the board, per camera (aniposelib: those with >= 8 corners, which "
              "its `calibrate_rows` keeps): "
              + "; ".join(f"{' and '.join(methods)}: {c}" for c, methods in found.items()) + ".")
    bullets = "\n".join(f"- {n}" for n in [machine, *notes, frames])
    return "\n\n".join([f"## {title}", intro, summary_table(runs), per_camera,
                        camera_table(runs, names), "Notes:\n" + bullets])


def _tmp_root() -> Path:
    BENCH.mkdir(exist_ok=True)
    return BENCH


# --- case 2: synthetic 8-camera ring ------------------------------------------------------------
SYNTHETIC = {"n_cameras": 8, "n_frames": 600, "radius": 3.0, "height": 2.0,
             "size": [1280, 720], "hfov_deg": 70.0, "seed": 0, "blur": 0.7, "noise": 2.0,
             "occlusion": 0.2,
             "board": {"type": "charuco", "squares": [5, 7], "square_size": 0.1,
                       "marker_size": 0.075, "dictionary": "DICT_4X4_50"}}


def synthetic_session(cache: Path) -> tuple[dict[str, Path], CameraRig, Board]:
    """The rendered 8-camera session (videos, true rig, board), rendered once into ``cache``
    and reused while ``SYNTHETIC`` is unchanged."""
    p = SYNTHETIC
    board = Board.from_table(dict(p["board"]), "benchmark board")
    stamp, truth_file, videos = cache / "params.json", cache / "truth.toml", cache / "videos"
    wanted = json.dumps(p, sort_keys=True)
    if not (stamp.exists() and stamp.read_text() == wanted):
        stamp.unlink(missing_ok=True)
        rig = ring_rig(p["n_cameras"], radius=p["radius"], height=p["height"],
                       size=tuple(p["size"]), hfov_deg=p["hfov_deg"], seed=p["seed"])
        print(f"rendering {p['n_cameras']} x {p['n_frames']} board views into {videos} "
              "(once; about half a minute per 100 views)", file=sys.stderr)
        render_session(rig, board, p["n_frames"], videos, seed=p["seed"], blur=p["blur"],
                       noise=p["noise"], occlusion=p["occlusion"])
        write_calibration(rig, truth_file)
        write_text_atomically(stamp, wanted)
    return find_footage(videos), read_calibration(truth_file), board


def synthetic_case(python: Path, workers: int) -> str:
    """Case 2's markdown section: ours and aniposelib (default and dense) vs the truth."""
    videos, truth, board = synthetic_session(BENCH / "synthetic8")
    sync = sync_by_index({name: SYNTHETIC["n_frames"] for name in videos})
    run, detections = run_ours("ours", videos, board, None, workers)
    work = BENCH / "synthetic8" / "peer"
    peer_default = run_peer("aniposelib (default: every 20th frame)", python, videos, board,
                            work)
    runs = [run,
            *([run_ours(f"ours, {PARALLEL} processes (default)", videos, board, None,
                        PARALLEL)[0]] if PARALLEL > workers else []),
            peer_default,
            run_peer("aniposelib, every frame (skip=1)", python, videos, board, work, skip=1)]
    xy = sync.corners(detections)
    for r in runs:
        measure(r, xy, board, truth, aligned=True)
    p, board_p = SYNTHETIC, SYNTHETIC["board"]
    intro = (f"`ring_rig({p['n_cameras']}, radius={p['radius']}, height={p['height']}, "
             f"size={tuple(p['size'])}, hfov_deg={p['hfov_deg']}, seed={p['seed']})` with lens "
             f"distortion; `render_session` renders {p['n_frames']} frames per camera of a "
             f"ChArUco {board_p['squares'][0]}x{board_p['squares'][1]} board "
             f"({board_p['square_size'] * 1000:.0f} mm squares, {board_p['dictionary']}) moving "
             f"and turning once around the volume, blur sigma {p['blur']} px, noise "
             f"{p['noise']} grey levels, a hand over the board in {p['occlusion']:.0%} of views "
             "(MJPG videos, cached in `.bench/synthetic8/`). Errors are vs the truth after one "
             "rigid motion (rotation + translation, no scale; fitted to the camera centres and "
             "axes, `calibration.compare.compare_rigs`) maps each solution's world frame onto "
             "the true one.")
    notes = [
        ("Reprojection RMS and board geometry as in case 1, on our detections (frames paired by "
         "index: the cameras run in lockstep)."),
        ("aniposelib's default `detect_video(skip=20)` looks at every 20th frame (and the 9 "
         "after each hit); `skip=1` is its densest setting, run through its own "
         "`CharucoBoard.detect_video` and `CameraGroup.calibrate_rows`.")]
    if peer_default.rig is not None:
        notes.append("aniposelib's default did not stop with \"Could not build calibration "
                     "graph\" here: the board is seen in long runs of frames and after each hit "
                     "`detect_video` also reads the next 9 frames, so its sparse sampling keeps "
                     "most frames with the board (see the counts below).")
    return _section("Case 2: synthetic 8-camera ring, 600 rendered frames (truth known)",
                    intro, runs, truth.names, "Per camera: rotation error / centre error / "
                    "focal length error vs the truth:", notes)


# --- RESULTS.md ------------------------------------------------------------------------------
CASES = {"caliscope": caliscope_case, "synthetic8": synthetic_case}
_HEADER = ("# Benchmark results\n\n"
           "Calibration: `python benchmarks/calibration.py --case all` (sections are replaced "
           "case by case).\n")


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
    parser.add_argument("--peer-venv", type=Path, default=BENCH / "venv-aniposelib",
                        help="aniposelib's virtual env (created with python3.11 -m venv and "
                             "pip install aniposelib when missing)")
    parser.add_argument("--workers", type=int, default=1,
                        help="our detection's processes (default 1, like aniposelib's)")
    args = parser.parse_args(argv)
    python = peer_python(args.peer_venv.resolve())
    sections = {}
    for case in (CASES if args.case == "all" else [args.case]):
        sections[case] = CASES[case](python, args.workers)
        print(sections[case] + "\n", flush=True)
    update_results(sections)
    print(f"written {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
