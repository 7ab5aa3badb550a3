"""Calibrate a rig with aniposelib from per-camera board videos: the peer side of
``benchmarks/calibration_vs_peers.py``.

Runs with the peer's own interpreter (aniposelib 0.8 needs numpy 2), so it imports only
aniposelib, numpy, OpenCV and the standard library, and talks through two JSON files:

    python aniposelib_calibrate.py JOB.json RESULT.json

JOB.json::

    {"cameras": [["cam_0", "/path/cam_0.mp4"], ...],        # order = camera order
     "board": {"squares": [columns, rows], "square_size": m, "marker_size": m,
               "dictionary": "DICT_4X4_1000"},
     "intrinsics": null | {"cam_0": {"matrix": 3x3, "distortions": [k1, k2, p1, p2, k3]}},
     "skip": 20,          # aniposelib's detect_video frame step (20 is its default)
     "seed": 0}

With ``intrinsics`` the cameras start from them and only the extrinsics are adjusted
(``calibrate_rows(init_intrinsics=False, only_extrinsics=True)``); without, aniposelib
estimates its own (one focal length and k1 per camera, principal point at the image centre).

RESULT.json::

    {"ok": bool, "error": str | null,
     "cameras": {"cam_0": {"K": 3x3, "dist": [..], "rvec": [3], "tvec": [3], "size": [w, h]}},
     "detections": {"cam_0": frames with >= 8 corners (those calibrate_rows uses)},
     "detections_any": {"cam_0": frames with any corner}, "reported_error": px (its own),
     "detect_s": s, "solve_s": s, "wall_s": s, "versions": {...}}

Frames of different cameras are matched by frame index (aniposelib's rule).
"""

from __future__ import annotations

import contextlib
import sys
import time
import traceback

import aniposelib
import cv2
import numpy as np
from aniposelib.boards import CharucoBoard
from aniposelib.cameras import CameraGroup
from peer_job import serve  # beside this script (run as one: its folder is on sys.path)


def make_board(spec: dict) -> CharucoBoard:
    """aniposelib's CharucoBoard from the job's board table."""
    name = spec["dictionary"]                       # e.g. DICT_4X4_1000
    try:
        bits, size = name.removeprefix("DICT_").split("_")
        marker_bits, dict_size = int(bits.split("X")[0]), int(size)
    except ValueError:
        raise ValueError(f"dictionary {name!r} is not one aniposelib supports "
                         "(DICT_<n>X<n>_<50|100|250|1000>)") from None
    cols, rows = spec["squares"]
    return CharucoBoard(cols, rows, square_length=spec["square_size"],
                        marker_length=spec["marker_size"], marker_bits=marker_bits,
                        dict_size=dict_size)


def detect(board: CharucoBoard, videos: list[str], skip: int) -> list[list[dict]]:
    """aniposelib's per-video detection rows, one list per camera."""
    return [board.detect_video(path, prefix=0, skip=skip, progress=False) for path in videos]


def make_group(names: list[str], videos: list[str], intrinsics: dict | None) -> CameraGroup:
    group = CameraGroup.from_names(names)
    group.set_camera_sizes_videos([[v] for v in videos])
    if intrinsics:
        for cam in group.cameras:
            cam.set_camera_matrix(np.asarray(intrinsics[cam.get_name()]["matrix"], float))
            cam.set_distortions(np.asarray(intrinsics[cam.get_name()]["distortions"], float))
    return group


def run(job: dict) -> dict:
    names = [name for name, _ in job["cameras"]]
    videos = [str(path) for _, path in job["cameras"]]
    intrinsics = job.get("intrinsics")
    np.random.seed(int(job.get("seed", 0)))          # aniposelib resamples points at random
    board = make_board(job["board"])
    result: dict = {"ok": False, "error": None, "cameras": {}, "detections": {},
                    "reported_error": None, "detect_s": None, "solve_s": None, "wall_s": None}
    start = time.perf_counter()
    rows = detect(board, videos, int(job.get("skip", 20)))
    result["detect_s"] = time.perf_counter() - start
    result["detections"] = {n: sum(np.size(row["ids"]) >= 8 for row in r)  # what it uses
                            for n, r in zip(names, rows)}
    result["detections_any"] = {n: len(r) for n, r in zip(names, rows)}
    group = make_group(names, videos, intrinsics)
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stdout(sys.stderr):  # calibrate_rows prints its cameras
            error = group.calibrate_rows(rows, board, init_intrinsics=not intrinsics,
                                         init_extrinsics=True, only_extrinsics=bool(intrinsics),
                                         verbose=False)
    except Exception as e:  # noqa: BLE001 - any failure of the peer is its result
        result["error"] = f"{type(e).__name__}: {' '.join(str(e).split())}"
        traceback.print_exc()
    else:
        result["ok"] = True
        result["reported_error"] = float(error)
        result["cameras"] = {c.get_name(): {
            "K": np.asarray(c.get_camera_matrix(), float).tolist(),
            "dist": np.asarray(c.get_distortions(), float).ravel().tolist(),
            "rvec": np.asarray(c.get_rotation(), float).ravel().tolist(),
            "tvec": np.asarray(c.get_translation(), float).ravel().tolist(),
            "size": [int(v) for v in c.get_size()]} for c in group.cameras}
    end = time.perf_counter()
    result["solve_s"], result["wall_s"] = end - t0, end - start
    return result


def main(argv: list[str]) -> int:
    return serve(argv, __doc__ or "", run,
                 lambda: {"aniposelib": getattr(aniposelib, "__version__", "?"),
                          "numpy": np.__version__, "opencv": cv2.__version__})


if __name__ == "__main__":
    sys.exit(main(sys.argv))
