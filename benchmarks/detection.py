"""2D detection throughput on the Pose2Sim demo, and where the time goes beyond the two models.

For each take (``single_person``, ``multi_person``: 4 cameras x 100 frames of 1080 x 1920),
turn by turn ``--repeat`` times (so that the shared machine's other load falls on each alike;
the medians are shown):

1. ``mocap detect SESSION -q`` as users run it: a fresh process, the default workers (one per
   core), the detection cache cleared first, on a temporary session whose videos are the
   demo's linked as cam_01..cam_04 and whose calibration is the demo's Qualisys file imported
   with ``mocap calibrate import``. Also the same command run again with everything cached
   (what a run costs beyond detecting: starting, imports, probing, writing).
2. The same stage in this process with one worker, each step timed by wrapping it here (the
   product code is not changed; about 2 us per wrapped call, some 30 calls a frame): the two
   models' ``invoke`` calls, decoding, crops, anchor decoding, tracking, cache and file
   writing. Overhead = (stage time - model time) / model time. Also the bare decode
   (``read_frames`` alone).
3. For scale, mediapipe's legacy ``Pose`` (model complexity 1, the same two models, following
   one person) on the same frames, decoded by ``read_frames`` outside its timing.

    python benchmarks/detection.py [--repeat 3] [--takes single_person multi_person]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any

import cv2
from blazepose_vs_mediapipe import DEMO, legacy

from mocap import keypoints_stage
from mocap.detection import person_detector, pose_landmarks, stage
from mocap.detection.blazepose import BlazePose, BlazePoseTracker
from mocap.detection.video import VideoInfo, read_frames
from mocap.run_outputs import RunOutputs
from mocap.session import Session

TAKES = ("single_person", "multi_person")
MODELS = ("pose_detection", "pose_landmark_full")     # the tflite files' stems
_IO = "landmark model: tensors in and out, mask, hiding"
_PERSON = "person detector: letterbox, anchors, NMS"
GROUPS = {"invoke pose_landmark_full": "model: landmarks (invoke)",
          "invoke pose_detection": "model: person detector (invoke)",
          "decode frames": "decode (FFmpeg, read_frames)", "landmark model": _IO,
          "landmark model: set_tensor": _IO, "landmark model: get_tensor": _IO,
          "landmark model: warpAffine": "crop warps", "person detector: warpAffine": "crop warps",
          "tracking": "tracking", "heatmap refinement": "heatmap refinement",
          "person detector": _PERSON, "anchor decoding": _PERSON, "NMS": _PERSON,
          "person detector: set_tensor": _PERSON, "person detector: get_tensor": _PERSON}
PER_RUN = "once per run: probe, load models, cache, write outputs"


class Clock:
    """Self time of nested timed calls: each call's time goes to its path of labels (outermost
    first), less the time of the timed calls made inside it."""

    def __init__(self) -> None:
        self.self_s: dict[tuple[str, ...], float] = defaultdict(float)
        self.calls: dict[tuple[str, ...], int] = defaultdict(int)
        self._open: list[list[Any]] = []          # [label, time of timed calls inside]

    def time(self, label: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self._open.append([label, 0.0])
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            elapsed = time.perf_counter() - start
            path = tuple(name for name, _ in self._open)
            self.self_s[path] += elapsed - self._open.pop()[1]
            self.calls[path] += 1
            if self._open:
                self._open[-1][1] += elapsed

    def wrap(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            return self.time(label, fn, *args, **kwargs)
        return timed

    def iterate(self, label: str, items: Iterator[Any]) -> Iterator[Any]:
        """``items``, the time to produce each counted under ``label``."""
        while True:
            try:
                item = self.time(label, next, items)
            except StopIteration:
                return
            yield item

    def total(self, leaf: str) -> float:
        return sum(s for path, s in self.self_s.items() if path[-1] == leaf)

    def count(self, leaf: str) -> int:
        return sum(n for path, n in self.calls.items() if path[-1] == leaf)


def timing_interpreter(clock: Clock) -> type:
    """ai_edge_litert's Interpreter whose ``invoke`` (and tensor copies) are timed by model."""
    from ai_edge_litert.interpreter import Interpreter

    class TimedInterpreter(Interpreter):
        def __init__(self, model_path: str | None = None, **kwargs: Any) -> None:
            super().__init__(model_path=model_path, **kwargs)
            self.model = Path(model_path).stem

        def invoke(self) -> None:
            clock.time(f"invoke {self.model}", super().invoke)

        def set_tensor(self, *args: Any) -> None:
            clock.time("set_tensor", super().set_tensor, *args)

        def get_tensor(self, *args: Any) -> Any:
            return clock.time("get_tensor", super().get_tensor, *args)

    return TimedInterpreter


