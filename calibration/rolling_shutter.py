"""Rolling shutter and capture-time offsets: board corners corrected for the board's motion.

A webcam exposes its image rows one after another (``line_time`` seconds per row) and the
cameras of one synchronized instant capture a few milliseconds apart, each with its own
latency. A moving board is then seen by every camera at a slightly different time and sheared
by the row readout. With the corner's image velocity ``v`` (pixels per second, from the same
camera's neighbouring frames) an observed corner of camera c is, to first order,

    x_obs = x(t_instant) + v * (s + offset_c + line_time_c * (row - H / 2))

where ``s`` is the view's capture time minus its instant's (from the timestamps), ``offset_c``
the camera's latency relative to the root camera (the root's is 0: a common latency only moves
the instant the board poses stand for) and ``row - H / 2`` the corner's row from the image's
middle. ``compensate`` alternates the bundle adjustment with a bounded least-squares fit of
``offset_c`` and ``line_time_c`` to the residuals (the board poses eliminated, the camera poses
fitted alongside) and keeps the corrected adjustment only where it fits clearly better. Cameras
of one model (in ``calibrate``: the same image size) share one line time unless one each fits
clearly better: the row term is the weaker signal, and a camera that sees the board small cannot
pin its own. Latencies are bounded by half a frame (more is a synchronisation error) and
readouts by a frame period and MAX_READOUT_S; values on a bound are flagged. Without frame
times, time is counted in frames.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import lsq_linear

from calibration.bundle import (
    BundleResult,
    Observations,
    bundle_adjust,
    observations,
    projection_jacobians,
    seen_corners,
)
from calibration.detections import BoardDetections
from calibration.result import CameraTiming, MotionReport
from calibration.sync import SyncTable, frame_period

FloatArray = NDArray[np.float64]
MAX_OFFSET_FRAMES = 0.5     # a larger latency is a synchronisation error, not a latency
MAX_READOUT_S = 0.05        # a whole frame read out in at most this (or one frame period)
MIN_MOVING = 30             # observations with a known velocity a camera needs to be fitted
MIN_GAIN = 0.05             # the correction is kept only if it cuts the RMS by this fraction
PER_CAMERA_GAIN = 0.05     # cameras of a group get a line time each only if that fits 5 % better
MAX_ROUNDS = 12
TOLERANCE = 1e-2            # stop when no parameter moves more than this x its bound


@dataclass(frozen=True)
class MotionTiming:
    """The fitted timing of every camera.

    Attributes:
        offset: (C,) latency relative to the root camera, in ``unit``.
        readout: (C,) time to read out a whole frame (line time x image height), in ``unit``.
        fitted: (C,) False where a camera had too few moving corners (its values are 0).
        at_bound: (C, 2) offset, readout sitting on a bound (MAX_OFFSET_FRAMES, 0 or
            MAX_READOUT_S): the footage wants more than the model allows, so the value is a
            limit, not a measurement.
        applied: whether the corrected adjustment was kept.
        rms_px: the adjustment's RMS without and with the correction.
        unit: "s" with frame times, else "frames".
    """

    offset: FloatArray
    readout: FloatArray
    fitted: NDArray[np.bool_]
    at_bound: NDArray[np.bool_]
    applied: bool
    rms_px: tuple[float, float]
    unit: str

    def as_report(self, names: Sequence[str]) -> MotionReport:
        """The calibration report's part, cameras named ``names``, times in ms or frames."""
        scale, unit = (1000.0, "ms") if self.unit == "s" else (1.0, "frames")
        cameras = {n: CameraTiming(bool(f), float(scale * o), float(scale * r), bool(b[0]),
                                   bool(b[1]))
                   for n, o, r, f, b in zip(names, self.offset, self.readout, self.fitted,
                                            self.at_bound)}
        return MotionReport(self.applied, self.rms_px[0], self.rms_px[1], unit, cameras)


