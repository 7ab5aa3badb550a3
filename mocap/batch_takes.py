"""The takes of a batch: session folders found under the given paths, and whether a take's
outputs are up to date (so that a second ``mocap batch`` does no work).

A folder is a take (a session, DESIGN.md "Sessions on disk") when it holds ``session.toml``,
``calibration/``, ``videos/`` or ``keypoints2d/``; the search goes down from each path but not
into a take (its ``output/``, board footage and keypoint folders are its own parts) nor into
hidden folders.

A take is up to date when ``output/cache/batch.json`` (written after its last successful batch
run) holds the fingerprint of its current inputs (every file of the take outside ``output/``:
path, size, modification time), of the code that computes it, and the SHA-256 of every output
the run wrote, and those outputs are still there unchanged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from calibration.footage import VIDEO_SUFFIXES
from exporters.atomic import atomic_output
from mocap.cache import fingerprint
from mocap.calibration_stage import DETECTION_VERSION, code_version
from mocap.errors import InputError
from mocap.keypoints_stage import given_keypoints
from mocap.reconstruction_stage import RECONSTRUCTION_VERSION
from mocap.run_outputs import manifest_files
from mocap.session import Session

SESSION_MARKERS = ("session.toml", "calibration", "videos", "keypoints2d")
RECORD = Path("cache") / "batch.json"
# what a run computes and writes besides detection and triangulation: a change redoes the
# takes (an upgrade's new report or viewer reaches every take)
PIPELINE_VERSION = code_version(("mocap.pipeline", "mocap.filtering", "mocap.association",
                                 "mocap.sync_estimation", "mocap.export_stage",
                                 "mocap.keypoints_stage", "mocap.calibration_stage",
                                 "mocap.report", "mocap.report_data", "mocap.report_figures",
                                 "mocap.viewer", "mocap.viewer_data"))
NO_TAKES = ("a take is a session folder holding calibration/ and keypoints2d/ (or videos/), "
            "or a session.toml; give such folders or folders above them")


def find_takes(paths: Sequence[str | Path]) -> list[Path]:
    """Every take under ``paths``, each once, in the order found (sorted within a folder).

    Raises:
        InputError: a path that does not exist, or paths that hold no take.
    """
    found: dict[Path, None] = {}
    for path in map(Path, paths):
        if not path.exists():
            raise InputError(f"{path} not found; give session folders or folders holding "
                             "them")
        takes = list(_takes_under(path)) if path.is_dir() else []
        if not takes:
            raise InputError(f"{path}: no takes found; {NO_TAKES}")
        found.update((take, None) for take in takes)
    return list(found)


def is_take(folder: Path) -> bool:
    """Whether ``folder`` is a session folder (see the module's docstring)."""
    return any((folder / marker).exists() for marker in SESSION_MARKERS)


def _takes_under(folder: Path) -> Iterator[Path]:
    if is_take(folder):
        yield folder.resolve()
        return
    for child in sorted(folder.iterdir()):
        if child.is_dir() and not child.name.startswith(".") and not child.is_symlink():
            yield from _takes_under(child)


def detection_cameras(root: Path) -> list[str]:
    """The cameras whose videos a run of the take at ``root`` detects 2D in (one task each);
    none where the take brings its own 2D in ``keypoints2d/``."""
    session = Session.open(root)
    folder = root / "videos"
    if given_keypoints(session) or not folder.is_dir():
        return []
    return sorted({p.stem for p in folder.iterdir()
                   if not p.name.startswith(".") and p.suffix.lower() in VIDEO_SUFFIXES})


def input_key(root: Path) -> str:
    """Fingerprint of the take's inputs (every file outside ``output/``) and of the code."""
    output = (root / "output").resolve()
    files = sorted(p for p in root.rglob("*") if p.is_file() and output not in p.parents
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    return fingerprint(files, version=[PIPELINE_VERSION, RECONSTRUCTION_VERSION,
                                       DETECTION_VERSION])


def up_to_date(root: Path, key: str) -> dict[str, Any] | None:
    """The summary row of the take's last batch run if its outputs are up to date for ``key``
    (see the module's docstring), else None."""
    output = Session.open(root).output
    try:
        record = json.loads((output / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("key") != key:
        return None
    outputs = manifest_files(output)
    if not outputs or outputs != record.get("outputs"):
        return None
    if any(_sha256(output / name) != sha for name, sha in outputs.items()):
        return None
    row = record.get("row")
    return row if isinstance(row, dict) else None


def write_record(root: Path, key: str, row: dict[str, Any]) -> None:
    """Remember (atomically) that the take's current outputs were made from inputs ``key``."""
    output = Session.open(root).output
    record = {"key": key, "outputs": manifest_files(output), "row": row}
    with atomic_output(output / RECORD) as tmp:
        tmp.write_text(json.dumps(record, indent=1), encoding="utf-8")


def _sha256(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None
