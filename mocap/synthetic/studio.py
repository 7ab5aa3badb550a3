"""A virtual studio: cameras on a ring around a capture volume, in a Z-up metric world."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from calibration.camera import Camera, CameraRig


def look_at(eye: NDArray[np.float64], target: NDArray[np.float64]
            ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """World-to-camera (R (3, 3), t (3,)) of a camera at ``eye`` looking at ``target``, with
    the image's up direction as close to world +Z as possible (OpenCV axes: y down)."""
    z = np.asarray(target, float) - np.asarray(eye, float)
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    if np.linalg.norm(x) < 1e-9:                       # looking straight up or down
        x = np.array([1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    return R, -R @ np.asarray(eye, float)


def ring_rig(n: int = 4, *, radius: float = 4.0, height: float = 2.2,
             target: tuple[float, float, float] = (0.0, 0.0, 0.9),
             size: tuple[int, int] = (1920, 1080), hfov_deg: float = 70.0,
             distortion: bool = True, seed: int = 0, prefix: str = "cam") -> CameraRig:
    """``n`` cameras evenly spaced on a circle of ``radius`` metres at ``height``, all looking at
    ``target``; realistic intrinsics (principal point and focal lengths a little off ideal) and
    lens distortion drawn from a seeded generator.

    Returns:
        CameraRig with cameras named ``{prefix}_{i}`` (i from 1).
    """
    rng = np.random.default_rng(seed)
    w, h = size
    f = 0.5 * w / np.tan(np.radians(hfov_deg) / 2)
    cameras = []
    for i in range(n):
        angle = 2 * np.pi * i / n + rng.uniform(-0.1, 0.1)
        eye = np.array([radius * np.cos(angle), radius * np.sin(angle),
                        height + rng.uniform(-0.2, 0.2)])
        R, t = look_at(eye, np.asarray(target) + rng.uniform(-0.1, 0.1, 3))
        fx = f * rng.uniform(0.97, 1.03)
        K = np.array([[fx, 0.0, w / 2 + rng.uniform(-15, 15)],
                      [0.0, fx * rng.uniform(0.998, 1.002), h / 2 + rng.uniform(-15, 15)],
                      [0.0, 0.0, 1.0]])
        dist = (np.array([rng.uniform(-0.12, -0.02), rng.uniform(0.0, 0.06),
                          rng.uniform(-1e-3, 1e-3), rng.uniform(-1e-3, 1e-3),
                          rng.uniform(-0.01, 0.0)]) if distortion else np.zeros(5))
        cameras.append(Camera(f"{prefix}_{i + 1}", size, K, dist, R, t))
    return CameraRig(tuple(cameras))
