"""Accuracy against ground truth: per-joint 3D errors with people matched by position,
Procrustes-aligned errors, PCK and COCO's object keypoint similarity (OKS)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from rigs.motion import Motion3D

FloatArray = NDArray[np.float64]

# COCO's per-keypoint constants (sigmas), in COCO-17 order (cocoapi's COCOeval).
COCO_SIGMAS = np.array([0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62,
                        1.07, 1.07, 0.87, 0.87, 0.89, 0.89]) / 10.0


def joint_errors(estimate: Motion3D, truth: Motion3D) -> FloatArray:
    """Euclidean error of every estimated joint, people matched to the truth by mean distance.

    Returns:
        (F, P, J) errors in metres over the truth's people; NaN where either side is missing.
    """
    est, ref = common_joints(estimate, truth)
    return np.linalg.norm(match_people(est, ref) - ref, axis=-1)


def common_joints(estimate: Motion3D, truth: Motion3D) -> tuple[FloatArray, FloatArray]:
    """Both motions over their common frames and the truth's joints the estimate also has.

    Returns:
        estimate (F, Pe, J, 3) and truth (F, Pt, J, 3), joints in the truth's order.
    """
    n_f = min(estimate.n_frames, truth.n_frames)
    common = [j for j in truth.skeleton.joints if j in estimate.skeleton.joints]
    return (estimate.xyz[:n_f][:, :, estimate.skeleton.indices(common)],
            truth.xyz[:n_f][:, :, truth.skeleton.indices(common)])


def match_people(estimate: FloatArray, truth: FloatArray) -> FloatArray:
    """The estimate's people reordered to the truth's, matched by mean joint distance.

    Args:
        estimate: (F, Pe, J, 3) and truth: (F, Pt, J, 3) in the same units; NaN = missing.
    Returns:
        (F, Pt, J, 3): for each truth person, its matched estimate (NaN if none is left).
    """
    dist = np.linalg.norm(estimate[:, :, None] - truth[:, None], axis=-1)   # (F, Pe, Pt, J)
    with quiet_nan():
        cost = np.nanmean(dist, axis=(0, 3))                                 # (Pe, Pt)
    rows, cols = linear_sum_assignment(np.nan_to_num(cost, nan=1e9))
    matched = np.full(truth.shape, np.nan)
    matched[:, cols] = estimate[:, rows]
    return matched


def procrustes_align(estimate: FloatArray, truth: FloatArray) -> FloatArray:
    """Each pose of ``estimate`` moved onto ``truth`` by its best similarity transform
    (rotation, translation and scale; Umeyama's least squares) over the joints both have.

    Args:
        estimate, truth: (..., J, 3); NaN = missing.
    Returns:
        (..., J, 3) aligned estimate; NaN where a pose has fewer than 3 common joints or the
        joint is missing from the estimate.
    """
    valid = (np.isfinite(estimate).all(-1) & np.isfinite(truth).all(-1))[..., None]  # (..., J, 1)
    n = valid.sum(-2, keepdims=True)                                         # (..., 1, 1)
    safe_n = np.maximum(n, 1)
    x, y = np.where(valid, estimate, 0.0), np.where(valid, truth, 0.0)
    mx, my = x.sum(-2, keepdims=True) / safe_n, y.sum(-2, keepdims=True) / safe_n
    xc, yc = np.where(valid, x - mx, 0.0), np.where(valid, y - my, 0.0)
    cov = np.swapaxes(yc, -1, -2) @ xc / safe_n                              # (..., 3, 3)
    u, s, vt = np.linalg.svd(cov)
    sign = np.sign(np.linalg.det(u @ vt))                                    # (...,) reflection
    d = np.ones(s.shape)
    d[..., -1] = np.where(sign == 0, 1.0, sign)
    rot = (u * d[..., None, :]) @ vt                                         # (..., 3, 3)
    var_x = (xc ** 2).sum((-2, -1)) / safe_n[..., 0, 0]
    scale = (s * d).sum(-1) / np.where(var_x > 0, var_x, np.nan)             # (...,)
    aligned = scale[..., None, None] * (estimate - mx) @ np.swapaxes(rot, -1, -2) + my
    return np.where(n >= 3, aligned, np.nan)


def pck(errors: FloatArray, threshold: float | FloatArray) -> FloatArray:
    """1 where ``errors`` are below ``threshold`` (broadcast), 0 above, NaN where missing."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(errors), np.nan, (errors < threshold).astype(float))


def oks(estimate: FloatArray, truth: FloatArray, visible: NDArray[np.bool_],
        sigmas: FloatArray = COCO_SIGMAS) -> FloatArray:
    """COCO's object keypoint similarity, with the truth's bounding-box area as the object area.

    Args:
        estimate: (..., K, 2) pixels, NaN = not detected (counts as a miss, similarity 0).
        truth: (..., K, 2) pixels.
        visible: (..., K) joints of the truth that count (COCO's v > 0).
        sigmas: (K,) per-keypoint constants (COCO's for the COCO-17 joints).
    Returns:
        (...,) OKS in [0, 1]; NaN where no joint counts or the box has no area.
    """
    inside = np.where(visible[..., None], truth, np.nan)
    with quiet_nan():
        extent = np.nanmax(inside, axis=-2) - np.nanmin(inside, axis=-2)     # (..., 2)
    area = extent[..., 0] * extent[..., 1]                                   # (...,)
    d2 = ((estimate - truth) ** 2).sum(-1)                                   # (..., K)
    var = (2 * sigmas) ** 2                                                  # (K,)
    with np.errstate(invalid="ignore", divide="ignore"):
        sim = np.exp(-d2 / (2 * area[..., None] * var))
    sim = np.where(visible, np.nan_to_num(sim, nan=0.0), 0.0)
    count = visible.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((count > 0) & (area > 0), sim.sum(-1) / count, np.nan)


@contextmanager
def quiet_nan() -> Iterator[None]:
    """Silence numpy's all-NaN-slice warnings: missing joints are normal input."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def summarize_errors(errors: FloatArray) -> dict[str, float]:
    """Mean, median and 95th percentile (millimetres) and the fraction of joints recovered."""
    valid = errors[np.isfinite(errors)] * 1000.0
    if valid.size == 0:
        return {"mean_mm": float("nan"), "median_mm": float("nan"), "p95_mm": float("nan"),
                "recovered": 0.0}
    return {"mean_mm": float(valid.mean()), "median_mm": float(np.median(valid)),
            "p95_mm": float(np.percentile(valid, 95)), "recovered": valid.size / errors.size}
