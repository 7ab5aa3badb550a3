"""Keypoints2D: 2D keypoints of every camera, frame, person and joint."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mocap.errors import InputError
from rigs.skeleton import Skeleton


@dataclass(frozen=True, eq=False)
class CameraKeypoints:
    """One camera's 2D detections over a take (what a detector or an importer gives).

    Attributes:
        xy: (F, P, J, 2) pixels in the original video's frame; NaN where not seen.
        score: (F, P, J) confidence in [0, 1]; 0 where not seen.
        track_id: (F, P) the person slot's identity within this camera (-1: empty slot).
        skeleton: the keypoint set of the J joints.
        fps: frames per second, or None where the source does not say.
    """

    xy: NDArray[np.float64]
    score: NDArray[np.float64]
    track_id: NDArray[np.int64]
    skeleton: Skeleton
    fps: float | None = None

    def __post_init__(self) -> None:
        xy = np.asarray(self.xy, dtype=float)
        score = np.asarray(self.score, dtype=float)
        track = np.asarray(self.track_id, dtype=np.int64)
        if xy.ndim != 4 or xy.shape[2:] != (len(self.skeleton), 2) or score.shape != xy.shape[:3] \
                or track.shape != xy.shape[:2]:
            raise InputError(f"camera keypoints must be xy (F, P, J={len(self.skeleton)}, 2), "
                             f"score (F, P, J) and track_id (F, P); got {xy.shape}, "
                             f"{score.shape} and {track.shape}")
        seen = np.isfinite(xy).all(-1) & (np.nan_to_num(score) > 0)
        object.__setattr__(self, "xy", np.where(seen[..., None], xy, np.nan))
        object.__setattr__(self, "score", np.where(seen, score, 0.0))
        object.__setattr__(self, "track_id", track)

    @property
    def n_frames(self) -> int:
        return self.xy.shape[0]

    @property
    def n_people(self) -> int:
        return self.xy.shape[1]


@dataclass(frozen=True, eq=False)
class Keypoints2D:
    """2D detections; a joint not seen is NaN with score 0.

    Attributes:
        xy: (C, F, P, J, 2) pixel coordinates in each camera's original (distorted) image.
        score: (C, F, P, J) detector confidence in [0, 1]; 0 where not seen.
        cameras: C camera names, in the order of the first axis.
        skeleton: the keypoint set of the J joints.
        fps: frames per second.
        track_id: (C, F, P) identity of each person slot per camera (-1 empty), or None.
    """

    xy: NDArray[np.float64]
    score: NDArray[np.float64]
    cameras: tuple[str, ...]
    skeleton: Skeleton
    fps: float
    track_id: NDArray[np.int64] | None = None

    def __post_init__(self) -> None:
        xy = np.asarray(self.xy, dtype=float)
        score = np.asarray(self.score, dtype=float)
        cameras = tuple(self.cameras)
        expected = (len(cameras), *xy.shape[1:4]) if xy.ndim == 5 else None
        if xy.ndim != 5 or xy.shape[-1] != 2 or xy.shape[3] != len(self.skeleton) \
                or xy.shape[0] != len(cameras):
            raise InputError(f"keypoints xy must be (C={len(cameras)}, F, P, "
                             f"J={len(self.skeleton)}, 2), got {xy.shape}")
        if score.shape != expected:
            raise InputError(f"keypoints score must be {expected}, got {score.shape}")
        seen = np.isfinite(xy).all(-1) & (score > 0)
        object.__setattr__(self, "xy", np.where(seen[..., None], xy, np.nan))
        object.__setattr__(self, "score", np.where(seen, score, 0.0))
        object.__setattr__(self, "cameras", cameras)
        if self.track_id is not None:
            tid = np.asarray(self.track_id, dtype=np.int64)
            if tid.shape != xy.shape[:3]:
                raise InputError(f"keypoints track_id must be {xy.shape[:3]}, got {tid.shape}")
            object.__setattr__(self, "track_id", tid)

    @property
    def n_frames(self) -> int:
        return self.xy.shape[1]

    @property
    def n_people(self) -> int:
        return self.xy.shape[2]
