"""Synthetic 2D detections: ground-truth 3D joints seen by a rig, with detector-like errors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from calibration.camera import CameraRig
from mocap.keypoints import Keypoints2D
from rigs.motion import Motion3D


@dataclass(frozen=True)
class DetectorErrors:
    """Errors a 2D detector makes, all rates per camera, frame, person (and joint)."""

    noise_px: float = 1.0               # Gaussian pixel noise (std per axis)
    outlier_rate: float = 0.0           # joints replaced by a confident wrong position
    outlier_px: float = 80.0            # how far (std, pixels) outliers land from the truth
    dropout_rate: float = 0.0           # joints not detected at all
    swap_rate: float = 0.0              # view-frames with a person's left/right sides swapped
    score_mean: float = 0.85            # mean confidence of a correct detection


@dataclass(frozen=True, eq=False)
class ErrorTruth:
    """Which detector errors ``observe_with_truth`` drew, indexed like the keypoints it returns.

    Attributes:
        outlier: (C, F, P, J) detections at a confident wrong position (in a swapped
            view-frame, the joint slot the wrong detection ended up in).
        swapped: (C, F, P) view-frames whose left and right joints were exchanged.
        dropped: (C, F, P, J) joints inside the image that the detector missed.
    """

    outlier: NDArray[np.bool_]
    swapped: NDArray[np.bool_]
    dropped: NDArray[np.bool_]


def observe(rig: CameraRig, motion: Motion3D, errors: DetectorErrors = DetectorErrors(),
            seed: int = 0) -> Keypoints2D:
    """Project ``motion`` into every camera of ``rig`` and add detector errors.

    Joints outside an image or behind a camera are not seen (NaN, score 0).

    Returns:
        Keypoints2D with xy (C, F, P, J, 2) and score (C, F, P, J).
    """
    return observe_with_truth(rig, motion, errors, seed)[0]


def observe_with_truth(rig: CameraRig, motion: Motion3D,
                       errors: DetectorErrors = DetectorErrors(), seed: int = 0
                       ) -> tuple[Keypoints2D, ErrorTruth]:
    """``observe``, also returning which errors were drawn where.

    A swapped view-frame exchanges each left joint's detection (position and score) with its
    right twin's, as a detector that mislabels the sides does.
    """
    rng = np.random.default_rng(seed)
    xy = rig.project(motion.xyz)                                            # (C, F, P, J, 2)
    inside = np.stack([cam.in_image(p) for cam, p in zip(rig, xy)])        # (C, F, P, J)
    xy = xy + rng.normal(0.0, errors.noise_px, xy.shape)
    score = np.clip(rng.normal(errors.score_mean, 0.07, inside.shape), 0.35, 1.0)

    outlier = rng.random(inside.shape) < errors.outlier_rate
    xy[outlier] += rng.normal(0.0, errors.outlier_px, (int(outlier.sum()), 2))
    score[outlier] = np.clip(rng.normal(0.75, 0.1, int(outlier.sum())), 0.35, 1.0)

    swapped = rng.random(inside.shape[:3]) < errors.swap_rate               # (C, F, P)
    mirror = motion.skeleton.mirror
    xy = np.where(swapped[..., None, None], xy[..., mirror, :], xy)
    score = np.where(swapped[..., None], score[..., mirror], score)
    inside = np.where(swapped[..., None], inside[..., mirror], inside)

    dropped = inside & (rng.random(inside.shape) < errors.dropout_rate)
    seen = inside & ~dropped
    kp = Keypoints2D(xy=np.where(seen[..., None], xy, np.nan), score=np.where(seen, score, 0.0),
                     cameras=tuple(rig.names), skeleton=motion.skeleton, fps=motion.fps)
    outlier = np.where(swapped[..., None], outlier[..., mirror], outlier)
    return kp, ErrorTruth(outlier=outlier, swapped=swapped, dropped=dropped)
