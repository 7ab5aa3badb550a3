"""A virtual studio: cameras on a ring or an arc around a capture volume, Z-up metric world."""

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


def studio_rig(n: int = 6, *, span_deg: float = 360.0, radius: tuple[float, float] = (3.0, 4.5),
               height: tuple[float, float] = (1.6, 2.6),
               target: tuple[float, float, float] = (0.0, 0.0, 1.0),
               size: tuple[int, int] = (1280, 720),
               focal_px: tuple[float, float] = (800.0, 1400.0),
               k1: tuple[float, float] = (-0.35, 0.1), k2: tuple[float, float] = (-0.05, 0.15),
               tangential: float = 1e-3, roll_deg: float = 0.0, seed: int = 0,
               prefix: str = "cam") -> CameraRig:
    """``n`` studio cameras with varied lenses, on a full ring (``span_deg`` 360) or on an arc
    of ``span_deg`` degrees in front of the volume (centred on the world +x direction).

    Each camera's distance from the volume's axis, height, focal length and radial distortion
    are drawn uniformly from the given ranges (k3 = 0, tangential terms within
    +-``tangential``; a lens whose distortion would fold back inside the image is drawn again);
    principal points lie within 2 % of the image centre, pixels are square to 0.2 %. Cameras
    look at ``target`` give or take 0.15 m, each turned about its optical axis by up to
    ``roll_deg`` either way (0: the image's up as near world +Z as it goes; a tilted tripod head
    or a hand-held phone is not).

    Returns:
        CameraRig with cameras named ``{prefix}_{i}`` (i from 1).
    """
    rng = np.random.default_rng(seed)
    roll = np.random.default_rng((seed, 1)).uniform(-roll_deg, roll_deg, n)  # the same rig, turned
    w, h = size
    if span_deg >= 360.0:
        angles = 2 * np.pi * np.arange(n) / n + rng.uniform(-0.1, 0.1, n)
    else:
        angles = np.radians(np.linspace(-span_deg / 2, span_deg / 2, n))
    cameras = []
    for i, angle in enumerate(angles):
        r = rng.uniform(*radius)
        eye = np.array([r * np.cos(angle), r * np.sin(angle), rng.uniform(*height)])
        R, t = look_at(eye, np.asarray(target) + rng.uniform(-0.15, 0.15, 3))
        R, t = _rolled(R, t, np.radians(roll[i]))
        fx = rng.uniform(*focal_px)
        K = np.array([[fx, 0.0, w / 2 + rng.uniform(-0.02, 0.02) * w],
                      [0.0, fx * rng.uniform(0.998, 1.002), h / 2 + rng.uniform(-0.02, 0.02) * h],
                      [0.0, 0.0, 1.0]])
        dist = _monotonic_lens(rng, k1, k2, tangential, np.hypot(w, h) / 2 / fx)
        cameras.append(Camera(f"{prefix}_{i + 1}", size, K, dist, R, t))
    return CameraRig(tuple(cameras))


def _rolled(R: NDArray[np.float64], t: NDArray[np.float64], angle: float
            ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """World-to-camera (R, t) of the same camera turned by ``angle`` radians about its optical
    axis."""
    c, s = np.cos(angle), np.sin(angle)
    turn = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return turn @ R, turn @ t


def _monotonic_lens(rng: np.random.Generator, k1: tuple[float, float], k2: tuple[float, float],
                    tangential: float, r_max: float) -> NDArray[np.float64]:
    """(5,) k1, k2, p1, p2, k3 = 0 whose radial distortion r (1 + k1 r^2 + k2 r^4) still grows
    at the image corner ``r_max`` (normalised radius), as a real lens's does."""
    while True:
        a, b = rng.uniform(*k1), rng.uniform(*k2)
        if 1 + 3 * a * r_max**2 + 5 * b * r_max**4 > 0.2:
            return np.array([a, b, *rng.uniform(-tangential, tangential, 2), 0.0])
