"""Property-based fuzzing of every reader of user files (issue 22): a valid file with one to three
random edits (a value replaced by a random TOML value or array, a key deleted, a key added)
either loads to valid data or raises the package's own error. Never a traceback, never an
invalid value silently accepted. Validity is judged here, independently of the readers."""

from __future__ import annotations

import copy
import math
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from calibration.board import board_from_caliscope, load_board
from calibration.errors import CalibrationError
from calibration.importers import read_caliscope, read_freemocap, read_qualisys
from calibration.io import read_calibration, read_intrinsics
from calibration.sync import read_timestamps
from mocap.config import SessionConfig
from mocap.errors import MocapError
from mocap.keypoints_io import MAX_FPS, read_camera_keypoints

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
EXAMPLES = settings(max_examples=200, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])

SCALARS = st.one_of(st.booleans(), st.integers(-10, 10), st.sampled_from([0, -1, 10**18]),
                    st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([1e30, -1e30, 0.0, 1e-30]), st.text(max_size=6))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text("abkxyz", min_size=1, max_size=3), inner,
                                        max_size=2), max_leaves=8)
CELLS = st.one_of(st.sampled_from(["0", "1", "2", "-1", "0.5", "1e30", "inf", "nan", "", "x",
                                   "cam_0", "cam_1", "1.0e-3", "90", "1080p", "none"]),
                  st.floats(allow_nan=True).map(repr), st.integers(-5, 5).map(str))


# --- random edits of a nested table ------------------------------------------------------
def _places(node: Any, path: tuple = ()) -> list[tuple]:
    """Every path to a value inside ``node`` (dict keys and list indices)."""
    items = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, list) else ()
    out = []
    for key, child in items:
        out.append((*path, key))
        out += _places(child, (*path, key))
    return out


@st.composite
def edited(draw: st.DrawFn, table: dict[str, Any]) -> dict[str, Any]:
    t = copy.deepcopy(table)
    for _ in range(draw(st.integers(1, 3))):
        places = _places(t)
        if not places:
            break
        path = draw(st.sampled_from(places))
        parent = t
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(VALUES)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text("abkxyz", min_size=1, max_size=3))] = draw(VALUES)
        else:
            parent.append(draw(VALUES))
    return t


def _write_toml(table: dict[str, Any], path: Path) -> None:
    try:
        path.write_text(tomli_w.dumps(table), encoding="utf-8")
    except (TypeError, ValueError):
        assume(False)                           # not expressible in TOML


