"""Skeletons: a keypoint set's joint names, bones and left/right pairs, as plain data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from functools import cache

import numpy as np
from numpy.typing import NDArray

from rigs.errors import UnknownSkeletonError
from rigs.keypoint_sets import KEYPOINT_SETS, LIMB_PARTS, MIDLINE_PARTS, TRUNK_JOINTS


@dataclass(frozen=True)
class Skeleton:
    """A keypoint set.

    Attributes:
        name: lower-case set name (``coco17``, ``blazepose33``...).
        joints: J joint names in the set's published order, snake case.
        parents: (J,) parent index per joint, -1 for roots; the tree of bones.
        bones: (B, 2) joint index pairs: the tree's edges plus the set's extra links.
        lr_pairs: (L, 2) index pairs (left, right) of mirrored joints.
    """

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    bones: tuple[tuple[int, int], ...]
    lr_pairs: tuple[tuple[int, int], ...]

    def __len__(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        """Index of ``joint``; raises UnknownSkeletonError naming the closest joint."""
        try:
            return self.joints.index(joint)
        except ValueError:
            near = get_close_matches(joint, self.joints, n=1)
            tip = f"; did you mean '{near[0]}'?" if near else ""
            raise UnknownSkeletonError(f"skeleton {self.name} has no joint '{joint}'{tip}") \
                from None

    def indices(self, joints: Sequence[str]) -> list[int]:
        return [self.index(j) for j in joints]

    @property
    def mirror(self) -> NDArray[np.int64]:
        """(J,) permutation swapping every left joint with its right twin."""
        perm = np.arange(len(self.joints))
        for left, right in self.lr_pairs:
            perm[left], perm[right] = right, left
        return perm

    @property
    def top_down(self) -> list[int]:
        """Joint indices with every parent before its children."""
        depth = np.zeros(len(self.parents), int)
        for j in range(len(self.parents)):
            p = self.parents[j]
            while p >= 0:
                depth[j] += 1
                p = self.parents[p]
        return [int(j) for j in np.argsort(depth, kind="stable")]

    @property
    def anatomy(self) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """(B,) bones joining two joints of one rigid body part, and (B,) bones whose two joints
        the table of body parts knows (the others' rigidity is for the data to tell)."""
        part_of = _body_parts()
        parts = [part_of.get(j) for j in self.joints]
        b = np.asarray(self.bones).reshape(-1, 2)
        known = np.array([parts[i] is not None and parts[k] is not None for i, k in b], bool)
        rigid = np.array([bool(known_ and parts[i] & parts[k])
                          for (i, k), known_ in zip(b, known)], bool)
        return rigid, known

    @property
    def in_head(self) -> NDArray[np.bool_]:
        """(J,) joints of the head (the first of the midline body parts)."""
        head = {name.format(side=side) for name in MIDLINE_PARTS[0] for side in ("left", "right")}
        return np.array([j in head for j in self.joints], bool)

    def bone_lengths(self, xyz: NDArray[np.float64]) -> NDArray[np.float64]:
        """(..., J, 3) joint positions to (..., B) bone lengths (NaN where a joint is missing)."""
        b = np.asarray(self.bones)
        return np.linalg.norm(xyz[..., b[:, 0], :] - xyz[..., b[:, 1], :], axis=-1)


@cache
def get_skeleton(name: str) -> Skeleton:
    """The keypoint set called ``name`` (``coco17``, ``halpe26``, ``body25``, ``body25b``,
    ``blazepose33``, ``h36m17``)."""
    if name not in KEYPOINT_SETS:
        near = get_close_matches(name, KEYPOINT_SETS, n=1)
        tip = f"did you mean '{near[0]}'? " if near else ""
        raise UnknownSkeletonError(f"unknown keypoint set '{name}'; {tip}known sets: "
                                   f"{', '.join(KEYPOINT_SETS)}")
    tree, extra = KEYPOINT_SETS[name]
    joints = tuple(j for j, _ in tree)
    parents = tuple(-1 if p is None else joints.index(p) for _, p in tree)
    bones = tuple((p, j) for j, p in enumerate(parents) if p >= 0)
    bones += tuple((joints.index(a), joints.index(b)) for a, b in extra)
    lr = tuple((i, joints.index(j.replace("left", "right"))) for i, j in enumerate(joints)
               if "left" in j and j.replace("left", "right") in joints)
    return Skeleton(name, joints, parents, bones, lr)


@cache
def _body_parts() -> dict[str, frozenset[int]]:
    """Joint name -> the rigid body parts it belongs to (an empty set for trunk joints)."""
    parts: dict[str, set[int]] = {}
    sided = [[name.format(side=side) for side in ("left", "right") for name in part]
             for part in MIDLINE_PARTS]
    sided += [[name.format(side=side) for name in part]
              for part in LIMB_PARTS for side in ("left", "right")]
    for number, part in enumerate(sided):
        for name in part:
            parts.setdefault(name, set()).add(number)
    for name in TRUNK_JOINTS:
        for side in ("left", "right"):
            parts.setdefault(name.format(side=side), set())
    return {name: frozenset(numbers) for name, numbers in parts.items()}


def skeleton_names() -> list[str]:
    return list(KEYPOINT_SETS)
