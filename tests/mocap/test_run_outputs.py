"""All-or-nothing run outputs: staged, committed together, recovered after a kill."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mocap.errors import InputError
from mocap.run_outputs import MANIFEST, RunOutputs, manifest_files, recover


def _run(folder: Path, files: dict[str, str], owns: tuple[str, ...] = ("*",)) -> list[Path]:
    with RunOutputs(folder) as run:
        run.own(*owns)
        for name, text in files.items():
            (run.staging / name).parent.mkdir(parents=True, exist_ok=True)
            (run.staging / name).write_text(text)
        return run.commit()


def _visible(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.parts[-2:])
            and p.name != MANIFEST}


def test_a_committed_run_replaces_its_kind_of_files_and_lists_them(tmp_path):
    _run(tmp_path, {"a.txt": "old", "report/cam_4.png": "old"}, owns=("a.txt", "report/*"))
    written = _run(tmp_path, {"a.txt": "new", "report/cam_1.png": "new"},
                   owns=("a.txt", "report/*"))
    assert sorted(p.name for p in written) == ["a.txt", "cam_1.png"]
    assert _visible(tmp_path) == {"a.txt": "new", "report/cam_1.png": "new"}
    assert set(manifest_files(tmp_path)) == {"a.txt", "report/cam_1.png"}


def test_files_of_kinds_a_run_does_not_make_are_kept(tmp_path):
    _run(tmp_path, {"calibration.toml": "rig"}, owns=("calibration.toml",))
    _run(tmp_path, {"points3d.npz": "motion"}, owns=("points3d.npz",))
    assert _visible(tmp_path) == {"calibration.toml": "rig", "points3d.npz": "motion"}
    assert set(manifest_files(tmp_path)) == {"calibration.toml", "points3d.npz"}


def test_a_failed_run_leaves_the_earlier_outputs_and_no_staging(tmp_path):
    _run(tmp_path, {"a.txt": "old"})
    with pytest.raises(RuntimeError), RunOutputs(tmp_path) as run:
        (run.staging / "a.txt").write_text("new")
        raise RuntimeError("the stage failed")
    assert _visible(tmp_path) == {"a.txt": "old"}
    assert not list(tmp_path.glob(".staging-*"))


def test_a_failed_first_run_leaves_no_folder(tmp_path):
    with pytest.raises(RuntimeError), RunOutputs(tmp_path / "out"):
        raise RuntimeError("the stage failed")
    assert not (tmp_path / "out").exists()


def test_a_run_killed_while_committing_is_finished_by_the_next(tmp_path):
    """Simulate a kill after the commit point (the staging folder renamed into a journal)
    with one of two files moved: the next run that opens the folder completes it."""
    _run(tmp_path, {"a.txt": "old", "b.txt": "old"})
    written = {"a.txt": "new", "b.txt": "new"}
    journal = tmp_path / ".commit-x"
    journal.mkdir()
    for name, text in written.items():
        (journal / name).write_text(text)
    (journal / MANIFEST).write_text(json.dumps(
        {"written": sorted(written), "dropped": [], "files": {}}))
    os.replace(journal / "a.txt", tmp_path / "a.txt")          # killed after the first move
    recover(tmp_path)
    assert _visible(tmp_path) == {"a.txt": "new", "b.txt": "new"}
    assert not journal.exists()


def test_leftovers_of_killed_runs_are_removed(tmp_path):
    _run(tmp_path, {"a.txt": "old"})
    (tmp_path / ".staging-dead").mkdir()
    (tmp_path / ".staging-dead" / "a.txt").write_text("half")
    (tmp_path / ".points3d.abc.tmp.npz").write_text("half")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / ".board_cam_1.abc.tmp.npz").write_text("half")
    (tmp_path / "cache" / "board_cam_1.npz").write_text("kept")
    _run(tmp_path, {"b.txt": "new"}, owns=("b.txt",))
    hidden = [p.name for p in tmp_path.rglob(".*") if p.name != ".lock"]
    assert hidden == [] and (tmp_path / "cache" / "board_cam_1.npz").read_text() == "kept"


def test_a_second_run_at_once_is_refused(tmp_path):
    with RunOutputs(tmp_path), pytest.raises(InputError, match="being written by another"):
        RunOutputs(tmp_path).__enter__()


def test_an_output_folder_that_cannot_be_made_is_named_before_any_work(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match=r"cannot write the outputs to .*file/out"):
        RunOutputs(tmp_path / "file" / "out").__enter__()