def _real(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _reals(v: Any, n: int) -> bool:
    return isinstance(v, list) and len(v) == n and all(_real(x) for x in v)


def _valid_camera(c: Any, fisheye_default: bool = False) -> bool:
    """A camera table in the anipose/Pose2Sim layout with values that mean what they say."""
    if not isinstance(c, dict):
        return False
    fisheye = c.get("fisheye", fisheye_default)
    K, size = c.get("matrix"), c.get("size")
    return (isinstance(c.get("name", ""), str) and isinstance(fisheye, bool)
            and _reals(size, 2) and all(s > 0 and float(s).is_integer() for s in size)
            and isinstance(K, list) and len(K) == 3 and all(_reals(r, 3) for r in K)
            and K[0][0] > 0 and K[1][1] > 0 and K[1][0] == 0 and K[2] == [0, 0, 1]
            and any(_reals(c.get("distortions"), n) for n in ((4,) if fisheye else (4, 5)))
            and _reals(c.get("rotation"), 3) and _reals(c.get("translation"), 3))


def _attempt(read: Any, path: Path) -> Any:
    """The reader's result, or None when it refused the file with one of our errors."""
    try:
        return read(path)
    except (CalibrationError, MocapError):
        return None


# --- readers -------------------------------------------------------------------------------
POSE2SIM = tomllib.loads((DATA / "pose2sim_demo" / "calibration"
                          / "Calib_qualisys_pose2sim_format.toml").read_text())


INTRINSICS = {k: {key: v for key, v in cam.items() if key not in ("rotation", "translation")}
              for k, cam in POSE2SIM.items()}
FREEMOCAP = {"metadata": {"charuco_square_size": 39.0,
                          "charuco_board_object": "CharucoBoardDefinition(5x3)"}}
FREEMOCAP.update({cam: dict(table, translation=[1000 * v for v in table["translation"]])
                  for cam, table in POSE2SIM.items() if "translation" in table})

# readers of our camera-table layout: (reader, valid file, its name, what a table may omit)
CAMERA_TABLE_READERS = {
    "calibration.toml": (read_calibration, POSE2SIM, {}),
    "intrinsics.toml": (read_intrinsics, INTRINSICS, {"rotation": [0.0] * 3,
                                                      "translation": [0.0] * 3}),
    "freemocap.toml": (read_freemocap, FREEMOCAP, {}),
}


@pytest.mark.parametrize("name", list(CAMERA_TABLE_READERS))
@EXAMPLES
@given(data=st.data())
def test_camera_table_files(tmp_path, name, data):
    """Our calibration TOML, intrinsics.toml and FreeMoCap's TOML (translations in the unit of
    its board's squares, which must then be a positive number)."""
    read, valid, optional = CAMERA_TABLE_READERS[name]
    table = data.draw(edited(valid))
    _write_toml(table, tmp_path / name)
    rig = _attempt(read, tmp_path / name)
    if rig is not None:
        cameras = [v for k, v in table.items() if k != "metadata" and isinstance(v, dict)]
        assert cameras and all(_valid_camera({**optional, **c}) for c in cameras), table
        for cam in rig:
            assert np.isfinite(cam.R).all() and np.isfinite(cam.t).all()
            np.testing.assert_allclose(cam.R @ cam.R.T, np.eye(3), atol=1e-9)
        if read is read_freemocap:
            square = table["metadata"]["charuco_square_size"]
            assert _real(square) and square > 0


QCA = (DATA / "pose2sim_demo" / "calibration" / "Calib.qca.txt").read_text()


@EXAMPLES
@given(data=st.data())
def test_qualisys_qca(tmp_path, data):
    """An attribute of a camera's element replaced or deleted: the rig read must hold only
    finite numbers, positive focal lengths and image sizes, and true rotations."""
    root = ET.fromstring(QCA.split("?>", 1)[1])
    for _ in range(data.draw(st.integers(1, 3))):
        element = data.draw(st.sampled_from(list(root.iter())))
        keys = sorted(element.attrib)
        if not keys:
            continue
        key = data.draw(st.sampled_from(keys))
        if data.draw(st.booleans()):
            element.set(key, data.draw(CELLS))
        else:
            del element.attrib[key]
    path = tmp_path / "Calib.qca.txt"
    path.write_text(ET.tostring(root, encoding="unicode"))
    rig = _attempt(read_qualisys, path)
    if rig is not None:
        for cam in rig:
            assert np.isfinite(cam.K).all() and cam.K[0, 0] > 0 and cam.K[1, 1] > 0
            assert min(cam.size) > 0 and np.isfinite(cam.dist).all() and np.isfinite(cam.t).all()
            np.testing.assert_allclose(cam.R @ cam.R.T, np.eye(3), atol=1e-6)
            assert np.linalg.det(cam.R) > 0


CALISCOPE = tomllib.loads((DATA / "caliscope_charuco_4cam" / "camera_array.toml").read_text())


def _valid_caliscope_camera(c: Any) -> bool:
    """caliscope's rotation is a 3x3 rotation matrix or a Rodrigues vector; up to 5 distortion
    coefficients."""
    R = c.get("rotation") if isinstance(c, dict) else None
    matrix = isinstance(R, list) and len(R) == 3 and all(_reals(r, 3) for r in R) \
        and np.allclose(np.array(R) @ np.array(R).T, np.eye(3), atol=1e-6) \
        and np.linalg.det(np.array(R)) > 0
    dist = c.get("distortions") if isinstance(c, dict) else None
    return (matrix or _reals(R, 3)) and isinstance(dist, list) and len(dist) in (4, 5) \
        and _valid_camera(dict(c, rotation=[0.0, 0.0, 0.0], distortions=[0.0] * 5))


@EXAMPLES
@given(table=edited(CALISCOPE))
def test_caliscope_camera_array(tmp_path, table):
    _write_toml(table, tmp_path / "camera_array.toml")
    rig = _attempt(read_caliscope, tmp_path / "camera_array.toml")
    if rig is not None:
        cameras = table["cameras"].values()
        used = [c for c in cameras if not (isinstance(c, dict) and c.get("ignore") is True)]
        assert used and all(_valid_caliscope_camera(c) for c in used), table


BOARD = {"type": "charuco", "squares": [5, 7], "square_size": 0.04, "marker_size": 0.03,
         "dictionary": "DICT_4X4_50", "legacy_pattern": False, "inverted": False,
         "double_sided": False}


@EXAMPLES
@given(table=edited(BOARD))
def test_board_toml(tmp_path, table):
    _write_toml(table, tmp_path / "board.toml")
    board = _attempt(load_board, tmp_path / "board.toml")
    if board is not None:
        assert table.get("type") in ("charuco", "checkerboard")
        assert isinstance(table["squares"], list) and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 3 for v in table["squares"])
        assert _real(table["square_size"]) and 0 < table["square_size"] <= 1
        for key in ("legacy_pattern", "inverted", "double_sided"):
            assert isinstance(table.get(key, False), bool)
        if board.type == "charuco":
            assert _real(table["marker_size"]) and 0 < table["marker_size"] < table["square_size"]
            assert isinstance(table.get("dictionary", "DICT_4X4_50"), str)


