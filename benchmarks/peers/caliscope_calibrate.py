"""Calibrate a rig's extrinsics with caliscope's scripting API from per-camera board videos: the
peer side of ``benchmarks/calibration_vs_peers.py``.

Runs with caliscope's own interpreter (its venv: ``python3.11 -m venv .bench/venv-caliscope &&
.bench/venv-caliscope/bin/pip install caliscope==0.11.8``), so it imports only caliscope,
numpy, OpenCV and the standard library, and talks through two JSON files:

    python caliscope_calibrate.py JOB.json RESULT.json

JOB.json::

    {"cameras": [["cam_0", "/path/cam_0.mp4", 0], ...],  # name, video, caliscope cam_id
     "board": {"squares": [columns, rows], "square_size": m, "marker_size": m,
               "dictionary": "DICT_4X4_1000", "inverted": bool, "legacy_pattern": bool},
     "intrinsics": {"cam_0": {"matrix": 3x3, "distortions": [k1, k2, p1, p2, k3]}, ...},
     "timestamps": "/path/timestamps.csv" | null}     # caliscope's CSV (cam_id, frame_time)

Work timed, as caliscope's scripting workflow does it: ``extract_image_points_multicam`` (its
frame pairing from the timestamps, or from the videos' frame rate and count without them, and
its ChArUco tracker on every paired frame: "detect_s"), then ``calibrate_extrinsics`` with the
given intrinsics held (``refine_intrinsics=False``; bootstrap, optimise, filter, optimise:
"solve_s").

RESULT.json::

    {"ok": bool, "error": str | null,
     "cameras": {"cam_0": {"K": 3x3, "dist": [..], "rvec": [3], "tvec": [3], "size": [w, h]}},
     "pairing": {"cam_0": [its video frame at each sync index, -1 where none], ...},
     "detections": {"cam_0": frames with >= 6 corners (the fewest ours keeps)},
     "detections_any": {"cam_0": frames with any corner (caliscope keeps them all)},
     "reported_error": px (its own RMSE),
     "detect_s": s, "solve_s": s, "wall_s": s, "versions": {...}}

rvec / tvec map world to camera (caliscope's CameraData rotation / translation, as its
projection matrices use them).
"""

from __future__ import annotations

import importlib.metadata
import sys
import time
import traceback
from pathlib import Path

import cv2
import numpy as np
from caliscope.api import (
    CameraArray,
    Charuco,
    CharucoTracker,
    calibrate_extrinsics,
    extract_image_points_multicam,
)
from caliscope.recording.synchronized_timestamps import SynchronizedTimestamps
from peer_job import serve  # beside this script (run as one: its folder is on sys.path)

MIN_CORNERS = 6         # frames counted as "with the board": the fewest corners ours keeps


def make_charuco(spec: dict) -> Charuco:
    """caliscope's Charuco from the job's board table (lengths in metres there, cm here)."""
    cols, rows = spec["squares"]
    return Charuco.from_squares(cols, rows, 100 * spec["square_size"],
                                dictionary=spec["dictionary"],
                                aruco_scale=spec["marker_size"] / spec["square_size"],
                                inverted=bool(spec.get("inverted", False)),
                                legacy_pattern=bool(spec.get("legacy_pattern", False)))


def make_cameras(ids: dict[str, int], videos: dict[int, Path],
                 intrinsics: dict[str, dict]) -> CameraArray:
    """The cameras (sizes read from the videos) with the job's intrinsics."""
    missing = [name for name in ids if name not in intrinsics]
    if missing:
        raise ValueError(f"the job gives no intrinsics for {', '.join(missing)}: caliscope's "
                         "extrinsic calibration here holds given intrinsics")
    cameras = CameraArray.from_video_metadata(videos)
    for name, cam_id in ids.items():
        cameras[cam_id].matrix = np.asarray(intrinsics[name]["matrix"], float)
        cameras[cam_id].distortions = np.asarray(intrinsics[name]["distortions"], float)
    return cameras


