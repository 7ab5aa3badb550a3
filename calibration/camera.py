"""The camera model: pinhole with OpenCV distortion (or OpenCV's fisheye model), and rigs of them.

Conventions: world to camera is ``x_cam = R @ x_world + t`` (OpenCV axes: x right, y down,
z forward), metres and pixels. Every method works over any batch shape; NaN stays NaN.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from calibration import distortion
from calibration.errors import CalibrationError
from calibration.rotations import matrix_to_rodrigues, rodrigues_to_matrix, skew

FloatArray = NDArray[np.float64]
MAX_FOLDED_SHARE = 0.05        # of the image that may lie beyond a lens's fold (its corners)


@dataclass(frozen=True, eq=False)
class Camera:
    """Pinhole camera with lens distortion; world to camera is ``x_cam = R @ x_world + t``.

    Attributes:
        name: camera name (the video's file stem).
        size: (width, height) in pixels.
        K: (3, 3) intrinsic matrix.
        dist: (5,) k1, k2, p1, p2, k3 for the pinhole model; (4,) k1..k4 when ``fisheye``.
        R: (3, 3) world-to-camera rotation.
        t: (3,) world-to-camera translation in metres.
        fisheye: OpenCV's equidistant fisheye model instead of the pinhole one.
        extra: fields of the calibration file kept as they are (e.g. per-camera ``rms``).
    """

    name: str
    size: tuple[int, int]
    K: FloatArray
    dist: FloatArray
    R: FloatArray = field(default_factory=lambda: np.eye(3))
    t: FloatArray = field(default_factory=lambda: np.zeros(3))
    fisheye: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    _rvec: FloatArray | None = field(default=None, init=False, repr=False)
    _fold: float | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        n_dist = 4 if self.fisheye else 5
        dist = np.zeros(n_dist)
        given = np.asarray(self.dist, dtype=float).ravel()
        if given.size > n_dist or (self.fisheye and given.size != 4):
            kind = "fisheye k1..k4" if self.fisheye else "k1, k2, p1, p2[, k3]"
            raise CalibrationError(f"camera {self.name}: {given.size} distortion coefficients "
                                   f"given, the model takes {kind}")
        dist[:given.size] = given
        values = {"K": np.asarray(self.K, dtype=float), "dist": dist,
                  "R": np.asarray(self.R, dtype=float), "t": np.asarray(self.t, dtype=float)}
        for key, shape in (("K", (3, 3)), ("R", (3, 3)), ("t", (3,))):
            if values[key].shape != shape:
                raise CalibrationError(f"camera {self.name}: {key} has shape "
                                       f"{values[key].shape}, expected {shape}")
        for key, value in values.items():
            value.setflags(write=False)
            object.__setattr__(self, key, value)
        object.__setattr__(self, "size", (int(self.size[0]), int(self.size[1])))

    # --- construction -------------------------------------------------------------------
    @classmethod
    def from_rvec(cls, name: str, size: tuple[int, int], K: FloatArray, dist: FloatArray,
                  rvec: FloatArray, t: FloatArray, **kwargs: Any) -> Camera:
        """Build a camera from a Rodrigues rotation vector ``rvec`` (3,); it is kept as given."""
        rvec = np.array(rvec, dtype=float).reshape(3)
        camera = cls(name, size, K, dist, rodrigues_to_matrix(rvec), t, **kwargs)
        rvec.setflags(write=False)
        object.__setattr__(camera, "_rvec", rvec)
        return camera

    def replace(self, **changes: Any) -> Camera:
        """A copy with some fields changed (``R``, ``t``, ``K``, ``dist``, ``name``...)."""
        return replace(self, **changes)

    # --- derived quantities -------------------------------------------------------------
    @property
    def rvec(self) -> FloatArray:
        """(3,) Rodrigues vector of ``R`` (exactly the one given to :meth:`from_rvec`)."""
        return self._rvec if self._rvec is not None else matrix_to_rodrigues(self.R)

    @property
    def center(self) -> FloatArray:
        """(3,) camera centre in world coordinates, metres."""
        return -self.R.T @ self.t

    @property
    def fold_radius(self) -> float:
        """Ideal radius at z = 1 up to which the lens model is one-to-one (``inf``: everywhere).

        Beyond it the distortion folds back (or, fisheye, passes 90 degrees): ``project`` and
        ``distort`` give NaN there and ``undistort`` never returns a point beyond it.
        """
        fold = self._fold_parameter
        if not self.fisheye:
            return fold
        return np.inf if fold >= np.pi / 2 else float(np.tan(fold))

    @property
    def fold_reach(self) -> float:
        """The distorted radius at z = 1 the lens reaches at its fold (``inf``: no fold): pixels
        farther from the principal point (in focal lengths) no direction reaches."""
        return distortion.fold_reach(self.dist, self.fisheye, self._fold_parameter)

    @property
    def _fold_parameter(self) -> float:
        """The fold in the model's own variable (pinhole radius, fisheye angle), computed once."""
        fold = self._fold
        if fold is None:
            fold = distortion.fold_parameter(self.dist, self.fisheye)
            object.__setattr__(self, "_fold", fold)
        return fold

    @property
    def extrinsics(self) -> FloatArray:
        """(3, 4) ``[R | t]``, world to camera."""
        return np.hstack([self.R, self.t[:, None]])

    @property
    def projection_matrix(self) -> FloatArray:
        """(3, 4) ``K [R | t]`` for undistorted pixel coordinates."""
        return self.K @ self.extrinsics

    # --- projection -----------------------------------------------------------------------
    def world_to_camera(self, points: FloatArray) -> FloatArray:
        """(..., 3) world points to (..., 3) camera coordinates."""
        return np.asarray(points, dtype=float) @ self.R.T + self.t

    def project(self, points: FloatArray) -> FloatArray:
        """Project world points to pixels.

        Args:
            points: (..., 3) world points in metres; NaN rows stay NaN.
        Returns:
            (..., 2) distorted pixel coordinates; NaN for points at or behind the camera and
            beyond the lens's fold (:attr:`fold_radius`), which it would show at a wrong place.
        """
        cam = self.world_to_camera(points)                                 # (..., 3)
        z = np.where(cam[..., 2:] > 0, cam[..., 2:], np.nan)              # (..., 1)
        return self.normalized_to_pixels(cam[..., :2] / z)

    def normalized_to_pixels(self, xy: FloatArray) -> FloatArray:
        """(..., 2) ideal image coordinates at z = 1 to (..., 2) distorted pixels."""
        return self.distort(xy) @ self.K[:2, :2].T + self.K[:2, 2]

    def undistort(self, uv: FloatArray) -> FloatArray:
        """Undo the intrinsics and the lens distortion.

        Args:
            uv: (..., 2) distorted pixel coordinates; NaN stays NaN.
        Returns:
            (..., 2) ideal image coordinates at z = 1 (multiply by ``K`` for ideal pixels),
            within :attr:`fold_radius`; NaN for pixels no direction reaches (beyond the fold's
            image, or beyond 90 degrees for a fisheye) and where Newton's method did not
            converge - never a point of the lens's other branch or a mirrored one.
        """
        uv = np.asarray(uv, dtype=float)
        fx, fy, cx, cy, skew = self.K[0, 0], self.K[1, 1], self.K[0, 2], self.K[1, 2], self.K[0, 1]
        yd = (uv[..., 1] - cy) / fy
        xd = (uv[..., 0] - cx - skew * yd) / fx
        distorted = np.stack([xd, yd], axis=-1)
        if self.fisheye:
            return distortion.undistort_fisheye(distorted, self.dist, self._fold_parameter)
        return distortion.undistort_pinhole(distorted, self.dist, self._fold_parameter)

    def undistort_pixels(self, uv: FloatArray) -> FloatArray:
        """(..., 2) distorted pixels to (..., 2) ideal (distortion-free) pixels with the same K."""
        return self.undistort(uv) @ self.K[:2, :2].T + self.K[:2, 2]

    def distort(self, xy: FloatArray) -> FloatArray:
        """(..., 2) ideal image coordinates at z = 1 to (..., 2) distorted ones at z = 1; NaN at
        or beyond :attr:`fold_radius`."""
        xy = np.asarray(xy, dtype=float)
        if self.fisheye:
            return distortion.distort_fisheye(xy, self.dist, self._fold_parameter)
        return distortion.distort_pinhole(xy, self.dist, self._fold_parameter)

    def fold_in_image(self, samples: int = 97) -> str | None:
        """Whether the lens folds back inside the image: None when at most MAX_FOLDED_SHARE of
        the image lies beyond :attr:`fold_radius` (the extreme corners, where a calibration
        board is rarely seen and the fitted polynomial extrapolates; those pixels undistort to
        NaN, never to a wrong point), else a sentence saying where it folds and how much of
        the image lies beyond (judged on a ``samples`` x ``samples`` grid of pixels, corners
        included).

        A fisheye image reaching past 90 degrees is not a fold: those pixels are beyond what
        the model describes and undistort to NaN, not to wrong directions.
        """
        fold = self._fold_parameter
        if self.fisheye and fold >= np.pi / 2:
            return None
        w, h = self.size
        grid = np.stack(np.meshgrid(np.linspace(0, w - 1, samples),
                                    np.linspace(0, h - 1, samples)), axis=-1)  # (S, S, 2)
        lost = np.isnan(self.undistort(grid)[..., 0])
        if lost.mean() <= MAX_FOLDED_SHARE:
            return None
        corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], float)
        corner = np.max(np.hypot(*((corners - self.K[:2, 2]) / np.diag(self.K)[:2]).T))
        reach = self.fold_reach
        names = ("k1", "k2", "k3", "k4") if self.fisheye else ("k1", "k2", "p1", "p2", "k3")
        terms = ", ".join(f"{n} {v:.4g}" for n, v in zip(names, self.dist))
        return (f"its lens distortion ({terms}) folds back {reach * self.K[0, 0]:.0f} px from "
                f"the principal point, inside its {w}x{h} image (whose farthest corner is "
                f"{corner * self.K[0, 0]:.0f} px away): {100 * lost.mean():.3g} % of the image "
                "lies beyond it, where the model cannot be right. Such a fold usually means no "
                "board was seen near the image's edges; calibrate this camera again with board "
                "views reaching its corners, or with fewer distortion terms (k3 = 0)")

    def in_image(self, uv: FloatArray) -> NDArray[np.bool_]:
        """(..., 2) pixels to (...,) True where the pixel lies inside the image."""
        w, h = self.size
        return ((uv[..., 0] >= 0) & (uv[..., 0] <= w - 1)
                & (uv[..., 1] >= 0) & (uv[..., 1] <= h - 1))