CALISCOPE_BOARD = tomllib.loads((DATA / "caliscope_charuco_4cam" / "charuco.toml").read_text())


@EXAMPLES
@given(table=edited(CALISCOPE_BOARD))
def test_caliscope_board_toml(tmp_path, table):
    _write_toml(table, tmp_path / "charuco.toml")
    board = _attempt(board_from_caliscope, tmp_path / "charuco.toml")
    if board is not None:
        for key in ("columns", "rows"):
            assert isinstance(table[key], int) and not isinstance(table[key], bool)
        sizes = [table.get(k) for k in ("square_size_override_cm", "aruco_scale")]
        assert all(v is None or _real(v) and v > 0 for v in sizes)
        assert all(isinstance(table.get(k, False), bool) for k in ("inverted", "legacy_pattern"))
        assert isinstance(table.get("dictionary", ""), str)


SESSION = {"fps": 30.0, "triangulation": {"min_views": 2, "min_score": 0.3},
           "calibration": {"max_views": 40, "refine_intrinsics": "auto", "world_frame": "auto",
                           "gate_sigma": 5.0}}


@EXAMPLES
@given(table=edited(SESSION))
def test_session_toml(tmp_path, table):
    _write_toml(table, tmp_path / "session.toml")
    config = _attempt(SessionConfig.load, tmp_path / "session.toml")
    if config is not None:
        assert set(table) <= {"fps", "triangulation", "calibration"}
        cal = table.get("calibration", {})
        assert "max_views" not in cal or type(cal["max_views"]) is int and cal["max_views"] >= 3
        assert cal.get("refine_intrinsics", "auto") in ("auto", True, False)
        frame = cal.get("world_frame", "auto")
        assert frame == "auto" or type(frame) is int and frame >= 0
        assert "gate_sigma" not in cal or _real(cal["gate_sigma"]) and cal["gate_sigma"] > 0
        assert "fps" not in table or _real(table["fps"]) and 0 < table["fps"] <= MAX_FPS
        tri = table.get("triangulation", {})
        assert set(tri) <= {"min_views", "min_score"}
        assert "min_views" not in tri or type(tri["min_views"]) is int and tri["min_views"] >= 2
        assert "min_score" not in tri or _real(tri["min_score"]) and 0 <= tri["min_score"] <= 1


