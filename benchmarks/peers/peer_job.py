"""The peers' side of the benchmark's job/result files. It runs in each peer's own environment,
so it imports the standard library alone."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any


def serve(argv: list[str], usage: str, run: Callable[[dict[str, Any]], dict[str, Any]],
          versions: Callable[[], dict[str, str]]) -> int:
    """``peer JOB.json RESULT.json``: run the job, write its result (or the error it raised)
    with the packages' versions, atomically; the peer's own prints go to stderr."""
    if len(argv) != 3:
        print(usage, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        job = json.load(f)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            result = run(job)
    except Exception as e:  # noqa: BLE001 - a failed detection or setup is the result
        traceback.print_exc()
        result = {"ok": False, "error": f"{type(e).__name__}: {' '.join(str(e).split())}",
                  "cameras": {}}
    result["versions"] = {**versions(), "python": sys.version.split()[0]}
    tmp = argv[2] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
    os.replace(tmp, argv[2])
    return 0
