"""How well two cameras' detections of people agree: the epipolar distances between every pair of
person slots of every pair of cameras, batched over frames."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from calibration.camera import CameraRig, essential_matrix
from mocap.keypoints import Keypoints2D

FloatArray = NDArray[np.float64]
# A joint farther than this from its epipolar line (pixels) is another person's as likely as
# this one's: the cost is truncated there so one wrong joint cannot outweigh many right ones.
# Detector noise and calibration offsets of a few tens of pixels stay below it.
EPIPOLAR_CAP_PX = 60.0
# Slots sharing fewer seen joints than this tell nothing about each other (they cost the cap).
MIN_COMMON_JOINTS = 4
# Relative costs are capped at half a body: farther is simply not the same person, and the cap
# keeps one such pair from outweighing the others in a mean over a group.
RELATIVE_CAP = 0.5


def pair_distances(rig: CameraRig, kp: Keypoints2D, min_score: float
                   ) -> Iterator[tuple[int, int, FloatArray]]:
    """For each camera pair c < d: (c, d, (F, P, Q, J)) the symmetric epipolar distance in pixels
    between joint j of slot p in camera c and of slot q in camera d (NaN where either did not
    see it with ``min_score``)."""
    seen = kp.score >= max(min_score, 1e-12)                                # (C, F, P, J)
    ideal = rig.undistort(np.where(seen[..., None], kp.xy, np.nan))         # (C, F, P, J, 2)
    rays = np.concatenate([ideal, np.ones(ideal.shape[:-1] + (1,))], axis=-1)
    focal = np.array([cam.K[[0, 1], [0, 1]].mean() for cam in rig])
    for c in range(len(kp.cameras)):
        for d in range(c + 1, len(kp.cameras)):
            essential = essential_matrix(rig[c], rig[d])
            a, b = rays[c][:, :, None], rays[d][:, None]                    # (F, P, 1, J, 3)
            line_in_d, line_in_c = a @ essential.T, b @ essential           # (F, P, Q, J, 3)
            algebraic = np.abs((line_in_d * b).sum(-1))                     # (F, P, Q, J)
            yield c, d, 0.5 * algebraic * (focal[d] / np.hypot(*line_in_d[..., :2].T).T
                                           + focal[c] / np.hypot(*line_in_c[..., :2].T).T)


def pair_costs(rig: CameraRig, kp: Keypoints2D, min_score: float) -> FloatArray:
    """(C, C, F, P, P) for each ordered camera pair (c, d), the mean symmetric epipolar distance
    (pixels, truncated at EPIPOLAR_CAP_PX) between slot p of c and slot q of d over the joints
    both saw; EPIPOLAR_CAP_PX where they share fewer than MIN_COMMON_JOINTS (and c == d)."""
    n_cams, n_frames, n_people = kp.xy.shape[:3]
    costs = np.full((n_cams, n_cams, n_frames, n_people, n_people), EPIPOLAR_CAP_PX)
    for c, d, dist in pair_distances(rig, kp, min_score):
        both = np.isfinite(dist)
        total = np.where(both, np.fmin(dist, EPIPOLAR_CAP_PX), 0.0).sum(-1)
        common = both.sum(-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(common >= MIN_COMMON_JOINTS, total / common, EPIPOLAR_CAP_PX)
        costs[c, d], costs[d, c] = mean, mean.swapaxes(-1, -2)
    return costs


def relative_pair_costs(rig: CameraRig, kp: Keypoints2D, min_score: float) -> FloatArray:
    """(C, C, F, P, P) for each ordered camera pair (c, d), the median symmetric epipolar
    distance between slot p of c and slot q of d over the joints both saw, in units of the two
    slots' mean size (the diagonal of the box around their joints), at most RELATIVE_CAP;
    RELATIVE_CAP where they share fewer than MIN_COMMON_JOINTS (and c == d).

    The median needs no truncation (half the joints may be wrong), and the unit lets one bound
    hold at any resolution and distance: a camera ``a`` radians off moves epipolar lines by about
    ``focal * a`` pixels while a body ``s`` metres across at ``z`` metres spans ``focal * s / z``
    pixels, so the right person's cost stays near ``a * z / s`` whatever the lens.
    """
    n_cams, n_frames, n_people = kp.xy.shape[:3]
    xy = np.where((kp.score >= max(min_score, 1e-12))[..., None], kp.xy, np.nan)
    costs = np.full((n_cams, n_cams, n_frames, n_people, n_people), RELATIVE_CAP)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)                     # empty slots
        size = np.linalg.norm(np.nanmax(xy, axis=-2) - np.nanmin(xy, axis=-2), axis=-1)
        for c, d, dist in pair_distances(rig, kp, min_score):
            both = np.isfinite(dist).sum(-1) >= MIN_COMMON_JOINTS
            relative = np.nanmedian(dist, axis=-1) / (0.5 * (size[c][:, :, None]
                                                             + size[d][:, None]))
            cost = np.where(both, np.fmin(relative, RELATIVE_CAP), RELATIVE_CAP)
            costs[c, d], costs[d, c] = cost, cost.swapaxes(-1, -2)
    return costs