def corner_velocities(det: BoardDetections, times: FloatArray | None = None) -> FloatArray:
    """Image velocity of every detected corner from the same camera's neighbouring frames.

    Args:
        det: one camera's detections in its own frame numbering (before synchronisation).
        times: (n_frames,) capture time of each of its frames in seconds (frames past its end
            get no velocity); None counts frames.
    Returns:
        (N, K, 2) pixels per second (or per frame): a central difference where the corner was
        seen in the frames just before and after, one-sided where only one of them saw it,
        NaN where neither did.
    """
    t = np.arange(det.n_frames, dtype=float) if times is None else padded(times, det.n_frames)
    view = np.full(det.n_frames + 2, -1)
    view[det.frames + 1] = np.arange(det.frames.size)
    here = det.frames
    before, after = view[here], view[here + 2]                    # (N,) views of f-1 and f+1
    xb = np.where((before >= 0)[:, None, None], det.xy[before], np.nan)       # (N, K, 2)
    xa = np.where((after >= 0)[:, None, None], det.xy[after], np.nan)
    tb = t[np.clip(here - 1, 0, t.size - 1)][:, None, None]
    ta = t[np.clip(here + 1, 0, t.size - 1)][:, None, None]
    th = t[here][:, None, None]
    central = (xa - xb) / (ta - tb)
    forward, backward = (xa - det.xy) / (ta - th), (det.xy - xb) / (th - tb)
    return np.where(np.isfinite(central), central,
                    np.where(np.isfinite(forward), forward, backward))


def padded(times: FloatArray, n: int) -> FloatArray:
    """(n,) the first n of ``times``, NaN past its end."""
    out = np.full(n, np.nan)
    t = np.asarray(times, float).reshape(-1)[:n]
    out[:t.size] = t
    return out


def per_observation(detections: Sequence[BoardDetections], values: Sequence[FloatArray],
                    frames: NDArray[np.int64]) -> FloatArray:
    """Per-view or per-corner ``values`` of C cameras laid out like ``detections.observations``.

    Args:
        detections: C synchronized detections (as given to ``observations``).
        values: per camera, (N, K, ...) or (N,) values of its views.
        frames: (F,) the board poses' frames.
    Returns:
        (M, ...) in the order of ``observations(detections, frames)``.
    """
    parts = []
    for det, value in zip(detections, values):
        view, corner = seen_corners(det, frames)
        value = np.asarray(value, float)
        parts.append(value[view] if value.ndim == 1 else value[view, corner])
    return np.concatenate(parts)


def signed_residuals(bundle: BundleResult, obs: Observations,
                     object_points: FloatArray) -> FloatArray:
    """(M, 2) observed minus projected pixels of every observation."""
    board = bundle.board
    world = (np.einsum("mij,mj->mi", board.R[obs.frame], object_points[obs.corner])
             + board.t[obs.frame])                                                # (M, 3)
    out = np.full(obs.xy.shape, np.nan)
    for c, cam in enumerate(bundle.cameras):
        mine = obs.camera == c
        out[mine] = obs.xy[mine] - cam.project(world[mine])
    return out


