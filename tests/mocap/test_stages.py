"""The 3D stages of ``mocap run`` (issue 17 item 5): the triangulation is cached so that a rerun
with only ``[filter]`` changed redoes only the filter, and ``mocap triangulate`` runs the 3D part
alone on the 2D a session has."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from mocap.cli import main
from mocap.reconstruction_stage import CACHE_FILE
from mocap.synthetic.sample_session import make_sample_session


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """A 4-camera sample session with its 2D and true cameras (no board footage: fast)."""
    return make_sample_session(tmp_path_factory.mktemp("s") / "studio", n_frames=40,
                               board_videos=False)


def _copy(session: Path, folder: Path) -> Path:
    return Path(shutil.copytree(session, folder / "studio"))


def _points(output: Path) -> dict[str, np.ndarray]:
    with np.load(output / "points3d.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _assert_same_points(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key, value in a.items():        # the same computation on the same input: bit-identical
        np.testing.assert_array_equal(value, b[key], err_msg=key)


@pytest.mark.parametrize("cutoff_hz", [3.0, 0.0])
def test_a_rerun_with_another_filter_reuses_the_triangulation(sample, tmp_path, cutoff_hz):
    session = _copy(sample, tmp_path)
    assert main(["run", str(session), "-q"]) == 0
    cache = session / "output" / "cache" / CACHE_FILE
    stamp, first = cache.stat().st_mtime_ns, _points(session / "output")
    (session / "session.toml").write_text(f"[filter]\ncutoff_hz = {cutoff_hz}\n")
    assert main(["run", str(session), "-q"]) == 0
    assert cache.stat().st_mtime_ns == stamp            # not triangulated again
    rerun = _points(session / "output")
    # the default cutoff is 6 Hz: another cutoff must change the smoothed joints
    assert not np.array_equal(rerun["xyz"], first["xyz"], equal_nan=True)
    fresh = tmp_path / "fresh"
    assert main(["run", str(session), "-o", str(fresh), "-q"]) == 0
    _assert_same_points(rerun, _points(fresh))


def test_a_changed_triangulation_setting_triangulates_again(sample, tmp_path):
    session = _copy(sample, tmp_path)
    assert main(["run", str(session), "-q"]) == 0
    cache = session / "output" / "cache" / CACHE_FILE
    stamp = cache.stat().st_mtime_ns
    assert main(["run", str(session), "-q", "--min-views", "3"]) == 0
    assert cache.stat().st_mtime_ns != stamp


def test_triangulate_gives_what_run_gives(sample, tmp_path):
    session = _copy(sample, tmp_path)
    assert main(["run", str(session), "-o", str(tmp_path / "run"), "-q"]) == 0
    assert main(["triangulate", str(session), "-o", str(tmp_path / "tri"), "-q"]) == 0
    _assert_same_points(_points(tmp_path / "run"), _points(tmp_path / "tri"))
    assert (tmp_path / "tri" / "points3d.trc").read_bytes() == \
        (tmp_path / "run" / "points3d.trc").read_bytes()


def test_triangulate_reads_the_2d_that_mocap_detect_wrote(sample, tmp_path):
    session = _copy(sample, tmp_path)
    assert main(["run", str(session), "-o", str(tmp_path / "run"), "-q"]) == 0
    shutil.move(session / "keypoints2d", session / "output" / "keypoints2d")   # as detect writes
    assert main(["triangulate", str(session), "-q"]) == 0
    _assert_same_points(_points(tmp_path / "run"), _points(session / "output"))


def test_triangulate_without_2d_says_to_detect_first(sample, tmp_path, capsys):
    session = _copy(sample, tmp_path)
    shutil.rmtree(session / "keypoints2d")
    assert main(["triangulate", str(session), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mocap: error: ") and err.count("\n") == 1, err
    assert "run mocap detect first" in err
    assert not (session / "output").exists()            # refused before any work
