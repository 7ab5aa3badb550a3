"""Quaternions: matrix round trips over the whole sphere, products, continuity."""

from __future__ import annotations

import numpy as np

from calibration.rotations import rodrigues_to_matrix
from rigs.quaternions import angle_between, conjugate, continuous, from_matrix, multiply, to_matrix


def _random_rotations(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    axes = rng.normal(size=(n, 3))
    angles = rng.uniform(0, np.pi, n)                     # up to half a turn, where w -> 0
    angles[:4] = [0.0, np.pi, np.pi - 1e-9, 1e-9]
    return rodrigues_to_matrix(axes / np.linalg.norm(axes, axis=1, keepdims=True)
                               * angles[:, None])


def test_matrices_round_trip_everywhere():
    for seed in (0, 1):
        R = _random_rotations(2000, seed)
        q = from_matrix(R)
        np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-12)
        np.testing.assert_allclose(to_matrix(q), R, atol=1e-12)
        assert (q[:, 0] >= 0).all()


def test_products_compose_like_matrices():
    a, b = from_matrix(_random_rotations(100, 2)), from_matrix(_random_rotations(100, 3))
    np.testing.assert_allclose(to_matrix(multiply(a, b)), to_matrix(a) @ to_matrix(b),
                               atol=1e-12)
    np.testing.assert_allclose(to_matrix(multiply(a, conjugate(a))), np.broadcast_to(
        np.eye(3), (100, 3, 3)), atol=1e-12)
    np.testing.assert_allclose(angle_between(a, -a), 0.0, atol=1e-6)


def test_continuous_removes_sign_flips_only():
    """A slow spin through a full turn: from_matrix's w >= 0 flips the sign half way; the
    continuous sequence has no neighbour more than one step apart and the same rotations."""
    angles = np.linspace(0, 2 * np.pi, 200)
    q = from_matrix(rodrigues_to_matrix(np.outer(angles, [0.0, 0.0, 1.0])))
    steps = np.linalg.norm(np.diff(q, axis=0), axis=-1)
    assert steps.max() > 1.0                               # the test can fail
    smooth = continuous(q)
    assert np.linalg.norm(np.diff(smooth, axis=0), axis=-1).max() < 0.05
    np.testing.assert_allclose(to_matrix(smooth), to_matrix(q), atol=1e-12)