def compensate(adjust: Callable[[Observations, BundleResult], BundleResult],
               plain: BundleResult, obs: Observations, object_points: FloatArray,
               velocity: FloatArray, lag: FloatArray, heights: FloatArray, period: float,
               root: int, unit: str, groups: NDArray[np.int64] | None = None
               ) -> tuple[BundleResult, Observations, MotionTiming]:
    """Fit each camera's latency and line time to the adjustment's residuals, correct the
    observations and adjust again, until the timing settles or a round fits no better than the
    one before (the best round is kept: outliers traded back and forth can make the rounds
    cycle); stop at once when the first fit leaves all but half of ``MIN_GAIN`` of the error,
    or when the first corrected adjustment has not improved by that much. The correction is
    kept if it cuts the RMS over the corners both adjustments keep by ``MIN_GAIN``.

    Args:
        adjust: observations and a starting adjustment -> the adjustment of those.
        plain: the adjustment of the uncorrected observations ``obs`` (M).
        velocity: (M, 2) image velocity per ``unit``; NaN where unknown (never corrected).
        lag: (M,) capture time of the observation's view minus its instant's, in ``unit``.
        heights: (C,) image heights in pixels.
        period: the frame period in ``unit``.
        root: the camera whose latency is 0.
        groups: (C,) cameras with one value (the same model and mode, e.g. the same image
            size) share a line time unless one each fits clearly better; None: one each.
    Returns:
        the adjustment kept, the observations it fitted and the timing.
    """
    n_cam = heights.size
    moving = np.isfinite(velocity[:, 0])
    v = np.where(moving[:, None], velocity, 0.0)
    row = obs.xy[:, 1] - heights[obs.camera] / 2                                 # (M,)
    params = np.zeros((n_cam, 2))                                 # offset, line time
    fitted = np.bincount(obs.camera[moving], minlength=n_cam) >= MIN_MOVING
    bounds = _bounds(heights, period, unit, root, fitted)
    groups = np.arange(n_cam) if groups is None else np.asarray(groups)
    bundle, current = plain, obs
    before = _overall_rms(plain)
    best: tuple[float, BundleResult, Observations, FloatArray] | None = None
    for round_ in range(MAX_ROUNDS):
        raw = signed_residuals(bundle, obs, object_points)      # (M, 2) uncorrected
        use = (bundle.inliers & moving)[:, None]
        columns = np.stack([v, v * row[:, None]], axis=-1) * use[:, :, None]    # (M, 2, 2)
        new, left = _fit(np.nan_to_num(raw - v * lag[:, None]) * use, columns, obs, bounds,
                         groups, bundle, object_points, root)
        step = np.abs(new - params) / np.maximum(bounds[1], 1e-12)
        params = new
        if round_ == 0 and left > (1 - MIN_GAIN / 2) ** 2:
            break               # the fit's own residual says the correction cannot pay
        shift = v * (lag + params[obs.camera, 0] + params[obs.camera, 1] * row)[:, None]
        current = Observations(obs.camera, obs.frame, obs.corner, obs.xy - shift)
        bundle = adjust(current, bundle)
        rms = _overall_rms(bundle)
        if best is not None and rms >= best[0]:
            break               # no better than the round before (outliers traded back and
        best = (rms, bundle, current, params)           # forth): the best round is kept
        hopeless = round_ == 0 and rms > (1 - MIN_GAIN / 2) * before
        if step.max() < TOLERANCE or hopeless:
            break
    if best is not None:
        _, bundle, current, params = best
    after = _overall_rms(bundle)
    both = plain.inliers & bundle.inliers                # judged on the same corners
    applied = bool(_rms(bundle.residuals[both]) < (1 - MIN_GAIN) * _rms(plain.residuals[both]))
    lower, upper = bounds
    near = 1e-3 * (upper - lower)
    at_bound = (upper > lower) & ((params - lower < near) | (upper - params < near))
    timing = MotionTiming(params[:, 0], params[:, 1] * heights, fitted, at_bound, applied,
                          (before, after), unit)
    return (bundle, current, timing) if applied else (plain, obs, timing)


# --- the rig's view: motion from each camera's frames, the adjustment corrected ----------
@dataclass(frozen=True)
class BoardMotion:
    """Per camera, (N, K, 2) corner velocities and (N,) capture time minus the instant's time
    of its synchronized views; the frame period and the unit of time ("s" or "frames")."""

    velocity: dict[str, FloatArray]
    lag: dict[str, FloatArray]
    period: float
    unit: str


def board_motion(detections: Mapping[str, BoardDetections],
                 frame_times: Mapping[str, FloatArray] | None, sync: SyncTable | None,
                 instants: Mapping[str, NDArray[np.int64]] | None) -> BoardMotion:
    """The board's image motion from each camera's own frame sequence (before
    synchronisation), laid out like the synchronized detections; ``instants``: per camera,
    (N,) each view's synchronized instant (-1: none), None without a sync table."""
    names = list(detections)
    times = {n: None if frame_times is None else padded(frame_times[n], d.n_frames)
             for n, d in detections.items()}
    velocity, lag = {}, {}
    for name, det in detections.items():
        v, t = corner_velocities(det, times[name]), times[name]
        lags = np.zeros(det.frames.size)
        if sync is not None and instants is not None:
            instant = instants[name]
            if t is not None:
                lags = t[det.frames] - sync.times[np.maximum(instant, 0)]
            keep = instant >= 0
            v, lags = v[keep], lags[keep]
        velocity[name], lag[name] = v, np.nan_to_num(lags)
    if frame_times is None:
        return BoardMotion(velocity, lag, 1.0, "frames")
    periods = [p for n in names if (p := frame_period(frame_times[n])) is not None]
    return BoardMotion(velocity, lag, float(np.median(periods)) if periods else 1.0, "s")


