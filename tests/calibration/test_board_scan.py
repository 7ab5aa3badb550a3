"""Scanning footage in worker processes: the workers never outlive the main process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MAX_ORPHAN_S = 5.0              # issue 22: no worker outlives the main process by more than 5 s


def _workers(parent: int) -> list[int]:
    """Pids of the pool workers (spawned ``multiprocessing.spawn`` children) of ``parent``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"spawn_main" in cmdline:
            pids.append(int(entry.name))
    return pids


def _alive(pid: int) -> bool:
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"          # a zombie has ended


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_end_when_the_main_process_is_killed(shared_data, sig):
    """Twelve cameras' worth of caliscope footage (about 10 s of detection on two workers);
    the main process is killed once both workers are scanning."""
    video = shared_data / "caliscope_charuco_4cam" / "calibration" / "extrinsic" / "cam_0.mp4"
    code = (
        "from pathlib import Path\n"
        "from calibration.board import board_from_caliscope\n"
        "from calibration.board_scan import detect_all\n"
        f"board = board_from_caliscope(Path({str(video.parents[2] / 'charuco.toml')!r}))\n"
        f"detect_all({{f'cam_{{i}}': Path({str(video)!r}) for i in range(12)}}, board, "
        "workers=2, progress=False)\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    main = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(workers := _workers(main.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(workers) == 2, "the pool never started its two workers"
        time.sleep(1.0)                                            # both are scanning now
        assert main.poll() is None, "the scan ended before the main process could be killed"
        os.kill(main.pid, sig)
        main.wait(timeout=10)
        killed = time.monotonic()
        while any(_alive(w) for w in workers) and time.monotonic() - killed < 30:
            time.sleep(0.1)
        survived = time.monotonic() - killed
        assert survived < MAX_ORPHAN_S, f"workers lived on {survived:.1f} s after the main one"
    finally:
        main.kill()
        for w in _workers(main.pid):
            os.kill(w, signal.SIGKILL)
