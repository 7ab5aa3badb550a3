"""DeepLabCut CSV: single and multi-animal files, labelled data, malformed headers and cells."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from mocap.errors import DetectionError
from mocap.imports2d.deeplabcut import read_deeplabcut
from rigs.skeleton import get_skeleton

SCORER = "DLC_resnet50_humanJan1shuffle1_100000"


def _write_dlc(path: Path, parts: list[str], xy: np.ndarray, score: np.ndarray,
               individuals: list[str] | None = None, frames=None) -> Path:
    """xy (F, I, B, 2), score (F, I, B) as DLC writes them (NaN as an empty cell)."""
    n_f, n_i, n_b = score.shape
    people = individuals or ["animal"]
    header = [["scorer"] + [SCORER] * (3 * n_i * n_b)]
    if individuals:
        header.append(["individuals"] + [i for i in people for _ in range(3 * n_b)])
    header.append(["bodyparts"] + [b for _ in people for b in parts for _ in range(3)])
    header.append(["coords"] + ["x", "y", "likelihood"] * (n_i * n_b))
    values = np.concatenate([xy, score[..., None]], -1).reshape(n_f, -1)
    rows = [[str(f)] + ["" if np.isnan(v) else repr(float(v)) for v in row]
            for f, row in zip(range(n_f) if frames is None else frames, values)]
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
