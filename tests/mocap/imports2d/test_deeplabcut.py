"""DeepLabCut CSV and .h5: single and multi-animal files, labelled data, malformed headers and cells."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from mocap.errors import DetectionError
from mocap.imports2d import import_keypoints
from mocap.imports2d.deeplabcut import read_deeplabcut
from rigs.skeleton import get_skeleton

SCORER = "DLC_resnet50_humanJan1shuffle1_100000"


def _dlc_table(parts: list[str], xy: np.ndarray, score: np.ndarray,
               individuals: list[str] | None = None) -> tuple[list[list[str]], np.ndarray]:
    """DLC's header rows (level name first) and (F, 3 I B) values of xy (F, I, B, 2), score."""
    n_f, n_i, n_b = score.shape
    people = individuals or ["animal"]
    header = [["scorer"] + [SCORER] * (3 * n_i * n_b)]
    if individuals:
        header.append(["individuals"] + [i for i in people for _ in range(3 * n_b)])
    header.append(["bodyparts"] + [b for _ in people for b in parts for _ in range(3)])
    header.append(["coords"] + ["x", "y", "likelihood"] * (n_i * n_b))
    return header, np.concatenate([xy, score[..., None]], -1).reshape(n_f, -1)


def _write_dlc(path: Path, parts: list[str], xy: np.ndarray, score: np.ndarray,
               individuals: list[str] | None = None, frames=None) -> Path:
    """xy (F, I, B, 2), score (F, I, B) as DLC writes them (NaN as an empty cell)."""
    header, values = _dlc_table(parts, xy, score, individuals)
    rows = [[str(f)] + ["" if np.isnan(v) else repr(float(v)) for v in row]
            for f, row in zip(range(len(values)) if frames is None else frames, values)]
    path.write_text("\n".join(",".join(r) for r in header + rows) + "\n")
    return path


def _arrays(seed: int, n_frames: int, n_people: int, n_parts: int):
    rng = np.random.default_rng(seed)
    return (rng.uniform(0, 640, (n_frames, n_people, n_parts, 2)),
            rng.uniform(0.05, 1.0, (n_frames, n_people, n_parts)))


@pytest.mark.parametrize("seed", [0, 1])
def test_single_animal_csv_round_trips_onto_coco17(tmp_path, seed):
    coco = get_skeleton("coco17")
    xy, score = _arrays(seed, n_frames=5, n_people=1, n_parts=17)
    path = _write_dlc(tmp_path / "cam01DLC.csv", list(coco.joints), xy, score)
    kp = read_deeplabcut(path, fps=100.0)
    assert kp.skeleton == coco and kp.fps == 100.0     # smallest set holding the names
    np.testing.assert_array_equal(kp.xy, xy)
    np.testing.assert_array_equal(kp.score, score)
    assert (kp.track_id == 0).all()


def test_multi_animal_people_keep_their_columns_and_single_is_left_out(tmp_path):
    parts = ["Nose", "LeftShoulder", "right-shoulder"]           # read as snake case
    xy, score = _arrays(2, n_frames=3, n_people=3, n_parts=3)
    xy[1, 1] = np.nan                                            # person2 not seen in frame 1
    score[1, 1] = np.nan
    path = _write_dlc(tmp_path / "ma.csv", parts, xy, score,
                      individuals=["person1", "person2", "single"], frames=[0, 2, 5])
    kp = read_deeplabcut(path, skeleton="body25")
    body25 = kp.skeleton
    cols = body25.indices(["nose", "left_shoulder", "right_shoulder"])
    assert kp.xy.shape == (6, 2, 25, 2)                          # frames 0..5, 'single' dropped
    np.testing.assert_array_equal(kp.xy[[0, 2, 5]][:, :, cols], xy[:, :2])
    assert np.isnan(kp.xy[[1, 3, 4]]).all()
    np.testing.assert_array_equal(kp.track_id[[0, 2, 5]], [[0, 1], [0, -1], [0, 1]])


def test_labelled_data_without_likelihood_scores_one(tmp_path):
    lines = ["scorer,,,anna,anna,anna,anna", "bodyparts,,,nose,nose,left_eye,left_eye",
             "coords,,,x,y,x,y", "labeled-data,cam1,img0003.png,10.5,20.25,11.0,",
             "labeled-data,cam1,img0007.png,12.5,21.0,13.0,19.0"]
    path = tmp_path / "CollectedData_anna.csv"
    path.write_text("\n".join(lines))
    kp = read_deeplabcut(path)
    assert kp.n_frames == 8 and kp.skeleton.name == "coco17"
    np.testing.assert_array_equal(kp.xy[3, 0, :2], [[10.5, 20.25], [np.nan, np.nan]])
    np.testing.assert_array_equal(kp.score[[3, 7], 0, :2], [[1.0, 0.0], [1.0, 1.0]])


