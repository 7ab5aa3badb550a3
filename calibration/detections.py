"""Board corners as the solvers take them: per camera, frame by frame (``BoardDetections``,
fixed-size and NaN-padded), and flat over cameras (``Observations``, one row per seen corner)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from calibration.errors import CalibrationError


@dataclass(frozen=True, eq=False)
class BoardDetections:
    """Board corners found in one camera's footage.

    Attributes:
        camera: camera name (the video's file stem or the image folder's name).
        image_size: (width, height) of the footage in pixels.
        frames: (N,) indices of the frames in which the board was found, increasing.
        xy: (N, K, 2) pixel coordinates of the board's K corners (ids as in
            ``Board.object_points``), subpixel-refined; NaN where a corner was not seen.
        n_frames: number of frames read from the footage (found or not).
        mirrored: (N,) True where the back of a double-sided board was seen (its corners are
            already mapped to the front's ids).
    """

    camera: str
    image_size: tuple[int, int]
    frames: NDArray[np.int64]
    xy: NDArray[np.float64]
    n_frames: int
    mirrored: NDArray[np.bool_] | None = None

    def __post_init__(self) -> None:
        frames = np.asarray(self.frames, dtype=np.int64).reshape(-1)
        xy = np.asarray(self.xy, dtype=float)
        if xy.ndim != 3 or xy.shape[0] != frames.size or xy.shape[2] != 2:
            raise CalibrationError(f"camera {self.camera}: detections xy must be "
                                   f"({frames.size}, K, 2), got {xy.shape}")
        mirrored = (np.zeros(frames.size, bool) if self.mirrored is None
                    else np.asarray(self.mirrored, bool).reshape(-1))
        object.__setattr__(self, "frames", frames)
        object.__setattr__(self, "xy", xy)
        object.__setattr__(self, "mirrored", mirrored)
        object.__setattr__(self, "image_size", (int(self.image_size[0]), int(self.image_size[1])))

    @property
    def n_corners(self) -> NDArray[np.int64]:
        """(N,) corners seen per frame."""
        return np.isfinite(self.xy[..., 0]).sum(axis=1)

    def select(self, keep: NDArray[np.bool_]) -> BoardDetections:
        """Only the frames where ``keep`` (N,) is True."""
        return BoardDetections(self.camera, self.image_size, self.frames[keep], self.xy[keep],
                               self.n_frames, self.mirrored[keep])


@dataclass(frozen=True)
class Observations:
    """Every observed corner, flat: M observations.

    Attributes:
        camera: (M,) camera index.
        frame: (M,) index into the board poses (not the frame number).
        corner: (M,) corner id (row of the board's object points).
        xy: (M, 2) observed pixels.
    """

    camera: NDArray[np.int64]
    frame: NDArray[np.int64]
    corner: NDArray[np.int64]
    xy: NDArray[np.float64]

    def select(self, keep: NDArray[np.bool_]) -> Observations:
        return Observations(self.camera[keep], self.frame[keep], self.corner[keep], self.xy[keep])


def seen_corners(det: BoardDetections, frames: NDArray[np.int64]
                 ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(view, corner) indices (M,) of the corners ``det`` saw in ``frames``, in the order
    :func:`observations` lays them out."""
    view, corner = np.nonzero(np.isfinite(det.xy[..., 0]) & np.isin(det.frames, frames)[:, None])
    return view, corner


def observations(detections: Sequence[BoardDetections], frames: NDArray[np.int64]
                 ) -> Observations:
    """Flatten the seen corners of C cameras' detections whose frame is in ``frames`` (F,)."""
    parts = []
    for c, det in enumerate(detections):
        view, corner = seen_corners(det, frames)
        frame = np.searchsorted(frames, det.frames[view])
        parts.append((np.full(view.size, c), frame, corner, det.xy[view, corner]))
    cam, frame, corner, xy = (np.concatenate(p) for p in zip(*parts))
    return Observations(cam.astype(np.int64), frame.astype(np.int64), corner.astype(np.int64),
                        xy.reshape(-1, 2))
