"""Intrinsics of one camera from its board views: focal lengths, principal point, distortion.

Steps: a focal-length prior from a scan of board-pose fits (principal point at the centre, no
distortion), a choice of views that cover the image and the board's tilts
(``calibration.view_selection``), a least-squares fit of the camera and a board pose per view
from that prior (``calibration.bundle``: OpenCV's ``calibrateCamera`` problem with the board
poses eliminated, so a step grows linearly with the views, not cubically), then rounds that
drop outlier corners and bad views and refit, and a plausibility check whose message says what
to film. The joint bundle adjustment refines the result with every camera's views; this module
only has to land near the truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from calibration.bundle import (
    FISHEYE_PARAMS,
    PINHOLE_PARAMS,
    TIE_WEIGHT,
    BundleResult,
    Observations,
    bundle_adjust,
    projection_jacobians,
)
from calibration.camera import Camera
from calibration.config import FEWEST_VIEWS
from calibration.detections import BoardDetections
from calibration.errors import BoardNotFoundError, SolverError
from calibration.extrinsics import ippe_poses
from calibration.lens_model import (
    MODEL_EXTRAS,
    admissible,
    candidates,
    information_gain,
    model_constraints,
    n_intrinsics,
)
from calibration.view_selection import coverage_grid, select_views, spans_plane

FloatArray = NDArray[np.float64]

MIN_VIEW_CORNERS = 6             # views with fewer corners carry too little to use
MIN_VIEWS = FEWEST_VIEWS
REJECTION_MODEL = frozenset({"k2"})          # fitted while outliers are dropped
_FOCAL_SCAN = np.geomspace(0.2, 8.0, 25)     # focal candidates, in image widths
_NO_DISTORTION = np.zeros(5)
_SCAN_VIEWS = 15                             # views (most corners) scored per candidate
_FILM_ADVICE = ("film the board closer so that it fills a good part of the image, in every "
                "region of the image including the corners, and tilted by 30-45 degrees "
                "towards and away from the camera in several directions")


class PlanarBoard(Protocol):
    """What the solvers need of a board: its corners in its own plane."""

    @property
    def object_points(self) -> FloatArray: ...      # (K, 3) metres, z = 0

    @property
    def square_size(self) -> float: ...


@dataclass(frozen=True)
class IntrinsicsResult:
    """One camera's intrinsics and how well its board views fit them.

    Attributes:
        camera: the camera (K, dist) with R = I, t = 0.
        rms: reprojection RMS over the views used, pixels.
        views_used: (V,) frame indices of the views used.
        per_view_rms: (V,) reprojection RMS per view used, pixels.
        coverage: fraction of the image's COVERAGE_CELLS cells holding a detected corner.
        rejected: (R,) frame indices of views dropped as outliers.
        std: (9,) standard deviations of fx, fy, cx, cy, k1, k2, p1, p2, k3 from the views
            (NaN where unknown: given intrinsics; for fisheye, of FISHEYE_PARAMS).
        model: which of ``lens_model.MODEL_EXTRAS`` the views pin (all of them for given
            intrinsics); the joint adjustment starts from it.
    """

    camera: Camera
    rms: float
    views_used: NDArray[np.int64]
    per_view_rms: FloatArray
    coverage: float
    rejected: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    std: FloatArray = field(default_factory=lambda: np.full(9, np.nan))
    model: frozenset[str] = frozenset(MODEL_EXTRAS)


def calibrate_intrinsics(det: BoardDetections, board: PlanarBoard, *,
                         fixed: Camera | None = None, fisheye: bool = False,
                         max_views: int = 40, check: bool = True) -> IntrinsicsResult:
    """Intrinsics of ``det.camera`` from its board views (or the fit of ``fixed`` ones).

    Args:
        det: the camera's detections, xy (N, K, 2) pixels, NaN where unseen.
        board: ``object_points`` (K, 3) in metres with z = 0.
        fixed: known intrinsics to keep; only their fit to the views is measured.
        fisheye: use OpenCV's fisheye model (k1..k4) instead of k1, k2, p1, p2, k3.
        max_views: at most this many views, chosen for coverage and pose diversity.
        check: raise SolverError when the result is implausible.
    Returns:
        IntrinsicsResult.
    Raises:
        BoardNotFoundError: fewer than MIN_VIEWS views with MIN_VIEW_CORNERS corners.
        SolverError: the solution is implausible; the message says what to film.
    """
    obj = np.asarray(board.object_points, dtype=float)
    usable = (det.n_corners >= MIN_VIEW_CORNERS) & spans_plane(det.xy, obj)
    if usable.sum() < MIN_VIEWS:
        raise BoardNotFoundError(det.camera, int(usable.sum()), det.n_frames,
                                 f"intrinsics need at least {MIN_VIEWS} views with "
                                 f"{MIN_VIEW_CORNERS}+ corners; {_FILM_ADVICE}")
    det = det.select(usable)
    coverage = float((coverage_grid(det) > 0).mean())
    if fixed is not None:
        return _fit_of_fixed(det, obj, fixed, coverage)
    prior = initial_camera(det, obj, fisheye=fisheye)
    chosen = select_views(det, obj, prior, max_views)
    camera, views, per_view, rejected, std, model = _fit_with_rejection(det, obj, prior,
                                                                        chosen)
    rms = float(np.sqrt(np.mean(per_view**2)))
    result = IntrinsicsResult(camera, rms, det.frames[views], per_view, coverage,
                              det.frames[rejected], std, model)
    if check:
        raise_if_implausible(camera, coverage=coverage, radius=data_radius(det, camera))
    return result


def initial_camera(det: BoardDetections, obj: FloatArray, *, fisheye: bool = False) -> Camera:
    """A prior: principal point at the image centre, no distortion, and the focal length whose
    board-pose fits leave the smallest reprojection error (trimmed mean over up to 15
    views), found on a coarse scan, then on two finer ones around the best (1.7 % apart)."""
    w, h = det.image_size
    order = np.argsort(-det.n_corners, kind="stable")[:_SCAN_VIEWS]
    kept = max(1, int(0.8 * order.size))

    def error(focal: float) -> float:
        rms = [_pnp_rms(obj, det.xy[i], _K(focal, w, h)) for i in order]
        return float(np.mean(np.sort(rms)[:kept]))

    candidates, step = _FOCAL_SCAN * w, _FOCAL_SCAN[1] / _FOCAL_SCAN[0]
    for _ in range(3):
        focal = float(candidates[int(np.argmin([error(f) for f in candidates]))])
        step = step ** (1 / 3)
        candidates = focal * step ** np.arange(-3, 4)
    return Camera(det.camera, det.image_size, _K(focal, w, h), np.zeros(4 if fisheye else 5),
                  fisheye=fisheye)


def intrinsics_problems(camera: Camera, *, coverage: float | None = None,
                        radius: float | None = None) -> list[str]:
    """Reasons (possibly none) why ``camera``'s intrinsics look wrong.

    Args:
        coverage: fraction of the image's cells the board was seen in (checked if given).
        radius: the distortion must stay monotonic out to this distorted radius (at z = 1),
            e.g. :func:`data_radius`; default the image's farthest corner.
    """
    w, h = camera.size
    fx, fy, cx, cy = camera.K[0, 0], camera.K[1, 1], camera.K[0, 2], camera.K[1, 2]
    problems = []
    if not (0.15 * w <= fx <= 10 * w and 0.15 * w <= fy <= 10 * w):
        problems.append(f"focal length {fx:.0f} x {fy:.0f} px is implausible for an image "
                        f"{w} px wide")
    if not 0.9 <= fy / fx <= 1.1:
        problems.append(f"fx {fx:.0f} and fy {fy:.0f} px differ by more than 10 %")
    if abs(cx - w / 2) > 0.2 * w or abs(cy - h / 2) > 0.2 * h:
        problems.append(f"principal point ({cx:.0f}, {cy:.0f}) is far from the image centre "
                        f"({w / 2:.0f}, {h / 2:.0f})")
    if not distortion_is_monotonic(camera, radius):
        where = "where the board was seen" if radius is not None else "near the image's edges"
        problems.append(f"the lens distortion folds the image over itself {where}")
    if coverage is not None and coverage < 0.25:
        problems.append(f"the board covered only {100 * coverage:.0f} % of the image")
    return problems


def raise_if_implausible(camera: Camera, *, coverage: float | None = None,
                         radius: float | None = None) -> None:
    """Raise SolverError naming the camera, what looks wrong and what to film."""
    problems = intrinsics_problems(camera, coverage=coverage, radius=radius)
    if problems:
        raise SolverError(f"camera {camera.name}: intrinsic calibration failed: "
                          f"{'; '.join(problems)}; {_FILM_ADVICE}")


def view_arrays(det: BoardDetections, obj: FloatArray, index: int
                ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """The seen corners of view ``index``: object points (n, 3) and pixels (n, 2), float32."""
    seen = np.isfinite(det.xy[index, :, 0])
    return obj[seen].astype(np.float32), det.xy[index, seen].astype(np.float32)


# --- fitting ------------------------------------------------------------------------------
def _fit_with_rejection(det: BoardDetections, obj: FloatArray, prior: Camera,
                        chosen: NDArray[np.int64]) -> tuple[Camera, NDArray[np.int64],
                                                            FloatArray, NDArray[np.int64],
                                                            FloatArray, frozenset[str]]:
    """Calibrate on ``chosen`` views with square pixels, k1 and k2 (REJECTION_MODEL); drop
    outlier corners and views; refit (up to 4 rounds); then, from 10 views on, keep the terms
    the views pin (see :func:`_select_model`).

    Returns:
        camera, views kept (indices into det.frames), their RMS, views rejected, (9,) standard
        deviations of the intrinsics, the model's extras.
    """
    xy = det.xy.copy()
    views, rejected, model = chosen.copy(), [], REJECTION_MODEL
    camera, residual, std = _fit(det.camera, det.image_size, obj, xy, views, prior, model)
    for _ in range(4):
        scale = 1.4826 * float(np.nanmedian(residual))
        bad_corner = residual > max(6.0 * scale, 2.0)
        per_view = np.sqrt(np.nanmean(np.where(bad_corner, np.nan, residual)**2, axis=1))
        bad_view = per_view > max(3.0 * float(np.median(per_view)), 1.0)
        if bad_view.sum() > views.size - MIN_VIEWS:
            bad_view[:] = False
        if not bad_corner.any() and not bad_view.any():
            break
        rejected.extend(views[bad_view].tolist())
        xy[views] = np.where(bad_corner[..., None], np.nan, xy[views])
        keep = ~bad_view & (np.isfinite(xy[views, :, 0]).sum(1) >= MIN_VIEW_CORNERS)
        views = views[keep]
        camera, residual, std = _fit(det.camera, det.image_size, obj, xy, views, camera, model)
    if not camera.fisheye and views.size >= 10:
        camera, residual, std, model = _select_model(det, obj, xy, views, camera)
    per_view = np.sqrt(np.nanmean(residual**2, axis=1))
    return camera, views, per_view, np.asarray(rejected, np.int64), std, model


def _select_model(det: BoardDetections, obj: FloatArray, xy: FloatArray,
                  views: NDArray[np.int64], start: Camera
                  ) -> tuple[Camera, FloatArray, FloatArray, frozenset[str]]:
    """Forward selection of MODEL_EXTRAS from the plainest model (square pixels, k1), fitted
    from ``start``: each round fits every extra not yet in the model and keeps the one whose
    ``lens_model.information_gain`` is largest, if positive with the Bayesian penalty (ln of
    the residual coordinates, ~9: one camera's views alone must pin the term clearly) and the
    result stays plausible.
    A term the views cannot pin lowers the error no more than noise would and is left out: it
    would only trade against the focal length and the principal point."""
    model: frozenset[str] = frozenset()
    camera, residual, std = _fit(det.camera, det.image_size, obj, xy, views, start, model)
    dof_base = 2 * int(np.isfinite(residual).sum()) - 6 * views.size
    while True:
        best = None
        for extra in candidates(model):
            trial = model | {extra}
            fit = _fit(det.camera, det.image_size, obj, xy, views, camera, trial)
            rss, rss_trial = np.nansum(residual**2), np.nansum(fit[1] ** 2)
            variance = rss_trial / max(dof_base - n_intrinsics(trial), 1)
            gain = information_gain(rss, rss_trial, variance, extra, np.log(dof_base))
            if gain > 0 and (best is None or gain > best[0]) and not intrinsics_problems(
                    fit[0], radius=data_radius(det, fit[0])) and admissible(fit[0], extra):
                best = (gain, trial, fit)
        if best is None:
            return camera, residual, std, model
        _, model, (camera, residual, std) = best


def _fit(name: str, size: tuple[int, int], obj: FloatArray, xy: FloatArray,
         views: NDArray[np.int64], start: Camera, model: frozenset[str]
         ) -> tuple[Camera, FloatArray, FloatArray]:
    """One calibration from ``start`` with the extras in ``model`` (see MODEL_EXTRAS) free (the
    fisheye model: all of its coefficients and both focal lengths): our bundle adjustment of the
    camera, held at the origin, and a board pose per view, on plain squared errors.

    Returns:
        the camera, (V, K) corner residuals in pixels (NaN where unseen) and the (9,) standard
        deviations of its intrinsics (``PINHOLE_PARAMS`` or ``FISHEYE_PARAMS``; NaN where held).
    """
    camera, fixed, square = _model_camera(start, model)
    seen_xy = xy[views]
    view, corner = np.nonzero(np.isfinite(seen_xy[..., 0]))
    obs = Observations(np.zeros(view.size, np.int64), view, corner, seen_xy[view, corner])
    try:
        result = bundle_adjust([camera], ippe_poses(camera, obj, seen_xy), obs, obj,
                               refine_intrinsics=True, fixed_intrinsics=fixed,
                               square_pixels=square, loss="linear", outlier_px=None)
    except SolverError as e:
        raise SolverError(f"camera {name}: the intrinsics could not be solved from "
                          f"{views.size} views ({e}); {_FILM_ADVICE}") from e
    residual = np.full(seen_xy.shape[:2], np.nan)
    residual[view, corner] = result.residuals
    return (result.cameras[0].replace(name=name, extra={}), residual,
            _standard_deviations(result, obs, obj, fixed, square))


def _model_camera(start: Camera, model: frozenset[str]
                  ) -> tuple[Camera, tuple[str, ...], bool]:
    """``start`` at the origin with the coefficients ``model`` leaves out set to zero (square
    pixels: the mean focal length); the names of those held and whether the pixels are square."""
    if start.fisheye:
        return start.replace(R=np.eye(3), t=np.zeros(3)), (), False
    K, dist = start.K.copy(), start.dist.copy()
    fixed, square = model_constraints(model)
    if square:
        K[0, 0] = K[1, 1] = np.sqrt(K[0, 0] * K[1, 1])
    dist[[PINHOLE_PARAMS.index(n) - 4 for n in fixed]] = 0.0
    return start.replace(K=K, dist=dist, R=np.eye(3), t=np.zeros(3)), fixed, square


def _standard_deviations(result: BundleResult, obs: Observations, obj: FloatArray,
                         fixed: tuple[str, ...], square: bool) -> FloatArray:
    """(9,) standard deviations of one camera's intrinsics at its solution: the inverse of the
    normal equations with the board poses eliminated, times the residual variance (as OpenCV's
    ``calibrateCameraExtended``); NaN for held parameters or a singular system."""
    camera = result.cameras[0]
    names = FISHEYE_PARAMS if camera.fisheye else PINHOLE_PARAMS
    free = np.array([bool(n) and n not in fixed for n in names])
    _, Jb, Ji = projection_jacobians([camera], result.board, obs, obj)
    Ji = Ji[:, :, free]                                                   # (M, 2, I)
    starts = np.flatnonzero(np.r_[True, np.diff(obs.frame) != 0])         # views are sorted
    Hib = np.add.reduceat(np.swapaxes(Ji, 1, 2) @ Jb, starts)             # (V, I, 6)
    Hbb = np.add.reduceat(np.swapaxes(Jb, 1, 2) @ Jb, starts)             # (V, 6, 6)
    flat = Ji.reshape(-1, Ji.shape[2])
    std = np.full(9, np.nan)
    try:
        S = flat.T @ flat - (Hib @ np.linalg.solve(Hbb, np.swapaxes(Hib, 1, 2))).sum(0)
        if square:                                                         # the fx = fy tie
            S[:2, :2] += TIE_WEIGHT**2 * np.array([[1.0, -1.0], [-1.0, 1.0]])
        dof = 2 * obs.frame.size - (free.sum() - square) - 6 * starts.size
        variance = float((result.residuals**2).sum()) / max(int(dof), 1)
        std[free] = np.sqrt(np.clip(np.diag(np.linalg.inv(S)), 0, None) * variance)
    except np.linalg.LinAlgError:
        pass
    return std


def _fit_of_fixed(det: BoardDetections, obj: FloatArray, fixed: Camera,
                  coverage: float) -> IntrinsicsResult:
    """Known intrinsics: measure their fit by a board pose per view (outlier corners, off by
    more than max(6 sigma, 2 px), left out of the RMS)."""
    camera = fixed.replace(name=det.camera, R=np.eye(3), t=np.zeros(3))
    ideal = camera.undistort(det.xy)                                        # (N, K, 2)
    residual = np.stack([_pnp_residuals(obj, p, np.eye(3), refine=True) for p in ideal])
    residual *= camera.K[0, 0]                                              # (N, K) pixels
    residual[residual > max(6.0 * 1.4826 * float(np.nanmedian(residual)), 2.0)] = np.nan
    per_view = np.sqrt(np.nanmean(residual**2, axis=1))
    rms = float(np.sqrt(np.mean(per_view**2)))
    return IntrinsicsResult(camera, rms, det.frames.copy(), per_view, coverage)


# --- helpers ------------------------------------------------------------------------------
def _K(focal: float, w: int, h: int) -> FloatArray:
    return np.array([[focal, 0.0, (w - 1) / 2], [0.0, focal, (h - 1) / 2], [0.0, 0.0, 1.0]])


def _pnp_rms(obj: FloatArray, uv: FloatArray, K: FloatArray) -> float:
    """RMS reprojection error of the IPPE board pose of one view (pixels of ``K``)."""
    return float(np.sqrt(np.nanmean(_pnp_residuals(obj, uv, K) ** 2)))


def _pnp_residuals(obj: FloatArray, uv: FloatArray, K: FloatArray,
                   refine: bool = False) -> FloatArray:
    """(K,) reprojection errors (pixels of ``K``, NaN where unseen) of one view's board pose
    by IPPE, refined by Levenberg-Marquardt if ``refine``."""
    seen = np.isfinite(uv[:, 0])
    o, p = obj[seen].astype(np.float64), uv[seen].astype(np.float64)
    out = np.full(uv.shape[0], np.nan)
    ok, rvec, tvec = cv2.solvePnP(o, p, K, _NO_DISTORTION, flags=cv2.SOLVEPNP_IPPE)
    if not ok:
        return np.full(uv.shape[0], np.inf)
    if refine:
        rvec, tvec = cv2.solvePnPRefineLM(o, p, K, _NO_DISTORTION, rvec, tvec)
    proj, _ = cv2.projectPoints(o, rvec, tvec, K, _NO_DISTORTION)
    out[seen] = np.linalg.norm(proj.reshape(-1, 2) - p, axis=1)
    return out


def data_radius(det: BoardDetections, camera: Camera) -> float:
    """The largest distorted radius (at z = 1, from the principal point) of a detected corner."""
    xy = det.xy[np.isfinite(det.xy[..., 0])]
    if xy.size == 0:
        return 0.0
    return float(np.max(np.hypot(*((xy - camera.K[:2, 2]) / np.diag(camera.K)[:2]).T)))


def distortion_is_monotonic(camera: Camera, radius: float | None = None) -> bool:
    """True where the lens has not folded back before the distorted radius ``radius`` at z = 1
    (default: the image's farthest corner): its fold reaches at least that far
    (``Camera.fold_reach``); a fold means the polynomial went wild."""
    if radius is None:
        w, h = camera.size
        corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], float)
        reach = np.abs((corners - camera.K[:2, 2]) / np.diag(camera.K)[:2]).max(axis=0)
        radius = float(np.hypot(*reach))
    if not np.isfinite(radius) or radius <= 0:
        return radius == 0
    return bool(camera.fold_reach >= radius)