def _keypoint_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"xy": rng.uniform(0, 600, (4, 2, 17, 2)), "score": rng.uniform(0, 1, (4, 2, 17)),
            "track_id": np.tile(np.arange(2), (4, 1)),
            "keypoints": np.array(["nose", "left_eye", "right_eye", "left_ear", "right_ear",
                                   "left_shoulder", "right_shoulder", "left_elbow",
                                   "right_elbow", "left_wrist", "right_wrist", "left_hip",
                                   "right_hip", "left_knee", "right_knee", "left_ankle",
                                   "right_ankle"]),
            "skeleton": np.array("coco17"), "fps": np.array(30.0)}


def _array(value: Any) -> np.ndarray:
    try:
        return np.array(value)
    except ValueError:                            # ragged lists
        return np.array(str(value))


ARRAYS = st.one_of(
    st.builds(_array, VALUES),
    st.sampled_from([np.array(np.inf), np.array(1e12), np.array(-3.0), np.array(True),
                     np.zeros((4, 2, 17, 2), bool), np.full((4, 2, 17), 7.0),
                     np.full((4, 2, 17, 2), np.inf), np.full((4, 2, 17), np.nan),
                     np.array(["nose"] * 17), np.zeros((4, 2)) + 0.5, np.zeros(0),
                     np.array("h36m17"), np.array("nonsense")]))


@st.composite
def edited_arrays(draw: st.DrawFn) -> dict[str, np.ndarray]:
    arrays = _keypoint_arrays()
    for _ in range(draw(st.integers(1, 2))):
        key = draw(st.sampled_from(sorted(arrays)))
        if draw(st.booleans()):
            del arrays[key]
        else:
            value = draw(ARRAYS)
            assume(value.dtype != object)
            arrays[key] = value
    return arrays


@EXAMPLES
@given(arrays=edited_arrays())
def test_keypoints_npz(tmp_path, arrays):
    path = tmp_path / "cam_1.npz"
    np.savez(path, **arrays)
    loaded = _attempt(read_camera_keypoints, path)
    if loaded is not None:
        xy, score, names = arrays["xy"], arrays["score"], list(arrays["keypoints"])
        assert xy.dtype.kind in "iuf" and score.dtype.kind in "iuf"
        assert not np.isinf(xy).any() and len(set(names)) == len(names)
        assert ((score >= 0) & (score <= 1) | np.isnan(score)).all()
        assert arrays["fps"].ndim == 0 and 0 < float(arrays["fps"]) <= MAX_FPS
        assert np.isfinite(loaded.xy).all(-1).sum() + np.isnan(loaded.xy).all(-1).sum() \
            == loaded.xy[..., 0].size


@EXAMPLES
@given(layout=st.sampled_from([["camera", "frame", "time"],
                               ["sync_index", "port", "frame_index", "frame_time"]]),
       rows=st.lists(st.lists(CELLS, min_size=3, max_size=4), min_size=1, max_size=8),
       valid_rows=st.integers(0, 6))
def test_timestamps_csv(tmp_path, layout, rows, valid_rows):
    caliscope = "port" in layout
    good = [[str(i), str(i % 2), str(i // 2), f"{0.1 * i:.3f}"] if caliscope
            else [f"cam_{i % 2}", str(i // 2), f"{0.1 * i:.3f}"] for i in range(valid_rows)]
    lines = [",".join(layout)] + [",".join(r) for r in good + rows]
    path = tmp_path / "timestamps.csv"
    path.write_text("\n".join(lines) + "\n")
    times = _attempt(read_timestamps, path)
    if times is not None:
        assert times and all(t.ndim == 1 and t.size > 0 for t in times.values())
        assert all(np.isfinite(t).all() and (np.diff(t) > 0).all() for t in times.values())


@pytest.mark.parametrize("text", ["", "\x00\x01", "[cam]\nsize = [", "a = 1\n[a]\n"])
def test_unparseable_files_are_our_errors(tmp_path, text):
    for name, read in (("calibration.toml", read_calibration), ("board.toml", load_board),
                       ("camera_array.toml", read_caliscope)):
        path = tmp_path / name
        path.write_text(text)
        assert _attempt(read, path) is None
