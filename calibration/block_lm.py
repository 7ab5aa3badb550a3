"""Levenberg-Marquardt for two-block least squares (cameras x frames) via the Schur complement.

Bundle adjustment has few camera parameters and many frame parameters, and every residual (one
observed corner, 2 values) depends on one camera block and one frame block. The normal equations
are then a small dense camera system once each frame's 6x6 block is eliminated (the Schur
complement), so a step costs a few batched matrix products instead of an iterative sparse solve.
The robust loss is applied per observation (its 2D error norm) by iteratively reweighting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
# (xa (NA, A), xb (NB, B), with_jacobian) -> residuals (M, 2), Ja (M, 2, A), Jb (M, 2, B)
BlockFunction = Callable[[FloatArray, FloatArray, bool],
                         tuple[FloatArray, FloatArray | None, FloatArray | None]]
_CHUNK = 20000
STALL = 1e-6


@dataclass(frozen=True)
class BlockLMResult:
    xa: FloatArray
    xb: FloatArray
    cost: float              # 0.5 * sum of robust losses, as scipy reports it
    n_evaluations: int
    n_iterations: int


def robust_weights(sq: FloatArray, loss: str, f_scale: float) -> tuple[FloatArray, FloatArray]:
    """Loss rho(s) and its derivative (the IRLS weight) of squared errors ``sq`` (M,)."""
    z = sq / f_scale**2
    if loss == "linear":
        return sq, np.ones_like(sq)
    if loss == "soft_l1":
        root = np.sqrt(1 + z)
        return 2 * f_scale**2 * (root - 1), 1 / root
    if loss == "huber":
        inner = z <= 1
        root = np.sqrt(np.where(inner, 1.0, z))
        return (np.where(inner, sq, f_scale**2 * (2 * root - 1)),
                np.where(inner, 1.0, 1 / root))
    if loss == "cauchy":
        return f_scale**2 * np.log1p(z), 1 / (1 + z)
    raise ValueError(f"unknown loss '{loss}'; use linear, soft_l1, huber or cauchy")


def solve_block_lm(fun: BlockFunction, xa: FloatArray, xb: FloatArray,
                   obs_a: NDArray[np.int64], obs_b: NDArray[np.int64],
                   free_a: NDArray[np.bool_], *, loss: str = "soft_l1", f_scale: float = 1.0,
                   prior: tuple[FloatArray, FloatArray] | None = None,
                   max_iterations: int = 100, tol: float = 1e-10) -> BlockLMResult:
    """Minimise sum over observations of rho(|r_m|^2) over camera blocks ``xa`` and frame blocks
    ``xb``.

    Args:
        fun: residuals and block Jacobians of all M observations (in the order below).
        xa: (NA, A) starting camera blocks; xb: (NB, B) starting frame blocks (all free).
        obs_a: (M,) camera block of each observation, sorted increasingly; obs_b: (M,) frame
            block, sorted within each camera block.
        free_a: (NA, A) False for camera parameters held fixed.
        loss, f_scale: robust loss on the squared 2D error and its scale (pixels).
        prior: linear residuals on the camera blocks, ``P @ xa[c] - q[c]`` with P (NA, Q, A)
            and q (NA, Q), added to the cost without the robust loss (e.g. fx - fy = 0).
        tol: stop when a step lowers the cost by less than ``tol`` relative, or moves no
            parameter by more than ``tol`` relative, or five steps together lower it by less
            than STALL relative (a flat valley of inconsistent data).
    Returns:
        BlockLMResult.
    """
    layout = _Layout(obs_a, obs_b, xa.shape[0], xb.shape[0])
    P, q = prior if prior is not None else (np.zeros((xa.shape[0], 0, xa.shape[1])),
                                            np.zeros((xa.shape[0], 0)))
    P = P * free_a[:, None, :]

    def total_cost(r: FloatArray, xa: FloatArray) -> float:
        r_prior = np.einsum("cqa,ca->cq", P, xa) - q
        return 0.5 * (robust_weights((r**2).sum(1), loss, f_scale)[0].sum() + (r_prior**2).sum())

    r, Ja, Jb = fun(xa, xb, True)
    cost = total_cost(r, xa)
    n_eval, lam, it, history = 1, 1e-3, 0, [cost]
    for it in range(1, max_iterations + 1):
        w = robust_weights((r**2).sum(1), loss, f_scale)[1]
        system = layout.normal_equations(Ja * free_a[obs_a][:, None, :], Jb, r, w)
        system[0][:] += np.einsum("cqa,cqb->cab", P, P)                      # Haa
        system[3][:] += np.einsum("cqa,cq->ca", P, np.einsum("cqa,ca->cq", P, xa) - q)   # ga
        improved, done = False, False
        while lam < 1e12:
            da, db = layout.step(system, lam, free_a)
            xa_new, xb_new = xa + da, xb + db
            r_new, _, _ = fun(xa_new, xb_new, False)
            n_eval += 1
            cost_new = total_cost(r_new, xa_new)
            if np.isfinite(cost_new) and cost_new <= cost:
                done = (cost - cost_new <= tol * cost
                        or _small_step(da, xa, tol) and _small_step(db, xb, tol))
                xa, xb, cost, improved = xa_new, xb_new, cost_new, True
                lam = max(lam / 5, 1e-12)
                break
            lam *= 5
        history.append(cost)
        if not improved or done or (it >= 5 and history[-6] - cost <= STALL * cost):
            break
        r, Ja, Jb = fun(xa, xb, True)
        n_eval += 1
    return BlockLMResult(xa, xb, float(cost), n_eval, it)


def _small_step(d: FloatArray, x: FloatArray, tol: float) -> bool:
    return bool(np.all(np.abs(d) <= tol * (np.abs(x) + tol)))


class _Layout:
    """Index bookkeeping: observations sorted by camera block, then frame block, so that each
    camera's observations and each (camera, frame) pair's are contiguous."""

    def __init__(self, obs_a: NDArray[np.int64], obs_b: NDArray[np.int64], na: int,
                 nb: int) -> None:
        key = obs_a * nb + obs_b
        if np.any(np.diff(key) < 0):
            raise ValueError("observations must be sorted by camera block, then frame block")
        self.na, self.nb = na, nb
        self.camera_start = np.searchsorted(obs_a, np.arange(na + 1))          # (NA + 1,)
        self.pair_start = np.flatnonzero(np.r_[True, np.diff(key) != 0])       # (P,)
        self.pair_a, self.pair_b = obs_a[self.pair_start], obs_b[self.pair_start]
        # every (p, q) pair of pairs that share a frame, for the Schur complement
        by_frame = np.argsort(self.pair_b, kind="stable")
        frame_of = self.pair_b[by_frame]
        first = np.searchsorted(frame_of, frame_of, side="left")               # (P,)
        count = np.searchsorted(frame_of, frame_of, side="right") - first
        offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        self.pp = by_frame[np.repeat(np.arange(frame_of.size), count)]
        self.qq = by_frame[np.repeat(first, count) + offset]

    def normal_equations(self, Ja: FloatArray, Jb: FloatArray, r: FloatArray,
                         w: FloatArray) -> tuple[FloatArray, ...]:
        """Blocks of J^T W J and J^T W r: Haa (NA, A, A), Hbb (NB, B, B), Hab (P, A, B),
        ga (NA, A), gb (NB, B)."""
        sw = np.sqrt(w)[:, None, None]
        Ja, Jb, r = Ja * sw, Jb * sw, r * sw[..., 0]
        A, B = Ja.shape[2], Jb.shape[2]
        Haa = np.zeros((self.na, A, A))
        ga = np.zeros((self.na, A))
        for c, (lo, hi) in enumerate(pairwise(self.camera_start)):
            Jc = Ja[lo:hi].reshape(-1, A)
            Haa[c], ga[c] = Jc.T @ Jc, Jc.T @ r[lo:hi].ravel()
        Hab = _segment_outer(Ja, Jb, self.pair_start)
        Hbb = np.zeros((self.nb, B, B))
        np.add.at(Hbb, self.pair_b, _segment_outer(Jb, Jb, self.pair_start))
        gb = np.zeros((self.nb, B))
        np.add.at(gb, self.pair_b, np.add.reduceat((Jb * r[:, :, None]).sum(1),
                                                   self.pair_start))
        return Haa, Hbb, Hab, ga, gb

    def step(self, system: tuple[FloatArray, ...], lam: float,
             free_a: NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
        """The damped Gauss-Newton step (Marquardt scaling) for cameras and frames."""
        Haa, Hbb, Hab, ga, gb = system
        A, B = Haa.shape[1], Hbb.shape[1]
        Daa = Haa + lam * _diag(Haa) + np.eye(A) * ((~free_a)[:, :, None] + 1e-12)
        Dbb = Hbb + lam * _diag(Hbb) + 1e-12 * np.eye(B)
        Dbb_inv = np.linalg.inv(Dbb)                                           # (NB, B, B)
        Y = np.einsum("pij,pjk->pik", Hab, Dbb_inv[self.pair_b])              # (P, A, B)
        S = np.zeros((self.na, self.na, A, A))
        S[np.arange(self.na), np.arange(self.na)] = Daa
        np.add.at(S, (self.pair_a[self.pp], self.pair_a[self.qq]),
                  -np.einsum("tij,tkj->tik", Y[self.pp], Hab[self.qq]))
        rhs = ga.copy()
        np.add.at(rhs, self.pair_a, -np.einsum("pij,pj->pi", Y, gb[self.pair_b]))
        S = S.transpose(0, 2, 1, 3).reshape(self.na * A, self.na * A)
        da = -np.linalg.solve(S, rhs.ravel()).reshape(self.na, A)
        da[~free_a] = 0.0
        back = gb.copy()
        np.add.at(back, self.pair_b, np.einsum("pij,pi->pj", Hab, da[self.pair_a]))
        db = -np.einsum("bij,bj->bi", Dbb_inv, back)
        return da, db


def _diag(H: FloatArray) -> FloatArray:
    """(N, D, D) matrices to (N, D, D) matrices holding only their diagonals."""
    return np.einsum("nii->ni", H)[:, :, None] * np.eye(H.shape[1])


def _segment_outer(X: FloatArray, Y: FloatArray, starts: NDArray[np.int64]) -> FloatArray:
    """Sum over each segment of observations of X_m^T Y_m: X (M, 2, A), Y (M, 2, B), segments
    starting at ``starts`` (S,) -> (S, A, B); computed in chunks to bound memory."""
    m = X.shape[0]
    out = np.empty((starts.size, X.shape[2], Y.shape[2]))
    at = np.minimum(np.searchsorted(starts, np.arange(0, m, _CHUNK)), starts.size - 1)
    cuts = np.unique(np.r_[starts[at], m])
    for lo, hi in pairwise(cuts):
        segs = np.flatnonzero((starts >= lo) & (starts < hi))
        outer = np.swapaxes(X[lo:hi], 1, 2) @ Y[lo:hi]                         # (m, A, B)
        out[segs] = np.add.reduceat(outer, starts[segs] - lo)
    return out