def compensate_rig(bundle: BundleResult, detections: Mapping[str, BoardDetections],
                   motion: BoardMotion, obj: FloatArray, refine: list[bool], root: str
                   ) -> tuple[BundleResult, MotionReport]:
    """:func:`compensate` for a rig's adjustment of synchronized ``detections`` (the root
    camera's pose held, intrinsics refined where ``refine``; cameras of one image size share a
    line time): the adjustment kept and the report's timing (``MotionTiming.as_report``)."""
    names = list(detections)
    dets = [detections[n] for n in names]
    frames = bundle.board.frames
    obs = observations(dets, frames)
    velocity = per_observation(dets, [motion.velocity[n] for n in names], frames)
    lag = per_observation(dets, [motion.lag[n] for n in names], frames)
    heights = np.array([float(d.image_size[1]) for d in dets])
    fixed = names.index(root)

    def adjust(o: Observations, start: BundleResult) -> BundleResult:
        return bundle_adjust(start.cameras, start.board, o, obj, refine_intrinsics=refine,
                             fixed_camera=fixed)

    sizes = [tuple(d.image_size) for d in dets]
    groups = np.array([sizes.index(size) for size in sizes])      # same size: same readout
    kept, _, timing = compensate(adjust, bundle, obs, obj, velocity, lag, heights,
                                 motion.period, fixed, motion.unit, groups)
    return kept, timing.as_report(names)


