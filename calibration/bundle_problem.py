"""One bundle adjustment problem: the observed corners laid out flat (``Observations``),
parameter packing, batched projection, analytic Jacobian, and its minimisation by the
Schur-complement Levenberg-Marquardt or scipy's ``least_squares``.

The parameters are every camera's pose (Rodrigues rvec, t; world to camera), every frame's board
pose (rvec, t; board to world) and per camera its intrinsics (fx, fy, cx, cy and five OpenCV or
four fisheye distortion coefficients), each free or held (``BundleProblem.free``). A camera's skew
K[0, 1] is carried as given, never a parameter. ``calibration.bundle`` drives it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares
from scipy.sparse import csr_matrix

from calibration.block_lm import solve_block_lm
from calibration.camera import Camera
from calibration.detections import BoardDetections
from calibration.errors import SolverError
from calibration.extrinsics import BoardPoses
from calibration.projection_jacobian import (
    distort_with_jacobian,
    intrinsics_jacobian,
    point_jacobian,
    pose_pair_jacobian,
)
from calibration.rotations import left_jacobian, matrix_to_rodrigues, rodrigues_to_matrix

FloatArray = NDArray[np.float64]

PINHOLE_PARAMS = ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3")
FISHEYE_PARAMS = ("fx", "fy", "cx", "cy", "k1", "k2", "k3", "k4", "")
_N_INTR = 9
_OBS_COLS = 6 + 6 + _N_INTR            # parameters one observation depends on
_CAMERA_COLS = np.r_[0:6, 12:_OBS_COLS]  # camera pose and intrinsics among those
TIE_WEIGHT = 100.0                       # cost of fx - fy per pixel, for square pixels
MIN_DEPTH = 1e-6                         # metres: a corner nearer (or behind) is not seen


@dataclass(frozen=True)
class Observations:
    """Every observed corner, flat: M observations.

    Attributes:
        camera: (M,) camera index.
        frame: (M,) index into the board poses (not the frame number).
        corner: (M,) corner id (row of the board's object points).
        xy: (M, 2) observed pixels.
    """

    camera: NDArray[np.int64]
    frame: NDArray[np.int64]
    corner: NDArray[np.int64]
    xy: NDArray[np.float64]

    def select(self, keep: NDArray[np.bool_]) -> Observations:
        return Observations(self.camera[keep], self.frame[keep], self.corner[keep], self.xy[keep])


def seen_corners(det: BoardDetections, frames: NDArray[np.int64]
                 ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(view, corner) indices (M,) of the corners ``det`` saw in ``frames``, in the order
    :func:`observations` lays them out."""
    view, corner = np.nonzero(np.isfinite(det.xy[..., 0]) & np.isin(det.frames, frames)[:, None])
    return view, corner


def observations(detections: Sequence[BoardDetections], frames: NDArray[np.int64]
                 ) -> Observations:
    """Flatten the seen corners of C cameras' detections whose frame is in ``frames`` (F,)."""
    parts = []
    for c, det in enumerate(detections):
        view, corner = seen_corners(det, frames)
        frame = np.searchsorted(frames, det.frames[view])
        parts.append((np.full(view.size, c), frame, corner, det.xy[view, corner]))
    cam, frame, corner, xy = (np.concatenate(p) for p in zip(*parts))
    return Observations(cam.astype(np.int64), frame.astype(np.int64), corner.astype(np.int64),
                        xy.reshape(-1, 2))


class SolverRun(NamedTuple):
    """One minimisation: free values, robust cost, evaluations, iterations, whether it stopped
    at its tolerances and why it stopped."""

    x: FloatArray
    cost: float
    n_evaluations: int
    n_iterations: int
    converged: bool
    reason: str


class BundleProblem:
    """Parameter packing, residuals and Jacobian of one bundle adjustment."""

    def __init__(self, cameras: Sequence[Camera], board: BoardPoses, obs: Observations,
                 object_points: FloatArray, refine: bool | Sequence[bool],
                 fixed_names: Collection[str] | Sequence[Collection[str]],
                 fixed_camera: int | None,
                 square: bool | Sequence[bool] = False) -> None:
        if np.any(np.diff(obs.camera) < 0):
            raise SolverError("bundle adjustment: observations must be sorted by camera")
        self.cameras, self.board, self.obs, self.obj = list(cameras), board, obs, object_points
        _check_intrinsic_matrices(cameras)
        n_cam, n_frame = len(cameras), board.frames.size
        self.fisheye = np.array([c.fisheye for c in cameras])
        self.skew = np.array([c.K[0, 1] for c in cameras])                          # (C,) held
        cam_pose = np.array([np.r_[c.rvec, c.t] for c in cameras])                 # (C, 6)
        board_pose = np.hstack([matrix_to_rodrigues(board.R), board.t])                           # (F, 6)
        intr = np.array([_intrinsics_vector(c) for c in cameras])                   # (C, 9)
        self.full = np.concatenate([cam_pose.ravel(), board_pose.ravel(), intr.ravel()])
        self.free = _free_mask(n_cam, n_frame, self.fisheye, refine, fixed_names, fixed_camera,
                               np.unique(obs.frame))
        self.column = np.full(self.full.size, -1)
        self.column[self.free] = np.arange(self.free.sum())
        self.x0 = self.full[self.free].copy()
        self.n_cam, self.n_frame = n_cam, n_frame
        fx_col = self.column[6 * n_cam + 6 * n_frame + _N_INTR * np.arange(n_cam)]    # (C,)
        fy_col = self.column[6 * n_cam + 6 * n_frame + _N_INTR * np.arange(n_cam) + 1]
        tied = np.broadcast_to(np.asarray(square, bool), (n_cam,)) & (fx_col >= 0) & (fy_col >= 0)
        self.tie = np.flatnonzero(tied)                  # cameras held at fx = fy
        self.tie_cols = np.stack([fx_col[tied], fy_col[tied]], axis=1)               # (T, 2)
        self._pattern = self._sparsity_pattern()

    # --- packing ----------------------------------------------------------------------
    def params(self, x: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Camera poses (C, 6), board poses (F, 6), intrinsics (C, 9) for free values ``x``."""
        full = self.full.copy()
        full[self.free] = x
        c6, f6 = 6 * self.n_cam, 6 * self.n_frame
        return (full[:c6].reshape(-1, 6), full[c6:c6 + f6].reshape(-1, 6),
                full[c6 + f6:].reshape(-1, _N_INTR))

    def unpack(self, x: FloatArray) -> tuple[list[Camera], BoardPoses]:
        cam_pose, board_pose, intr = self.params(x)
        cams = []
        for c, pose, k, skew in zip(self.cameras, cam_pose, intr, self.skew):
            K = np.array([[k[0], skew, k[2]], [0.0, k[1], k[3]], [0.0, 0.0, 1.0]])
            dist = k[4:8] if c.fisheye else k[4:9]
            cams.append(Camera.from_rvec(c.name, c.size, K, dist, pose[:3], pose[3:],
                                         fisheye=c.fisheye, extra=dict(c.extra)))
        poses = BoardPoses(self.board.frames, rodrigues_to_matrix(board_pose[:, :3]),
                           board_pose[:, 3:].copy())
        return cams, poses

    def restricted(self, keep: NDArray[np.bool_]) -> BundleProblem:
        """The same problem over a subset of the observations (same parameters)."""
        if keep.all():
            return self
        sub = object.__new__(BundleProblem)
        sub.__dict__.update(self.__dict__)
        sub.obs = self.obs.select(keep)
        sub._pattern = sub._sparsity_pattern()
        return sub

    # --- model --------------------------------------------------------------------------
    def project(self, x: FloatArray, with_jacobian: bool = False
                ) -> tuple[FloatArray, FloatArray | None]:
        """(M, 2) projected pixels and, if asked, (M, 2, 21) derivatives with respect to the
        observation's camera pose (6), board pose (6) and camera intrinsics (9)."""
        return self.project_blocks(*self.params(x), with_jacobian)

    def project_blocks(self, cam_pose: FloatArray, board_pose: FloatArray, intr: FloatArray,
                       with_jacobian: bool = False) -> tuple[FloatArray, FloatArray | None]:
        """:meth:`project` from camera poses (C, 6), board poses (F, 6), intrinsics (C, 9).
        Runs over one camera's observations at a time, in chunks (:meth:`by_camera`): its
        rotation is then one matrix product and the temporary arrays stay small. A corner at or
        behind its camera (depth <= MIN_DEPTH) projects to inf (its derivatives to 0)."""
        o, n_corners = self.obs, self.obj.shape[0]
        Rc, Rb = rodrigues_to_matrix(cam_pose[:, :3]), rodrigues_to_matrix(board_pose[:, :3])
        corners = (self.obj @ Rb.transpose(0, 2, 1)).reshape(-1, 3)               # (F K, 3) Rb X
        Jl_c, Jl_b = left_jacobian(cam_pose[:, :3]), left_jacobian(board_pose[:, :3])
        uv = np.empty((o.camera.size, 2))
        J = np.empty((o.camera.size, 2, _OBS_COLS)) if with_jacobian else None
        for c, idx in self.by_camera():
            frame = o.frame[idx]
            Xb = np.take(corners, frame * n_corners + o.corner[idx], axis=0)       # (m, 3)
            W = (Xb + board_pose[frame, 3:]) @ Rc[c].T                             # (m, 3) Rc Y
            Z = W + cam_pose[c, 3:]                                                # (m, 3) camera
            behind = Z[:, 2] <= MIN_DEPTH                                          # (m,)
            z = np.where(behind, 1.0, Z[:, 2]) if behind.any() else Z[:, 2]
            xy = Z[:, :2] / z[:, None]                                             # (m, 2)
            k = np.broadcast_to(intr[c], (xy.shape[0], _N_INTR))                   # (m, 9)
            xd, D, Dk = distort_with_jacobian(xy, k[:, 4:], np.full(xy.shape[0], self.fisheye[c]),
                                              with_jacobian)
            uv[idx] = xd * k[:, :2] + k[:, 2:4]
            if self.skew[c]:
                uv[idx, 0] += self.skew[c] * xd[:, 1]
            uv[idx][behind] = np.inf                                # uv[idx] is a view
            if J is not None and D is not None and Dk is not None:
                A = point_jacobian(D, xy, k[:, :2], z, self.skew[c])               # (m, 2, 3)
                np.concatenate([*pose_pair_jacobian(A, W, Rc[c], Jl_c[c], Xb, Jl_b[frame]),
                                intrinsics_jacobian(xd, k[:, :2], Dk, self.skew[c])], axis=2,
                               out=J[idx])
                J[idx][behind] = 0.0
        return uv, J

    def by_camera(self, chunk: int = 4096) -> list[tuple[int, slice]]:
        """(camera, slice of its observations) in chunks of at most ``chunk`` observations
        (they are sorted by camera)."""
        bounds = np.searchsorted(self.obs.camera, np.arange(self.n_cam + 1))
        return [(c, slice(start, min(start + chunk, hi)))
                for c, (lo, hi) in enumerate(pairwise(bounds)) for start in range(lo, hi, chunk)]

    def residuals(self, x: FloatArray) -> FloatArray:
        """(2 M + T,) pixel errors, then the square-pixel ties ``TIE_WEIGHT * (fx - fy)``."""
        uv, _ = self.project(x)
        tie = TIE_WEIGHT * (x[self.tie_cols[:, 0]] - x[self.tie_cols[:, 1]])
        return np.concatenate([(uv - self.obs.xy).ravel(), tie])

    def residual_norms(self, x: FloatArray) -> FloatArray:
        uv, _ = self.project(x)
        return np.linalg.norm(uv - self.obs.xy, axis=1)

    def jacobian(self, x: FloatArray) -> csr_matrix:
        _, J = self.project(x, with_jacobian=True)
        assert J is not None                            # asked for; not user input
        rows, cols, valid = self._pattern
        tie = np.tile([TIE_WEIGHT, -TIE_WEIGHT], self.tie.size)
        return csr_matrix((np.r_[J[valid], tie], (rows, cols)),
                          shape=(2 * self.obs.camera.size + self.tie.size, self.x0.size))

    def _sparsity_pattern(self) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
        """Rows, columns (of the free parameters) and (M, 2, 21) mask of the Jacobian's entries."""
        o, c6, f6 = self.obs, 6 * self.n_cam, 6 * self.n_frame
        full_col = np.concatenate([6 * o.camera[:, None] + np.arange(6),
                                   c6 + 6 * o.frame[:, None] + np.arange(6),
                                   c6 + f6 + _N_INTR * o.camera[:, None] + np.arange(_N_INTR)],
                                  axis=1)                                        # (M, 21)
        col = self.column[full_col]
        valid = np.broadcast_to((col >= 0)[:, None, :], (o.camera.size, 2, _OBS_COLS))
        rows = np.broadcast_to((2 * np.arange(o.camera.size)[:, None, None]
                                + np.arange(2)[None, :, None]), valid.shape)
        tie_rows = 2 * o.camera.size + np.repeat(np.arange(self.tie.size), 2)
        return (np.r_[rows[valid], tie_rows],
                np.r_[np.broadcast_to(col[:, None, :], valid.shape)[valid],
                      self.tie_cols.ravel()], valid)

    def sparsity(self) -> csr_matrix:
        """The Jacobian's structure as a sparse 0/1 matrix (for finite differences)."""
        rows, cols, _ = self._pattern
        return csr_matrix((np.ones(rows.size), (rows, cols)),
                          shape=(2 * self.obs.camera.size + self.tie.size, self.x0.size))

    def solve(self, x0: FloatArray, loss: str, f_scale: float, solver: str,
              max_nfev: int | None) -> SolverRun:
        """Minimise from ``x0``: ``solver`` "schur" (block LM), "scipy" (least_squares, analytic
        sparse Jacobian) or "scipy-numeric" (least_squares, finite differences over
        ``jac_sparsity``)."""
        if solver == "schur":
            return self._solve_schur(x0, loss, f_scale, max_nfev)
        if solver not in ("scipy", "scipy-numeric"):
            raise SolverError(f"unknown bundle adjustment solver '{solver}'; use schur, scipy "
                              "or scipy-numeric")
        kwargs = ({"jac": self.jacobian} if solver == "scipy"
                  else {"jac": "2-point", "jac_sparsity": self.sparsity()})
        try:
            res = least_squares(self.residuals, x0, method="trf", loss=loss, f_scale=f_scale,
                                x_scale="jac", tr_solver="lsmr", ftol=1e-10, xtol=1e-10,
                                gtol=1e-10, max_nfev=max_nfev, **kwargs)
        except (ValueError, np.linalg.LinAlgError) as e:
            raise SolverError(f"bundle adjustment failed: {e}") from e
        iterations = int(res.njev) if res.njev is not None else int(res.nfev)
        return SolverRun(res.x, float(res.cost), int(res.nfev), iterations, res.status > 0,
                    str(res.message) if res.status > 0
                    else f"stopped at max_iterations={max_nfev} evaluations before converging")

    def _solve_schur(self, x0: FloatArray, loss: str, f_scale: float,
                     max_nfev: int | None) -> SolverRun:
        cam_pose, board_pose, intr = self.params(x0)
        c6, f6 = 6 * self.n_cam, 6 * self.n_frame
        free_a = np.hstack([self.free[:c6].reshape(-1, 6),
                            self.free[c6 + f6:].reshape(-1, _N_INTR)])           # (C, 15)

        def fun(xa: FloatArray, xb: FloatArray, jac: bool
                ) -> tuple[FloatArray, FloatArray | None, FloatArray | None]:
            uv, J = self.project_blocks(xa[:, :6], xb, xa[:, 6:], jac)
            if J is None:
                return uv - self.obs.xy, None, None
            return uv - self.obs.xy, J[:, :, _CAMERA_COLS], J[:, :, 6:12]

        P = np.zeros((self.n_cam, 1, 6 + _N_INTR))
        P[self.tie, 0, 6], P[self.tie, 0, 7] = TIE_WEIGHT, -TIE_WEIGHT
        try:
            res = solve_block_lm(fun, np.hstack([cam_pose, intr]), board_pose, self.obs.camera,
                                 self.obs.frame, free_a, loss=loss, f_scale=f_scale,
                                 prior=(P, np.zeros((self.n_cam, 1))),
                                 max_iterations=max_nfev or 100)
        except (ValueError, np.linalg.LinAlgError) as e:
            raise SolverError(f"bundle adjustment failed: {e}") from e
        full = np.concatenate([res.xa[:, :6].ravel(), res.xb.ravel(), res.xa[:, 6:].ravel()])
        return SolverRun(full[self.free], res.cost, res.n_evaluations, res.n_iterations,
                    res.converged, res.reason)


# --- parameterisation --------------------------------------------------------------------
def _check_intrinsic_matrices(cameras: Sequence[Camera]) -> None:
    """SolverError for a K the parameters cannot hold (they would rebuild it otherwise)."""
    K = np.array([c.K for c in cameras])                                         # (C, 3, 3)
    odd = np.flatnonzero((K[:, [1, 2, 2], [0, 0, 1]] != 0).any(axis=1) | (K[:, 2, 2] != 1))
    if odd.size:
        raise SolverError(f"camera {cameras[odd[0]].name}: K must be [[fx, s, cx], [0, fy, cy], "
                          f"[0, 0, 1]], got {K[odd[0]].tolist()}; fix the intrinsics given")


def _intrinsics_vector(camera: Camera) -> FloatArray:
    K, d = camera.K, camera.dist
    out = np.zeros(_N_INTR)
    out[:4] = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    out[4:4 + d.size] = d
    return out


def _free_mask(n_cam: int, n_frame: int, fisheye: NDArray[np.bool_],
               refine: bool | Sequence[bool],
               fixed_names: Collection[str] | Sequence[Collection[str]],
               fixed_camera: int | None, used_frames: NDArray[np.int64]) -> NDArray[np.bool_]:
    cam = np.ones((n_cam, 6), bool)
    if fixed_camera is not None:
        cam[fixed_camera] = False
    frame = np.zeros((n_frame, 6), bool)
    frame[used_frames] = True
    per_cam = np.broadcast_to(np.asarray(refine, bool), (n_cam,))
    names = list(fixed_names)
    fixed = (names if names and not isinstance(names[0], str) else [names] * n_cam)
    if len(fixed) != n_cam:
        raise SolverError(f"fixed_intrinsics has {len(fixed)} entries for {n_cam} cameras")
    unknown: set[str] = set().union(*map(set, fixed)) - set(PINHOLE_PARAMS) - set(FISHEYE_PARAMS)
    if unknown:
        raise SolverError(f"unknown intrinsic parameter(s) {sorted(unknown)}; known: "
                          f"{', '.join(PINHOLE_PARAMS)}, k4")
    intr = np.zeros((n_cam, _N_INTR), bool)
    for c in range(n_cam):
        params = FISHEYE_PARAMS if fisheye[c] else PINHOLE_PARAMS
        intr[c] = per_cam[c] & np.array([bool(n) and n not in fixed[c] for n in params])
    return np.concatenate([cam.ravel(), frame.ravel(), intr.ravel()])
