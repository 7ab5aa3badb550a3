"""Running the lifter on a take: one camera's 2D in, root-relative 3D in that camera's frame out."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray

from calibration.camera import Camera
from mocap.errors import InputError
from mocap.lifting.features import LIFT_FPS, MIN_SEEN, camera_up, input_features
from mocap.lifting.weights import Lifter
from rigs.skeleton import Skeleton

FloatArray = NDArray[np.float64]
CHUNK = 4096                # windows per pass of the network


def lift_pixels(lifter: Lifter, camera: Camera, pixels: FloatArray, skeleton: Skeleton,
                fps: float) -> FloatArray:
    """Lift one person's 2D seen by one camera.

    Args:
        pixels: (F, J, 2) distorted pixels of ``skeleton``'s joints; NaN where not seen.
        skeleton: the keypoint set of ``pixels``; it must hold the lifter's joints.
        fps: the take's rate (see :func:`lift_ideal`).
    Returns:
        (F, L, 3) the lifter's L joints in the camera's frame (metres), relative to the hips'
        midpoint; NaN in frames with too little 2D around them to say anything.
    Raises:
        InputError: ``skeleton`` lacks joints the lifter reads.
    """
    missing = [j for j in lifter.joints if j not in skeleton.joints]
    if missing:
        raise InputError(f"the lifter reads {', '.join(missing)}, which keypoint set "
                         f"{skeleton.name} does not have")
    ideal = camera.undistort(pixels[:, skeleton.indices(lifter.joints)])       # (F, L, 2)
    return lift_ideal(lifter, ideal, camera_up(camera), fps)


def lift_ideal(lifter: Lifter, ideal: FloatArray, up: FloatArray, fps: float) -> FloatArray:
    """(F, L, 2) ideal image coordinates at ``fps`` of a camera whose frame has the world's up
    along ``up`` (3,) -> (F, L, 3) root-relative camera coordinates.

    Each frame is lifted from the window of frames around it (the take's ends repeated to fill
    the first and last windows), each window made into features on its own exactly as in
    training (the person's size is the window's median). A take at k times LIFT_FPS (k the
    whole number nearest) is lifted as k interleaved takes at about LIFT_FPS, so the window
    spans the time it was trained on.
    """
    step = max(1, round(fps / LIFT_FPS))
    out = np.empty(ideal.shape[:-1] + (3,))
    for offset in range(step):
        out[offset::step] = _lift_window_rate(lifter, ideal[offset::step], up)
    return out


def _lift_window_rate(lifter: Lifter, ideal: FloatArray, up: FloatArray) -> FloatArray:
    """:func:`lift_ideal` of a take at about LIFT_FPS."""
    shape = lifter.network.shape
    field = shape.receptive_field
    before = field - 1 if shape.causal else field // 2
    padded = np.concatenate([np.repeat(ideal[:1], before, 0), ideal,
                             np.repeat(ideal[-1:], field - 1 - before, 0)])   # (F + R - 1, L, 2)
    windows = np.lib.stride_tricks.sliding_window_view(padded, field, axis=0)  # (F, L, 2, R)
    out = np.empty(ideal.shape[:-1] + (3,))
    with torch.no_grad():
        for start in range(0, len(ideal), CHUNK):
            part = np.moveaxis(windows[start:start + CHUNK], -1, 1)             # (n, R, L, 2)
            out[start:start + CHUNK] = lifter.network.one_frame(
                torch.from_numpy(input_features(part, up)).float()).double().numpy()
    seen = np.isfinite(ideal).all(-1).sum(-1) >= MIN_SEEN                     # (F,)
    nearby = np.convolve(seen, np.ones(field), mode="same") > 0
    return np.where(nearby[:, None, None], out, np.nan)
