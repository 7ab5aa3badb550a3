"""The 3D stages of a run: triangulation (+ skeleton adjustment), cached in ``output/cache`` with
a fingerprint of the cameras, the 2D keypoints, their settings and the code that triangulates,
then filtering.

A rerun with only ``[filter]`` changed, or one after a run killed later on, reuses the cached
triangulation and redoes only what follows it.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np

from calibration.camera import CameraRig
from mocap.cache import Arrays, fingerprint, load_cached, store_cached
from mocap.calibration_stage import code_version
from mocap.config import SessionConfig
from mocap.errors import InputError, TriangulationError
from mocap.filtering import fill_gaps, smooth
from mocap.keypoints import Keypoints2D
from mocap.keypoints_stage import camera_notes, given_keypoints, load_given_keypoints
from mocap.lifting.config import LiftingConfig
from mocap.session import Session
from mocap.skeleton_adjustment import fit_skeleton
from mocap.triangulation import TriangulationConfig, triangulate_views
from rigs.motion import LIFTED, Motion3D
from rigs.skeleton import get_skeleton

CACHE_FILE = "points3d_unfiltered.npz"
MOTION_ARRAYS = ("xyz", "reprojection_error", "n_views", "source", "person_id")
# ``[skeleton] refine_cameras``: triangulate, adjust (cameras too), then once more with the
# corrected cameras, which take back the views the first triangulation rejected (the Pose2Sim
# demo: cam_03 keeps 33 % of its views, then 70 %; a third pass turns no camera by 0.2 degree)
REFINE_PASSES = 2
# a cached triangulation made by other code is made again
RECONSTRUCTION_VERSION = code_version(("calibration.camera", "mocap.triangulation",
                                       "mocap.robust_triangulation", "mocap.skeleton_adjustment"))


def reconstruct(session: Session, rig: CameraRig, keypoints: Keypoints2D,
                config: SessionConfig) -> tuple[Motion3D, CameraRig]:
    """Triangulated and (with ``[skeleton]`` enabled) adjusted motion, unfiltered, from
    ``output/cache`` when the cameras, the 2D and the settings are those it was made from, and
    the cameras of ``keypoints`` (turned by their corrections under ``refine_cameras``).

    Raises:
        TriangulationError: no joint was triangulated (nothing is cached then).
    """
    rig = rig.subset(keypoints.cameras)
    path = session.output / "cache" / CACHE_FILE
    key = fingerprint(version=RECONSTRUCTION_VERSION, cameras=_rig_digest(rig),
                      keypoints=_keypoints_digest(keypoints), triangulation=config.triangulation,
                      skeleton=config.skeleton, lifter=lifter_digest(config.lifting))
    cached = load_cached(path, key)
    if cached is not None:
        return _motion(cached), _turned(rig, cached["camera_rotations"])
    motion, rig = triangulate_and_adjust(rig, keypoints, config)
    store_cached(path, key, {**_arrays(motion), "camera_rotations": np.stack([c.R for c in rig])})
    return motion, rig


def triangulate_and_adjust(rig: CameraRig, keypoints: Keypoints2D, config: SessionConfig
                           ) -> tuple[Motion3D, CameraRig]:
    """``[triangulation]`` then, when enabled, ``[skeleton]`` (twice with ``refine_cameras``:
    see REFINE_PASSES): the unfiltered motion and the cameras of ``keypoints`` as adjusted.

    Raises:
        TriangulationError: no joint was triangulated.
    """
    rig = rig.subset(keypoints.cameras)
    found = triangulate_views(rig, keypoints, config.triangulation)
    motion = found.motion
    require_joints(motion, config.triangulation)
    min_score = config.triangulation.min_score
    if not config.skeleton.enabled:
        return with_lifted(motion, lifted_joints(rig, keypoints, motion, config)), rig
    passes = REFINE_PASSES if config.skeleton.refine_cameras else 1
    for done in range(passes):
        if done:
            found = triangulate_views(rig, keypoints, config.triangulation)
        fit = fit_skeleton(rig, keypoints, found.motion, found.kept, config.skeleton,
                           swapped=found.swapped, min_score=min_score,
                           lifted=lifted_joints(rig, keypoints, found.motion, config))
        motion, rig = fit.motion, fit.rig
    return motion, rig


def lifted_joints(rig: CameraRig, keypoints: Keypoints2D, motion: Motion3D,
                  config: SessionConfig) -> np.ndarray | None:
    """``[lifting] fallback``: (F, P, J, 3) the lifter's positions of the joints ``motion``
    lacks (:func:`mocap.lifting.fallback.lifted_positions`), or None when it is off or torch is
    not installed (the run's notes say so: :func:`lifting_notes`)."""
    if not (config.lifting.fallback and config.lifting.available):
        return None
    from mocap.lifting.fallback import lifted_positions
    from mocap.lifting.weights import load_lifter
    weights = Path(config.lifting.weights) if config.lifting.weights else None
    return lifted_positions(rig, keypoints, motion, load_lifter(weights),
                            config.triangulation.min_score)


def one_camera_motion(rig: CameraRig, keypoints: Keypoints2D, config: SessionConfig
                      ) -> tuple[Motion3D, CameraRig]:
    """A one-camera take's motion from the lifter (:mod:`mocap.lifting.monocular`), unfiltered,
    and its camera.

    Raises:
        InputError: the lifter is not installed, or the take's scale cannot be fixed.
    """
    from mocap.lifting import require_torch
    require_torch()
    from mocap.lifting.monocular import monocular_motion
    from mocap.lifting.weights import load_lifter
    rig = rig.subset(keypoints.cameras)
    weights = Path(config.lifting.weights) if config.lifting.weights else None
    motion = monocular_motion(rig[0], keypoints, load_lifter(weights),
                              config.triangulation.min_score, config.lifting.subject_height_m)
    return motion, rig


def with_lifted(motion: Motion3D, lifted: np.ndarray | None) -> Motion3D:
    """``motion`` with its missing joints taken from ``lifted`` (marked LIFTED)."""
    if lifted is None:
        return motion
    fill = np.isfinite(lifted).all(-1) & ~np.isfinite(motion.xyz).all(-1)
    return replace(motion, xyz=np.where(fill[..., None], lifted, motion.xyz),
                   source=np.where(fill, LIFTED, motion.source))


def lifting_notes(config: SessionConfig) -> list[str]:
    """A line when ``[lifting] fallback`` is asked for but torch is missing."""
    if config.lifting.fallback and not config.lifting.available:
        return [("lifter fallback off: torch is not installed (pip install 'mocap[lift]' "
                "torch==2.13.0); joints fewer than two cameras saw stay as triangulated")]
    return []


def lifter_digest(config: LiftingConfig) -> str:
    """What the lifter fallback depends on: its settings, weights and code ("off" without)."""
    if not (config.fallback and config.available):
        return "off"
    h = hashlib.sha256(repr(config).encode())
    folder = Path(__file__).resolve().parent / "lifting"
    weights = Path(config.weights) if config.weights else folder / "data" / "lifter.pt"
    for path in (weights, *(folder / f"{m}.py" for m in ("fallback", "lift", "features",
                                                         "model", "weights"))):
        h.update(path.read_bytes() if path.is_file() else b"missing")
    return h.hexdigest()


def filter_motion(motion: Motion3D, config: SessionConfig) -> Motion3D:
    """``[filter]``: gaps filled, then smoothed."""
    return smooth(fill_gaps(motion, config.filter), config.filter)


def existing_keypoints(session: Session, rig: CameraRig, config: SessionConfig
                       ) -> tuple[Keypoints2D, str]:
    """The session's own 2D (``keypoints2d/``), else what ``mocap detect`` wrote to
    ``output/keypoints2d/`` (nothing is detected), and a sentence on where they came from.

    Raises:
        InputError: neither exists (see :func:`require_existing_2d`).
    """
    if given_keypoints(session):
        folder = session.root / "keypoints2d"
        keypoints = load_given_keypoints(session, rig, config)
    else:
        folder = session.output / "keypoints2d"
        keypoints = session.load_keypoints(rig, require_existing_2d(session))
    notes = camera_notes(keypoints, rig, folder, config.lifting.available)
    return keypoints, "; ".join([f"read {folder}", *notes])


def require_existing_2d(session: Session) -> dict[str, Path]:
    """Fail before any work when the session has no 2D; camera -> ``output/keypoints2d`` file
    ({} when the session has its own ``keypoints2d/``)."""
    if given_keypoints(session):
        return {}
    folder = session.output / "keypoints2d"
    detected = {p.stem: p for p in sorted(folder.glob("*.npz"))} if folder.is_dir() else {}
    if not detected:
        raise InputError(f"{session.root}: no 2D keypoints in keypoints2d/ nor in {folder}; run "
                         f"mocap detect first (mocap detect {session.root}), or put 2D keypoints "
                         "in keypoints2d/<camera>.npz")
    return detected


def require_joints(motion: Motion3D, config: TriangulationConfig) -> None:
    """A run that triangulated no joint has nothing to write (and keeps the earlier outputs).

    Raises:
        TriangulationError: saying what each joint needed and what to check.
    """
    if not np.isfinite(motion.xyz).any():
        raise TriangulationError(
            f"no joint was triangulated in {motion.n_frames} frames: each needs "
            f"{config.min_views} or more cameras that saw it with a score of at least "
            f"{config.min_score:g}; lower --min-views or --min-score, or check that the "
            "keypoint files and the calibration belong to this take (earlier outputs are kept)")


def _turned(rig: CameraRig, rotations: np.ndarray) -> CameraRig:
    """``rig`` with each camera given its (cached) rotation about its centre."""
    return CameraRig(tuple(cam.replace(R=R, t=-R @ cam.center) for cam, R in zip(rig, rotations)),
                     dict(rig.extra))


def _rig_digest(rig: CameraRig) -> str:
    h = hashlib.sha256()
    for cam in rig:
        h.update(f"{cam.name}|{cam.size}|{cam.fisheye}".encode())
        for array in (cam.K, cam.dist, cam.R, cam.t):
            h.update(np.ascontiguousarray(array, dtype=float).tobytes())
    return h.hexdigest()


def _keypoints_digest(kp: Keypoints2D) -> str:
    h = hashlib.sha256(f"{kp.cameras}|{kp.skeleton.name}|{kp.fps!r}|{kp.xy.shape}".encode())
    for array in (kp.xy, kp.score, kp.track_id if kp.track_id is not None else np.zeros(0)):
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def _arrays(motion: Motion3D) -> Arrays:
    return {**{name: getattr(motion, name) for name in MOTION_ARRAYS},
            "skeleton": np.array(motion.skeleton.name), "fps": np.array(motion.fps)}


def _motion(arrays: Arrays) -> Motion3D:
    return Motion3D(skeleton=get_skeleton(str(arrays["skeleton"])), fps=float(arrays["fps"]),
                    **{name: arrays[name] for name in MOTION_ARRAYS})
