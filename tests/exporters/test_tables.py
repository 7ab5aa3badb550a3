"""Motion3D as CSV and JSON: read back to 1 um, columns a spreadsheet reads, NaN policy."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from exporters.errors import ExportError
from exporters.tables import (
    csv_columns,
    read_motion_csv,
    read_motion_json,
    write_motion_csv,
    write_motion_json,
)
from mocap.synthetic.motion import PersonStyle, synthetic_motion
from rigs.motion import FILLED, MISSING, Motion3D


def _motion(fps: float = 30.0) -> Motion3D:
    m = synthetic_motion("coco17", n_frames=8, fps=fps,
                         people=[PersonStyle(), PersonStyle(phase=2)])
    rng = np.random.default_rng(1)
    xyz = m.xyz.copy()
    xyz[3, 1, 4] = np.nan
    xyz[5, 0, 0, 2] = np.nan                                                 # half a joint
    error = rng.uniform(0.0, 5.0, xyz.shape[:3])
    error[~np.isfinite(xyz).all(-1)] = np.nan
    error[6, 0, 2] = np.nan                                                  # filled: no error
    source = np.where(np.isfinite(xyz).all(-1), 1, MISSING)
    source[6, 0, 2] = FILLED
    return Motion3D(xyz=xyz, skeleton=m.skeleton, fps=fps, reprojection_error=error,
                    n_views=rng.integers(2, 5, xyz.shape[:3]), source=source,
                    person_id=np.array([4, 2]))


def _same(back: Motion3D, m: Motion3D) -> None:
    missing = ~np.isfinite(m.xyz).all(-1)
    np.testing.assert_array_equal(np.isnan(back.xyz).any(-1), missing)      # whole joint gone
    # written with 6 decimals: under 0.5 um off, the 1 um goal
    np.testing.assert_allclose(back.xyz[~missing], m.xyz[~missing], atol=1e-6, rtol=0)
    np.testing.assert_allclose(back.reprojection_error, m.reprojection_error, atol=5e-4)
    np.testing.assert_array_equal(back.n_views, m.n_views)
    np.testing.assert_array_equal(back.source, m.source)
    np.testing.assert_array_equal(back.person_id, m.person_id)
    assert back.skeleton == m.skeleton and back.fps == m.fps


@pytest.mark.parametrize("fps", [30.0, 59.94])
def test_csv_round_trip(tmp_path, fps):
    m = _motion(fps)
    _same(read_motion_csv(write_motion_csv(m, tmp_path / "m.csv")), m)
    assert [p.name for p in tmp_path.iterdir()] == ["m.csv"]


def test_csv_reads_as_a_plain_table(tmp_path):
    """One header row, one row per frame and person, blank fields where a joint is missing."""
    m = _motion()
    with open(write_motion_csv(m, tmp_path / "m.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == csv_columns(m.skeleton.joints)
    assert list(rows[0])[:6] == ["frame", "time_s", "person_id", "nose_x", "nose_y", "nose_z"]
    assert len(rows) == 8 * 2 and [r["person_id"] for r in rows[:2]] == ["4", "2"]
    row = rows[3 * 2 + 1]                                                    # frame 3, person 2
    assert row["frame"] == "3" and float(row["time_s"]) == pytest.approx(0.1, abs=1e-9)
    assert [row[f"right_ear_{a}"] for a in "xyz"] == ["", "", ""]
    assert row["right_ear_reprojection_error_px"] == "" and row["right_ear_source"] == "0"
    assert [rows[10][f"nose_{a}"] for a in "xyz"] == ["", "", ""]            # a NaN z voids all
    assert float(rows[0]["nose_z"]) == pytest.approx(m.xyz[0, 0, 0, 2], abs=1e-6)
    assert sum(v == "" for r in rows for v in r.values()) == 2 * 4 + 1


def test_json_round_trip_and_metadata(tmp_path):
    m = _motion()
    path = write_motion_json(m, tmp_path / "m.json")
    _same(read_motion_json(path), m)
    doc = json.loads(path.read_text())
    assert {k: doc[k] for k in ("fps", "units", "up_axis", "skeleton", "person_id")} == {
        "fps": 30.0, "units": "m", "up_axis": "z", "skeleton": "coco17", "person_id": [4, 2]}
    assert doc["keypoints"] == list(m.skeleton.joints) and len(doc["frames"]) == 8
    person = doc["frames"][3]["people"][1]
    assert person["person_id"] == 2 and person["xyz"][4] is None             # null, not NaN
    assert person["reprojection_error_px"][4] is None and person["source"][4] == 0
    assert doc["frames"][5]["people"][0]["xyz"][0] is None
    assert "NaN" not in path.read_text()


def test_bad_files_are_named(tmp_path):
    m = _motion()
    path = write_motion_csv(m, tmp_path / "m.csv")
    text = path.read_text().replace("nose_y", "nose_w", 1)
    (tmp_path / "w.csv").write_text(text)
    with pytest.raises(ExportError, match=r"w.csv: unexpected CSV column 'nose_w'"):
        read_motion_csv(tmp_path / "w.csv")
    with pytest.raises(ExportError, match=r"m.csv: its joints fit no keypoint set.*skeleton="):
        read_motion_csv(path, skeleton="halpe26")
    (tmp_path / "n.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ExportError, match=r"n.json: not a mocap-motion3d file"):
        read_motion_json(tmp_path / "n.json")
    doc = json.loads(write_motion_json(m, tmp_path / "m.json").read_text())
    doc["frames"][2]["people"].pop()                                         # a slot lost
    (tmp_path / "short.json").write_text(json.dumps(doc))
    with pytest.raises(ExportError, match=r"short.json: not a readable mocap-motion3d JSON"):
        read_motion_json(tmp_path / "short.json")
