"""Rotation conversions against OpenCV and against their definitions, on exact data."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from calibration.rotations import (
    left_jacobian,
    matrix_to_rodrigues,
    rodrigues_to_matrix,
    rot_x,
    rot_y,
    rot_z,
    skew,
)


@pytest.fixture
def rvecs() -> np.ndarray:
    """(5, 4, 3) rotation vectors: random ones, a zero one and ones of angle near pi."""
    rng = np.random.default_rng(3)
    r = rng.normal(size=(5, 4, 3))
    r[0, 0] = 0.0
    r[1, 1] = [np.pi, 0.0, 0.0]
    r[2, 2] = np.array([1.0, 2.0, -0.5]) / np.linalg.norm([1.0, 2.0, -0.5]) * (np.pi - 1e-9)
    return r


def test_rodrigues_matches_opencv_both_ways(rvecs):
    R = rodrigues_to_matrix(rvecs)                                           # (5, 4, 3, 3)
    for r, m in zip(rvecs.reshape(-1, 3), R.reshape(-1, 3, 3)):
        np.testing.assert_allclose(m, cv2.Rodrigues(r)[0], atol=1e-14)
        np.testing.assert_allclose(rodrigues_to_matrix(matrix_to_rodrigues(m)), m, atol=1e-9)
    assert matrix_to_rodrigues(R).shape == (5, 4, 3)


def test_matrix_to_rodrigues_angles_lie_in_zero_to_pi(rvecs):
    angles = np.linalg.norm(matrix_to_rodrigues(rodrigues_to_matrix(rvecs)), axis=-1)
    assert (angles >= 0).all() and (angles <= np.pi + 1e-12).all()


def test_skew_is_the_cross_product():
    rng = np.random.default_rng(1)
    v, p = rng.normal(size=(7, 3)), rng.normal(size=(7, 3))
    np.testing.assert_allclose(np.einsum("nij,nj->ni", skew(v), p), np.cross(v, p), atol=1e-15)


def test_left_jacobian_is_the_derivative_of_the_rotation(rvecs):
    """d(R(r) p)/dr = -[R(r) p]_x J(r), checked by central differences."""
    p, eps = np.array([0.3, -1.2, 0.7]), 1e-6
    for r in rvecs.reshape(-1, 3)[:8]:
        numeric = np.stack([(rodrigues_to_matrix(r + eps * e) @ p
                             - rodrigues_to_matrix(r - eps * e) @ p) / (2 * eps)
                            for e in np.eye(3)], axis=1)
        analytic = -skew(rodrigues_to_matrix(r) @ p) @ left_jacobian(r)
        np.testing.assert_allclose(analytic, numeric, atol=1e-8)


@pytest.mark.parametrize("about, axis", [(rot_x, 0), (rot_y, 1), (rot_z, 2)])
def test_axis_rotations_are_rodrigues_about_that_axis(about, axis):
    angles = np.linspace(-3.0, 3.0, 7)
    np.testing.assert_allclose(about(angles),
                               rodrigues_to_matrix(np.eye(3)[axis] * angles[:, None]),
                               atol=1e-14)
