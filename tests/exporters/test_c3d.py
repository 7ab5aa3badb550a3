"""C3D through ezc3d: positions, labels, rate, residuals and quality channels read back."""

from __future__ import annotations

import builtins

import numpy as np
import pytest

from exporters.c3d import RESIDUAL_STEP_PX, read_c3d, read_c3d_quality, write_c3d
from exporters.errors import ExportError
from mocap.synthetic.motion import PersonStyle, synthetic_motion
from rigs.motion import FILLED, LIFTED, MISSING, Motion3D

ezc3d = pytest.importorskip("ezc3d")


def _motion() -> Motion3D:
    """Two people, coco17, with a missing joint, a filled joint and known reprojection errors."""
    m = synthetic_motion("coco17", n_frames=12, fps=50.0,
                         people=[PersonStyle(), PersonStyle(phase=2)])
    rng = np.random.default_rng(0)
    xyz = m.xyz.copy()
    xyz[3, 1, 4] = np.nan
    error = rng.uniform(0.0, 30.0, m.xyz.shape[:3])                          # px, some > 25.5
    error[5, 1, 6] = np.nan                                                  # known, no error
    source = np.where(np.isfinite(xyz).all(-1), 1, MISSING)
    source[5, 1, 6], source[6, 1, 7] = FILLED, LIFTED
    return Motion3D(xyz=xyz, skeleton=m.skeleton, fps=m.fps, reprojection_error=error,
                    n_views=rng.integers(2, 6, m.xyz.shape[:3]), source=source,
                    person_id=np.array([7, 9]))


@pytest.mark.parametrize("units", ["mm", "m"])
def test_round_trip_through_our_reader(tmp_path, units):
    m = _motion()
    path = write_c3d(m, tmp_path / "p.c3d", person=1, units=units)
    xyz, labels, fps = read_c3d(path)
    # float32 keeps 24 bits: under 2^-24 * 3 m = 0.2 um for these synthetic people (< 3 m)
    np.testing.assert_allclose(xyz, m.xyz[:, 1], atol=1e-6, rtol=0)
    assert np.isnan(xyz[3, 4]).all() and np.isfinite(np.delete(xyz, 4, 1)).all()
    assert labels == list(m.skeleton.joints) and fps == 50.0
    assert [p.name for p in tmp_path.iterdir()] == ["p.c3d"]


def test_file_as_ezc3d_reads_it(tmp_path):
    """What another C3D tool sees: units, labels, rate, -1 residual for the missing joint."""
    m = _motion()
    c3d = ezc3d.c3d(str(write_c3d(m, tmp_path / "p.c3d", person=1)))
    point = c3d["parameters"]["POINT"]
    assert point["UNITS"]["value"] == ["mm"] and point["RATE"]["value"][0] == 50.0
    assert list(point["LABELS"]["value"]) == list(m.skeleton.joints)
    mm = c3d["data"]["points"][:3].T                                         # (F, J, 3)
    np.testing.assert_allclose(mm[0, 0], m.xyz[0, 1, 0] * 1000, atol=1e-3)   # float32 mm
    residual = c3d["data"]["meta_points"]["residuals"][0].T                  # (F, J)
    assert residual[3, 4] == -1 and (np.delete(residual.ravel(), 3 * 17 + 4) >= 0).all()
    assert c3d["parameters"]["MOCAP"]["SKELETON"]["value"] == ["coco17"]
    assert c3d["parameters"]["MOCAP"]["PERSON_ID"]["value"][0] == 9


def test_residuals_and_quality_channels(tmp_path):
    m = _motion()
    quality = read_c3d_quality(write_c3d(m, tmp_path / "p.c3d", person=1))
    error, residual = m.reprojection_error[:, 1], quality["residual"]
    seen = np.isfinite(m.xyz[:, 1]).all(-1)
    kept = seen & (error <= 255 * RESIDUAL_STEP_PX)
    # rounded to the 0.1 px step (half a step), float32 on top
    np.testing.assert_allclose(residual[kept & np.isfinite(error)],
                               error[kept & np.isfinite(error)], atol=RESIDUAL_STEP_PX / 2 + 1e-6)
    assert np.allclose(residual[seen & (error > 25.5)], 25.5)                 # clipped, not wrapped
    assert residual[5, 6] == pytest.approx(0.0, abs=1e-6) and np.isnan(residual[3, 4])
    np.testing.assert_array_equal(quality["n_views"], m.n_views[:, 1])
    np.testing.assert_array_equal(quality["source"], m.source[:, 1])


def test_missing_ezc3d_names_the_extra(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_ezc3d(name, *args, **kwargs):
        if name == "ezc3d":
            raise ImportError("No module named 'ezc3d'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ezc3d)
    with pytest.raises(ExportError, match=r"p.c3d: .*pip install 'mocap\[biomech\]'"):
        write_c3d(_motion(), tmp_path / "p.c3d")
    with pytest.raises(ExportError, match=r"q.c3d: .*pip install 'mocap\[biomech\]'"):
        read_c3d(tmp_path / "q.c3d")
    assert not list(tmp_path.iterdir())


def test_bad_input_is_named(tmp_path):
    m = _motion()
    with pytest.raises(ExportError, match=r"p.c3d: person 2 is not a slot.*0..1"):
        write_c3d(m, tmp_path / "p.c3d", person=2)
    with pytest.raises(ExportError, match=r"p.c3d: C3D units must be 'mm' or 'm'"):
        write_c3d(m, tmp_path / "p.c3d", units="in")
    bad = tmp_path / "bad.c3d"
    bad.write_bytes(b"not a c3d file at all" * 40)
    with pytest.raises(ExportError, match=r"bad.c3d: not a readable C3D"):
        read_c3d(bad)
    with pytest.raises(ExportError, match=r"none.c3d: no such C3D file"):
        read_c3d(tmp_path / "none.c3d")
