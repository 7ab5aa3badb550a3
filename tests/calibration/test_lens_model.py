"""Which lens terms a camera may keep: k3 never where it makes the lens fold inside its image."""

from __future__ import annotations

import numpy as np

from calibration.camera import Camera
from calibration.lens_model import admissible


def _camera(dist: list[float]) -> Camera:
    K = np.array([[1000.0, 0.0, 640.0], [0.0, 1000.0, 360.0], [0.0, 0.0, 1.0]])
    return Camera("cam", (1280, 720), K, np.array(dist))


def test_k3_that_folds_the_lens_inside_its_image_is_not_admitted():
    """A studio camera (k1 -0.30, k2 -0.03) came back with k2 0 and k3 -0.11 where its board
    never reached the corners: with a 1000 px focal length that lens folds back inside its
    image, 8.5 % of it beyond the fold."""
    folding = _camera([-0.3036, -0.0006, 0.0, 0.0, -0.1112])
    assert folding.fold_in_image() is not None
    assert not admissible(folding, "k3")
    assert admissible(_camera([-0.30, -0.03, 0.0, 0.0, 0.02]), "k3")


def test_other_terms_are_judged_by_the_information_criterion_alone():
    folding = _camera([-0.3036, -0.0006, 0.0, 0.0, -0.1112])
    assert all(admissible(folding, extra) for extra in ("k2", "aspect", "tangential"))
