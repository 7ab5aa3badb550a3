"""Joints fewer than two cameras triangulated, from the lifter: each person's pose lifted from
every camera's 2D, the best view per frame (most of the lifter's joints seen) turned into the
world by its camera's orientation and aligned to the same frame's triangulated joints (a
similarity transform where six or more are shared, else scale and shift), then read off at the
joints the triangulation left out."""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import NDArray

from calibration.camera import CameraRig
from mocap.keypoints import Keypoints2D
from mocap.lifting.lift import lift_pixels
from mocap.lifting.weights import Lifter
from mocap.metrics import procrustes_align
from rigs.motion import Motion3D

FloatArray = NDArray[np.float64]
FULL_ALIGN = 6          # shared joints from which the rotation is fitted too
MIN_SHARED = 2          # fewer shared joints: the frame's lifted pose cannot be placed


def lifted_positions(rig: CameraRig, keypoints: Keypoints2D, motion: Motion3D, lifter: Lifter,
                     min_score: float) -> FloatArray:
    """(F, P, J, 3) world positions from the lifter for the lifter's joints that ``motion``
    lacks (NaN elsewhere, and where no view or too few triangulated joints place the pose).

    Args:
        rig: the cameras of ``keypoints``.
        keypoints: xy (C, F, P, J, 2), score (C, F, P, J), slot p one person in every camera.
        motion: the triangulated take, xyz (F, P, J, 3); its missing joints are filled.
        min_score: detections below it are not seen.
    """
    rig = rig.subset(keypoints.cameras)
    skeleton = keypoints.skeleton
    index = skeleton.indices(lifter.joints)                                      # (L,)
    usable = keypoints.score >= max(min_score, 1e-12)                            # (C, F, P, J)
    xy = np.where(usable[..., None], keypoints.xy, np.nan)
    counts = usable[..., index].sum(-1)                                          # (C, F, P)
    best = counts.argmax(0)                                                      # (F, P)
    lifted = np.full(motion.xyz.shape[:2] + (len(index), 3), np.nan)             # (F, P, L, 3)
    for c, camera in enumerate(rig):
        mine = (best == c) & (counts[c] > 0)                                     # (F, P)
        for p in np.flatnonzero(mine.any(0)):
            relative = lift_pixels(lifter, camera, xy[c, :, p], skeleton,
                                   keypoints.fps)                               # (F, L, 3)
            lifted[mine[:, p], p] = relative[mine[:, p]] @ camera.R              # world axes
    triangulated = motion.xyz[:, :, index]                                       # (F, P, L, 3)
    placed = align(lifted, triangulated)
    out = np.full(motion.xyz.shape, np.nan)
    out[:, :, index] = np.where(np.isfinite(triangulated), np.nan, placed)
    return out


def align(lifted: FloatArray, triangulated: FloatArray) -> FloatArray:
    """(..., L, 3) ``lifted`` poses moved onto the joints ``triangulated`` shares with them:
    rotation, scale and shift with FULL_ALIGN or more shared joints, scale and shift from
    MIN_SHARED; NaN poses with fewer."""
    shared = np.isfinite(lifted).all(-1) & np.isfinite(triangulated).all(-1)     # (..., L)
    n = shared.sum(-1)                                                           # (...,)
    full = procrustes_align(lifted, triangulated)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)                         # nothing shared
        a_mean = np.nanmean(np.where(shared[..., None], lifted, np.nan), -2, keepdims=True)
        b_mean = np.nanmean(np.where(shared[..., None], triangulated, np.nan), -2,
                            keepdims=True)
        a, b = lifted - a_mean, triangulated - b_mean
        both = shared[..., None]
        scale = (np.where(both, a * b, 0.0).sum((-2, -1))
                 / np.where(both, a * a, 0.0).sum((-2, -1)))                     # (...,)
    shifted = scale[..., None, None] * a + b_mean
    placed = np.where((n >= FULL_ALIGN)[..., None, None], full, shifted)
    return np.where((n >= MIN_SHARED)[..., None, None], placed, np.nan)
