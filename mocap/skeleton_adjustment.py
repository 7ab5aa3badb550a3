"""Skeleton bundle adjustment over a whole take: joint positions and per-person bone lengths.

The triangulated joints of every frame are refined together by Gauss-Newton (Levenberg-Marquardt
damped) on three kinds of residual, all in pixels so that their weights compare:

- reprojection: each view the triangulation kept, in pixels of the original image (residuals in
  ideal image coordinates mapped through the lens's local Jacobian at the detection, as the
  robust triangulation does), times the square root of the detector score, under a robust loss
  (iteratively reweighted);
- bones: ``bone_weight`` pixels per millimetre of |x_a - x_b| - L_b, with L_b (P, B) unknowns
  shared by all frames of a person;
- smoothness: ``smoothness_weight`` pixels per m/s^2 of each joint's acceleration (second
  differences of its positions over three consecutive triangulated frames).

With ``refine_cameras``, each camera's orientation gets a small correction too (a rotation about
its centre, 3 unknowns per camera), held near zero by a weak prior: a calibration a few pixels
off (the Pose2Sim demo's Qualisys file: two cameras 14-18 px off) then stops bending the
skeleton. The centres stay: with them free, the smoothness and bone terms (both smaller in a
smaller world) would shrink the take, as nothing else in the take knows its scale.

Every residual touches one joint (reprojection, plus its camera's correction), two joints and one
length (bone) or one joint in three frames (smoothness), so the Jacobian is assembled
analytically from batched blocks as a sparse matrix and each step solves the sparse normal
equations.

A joint the triangulation left missing but one camera saw, tied by a rigid bone to a joint
triangulated in the same frame, joins the adjustment with that one view (``single_view``): the
view holds it to a ray, the bone and the smoothness place it along the ray (the Pose2Sim demo's
face, seen by 2 of 4 cameras, one of them often turned away). A joint the lifter placed
(``lifted``: fewer than two cameras triangulated it) joins held by a soft prior at the lifted
position, besides its one view if it has one (the view fixes its ray, the prior its depth).
Other missing joints stay missing.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix, csr_matrix, diags
from scipy.sparse.linalg import LinearOperator, cg, splu

from calibration.block_lm import robust_weights
from calibration.camera import CameraRig
from calibration.rotations import rodrigues_to_matrix, skew
from mocap.errors import ConfigError
from mocap.keypoints import Keypoints2D
from mocap.robust_triangulation import _prepare, unswap
from mocap.single_views import with_single_views
from mocap.triangulation import reprojection_error
from rigs.motion import LIFTED, Motion3D

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
_Rows = tuple[NDArray[np.int64], NDArray[np.int64], FloatArray, int]
LOSSES = ("huber", "cauchy", "linear")
# A keypoint set's "bones" include links that are no bone (nose to shoulder, hip to shoulder
# across a bending spine: 5-15 % length changes in CMU's motion). A link whose length changes
# over the take, beyond what the triangulation's noise explains, by more than this share of its
# length or FLEXIBLE_FLOOR_M (whichever is larger: a short link's spread is mostly noise) is
# left out of the bone term. Rigid bones come out of the triangulation within these.
FLEXIBLE_SHARE = 0.02
FLEXIBLE_FLOOR_M = 0.01
MAD_TO_SIGMA = 1.4826
# A bone's length error beyond this (metres) is a wrong joint more likely than a bent bone: the
# bone term turns robust (the reprojection loss's kind) there and stops dragging the other joint.
BONE_LOSS_M = 0.01
CONVERGED = 1e-4                        # relative change of the cost that ends the iterations
# A rejected step whose quadratic model promised less than this share of the cost ends the
# iterations: near the minimum the robust losses' reweighting outweighs such gains (CMU takes
# with issue 17's errors: the 4th step promises 0.3 % and raises the cost by 0.5 %, and so does
# a retry with 10 times the damping), so retrying only costs another factorisation.
MODEL_GAIN = 1e-2
# An accepted step that lowered the cost by less than this share ends the iterations: near the
# minimum each step gains a fraction of the one before (CMU takes with issue 17's errors: a
# step gaining 3 % is followed by one gaining 0.1 %, which changes no error by 0.1 mm), and
# each further step costs a factorisation (1 s of the 5 s a 1,800-frame take takes).
SETTLED = 0.05
# Steps with more unknowns than this (about 4,000 frames of one person) are solved by
# preconditioned conjugate gradients to this relative residual, in at most CG_STEPS iterations
# (see _solve_step; on 3,000 and 10,000 frames 1.3x and 1.6x faster than the LU and within
# 1e-5 mm of it); fewer, exactly.
DIRECT_UNKNOWNS = 200_000
CG_TOLERANCE, CG_STEPS = 1e-8, 500


@dataclass(frozen=True)
class SkeletonConfig:
    # Run between triangulation and filtering. On: on CMU takes with issue 17's errors it more
    # than halves the triangulation's mean error, before and after filtering (the tests).
    enabled: bool = True
    # Pixels of reprojection error a bone length error of 1 mm weighs as much as. Studio cameras
    # (f about 1000 px, 3-5 m away) see 1 mm as 0.2-0.3 px: 1 px/mm makes a bone's length a few
    # times stiffer than the views of its ends, enough to hold lengths to a few mm per frame.
    bone_weight: float = 1.0
    # Pixels an acceleration of 1 m/s^2 weighs as much as: people's limbs reach tens of m/s^2
    # only briefly, detector noise of 2 px at 4 m is ~10 mm per frame (hundreds of m/s^2 at
    # 60-120 Hz); 0.05 px per m/s^2 damps the latter and barely touches the former.
    smoothness_weight: float = 0.05
    loss: str = "huber"                 # robust loss on each view's 2D error: huber, cauchy, linear
    loss_scale_px: float = 4.0          # where the loss turns robust: 2 sigma of 2 px noise
    # Steps: 3 reach the minimum on CMU takes with issue 17's errors (4 cameras, 60-240 Hz); a
    # few isolated wrong joints (2 agreeing wrong views, no neighbours in time) may keep later
    # steps from lowering the cost, so more buy nothing.
    max_iterations: int = 5
    # Correct each camera's orientation in the same adjustment. Off unless asked for: moving the
    # take and turning every camera to follow is held only by the take's depth spread, so 2 px
    # of 2D noise turns true cameras by ~0.04 degree (CMU takes: mean error 4.5 -> 5.3 mm).
    # The prior's spread: a correction this size costs as much as one view 1 px off. Tighter
    # priors hold true cameras better (0.003 degree: no loss) but leave a camera 0.7-1.5
    # degree off bent (CMU takes: 6.7-29 mm against 5.0 at 1 degree).
    refine_cameras: bool = False
    camera_prior_deg: float = 1.0
    # Place joints one camera saw through their rigid bones (above); their n_views is 1.
    single_view: bool = True
    # Spread (mm) of the prior a lifted joint (mocap.lifting.fallback) is held by: 1 px of
    # reprojection error weighs as much as this far from the lifted position. The lifter is
    # 40-60 mm off on held-out motion (PA-MPJPE), so a view or a rigid bone outweighs it.
    lifted_prior_mm: float = 50.0

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ConfigError(f"skeleton loss must be one of {', '.join(LOSSES)}, got "
                              f"'{self.loss}'")
        for name in ("bone_weight", "smoothness_weight"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"skeleton {name} must be 0 or more, got {getattr(self, name)}")
        if not self.lifted_prior_mm > 0:
            raise ConfigError(f"skeleton lifted_prior_mm must be positive, got "
                              f"{self.lifted_prior_mm}")
        if not self.camera_prior_deg > 0:
            raise ConfigError(f"skeleton camera_prior_deg must be positive, got "
                              f"{self.camera_prior_deg}")
        if not self.loss_scale_px > 0 or self.max_iterations < 1:
            raise ConfigError(f"skeleton loss_scale_px must be positive and max_iterations 1 or "
                              f"more, got {self.loss_scale_px} and {self.max_iterations}")


@dataclass(frozen=True, eq=False)
class SkeletonFit:
    """An adjusted take.

    Attributes:
        motion: xyz (F, P, J, 3) metres adjusted; reprojection_error over the kept views.
        bone_lengths: (P, B) metres, the skeleton's bones; NaN where a bone was never seen.
        covariance: (F, P, J, 3, 3) m^2 per joint: the inverse of its own 3x3 block of the
            normal equations (neighbours held fixed) scaled by the fitted reprojection variance;
            NaN where the joint is missing.
        iterations: Gauss-Newton steps taken.
        rig: the cameras of ``keypoints``, turned by their corrections under ``refine_cameras``.
    """

    motion: Motion3D
    bone_lengths: FloatArray
    covariance: FloatArray
    iterations: int
    rig: CameraRig

    @property
    def uncertainty(self) -> FloatArray:
        """(F, P, J) metres: root mean square of each joint's standard deviations per axis."""
        return np.sqrt(np.trace(self.covariance, axis1=-2, axis2=-1) / 3)


