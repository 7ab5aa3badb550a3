"""The one person of a single-subject take, picked per camera and frame among the 2D's slots.

A detector lists everyone it sees (a bystander, a reflection) in an order of its own, so slot p
of one camera is not slot p of another. For a take configured with one person, each camera's
slot in each frame is the one whose joints lie on the epipolar lines of the slots chosen in the
other cameras (the person most cameras agree on): pairwise costs (mean symmetric epipolar
distance over the joints both slots saw, truncated; :mod:`mocap.view_costs`), a start where each
slot is judged by its best match in every other camera, then a few rounds where each camera in turn takes the slot that agrees best with the others' choices.
Several people are matched and followed by :mod:`mocap.association`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from calibration.camera import CameraRig
from mocap.keypoints import Keypoints2D
from mocap.view_costs import pair_costs

FloatArray = NDArray[np.float64]
ROUNDS = 3                             # rounds of per-camera choice given the others'


def select_single_subject(rig: CameraRig, kp: Keypoints2D, min_score: float) -> Keypoints2D:
    """Keypoints with one person slot per camera and frame: the slot that agrees with the
    other cameras.

    Args:
        rig: calibrated cameras, those of ``kp.cameras`` used.
        kp: xy (C, F, P, J, 2) pixels, score (C, F, P, J).
        min_score: detections scored lower do not count in the agreement.
    Returns:
        Keypoints2D with xy (C, F, 1, J, 2) and score (C, F, 1, J); ``kp`` itself when P is 1.
    """
    if kp.n_people <= 1:
        return kp
    choice = choose_slots(pair_costs(rig.subset(kp.cameras), kp, min_score))   # (C, F)
    take = choice[:, :, None, None]                                         # (C, F, 1, 1)
    xy = np.take_along_axis(kp.xy, take[..., None], axis=2)
    score = np.take_along_axis(kp.score, take, axis=2)
    return Keypoints2D(xy, score, kp.cameras, kp.skeleton, kp.fps)


def choose_slots(costs: FloatArray) -> NDArray[np.int64]:
    """(C, F) the slot of each camera and frame minimising the summed pair costs (C, C, F, P, P)
    to the other cameras' choices (coordinate descent from each slot's best matches)."""
    n_cams = costs.shape[0]
    others = ~np.eye(n_cams, dtype=bool)
    choice = np.stack([costs[c, others[c]].min(-1).sum(0).argmin(-1) for c in range(n_cams)])
    for _ in range(ROUNDS):
        for c in range(n_cams):
            rest = np.flatnonzero(others[c])
            # (D, F, P): each slot of c against each other camera's current choice
            against = np.take_along_axis(costs[c, rest], choice[rest][:, :, None, None], -1)
            choice[c] = against[..., 0].sum(0).argmin(-1)
    return choice
