"""Block Levenberg-Marquardt: the Schur-complement normal equations and step equal the dense
ones, for cameras and frames without observations and fixed camera parameters too."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.block_lm import _Layout

NA, NB, A, B = 4, 9, 5, 3


def random_system(seed: int):
    """A random problem: camera 3 and frame 8 unseen, a few observations per seen pair."""
    rng = np.random.default_rng(seed)
    pairs = [(a, b) for a in range(NA - 1) for b in range(NB - 1) if rng.random() < 0.6]
    counts = rng.integers(1, 5, len(pairs))
    obs_a = np.repeat([a for a, _ in pairs], counts)
    obs_b = np.repeat([b for _, b in pairs], counts)
    m = obs_a.size
    Ja, Jb = rng.normal(size=(m, 2, A)), rng.normal(size=(m, 2, B))
    r, w = rng.normal(size=(m, 2)), rng.uniform(0.2, 1.0, m)
    free_a = rng.random((NA, A)) < 0.8
    return obs_a, obs_b, Ja, Jb, r, w, free_a


def dense_step(obs_a, obs_b, Ja, Jb, r, w, free_a, lam):
    """The damped step from the full (2 M, NA A + NB B) Jacobian, fixed columns zeroed."""
    m = obs_a.size
    J = np.zeros((m, 2, NA * A + NB * B))
    rows = np.arange(m)[:, None]
    J[rows, :, obs_a[:, None] * A + np.arange(A)] = np.swapaxes(Ja * free_a[obs_a][:, None], 1, 2)
    J[rows, :, NA * A + obs_b[:, None] * B + np.arange(B)] = np.swapaxes(Jb, 1, 2)
    J = J.reshape(2 * m, -1) * np.sqrt(np.repeat(w, 2))[:, None]
    H, g = J.T @ J, J.T @ (r.ravel() * np.sqrt(np.repeat(w, 2)))
    extra = np.r_[(~free_a).ravel() + 1e-12, np.full(NB * B, 1e-12)]
    step = -np.linalg.solve(H + np.diag(lam * np.diag(H) + extra), g)
    return step[:NA * A].reshape(NA, A), step[NA * A:].reshape(NB, B), H, g


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("lam", [1e-3, 10.0])
def test_schur_step_equals_the_dense_damped_step(seed, lam):
    obs_a, obs_b, Ja, Jb, r, w, free_a = random_system(seed)
    layout = _Layout(obs_a, obs_b, NA, NB)
    system = layout.normal_equations(Ja, Jb, r, w, free_a)
    da, db = layout.step(system, lam, free_a)
    da_ref, db_ref, H, g = dense_step(obs_a, obs_b, Ja, Jb, r, w, free_a, lam)
    Haa, Hbb, Hab, ga, gb = system
    np.testing.assert_allclose(Hab.reshape(NA * A, NB * B), H[:NA * A, NA * A:], atol=1e-12)
    np.testing.assert_allclose(Hbb[2], H[NA * A + 2 * B:NA * A + 3 * B, NA * A + 2 * B:
                                        NA * A + 3 * B], atol=1e-12)
    np.testing.assert_allclose(Haa[1], H[A:2 * A, A:2 * A], atol=1e-12)
    np.testing.assert_allclose(np.r_[ga.ravel(), gb.ravel()], g, atol=1e-12)
    np.testing.assert_allclose(da, da_ref, rtol=0, atol=1e-9 * np.abs(da_ref).max())
    np.testing.assert_allclose(db, db_ref, rtol=0, atol=1e-9 * np.abs(db_ref).max())
    assert np.all(da[~free_a] == 0) and np.all(da[NA - 1] == 0) and np.all(db[NB - 1] == 0)
    assert np.abs(da).max() > 1e-3                          # the step moves the free ones


def test_unsorted_observations_are_refused():
    with pytest.raises(ValueError, match="sorted"):
        _Layout(np.array([0, 1, 0]), np.array([0, 0, 1]), 2, 2)