def adjust_skeleton(rig: CameraRig, keypoints: Keypoints2D, motion: Motion3D,
                    views_kept: BoolArray, config: SkeletonConfig = SkeletonConfig(), *,
                    swapped: BoolArray | None = None, min_score: float = 0.3) -> Motion3D:
    """The take's joints after the skeleton adjustment (see :func:`fit_skeleton`)."""
    return fit_skeleton(rig, keypoints, motion, views_kept, config, swapped=swapped,
                        min_score=min_score).motion


def fit_skeleton(rig: CameraRig, keypoints: Keypoints2D, motion: Motion3D,
                 views_kept: BoolArray, config: SkeletonConfig = SkeletonConfig(), *,
                 swapped: BoolArray | None = None, min_score: float = 0.3,
                 lifted: FloatArray | None = None) -> SkeletonFit:
    """Refine every triangulated joint of the take together with its people's bone lengths.

    Args:
        rig: calibrated cameras; those named in ``keypoints.cameras`` are used, in that order.
        keypoints: xy (C, F, P, J, 2) pixels, score (C, F, P, J) the take was triangulated from.
        motion: the triangulation, xyz (F, P, J, 3) metres; NaN joints stay missing.
        views_kept: (C, F, P, J) the views each joint was triangulated from.
        config: weights, robust loss and iterations.
        swapped: (C, F, P) view-frames whose left/right labels the triangulation repaired (its
            ``kept`` refers to the repaired labels); None: none were.
        min_score: detector score from which a single view may place a joint.
        lifted: (F, P, J, 3) lifter positions of joints fewer than two cameras triangulated
            (:func:`mocap.lifting.fallback.lifted_positions`; NaN elsewhere): each such joint
            joins the adjustment held near it by a soft prior (``lifted_prior_mm``), besides
            its one view if it has one, and is marked LIFTED.
    Returns:
        SkeletonFit with the adjusted motion, bone lengths, per-joint covariances and cameras.
    """
    rig = rig.subset(keypoints.cameras)
    xy = keypoints.xy
    if swapped is not None and swapped.any():
        xy = unswap(xy, swapped, keypoints.skeleton.mirror)
    if config.single_view and config.bone_weight > 0:           # the bones place them
        motion, views_kept = with_single_views(rig, xy, keypoints.score >= min_score, motion,
                                               views_kept, ~flexible_links(motion), lifted)
    prior = np.full(motion.xyz.shape, np.nan)
    if lifted is not None:
        held = np.isfinite(lifted).all(-1) & (motion.n_views < 2)               # (F, P, J)
        prior[held] = lifted[held]
        start = held & ~np.isfinite(motion.xyz).all(-1)
        motion = replace(motion, xyz=np.where(start[..., None], lifted, motion.xyz),
                         source=np.where(held, LIFTED, motion.source))
    problem = _Problem.build(rig, xy, np.where(views_kept, keypoints.score, 0.0), motion,
                             config, prior)
    x, iterations, joint_covariance = problem.solve(problem.start(motion.xyz))
    xyz = np.full(motion.xyz.shape, np.nan)
    xyz[problem.present] = x[:problem.n_pos].reshape(-1, 3)
    covariance = np.full(motion.xyz.shape + (3,), np.nan)
    covariance[problem.present] = joint_covariance
    lengths = x[problem.n_pos:problem.n_pos + problem.bone_seen.size]
    lengths = lengths.reshape(motion.n_people, -1)
    lengths[~problem.bone_seen] = np.nan
    rotations, translations = problem.camera_poses(x)
    rig = CameraRig(tuple(cam.replace(R=R, t=t)
                          for cam, R, t in zip(rig, rotations, translations)), dict(rig.extra))
    error = reprojection_error(rig, xyz, xy, views_kept & problem.present)
    adjusted = replace(motion, xyz=xyz, reprojection_error=error)
    return SkeletonFit(adjusted, lengths, covariance, iterations, rig)