def pairing(ids: dict[str, int], videos: dict[int, Path], timestamps: str | None
            ) -> dict[str, list[int]]:
    """caliscope's frame pairing, the one its extraction used: per camera, its video frame at
    every sync index (-1 where it has none)."""
    synced = (SynchronizedTimestamps.from_csv_path(Path(timestamps)) if timestamps
              else SynchronizedTimestamps.from_video_paths(videos))
    out = {}
    for name, cam_id in ids.items():
        frames = [synced.frame_for(s, cam_id) for s in synced.sync_indices]
        out[name] = [-1 if f is None else int(f) for f in frames]
    return out


def views_with(cam_id: np.ndarray, frame: np.ndarray, ids: dict[str, int], least: int
               ) -> dict[str, int]:
    """Per camera, its frames with >= ``least`` corners; ``cam_id``, ``frame`` (N,) one row
    per detected corner."""
    views, corners = np.unique(np.stack([cam_id, frame], axis=1), axis=0, return_counts=True)
    return {name: int(((views[:, 0] == i) & (corners >= least)).sum())
            for name, i in ids.items()}


def camera_table(cameras: CameraArray, ids: dict[str, int]) -> dict[str, dict]:
    """The result's cameras: OpenCV K, dist, world-to-camera rvec / tvec, size."""
    posed = cameras.posed_cameras
    return {name: {"K": np.asarray(posed[i].matrix, float).tolist(),
                   "dist": np.asarray(posed[i].distortions, float).ravel().tolist(),
                   "rvec": cv2.Rodrigues(np.asarray(posed[i].rotation, float))[0].ravel().tolist(),
                   "tvec": np.asarray(posed[i].translation, float).ravel().tolist(),
                   "size": [int(v) for v in posed[i].size]}
            for name, i in ids.items() if i in posed}


def run(job: dict) -> dict:
    ids = {name: int(cam_id) for name, _, cam_id in job["cameras"]}
    videos = {int(cam_id): Path(path) for _, path, cam_id in job["cameras"]}
    timestamps = job.get("timestamps")
    result: dict = {"ok": False, "error": None, "cameras": {}, "pairing": {},
                    "detections": {}, "reported_error": None, "detect_s": None,
                    "solve_s": None, "wall_s": None}
    tracker = CharucoTracker(make_charuco(job["board"]))
    start = time.perf_counter()
    points = extract_image_points_multicam(videos, tracker, timestamps=timestamps,
                                           progress=None)
    result["detect_s"] = time.perf_counter() - start
    for key, least in (("detections", MIN_CORNERS), ("detections_any", 1)):
        result[key] = views_with(np.asarray(points.df["cam_id"]),
                                 np.asarray(points.df["frame_index"]), ids, least)
    t0 = time.perf_counter()
    try:
        cameras = make_cameras(ids, videos, job["intrinsics"])
        calibrated = calibrate_extrinsics(points, cameras, None, refine_intrinsics=False)
    except Exception as e:  # noqa: BLE001 - any failure of the peer is its result
        result["error"] = f"{type(e).__name__}: {' '.join(str(e).split())}"
        traceback.print_exc()
    else:
        volume = calibrated.capture_volume
        result["ok"] = True
        result["reported_error"] = float(volume.reprojection_report.overall_rmse)
        result["cameras"] = camera_table(volume.camera_array, ids)
    end = time.perf_counter()
    result["solve_s"], result["wall_s"] = end - t0, end - start
    result["pairing"] = pairing(ids, videos, timestamps)         # not timed: already done
    return result


def main(argv: list[str]) -> int:
    return serve(argv, __doc__ or "", run,
                 lambda: {"caliscope": importlib.metadata.version("caliscope"),
                          "numpy": np.__version__, "opencv": cv2.__version__})


if __name__ == "__main__":
    sys.exit(main(sys.argv))
