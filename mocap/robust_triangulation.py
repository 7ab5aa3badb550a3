"""Robust triangulation: per-point camera-subset consensus and left/right swap repair.

A detector is sometimes confidently wrong (a joint on the wrong limb, a left knee labelled
right). Each point is solved the way RANSAC would, but exhaustively and for every point at once:
every pair among its best-scored views proposes a point (midpoint of the two rays), each proposal
is scored by a truncated reprojection cost over all the views that saw the joint (MSAC: a view
within ``inlier_px`` costs its squared error, any other view costs ``inlier_px`` squared), the
cheapest proposal's agreeing views are triangulated together (score-weighted DLT) and the
agreement is tested again. Views whose left/right labels are swapped as a whole (a person seen
from the back taken for one seen from the front) are then found against that consensus,
relabelled, and their frames solved again.

Reprojection errors are in pixels of the original images: residuals in ideal image coordinates
are mapped through the lens's local Jacobian at each detection, so a wide-angle lens's edges (where
one pixel spans much more of the ideal image than at the centre) get the same threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
from numpy.typing import NDArray

from calibration.camera import CameraRig
from calibration.triangulation import triangulate_points

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

# A view is judged swapped when exchanging its left/right labels makes at least SWAP_MARGIN
# more joints agree with the other views and SWAP_FACTOR times as many as it makes disagree: a
# correct view whose left and right joints nearly overlap in the image (a person seen side on)
# gains little either way and is left alone, and one stray outlier is not enough to relabel it.
SWAP_MARGIN = 2
SWAP_FACTOR = 3
# Points whose views all lie within this share of inlier_px of their joint DLT skip the pair
# search: a confident outlier pulls the joint point by a fraction of its offset only, so the
# stricter test keeps one just beyond inlier_px from slipping through as an inlier.
AGREED_SHARE = 0.5
# Hypotheses x cameras x points held at once (each a few float64 triples): about 100 MB.
CHUNK_ELEMENTS = 1_500_000


@dataclass(frozen=True, eq=False)
class RobustPoints:
    """What the consensus kept.

    Attributes:
        xyz: (F, P, J, 3) world points; NaN where fewer than ``min_views`` views agree.
        kept: (C, F, P, J) views each point was triangulated from (all False where missing).
        swapped: (C, F, P) view-frames whose left/right labels were repaired.
        xy: (C, F, P, J, 2) the detections after the repair (what ``kept`` refers to).
        weights: (C, F, P, J) the views' weights after the repair.
    """

    xyz: FloatArray
    kept: BoolArray
    swapped: BoolArray
    xy: FloatArray
    weights: FloatArray


@dataclass(frozen=True)
class _Views:
    """Detections of N points in C cameras, points first, ready for the consensus."""

    u: FloatArray           # (N, C) ideal image coordinates at z = 1; NaN where unusable
    v: FloatArray           # (N, C)
    weights: FloatArray     # (N, C) > 0 where usable
    to_pixels: FloatArray   # (4, N, C) row-major 2x2 per view: ideal-coordinate -> pixel residual

    def __getitem__(self, part: NDArray[np.int64]) -> _Views:
        return _Views(self.u[part], self.v[part], self.weights[part], self.to_pixels[:, part])

    def uv_first_camera(self) -> FloatArray:
        """(C, N, 2) ideal image coordinates, cameras first (as triangulate_points takes)."""
        return np.stack([self.u.T, self.v.T], axis=-1)


@dataclass(frozen=True)
class _Poses:
    """The cameras' poses as arrays."""

    extrinsics: FloatArray  # (C, 3, 4) world to camera
    axes: FloatArray        # (3, 3, C): row-vector points @ axes[i] = every camera's (R @ x)[i]
    centres: FloatArray     # (C, 3) world

    @classmethod
    def of(cls, rig: CameraRig) -> _Poses:
        ext = rig.extrinsics
        return cls(ext, ext[:, :, :3].transpose(1, 2, 0).copy(), rig.centers)