@dataclass(frozen=True, eq=False)
class _Problem:
    """The take's residuals as index arrays over the unknowns x = (N joint positions (N, 3)
    flattened, then P * B bone lengths, then with ``refine_cameras`` C camera corrections (C, 3):
    rotation vectors turning each camera about its centre, in its own frame)."""

    config: SkeletonConfig
    present: BoolArray            # (F, P, J) joints that are unknowns
    n_pos: int                    # 3 N
    extrinsics: FloatArray        # (C, 3, 4) world to camera as calibrated
    view_camera: NDArray[np.int64]    # (M,) camera of each kept view
    observed: FloatArray          # (M, 2) ideal image coordinates of the detection
    to_pixels: FloatArray         # (M, 2, 2) ideal-coordinate -> pixel residual
    score: FloatArray             # (M,)
    view_joint: NDArray[np.int64]     # (M,) joint of each view
    bone_ends: NDArray[np.int64]      # (K, 2) joints of each bone residual
    bone_length: NDArray[np.int64]    # (K,) its length's index among the P * B lengths
    bone_seen: BoolArray              # (P, B) lengths with at least one residual
    triples: NDArray[np.int64]        # (S, 3) one joint in three consecutive frames
    accel_scale: float                # px per metre of second difference
    prior_joint: NDArray[np.int64]    # (Q,) joints held by a lifted prior
    prior_xyz: FloatArray             # (Q, 3) where

    @property
    def n_lengths(self) -> int:
        return self.bone_seen.size

    @property
    def n_cam(self) -> int:
        """Unknowns of the camera corrections: 3 per camera, or none."""
        return 3 * len(self.extrinsics) if self.config.refine_cameras else 0

    @property
    def prior(self) -> float:
        """Weight of the camera corrections' prior, per radian."""
        return 1 / np.radians(self.config.camera_prior_deg)

    @classmethod
    def build(cls, rig: CameraRig, xy: FloatArray, weights: FloatArray, motion: Motion3D,
              config: SkeletonConfig, prior: FloatArray) -> _Problem:
        n_cams = len(rig)
        present = np.isfinite(motion.xyz).all(-1)                           # (F, P, J)
        index = np.full(present.shape, -1)
        index[present] = np.arange(int(present.sum()))
        views = _prepare(rig, xy.reshape(n_cams, -1, 2), weights.reshape(n_cams, -1))
        point, cam = np.nonzero((views.weights > 0) & present.reshape(-1)[:, None])
        ext = rig.extrinsics                                                # (C, 3, 4)
        bones = np.asarray(motion.skeleton.bones).reshape(-1, 2)            # (B, 2)
        ends = index[:, :, bones]                                           # (F, P, B, 2)
        bone_ok = (ends >= 0).all(-1) & ~flexible_links(motion)[None]
        length_of = np.broadcast_to(np.arange(ends.shape[1])[:, None] * len(bones)
                                    + np.arange(len(bones)), bone_ok.shape)
        steps = np.stack([index[:-2], index[1:-1], index[2:]], axis=-1)     # (F-2, P, J, 3)
        triples = steps[(steps >= 0).all(-1)]
        return cls(config, present, 3 * int(present.sum()), ext, cam,
                   np.stack([views.u[point, cam], views.v[point, cam]], -1),
                   views.to_pixels[:, point, cam].T.reshape(-1, 2, 2),
                   views.weights[point, cam], index.reshape(-1)[point], ends[bone_ok],
                   length_of[bone_ok], bone_ok.any(axis=0),
                   triples, config.smoothness_weight * motion.fps**2,
                   index[present & np.isfinite(prior).all(-1)],
                   prior[present & np.isfinite(prior).all(-1)])

    def start(self, xyz: FloatArray) -> FloatArray:
        """Triangulated positions and each person's median bone lengths."""
        pos = xyz[self.present]
        lengths = np.zeros(self.bone_seen.size)
        d = np.linalg.norm(pos[self.bone_ends[:, 0]] - pos[self.bone_ends[:, 1]], axis=-1)
        order = np.lexsort((d, self.bone_length))
        counts = np.bincount(self.bone_length, minlength=lengths.size)
        first = np.cumsum(counts) - counts
        seen = counts > 0
        lengths[seen] = d[order][first[seen] + counts[seen] // 2]
        return np.concatenate([pos.reshape(-1), lengths, np.zeros(self.n_cam)])

    def camera_poses(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(C, 3, 3) rotations and (C, 3) translations, world to camera, with the corrections
        w in ``x``: R' = exp(w) R, t' = exp(w) t (the centre stays)."""
        rotations, translations = self.extrinsics[:, :, :3], self.extrinsics[:, :, 3]
        if not self.n_cam:
            return rotations, translations
        turn = rodrigues_to_matrix(x[len(x) - self.n_cam:].reshape(-1, 3))
        return turn @ rotations, np.einsum("cij,cj->ci", turn, translations)

    def reprojection(self, x: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Pixel residuals (M, 2) of the kept views and their derivatives with respect to the
        joint's world position (M, 2, 3) and to its camera's correction (M, 2, 3; to first order
        in the rotation, which stays small)."""
        rotations, translations = self.camera_poses(x)
        rotation = rotations[self.view_camera]
        pos = x[:self.n_pos].reshape(-1, 3)[self.view_joint]
        cam = np.einsum("mij,mj->mi", rotation, pos) + translations[self.view_camera]
        inv_z = 1.0 / cam[:, 2]
        ideal = cam[:, :2] * inv_z[:, None]
        residual = np.einsum("mij,mj->mi", self.to_pixels, ideal - self.observed)
        d_ideal = np.zeros((len(cam), 2, 3))
        d_ideal[:, 0, 0] = d_ideal[:, 1, 1] = inv_z
        d_ideal[:, :, 2] = -ideal * inv_z[:, None]
        d_cam = self.to_pixels @ d_ideal                                    # (M, 2, 3)
        return residual, d_cam @ rotation, -d_cam @ skew(cam)

    def system(self, x: FloatArray) -> tuple[float, csr_matrix, FloatArray, float]:
        """Robust cost, Gauss-Newton matrix J^T W J, gradient J^T W r and the sum of squared
        score-weighted reprojection residuals at ``x``."""
        pos = x[:self.n_pos].reshape(-1, 3)
        lengths = x[self.n_pos:self.n_pos + self.n_lengths]
        r_view, j_view, j_cam = self.reprojection(x)
        squared = (r_view**2).sum(-1)
        rho, irls = robust_weights(squared, self.config.loss, self.config.loss_scale_px)
        sw = np.sqrt(self.score * irls)
        h_view, g_view = self.view_system(j_view * sw[:, None, None], r_view * sw[:, None])
        gap = pos[self.bone_ends[:, 0]] - pos[self.bone_ends[:, 1]]         # (K, 3)
        norm = np.linalg.norm(gap, axis=-1)
        w_bone = 1000.0 * self.config.bone_weight                           # px per metre
        r_bone = w_bone * (norm - lengths[self.bone_length])
        rho_bone, irls_bone = robust_weights(r_bone**2, self.config.loss,
                                             max(w_bone * BONE_LOSS_M, 1e-12))
        w_bone = w_bone * np.sqrt(irls_bone)                                # (K,)
        unit = w_bone[:, None] * gap / norm[:, None]
        jac = _stack_rows([_block_rows(np.stack([unit, -unit], axis=1)[:, :, None],
                                       self.bone_ends,
                                       extra=(self.n_pos + self.bone_length, -w_bone))], len(x))
        smooth = self.smoothness @ x                                        # Js^T Js x = Js^T rs
        w_prior = 1000.0 / self.config.lifted_prior_mm                      # px per metre
        r_prior = w_prior * (pos[self.prior_joint] - self.prior_xyz)        # (Q, 3)
        cost = float((self.score * rho).sum() + rho_bone.sum() + x @ smooth
                     + (r_prior**2).sum())
        gradient = jac.T @ (r_bone * np.sqrt(irls_bone)) + smooth
        gradient[:self.n_pos] += g_view.reshape(-1)
        prior_cols = (3 * self.prior_joint[:, None] + np.arange(3)).reshape(-1)
        gradient[prior_cols] += w_prior * r_prior.reshape(-1)
        hessian = (h_view + jac.T @ jac + self.smoothness
                   + coo_matrix((np.full(prior_cols.size, w_prior**2), (prior_cols, prior_cols)),
                                shape=(len(x), len(x))).tocsr())
        if self.n_cam:
            h_cam, g_cam, prior = self.camera_system(j_view * sw[:, None, None],
                                                     j_cam * sw[:, None, None],
                                                     r_view * sw[:, None], x)
            hessian, cost = hessian + h_cam, cost + prior
            gradient[len(x) - self.n_cam:] += g_cam
        return cost, hessian, gradient, float((self.score * squared).sum())

    def camera_system(self, j_pos: FloatArray, j_cam: FloatArray, residual: FloatArray,
                      x: FloatArray) -> tuple[csr_matrix, FloatArray, float]:
        """The camera corrections' part of J^T W J (their (3C, 3C) block, the prior's diagonal
        and the (3N, 3C) coupling with the joints, both ways), of J^T W r (3C,) and the prior's
        cost, from the weighted derivatives (M, 2, 3), (M, 2, 3) and residuals (M, 2)."""
        n_cams, size = len(self.extrinsics), len(x)
        first = size - self.n_cam
        correction = x[first:].reshape(-1, 3)
        cam_blocks = np.einsum("mdi,mdj->mij", j_cam, j_cam).reshape(len(j_cam), -1)
        summed = np.stack([np.bincount(self.view_camera, weights=entry, minlength=n_cams)
                           for entry in cam_blocks.T], axis=-1).reshape(n_cams, 3, 3)
        summed += np.eye(3) * self.prior**2
        gradient = np.stack([np.bincount(self.view_camera, weights=entry, minlength=n_cams)
                             for entry in np.einsum("mdi,md->im", j_cam, residual)], axis=-1)
        gradient += correction * self.prior**2
        cam_cols = first + 3 * self.view_camera[:, None] + np.arange(3)         # (M, 3)
        pos_rows = 3 * self.view_joint[:, None] + np.arange(3)                  # (M, 3)
        coupling = np.einsum("mdi,mdj->mij", j_pos, j_cam)                       # (M, 3, 3)
        rows = np.broadcast_to(pos_rows[:, :, None], coupling.shape).reshape(-1)
        cols = np.broadcast_to(cam_cols[:, None, :], coupling.shape).reshape(-1)
        block_rows = first + np.repeat(np.arange(self.n_cam).reshape(n_cams, 3), 3, axis=1)
        block_cols = first + np.tile(np.arange(self.n_cam).reshape(n_cams, 3), (1, 3))
        matrix = coo_matrix((np.concatenate([coupling.reshape(-1), coupling.reshape(-1),
                                             summed.reshape(-1)]),
                             (np.concatenate([rows, cols, block_rows.reshape(-1)]),
                              np.concatenate([cols, rows, block_cols.reshape(-1)]))),
                            shape=(size, size)).tocsr()
        prior = float((correction**2).sum() * self.prior**2)
        return matrix, gradient.reshape(-1), prior

    def view_system(self, jac: FloatArray, residual: FloatArray) -> tuple[csr_matrix, FloatArray]:
        """The reprojection part of J^T W J, block diagonal (one 3x3 block per joint), and of
        J^T W r, (N, 3), from the weighted derivatives (M, 2, 3) and residuals (M, 2)."""
        n_joints, size = self.n_pos // 3, self.n_pos + self.n_lengths + self.n_cam
        blocks = np.einsum("mdi,mdj->mij", jac, jac).reshape(-1, 9)
        summed = np.stack([np.bincount(self.view_joint, weights=entry, minlength=n_joints)
                           for entry in blocks.T], axis=-1)                # (N, 9)
        gradient = np.stack([np.bincount(self.view_joint, weights=entry, minlength=n_joints)
                             for entry in np.einsum("mdi,md->im", jac, residual)], axis=-1)
        indptr = np.minimum(np.arange(size + 1) * 3, 3 * self.n_pos)
        indices = np.repeat(np.arange(self.n_pos).reshape(-1, 3), 3, axis=0).reshape(-1)
        return csr_matrix((summed.reshape(-1), indices, indptr), shape=(size, size)), gradient

    @cached_property
    def smoothness(self) -> csr_matrix:
        """The smoothness part of J^T W J: constant, as the accelerations are linear in x."""
        coeff = self.accel_scale * np.array([1.0, -2.0, 1.0])
        jac = _stack_rows([_block_rows(np.broadcast_to(coeff[:, None, None] * np.eye(3),
                                                       (len(self.triples), 3, 3, 3)),
                                       self.triples)],
                          self.n_pos + self.n_lengths + self.n_cam)
        return (jac.T @ jac).tocsr()

    def solve(self, x: FloatArray) -> tuple[FloatArray, int, FloatArray]:
        """Levenberg-Marquardt from ``x``. Returns the solution, the steps taken and (N, 3, 3)
        m^2 per joint: its 3x3 block of J^T W J inverted (neighbours held fixed), times the
        reprojection residuals' variance per degree of freedom."""
        cost, H, g, squared = self.system(x)
        damping, iterations = 1e-3, 0
        while iterations < self.config.max_iterations and x.size:
            iterations += 1
            scale = np.maximum(H.diagonal(), 1e-9)
            step = _solve_step(H + diags(damping * scale), -g, self.n_pos // 3)
            trial = self.system(x + step)
            if abs(cost - trial[0]) < CONVERGED * cost:        # at the minimum, either way
                break
            if trial[0] < cost:
                settled = cost - trial[0] < SETTLED * cost
                x, (cost, H, g, squared), damping = x + step, trial, damping / 3
                if settled:
                    break           # the next step would gain less still: not worth a factor
            elif -(2 * g @ step + step @ (H @ step)) < MODEL_GAIN * cost:
                break               # the model had next to nothing left to gain: the minimum
            else:
                damping *= 10
        dof = max(2 * len(self.score) - self.n_pos, 1)
        return x, iterations, _inverse_blocks(H, self.n_pos // 3) * (squared / dof)


def _solve_step(A: csr_matrix, b: FloatArray, n_joints: int) -> FloatArray:
    """The step solving A x = b for the damped Gauss-Newton matrix ``A``.

    Up to DIRECT_UNKNOWNS unknowns, exactly, by sparse LU in x's own order: frame by frame,
    then the lengths and camera corrections that touch every frame, so the matrix is a band
    (the smoothness spans 3 frames) with a dense border, which the natural order factors with
    no fill outside them (COLAMD's order filled 12x more on 2 people's 240 frames, 3.2 s a step
    against 0.14 s, and was 2x slower on 5,000 frames; a minimum-degree order, 4x slower there).
    Beyond (where the LU is slower, and SuperLU runs out of room at 100,000 frames of one
    person), by conjugate gradients preconditioned with each joint's own 3x3 block: each joint
    is held by its views, the smoothness and bones couple them weakly, so they converge fast.
    """
    if len(b) <= DIRECT_UNKNOWNS:
        return splu(A.tocsc(), permc_spec="NATURAL", diag_pivot_thresh=0.0,
                    options={"SymmetricMode": True}).solve(b)
    blocks = _inverse_blocks(A, n_joints)                                   # (N, 3, 3)
    rest = 1.0 / A.diagonal()[3 * n_joints:]

    def precondition(r: FloatArray) -> FloatArray:
        head = np.einsum("nij,nj->ni", blocks, r[:3 * n_joints].reshape(-1, 3)).reshape(-1)
        return np.concatenate([head, rest * r[3 * n_joints:]])

    step, _ = cg(A, b, rtol=CG_TOLERANCE, maxiter=CG_STEPS,
                 M=LinearOperator(A.shape, precondition))
    return step


def _inverse_blocks(H: csr_matrix, n: int) -> FloatArray:
    """(n, 3, 3) inverses of the first n 3x3 diagonal blocks of ``H``."""
    block = np.empty((n, 3, 3))
    for a in range(3):
        for b in range(3):
            block[:, a, b] = H.diagonal(b - a)[min(a, b):3 * n:3][:n]
    return np.linalg.inv(block)


def flexible_links(motion: Motion3D) -> BoolArray:
    """(P, B) links of the skeleton left out of the bone term: those joining two rigid body parts
    (neck to nose, the spine, shoulder to shoulder: :attr:`Skeleton.anatomy`) and, among links
    whose joints the table of body parts does not know, those the take shows bending.

    Anatomy decides where it can: on real footage a calibration's small errors change every
    limb's triangulated length with where the person stands, so the data alone would call rigid
    bones flexible (the Pose2Sim demo: 22 of its 25 links)."""
    rigid, known = motion.skeleton.anatomy
    return np.where(known, ~rigid, bending_links(motion))


def bending_links(motion: Motion3D) -> BoolArray:
    """(P, B) links of the skeleton whose length changes over the take more than noise explains.

    The spread of each link's length about its median (robust: from the median absolute
    deviation) less the spread white noise gives it (from its second differences, whose
    variance is 6 times the noise's), compared with FLEXIBLE_SHARE of its median length and
    FLEXIBLE_FLOOR_M."""
    lengths = motion.skeleton.bone_lengths(motion.xyz)                     # (F, P, B)
    if len(lengths) < 3 or lengths.shape[-1] == 0:
        return np.zeros(lengths.shape[1:], bool)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)                   # all-NaN links
        median = np.nanmedian(lengths, axis=0)
        total = (MAD_TO_SIGMA * np.nanmedian(np.abs(lengths - median), axis=0)) ** 2
        second = lengths[:-2] - 2 * lengths[1:-1] + lengths[2:]
        noise = (MAD_TO_SIGMA * np.nanmedian(np.abs(second - np.nanmedian(second, axis=0)),
                                             axis=0)) ** 2 / 6
        slow = np.sqrt(np.fmax(total - noise, 0.0))
        return slow > np.fmax(FLEXIBLE_SHARE * median, FLEXIBLE_FLOOR_M)


def _block_rows(jac: FloatArray, joints: NDArray[np.int64],
                extra: tuple[NDArray[np.int64], FloatArray] | None = None) -> _Rows:
    """Residual rows from (R, K, D, 3) derivatives: R residuals of D values each, every one
    depending on the K joints ``joints`` (R, K) (and, with ``extra``, on one more unknown per
    residual with the given derivative): row, column and value of every entry, rows from 0,
    and the number of rows."""
    n_res, dim = jac.shape[0], jac.shape[2]
    rows = np.broadcast_to(np.arange(n_res * dim).reshape(n_res, 1, dim, 1), jac.shape)
    cols = np.broadcast_to(3 * joints[:, :, None, None] + np.arange(3), jac.shape)
    rows, cols, vals = rows.reshape(-1), cols.reshape(-1), jac.reshape(-1)
    if extra is not None:
        rows = np.concatenate([rows, np.arange(n_res)])
        cols = np.concatenate([cols, extra[0]])
        vals = np.concatenate([vals, np.broadcast_to(extra[1], n_res)])
    return rows, cols, vals, n_res * dim


def _stack_rows(blocks: list[_Rows], n_cols: int) -> csr_matrix:
    """One sparse Jacobian from the row blocks of :func:`_block_rows`, in order."""
    offset, parts = 0, []
    for rows, cols, vals, n_rows in blocks:
        parts.append((rows + offset, cols, vals))
        offset += n_rows
    rows, cols, vals = (np.concatenate(p) for p in zip(*parts))
    return coo_matrix((vals, (rows, cols)), shape=(offset, n_cols)).tocsr()