GOOD_HEADER = ["scorer,s,s,s", "bodyparts,nose,nose,nose", "coords,x,y,likelihood"]


@pytest.mark.parametrize("lines, message", [
    (["frame,x,y", "0,1,2"], r"its first cells are \['frame', '0'\]; a DeepLabCut CSV starts"),
    (["scorer,s,s", "bodyparts,nose,nose", "coords,u,v", "0,1,2"],
     r"line 3 \(coords\) names no x, y or likelihood column"),
    (["scorer,s,s,s", "bodyparts,nose,nose,nose", "coords,x,x,likelihood", "0,1,2,0.5"],
     r"person nose has no 'y' column"),
    (GOOD_HEADER + ["0,1.5,2.5,0.9", "1,1.5,oops,0.9"],
     r"line 5, column 3: 'oops' is not a number"),
    (GOOD_HEADER + ["0,1.5,2.5,0.9", "1,1.5,2.5"], r"line 5 has 3 cells where line 1 has 4"),
    (GOOD_HEADER + ["3,1.5,2.5,0.9", "3,1.5,2.5,0.9"], r"lines 4 and 5 are both frame 3"),
    (GOOD_HEADER + ["-2,1.5,2.5,0.9"], r"frame number -2 is not a frame index"),
    (GOOD_HEADER, r"no frame rows after the header"),
    (["scorer,s,s,s", "bodyparts,snout,snout,snout", "coords,x,y,likelihood", "0,1,2,0.5"],
     r"keypoints \['snout'\] are not joints of any keypoint set"),
])
def test_malformed_csv_names_file_line_and_column(tmp_path, lines, message):
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DetectionError, match=re.escape(str(path)) + ": " + message):
        read_deeplabcut(path)


# DeepLabCut's .h5: the same table as a pandas DataFrame (needs the optional `dlc` extra).


