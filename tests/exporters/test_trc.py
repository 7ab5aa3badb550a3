"""TRC header as OpenSim's TRCFileAdapter writes and reads it, Pose2Sim reading our files,
and the NaN policy (a missing marker is 3 empty fields)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from exporters.errors import ExportError
from exporters.trc import read_trc, write_trc
from mocap.synthetic.motion import synthetic_motion


def _markers(tmp_path: Path) -> tuple[np.ndarray, list[str], Path]:
    m = synthetic_motion("coco17", n_frames=10, fps=50.0)
    xyz = m.xyz[:, 0].copy()
    xyz[2, 5] = np.nan                                                       # a gap
    xyz[4, 16, 1] = np.nan                                                   # half a marker
    markers = list(m.skeleton.joints)
    return xyz, markers, write_trc(xyz, markers, 50.0, tmp_path / "walk.trc")


def test_header_is_opensims_layout(tmp_path):
    """OpenSim 4's TRCFileAdapter: line 1 names the file, lines 2-3 are the same 8 keys and
    values, line 4 gives each marker 3 tab-ended columns after Frame# and Time, line 5 numbers
    X1 Y1 Z1 ... from 1 in order, line 6 is blank, data rows have 2 + 3 M fields."""
    _, markers, path = _markers(tmp_path)
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0].split("\t") == ["PathFileType", "4", "(X/Y/Z)", "walk.trc"]
    info = dict(zip(lines[1].split("\t"), lines[2].split("\t"), strict=True))
    assert info == {"DataRate": "50", "CameraRate": "50", "NumFrames": "10", "NumMarkers": "17",
                    "Units": "m", "OrigDataRate": "50", "OrigDataStartFrame": "1",
                    "OrigNumFrames": "10"}
    assert lines[3].split("\t") == ["Frame#", "Time"] + [f for m in markers
                                                         for f in (m, "", "")] + [""]
    assert lines[4].split("\t") == ["", ""] + [f"{a}{i}" for i in range(1, 18)
                                               for a in "XYZ"] + [""]
    assert lines[5] == "" and lines[-1] == "" and len(lines) == 6 + 10 + 1
    rows = [line.split("\t") for line in lines[6:-1]]
    assert all(len(r) == 2 + 3 * 17 for r in rows)
    assert [int(r[0]) for r in rows] == list(range(1, 11))
    np.testing.assert_allclose([float(r[1]) for r in rows], np.arange(10) / 50.0, atol=1e-9)


def test_nan_policy_is_empty_fields(tmp_path):
    xyz, _, path = _markers(tmp_path)
    rows = [line.split("\t") for line in path.read_text().splitlines()[6:]]
    assert rows[2][2 + 15:2 + 18] == ["", "", ""]                            # marker 6 of frame 3
    assert rows[4][2 + 48:2 + 51] == ["", "", ""]                            # a NaN y voids all 3
    assert sum(v == "" for r in rows for v in r) == 6
    back, _, _ = read_trc(path)
    assert np.isnan(back[2, 5]).all() and np.isnan(back[4, 16]).all()
    assert np.isfinite(back).all(-1).sum() == 10 * 17 - 2
    np.testing.assert_allclose(back[2, 4], xyz[2, 4], atol=1e-6)


def test_pose2sims_parsing_reads_our_file(tmp_path):
    """Pose2Sim 0.10.49 reads TRC files with pandas: ``common.read_trc`` takes the markers from
    header line 4 split on tabs ([2::3], blanks dropped) and the values from ``read_csv(sep=tab,
    skiprows=4)`` without the frame, time and unnamed columns; ``trc_plot``/``trc_filter`` take
    them from ``read_csv(skiprows=3, nrows=0).columns[2::3][:-1]``. Re-stated here, as Pose2Sim
    is not installed in CI (checked against the real package in its own venv when this
    test was written): our 17 markers and values (Y up, metres) come back, NaN where ours is."""
    pd = pytest.importorskip("pandas")
    xyz, markers, path = _markers(tmp_path)
    with open(path, encoding="utf-8") as f:
        header = [next(f) for _ in range(5)]
    names = [m.strip() for m in header[3].split("\t")[2::3] if m.strip()]
    table = pd.read_csv(path, sep="\t", skiprows=4, encoding="utf-8")
    frames, times = table.iloc[:, 0], table.iloc[:, 1]
    values = table.drop(table.columns[[0, 1]], axis=1)
    values = values.loc[:, ~values.columns.str.startswith("Unnamed")]
    plot_names = list(pd.read_csv(path, sep="\t", skiprows=3, nrows=0).columns[2::3][:-1])
    assert names == markers and plot_names == markers
    assert frames.tolist() == list(range(1, 11))
    np.testing.assert_allclose(times, np.arange(10) / 50.0, atol=1e-9)
    y_up = np.stack([xyz[..., 0], xyz[..., 2], -xyz[..., 1]], -1)
    y_up[4, 16] = np.nan
    np.testing.assert_allclose(values.to_numpy(dtype=float).reshape(10, 17, 3), y_up, atol=1e-6)


def test_bad_marker_names_are_refused(tmp_path):
    with pytest.raises(ExportError, match=r"x.trc: TRC marker names .* \['a\\tb', ''\]"):
        write_trc(np.zeros((2, 3, 3)), ["ok", "a\tb", ""], 30.0, tmp_path / "x.trc")
    assert not list(tmp_path.iterdir())
