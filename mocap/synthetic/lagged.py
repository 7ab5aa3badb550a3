"""Takes whose cameras run early or late: a CMU clip read at 120 Hz, every 4th sample a 30 fps
frame, each camera seeing the motion its own number of frames late (a quarter frame is one
120 Hz sample, so quarter-frame lags are exact), with ground truth and the synchronized 2D."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from calibration.camera import CameraRig
from mocap.keypoints import Keypoints2D
from mocap.synthetic.observe import DetectorErrors, observe
from mocap.synthetic.real_motion import motion_from_bvh
from mocap.synthetic.studio import studio_rig
from rigs.motion import Motion3D

SOURCE_FPS = 120.0
RATE = 4                     # 120 Hz samples per 30 fps take frame
MARGIN = 24                  # 120 Hz samples kept on each side: room for 6 frames of lag


@dataclass(frozen=True, eq=False)
class LaggedTake:
    rig: CameraRig
    truth: Motion3D          # (F, 1, J, 3) at 30 fps, on the reference clock
    synced: Keypoints2D      # every camera on the reference clock
    lagged: Keypoints2D      # camera c seeing the motion ``lags[c]`` frames late
    lags: NDArray[np.float64]


def lagged_take(bvh: str | Path, n_cameras: int, seed: int, lags: NDArray[np.float64],
                errors: DetectorErrors, keypoint_set: str = "coco17") -> LaggedTake:
    """A 30 fps take of ``bvh`` seen by ``studio_rig(n_cameras, seed)`` with ``errors`` drawn
    alike in the synchronized and the lagged 2D (``lags`` (C,) frames, multiples of 0.25, at
    most MARGIN / RATE = 6 either way)."""
    lags = np.asarray(lags, dtype=float)
    full = motion_from_bvh(bvh, keypoint_set, fps=SOURCE_FPS)
    n_frames = (len(full.xyz) - 2 * MARGIN) // RATE
    rig = studio_rig(n_cameras, seed=seed)

    def seen(lag: float) -> Keypoints2D:
        index = MARGIN + RATE * np.arange(n_frames) - round(RATE * lag)
        return observe(rig, Motion3D(xyz=full.xyz[index], skeleton=full.skeleton,
                                     fps=SOURCE_FPS / RATE), errors, seed=seed)

    views = {lag: seen(lag) for lag in {0.0, *lags.tolist()}}
    synced = views[0.0]
    lagged = Keypoints2D(np.stack([views[lag].xy[c] for c, lag in enumerate(lags.tolist())]),
                         np.stack([views[lag].score[c] for c, lag in enumerate(lags.tolist())]),
                         synced.cameras, synced.skeleton, synced.fps)
    truth = Motion3D(xyz=full.xyz[MARGIN::RATE][:n_frames], skeleton=full.skeleton,
                     fps=SOURCE_FPS / RATE)
    return LaggedTake(rig, truth, synced, lagged, lags)
