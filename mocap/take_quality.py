"""A take's quality without ground truth: how far the detections lie from the joints projected
back into the cameras, and how steady the body's bones stay over the take."""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import NDArray

from calibration.camera import CameraRig
from mocap.keypoints import Keypoints2D
from rigs.motion import Motion3D

FloatArray = NDArray[np.float64]


def detection_distances(rig: CameraRig, motion: Motion3D, keypoints: Keypoints2D,
                        min_score: float = 0.3) -> FloatArray:
    """(K,) pixels from every view that detected a joint (score of ``min_score`` or more) to
    the joint projected through ``rig``: the finite values of :func:`view_distances`."""
    distance = view_distances(rig, motion, keypoints, min_score)
    return distance[np.isfinite(distance)]


def view_distances(rig: CameraRig, motion: Motion3D, keypoints: Keypoints2D,
                   min_score: float = 0.3) -> FloatArray:
    """(C, F, P, J) pixels from each camera's detection of a joint (score of ``min_score`` or
    more) to the joint projected through ``rig``; in each camera and frame the person slot
    nearest the projection counts (other tools' slots are not ours). NaN where the camera did
    not detect the joint or it is missing in 3D.

    Args:
        rig: the cameras the motion is in (those of ``keypoints`` are used).
        motion: xyz (F, P, J, 3); keypoints: xy (C, F, S, J, 2), score (C, F, S, J).
    """
    projected = rig.subset(keypoints.cameras).project(motion.xyz)          # (C, F, P, J, 2)
    detected = np.where((keypoints.score >= min_score)[..., None], keypoints.xy, np.nan)
    distance = np.linalg.norm(projected[:, :, :, None] - detected[:, :, None], axis=-1)
    seen = np.isfinite(distance).any(axis=3)                                # (C, F, P, J)
    nearest = np.nanmin(np.where(seen[:, :, :, None], distance, np.inf), axis=3)
    return np.where(seen, nearest, np.nan)


def body_bone_cv(motion: Motion3D) -> FloatArray:
    """(P, B') coefficient of variation over the take of each rigid bone's length
    (:attr:`Skeleton.anatomy`) outside the head. The head's links (1-6 cm) are left out: 2 %
    of them is 0.2-1 mm, under what a detector resolves at a studio's distances."""
    rigid, _ = motion.skeleton.anatomy
    body = rigid & ~motion.skeleton.in_head[np.asarray(motion.skeleton.bones)].all(-1)
    lengths = motion.skeleton.bone_lengths(motion.xyz)[..., body]           # (F, P, B')
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)          # bones never seen: NaN
        return np.nanstd(lengths, axis=0) / np.nanmean(lengths, axis=0)
