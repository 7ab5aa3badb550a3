"""Bundle adjustment of a camera rig over board views: scipy sparse least squares.

Unknowns: every camera's pose (Rodrigues rvec, t; world to camera), every frame's board pose
(rvec, t; board to world) and, optionally, intrinsics per camera (fx, fy, cx, cy and the five
OpenCV or four fisheye distortion coefficients; a camera's skew K[0, 1] is carried as given, never
refined). Residuals: the pixel reprojection error of every observed corner, computed in one
batched projection; a corner at or behind its camera has an infinite one (it is left out, and a
step that would put a corner there is refused). The Jacobian is analytic (or, on request,
batched finite differences over an explicit ``jac_sparsity``), the loss robust (soft L1 with a
1 px scale), the gauge fixed by holding one camera's pose; the board's printed geometry fixes the
scale. After convergence, observations with large residuals are dropped and it runs once more.
The problem itself (packing, projection, Jacobian, solvers) is ``calibration.bundle_problem``.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from calibration.bundle_problem import (
    FISHEYE_PARAMS,
    MIN_DEPTH,
    PINHOLE_PARAMS,
    TIE_WEIGHT,
    BundleProblem,
    Observations,
    observations,
    seen_corners,
)
from calibration.camera import Camera
from calibration.errors import SolverError
from calibration.extrinsics import BoardPoses

__all__ = ["FISHEYE_PARAMS", "MIN_DEPTH", "PINHOLE_PARAMS", "TIE_WEIGHT", "BundleResult",
           "Observations", "bundle_adjust", "observations", "projection_jacobians",
           "seen_corners"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class BundleResult:
    """The refined rig and how well it fits.

    Attributes:
        cameras: refined cameras, in the order given.
        board: refined board poses (same frames as given).
        residuals: (M,) reprojection error of every observation given, pixels; inf where the
            corner lies at or behind its camera (MIN_DEPTH).
        inliers: (M,) False for observations dropped as outliers or behind their camera.
        camera: (M,) camera index of every observation given.
        rms: (C,) per-camera RMS over its inliers, pixels.
        initial_rms: (C,) the same before adjustment (the observations in front of their
            camera).
        cost: final robust cost.
        n_evaluations: residual evaluations over both runs.
        seconds: wall time.
        converged: the last run stopped at its tolerances (False: ``max_iterations`` stopped
            it, and the result is not a minimum).
        stop_reason: why the last run stopped, a phrase for reports.
        n_iterations: iterations over both runs (scipy: Jacobian evaluations).
    """

    cameras: list[Camera]
    board: BoardPoses
    residuals: FloatArray
    inliers: NDArray[np.bool_]
    camera: NDArray[np.int64]
    rms: FloatArray
    initial_rms: FloatArray
    cost: float
    n_evaluations: int
    seconds: float
    converged: bool
    stop_reason: str
    n_iterations: int


def bundle_adjust(cameras: Sequence[Camera], board: BoardPoses, obs: Observations,
                  object_points: FloatArray, *,
                  refine_intrinsics: bool | Sequence[bool] = False,
                  fixed_intrinsics: Collection[str] | Sequence[Collection[str]] = (),
                  fixed_camera: int | None = 0,
                  square_pixels: bool | Sequence[bool] = False, loss: str = "soft_l1", f_scale: float = 1.0, outlier_px: float | None = 2.0,
                  solver: str = "schur", max_iterations: int | None = None) -> BundleResult:
    """Refine camera poses, board poses and optionally intrinsics to fit every observed corner.

    Args:
        cameras: C cameras (their poses and intrinsics are the starting point).
        board: F board poses (board to world), one per ``obs.frame`` index.
        obs: M observed corners.
        object_points: (K, 3) board corners in metres.
        refine_intrinsics: for all cameras or per camera.
        fixed_intrinsics: names of intrinsic parameters kept (``PINHOLE_PARAMS`` or
            ``FISHEYE_PARAMS``, e.g. ``("k3",)``), for every camera or one collection per camera.
        square_pixels: for all cameras or per camera, keep fx = fy while refining them.
        fixed_camera: the camera whose pose is held (the gauge: the world frame stays its
            frame); None leaves all poses free (a gauge freedom remains: tests only).
        loss, f_scale: robust loss on each observation's squared error and its scale, pixels.
        outlier_px: after convergence, observations off by more than max(outlier_px, 5 sigma),
            and whole views (a camera's corners in one frame) whose RMS exceeds max(outlier_px
            / 2, 2.5 x the median view's) are dropped (the board moved or was misdetected) and
            the problem solved again; None keeps everything.
        solver: "schur" (Levenberg-Marquardt on the Schur complement, analytic Jacobian),
            "scipy" (``least_squares`` trf/lsmr, analytic sparse Jacobian, x_scale="jac") or
            "scipy-numeric" (``least_squares`` with finite differences over ``jac_sparsity``).
        max_iterations: iterations (schur) or evaluations (scipy) per run; None: solver default.
    Returns:
        BundleResult (residuals and inliers in the order of ``obs``); observations whose corner
        starts at or behind its camera are left out of the first run (the outlier pass takes
        back those that the solution puts in front and fits).
    Raises:
        SolverError: when the solver fails, or no observed corner lies in front of its camera.
    """
    start = time.perf_counter()
    if obs.camera.size == 0:
        raise SolverError("bundle adjustment: no board corner was observed")
    order = np.lexsort((obs.frame, obs.camera))             # the Schur solver's order
    problem = BundleProblem(cameras, board, obs.select(order), np.asarray(object_points, float),
                            refine_intrinsics, fixed_intrinsics, fixed_camera, square_pixels)
    initial = problem.residual_norms(problem.x0)
    in_front = np.isfinite(initial)
    if not in_front.any():
        raise SolverError("bundle adjustment: every observed corner starts behind its camera; "
                          "the initial camera or board poses are wrong")
    runs = [problem.restricted(in_front).solve(problem.x0, loss, f_scale, solver,
                                               max_iterations)]
    inliers = in_front
    if outlier_px is not None:
        inliers = _inliers(problem.residual_norms(runs[0].x), problem.obs, outlier_px)
        if not np.array_equal(inliers, in_front):
            runs.append(problem.restricted(inliers).solve(runs[0].x, loss, f_scale, solver,
                                                          max_iterations))
    last = runs[-1]
    cams, poses = problem.unpack(last.x)
    norms, init = np.empty(order.size), np.empty(order.size)
    keep = np.empty(order.size, bool)
    norms[order], keep[order], init[order] = problem.residual_norms(last.x), inliers, initial
    return BundleResult(cams, poses, norms, keep, obs.camera,
                        _rms_per_camera(norms, obs.camera, keep, len(cameras)),
                        _rms_per_camera(init, obs.camera, np.isfinite(init), len(cameras)),
                        last.cost, sum(r.n_evaluations for r in runs),
                        time.perf_counter() - start, last.converged, last.reason,
                        sum(r.n_iterations for r in runs))


def projection_jacobians(cameras: Sequence[Camera], board: BoardPoses, obs: Observations,
                         object_points: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Derivatives of every observation's projection with respect to its camera's pose, its
    frame's board pose (rotation vector, translation: the adjustment's parameters) and its
    camera's intrinsics (``PINHOLE_PARAMS`` or ``FISHEYE_PARAMS``).

    Args:
        cameras: C cameras; board: the board poses ``obs.frame`` indexes; obs: M observations,
            sorted by camera (as ``observations`` returns them).
    Returns:
        (M, 2, 6) camera pose, (M, 2, 6) board pose, (M, 2, 9) intrinsics.
    """
    problem = BundleProblem(cameras, board, obs, np.asarray(object_points, float), False, (),
                            None)
    _, J = problem.project(problem.x0, with_jacobian=True)
    assert J is not None                            # asked for; not user input
    return J[:, :, 0:6], J[:, :, 6:12], J[:, :, 12:]


def _inliers(norms: FloatArray, obs: Observations, outlier_px: float) -> NDArray[np.bool_]:
    """(M,) False for outlying observations and for every observation of an outlying view."""
    finite = np.isfinite(norms)                              # inf: behind the camera
    sigma = np.median(norms[finite]) / 1.1774                # Rayleigh median -> sigma
    keep = finite & (norms <= max(float(outlier_px), 5.0 * float(sigma)))
    _, view = np.unique(obs.frame * (obs.camera.max() + 1) + obs.camera, return_inverse=True)
    n = np.bincount(view[keep], minlength=view.max() + 1)
    view_rms = np.sqrt(np.bincount(view[keep], norms[keep] ** 2, view.max() + 1)
                       / np.maximum(n, 1))
    bad_view = view_rms > max(outlier_px / 2, 2.5 * np.median(view_rms[n > 0]))
    return keep & ~bad_view[view]


def _rms_per_camera(norms: FloatArray, camera: NDArray[np.int64], keep: NDArray[np.bool_],
                    n_cam: int) -> FloatArray:
    sq = np.bincount(camera[keep], weights=norms[keep] ** 2, minlength=n_cam)
    n = np.bincount(camera[keep], minlength=n_cam)
    return np.sqrt(sq / np.maximum(n, 1))
