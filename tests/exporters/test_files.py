"""points3d.npz and TRC: written atomically, read back to the same numbers."""

from __future__ import annotations

import numpy as np
import pytest

from exporters.errors import ExportError
from exporters.points3d import read_points3d, write_points3d
from exporters.trc import read_trc, write_trc
from mocap.synthetic.motion import PersonStyle, synthetic_motion


def test_points3d_round_trip(tmp_path):
    m = synthetic_motion("coco17", n_frames=20, people=[PersonStyle(), PersonStyle(phase=2)])
    xyz = m.xyz.copy()
    xyz[3, 1, 4] = np.nan
    m = type(m)(xyz=xyz, skeleton=m.skeleton, fps=m.fps)
    back = read_points3d(write_points3d(m, tmp_path / "p.npz"))
    np.testing.assert_array_equal(back.xyz, m.xyz)
    np.testing.assert_array_equal(back.source, m.source)
    assert back.skeleton == m.skeleton and back.fps == m.fps and back.source[3, 1, 4] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["p.npz"]


def test_trc_round_trip_in_metres_and_y_up(tmp_path):
    m = synthetic_motion("coco17", n_frames=15, fps=60.0)
    xyz = m.xyz[:, 0].copy()
    xyz[2, 5] = np.nan
    path = write_trc(xyz, list(m.skeleton.joints), 60.0, tmp_path / "a.trc")
    back, markers, fps = read_trc(path)
    np.testing.assert_allclose(back, xyz, atol=1e-6)
    assert markers == list(m.skeleton.joints) and fps == 60.0
    lines = path.read_text().splitlines()
    assert lines[2].split("\t")[4] == "m" and lines[3].startswith("Frame#\tTime\tnose")
    first = [float(v) for v in lines[6].split("\t")[2:5]]
    np.testing.assert_allclose(first, [xyz[0, 0, 0], xyz[0, 0, 2], -xyz[0, 0, 1]], atol=1e-6)


def test_bad_files_are_named(tmp_path):
    bad = tmp_path / "x.npz"
    bad.write_text("nope")
    with pytest.raises(ExportError, match="x.npz: not a readable"):
        read_points3d(bad)
    with pytest.raises(ExportError, match=r"TRC needs \(F, 2, 3\)"):
        write_trc(np.zeros((3, 4, 3)), ["a", "b"], 30.0, tmp_path / "b.trc")
    assert not (tmp_path / "b.trc").exists()
