"""A take one camera saw: each person lifted (:mod:`mocap.lifting.lift`), placed along the
camera's rays, and scaled to metres.

The lifted pose Q (root-relative, camera frame) is shifted per frame so that it projects onto
the 2D (a linear least-squares shift T over the seen joints: (Q + T) projects to the detections
up to the pose's scale, which the image cannot tell). Its world position is then R^T (s (Q + T))
+ C for the camera's orientation R and centre C, and the one scale s of the take comes from:

- the subject's height (``[lifting] subject_height_m``) over the lifted pose's stature, or else
- the floor: the lowest ankle of a frame stands ANKLE_M above it (the feet touch the floor
  in most frames of a take, so the median over frames holds through jumps and steps), which
  needs the camera ``MIN_CAMERA_HEIGHT_M`` or more above the floor of a Z-up world.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import NDArray

from calibration.camera import Camera
from mocap.errors import InputError
from mocap.keypoints import Keypoints2D
from mocap.lifting.features import lift_skeleton
from mocap.lifting.lift import lift_pixels
from mocap.lifting.weights import Lifter
from rigs.motion import LIFTED, MISSING, Motion3D

FloatArray = NDArray[np.float64]
ANKLE_M = 0.08                  # ankle joint centre above the floor of a standing foot
MIN_CAMERA_HEIGHT_M = 0.3       # a camera lower sees the floor edge-on: no scale from it
HEAD_ABOVE_NOSE_M = 0.12        # stature = ankle height + legs + trunk + neck to nose + this
SIDES = ("left", "right")


def monocular_motion(camera: Camera, keypoints: Keypoints2D, lifter: Lifter,
                     min_score: float, subject_height_m: float | None) -> Motion3D:
    """The people of a one-camera take in the world, in metres.

    Args:
        camera: the take's calibrated camera (its world frame Z up, floor at z = 0).
        keypoints: xy (1, F, P, J, 2), score (1, F, P, J) of that camera.
        subject_height_m: every person's height, or None to scale from the floor.
    Returns:
        Motion3D of the lifter's keypoint set, xyz (F, P, L, 3), source LIFTED, n_views 1.
    Raises:
        InputError: the scale cannot be fixed (no subject height and the camera too low or
            the world frame not Z-up from a floor).
    """
    skeleton = lift_skeleton()
    usable = keypoints.score[0] >= max(min_score, 1e-12)                          # (F, P, J)
    pixels = np.where(usable[..., None], keypoints.xy[0], np.nan)
    index = keypoints.skeleton.indices(skeleton.joints)
    people = []
    for p in range(keypoints.n_people):
        relative = lift_pixels(lifter, camera, pixels[:, p], keypoints.skeleton, keypoints.fps)
        ideal = camera.undistort(pixels[:, p][:, index])                          # (F, L, 2)
        placed = relative + _shift(relative, ideal)[:, None]                      # (F, L, 3)
        scale = (subject_height_m / _stature(relative, skeleton)
                 if subject_height_m is not None else _floor_scale(placed, camera, skeleton))
        people.append((scale * placed) @ camera.R + camera.center)               # world
    xyz = np.stack(people, axis=1)                                                # (F, P, L, 3)
    found = np.isfinite(xyz).all(-1)
    return Motion3D(xyz=xyz, skeleton=skeleton, fps=keypoints.fps,
                    n_views=found.astype(np.int64), source=np.where(found, LIFTED, MISSING))


def _shift(relative: FloatArray, ideal: FloatArray) -> FloatArray:
    """(F, 3) per frame, the shift T putting ``relative`` (F, L, 3) on the rays through
    ``ideal`` (F, L, 2) in least squares: x (Z + Tz) = X + Tx and y (Z + Tz) = Y + Ty per seen
    joint; NaN where fewer than 2 joints are seen."""
    seen = np.isfinite(ideal).all(-1) & np.isfinite(relative).all(-1)              # (F, L)
    x, y = np.nan_to_num(ideal[..., 0]), np.nan_to_num(ideal[..., 1])
    X, Y, Z = np.moveaxis(np.nan_to_num(relative), -1, 0)
    ones, zeros = seen.astype(float), np.zeros_like(x)
    # rows (1, 0, -x) T = x Z - X and (0, 1, -y) T = y Z - Y, zeroed where unseen
    a = np.stack([np.stack([ones, zeros, -x * ones], -1),
                  np.stack([zeros, ones, -y * ones], -1)], -2).reshape(len(x), -1, 3)
    b = np.stack([(x * Z - X) * ones, (y * Z - Y) * ones], -1).reshape(len(x), -1)
    normal = np.einsum("fni,fnj->fij", a, a)
    enough = seen.sum(-1) >= 2
    normal[~enough] = np.eye(3)
    shift = np.linalg.solve(normal, np.einsum("fni,fn->fi", a, b)[..., None])[..., 0]
    return np.where(enough[:, None], shift, np.nan)


def _stature(relative: FloatArray, skeleton) -> float:
    """A lifted person's height (metres, its own scale): legs, trunk and neck-to-nose lengths
    (medians over frames) plus the ankle and the head above the nose."""
    def length(a: str, b: str) -> FloatArray:
        ia, ib = skeleton.index(a), skeleton.index(b)
        return np.linalg.norm(relative[:, ia] - relative[:, ib], axis=-1)

    def mid(name: str) -> FloatArray:
        return relative[:, skeleton.indices([f"{s}_{name}" for s in SIDES])].mean(1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        leg = np.nanmedian([length(f"{s}_hip", f"{s}_knee") + length(f"{s}_knee", f"{s}_ankle")
                            for s in SIDES])
        trunk = np.nanmedian(np.linalg.norm(mid("shoulder") - mid("hip"), axis=-1))
        neck = np.nanmedian(np.linalg.norm(relative[:, skeleton.index("nose")]
                                           - mid("shoulder"), axis=-1))
    return float(ANKLE_M + leg + trunk + neck + HEAD_ABOVE_NOSE_M)


def _floor_scale(placed: FloatArray, camera: Camera, skeleton) -> float:
    """The scale s putting each frame's lowest ankle ANKLE_M above the floor (median over
    frames): its height is C_z + s (R^T q)_z for the camera centre C and the ankle q."""
    height = camera.center[2]
    ankles = placed[:, skeleton.indices([f"{s}_ankle" for s in SIDES])] @ camera.R  # world axes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)                          # unseen ankles
        down = np.nanmin(ankles[..., 2], axis=-1)                                  # (F,) < 0
        scale = np.nanmedian((ANKLE_M - height) / down)
    if height < MIN_CAMERA_HEIGHT_M or not np.isfinite(scale) or scale <= 0:
        raise InputError(f"cannot tell the one-camera take's scale: camera {camera.name} is "
                         f"{height:.2f} m above the floor of its world frame (the floor fixes "
                         f"the scale from {MIN_CAMERA_HEIGHT_M} m up, with the feet in view); "
                         "give the subject's height in session.toml: [lifting] "
                         "subject_height_m = 1.75")
    return float(scale)
