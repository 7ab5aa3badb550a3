"""Read and write per-camera 2D keypoint files (``keypoints2d/<camera>.npz``, DESIGN.md layout).

A file holds ``xy`` (F, P, J, 2) pixels, ``score`` (F, P, J), ``track_id`` (F, P) optional,
``keypoints`` (J names), ``skeleton`` (set name) and ``fps``. Its keypoints may be any subset of
the set's joints, in any order; joints it lacks are NaN with score 0.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from calibration.camera import CameraRig
from exporters.atomic import atomic_output
from mocap.errors import InputError
from mocap.keypoints import CameraKeypoints, Keypoints2D
from rigs.errors import RigError
from rigs.skeleton import Skeleton, get_skeleton

PIXEL_MARGIN = 1.0              # pixels may lie up to this many image sizes off the image
MAX_FPS = 10_000.0               # frame rates above this are taken for a unit or typing error


def read_camera_keypoints(path: Path) -> CameraKeypoints:
    """One camera's file as arrays mapped onto the full keypoint set.

    Scores must lie in [0, 1] (NaN reads as 0: not seen), pixels must be finite or NaN, keypoint
    names unique, fps a finite number in (0, MAX_FPS].

    Raises:
        InputError: naming the file, the key and, for bad values, the frame, person and joint.
    """
    arrays = _load_npz(path)
    skeleton, names, columns = _keypoint_set(path, arrays)
    xy, score = arrays["xy"], arrays["score"]
    n_j = len(columns)
    if xy.ndim != 4 or xy.shape[2:] != (n_j, 2) or not _is_real(xy):
        raise InputError(f"{path}: 'xy' must be numbers shaped [F, P, {n_j}, 2] for its {n_j} "
                         f"keypoints, got {list(xy.shape)} of {xy.dtype}")
    if score.shape != xy.shape[:3] or not _is_real(score):
        raise InputError(f"{path}: 'score' must be numbers shaped {list(xy.shape[:3])} like xy "
                         f"without its last axis, got {list(score.shape)} of {score.dtype}")
    _check_values(path, names, np.isinf(xy).any(-1), "'xy' is infinite", "use NaN for unseen")
    bad_score = ~np.isnan(score) & ~((score >= 0) & (score <= 1))
    _check_values(path, names, bad_score, "'score' is outside [0, 1]",
                  "scores are the detector's confidence in [0, 1]; rescale them")
    f, p = xy.shape[:2]
    track = arrays.get("track_id", np.tile(np.arange(p), (f, 1)))
    if track.shape != (f, p) or not np.issubdtype(track.dtype, np.integer):
        raise InputError(f"{path}: 'track_id' must be integers shaped [{f}, {p}], got "
                         f"{list(track.shape)} of {track.dtype}")
    full_xy = np.full((f, p, len(skeleton), 2), np.nan)
    full_score = np.zeros((f, p, len(skeleton)))
    full_xy[:, :, columns] = xy
    full_score[:, :, columns] = np.nan_to_num(score)
    return CameraKeypoints(full_xy, full_score, track.astype(np.int64), skeleton,
                           _fps(path, arrays["fps"]))


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise InputError(f"{path}: not a readable .npz keypoints file ({e or 'empty file'})"
                         ) from e
    for key in ("xy", "score", "keypoints", "skeleton", "fps"):
        if key not in arrays:
            raise InputError(f"{path}: no '{key}' array; a keypoints file needs xy [F, P, J, 2], "
                             "score [F, P, J], keypoints, skeleton and fps")
    return arrays


def _keypoint_set(path: Path, arrays: dict[str, np.ndarray]
                  ) -> tuple[Skeleton, list[str], list[int]]:
    """The file's keypoint set, its J keypoint names and their columns in the set."""
    skeleton_name, names = arrays["skeleton"], arrays["keypoints"]
    if skeleton_name.ndim != 0 or skeleton_name.dtype.kind != "U":
        raise InputError(f"{path}: 'skeleton' must be one name such as 'coco17', got "
                         f"{skeleton_name!r}")
    if names.ndim != 1 or names.dtype.kind != "U":
        raise InputError(f"{path}: 'keypoints' must be a list of names, got {names!r}")
    listed = [str(k) for k in names]
    repeated = sorted({k for k in listed if listed.count(k) > 1})
    if repeated:
        raise InputError(f"{path}: keypoint names {repeated} appear more than once in "
                         "'keypoints'; each joint's column needs a name of its own")
    try:
        skeleton = get_skeleton(str(skeleton_name))
        return skeleton, listed, skeleton.indices(listed)
    except RigError as e:
        raise InputError(f"{path}: {e}") from e


def _is_real(a: np.ndarray) -> bool:
    return np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)