@dataclass(frozen=True, eq=False)
class CameraRig:
    """An ordered set of calibrated cameras sharing one world frame.

    ``rig.project`` and ``rig.undistort`` put the camera axis first: (C, ..., 2).
    """

    cameras: tuple[Camera, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        cameras = tuple(self.cameras)
        names = [c.name for c in cameras]
        if len(set(names)) != len(names):
            raise CalibrationError(f"camera names must be unique, got {names}")
        object.__setattr__(self, "cameras", cameras)

    def __len__(self) -> int:
        return len(self.cameras)

    def __iter__(self) -> Iterator[Camera]:
        return iter(self.cameras)

    def __getitem__(self, key: int | str) -> Camera:
        if isinstance(key, str):
            return self.cameras[self.index(key)]
        return self.cameras[key]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.cameras]

    def index(self, name: str) -> int:
        """Position of camera ``name``; raises CalibrationError naming the known cameras."""
        try:
            return self.names.index(name)
        except ValueError:
            raise CalibrationError(f"camera '{name}' is not in the calibration "
                                   f"(it has {', '.join(self.names)})") from None

    def subset(self, names: Sequence[str]) -> CameraRig:
        """The rig restricted to (and ordered as) ``names``."""
        return CameraRig(tuple(self[n] for n in names), dict(self.extra))

    @property
    def projection_matrices(self) -> FloatArray:
        """(C, 3, 4) ``K [R | t]`` per camera."""
        return np.stack([c.projection_matrix for c in self.cameras])

    @property
    def extrinsics(self) -> FloatArray:
        """(C, 3, 4) ``[R | t]`` per camera."""
        return np.stack([c.extrinsics for c in self.cameras])

    @property
    def centers(self) -> FloatArray:
        """(C, 3) camera centres in world coordinates."""
        return np.stack([c.center for c in self.cameras])

    def project(self, points: FloatArray) -> FloatArray:
        """(..., 3) world points to (C, ..., 2) distorted pixels in every camera."""
        return np.stack([c.project(points) for c in self.cameras])

    def undistort(self, uv: FloatArray) -> FloatArray:
        """(C, ..., 2) distorted pixels to (C, ..., 2) ideal image coordinates at z = 1."""
        uv = np.asarray(uv, dtype=float)
        if uv.shape[0] != len(self):
            raise CalibrationError(f"expected pixels for {len(self)} cameras, got {uv.shape[0]}")
        return np.stack([c.undistort(p) for c, p in zip(self.cameras, uv)])

    def transformed(self, R: FloatArray, t: FloatArray, scale: float = 1.0) -> CameraRig:
        """The same cameras expressed in a new world frame where ``x_new = scale * R @ x_old + t``."""
        R, t = np.asarray(R, dtype=float), np.asarray(t, dtype=float)
        cams = []
        for c in self.cameras:
            # x_cam = Rc x_old + tc = Rc R^T (x_new - t) / s + tc  ->  scale camera units by s
            Rn = c.R @ R.T
            tn = scale * c.t - Rn @ t
            cams.append(c.replace(R=Rn, t=tn))
        return CameraRig(tuple(cams), dict(self.extra))


def essential_matrix(first: Camera, second: Camera) -> FloatArray:
    """(3, 3) essential matrix E with x_second^T E x_first = 0 for the ideal homogeneous rays
    (u, v, 1) of one point seen by the two cameras."""
    rotation = second.R @ first.R.T
    return skew(second.t - rotation @ first.t) @ rotation
