"""The detection stage through ``mocap detect``: resume after a kill with the same result,
redo only what changed, and bad input refused without partial cache entries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from mocap.cli import main
from mocap.detection import video as video_module
from tests.mocap.videos import write_first_frames

N_FRAMES, CHUNK = 24, 8        # 3 chunks per camera: enough to kill a run between two of them
SETTINGS = f"[detection]\nworkers = 1\nchunk_frames = {CHUNK}\n"


@pytest.fixture(scope="module")
def videos(shared_data, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    for cam in ("cam01", "cam02"):
        write_first_frames(shared_data / "pose2sim_demo/single_person/videos" / f"{cam}.mp4",
                           folder / f"{cam}.mp4", N_FRAMES, shrink=2)     # half size: quick
    return folder


def _session(root: Path, videos: Path) -> Path:
    (root / "videos").mkdir(parents=True)
    for video in videos.iterdir():
        (root / "videos" / video.name).write_bytes(video.read_bytes())
    (root / "session.toml").write_text(SETTINGS)
    return root


def _chunks(session: Path) -> dict[str, int]:
    """Cached chunk file -> modification time (ns)."""
    cache = session / "output" / "cache" / "keypoints2d"
    return {str(p.relative_to(cache)): p.stat().st_mtime_ns for p in sorted(cache.rglob("*.npz"))}


def _result(session: Path) -> dict[str, dict[str, np.ndarray]]:
    out = {}
    for path in sorted((session / "output" / "keypoints2d").glob("*.npz")):
        with np.load(path) as data:
            out[path.stem] = {k: data[k] for k in data.files}
    return out


@pytest.fixture(scope="module")
def clean_run(videos, tmp_path_factory) -> Path:
    session = _session(tmp_path_factory.mktemp("clean"), videos)
    assert main(["detect", str(session), "-q"]) == 0
    return session


def test_a_clean_run_writes_every_camera_and_caches_every_chunk(clean_run):
    result = _result(clean_run)
    assert sorted(result) == ["cam01", "cam02"]
    for arrays in result.values():
        assert arrays["xy"].shape[:1] == (N_FRAMES,) and str(arrays["skeleton"]) == "blazepose33"
        # the subject stands in full view in every one of these frames (acceptance 1 asks 95 %)
        assert (arrays["score"].max(axis=(1, 2)) > 0).mean() >= 0.95
    assert len(_chunks(clean_run)) == 2 * N_FRAMES // CHUNK


def test_a_killed_run_resumes_with_the_same_result(videos, clean_run, tmp_path):
    session = _session(tmp_path / "session", videos)
    command = [sys.executable, "-m", "mocap.cli", "detect", str(session), "-q"]
    process = subprocess.Popen(command, start_new_session=True)
    deadline = time.monotonic() + 300
    while len(_chunks(session)) < 2 if (session / "output").exists() else True:
        assert process.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    before = _chunks(session)
    assert 2 <= len(before) < 2 * N_FRAMES // CHUNK
    assert main(["detect", str(session), "-q"]) == 0
    after = _chunks(session)
    assert all(after[name] == mtime for name, mtime in before.items()), "finished chunks redone"
    _assert_same(_result(session), _result(clean_run))


def test_touching_one_video_redoes_only_that_camera(videos, clean_run, tmp_path):
    session = _session(tmp_path / "session", videos)
    assert main(["detect", str(session), "-q"]) == 0
    before = _chunks(session)
    os.utime(session / "videos" / "cam02.mp4")
    assert main(["detect", str(session), "-q"]) == 0
    after = _chunks(session)
    assert all(after[n] == t for n, t in before.items() if n.startswith("cam01"))
    assert all(after[n] != t for n, t in before.items() if n.startswith("cam02"))
    _assert_same(_result(session), _result(clean_run))


def test_each_video_is_counted_once_not_once_per_chunk(videos, tmp_path, monkeypatch):
    # counting a video's frames reads all its packets; counting again for each chunk would grow
    # with the square of the video's length (an hour at 60 fps is 720 chunks of 300 frames)
    counted = []
    count = video_module._count_frames
    monkeypatch.setattr(video_module, "_count_frames",
                        lambda path: counted.append(Path(path).name) or count(path))
    assert main(["detect", str(_session(tmp_path / "session", videos)), "-q"]) == 0
    assert sorted(counted) == ["cam01.mp4", "cam02.mp4"]


def _assert_same(a: dict[str, dict[str, np.ndarray]], b: dict[str, dict[str, np.ndarray]]):
    assert sorted(a) == sorted(b)
    for camera in a:
        for key in ("xy", "score", "track_id"):
            np.testing.assert_array_equal(a[camera][key], b[camera][key], err_msg=camera + key)


def test_a_truncated_video_is_named_and_leaves_no_cache_entry(videos, tmp_path, capsys):
    session = _session(tmp_path / "session", videos)
    broken = session / "videos" / "cam02.mp4"
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 2])
    assert main(["detect", str(session), "-q"]) == 2
    message = capsys.readouterr().err
    assert "cam02.mp4" in message and "Traceback" not in message
    assert not any(name.startswith("cam02") for name in _chunks(session))
    assert not (session / "output" / "keypoints2d").exists()


@pytest.mark.parametrize("name, hint", [("blazpose", "did you mean 'blazepose'"),
                                        ("openpose", "known detectors")])
def test_an_unknown_detector_is_refused_by_name(videos, tmp_path, capsys, name, hint):
    session = _session(tmp_path / "session", videos)
    assert main(["detect", str(session), "--detector", name, "-q"]) == 2
    message = capsys.readouterr().err
    assert f"unknown detector '{name}'" in message and hint in message
    assert not (session / "output" / "cache").exists()


def _calibration(path: Path, cameras: list[str], size: tuple[int, int]) -> Path:
    """A calibration TOML of ``cameras`` at ``size`` (their poses do not matter here)."""
    tables = [f'[{c}]\nname = "{c}"\nsize = [{size[0]}, {size[1]}]\n'
              f"matrix = [[500.0, 0.0, {size[0] / 2}], [0.0, 500.0, {size[1] / 2}], "
              "[0.0, 0.0, 1.0]]\ndistortions = [0.0, 0.0, 0.0, 0.0]\n"
              f"rotation = [0.0, 0.0, 0.0]\ntranslation = [{i}.0, 0.0, 3.0]\n"
              for i, c in enumerate(cameras)]
    path.write_text("\n".join(tables))
    return path


def test_a_calibrated_camera_without_a_video_is_named(videos, tmp_path, capsys):
    session = _session(tmp_path / "session", videos)
    size = cv2.VideoCapture(str(videos / "cam01.mp4"))
    width, height = int(size.get(cv2.CAP_PROP_FRAME_WIDTH)), int(size.get(cv2.CAP_PROP_FRAME_HEIGHT))
    calibration = _calibration(tmp_path / "cal.toml", ["cam01", "cam02", "cam03"],
                               (width, height))
    assert main(["detect", str(session), "--calibration", str(calibration), "-q"]) == 2
    message = capsys.readouterr().err
    assert "cam03" in message and "no video" in message and "Traceback" not in message
    assert not (session / "output" / "cache").exists()


def test_a_zero_frame_video_is_named(videos, tmp_path, capsys):
    session = _session(tmp_path / "session", videos)
    empty = session / "videos" / "cam02.mp4"
    writer = cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"mp4v"), 60, (64, 48))
    writer.release()
    assert main(["detect", str(session), "-q"]) == 2
    message = capsys.readouterr().err
    assert "cam02.mp4" in message and "Traceback" not in message
    assert not (session / "output" / "keypoints2d").exists()
