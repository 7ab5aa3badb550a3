"""Board detections of every camera -> a calibrated CameraRig in a Z-up metric world frame.

Steps: per-camera intrinsics (or the given ones), board poses per view, the camera graph and the
initial poses along its spanning tree, bundle adjustment of the extrinsics, then jointly with the
intrinsics, then with the corners corrected for the board's motion during the cameras' row
readout and between their capture times (``calibration.rolling_shutter``, kept where it fits
clearly better), a plausibility check, and the world frame from a board lying on the floor.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from functools import partial

import numpy as np
from numpy.typing import NDArray

from calibration.bundle import BundleResult, bundle_adjust, observations
from calibration.camera import Camera, CameraRig
from calibration.checks import check_result, given_intrinsics, input_warnings
from calibration.config import DEFAULT_CONFIG, CalibrationConfig
from calibration.detections import BoardDetections
from calibration.errors import BoardNotFoundError, CalibrationError, SolverError
from calibration.extrinsics import (
    MIN_POSE_CORNERS,
    BoardPoses,
    board_poses_in_camera,
    camera_graph,
    check_connected,
    initial_board_poses,
    initial_camera_poses,
)
from calibration.frame_shift import latency_warnings, search_frame_shifts
from calibration.intrinsics import (
    IntrinsicsResult,
    PlanarBoard,
    calibrate_intrinsics,
    data_radius,
    initial_camera,
    intrinsics_problems,
)
from calibration.lens_model import adjust_lens_terms
from calibration.report import summary
from calibration.result import CalibrationResult
from calibration.rolling_shutter import board_motion, compensate_rig
from calibration.sync import SyncTable, sync_by_timestamps
from calibration.world_frame import WorldFrame, transform_board_poses, world_transform

FloatArray = NDArray[np.float64]


def calibrate(detections: Mapping[str, BoardDetections], board: PlanarBoard,
              config: CalibrationConfig = DEFAULT_CONFIG, *,
              intrinsics: Mapping[str, Camera] | None = None,
              frame_times: Mapping[str, FloatArray] | None = None,
              sync: SyncTable | None = None) -> CalibrationResult:
    """Calibrate a rig from board corners seen by its cameras.

    Args:
        detections: per camera name (rig order), its BoardDetections; ``frames`` are frame
            indices synchronized across cameras unless ``frame_times`` or ``sync`` say otherwise.
        board: ``object_points`` (K, 3) metres, z = 0 (``calibration.board.Board``).
        config: the solver's settings (whether to refine intrinsics, the world frame, fisheye
            lenses, thresholds).
        intrinsics: known intrinsics per camera name (any subset), kept exactly as given unless
            ``config.refine_intrinsics`` is True (the report's ``intrinsics`` then says
            "refined").
        frame_times: per camera, (n_frames,) capture times in seconds of each of its frames;
            frames are then matched by time (``calibration.sync.sync_by_timestamps``).
        sync: a ``calibration.sync.SyncTable`` matching the cameras' frames (instead of times).
    Returns:
        CalibrationResult.
    Raises:
        BoardNotFoundError: a camera saw the board in fewer than ``config.min_views`` usable
            frames.
        CalibrationError: given intrinsics cannot be the camera's (another image size,
            implausible, or fitting its footage worse than ``config.given_max_rms_px``).
        CameraGraphError: the cameras fall into groups that never saw the board together.
        SolverError: a camera's intrinsics stay implausible after the joint adjustment.
    """
    solve = partial(_calibrate, detections, board, config, intrinsics=intrinsics)
    result = solve(frame_times=frame_times, sync=sync)
    if sync is not None:                           # the caller's synchronisation stands
        return result
    return search_frame_shifts(
        lambda times, table: solve(frame_times=times, sync=table, previous=result),
        result, detections, frame_times, config)


def _calibrate(detections: Mapping[str, BoardDetections], board: PlanarBoard,
               config: CalibrationConfig, *, intrinsics: Mapping[str, Camera] | None,
               frame_times: Mapping[str, FloatArray] | None, sync: SyncTable | None,
               previous: CalibrationResult | None = None) -> CalibrationResult:
    """:func:`calibrate` with the frames matched as given; the intrinsics of ``previous`` (made
    from the same detections) are reused: they depend on each camera's own views alone."""
    clock = {"start": time.perf_counter()}
    if sync is None and frame_times is not None:
        sync = sync_by_timestamps({n: frame_times[n] for n in detections})
    instants = None if sync is None else {n: _instants(np.asarray(sync[n]), d)
                                          for n, d in detections.items()}
    motion = board_motion(detections, frame_times, sync, instants)
    own_views = detections
    detections = _synchronised(detections, sync, instants)
    _check_views(detections, board, config.min_views)
    usable = {n: d.select(d.n_corners >= MIN_POSE_CORNERS) for n, d in detections.items()}
    check_connected(camera_graph(usable), detections)            # before the slow steps
    obj = np.asarray(board.object_points, dtype=float)
    given = dict(intrinsics or {})
    intr = (previous.intrinsics if previous is not None
            else _all_intrinsics(own_views, board, given, config))
    clock["intrinsics"] = time.perf_counter()
    cameras = {n: r.camera for n, r in intr.items()}
    views = {n: board_poses_in_camera(detections[n], cameras[n], obj) for n in detections}
    graph = camera_graph(views)
    check_connected(graph, detections)
    poses, root = initial_camera_poses(graph, views)
    cameras = {n: c.replace(R=poses[n][0], t=poses[n][1]) for n, c in cameras.items()}
    board_poses = initial_board_poses(views, cameras, detections, obj)
    clock["extrinsics"] = time.perf_counter()
    refine = [_refines(n, given, config.refine_intrinsics) for n in detections]
    bundle, refine, drift_warnings = _adjust(cameras, board_poses, detections, obj, refine,
                                             root, intr, config)
    bundle, timing = compensate_rig(bundle, detections, motion, obj, refine, root)
    clock["bundle"] = time.perf_counter()
    warnings = check_result(bundle, detections, intr, config)
    rig, board_world, description = _to_world(bundle, detections, obj, config.world_frame,
                                              root)
    clock["world"] = time.perf_counter()
    warnings = (input_warnings(given, detections, bundle) + drift_warnings + warnings
                + latency_warnings(timing, root)
                + ([description.warning] if description.warning is not None else []))
    report = summary(rig, intr, detections, views, graph, root, bundle, refine, given,
                     description, clock, motion=timing, warnings=warnings)
    return CalibrationResult(rig, report, board_world, intr, dict(detections))


