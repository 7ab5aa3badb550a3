"""``mocap batch``: every take under the given paths through the pipeline, in parallel.

Work is split per take, and per camera for 2D detection where a take has videos to detect
(:func:`mocap.batch_work.detect_camera` fills the take's detection cache); once its cameras are
done, the take's run (:func:`mocap.batch_work.run_take`) finds their 2D in the cache and does
the 3D part. The tasks run in a local process pool (:mod:`mocap.batch_pool`) or on Ray
(:mod:`mocap.batch_ray`) through the same two calls, ``submit`` and ``wait``.

A take whose outputs are up to date (:func:`mocap.batch_takes.up_to_date`) is skipped without
work; a take that fails (its error, an unexpected exception, a worker that died) is reported in
the summary and never stops the others.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from tqdm import tqdm

from mocap.batch_summary import summary_row
from mocap.batch_takes import detection_cameras, find_takes, input_key, up_to_date
from mocap.batch_work import detect_camera, run_take
from mocap.errors import ConfigError, user_errors

POLL_S = 0.2                 # the progress line and the task queue are updated this often
Job = tuple[Path, Callable[..., Any], tuple[Any, ...]]


class Executor(Protocol):
    capacity: int

    def submit(self, fn: Callable[..., Any], *args: Any) -> int: ...

    def wait(self, timeout: float) -> dict[int, tuple[bool, Any]]: ...


def run_batch(paths: Sequence[str | Path], *, ray: str | None = None,
              workers: int | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """Run every take under ``paths``; returns their summary rows, in the order found.

    Args:
        ray: None for a local process pool; "auto" for a local Ray instance (joined if one
            runs, else started); else the address of a Ray cluster.
        workers: tasks at once (default: the cores here, or the cluster's CPUs).
    Raises:
        InputError: a path with no takes; ConfigError: bad ``workers``, Ray missing or its
            cluster unreachable.
    """
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be 1 or more, got {workers}")
    takes = find_takes(paths)
    rows: dict[Path, dict[str, Any]] = {}
    jobs: deque[Job] = deque()
    cameras: dict[Path, set[str]] = {}
    keys: dict[Path, str] = {}
    planning_errors: tuple[type[Exception], ...] = (*user_errors(), OSError)
    for take in takes:
        start = time.perf_counter()
        try:
            key = input_key(take)
            done = up_to_date(take, key)
            todo = [] if done else detection_cameras(take)
        except planning_errors as e:                # this take's problem, not the batch's
            rows[take] = summary_row(take, {"status": "failed", "error": str(e)})
            continue
        if done:
            rows[take] = summary_row(take, {**done, "status": "skipped", "error": "up to date",
                                            "seconds": time.perf_counter() - start})
            continue
        keys[take] = key
        if todo:
            cameras[take] = set(todo)
            jobs.extend((take, detect_camera, (str(take), camera)) for camera in todo)
        else:
            jobs.append((take, run_take, (str(take), key)))
    if jobs:
        with _executor(ray, workers) as executor, tqdm(
                total=len(takes), initial=len(rows), desc="mocap batch", unit="take",
                disable=not progress) as bar:
            _drain(executor, jobs, cameras, keys, rows, bar)
    return [rows[take] for take in takes]


def _executor(ray: str | None, workers: int | None) -> Any:
    if ray is None:
        from mocap.batch_pool import ProcessExecutor
        return ProcessExecutor(workers or os.cpu_count() or 1)
    from mocap.batch_ray import RayExecutor
    return RayExecutor(ray, workers)


def _drain(executor: Executor, jobs: deque[Job], cameras: dict[Path, set[str]],
           keys: dict[Path, str], rows: dict[Path, dict[str, Any]], bar: tqdm) -> None:
    """Run ``jobs`` (and each take's run once its cameras are detected) until all are done."""
    running: dict[int, Job] = {}
    started: dict[Path, float] = {}
    while jobs or running:
        while jobs and len(running) < executor.capacity:
            job = jobs.popleft()
            if job[0] in rows:                      # failed already (a camera's detection)
                continue
            started.setdefault(job[0], time.perf_counter())
            running[executor.submit(job[1], *job[2])] = job
        for handle, (ok, result) in executor.wait(POLL_S).items():
            take, fn, args = running.pop(handle)
            if take in rows:
                continue
            if not ok:                              # no result: the worker died
                where = f"camera {args[1]}: " if fn is detect_camera else ""
                result = {"status": "failed", "error": where + result}
            if fn is detect_camera and result["status"] == "ok":
                cameras[take].discard(args[1])
                if not cameras[take]:
                    jobs.append((take, run_take, (str(take), keys[take])))
                continue
            result["seconds"] = time.perf_counter() - started[take]
            rows[take] = summary_row(take, result)
            bar.update(1)
            bar.set_postfix(failed=sum(r["status"] == "failed" for r in rows.values()))
