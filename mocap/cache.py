"""Stage caching: a stage's result is kept in ``output/cache`` with its inputs' fingerprint, so
a rerun (or a run that was interrupted) reuses what is done and redoes only what changed."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from exporters.atomic import atomic_output

Arrays = dict[str, np.ndarray]


def fingerprint(files: Iterable[Path] = (), **settings: Any) -> str:
    """A short hash of input files (path, size, modification time) and settings."""
    h = hashlib.sha256()
    for path in files:
        stat = Path(path).stat()
        h.update(f"{Path(path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def load_cached(path: Path, key: str) -> Arrays | None:
    """The arrays stored at ``path`` if they were made from inputs with fingerprint ``key``."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["_fingerprint"]) == key:
                return {k: data[k] for k in data.files if k != "_fingerprint"}
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        pass
    return None


def store_cached(path: Path, key: str, arrays: Arrays) -> None:
    """Store ``arrays`` at ``path`` (atomically) under fingerprint ``key``."""
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, _fingerprint=key, **arrays)
