"""Which lens terms a camera's views pin: the model ladder and its test.

Every camera starts from the plainest pinhole model (square pixels, focal length, principal point,
k1); each of MODEL_EXTRAS joins only where the views determine it. A term the views cannot pin
lowers the reprojection error by no more than noise would, yet trades against the focal length
and the principal point: a nearly distortion-free lens seen through a small board comes back with
k2 = -0.2 and k3 = +1.1 and its focal length 0.7 % off. The test is Akaike's
information criterion on the squared reprojection errors: a term with ``d`` parameters is kept
where it lowers their sum by more than ``2 d`` residual variances, i.e. a single parameter lies
more than sqrt(2) of its standard deviations from zero. That is where leaving the term out would
bias the focal length and principal point by more than fitting it adds to their spread; the
stricter Bayesian criterion (``ln n`` ~ 9 variances) drops tangential terms of 5e-4 that a small
board cannot tell from a principal point 2-3 px off, which turns the camera by 0.1-0.2 degrees.

The single-camera step (``calibration.intrinsics``) chooses from each camera's own views with the
stricter Bayesian penalty (its views alone, with a free board pose each, tell a term from the
principal point poorly, and real footage's unmodelled effects would pull in every term); the
rig's joint adjustment (:func:`adjust_lens_terms`) then offers every refined camera the terms it
lacks, with Akaike's penalty, where the board poses pinned by the other cameras make its views
say more.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from calibration.bundle import BundleResult, Observations, bundle_adjust
from calibration.camera import Camera
from calibration.extrinsics import BoardPoses

FloatArray = NDArray[np.float64]

MODEL_EXTRAS = ("k2", "aspect", "tangential", "k3")    # beyond square pixels and k1
EXTRA_PARAMS = {"k2": 1, "aspect": 1, "tangential": 2, "k3": 1}    # parameters each adds


def model_constraints(model: frozenset[str]) -> tuple[tuple[str, ...], bool]:
    """The pinhole parameters a model (a subset of MODEL_EXTRAS) holds at zero, and whether it
    keeps the pixels square (fx = fy): ``bundle_adjust``'s ``fixed_intrinsics`` and
    ``square_pixels``."""
    held = (("k2",) if "k2" not in model else ()) + (
        ("p1", "p2") if "tangential" not in model else ()) + (("k3",) if "k3" not in model else ())
    return held, "aspect" not in model


def candidates(model: frozenset[str]) -> list[str]:
    """The extras that may join ``model`` next (k3 only once k2 is in)."""
    return [e for e in MODEL_EXTRAS if e not in model and (e != "k3" or "k2" in model)]


def n_intrinsics(model: frozenset[str]) -> int:
    """Free intrinsics of a model: the focal length, principal point and k1, plus its extras."""
    return 4 + sum(EXTRA_PARAMS[e] for e in model)


def information_gain(rss: float, rss_richer: float, variance: float, extra: str,
                     penalty: float) -> float:
    """How far ``extra`` clears the information criterion: the drop of the squared error (px^2)
    in residual variances, minus ``penalty`` per parameter it adds; > 0 keeps it."""
    return (rss - rss_richer) / max(variance, 1e-300) - EXTRA_PARAMS[extra] * penalty


def admissible(camera: Camera, extra: str) -> bool:
    """Whether ``camera``, fitted with ``extra``, may keep it: k3 (the sixth power of the
    radius, the term that extrapolates wildest beyond the board's views) only where the lens
    then does not fold back inside the image (``Camera.fold_in_image``)."""
    return extra != "k3" or camera.fold_in_image() is None


def adjust_lens_terms(cameras: Sequence[Camera], board: BoardPoses, obs: Observations,
                      object_points: FloatArray, *, refine: Sequence[bool],
                      models: Sequence[frozenset[str]], fixed_camera: int, penalty: float
                      ) -> tuple[BundleResult, list[frozenset[str]]]:
    """The rig's adjustment with intrinsics refined where ``refine`` says, each camera in its
    ``models`` entry; then, extra by extra (MODEL_EXTRAS' order), every refined camera lacking
    it is offered it, and keeps it where its own reprojection errors clear
    :func:`information_gain` with ``penalty`` residual variances per parameter (2: Akaike's
    criterion; board poses are shared: the other cameras pin them).

    Returns:
        the final adjustment and each camera's model.
    """
    models = list(models)

    def adjust(start: Sequence[Camera], board: BoardPoses, models: Sequence[frozenset[str]]
               ) -> BundleResult:
        held, square = zip(*(model_constraints(m) for m in models))
        return bundle_adjust(start, board, obs, object_points, refine_intrinsics=list(refine),
                             fixed_intrinsics=list(held), square_pixels=list(square),
                             fixed_camera=fixed_camera)

    result = adjust(cameras, board, models)
    for extra in MODEL_EXTRAS:
        offered = [i for i, m in enumerate(models) if refine[i] and extra in candidates(m)]
        if not offered:
            continue
        trial_models = [m | {extra} if i in offered else m for i, m in enumerate(models)]
        trial = adjust(result.cameras, result.board, trial_models)
        kept = _cameras_that_gain(result, trial, offered, extra, penalty)
        if kept:
            models = [m | {extra} if i in kept else m for i, m in enumerate(models)]
            result = trial if kept == offered else adjust(result.cameras, result.board, models)
    return result, models


def _cameras_that_gain(before: BundleResult, after: BundleResult, offered: list[int],
                       extra: str, penalty: float) -> list[int]:
    """The offered cameras whose squared errors, over the observations both adjustments kept,
    drop by more than the information criterion asks (variance: the richer fit's, all
    cameras)."""
    both = before.inliers & after.inliers
    sq_before, sq_after = before.residuals**2, after.residuals**2
    dof = 2 * int(both.sum()) - 6 * after.board.frames.size - 15 * len(after.cameras)
    variance = float(sq_after[both].sum()) / max(dof, 1)
    kept = []
    for i in offered:
        mine = both & (before.camera == i)
        gain = information_gain(float(sq_before[mine].sum()), float(sq_after[mine].sum()),
                                variance, extra, penalty)
        if gain > 0 and admissible(after.cameras[i], extra):
            kept.append(i)
    return kept