def _check_values(path: Path, names: list[str], bad: np.ndarray, what: str, fix: str) -> None:
    """Raise InputError at the first True of ``bad`` (F, P, J), naming frame, person, joint."""
    if bad.any():
        f, p, j = np.argwhere(bad)[0]
        raise InputError(f"{path}: {what} at frame {f}, person {p}, keypoint {names[j]} "
                         f"({int(bad.sum())} values in all); {fix}")


def _fps(path: Path, value: np.ndarray) -> float:
    if value.ndim != 0 or not _is_real(value) or not 0 < float(value) <= MAX_FPS:
        raise InputError(f"{path}: 'fps' must be one number in (0, {MAX_FPS:g}] frames per "
                         f"second, got {value!r}")
    return float(value)


def check_pixels(kp: Keypoints2D, rig: CameraRig, files: dict[str, Path]) -> None:
    """Refuse pixels far outside their camera's image (a joint may lie a little off-image, but
    not beyond PIXEL_MARGIN image sizes): a wrong unit or a wrong camera's file.

    Raises:
        InputError: naming the file, frame, person, keypoint, the pixel and the image size.
    """
    for c, name in enumerate(kp.cameras):
        size = np.asarray(rig[name].size, float)                               # (2,) w, h
        xy = kp.xy[c]                                                          # (F, P, J, 2)
        far = ((xy < -PIXEL_MARGIN * size) | (xy > (1 + PIXEL_MARGIN) * size)).any(-1)
        if far.any():
            f, p, j = np.argwhere(far)[0]
            raise InputError(f"{files[name]}: keypoint {kp.skeleton.joints[j]} at frame {f}, "
                             f"person {p} lies at {kp.xy[c, f, p, j].tolist()} px, far outside "
                             f"camera {name}'s {rig[name].size[0]}x{rig[name].size[1]} image "
                             f"({int(far.sum())} such points); are these pixels of this camera?")


def read_keypoints(files: dict[str, Path]) -> Keypoints2D:
    """Stack the files of several cameras (``camera name -> path``) into one Keypoints2D.

    Cameras with fewer frames or people are padded with missing detections (frame index is
    time). All files must use one keypoint set and one frame rate.
    """
    if not files:
        raise InputError("no keypoint files given")
    return stack_cameras({name: read_camera_keypoints(path) for name, path in files.items()},
                         {name: str(path) for name, path in files.items()})


def stack_cameras(per_camera: dict[str, CameraKeypoints], sources: dict[str, str]
                  ) -> Keypoints2D:
    """Cameras' keypoints as one Keypoints2D, padded to the most frames and people.

    Args:
        sources: camera name to where its keypoints came from, for messages.
    Raises:
        InputError: the cameras differ in keypoint set or frame rate, or a frame rate is unknown.
    """
    first_name, first = next(iter(per_camera.items()))
    for name, data in per_camera.items():
        if data.skeleton != first.skeleton:
            raise InputError(f"{sources[name]}: keypoint set {data.skeleton.name} differs from "
                             f"{first.skeleton.name} in {sources[first_name]}; use one set")
        if data.fps is None:
            raise InputError(f"{sources[name]}: the frame rate is unknown; set fps in "
                             "session.toml")
        if not np.isclose(data.fps, first.fps):
            raise InputError(f"{sources[name]}: fps {data.fps} differs from {first.fps} in "
                             f"{sources[first_name]}")
    n_f = max(d.n_frames for d in per_camera.values())
    n_p = max(d.n_people for d in per_camera.values())
    n_j = len(first.skeleton)
    xy = np.full((len(per_camera), n_f, n_p, n_j, 2), np.nan)
    score = np.zeros((len(per_camera), n_f, n_p, n_j))
    track = np.full((len(per_camera), n_f, n_p), -1, dtype=np.int64)
    for c, data in enumerate(per_camera.values()):
        f, p = data.n_frames, data.n_people
        xy[c, :f, :p], score[c, :f, :p], track[c, :f, :p] = data.xy, data.score, data.track_id
    return Keypoints2D(xy=xy, score=score, cameras=tuple(per_camera), skeleton=first.skeleton,
                       fps=float(first.fps), track_id=track)


def camera_keypoints(kp: Keypoints2D, camera: str) -> CameraKeypoints:
    """Camera ``camera``'s slice of ``kp``."""
    c = kp.cameras.index(camera)
    track = kp.track_id[c] if kp.track_id is not None else \
        np.tile(np.arange(kp.n_people), (kp.n_frames, 1))
    return CameraKeypoints(kp.xy[c], kp.score[c], track, kp.skeleton, kp.fps)


def write_camera_keypoints(kp: CameraKeypoints, path: Path) -> Path:
    """Write ``kp`` to ``path`` atomically, in the layout read above (fps is required)."""
    if kp.fps is None:
        raise InputError(f"{path}: the frame rate of these keypoints is unknown; give fps")
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, xy=kp.xy, score=kp.score, track_id=kp.track_id,
                            keypoints=np.array(kp.skeleton.joints),
                            skeleton=kp.skeleton.name, fps=kp.fps)
    return path