def _bounds(heights: FloatArray, period: float, unit: str, root: int,
            fitted: NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
    """(lower (C, 2), upper (C, 2)) for offset and line time; 0 where not fitted."""
    readout = min(period, MAX_READOUT_S) if unit == "s" else period
    upper = np.stack([np.full(heights.size, MAX_OFFSET_FRAMES * period),
                      readout / heights], axis=1)
    upper[~fitted] = 0.0
    upper[root, 0] = 0.0
    lower = np.stack([-upper[:, 0], np.zeros(heights.size)], axis=1)
    return lower, upper


def _fit(error: FloatArray, columns: FloatArray, obs: Observations,
         bounds: tuple[FloatArray, FloatArray], groups: NDArray[np.int64],
         bundle: BundleResult, object_points: FloatArray, root: int
         ) -> tuple[FloatArray, float]:
    """(C, 2) offset and line time of every camera, and the fraction of the squared error
    the fit leaves: the bounded least-squares fit of
    ``error`` (M, 2) ~ ``columns`` (M, 2, 2) @ (offset, line time) of the observation's camera
    + the camera and board pose changes that absorb it. The board poses are eliminated frame by
    frame (their Schur complement), so the fit sees only what no board pose can explain; the
    camera poses (all but the root's) are fitted alongside. Rows of ``error`` and ``columns``
    that must not count are zero. Cameras of one ``groups`` (C,) value share a line time unless
    one each fits the corners better by PER_CAMERA_GAIN."""
    lower, upper = bounds
    if not (upper > lower).any():
        return np.zeros_like(lower), 1.0
    J_cam, J_board, _ = projection_jacobians(bundle.cameras, bundle.board, obs, object_points)
    used = np.any(columns != 0, axis=(1, 2))[:, None, None] & np.isfinite(J_cam).all(
        axis=(1, 2), keepdims=True) & np.isfinite(J_board).all(axis=(1, 2), keepdims=True)
    local = np.where(used, np.concatenate([columns, J_cam], axis=2), 0.0)     # (M, 2, 8)
    normal = _normal_equations(local, np.where(used, J_board, 0.0), np.where(
        used[:, :, 0], error, 0.0), obs.camera, obs.frame, lower.shape[0])
    fitted = upper[:, 1] > 0
    own = np.where(fitted, np.arange(fitted.size), -1)
    shared = np.where(fitted, np.unique(groups, return_inverse=True)[1], -1)
    params, cost = _solve_tied(*normal, bounds, own, root)
    if np.unique(shared[fitted]).size < fitted.sum():
        tied, tied_cost = _solve_tied(*normal, bounds, shared, root)
        if cost > (1 - PER_CAMERA_GAIN) ** 2 * tied_cost:
            params, cost = tied, tied_cost
    return params, cost / normal[2] if normal[2] > 0 else 1.0


def _solve_tied(H: FloatArray, g: FloatArray, btb: float, bounds: tuple[FloatArray, FloatArray],
                tie: NDArray[np.int64], root: int) -> tuple[FloatArray, float]:
    """Minimise |A x - b|^2 (given A^T A ``H`` (8C, 8C), A^T b ``g``, b^T b ``btb``) over
    every camera's offset, line time and pose, the line times of cameras with one ``tie``
    value shared (-1: held at 0), within ``bounds``. Returns (C, 2) offsets and line times and
    the minimum."""
    lower, upper = bounds
    n_cam, n_tie = lower.shape[0], int(tie.max()) + 1
    T = np.zeros((n_cam, 8, n_cam + n_tie + 6 * n_cam))                 # full <- reduced
    cams = np.arange(n_cam)
    T[cams, 0, cams] = 1.0
    T[cams[tie >= 0], 1, n_cam + tie[tie >= 0]] = 1.0
    T[cams[:, None], 2 + np.arange(6), n_cam + n_tie + 6 * cams[:, None] + np.arange(6)] = 1.0
    T = T.reshape(8 * n_cam, -1)
    tie_hi = np.array([upper[tie == k, 1].min() for k in range(n_tie)])
    lo = np.r_[lower[:, 0], np.zeros(n_tie), np.full(6 * n_cam, -np.inf)]
    hi = np.r_[upper[:, 0], tie_hi, np.full(6 * n_cam, np.inf)]
    Hr, gr = T.T @ H @ T, T.T @ g
    free = (hi > lo) & (np.diag(Hr) > 0)
    free[n_cam + n_tie + 6 * root: n_cam + n_tie + 6 * root + 6] = False       # the gauge
    Hr, gr = Hr[np.ix_(free, free)], gr[free]
    scale = np.sqrt(np.diag(Hr))
    w, V = np.linalg.eigh(Hr / np.outer(scale, scale))   # |A x - b|^2 = |S x - S^-1 V^T g|^2
    w = np.maximum(w, 1e-12 * w.max())                   # + c, with S = sqrt(w) V^T
    res = lsq_linear(np.sqrt(w)[:, None] * V.T, (V.T @ (gr / scale)) / np.sqrt(w),
                     bounds=(lo[free] * scale, hi[free] * scale))
    x = res.x / scale
    cost = float(btb - 2 * x @ gr + x @ Hr @ x)
    full = np.zeros(T.shape[1])
    full[free] = x
    return (T @ full).reshape(n_cam, 8)[:, :2], cost


def _normal_equations(local: FloatArray, J: FloatArray, error: FloatArray,
                      camera: NDArray[np.int64], frame: NDArray[np.int64], n_cam: int
                      ) -> tuple[FloatArray, FloatArray, float]:
    """A^T A (8C, 8C), A^T b (8C,) and b^T b of the least-squares problem in every camera's 8
    parameters (``local`` (M, 2, 8) derivatives of its observations) left once every frame's
    6 parameters (``J`` (M, 2, 6)) are solved for; b = ``error`` (M, 2)."""
    n_frame = int(frame.max()) + 1
    H = np.zeros((n_cam, 8, 8))
    np.add.at(H, camera, np.einsum("mrp,mrq->mpq", local, local))
    g = np.zeros((n_cam, 8))
    np.add.at(g, camera, np.einsum("mrp,mr->mp", local, error))
    N = np.zeros((n_frame, 6, 6))
    np.add.at(N, frame, np.einsum("mri,mrj->mij", J, J))
    JtA = np.zeros((n_frame, n_cam, 6, 8))
    np.add.at(JtA, (frame, camera), np.einsum("mri,mrp->mip", J, local))
    JtA = JtA.transpose(0, 2, 1, 3)
    Jte = np.zeros((n_frame, 6))
    np.add.at(Jte, frame, np.einsum("mri,mr->mi", J, error))
    JtA = JtA.reshape(n_frame, 6, 8 * n_cam)
    inv = np.linalg.pinv(N, hermitian=True)                                    # (F, 6, 6)
    full = np.zeros((n_cam, 8, n_cam, 8))
    full[np.arange(n_cam), :, np.arange(n_cam)] = H
    AtA = full.reshape(8 * n_cam, 8 * n_cam) - np.einsum("fip,fij,fjq->pq", JtA, inv, JtA)
    Atb = g.ravel() - np.einsum("fip,fij,fj->p", JtA, inv, Jte)
    btb = float(np.sum(error**2) - np.einsum("fi,fij,fj->", Jte, inv, Jte))
    return AtA, Atb, btb


def _overall_rms(bundle: BundleResult) -> float:
    return _rms(bundle.residuals[bundle.inliers])


def _rms(norms: FloatArray) -> float:
    return float(np.sqrt(np.mean(norms**2))) if norms.size else 0.0
