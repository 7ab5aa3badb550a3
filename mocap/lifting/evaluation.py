"""How good the lifter is: motion projected through cameras (given or random), spoiled by pixel
noise, lifted, and compared with the truth root-relative in each camera's frame: MPJPE (mean
joint distance) and PA-MPJPE (the same after each pose's best similarity transform)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from calibration.camera import CameraRig
from mocap.lifting.features import LIFT_FPS, lift_skeleton, root_relative
from mocap.lifting.lift import lift_pixels
from mocap.lifting.weights import Lifter
from mocap.metrics import procrustes_align

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class LiftScore:
    mpjpe_mm: float
    pa_mpjpe_mm: float
    frames: int                 # camera-frames scored

    def line(self) -> str:
        return f"MPJPE {self.mpjpe_mm:.1f} mm PA-MPJPE {self.pa_mpjpe_mm:.1f} mm frames {self.frames}"


def lift_errors(lifter: Lifter, world: FloatArray, rig: CameraRig, noise_px: float,
                rng: np.random.Generator, fps: float = LIFT_FPS
                ) -> tuple[FloatArray, FloatArray]:
    """Per camera-frame and joint errors of lifting ``world`` seen by every camera of ``rig``.

    Args:
        world: (F, L, 3) the lifter's joints in world metres at ``fps`` (NaN: not in the
            source).
        noise_px: Gaussian pixel noise (std per axis) added to the projections.
    Returns:
        root-relative errors and Procrustes-aligned errors, each (C, F, L) metres; NaN where the
        joint was outside the image or missing from the source.
    """
    skeleton = lift_skeleton()
    errors, aligned = [], []
    for camera in rig:
        pixels = camera.project(world)
        pixels = np.where(camera.in_image(pixels)[..., None], pixels, np.nan)
        pixels = pixels + rng.normal(0.0, noise_px, pixels.shape)
        truth = root_relative(camera.world_to_camera(world), skeleton)
        lifted = lift_pixels(lifter, camera, pixels, skeleton, fps)
        lifted = np.where(np.isfinite(truth), lifted, np.nan)
        errors.append(np.linalg.norm(lifted - truth, axis=-1))
        aligned.append(np.linalg.norm(procrustes_align(lifted, truth) - truth, axis=-1))
    return np.stack(errors), np.stack(aligned)


def score(errors: FloatArray, aligned: FloatArray) -> LiftScore:
    """Means over every scored joint of errors (..., L) (:func:`lift_errors`'s); ``frames``
    counts the camera-frames with a scored joint."""
    frames = int(np.isfinite(errors).any(-1).sum())
    return LiftScore(float(np.nanmean(errors)) * 1000, float(np.nanmean(aligned)) * 1000, frames)
