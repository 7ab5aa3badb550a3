"""Triangulation of every joint of every person in every frame at once: robust consensus
(default) or plain confidence-weighted DLT."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from calibration.camera import CameraRig
from calibration.triangulation import triangulate_points
from mocap.errors import TriangulationError
from mocap.keypoints import Keypoints2D
from mocap.robust_triangulation import robust_points
from rigs.motion import MISSING, TRIANGULATED, Motion3D

FloatArray = NDArray[np.float64]
METHODS = ("robust", "dlt")


@dataclass(frozen=True)
class TriangulationConfig:
    min_views: int = 2                  # joints seen by fewer usable cameras stay missing
    min_score: float = 0.3              # detector score below which a view is ignored
    method: str = "robust"              # "robust": camera consensus + swap repair; "dlt": all views
    # Largest reprojection error (px) of a view that agrees with a point. Detector noise of a few
    # pixels (2 px per axis: 99 % of correct views within 6 px of the truth, and a point
    # triangulated from noisy views adds about as much again) stays well inside; a confidently
    # wrong joint (another limb, tens of pixels off) falls outside. Pose2Sim uses 15 px.
    inlier_px: float = 15.0
    hypothesis_views: int = 6           # pairs of a point's best-scored views seed it (15 pairs)
    rounds: int = 2                     # rounds of inlier test + weighted DLT after the seed
    repair_swaps: bool = True           # relabel views whose left/right joints are swapped
    # The most people in the take. 1: a single subject; each camera's person slot that agrees
    # with the other cameras is kept per frame (bystanders dropped). More (or None, no limit):
    # the people are matched across cameras and followed in 3D (mocap.association).
    people: int | None = None

    def __post_init__(self) -> None:
        if self.min_views < 2:
            raise TriangulationError(f"min_views must be 2 or more (a point needs two views), "
                                     f"got {self.min_views}")
        if not 0 <= self.min_score <= 1:
            raise TriangulationError(f"min_score must be in [0, 1] (detector scores are), got "
                                     f"{self.min_score}")
        if self.method not in METHODS:
            raise TriangulationError(f"method must be one of {', '.join(METHODS)}, got "
                                     f"'{self.method}'")
        if not self.inlier_px > 0:
            raise TriangulationError(f"inlier_px must be positive (pixels), got {self.inlier_px}")
        if self.people is not None and not 1 <= self.people <= 100:
            raise TriangulationError(f"people must be in [1, 100] (the most people in the take; "
                                     f"leave it out for no limit), got {self.people}")
        if self.hypothesis_views < 2 or self.rounds < 1:
            raise TriangulationError(f"hypothesis_views must be 2 or more and rounds 1 or more, "
                                     f"got {self.hypothesis_views} and {self.rounds}")


@dataclass(frozen=True, eq=False)
class Triangulation:
    """A triangulated take and what each point was made of.

    Attributes:
        motion: xyz (F, P, J, 3) metres, n_views = views kept, reprojection_error over them.
        kept: (C, F, P, J) views each point was triangulated from.
        swapped: (C, F, P) view-frames whose left/right labels were repaired (robust only).
    """

    motion: Motion3D
    kept: NDArray[np.bool_]
    swapped: NDArray[np.bool_]


def triangulate(rig: CameraRig, kp: Keypoints2D,
                config: TriangulationConfig = TriangulationConfig()) -> Motion3D:
    """Every joint in world coordinates (see :func:`triangulate_views`)."""
    return triangulate_views(rig, kp, config).motion


def triangulate_views(rig: CameraRig, kp: Keypoints2D,
                      config: TriangulationConfig = TriangulationConfig()) -> Triangulation:
    """Robust consensus or score-weighted DLT, batched over frames, people and joints.

    Args:
        rig: calibrated cameras; those named in ``kp.cameras`` are used, in that order.
        kp: xy (C, F, P, J, 2) pixels, score (C, F, P, J); NaN xy = not seen.
        config: method, minimum views and detector score, consensus settings.
    Returns:
        Triangulation whose motion has xyz (F, P, J, 3) metres, reprojection_error (F, P, J)
        pixels (mean over the views kept), n_views (F, P, J) views kept. Joints kept by fewer
        than ``min_views`` are missing (NaN, source MISSING), and so are joints whose point one
        of the cameras kept cannot see (behind it, or beyond its lens's fold): such a point is
        wrong.
    Raises:
        TriangulationError: if ``kp`` names a camera the rig does not have.
    """
    missing = [c for c in kp.cameras if c not in rig.names]
    if missing:
        raise TriangulationError(f"keypoints for camera(s) {', '.join(missing)} but the "
                                 f"calibration has only {', '.join(rig.names)}")
    rig = rig.subset(kp.cameras)
    weights = np.where(kp.score >= config.min_score, kp.score, 0.0)        # (C, F, P, J)
    xy = kp.xy
    if config.method == "robust":
        found = robust_points(rig, xy, weights, kp.skeleton.mirror if config.repair_swaps
                              else None, inlier_px=config.inlier_px,
                              hypothesis_views=config.hypothesis_views, rounds=config.rounds,
                              min_views=config.min_views)
        xyz, kept, swapped, xy = found.xyz, found.kept, found.swapped, found.xy
    else:
        xyz = triangulate_points(rig.extrinsics, rig.undistort(xy), weights)
        kept = (weights > 0) & np.isfinite(xy).all(-1)
        kept &= kept.sum(axis=0) >= config.min_views
        swapped = np.zeros(kp.score.shape[:3], bool)
    xyz[~kept.any(axis=0)] = np.nan
    error = reprojection_error(rig, xyz, xy, kept)
    unexplained = np.isinf(error)                                           # (F, P, J)
    xyz[unexplained], error[unexplained] = np.nan, np.nan
    source = np.where(np.isfinite(xyz).all(-1), TRIANGULATED, MISSING)
    kept &= source == TRIANGULATED
    motion = Motion3D(xyz=xyz, skeleton=kp.skeleton, fps=kp.fps, reprojection_error=error,
                      n_views=kept.sum(axis=0), source=source)
    return Triangulation(motion, kept, swapped)


def reprojection_error(rig: CameraRig, xyz: FloatArray, xy: FloatArray,
                       weights: FloatArray) -> FloatArray:
    """Mean pixel distance between observations and reprojections over the views used.

    Args:
        rig: C cameras in the order of ``xy``.
        xyz: (...) + (3,) world points.
        xy: (C, ..., 2) observed distorted pixels.
        weights: (C, ...) views with weight > 0 count.
    Returns:
        (...) mean error in pixels; NaN where the point is missing or no view counts; ``inf``
        ("known to be bad") where a view that counts cannot see the point (behind the camera,
        or beyond its lens's fold) - leaving that view out would make a wrong point look
        better than a right one.
    """
    seen = (weights > 0) & np.isfinite(xy).all(-1)                           # (C, ...)
    dist = np.linalg.norm(rig.project(xyz) - xy, axis=-1)                  # (C, ...)
    dist = np.where(seen, np.where(np.isnan(dist), np.inf, dist), 0.0)
    n_seen = seen.sum(axis=0)
    point = np.isfinite(xyz).all(-1) & (n_seen > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(point, dist.sum(axis=0) / n_seen, np.nan)
