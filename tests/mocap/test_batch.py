"""``mocap batch``: takes found under folders, run on a real local Ray instance and on the local
process pool, a broken take and a crashed worker reported without stopping the others, and a
second batch that does no work."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from calibration.importers import import_calibration
from calibration.io import write_calibration
from mocap.batch_takes import detection_cameras, find_takes
from mocap.batch_work import detect_camera
from mocap.cli import main
from mocap.synthetic.sample_session import make_sample_session
from tests.mocap.videos import write_first_frames

GOOD = ("take_a", "take_b")
BROKEN = "take_broken"
# a worker opens the take's 2D within seconds of the batch's start; 60 s is far beyond that
# on a loaded 2-core machine, and only bounds how long a broken test waits
OPEN_WAIT_S = 60.0
VIDEO_FRAMES = 12    # 2 detection chunks of 6 frames per camera: enough to see reuse, quick


@pytest.fixture(scope="module")
def ray_instance():
    """A real local Ray instance of 2 CPUs (the machine's), shared by the module's Ray tests."""
    ray = pytest.importorskip("ray")
    os.environ["RAY_AUTH_MODE"] = "disabled"      # no token written in the home folder
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> Path:
    """Two small synthetic takes (30 frames, 4 cameras, 2D given) and one whose calibration
    file is not TOML."""
    root = tmp_path_factory.mktemp("originals")
    for seed, name in enumerate(GOOD):
        make_sample_session(root / name, n_frames=30, board_videos=False, seed=seed)
    make_sample_session(root / BROKEN, n_frames=30, board_videos=False)
    (root / BROKEN / "calibration" / "calibration.toml").write_text("not = [toml\n")
    return root


@pytest.fixture(scope="module")
def plain_runs(originals, tmp_path_factory) -> Path:
    """The good takes after a plain ``mocap run`` each: the results a batch must reproduce.

    Run as the user runs it, in its own process: a test process that imported Blender's bpy
    (which puts its scripts folder on sys.path) would hand that path to the pool's spawned
    workers, where ``import bpy`` then finds the wrong package."""
    root = tmp_path_factory.mktemp("plain")
    for name in GOOD:
        shutil.copytree(originals / name, root / name)
        subprocess.run([sys.executable, "-m", "mocap.cli", "run", str(root / name), "-q"],
                       check=True)
    return root


@pytest.fixture(scope="module")
def ray_batch(originals, ray_instance, tmp_path_factory) -> tuple[Path, int, list[dict]]:
    """The three takes (in a nested folder) after one ``mocap batch --ray auto``."""
    root = tmp_path_factory.mktemp("batch")
    shutil.copytree(originals, root / "studio" / "day1")
    code = main(["batch", str(root / "studio"), "--ray", "auto", "-q", "--summary", str(root)])
    return root, code, _summary(root)


def _summary(folder: Path) -> list[dict]:
    return json.loads((folder / "batch_summary.json").read_text())["takes"]


def _by_name(rows: list[dict]) -> dict[str, dict]:
    return {Path(row["take"]).name: row for row in rows}


def _assert_same_points(a: Path, b: Path) -> None:
    with np.load(a / "output" / "points3d.npz") as x, np.load(b / "output" / "points3d.npz") as y:
        assert sorted(x.files) == sorted(y.files)
        for key in x.files:
            np.testing.assert_array_equal(x[key], y[key], err_msg=key)


def test_ray_batch_matches_plain_runs_and_reports_broken_take(ray_batch, plain_runs):
    root, code, rows = ray_batch
    assert code == 1                                           # a take failed
    takes = _by_name(rows)
    assert sorted(takes) == sorted([*GOOD, BROKEN])
    for name in GOOD:
        assert takes[name]["status"] == "ok", takes[name]["message"]
        assert takes[name]["frames"] == 30 and takes[name]["people"] == 1   # as generated
        _assert_same_points(root / "studio" / "day1" / name, plain_runs / name)
    broken = takes[BROKEN]
    assert broken["status"] == "failed" and broken["frames"] is None
    assert "calibration.toml: not valid TOML" in broken["message"]
    assert not (root / "studio" / "day1" / BROKEN / "output" / "points3d.npz").exists()
    csv_lines = (root / "batch_summary.csv").read_text().splitlines()
    assert csv_lines[0].startswith("take,status,frames,people")
    assert len(csv_lines) == 4                                 # the header and the 3 takes


def test_second_batch_does_no_work(ray_batch, capsys):
    root, _, _ = ray_batch
    outputs = sorted(p for name in GOOD for p in (root / "studio" / "day1" / name /
                                                  "output").rglob("*") if p.is_file())
    before = {p: p.stat().st_mtime_ns for p in outputs}
    code = main(["batch", str(root / "studio"), "--ray", "auto", "--summary", str(root)])
    assert code == 1                                           # the broken take is still broken
    takes = _by_name(_summary(root))
    for name in GOOD:
        assert takes[name]["status"] == "skipped" and takes[name]["message"] == "up to date"
        assert takes[name]["frames"] == 30                     # the last run's numbers
    assert takes[BROKEN]["status"] == "failed"
    assert {p: p.stat().st_mtime_ns for p in outputs} == before   # nothing was written again
    out = capsys.readouterr()
    assert "2 skipped (up to date), 1 failed" in out.out
    assert f"take {root / 'studio' / 'day1' / BROKEN} failed" in out.err


def test_changed_input_is_run_again(ray_batch, ray_instance):
    root, _, _ = ray_batch
    take = root / "studio" / "day1" / GOOD[0]
    (take / "keypoints2d" / "cam_1.npz").touch()              # a newer file: the take is redone
    assert main(["batch", str(take), "--ray", "auto", "-q", "--summary", str(root)]) == 0
    assert _summary(root)[0]["status"] == "ok"


def test_local_pool_batch(originals, plain_runs, tmp_path, capsys):
    """The process pool, from a process that has imported Blender's bpy already (as the FBX
    tests before it leave this one): its workers still import bpy and write the FBX."""
    if importlib.util.find_spec("bpy") is not None:
        importlib.import_module("bpy")
    for name in (GOOD[0], BROKEN):
        shutil.copytree(originals / name, tmp_path / "takes" / name)
    code = main(["batch", str(tmp_path / "takes"), "--workers", "2", "--summary",
                 str(tmp_path)])
    assert code == 1
    takes = _by_name(_summary(tmp_path))
    assert takes[GOOD[0]]["status"] == "ok" and takes[BROKEN]["status"] == "failed"
    _assert_same_points(tmp_path / "takes" / GOOD[0], plain_runs / GOOD[0])
    assert "1 ok, 0 skipped (up to date), 1 failed" in capsys.readouterr().out


def _kill_the_reader(fifo: Path, killed: list[int]) -> None:
    """Wait until a process opens ``fifo`` to read it, then SIGKILL that process."""
    deadline = time.monotonic() + OPEN_WAIT_S
    while time.monotonic() < deadline:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)   # fails until a reader has it open
            break
        except OSError:
            time.sleep(0.05)
    else:
        return
    try:
        while not killed and time.monotonic() < deadline:   # its open() returns soon after ours
            for pid in (int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()):
                if pid != os.getpid() and _holds(pid, fifo):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
            time.sleep(0.01)
    finally:
        os.close(fd)


def _holds(pid: int, path: Path) -> bool:
    try:
        return any(os.readlink(fd) == str(path) for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("engine", ["pool", "ray"])
def test_crashed_worker_is_reported_and_others_finish(engine, originals, tmp_path, request):
    """A take's 2D file is a named pipe: its worker blocks reading it and is killed there."""
    if engine == "ray":
        request.getfixturevalue("ray_instance")
    shutil.copytree(originals / GOOD[1], tmp_path / "takes" / GOOD[1])
    crash = tmp_path / "takes" / "take_crash"
    shutil.copytree(originals / GOOD[0], crash)
    fifo = (crash / "keypoints2d" / "cam_1.npz").resolve()
    fifo.unlink()
    os.mkfifo(fifo)
    killed: list[int] = []
    killer = threading.Thread(target=_kill_the_reader, args=(fifo, killed), daemon=True)
    killer.start()
    args = ["--ray", "auto"] if engine == "ray" else ["--workers", "2"]
    code = main(["batch", str(tmp_path / "takes"), *args, "-q", "--summary", str(tmp_path)])
    killer.join(OPEN_WAIT_S)
    assert len(killed) == 1                                   # the crash take's worker
    assert code == 1
    takes = _by_name(_summary(tmp_path))
    assert takes["take_crash"]["status"] == "failed"
    assert takes["take_crash"]["message"].startswith("worker died")
    assert takes[GOOD[1]]["status"] == "ok"