def _write_dlc_h5(path: Path, parts: list[str], xy: np.ndarray, score: np.ndarray,
                  individuals: list[str] | None = None, frames=None) -> Path:
    """The same table as _write_dlc, written the way DeepLabCut's analyze_videos writes .h5."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("tables")
    header, values = _dlc_table(parts, xy, score, individuals)
    columns = pd.MultiIndex.from_arrays([row[1:] for row in header],
                                        names=[row[0] for row in header])
    index = range(len(values)) if frames is None else frames
    pd.DataFrame(values, columns=columns, index=index).to_hdf(
        path, key="df_with_missing", format="table", mode="w")
    return path


def _assert_same(a, b):
    assert a.skeleton == b.skeleton and a.fps == b.fps
    np.testing.assert_array_equal(a.xy, b.xy)           # exact: both files hold the same float64
    np.testing.assert_array_equal(a.score, b.score)
    np.testing.assert_array_equal(a.track_id, b.track_id)


@pytest.mark.parametrize("seed", [0, 1])
def test_single_animal_h5_imports_exactly_as_its_csv(tmp_path, seed):
    parts = list(get_skeleton("coco17").joints)
    xy, score = _arrays(seed, n_frames=5, n_people=1, n_parts=17)
    xy[2, 0, 4], score[3, 0, 6] = np.nan, np.nan                 # a missing point, a missing score
    csv = read_deeplabcut(_write_dlc(tmp_path / "cam01.csv", parts, xy, score), fps=50.0)
    h5 = read_deeplabcut(_write_dlc_h5(tmp_path / "cam01.h5", parts, xy, score), fps=50.0)
    _assert_same(h5, csv)


@pytest.mark.parametrize("seed", [2, 3])
def test_multi_animal_h5_imports_exactly_as_its_csv(tmp_path, seed):
    parts = ["Nose", "LeftShoulder", "right-shoulder"]
    xy, score = _arrays(seed, n_frames=3, n_people=3, n_parts=3)
    xy[1, 1], score[1, 1] = np.nan, np.nan
    people, frames = ["person1", "person2", "single"], [0, 2, 5]
    csv = read_deeplabcut(_write_dlc(tmp_path / "ma.csv", parts, xy, score, people, frames),
                          skeleton="body25")
    h5 = read_deeplabcut(_write_dlc_h5(tmp_path / "ma.h5", parts, xy, score, people, frames),
                         skeleton="body25")
    _assert_same(h5, csv)
    assert h5.xy.shape == (6, 2, 25, 2)                          # 'single' left out


def test_labelled_h5_with_image_path_rows_imports_as_its_csv(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("tables")
    rows = [("labeled-data", "cam1", "img0003.png"), ("labeled-data", "cam1", "img0007.png")]
    columns = pd.MultiIndex.from_arrays(
        [["anna"] * 4, ["nose", "nose", "left_eye", "left_eye"], ["x", "y", "x", "y"]],
        names=["scorer", "bodyparts", "coords"])
    frame = pd.DataFrame([[10.5, 20.25, 11.0, np.nan], [12.5, 21.0, 13.0, 19.0]],
                         index=pd.MultiIndex.from_tuples(rows), columns=columns)
    frame.to_hdf(tmp_path / "CollectedData_anna.h5", key="keypoints", mode="w")  # napari-dlc
    csv = tmp_path / "CollectedData_anna.csv"
    csv.write_text("scorer,,,anna,anna,anna,anna\nbodyparts,,,nose,nose,left_eye,left_eye\n"
                   "coords,,,x,y,x,y\nlabeled-data,cam1,img0003.png,10.5,20.25,11.0,\n"
                   "labeled-data,cam1,img0007.png,12.5,21.0,13.0,19.0\n")
    _assert_same(read_deeplabcut(tmp_path / "CollectedData_anna.h5"), read_deeplabcut(csv))


def test_import_keypoints_routes_h5_and_hdf5(tmp_path):
    parts = list(get_skeleton("coco17").joints)
    xy, score = _arrays(4, n_frames=2, n_people=1, n_parts=17)
    path = _write_dlc_h5(tmp_path / "side.hdf5", parts, xy, score)
    kp = import_keypoints(path, fps=30.0)["side"]
    np.testing.assert_array_equal(kp.xy, xy)
    assert kp.fps == 30.0


def _bad_h5(path: Path, case: str) -> None:
    """A file named .h5 that is not DeepLabCut's table, one way per case."""
    pd = pytest.importorskip("pandas")
    tables = pytest.importorskip("tables")
    good = pd.MultiIndex.from_arrays([["s"] * 3, ["nose"] * 3, ["x", "y", "likelihood"]],
                                     names=["scorer", "bodyparts", "coords"])
    if case == "text":
        path.write_text("scorer,s,s,s\n")
    elif case == "plain":
        with tables.open_file(path, "w") as f:
            f.create_array("/", "data", np.zeros(3))
    elif case == "other key":
        pd.DataFrame([[1.0, 2.0, 0.5]], columns=good).to_hdf(path, key="poses", mode="w")
    elif case == "series":
        pd.Series([1.0, 2.0]).to_hdf(path, key="df_with_missing", mode="w")
    elif case == "levels":
        columns = pd.MultiIndex.from_arrays([["nose"] * 2, ["x", "y"]], names=["part", "xy"])
        pd.DataFrame([[1.0, 2.0]], columns=columns).to_hdf(path, key="df_with_missing")
    elif case == "duplicate":
        pd.DataFrame([[1.0, 2.0, 0.5]] * 2, columns=good, index=[3, 3]).to_hdf(
            path, key="df_with_missing", format="table")
    elif case == "float index":
        pd.DataFrame([[1.0, 2.0, 0.5]], columns=good, index=[0.5]).to_hdf(
            path, key="df_with_missing")
    elif case == "text cells":
        pd.DataFrame([["1.0", "oops", "0.5"]], columns=good).to_hdf(path, key="df_with_missing")


@pytest.mark.parametrize("case, message", [
    ("text", (r"not an HDF5 file; expected DeepLabCut's \.h5 \(a pandas table under the key "
     r"'df_with_missing'\)")),
    ("plain", (r"its tables are \[\]; expected DeepLabCut's DataFrame under the key "
     r"df_with_missing or keypoints")),
    ("other key", r"its tables are \['poses'\]; expected DeepLabCut's DataFrame"),
    ("series", r"'df_with_missing' is a Series; expected DeepLabCut's DataFrame"),
    ("levels", (r"table 'df_with_missing' has column levels \['part', 'xy'\]; expected "
     r"DeepLabCut's \(scorer, \[individuals,\] bodyparts, coords\)")),
    ("duplicate", r"rows 1 and 2 are both frame 3; one row per frame"),
    ("float index", (r"table 'df_with_missing' is indexed by float64 values; expected frame "
     r"numbers")),
    ("text cells", r"table 'df_with_missing' holds cells that are not numbers"),
])
def test_malformed_h5_names_file_and_what_was_expected(tmp_path, case, message):
    path = tmp_path / "bad.h5"
    _bad_h5(path, case)
    with pytest.raises(DetectionError, match=re.escape(str(path)) + ": " + message):
        read_deeplabcut(path)


def test_h5_without_pandas_says_how_to_install_it(tmp_path, monkeypatch):
    path = tmp_path / "cam.h5"
    path.write_bytes(b"")
    monkeypatch.setitem(sys.modules, "pandas", None)           # as if pandas were not installed
    with pytest.raises(DetectionError, match=re.escape(str(path)) + ": reading DeepLabCut's "
                       r"\.h5 needs pandas and PyTables .*pip install 'mocap\[dlc\]', or "
                       r"export CSV from DeepLabCut"):
        read_deeplabcut(path)
