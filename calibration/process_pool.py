"""Independent tasks in parallel processes with one progress count, and workers that never
outlive the main process. Used for board scanning and 2D detection.

A task reports progress with :func:`tick`; in a worker it reaches the main process through a
queue, in the main process (``workers <= 1``) it goes straight to the callback.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_module
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

import cv2

PARENT_POLL_S = 0.5            # how often a worker checks that the main process still lives
FLUSH_S = 0.05                 # a tick still in the queue's pipe after its worker ended arrives
                               # within this (the pipe is local; the wait ends at the first gap)
Key = TypeVar("Key", bound=Hashable)
Task = tuple[Callable[..., Any], tuple[Any, ...]]

_tick: Callable[[int], Any] = lambda n: None      # this process's progress sink


def tick(n: int = 1) -> None:
    """Report ``n`` units of progress of the running task."""
    _tick(n)


def run_tasks(tasks: dict[Key, Task], *, workers: int,
              progress: Callable[[int], Any] = lambda n: None,
              on_result: Callable[[Key, Any], Any] = lambda key, result: None) -> dict[Key, Any]:
    """``fn(*args)`` for every ``key: (fn, args)``, in ``workers`` processes (1: this one).

    ``fn`` must be importable (a module-level function) and its arguments picklable. The first
    exception a task raises is raised here after the others are cancelled. ``on_result`` sees
    each result as soon as its task ends (e.g. to cache it), in completion order.

    Returns:
        key to result, in the order of ``tasks``.
    """
    global _tick
    if workers <= 1 or len(tasks) <= 1:
        results = {}
        previous, _tick = _tick, progress
        try:
            for key, (fn, args) in tasks.items():
                results[key] = fn(*args)
                on_result(key, results[key])
        finally:
            _tick = previous
        return results
    return _run_in_pool(tasks, min(workers, len(tasks)), progress, on_result)


def _run_in_pool(tasks: dict[Key, Task], workers: int, progress: Callable[[int], Any],
                 on_result: Callable[[Key, Any], Any]) -> dict[Key, Any]:
    context = mp.get_context("spawn")
    ticks = context.Queue()
    results: dict[Key, Any] = {}
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(ticks, os.getpid())) as pool:
        pending: dict[Future, Key] = {pool.submit(fn, *args): key
                                      for key, (fn, args) in tasks.items()}
        try:
            while pending:
                done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                _drain(ticks, progress)
                for future in done:
                    key = pending.pop(future)
                    results[key] = future.result()
                    on_result(key, results[key])
        finally:
            for future in pending:
                future.cancel()
    _drain(ticks, progress, wait_s=FLUSH_S)        # the workers have ended: take what is left
    return {key: results[key] for key in tasks}


def _init_worker(ticks: Any, parent: int) -> None:
    global _tick
    _tick = ticks.put
    cv2.setNumThreads(1)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """End this worker within PARENT_POLL_S of its parent's death (a SIGKILL or SIGTERM of the
    main process leaves the pool no chance to stop its workers; they would work on for
    minutes)."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def _drain(ticks: Any, progress: Callable[[int], Any], wait_s: float = 0.0) -> None:
    """Pass on the ticks that have arrived (waiting up to ``wait_s`` for each next one)."""
    while True:
        try:
            progress(ticks.get(timeout=wait_s) if wait_s else ticks.get_nowait())
        except queue_module.Empty:
            return