def robust_points(rig: CameraRig, xy: FloatArray, weights: FloatArray,
                  mirror: NDArray[np.int64] | None, *, inlier_px: float, hypothesis_views: int,
                  rounds: int, min_views: int) -> RobustPoints:
    """Consensus triangulation of every joint, with left/right swaps repaired per view-frame.

    Args:
        rig: C cameras in the order of ``xy``.
        xy: (C, F, P, J, 2) detected pixels; NaN where not seen.
        weights: (C, F, P, J) view weights (detector scores), 0 ignores the view.
        mirror: (J,) left/right permutation of the joints; None skips the swap repair.
        inlier_px: largest reprojection error (pixels) of a view that agrees with a point.
        hypothesis_views: pairs among this many best-scored views per point seed the consensus.
        rounds: rounds of (inlier test, weighted DLT) after the best seed, 1 or more.
        min_views: points kept by fewer views are missing.
    Returns:
        RobustPoints; ``swapped`` is all False with fewer than 3 cameras (nothing to outvote).
    """
    settings = {"inlier_px": inlier_px, "hypothesis_views": hypothesis_views,
                "rounds": rounds, "min_views": min_views}
    repair = mirror is not None and len(rig) >= 3
    xyz, kept, others = _consensus(rig, xy, weights, leave_one_out=repair, **settings)
    swapped = np.zeros(xy.shape[:3], bool)                                 # (C, F, P)
    if repair:
        swapped = find_swaps(rig, others, xy, weights, mirror, inlier_px)
    if swapped.any():
        xy, weights = unswap(xy, swapped, mirror), unswap(weights, swapped, mirror)
        redo = swapped.any(axis=0)                                          # (F, P)
        xyz[redo], kept[:, redo], _ = _consensus(rig, xy[:, redo], weights[:, redo],
                                                 leave_one_out=False, **settings)
    return RobustPoints(xyz, kept, swapped, xy, weights)


def unswap(values: FloatArray, swapped: BoolArray, mirror: NDArray[np.int64]) -> FloatArray:
    """(C, F, P, J, ...) per-joint values with the left/right joints of ``swapped`` (C, F, P)
    view-frames exchanged."""
    flip = swapped.reshape(swapped.shape + (1,) * (values.ndim - 3))
    return np.where(flip, values[:, :, :, mirror], values)


def find_swaps(rig: CameraRig, others: FloatArray, xy: FloatArray, weights: FloatArray,
               mirror: NDArray[np.int64], inlier_px: float) -> BoolArray:
    """View-frames whose detections agree with the other views' points far better with left and
    right exchanged.

    Args:
        rig: C cameras in the order of ``xy``.
        others: (C, F, P, J, 3) per camera, the points the other cameras agree on (NaN where
            they do not): a swapped view must not pull the points it is judged against.
        xy: (C, F, P, J, 2) detected pixels; weights (C, F, P, J) > 0 where usable.
        mirror: (J,) left/right permutation of the joints.
        inlier_px: a detection within this many pixels of a point's reprojection agrees.
    Returns:
        (C, F, P) True where more joints agree exchanged than as labelled, by at least
        SWAP_MARGIN joints and SWAP_FACTOR times.
    """
    paired = np.flatnonzero(mirror != np.arange(mirror.size))              # (L,)
    if paired.size == 0:
        return np.zeros(xy.shape[:3], bool)
    proj = np.stack([cam.project(p[..., paired, :]) for cam, p in zip(rig, others)])
    twin = mirror[paired]                                                   # (C, F, P, L, 2)
    usable = (weights[..., paired] > 0) & (weights[..., twin] > 0)
    agree = usable & (np.linalg.norm(proj - xy[..., paired, :], axis=-1) < inlier_px)
    agree_swapped = usable & (np.linalg.norm(proj - xy[..., twin, :], axis=-1) < inlier_px)
    fixed = (agree_swapped & ~agree).sum(-1)                                # (C, F, P)
    broken = (agree & ~agree_swapped).sum(-1)
    return (fixed >= SWAP_MARGIN) & (fixed >= SWAP_FACTOR * broken)


