"""A run's outputs, replaced together or not at all.

A run writes its files into a staging folder inside the output folder. Only when it has
finished do they replace the previous run's files: the staging folder is renamed into a commit
journal (the single atomic step that decides between old and new), then its files are moved
into place, the earlier files of the kinds this run makes (``own``) that it did not write again
are removed (a 3-camera report leaves no 4th camera's picture behind), and ``run.json`` (the
manifest: every run output in the folder with its SHA-256, and what this run wrote) comes
last. A run killed before the rename leaves the old outputs whole; one killed during the moves
has its journal finished by the next run that opens the folder. A failed run discards its
staging folder.

The folder is locked while a run writes (a second run at once is refused, not mixed), checked
writable before any long work, and cleared of the leftovers of killed runs (staging folders,
temporary files of interrupted atomic writes). Caches (``cache/``) are not run outputs: they are
kept across failed runs so that a rerun resumes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from fnmatch import fnmatch
from pathlib import Path
from types import TracebackType
from typing import Self

from mocap.errors import InputError

MANIFEST = "run.json"
_STAGING, _JOURNAL, _LOCK = ".staging-", ".commit-", ".lock"


class RunOutputs:
    """``with RunOutputs(folder) as run:`` write into ``run.staging``, ``run.own(...)`` the kinds
    of file written, then ``run.commit()``.

    Leaving the block without a commit (an error, an interrupt) discards what was staged.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.staging = Path()
        self.owned: list[str] = []
        self._lock = -1
        self._new_folder = False

    def own(self, *patterns: str) -> None:
        """Declare the kinds of output this run makes (glob patterns relative to the folder,
        e.g. ``"calibration_report/*"``): earlier such files it does not write are removed."""
        self.owned += patterns

    def __enter__(self) -> Self:
        self._new_folder = not self.folder.exists()
        self._lock = _locked(self.folder)
        try:
            recover(self.folder)
            self.staging = Path(tempfile.mkdtemp(prefix=_STAGING, dir=self.folder))
        except BaseException:
            os.close(self._lock)
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        if self._new_folder and [p.name for p in self.folder.iterdir()] == [_LOCK]:
            (self.folder / _LOCK).unlink()          # a failed first run leaves no folder
            self.folder.rmdir()
        os.close(self._lock)

    def final(self, staged: Path) -> Path:
        """Where a file written under ``staging`` will lie once committed."""
        return self.folder / Path(staged).relative_to(self.staging)

    def commit(self) -> list[Path]:
        """Replace the previous run's outputs with the staged files; returns their paths."""
        written = {p.relative_to(self.staging).as_posix(): _sha256(p)
                   for p in sorted(self.staging.rglob("*")) if p.is_file()}
        earlier = manifest_files(self.folder)
        dropped = sorted(f for f in earlier if f not in written
                         and any(fnmatch(f, pattern) for pattern in self.owned))
        kept = {f: h for f, h in earlier.items() if f not in dropped}
        manifest = {"finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "pid": os.getpid(),
                    "written": sorted(written), "dropped": dropped,
                    "files": dict(sorted({**kept, **written}.items()))}
        (self.staging / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        journal = self.folder / (_JOURNAL + self.staging.name.removeprefix(_STAGING))
        os.replace(self.staging, journal)                   # the commit point
        _roll_forward(journal, self.folder)
        return [self.folder / f for f in written]


def recover(folder: Path) -> None:
    """Finish a run killed while committing, and remove what killed runs left half-done."""
    for journal in sorted(folder.glob(_JOURNAL + "*")):
        _roll_forward(journal, folder)
    for staging in folder.glob(_STAGING + "*"):
        shutil.rmtree(staging, ignore_errors=True)
    for tmp in (*folder.glob(".*.tmp*"), *folder.glob("*/.*.tmp*")):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)


def _roll_forward(journal: Path, folder: Path) -> None:
    """Move a committed run's files into ``folder``, remove the ones it dropped, then the
    manifest; safe to repeat after an interruption (moved files are no longer in the journal)."""
    staged = journal / MANIFEST
    manifest = json.loads(staged.read_text(encoding="utf-8"))
    for name in manifest["written"]:
        if (journal / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(journal / name, folder / name)
    for name in manifest["dropped"]:
        (folder / name).unlink(missing_ok=True)
    os.replace(staged, folder / MANIFEST)
    shutil.rmtree(journal, ignore_errors=True)


def manifest_files(folder: Path) -> dict[str, str]:
    """The run outputs in ``folder`` (relative path -> SHA-256) by its manifest; {} without."""
    try:
        files = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}


def _locked(folder: Path) -> int:
    """Create ``folder`` if needed and hold its lock; errors say why it cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise InputError(f"cannot write the outputs to {folder} ({e.strerror or e}); give a "
                         "writable folder with -o") from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise InputError(f"{folder} is being written by another mocap run; wait for it to "
                         "finish or give another folder with -o") from None
    return fd


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