@contextmanager
def timed_steps(clock: Clock, chunk_s: dict[str, float]) -> Iterator[None]:
    """The stage's steps wrapped to report to ``clock`` (restored afterwards); each camera's
    chunk times add up in ``chunk_s`` by the name of its video file in the demo."""
    import ai_edge_litert.interpreter as litert

    def chunk(video: VideoInfo, *args: Any) -> Any:
        start = time.perf_counter()
        try:
            return clock.time("detect chunk", detect_chunk, video, *args)
        finally:
            chunk_s[video.path.resolve().stem] += time.perf_counter() - start

    def frames(*args: Any) -> Iterator[Any]:
        return clock.iterate("decode frames", read_frames(*args))

    targets = [(keypoints_stage, "session_rig", "read calibration"),
               (keypoints_stage, "find_take_videos", "find and probe videos"),
               (keypoints_stage, "write_camera_keypoints", "write keypoints2d"),
               (BlazePose, "settings", "hash model files"), (stage, "fingerprint", "cache keys"),
               (stage, "_load_chunk", "cache look-up"), (stage, "store_cached", "cache write"),
               (stage, "_detector", "make detector"), (BlazePose, "stream", "load models"),
               (stage, "stack_frames", "stack frames"), (stage, "join_chunks", "join chunks"),
               (BlazePoseTracker, "__call__", "tracking"),
               (person_detector.PersonDetector, "__call__", "person detector"),
               (person_detector, "decode_detections", "anchor decoding"),
               (person_detector, "weighted_nms", "NMS"),
               (pose_landmarks.LandmarkModel, "__call__", "landmark model"),
               (pose_landmarks, "refine_with_heatmap", "heatmap refinement"),
               (cv2, "warpAffine", "warpAffine")]
    detect_chunk = stage._detect_chunk
    replaced = [(owner, name, clock.wrap(label, getattr(owner, name)))
                for owner, name, label in targets]
    replaced += [(stage, "_detect_chunk", chunk), (stage, "read_frames", frames),
                 (litert, "Interpreter", timing_interpreter(clock))]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in replaced]
    for owner, name, value in replaced:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


def make_session(take: str, root: Path, workers: int | None = None,
                 max_people: int | None = None) -> Path:
    """A session folder: the take's videos linked as the calibration's cam_01..cam_04 and the
    demo's Qualisys calibration imported (as a user would set it up); ``workers`` and
    ``max_people`` in its session.toml where given (else the defaults: one worker per core,
    4 people)."""
    session = root / (take if workers is None else f"{take}_{workers}_worker")
    (session / "videos").mkdir(parents=True)
    for video in sorted((DEMO / take / "videos").glob("cam*.mp4")):
        (session / "videos" / f"cam_{video.stem.removeprefix('cam')}.mp4").symlink_to(
            video.resolve())
    subprocess.run([mocap_command(), "calibrate", "import",
                    str(DEMO / "calibration" / "Calib.qca.txt"),
                    "-o", str(session / "calibration" / "calibration.toml")],
                   check=True, capture_output=True)
    given = {"workers": workers, "max_people": max_people}
    (session / "session.toml").write_text("[detection]\n" + "".join(
        f"{key} = {value}\n" for key, value in given.items() if value is not None))
    return session


def mocap_command() -> str:
    """The ``mocap`` console script of this interpreter's environment."""
    beside = Path(sys.executable).with_name("mocap")
    return str(beside) if beside.is_file() else shutil.which("mocap") or "mocap"


def cli_run(session: Path) -> dict[str, float]:
    """``mocap detect SESSION -q`` from an empty detection cache, then again fully cached:
    wall s, and the CPU s of the first (its process and its workers, all threads)."""
    shutil.rmtree(session / "output" / "cache" / "keypoints2d", ignore_errors=True)
    times = {}
    for name in ("cli", "cached"):
        start, cpu = time.perf_counter(), _children_cpu_s()
        subprocess.run([mocap_command(), "detect", str(session), "-q"], check=True,
                       capture_output=True)
        times[f"{name}_s"] = time.perf_counter() - start
        times[f"{name}_cpu_s"] = _children_cpu_s() - cpu
    return times


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def profile_run(session: Path) -> tuple[dict[str, float], Clock, dict[str, float]]:
    """``mocap detect``'s stage in this process (the session sets one worker), its steps timed.
    Returns totals (seconds, frames, model calls), the clock, and each camera's chunk time in
    s by video name."""
    shutil.rmtree(session / "output", ignore_errors=True)
    stage._detector.cache_clear()                 # models loaded in the run, as a worker does
    person_detector.file_sha256.cache_clear()
    clock, chunk_s = Clock(), defaultdict(float)
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)                          # as in a worker (process_pool._init_worker)
    with timed_steps(clock, chunk_s):
        start, cpu = time.perf_counter(), time.process_time()
        opened = Session.open(session)
        with RunOutputs(opened.output) as run:
            detection = keypoints_stage.detect_session(opened, run, progress=False)
            run.commit()
        stage_s, stage_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    cv2.setNumThreads(threads)
    totals = {"stage_s": stage_s, "stage_cpu_s": stage_cpu_s,
              "decode_s": clock.total("decode frames"),
              "frames": detection.take.n_frames * len(detection.take.videos),
              **{f"{m}_s": clock.total(f"invoke {m}") for m in MODELS},
              **{f"{m}_calls": clock.count(f"invoke {m}") for m in MODELS}}
    totals["model_s"] = sum(totals[f"{m}_s"] for m in MODELS)
    return totals, clock, chunk_s