def _consensus(rig: CameraRig, xy: FloatArray, weights: FloatArray, *, leave_one_out: bool,
               inlier_px: float, hypothesis_views: int, rounds: int, min_views: int
               ) -> tuple[FloatArray, BoolArray, FloatArray | None]:
    """Points (..., 3) and kept views (C, ...) for detections xy (C, ..., 2), weights (C, ...);
    with ``leave_one_out``, also (C, ..., 3) per camera the point the other cameras agree on.

    Points whose views all agree with their joint DLT are done at once (most of them); the
    others search the camera pairs."""
    n_cams, batch = xy.shape[0], xy.shape[1:-1]
    poses, views = _Poses.of(rig), _prepare(rig, xy.reshape(n_cams, -1, 2),
                                            weights.reshape(n_cams, -1))
    usable = views.weights > 0                                              # (N, C)
    xyz = triangulate_points(poses.extrinsics, views.uv_first_camera(), views.weights.T)
    agreed = _squared_pixel_errors(poses, xyz, views) < (AGREED_SHARE * inlier_px) ** 2
    done = (agreed == usable).all(axis=1) & (usable.sum(axis=1) >= min_views)
    xyz[~done], kept = np.nan, usable & done[:, None]
    others = np.repeat(xyz[:, None], n_cams, axis=1) if leave_one_out else None   # (N, C, 3)
    pairs = np.array(list(combinations(range(min(hypothesis_views, n_cams)), 2)))  # (K, 2)
    rest = np.flatnonzero(~done) if len(pairs) else np.zeros(0, int)
    step = max(1, CHUNK_ELEMENTS // max(1, len(pairs) * n_cams))
    for start in range(0, rest.size, step):
        part = rest[start:start + step]
        seed, seed_without = _best_pair_points(poses, views[part], pairs, inlier_px,
                                               leave_one_out)
        xyz[part], kept[part] = _refine(poses, views[part], seed, inlier_px, rounds, min_views)
        if others is not None:
            others[part] = seed_without
    return (xyz.reshape(*batch, 3), kept.T.reshape(n_cams, *batch),
            None if others is None else others.swapaxes(0, 1).reshape(n_cams, *batch, 3))


def _prepare(rig: CameraRig, xy: FloatArray, weights: FloatArray) -> _Views:
    """Undistort (C, N, 2) pixels and take each lens's pixel Jacobian at them."""
    uv = rig.undistort(xy)                                                  # (C, N, 2)
    usable = np.isfinite(uv).all(-1) & (weights > 0)
    uv = np.where(usable[..., None], uv, np.nan)
    step = 1e-6                                      # ideal coordinates: 1e-6 of the focal length
    to_pixels = np.empty(uv.shape[:2] + (2, 2))                             # (C, N, 2, 2)
    for c, cam in enumerate(rig):
        for axis in range(2):
            shift = np.zeros(2)
            shift[axis] = step
            slope = (cam.distort(uv[c] + shift) - cam.distort(uv[c] - shift)) / (2 * step)
            to_pixels[c, :, :, axis] = slope @ cam.K[:2, :2].T
    return _Views(uv[..., 0].T.copy(), uv[..., 1].T.copy(), np.where(usable, weights, 0.0).T,
                  to_pixels.transpose(2, 3, 1, 0).reshape(4, uv.shape[1], uv.shape[0]))


def _squared_pixel_errors(poses: _Poses, points: FloatArray, views: _Views) -> FloatArray:
    """Squared reprojection errors (pixels, to first order in the residual) of ``points``
    (N, ..., 3) in every camera: (N, ..., C); NaN where a camera cannot see the point or did
    not see the joint."""
    x, y, z = (points @ axis + t for axis, t in zip(poses.axes, poses.extrinsics[:, :, 3].T))
    depth = np.where(z > 0, z, np.nan)                                      # (N, ..., C)
    extra = (slice(None),) + (None,) * (points.ndim - 2)                    # views over (N, ...)
    rx, ry = x / depth - views.u[extra], y / depth - views.v[extra]
    jac = views.to_pixels[(slice(None),) + extra]                           # (4, N, ..., C)
    px, py = jac[0] * rx + jac[1] * ry, jac[2] * rx + jac[3] * ry
    return px * px + py * py


def _truncated_squares(squared: FloatArray, limit: float) -> FloatArray:
    """Squared errors in units of ``limit`` squared, capped at 1; NaN costs 1."""
    return np.fmin(squared * (1.0 / limit**2), 1.0)                          # fmin: NaN -> 1


def _best_pair_points(poses: _Poses, views: _Views, pairs: NDArray[np.int64],
                      inlier_px: float, leave_one_out: bool
                      ) -> tuple[FloatArray, FloatArray | None]:
    """(N, 3) the point of the camera pair (among each point's best-scored views) whose
    truncated reprojection cost over all the views is lowest (NaN where no pair has a point);
    with ``leave_one_out``, also (N, C, 3) per camera the best of the pairs without it, judged
    by the other views alone."""
    n_points, n_cams = views.weights.shape
    best_first = np.argsort(-views.weights, axis=1, kind="stable")          # (N, C)
    a, b = best_first[:, pairs[:, 0]], best_first[:, pairs[:, 1]]           # (N, K)
    uvh = np.stack([views.u, views.v, np.ones((n_points, n_cams))], axis=-1)
    rays = np.einsum("nci,cij->ncj", uvh, poses.extrinsics[:, :, :3])       # (N, C, 3) world
    ray_a = np.take_along_axis(rays, a[..., None], axis=1)                  # (N, K, 3)
    ray_b = np.take_along_axis(rays, b[..., None], axis=1)
    candidates = _ray_midpoints(poses.centres[a], ray_a, poses.centres[b], ray_b)
    view_cost = views.weights[:, None] * _truncated_squares(
        _squared_pixel_errors(poses, candidates, views), inlier_px)         # (N, K, C)
    cost = view_cost.sum(axis=-1)                                           # (N, K)
    point = np.arange(n_points)
    best = candidates[point, np.argmin(cost, axis=1)]
    if not leave_one_out:
        return best, None
    without = np.full((n_points, n_cams, 3), np.nan)
    for c in range(n_cams):
        cost_c = np.where((a == c) | (b == c), np.inf, cost - view_cost[..., c])
        pick = np.argmin(cost_c, axis=1)
        without[:, c] = np.where(np.isfinite(cost_c[point, pick])[:, None],
                                 candidates[point, pick], np.nan)
    return best, without


def _ray_midpoints(origin_a: FloatArray, ray_a: FloatArray, origin_b: FloatArray,
                   ray_b: FloatArray) -> FloatArray:
    """(..., 3) midpoints of the closest approach of two rays given by origins and directions
    (..., 3); NaN where the rays are parallel or meet behind either origin (or a ray is NaN)."""
    gap = origin_a - origin_b
    aa, bb, ab = (ray_a * ray_a).sum(-1), (ray_b * ray_b).sum(-1), (ray_a * ray_b).sum(-1)
    ag, bg = (ray_a * gap).sum(-1), (ray_b * gap).sum(-1)
    det = aa * bb - ab * ab                            # |a x b|^2: scale free for unit-free rays
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(det > 1e-12 * aa * bb, (ab * bg - bb * ag) / det, np.nan)
        u = (aa * bg - ab * ag) / det
    ahead = (s > 0) & (u > 0)
    mid = 0.5 * (origin_a + s[..., None] * ray_a + origin_b + u[..., None] * ray_b)
    return np.where(ahead[..., None], mid, np.nan)


def _refine(poses: _Poses, views: _Views, seed: FloatArray, inlier_px: float, rounds: int,
            min_views: int) -> tuple[FloatArray, BoolArray]:
    """(N, 3) points and (N, C) kept views: ``rounds`` times, the views within ``inlier_px`` of
    the current point are triangulated together (score-weighted DLT)."""
    point, kept = seed, np.zeros(views.weights.shape, bool)
    uv = views.uv_first_camera()
    for _ in range(rounds):
        kept = _squared_pixel_errors(poses, point, views) < inlier_px**2    # (N, C)
        point = triangulate_points(poses.extrinsics, uv, (views.weights * kept).T)
    enough = (kept.sum(axis=1) >= min_views) & np.isfinite(point).all(-1)
    return np.where(enough[:, None], point, np.nan), kept & enough[:, None]
