"""The one person of a single-subject take, picked per camera and frame among the 2D's slots.

A detector lists everyone it sees (a bystander, a reflection) in an order of its own, so slot p
of one camera is not slot p of another. For a take configured with one person, each camera's
slot in each frame is the one whose joints lie on the epipolar lines of the slots chosen in the
other cameras (the person most cameras agree on): pairwise costs (mean symmetric epipolar distance over the joints both slots saw,
truncated), a start where each slot is judged by its best match in every other camera, then a few
rounds where each camera in turn takes the slot that agrees best with the others' choices.
Several people across cameras (association proper) is issue 19; this is only its one-person case.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from calibration.camera import CameraRig, essential_matrix
from mocap.keypoints import Keypoints2D
from mocap.triangulation import TriangulationConfig

FloatArray = NDArray[np.float64]
# A joint farther than this from its epipolar line (pixels) is another person's as likely as
# this one's: the cost is truncated there so one wrong joint cannot outweigh many right ones.
# Detector noise and calibration offsets of a few tens of pixels stay below it.
EPIPOLAR_CAP_PX = 60.0
# Slots sharing fewer seen joints than this tell nothing about each other (they cost the cap).
MIN_COMMON_JOINTS = 4
ROUNDS = 3                             # rounds of per-camera choice given the others'


def subject_keypoints(rig: CameraRig, kp: Keypoints2D, config: TriangulationConfig
                      ) -> Keypoints2D:
    """``kp`` as the take's settings ask: its one subject where ``people`` is 1, else as given."""
    return kp if config.people is None else select_single_subject(rig, kp, config.min_score)


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


def pair_costs(rig: CameraRig, kp: Keypoints2D, min_score: float) -> FloatArray:
    """(C, C, F, P, P) for each ordered camera pair (c, d), the mean symmetric epipolar distance
    (pixels, truncated at EPIPOLAR_CAP_PX) between slot p of c and slot q of d over the joints
    both saw; EPIPOLAR_CAP_PX where they share fewer than MIN_COMMON_JOINTS (and c == d)."""
    n_cams, n_frames, n_people = kp.xy.shape[:3]
    seen = kp.score >= max(min_score, 1e-12)                                # (C, F, P, J)
    ideal = rig.undistort(np.where(seen[..., None], kp.xy, np.nan))         # (C, F, P, J, 2)
    rays = np.concatenate([ideal, np.ones(ideal.shape[:-1] + (1,))], axis=-1)
    focal = np.array([cam.K[[0, 1], [0, 1]].mean() for cam in rig])
    costs = np.full((n_cams, n_cams, n_frames, n_people, n_people), EPIPOLAR_CAP_PX)
    for c in range(n_cams):
        for d in range(c + 1, n_cams):
            essential = essential_matrix(rig[c], rig[d])
            a, b = rays[c][:, :, None], rays[d][:, None]                    # (F, P, 1, J, 3)
            line_in_d, line_in_c = a @ essential.T, b @ essential           # (F, P, Q, J, 3)
            algebraic = np.abs((line_in_d * b).sum(-1))                     # (F, P, Q, J)
            dist = 0.5 * algebraic * (focal[d] / np.hypot(*line_in_d[..., :2].T).T
                                      + focal[c] / np.hypot(*line_in_c[..., :2].T).T)
            both = np.isfinite(dist)
            total = np.where(both, np.fmin(dist, EPIPOLAR_CAP_PX), 0.0).sum(-1)
            common = both.sum(-1)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(common >= MIN_COMMON_JOINTS, total / common, EPIPOLAR_CAP_PX)
            costs[c, d], costs[d, c] = mean, mean.swapaxes(-1, -2)
    return costs


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