def bare_decode(take: str) -> float:
    """Seconds to decode every frame of the take's videos with ``read_frames`` alone."""
    start = time.perf_counter()
    for video in sorted((DEMO / take / "videos").glob("cam*.mp4")):
        for _ in read_frames(video):
            pass
    return time.perf_counter() - start


def mediapipe_run(take: str) -> dict[str, float]:
    """Seconds of mediapipe's legacy Pose per camera (a fresh tracker each), frames decoded
    by ``read_frames`` outside the timing; and its CPU seconds over all cameras (its graph
    runs threads of its own)."""
    seconds = {"cpu_s": 0.0}
    for video in sorted((DEMO / take / "videos").glob("cam*.mp4")):
        run, seconds[video.stem] = legacy(static=False), 0.0
        for _, frame in read_frames(video):
            start, cpu = time.perf_counter(), time.process_time()
            run(frame)
            seconds[video.stem] += time.perf_counter() - start
            seconds["cpu_s"] += time.process_time() - cpu
    return seconds


def step_rows(clock: Clock) -> dict[str, float]:
    """Self seconds by step: a step's leaf label, split by its caller where it has several
    (the warps and tensor copies of each model)."""
    parents = defaultdict(set)
    for path in clock.self_s:
        parents[path[-1]].add(path[-2] if len(path) > 1 else "")
    rows: dict[str, float] = defaultdict(float)
    for path, s in clock.self_s.items():
        split = len(path) > 1 and len(parents[path[-1]]) > 1
        rows[f"{path[-2]}: {path[-1]}" if split else path[-1]] += s
    return rows


def one_turn(take: str, session: Path, profiled: Path) -> dict[str, float]:
    """One run of each path on the take, ours and mediapipe in turn: a flat record of s."""
    record = {"load": os.getloadavg()[0], **cli_run(session)}
    totals, clock, chunk_s = profile_run(profiled)
    record.update(totals)
    record.update({f"step:{k}": s for k, s in step_rows(clock).items()})
    record["step:other (session, outputs)"] = totals["stage_s"] - sum(clock.self_s.values())
    record.update({f"ours:{camera}": s for camera, s in chunk_s.items()})
    reference = mediapipe_run(take)
    record["mediapipe_cpu_s"] = reference.pop("cpu_s")
    record.update({f"mediapipe:{camera}": s for camera, s in reference.items()})
    record["bare_decode_s"] = bare_decode(take)
    return record


def medians(records: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r.get(k, 0.0) for r in records) for k in records[0]}


def throughput_table(results: dict[str, dict[str, float]], workers: int) -> str:
    lines = [(f"| take | `mocap detect` s ({workers} workers) | session frames/s | frames/s per "
              "camera | cached rerun s | ours, 1 process: frames/s cam01-04 (all, less decode) "
              "| mediapipe legacy Pose: frames/s cam01-04 (all; CPU / wall) |"),
             "|---|---|---|---|---|---|---|"]
    for take, r in results.items():
        n_cameras = sum(k.startswith("ours:") for k in r)
        per_camera = r["frames"] / n_cameras
        ours = " / ".join(f"{per_camera / r[k]:.1f}" for k in sorted(r) if k.startswith("ours:"))
        ref = [r[k] for k in sorted(r) if k.startswith("mediapipe:")]
        ours_all = r["frames"] / sum(r[k] for k in r if k.startswith("ours:"))
        less_decode = r["frames"] / (r["stage_s"] - r["decode_s"])
        lines.append(f"| {take} | {r['cli_s']:.1f} | {r['frames'] / r['cli_s']:.1f} | "
                     f"{per_camera / r['cli_s']:.1f} | {r['cached_s']:.1f} | {ours} "
                     f"({ours_all:.1f}, {less_decode:.1f}) | "
                     f"{' / '.join(f'{per_camera / s:.1f}' for s in ref)} "
                     f"({r['frames'] / sum(ref):.1f}; {r['mediapipe_cpu_s'] / sum(ref):.2f}) |")
    return "\n".join(lines)


