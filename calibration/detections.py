"""Board corners per camera, frame by frame (``BoardDetections``, fixed-size and NaN-padded), as
detection gives them and the solvers take them (flattened for the bundle adjustment by
``calibration.bundle.observations``)."""

from __future__ import annotations

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
