"""Silencing what native libraries print straight to the process's stdout and stderr (file
descriptors 1 and 2), where Python's own redirection cannot reach: bpy's import banner, TFLite's
delegate notes."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, redirect_stderr, redirect_stdout


@contextmanager
def quiet_native_output(stdout: bool = True, stderr: bool = True) -> Iterator[None]:
    """Send what is written to file descriptors 1 and/or 2, and to Python's ``sys.stdout`` /
    ``sys.stderr``, nowhere meanwhile (exceptions still propagate; both are flushed first so
    nothing written earlier is lost)."""
    sys.stdout.flush()
    sys.stderr.flush()
    with ExitStack() as stack:
        if stdout:                          # Python-level writes where sys.stdout is not fd 1
            stack.enter_context(redirect_stdout(io.StringIO()))
        if stderr:
            stack.enter_context(redirect_stderr(io.StringIO()))
        null = stack.enter_context(open(os.devnull, "wb"))
        for fd in [fd for fd, on in ((1, stdout), (2, stderr)) if on]:
            saved = os.dup(fd)
            stack.callback(os.close, saved)
            stack.callback(os.dup2, saved, fd)
            stack.callback(_flush)
            os.dup2(null.fileno(), fd)
        yield


def _flush() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