def test_path_without_takes_is_an_error(tmp_path, capsys):
    (tmp_path / "notes").mkdir()
    assert main(["batch", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path}: no takes found" in err and "keypoints2d/" in err
    assert "Traceback" not in err


def test_unreachable_ray_address_names_it_and_how_to_start(originals, tmp_path, capsys):
    with socket.socket() as s:                                # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    shutil.copytree(originals / GOOD[0], tmp_path / GOOD[0])
    assert main(["batch", str(tmp_path / GOOD[0]), "--ray", f"127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert f"cannot reach a Ray cluster at 127.0.0.1:{port}" in err and "ray start --head" in err
    assert not (tmp_path / GOOD[0] / "output").exists()      # nothing was run


def test_missing_ray_names_the_extra(originals, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)             # how Python marks it unimportable
    shutil.copytree(originals / GOOD[0], tmp_path / GOOD[0])
    assert main(["batch", str(tmp_path / GOOD[0]), "--ray", "auto"]) == 2
    assert "pip install 'mocap[distributed]'" in capsys.readouterr().err


def test_takes_are_found_below_folders_but_not_inside_a_take(tmp_path):
    for name in ("a/take1", "a/b/take2", "take3"):
        (tmp_path / name / "keypoints2d").mkdir(parents=True)
    (tmp_path / "take3" / "output" / "nested" / "videos").mkdir(parents=True)  # not a take
    (tmp_path / "a" / ".hidden" / "videos").mkdir(parents=True)
    (tmp_path / "empty").mkdir()
    expected = [tmp_path / "a/b/take2", tmp_path / "a/take1", tmp_path / "take3"]
    assert find_takes([tmp_path, tmp_path / "take3"]) == [p.resolve() for p in expected]


@pytest.fixture(scope="module")
def video_take(shared_data, tmp_path_factory) -> Path:
    """2 cameras of the Pose2Sim demo: 12 frames of video each, the studio's calibration."""
    take = tmp_path_factory.mktemp("video") / "take"
    (take / "videos").mkdir(parents=True)
    demo = shared_data / "pose2sim_demo"
    for cam in ("01", "02"):
        write_first_frames(demo / "single_person" / "videos" / f"cam{cam}.mp4",
                           take / "videos" / f"cam_{cam}.mp4", VIDEO_FRAMES)
    rig = import_calibration(demo / "calibration" / "Calib.qca.txt")
    write_calibration(rig.subset(["cam_01", "cam_02"]), take / "calibration" / "calibration.toml")
    (take / "session.toml").write_text(f"[detection]\nchunk_frames = {VIDEO_FRAMES // 2}\n")
    return take


def test_videos_are_detected_per_camera_then_reconstructed(video_take, tmp_path):
    take = tmp_path / "take"
    shutil.copytree(video_take, take)
    assert detection_cameras(take) == ["cam_01", "cam_02"]          # one task per camera
    assert detect_camera(str(take), "cam_01")["status"] == "ok"     # as a worker runs it
    cache = take / "output" / "cache" / "keypoints2d"
    first = {p: p.stat().st_mtime_ns for p in cache.rglob("*.npz")}
    assert {p.parent.name for p in first} == {"cam_01"} and len(first) == 2   # 2 chunks
    assert main(["batch", str(take), "--workers", "2", "-q", "--summary", str(tmp_path)]) == 0
    assert _summary(tmp_path)[0]["status"] == "ok"
    assert {p: p.stat().st_mtime_ns for p in first} == first         # cam_01 reused, not redone
    assert {p.parent.name for p in cache.rglob("*.npz")} == {"cam_01", "cam_02"}
    plain = tmp_path / "plain"
    shutil.copytree(video_take, plain)
    subprocess.run([sys.executable, "-m", "mocap.cli", "run", str(plain), "-q"], check=True)
    _assert_same_points(take, plain)
