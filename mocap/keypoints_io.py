"""Read and write per-camera 2D keypoint files (``keypoints2d/<camera>.npz``, DESIGN.md layout).

A file holds ``xy`` (F, P, J, 2) pixels, ``score`` (F, P, J), ``track_id`` (F, P) optional,
``keypoints`` (J names), ``skeleton`` (set name) and ``fps``. Its keypoints may be any subset of
the set's joints, in any order; joints it lacks are NaN with score 0.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from exporters.atomic import atomic_output
from mocap.errors import InputError
from mocap.keypoints import Keypoints2D
from rigs.errors import RigError
from rigs.skeleton import Skeleton, get_skeleton


def read_camera_keypoints(path: Path) -> dict[str, np.ndarray | Skeleton | float]:
    """One camera's file as arrays mapped onto the full keypoint set.

    Returns:
        dict with xy (F, P, J, 2), score (F, P, J), track_id (F, P), skeleton, fps.
    Raises:
        InputError: naming the file and what is wrong with it.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise InputError(f"{path}: not a readable .npz keypoints file ({e})") from e
    for key in ("xy", "score", "keypoints", "skeleton", "fps"):
        if key not in arrays:
            raise InputError(f"{path}: no '{key}' array; a keypoints file needs xy [F, P, J, 2], "
                             "score [F, P, J], keypoints, skeleton and fps")
    try:
        skeleton = get_skeleton(str(arrays["skeleton"]))
        columns = skeleton.indices([str(k) for k in arrays["keypoints"]])
    except RigError as e:
        raise InputError(f"{path}: {e}") from e
    xy, score = arrays["xy"], arrays["score"]
    n_j = len(columns)
    if xy.ndim != 4 or xy.shape[2:] != (n_j, 2) or not np.issubdtype(xy.dtype, np.number):
        raise InputError(f"{path}: 'xy' must be numbers shaped [F, P, {n_j}, 2] for its {n_j} "
                         f"keypoints, got {list(xy.shape)}")
    if score.shape != xy.shape[:3] or not np.issubdtype(score.dtype, np.number):
        raise InputError(f"{path}: 'score' must be numbers shaped {list(xy.shape[:3])} like xy "
                         f"without its last axis, got {list(score.shape)}")
    f, p = xy.shape[:2]
    track = arrays.get("track_id", np.tile(np.arange(p), (f, 1)))
    if track.shape != (f, p):
        raise InputError(f"{path}: 'track_id' must be shaped [{f}, {p}], got {list(track.shape)}")
    fps = float(arrays["fps"])
    if not fps > 0:
        raise InputError(f"{path}: 'fps' must be positive, got {fps}")
    full_xy = np.full((f, p, len(skeleton), 2), np.nan)
    full_score = np.zeros((f, p, len(skeleton)))
    full_xy[:, :, columns] = xy
    full_score[:, :, columns] = np.nan_to_num(score)
    return {"xy": full_xy, "score": full_score, "track_id": track.astype(np.int64),
            "skeleton": skeleton, "fps": fps}


def read_keypoints(files: dict[str, Path]) -> Keypoints2D:
    """Stack the files of several cameras (``camera name -> path``) into one Keypoints2D.

    Cameras with fewer frames or people are padded with missing detections (frame index is
    time). All files must use one keypoint set and one frame rate.
    """
    if not files:
        raise InputError("no keypoint files given")
    per_camera = {name: read_camera_keypoints(path) for name, path in files.items()}
    first_name, first = next(iter(per_camera.items()))
    for name, data in per_camera.items():
        if data["skeleton"] != first["skeleton"]:
            raise InputError(f"{files[name]}: keypoint set {data['skeleton'].name} differs from "
                             f"{first['skeleton'].name} in {files[first_name]}; use one set")
        if not np.isclose(data["fps"], first["fps"]):
            raise InputError(f"{files[name]}: fps {data['fps']} differs from {first['fps']} in "
                             f"{files[first_name]}")
    n_f = max(d["xy"].shape[0] for d in per_camera.values())
    n_p = max(d["xy"].shape[1] for d in per_camera.values())
    n_j = len(first["skeleton"])
    xy = np.full((len(files), n_f, n_p, n_j, 2), np.nan)
    score = np.zeros((len(files), n_f, n_p, n_j))
    track = np.full((len(files), n_f, n_p), -1, dtype=np.int64)
    for c, data in enumerate(per_camera.values()):
        f, p = data["xy"].shape[:2]
        xy[c, :f, :p], score[c, :f, :p], track[c, :f, :p] = data["xy"], data["score"], \
            data["track_id"]
    return Keypoints2D(xy=xy, score=score, cameras=tuple(per_camera), skeleton=first["skeleton"],
                       fps=first["fps"], track_id=track)


def write_camera_keypoints(kp: Keypoints2D, camera: str, path: Path) -> Path:
    """Write one camera of ``kp`` to ``path`` atomically, in the layout read above."""
    c = kp.cameras.index(camera)
    track = kp.track_id[c] if kp.track_id is not None else \
        np.tile(np.arange(kp.n_people), (kp.n_frames, 1))
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, xy=kp.xy[c], score=kp.score[c], track_id=track,
                            keypoints=np.array(kp.skeleton.joints),
                            skeleton=kp.skeleton.name, fps=kp.fps)
    return path