def overhead_table(results: dict[str, dict[str, float]]) -> str:
    lines = [("| take | stage s (1 process) | model invoke s (detector / landmarks calls) | "
              "overhead | decode in stage s | bare decode s | overhead less decode | "
              "`mocap detect` CPU s beyond the stage's |"), "|---" * 8 + "|"]
    for take, r in results.items():
        over = r["stage_s"] - r["model_s"]
        calls = " / ".join(f"{r[f'{m}_calls']:.0f}" for m in MODELS)
        lines.append(f"| {take} | {r['stage_s']:.2f} | {r['model_s']:.2f} ({calls}) | "
                     f"{over / r['model_s']:.0%} | {r['decode_s']:.2f} | "
                     f"{r['bare_decode_s']:.2f} | {(over - r['decode_s']) / r['model_s']:.0%} | "
                     f"{r['cli_cpu_s'] - r['stage_cpu_s']:.1f} |")
    return "\n".join(lines)


def steps_table(results: dict[str, dict[str, float]]) -> str:
    """Every timed step's self time: ms per frame and share of the models' time, per take."""
    takes = list(results)
    names = sorted({k for r in results.values() for k in r if k.startswith("step:")},
                   key=lambda k: -results[takes[0]].get(k, 0.0))
    lines = ["| step (self time) | " + " | ".join(f"{t} ms/frame | % of model" for t in takes)
             + " |", "|---|" + "---|---|" * len(takes)]
    for name in names:
        cells = [f"{1e3 * r.get(name, 0.0) / r['frames']:.2f} | "
                 f"{r.get(name, 0.0) / r['model_s']:.1%}" for r in results.values()]
        lines.append(f"| {name.removeprefix('step:')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def grouped(results: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """The steps' times summed by GROUPS (the rest: PER_RUN)."""
    out = {}
    for take, r in results.items():
        out[take] = {k: v for k, v in r.items() if not k.startswith("step:")}
        for k, v in r.items():
            if k.startswith("step:"):
                group = f"step:{GROUPS.get(k.removeprefix('step:'), PER_RUN)}"
                out[take][group] = out[take].get(group, 0.0) + v
    return out


def turns_table(records: dict[str, list[dict[str, float]]]) -> str:
    """Every turn's totals (wall s / CPU s where both), to judge the machine's noise."""
    lines = [("| take | turn | load average | `mocap detect` | cached rerun | stage, 1 process | "
              "models | decode in stage | mediapipe (4 cameras) |"), "|---" * 9 + "|"]
    for take, turns in records.items():
        for n, r in enumerate(turns, 1):
            mediapipe = sum(v for k, v in r.items() if k.startswith("mediapipe:"))
            lines.append(f"| {take} | {n} | {r['load']:.1f} | {r['cli_s']:.1f} / "
                         f"{r['cli_cpu_s']:.1f} | {r['cached_s']:.1f} / {r['cached_cpu_s']:.1f} | "
                         f"{r['stage_s']:.1f} / {r['stage_cpu_s']:.1f} | {r['model_s']:.1f} | "
                         f"{r['decode_s']:.1f} | {mediapipe:.1f} / {r['mediapipe_cpu_s']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--takes", nargs="+", choices=TAKES, default=list(TAKES))
    parser.add_argument("--max-people", type=int, help="[detection] max_people (default 4)")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    records: dict[str, list[dict[str, float]]] = {take: [] for take in args.takes}
    with tempfile.TemporaryDirectory(prefix="detection_bench_") as tmp:
        sessions = {take: (make_session(take, Path(tmp), max_people=args.max_people),
                           make_session(take, Path(tmp), 1, args.max_people))
                    for take in args.takes}
        for _ in range(args.repeat):
            for take in args.takes:
                records[take].append(one_turn(take, *sessions[take]))
    results = {take: medians(r) for take, r in records.items()}
    flags = f" --max-people {args.max_people}" if args.max_people else ""
    print(f"`python benchmarks/detection.py --repeat {args.repeat}{flags}`: medians of "
          f"{args.repeat} turns on {os.cpu_count()} cores, 1-minute load average "
          f"{load:.1f} before and {os.getloadavg()[0]:.1f} after (a shared machine)\n")
    print(throughput_table(results, os.cpu_count() or 1), "", overhead_table(results), "",
          steps_table(grouped(results)), "", steps_table(results), "",
          "Each turn, wall s / CPU s:", "", turns_table(records),
          sep="\n")


if __name__ == "__main__":
    main()
