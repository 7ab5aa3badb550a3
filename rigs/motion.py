"""Motion3D: 3D joint trajectories of every person, frame by frame."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from rigs.errors import RigError
from rigs.skeleton import Skeleton

# Values of Motion3D.source
MISSING, TRIANGULATED, LIFTED, FILLED = 0, 1, 2, 3


@dataclass(frozen=True, eq=False)
class Motion3D:
    """3D joints in the world frame (metres, Z up); missing joints are NaN.

    Attributes:
        xyz: (F, P, J, 3) positions in metres; NaN where unknown.
        skeleton: the keypoint set of the J joints.
        fps: frames per second.
        reprojection_error: (F, P, J) mean reprojection error in pixels over the views used.
        n_views: (F, P, J) number of cameras used per joint.
        source: (F, P, J) 0 missing, 1 triangulated, 2 lifted, 3 filled.
        person_id: (P,) identity of each person slot.
    """

    xyz: NDArray[np.float64]
    skeleton: Skeleton
    fps: float
    reprojection_error: NDArray[np.float64] | None = None
    n_views: NDArray[np.int64] | None = None
    source: NDArray[np.uint8] | None = None
    person_id: NDArray[np.int64] | None = field(default=None)

    def __post_init__(self) -> None:
        xyz = np.asarray(self.xyz, dtype=float)
        if xyz.ndim != 4 or xyz.shape[2:] != (len(self.skeleton), 3):
            raise RigError(f"Motion3D xyz must be (F, P, {len(self.skeleton)}, 3) for skeleton "
                           f"{self.skeleton.name}, got {xyz.shape}")
        if not self.fps > 0:
            raise RigError(f"Motion3D fps must be positive, got {self.fps}")
        f, p, j = xyz.shape[:3]
        seen = np.isfinite(xyz).all(-1)
        defaults = {
            "reprojection_error": (np.float64, np.full((f, p, j), np.nan)),
            "n_views": (np.int64, np.zeros((f, p, j))),
            "source": (np.uint8, np.where(seen, TRIANGULATED, MISSING)),
        }
        for name, (dtype, default) in defaults.items():
            value = getattr(self, name)
            arr = np.asarray(default if value is None else value).astype(dtype)
            if arr.shape != (f, p, j):
                raise RigError(f"Motion3D {name} must be {(f, p, j)}, got {arr.shape}")
            object.__setattr__(self, name, arr)
        pid = np.arange(p) if self.person_id is None else np.asarray(self.person_id, np.int64)
        if pid.shape != (p,):
            raise RigError(f"Motion3D person_id must be ({p},), got {pid.shape}")
        object.__setattr__(self, "xyz", xyz)
        object.__setattr__(self, "person_id", pid)

    @property
    def n_frames(self) -> int:
        return self.xyz.shape[0]

    @property
    def n_people(self) -> int:
        return self.xyz.shape[1]
