"""Accuracy against ground truth: per-joint errors with people matched by position."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from rigs.motion import Motion3D


def joint_errors(estimate: Motion3D, truth: Motion3D) -> NDArray[np.float64]:
    """Euclidean error of every estimated joint, people matched to the truth by mean distance.

    Returns:
        (F, P, J) errors in metres over the truth's people; NaN where either side is missing.
    """
    n_f = min(estimate.n_frames, truth.n_frames)
    est, ref = estimate.xyz[:n_f], truth.xyz[:n_f]
    common = [j for j in truth.skeleton.joints if j in estimate.skeleton.joints]
    est = est[:, :, estimate.skeleton.indices(common)]
    ref = ref[:, :, truth.skeleton.indices(common)]
    dist = np.linalg.norm(est[:, :, None] - ref[:, None], axis=-1)         # (F, Pe, Pt, J)
    with np.errstate(invalid="ignore"):
        cost = np.nanmean(np.where(np.isfinite(dist), dist, np.nan), axis=(0, 3))
    rows, cols = linear_sum_assignment(np.nan_to_num(cost, nan=1e9))
    errors = np.full(ref.shape[:3], np.nan)
    errors[:, cols] = dist[:, rows, cols]
    return errors


def summarize_errors(errors: NDArray[np.float64]) -> dict[str, float]:
    """Mean, median and 95th percentile (millimetres) and the fraction of joints recovered."""
    valid = errors[np.isfinite(errors)] * 1000.0
    if valid.size == 0:
        return {"mean_mm": float("nan"), "median_mm": float("nan"), "p95_mm": float("nan"),
                "recovered": 0.0}
    return {"mean_mm": float(valid.mean()), "median_mm": float(np.median(valid)),
            "p95_mm": float(np.percentile(valid, 95)), "recovered": valid.size / errors.size}