# --- steps ------------------------------------------------------------------------------------
def _instants(own: NDArray[np.int64], det: BoardDetections) -> NDArray[np.int64]:
    """(N,) the synchronized instant of each of the camera's views, -1 where none."""
    instant = np.full(max(int(own.max()) + 1, det.n_frames, 1), -1, np.int64)
    instant[own[own >= 0]] = np.flatnonzero(own >= 0)
    return np.where(det.frames < instant.size,
                    instant[np.minimum(det.frames, instant.size - 1)], -1)


def _synchronised(detections: Mapping[str, BoardDetections], sync: SyncTable | None,
                  instants: Mapping[str, NDArray[np.int64]] | None
                  ) -> dict[str, BoardDetections]:
    """Detections with ``frames`` renumbered to their synchronized ``instants`` (unchanged
    without a sync table); frames with no instant are dropped."""
    if sync is None or instants is None:
        return dict(detections)
    out = {}
    for name, det in detections.items():
        keep = instants[name] >= 0
        out[name] = BoardDetections(name, det.image_size, instants[name][keep], det.xy[keep],
                                    len(sync), det.mirrored[keep])
    return out


def require_cameras(names: Sequence[str]) -> None:
    """Raise CalibrationError unless board footage names 2 or more cameras (a rig)."""
    if len(names) < 2:
        raise CalibrationError(f"a rig needs 2 or more cameras, board footage was given for "
                               f"{len(names)} ({', '.join(names) or 'none'}); add each camera's "
                               "board footage (calibration/<camera>.mp4), or use 'mocap "
                               "calibrate intrinsics' for one camera alone")


def _check_views(detections: Mapping[str, BoardDetections], board: PlanarBoard,
                 min_views: int) -> None:
    require_cameras(list(detections))
    n_obj = np.asarray(board.object_points).shape[0]
    for name, det in detections.items():
        if det.xy.shape[1] != n_obj:
            raise CalibrationError(f"camera {name}: detections have {det.xy.shape[1]} corners "
                                   f"per frame but the board has {n_obj}; detect with the same "
                                   "board definition")
        usable = int((det.n_corners >= MIN_POSE_CORNERS).sum())
        if usable < min_views:
            raise BoardNotFoundError(
                name, usable, det.n_frames,
                f"calibration needs the board in at least {min_views} frames with "
                f"{MIN_POSE_CORNERS}+ corners; check the board definition, or film the board "
                f"where this camera sees it whole")


def _all_intrinsics(detections: Mapping[str, BoardDetections], board: PlanarBoard,
                    given: Mapping[str, Camera], config: CalibrationConfig
                    ) -> dict[str, IntrinsicsResult]:
    """Every camera's intrinsics from all of its own views (synchronised or not), one camera
    after another (the fits are short numpy steps: threads would only contend for the GIL)."""
    return {name: _intrinsics(det, board, given.get(name), config)
            for name, det in detections.items()}


def _intrinsics(det: BoardDetections, board: PlanarBoard, fixed: Camera | None,
                config: CalibrationConfig) -> IntrinsicsResult:
    """The camera's intrinsics: the given ones (``checks.given_intrinsics``), else solved from its
    views; an implausible solution falls back to the focal prior (centred principal point, no
    distortion) for the joint adjustment to refine."""
    if fixed is not None:
        return given_intrinsics(det, board, fixed, config.given_max_rms_px)
    try:
        result = calibrate_intrinsics(det, board, fisheye=config.fisheye,
                                      max_views=config.max_views, check=False)
    except SolverError:
        result = None
    if result is None or intrinsics_problems(result.camera,
                                             radius=data_radius(det, result.camera)):
        prior = initial_camera(det, np.asarray(board.object_points, float),
                               fisheye=config.fisheye)
        views = np.zeros(0, np.int64) if result is None else result.views_used
        return IntrinsicsResult(prior, np.nan, views, np.zeros(views.size),
                                np.nan if result is None else result.coverage)
    return result


