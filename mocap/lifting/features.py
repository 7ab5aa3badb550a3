"""What the lifter sees and what it answers: 2D keypoints of one camera made independent of the
lens, the person's place in the image and their size in it; 3D made relative to the root.

Input per frame and joint: the joint's ideal image coordinates (undistorted, at z = 1, so the
focal length and the lens are gone) minus the centroid of the frame's seen joints, divided by
the window's size of the person (the median over frames of the seen joints' RMS distance from
their centroid), and a 1/0 flag for seen; then the centroid itself (where in the view the person
is: the perspective the pose is seen under), the log of the window's size (how far the person
is, for a body of usual size: how strong the perspective is) and the world's up direction in
the camera's frame (the camera's pitch and roll: what is upright for a body standing on the
floor; the world is Z up, as every calibration here makes it). Output per frame: each joint's
camera coordinates (x right, y down, z forward, metres) minus the root's, the root being the
hips' midpoint.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import NDArray

from calibration.camera import Camera
from rigs.skeleton import Skeleton, get_skeleton

FloatArray = NDArray[np.float64]
LIFT_SET = "coco17"        # the joints the lifter reads and answers: every keypoint set has them
ROOT_JOINTS = ("left_hip", "right_hip")
MIN_SEEN = 4               # a frame with fewer seen joints gives the lifter nothing
LIFT_FPS = 30.0            # the rate the lifter learns at (its 27-frame window: 0.9 s)


def lift_skeleton() -> Skeleton:
    return get_skeleton(LIFT_SET)


def n_features(n_joints: int) -> int:
    """Input channels per frame: (x, y, seen) per joint, the centroid (x, y), the log size and
    the up direction (x, y, z)."""
    return 3 * n_joints + 6


def input_features(ideal: FloatArray, up: FloatArray) -> FloatArray:
    """Network input from ideal image coordinates.

    Args:
        ideal: (..., F, J, 2) undistorted coordinates at z = 1 of a window of F consecutive
            frames; NaN where not seen.
        up: (..., 3) the world's +Z in the camera's frame (:func:`camera_up`).
    Returns:
        (..., F, 3 J + 6) features, the person's size being the median over the window's
        frames; a frame with fewer than MIN_SEEN joints is all zeros but for the size
        and the up direction.
    """
    centre, size, seen = _frame_stats(ideal)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)                       # nothing seen
        scale = np.nanmedian(size, axis=-1)                                   # (...,)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)[..., None, None, None]
    xy = np.where(seen[..., None], (ideal - centre[..., None, :]) / scale, 0.0)
    flat = np.concatenate([xy, seen[..., None].astype(float)], -1)            # (..., F, J, 3)
    flat = flat.reshape(flat.shape[:-2] + (-1,))
    log_size = np.broadcast_to(np.log(scale[..., 0]), flat.shape[:-1] + (1,))
    up = np.broadcast_to(np.asarray(up, float)[..., None, :], flat.shape[:-1] + (3,))
    return np.concatenate([flat, np.nan_to_num(centre), log_size, up], -1)


def camera_up(camera: Camera) -> FloatArray:
    """(3,) the world's up direction (+Z) in ``camera``'s frame."""
    return camera.R[:, 2]


def _frame_stats(ideal: FloatArray) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """Centroid (..., F, 2) and size (..., F) of each frame's seen joints (NaN where fewer than
    MIN_SEEN), and which joints count (..., F, J)."""
    seen = np.isfinite(ideal).all(-1)                                          # (..., F, J)
    seen &= (seen.sum(-1) >= MIN_SEEN)[..., None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)                       # frames unseen
        centre = np.nanmean(np.where(seen[..., None], ideal, np.nan), axis=-2)
        size = np.sqrt(np.nanmean(np.where(seen, ((ideal - centre[..., None, :]) ** 2).sum(-1),
                                           np.nan), axis=-1))
    return centre, size, seen


def root_relative(camera_xyz: FloatArray, skeleton: Skeleton) -> FloatArray:
    """(..., J, 3) camera coordinates minus the root's (the hips' midpoint)."""
    root = camera_xyz[..., skeleton.indices(ROOT_JOINTS), :].mean(-2, keepdims=True)
    return camera_xyz - root
