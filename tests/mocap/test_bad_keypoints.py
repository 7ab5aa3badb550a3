"""Issue 22's bad-input table for 2D keypoint files: every case exits 2 with one line naming the
file and the fix, and leaves a good earlier run's outputs byte-for-byte unchanged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mocap.cli import main
from mocap.synthetic.sample_session import make_sample_session

Arrays = dict[str, np.ndarray]


def _duplicate_name(a: Arrays) -> None:
    names = a["keypoints"].copy()
    names[3] = names[4]                              # 'left_ear' twice: one joint overwritten
    a["keypoints"] = names


def _set(key: str, index: tuple, value: float) -> Callable[[Arrays], None]:
    def edit(a: Arrays) -> None:
        a[key] = a[key].astype(float)
        a[key][index] = value
    return edit


def _replace(key: str, value: object) -> Callable[[Arrays], None]:
    def edit(a: Arrays) -> None:
        a[key] = np.asarray(value)
    return edit


CASES = {
    "duplicated keypoint name": (_duplicate_name, "appear more than once in 'keypoints'"),
    "xy 1e30": (_set("xy", (5, 0, 2, 0), 1e30), "far outside camera cam_2's"),
    "xy inf": (_set("xy", (5, 0, 2, 0), np.inf), "'xy' is infinite at frame 5, person 0"),
    "score inf": (_set("score", (7, 0, 9), np.inf), "'score' is outside [0, 1] at frame 7"),
    "score 7": (_set("score", (7, 0, 9), 7.0), "'score' is outside [0, 1] at frame 7"),
    "score x100": (lambda a: a.update(score=a["score"] * 100), "'score' is outside [0, 1]"),
    "score negative": (_set("score", (0, 0, 0), -0.5), "'score' is outside [0, 1] at frame 0"),
    "fps inf": (_replace("fps", np.inf), "'fps' must be one number in (0, 10000]"),
    "fps 1e12": (_replace("fps", 1e12), "'fps' must be one number in (0, 10000]"),
    "fps text": (_replace("fps", "thirty"), "'fps' must be one number"),
    "fps list": (_replace("fps", [30.0, 30.0]), "'fps' must be one number"),
    "xy as booleans": (lambda a: a.update(xy=a["xy"] > 0), "'xy' must be numbers shaped"),
    "track_id floats": (lambda a: a.update(track_id=a["xy"][..., 0, 0] * 0.5),
                        "'track_id' must be integers"),
    "skeleton a list": (_replace("skeleton", ["coco17", "coco17"]), "'skeleton' must be one name"),
}


def _files(folder: Path) -> dict[str, bytes]:
    """The files of ``folder`` itself (its cache/ folder is no run output)."""
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> tuple[Path, dict[str, bytes]]:
    session = make_sample_session(tmp_path_factory.mktemp("s") / "studio", n_frames=30,
                                  board_videos=False)
    assert main(["run", str(session), "-q"]) == 0
    outputs = _files(session / "output")
    return session, outputs


@pytest.mark.parametrize("case", list(CASES))
def test_bad_keypoints_file_is_refused_and_outputs_kept(good_run, case, capsys):
    session, outputs = good_run
    path = session / "keypoints2d" / "cam_2.npz"
    original = path.read_bytes()
    edit, message = CASES[case]
    with np.load(path) as data:
        arrays = dict(data)
    edit(arrays)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    try:
        assert main(["run", str(session), "-q"]) == 2
    finally:
        path.write_bytes(original)
    err = capsys.readouterr().err
    assert err.startswith("mocap: error: ") and err.count("\n") == 1, err
    assert "cam_2.npz" in err and message in err, err
    assert _files(session / "output") == outputs


def test_empty_npz_file_is_refused(good_run, capsys):
    session, outputs = good_run
    path = session / "keypoints2d" / "cam_1.npz"
    original = path.read_bytes()
    path.write_bytes(b"")
    try:
        assert main(["run", str(session), "-q"]) == 2
    finally:
        path.write_bytes(original)
    err = capsys.readouterr().err
    assert "cam_1.npz: not a readable .npz keypoints file" in err, err
    assert _files(session / "output") == outputs


def test_nan_scores_read_as_unseen(good_run):
    """NaN is the usual mark of an undetected joint: it reads as score 0 (not an error)."""
    from mocap.keypoints_io import read_camera_keypoints
    session, _ = good_run
    path = session / "keypoints2d" / "cam_3.npz"
    with np.load(path) as data:
        arrays = dict(data)
    arrays["score"] = arrays["score"].astype(float)
    arrays["score"][2, 0, 4] = np.nan
    edited = session.parent / "nan_score.npz"
    np.savez(edited, **arrays)
    assert read_camera_keypoints(edited).score[2, 0, 4] == 0.0


@pytest.mark.parametrize("toml, message", [
    ("fps = 0\n", "'fps' must be in (0, 10000]"),
    ("fps = inf\n", "'fps' must be a finite number"),
    ("fps = 25\n", "fps = 25, but the keypoint files say 30 frames per second"),
])
def test_session_fps_is_checked_and_used(good_run, toml, message, capsys):
    """session.toml's fps was accepted and never used: now it must agree with the keypoints."""
    session, outputs = good_run
    (session / "session.toml").write_text(toml)
    try:
        assert main(["run", str(session), "-q"]) == 2
    finally:
        (session / "session.toml").unlink()
    err = capsys.readouterr().err
    assert "session.toml" in err and message in err, err
    assert _files(session / "output") == outputs
