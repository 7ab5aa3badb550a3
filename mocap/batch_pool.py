"""The batch's local process pool: each task in a fresh process, at most ``workers`` at once.

Not :mod:`calibration.process_pool`: there the first failure ends the run and a worker that dies
breaks the whole pool, while a batch must go on past a take that crashes its worker. Here a
process that ends without a result is that one task's "worker died", and the others go on.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Self

PARENT_POLL_S = 0.5     # how often a worker checks that the batch process still lives
Outcome = tuple[bool, Any]      # (True, the task's result) or (False, why it has none)


class ProcessExecutor:
    """``submit`` tasks, ``wait`` for finished ones; ``with`` ends the workers left over."""

    def __init__(self, workers: int) -> None:
        self.capacity = max(1, workers)
        self._context = mp.get_context("spawn")
        self._running: dict[int, tuple[Any, Connection]] = {}
        self._next = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        for process, conn in self._running.values():
            process.kill()
            process.join()
            conn.close()
        self._running.clear()

    def submit(self, fn: Callable[..., Any], *args: Any) -> int:
        """Start ``fn(*args)`` (an importable function, picklable arguments) in a new process."""
        receive, send = self._context.Pipe(duplex=False)
        process = self._context.Process(target=_work, args=(send, os.getpid(), blender_paths(),
                                                             fn, args), daemon=True)
        process.start()
        send.close()
        self._next += 1
        self._running[self._next] = (process, receive)
        return self._next

    def wait(self, timeout: float) -> dict[int, Outcome]:
        """The tasks that ended within ``timeout`` seconds, by the handle ``submit`` gave."""
        sentinels = {process.sentinel: handle for handle, (process, _) in self._running.items()}
        done: dict[int, Outcome] = {}
        for sentinel in wait(list(sentinels), timeout):
            handle = sentinels[sentinel]
            process, conn = self._running.pop(handle)
            process.join()
            done[handle] = _outcome(conn, process.exitcode)
            conn.close()
        return done


def _outcome(conn: Connection, exitcode: int | None) -> Outcome:
    try:
        if conn.poll():
            return True, conn.recv()
    except (EOFError, OSError):
        pass
    return False, f"worker died ({_exit_reason(exitcode)}) before finishing"


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


def blender_paths() -> list[str]:
    """The entries of ``sys.path`` that importing Blender's ``bpy`` added (its bundled scripts
    and the user's Blender add-ons). A spawned process starts with its parent's ``sys.path``;
    with these on it before ``import bpy``, the bundled ``scripts/modules/bpy`` folder hides
    the real module and the import fails (a test process that exported an FBX, then batched)."""
    bpy = sys.modules.get("bpy")
    if bpy is None or bpy.__file__ is None:
        return []
    # the outermost folder named bpy: the installed package (its module is its scripts' copy)
    package = next((p for p in reversed(Path(bpy.__file__).parents) if p.name == "bpy"),
                   Path(bpy.__file__).parent)
    roots = (package, Path.home() / ".config" / "blender")
    return [p for p in sys.path if any(Path(p).is_relative_to(root) for root in roots)]


def _work(send: Connection, parent: int, foreign: list[str], fn: Callable[..., Any],
          args: tuple[Any, ...]) -> None:
    sys.path[:] = [p for p in sys.path if p not in foreign]
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    result = fn(*args)
    send.send(result)
    send.close()


def _exit_with_parent(parent: int) -> None:
    """End this worker within PARENT_POLL_S of the batch process's death."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(1)