def _refines(name: str, given: Mapping[str, Camera], refine: bool | str) -> bool:
    return name not in given if refine == "auto" else bool(refine)


def _adjust(cameras: Mapping[str, Camera], board: BoardPoses,
            detections: Mapping[str, BoardDetections], obj: FloatArray, refine: list[bool],
            root: str, intr: Mapping[str, IntrinsicsResult], config: CalibrationConfig
            ) -> tuple[BundleResult, list[bool], list[str]]:
    """Extrinsics first (intrinsics held), then everything together where refined, each camera
    with the lens terms its own views pinned plus those the rig's shared views pin
    (``calibration.lens_model.adjust_lens_terms``). A camera whose joint
    intrinsics land more than ``config.gate_sigma`` standard deviations from what its own views
    give is held at the latter, and the joint step run again.

    Returns:
        the adjustment, which cameras' intrinsics were refined, warnings.
    """
    names = list(cameras)
    obs = observations([detections[n] for n in names], board.frames)
    fixed = names.index(root)
    first = bundle_adjust([cameras[n] for n in names], board, obs, obj, fixed_camera=fixed)
    refine, warnings, result = list(refine), [], first
    while any(refine):
        result, _ = adjust_lens_terms(first.cameras, first.board, obs, obj, refine=refine,
                                      models=[intr[n].model for n in names],
                                      fixed_camera=fixed, penalty=config.lens_term_penalty)
        moved = [(i, z) for i, c in enumerate(result.cameras)
                 if refine[i] and (z := _drift(c, intr[c.name])) > config.gate_sigma]
        if not moved:
            break
        for i, z in moved:
            refine[i] = False
            warnings.append(_drift_warning(result.cameras[i], intr[names[i]].camera, z))
        result = first
    return result, refine, warnings


def _drift(joint: Camera, single: IntrinsicsResult) -> float:
    """How many standard deviations (of the single-camera estimate, at least 0.2 % of the focal
    length and 2 px) the joint focal lengths and principal point lie from the single-camera
    ones."""
    a, b = joint.K[[0, 1, 0, 1], [0, 1, 2, 2]], single.camera.K[[0, 1, 0, 1], [0, 1, 2, 2]]
    floor = np.array([0.002 * b[0], 0.002 * b[1], 2.0, 2.0])
    std = np.where(np.isfinite(single.std[:4]), np.maximum(single.std[:4], floor), np.inf)
    return float(np.max(np.abs(a - b) / std))


def _drift_warning(joint: Camera, single: Camera, z: float) -> str:
    return (f"camera {joint.name}: the joint adjustment moved its intrinsics {z:.0f} standard "
            f"deviations from what its own views give (focal {single.K[0, 0]:.0f} -> "
            f"{joint.K[0, 0]:.0f} px, principal point ({single.K[0, 2]:.0f}, "
            f"{single.K[1, 2]:.0f}) -> ({joint.K[0, 2]:.0f}, {joint.K[1, 2]:.0f})), so they were "
            "kept from its own views; the cameras' views of the same frames disagree more than "
            "each camera's views do: check the frame synchronisation and move the board slowly "
            "(motion blur, rolling shutter), and film it closer to this camera")


def _to_world(bundle: BundleResult, detections: Mapping[str, BoardDetections], obj: FloatArray,
              world_frame: int | str | None, root: str
              ) -> tuple[CameraRig, BoardPoses, WorldFrame]:
    """The rig (each camera's RMS in its ``extra``) and the board poses moved into the world
    frame, which the rig's metadata describes for calibration.toml."""
    rms = bundle.rms
    cams = [c.replace(extra={**c.extra, "rms": float(r)}) for c, r in zip(bundle.cameras, rms)]
    rig = CameraRig(tuple(cams))
    if world_frame is None:
        description = WorldFrame("camera", camera=root)
        return (CameraRig(rig.cameras, {"metadata": {"world_frame": description.to_table()}}),
                bundle.board, description)
    counts = _observations_per_frame(bundle, detections)
    R, t, description = world_transform(rig, bundle.board, obj, floor_frame=world_frame,
                                        weights=counts)
    moved = rig.transformed(R, t)
    rig = CameraRig(moved.cameras, {"metadata": {"world_frame": description.to_table()}})
    return rig, transform_board_poses(bundle.board, R, t), description


def _observations_per_frame(bundle: BundleResult,
                            detections: Mapping[str, BoardDetections]) -> FloatArray:
    """(F,) corners seen per board pose, over all cameras."""
    counts = np.zeros(bundle.board.frames.size)
    for det in detections.values():
        pos = np.searchsorted(bundle.board.frames, det.frames)
        ok = (pos < counts.size) & (bundle.board.frames[np.minimum(pos, counts.size - 1)]
                                    == det.frames)
        np.add.at(counts, pos[ok], det.n_corners[ok])
    return counts


