"""Target rigs and their animation: a bone hierarchy with a rest pose, and per frame the root's
translation and every bone's rotation relative to its rest pose.

Conventions (every exporter converts from these to its format's own):

- World frame: the project's, metres, Z up. The rest pose stands at the origin in a T-pose
  facing -Y (Blender's front view looks along +Y at the model's face), X to the model's left.
- A bone is a joint of the hierarchy: its head sits at ``offsets[b]`` from its parent's head in
  the parent's rest frame (the root's offset is its rest position in the world). Rest frames
  are aligned with the world (a bone's rest orientation is the identity), as in BVH.
- ``local_rotations[f, b]`` (w, x, y, z) turns bone b about its head relative to its parent,
  in the parent's frame: the bone's world rotation is its parent's times its own, and a child
  head's world position is its parent's head plus the parent's world rotation applied to the
  child's offset (:meth:`RigAnimation.world_positions`).
- ``root_translation[f]`` is the root bone's head in the world; NaN frames are frames the rig
  could not be fitted in (see the fitting's policy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rigs.bvh import forward_kinematics
from rigs.errors import RigError
from rigs.quaternions import to_matrix

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Rig:
    """A bone hierarchy in its rest pose.

    Attributes:
        name: what the rig is (``humanoid``...).
        bones: (B,) bone names, parents before children; Blender-friendly (``thigh.L``).
        parents: (B,) parent index, -1 for the root (exactly one root).
        offsets: (B, 3) metres: each head from its parent's head, rest pose, world axes.
        tails: (B, 3) metres: where each bone points from its head in the rest pose (its
            first child's offset, or a short continuation for a leaf); Blender's bone tail.
        keypoints: (B,) the keypoint (joint name of the fitted keypoint set) each bone's head
            stands for, "" where it stands for none (a bone between two keypoints, such as
            the spine's upper end, placed by the fitting).
    """

    name: str
    bones: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: FloatArray
    tails: FloatArray
    keypoints: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.bones)
        if len(set(self.bones)) != n:
            raise RigError(f"rig {self.name}: bone names must be unique, got {self.bones}")
        if len(self.parents) != n or len(self.keypoints) != n:
            raise RigError(f"rig {self.name}: {n} bones need {n} parents and keypoints, got "
                           f"{len(self.parents)} and {len(self.keypoints)}")
        if [p for p in self.parents if p < 0] != [-1] or self.parents[0] != -1:
            raise RigError(f"rig {self.name}: the first bone must be the one root")
        if any(not 0 <= p < b for b, p in enumerate(self.parents) if b):
            raise RigError(f"rig {self.name}: every parent must come before its child")
        for name in ("offsets", "tails"):
            value = np.asarray(getattr(self, name), dtype=float)
            if value.shape != (n, 3) or not np.isfinite(value).all():
                raise RigError(f"rig {self.name}: {name} must be finite ({n}, 3), got "
                               f"{value.shape}")
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return len(self.bones)

    def index(self, bone: str) -> int:
        """Index of ``bone``; RigError naming the rig's bones if absent."""
        if bone not in self.bones:
            raise RigError(f"rig {self.name} has no bone '{bone}'; it has {', '.join(self.bones)}")
        return self.bones.index(bone)

    @property
    def rest_positions(self) -> FloatArray:
        """(B, 3) metres: every bone's head in the rest pose, world frame."""
        positions = np.empty_like(self.offsets)
        for b, p in enumerate(self.parents):
            positions[b] = self.offsets[b] + (positions[p] if p >= 0 else 0.0)
        return positions


@dataclass(frozen=True, eq=False)
class RigAnimation:
    """One person's motion on a rig.

    Attributes:
        rig: the rig.
        root_translation: (F, 3) metres, the root bone's head in the world; NaN: not fitted.
        local_rotations: (F, B, 4) unit quaternions (w, x, y, z), continuous in time.
        fps: frames per second.
        person_id: the person's identity in the take.
    """

    rig: Rig
    root_translation: FloatArray
    local_rotations: FloatArray
    fps: float
    person_id: int = 0

    def __post_init__(self) -> None:
        root = np.asarray(self.root_translation, dtype=float)
        rotations = np.asarray(self.local_rotations, dtype=float)
        n = len(self.rig)
        if root.ndim != 2 or root.shape[1] != 3:
            raise RigError(f"root_translation must be (F, 3), got {root.shape}")
        if rotations.shape != (len(root), n, 4):
            raise RigError(f"local_rotations must be ({len(root)}, {n}, 4), got "
                           f"{rotations.shape}")
        if not self.fps > 0:
            raise RigError(f"fps must be positive, got {self.fps}")
        object.__setattr__(self, "root_translation", root)
        object.__setattr__(self, "local_rotations", rotations)

    @property
    def n_frames(self) -> int:
        return len(self.root_translation)

    def world_transforms(self) -> tuple[FloatArray, FloatArray]:
        """World rotations (F, B, 3, 3) and head positions (F, B, 3) of every bone."""
        translations = np.broadcast_to(self.rig.offsets, self.local_rotations.shape[:2] + (3,))
        translations = translations.copy()
        translations[:, 0] = self.root_translation
        return forward_kinematics(self.rig.parents, to_matrix(self.local_rotations),
                                  translations)

    def world_positions(self) -> FloatArray:
        """(F, B, 3) metres: every bone's head, world frame."""
        return self.world_transforms()[1]
