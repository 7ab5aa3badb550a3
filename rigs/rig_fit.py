"""Rig fitting: one person's 3D keypoints (Motion3D) to the humanoid rig's animation.

Per person: the points of the humanoid (``rigs.humanoid``) are read off the keypoints, short
gaps filled, every bone's length taken once (the median over the take's frames), and per frame
the root translation (the pelvis point) and every bone's rotation found, parents first:

- swing: the bone turns its rest direction onto the direction from its head, as the rig has
  placed it, to the point it aims at (the child's keypoint), so each child lands on its
  keypoint up to the difference of the bone's length;
- twist: from a side line where the bone has one (the hip line for the hips, the shoulder line
  for the spine and chest, ears for the head, heel for the foot, index-pinky for the hand);
  other bones (clavicles, upper arms, forearms, thighs, shins, the neck) take the smallest
  swing from their parent's frame, so their roll is the parent's (the hip and shoulder lines');
- the rotations are made continuous in time (``rigs.quaternions.continuous``).

An optional refinement (:func:`rigs.rig_ik.refine`) then moves all rotations and the root
together, a few damped Gauss-Newton steps, to bring every head closer to its point.

Missing keypoints (NaN), the policy: a point's gaps of up to ``max_gap_frames`` between two
frames that see it are filled by linear interpolation before fitting. A bone whose head or aim
point is still missing keeps the rotation of its nearest fitted frame (the last before, else
the first after; the rest pose if never fitted), so rotations stay finite and continuous;
frames whose pelvis is missing have a NaN root translation: the rig is not placed there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rigs.errors import RigError
from rigs.humanoid import HumanoidLayout, humanoid_layout, humanoid_rig
from rigs.motion import Motion3D
from rigs.quaternions import continuous, from_matrix, to_matrix
from rigs.rig import Rig, RigAnimation
from rigs.rig_ik import refine

FloatArray = NDArray[np.float64]
LEAF_TAIL = 0.4  # a leaf bone's tail, in lengths of its offset (a hand is 0.4 of a forearm)


@dataclass(frozen=True)
class RigFitConfig:
    """Settings of :func:`fit_rig`.

    Attributes:
        max_gap_frames: longest gap of a point filled by interpolation (frames).
        min_length_frames: fewest frames showing a bone's two points to take its length.
        ik_iterations: refinement steps after the direct fit; 0 skips the refinement.
        ik_damping: the refinement's damping in square metres (larger: smaller steps).
        naming: bone names, ``blender`` or ``mixamo``.
    """

    max_gap_frames: int = 12
    min_length_frames: int = 10
    ik_iterations: int = 0
    ik_damping: float = 1e-4
    naming: str = "blender"

    def __post_init__(self) -> None:
        if self.max_gap_frames < 0 or self.min_length_frames < 1 or self.ik_iterations < 0:
            raise RigError(f"RigFitConfig needs max_gap_frames >= 0, min_length_frames >= 1 "
                           f"and ik_iterations >= 0; got {self}")
        if not self.ik_damping > 0:
            raise RigError(f"RigFitConfig ik_damping must be positive, got {self.ik_damping}")


def fit_rig(motion: Motion3D, person: int = 0, *, config: RigFitConfig | None = None,
            mapping: Mapping[str, str | Sequence[str]] | None = None) -> RigAnimation:
    """The humanoid rig's animation of one person of ``motion``.

    Args:
        motion: xyz (F, P, J, 3) metres, Z up; NaN where a joint is missing.
        person: the person's slot (0 to P - 1).
        config: settings; the defaults of :class:`RigFitConfig` if None.
        mapping: point -> joint overrides of the humanoid's table (``humanoid_layout``).
    Returns:
        root translation (F, 3) (NaN where the pelvis is missing) and local rotations
        (F, B, 4), continuous, at ``motion.fps``.
    Raises:
        RigError: no such person, a mapping naming a missing joint, a set lacking limbs, or a
            bone seen in fewer than ``config.min_length_frames`` frames.
    """
    config = config or RigFitConfig()
    if not 0 <= person < motion.n_people:
        raise RigError(f"person {person} is not in the motion; it holds {motion.n_people} "
                       f"(slots 0 to {motion.n_people - 1})")
    layout = humanoid_layout(motion.skeleton, mapping)
    points = fill_gaps(layout.points(motion.xyz[:, person]), config.max_gap_frames)
    offsets, tails = bone_lengths(layout, points, config.min_length_frames,
                                  int(motion.person_id[person]))
    rig = humanoid_rig(layout, offsets, tails, naming=config.naming)
    root = points[:, layout.heads[0]]                                        # (F, 3)
    rotations = local_rotations(layout, rig, points)
    if config.ik_iterations:
        targets = np.where(np.array(layout.heads)[:, None] >= 0,
                           points[:, layout.heads], np.nan)                  # (F, B, 3)
        rotations, root = refine(rig, rotations, root, targets, config.ik_iterations,
                                 config.ik_damping)
    return RigAnimation(rig, root, continuous(rotations), motion.fps,
                        person_id=int(motion.person_id[person]))


def fill_gaps(points: FloatArray, max_gap: int) -> FloatArray:
    """(F, N, 3) points with gaps of at most ``max_gap`` frames between two seen frames filled
    linearly; longer gaps and those at either end stay NaN."""
    n_frames = len(points)
    seen = np.isfinite(points).all(-1)                                      # (F, N)
    frame = np.arange(n_frames)[:, None]
    before = np.maximum.accumulate(np.where(seen, frame, -1), axis=0)
    after = np.minimum.accumulate(np.where(seen, frame, n_frames)[::-1], axis=0)[::-1]
    fill = ~seen & (before >= 0) & (after < n_frames) & (after - before - 1 <= max_gap)
    column = np.arange(points.shape[1])
    start = points[np.clip(before, 0, n_frames - 1), column]               # (F, N, 3)
    end = points[np.clip(after, 0, n_frames - 1), column]
    weight = np.where(fill, (frame - before) / np.maximum(after - before, 1), 0.0)
    return np.where(fill[..., None], start + weight[..., None] * (end - start), points)


def bone_lengths(layout: HumanoidLayout, points: FloatArray, min_frames: int,
                 person_id: int = 0) -> tuple[FloatArray, FloatArray]:
    """(B,) offset lengths (head to parent's head) and (B,) tail lengths (head to the point it
    aims at; a leaf's is ``LEAF_TAIL`` of its offset), metres, medians over the frames.

    Args:
        points: (F, N, 3) the layout's points; NaN where missing.
    Raises:
        RigError: a bone whose two points are seen together in fewer than ``min_frames``.
    """
    place = _head_points(layout)
    pairs = [(place[b], place[p] if p >= 0 else place[b]) for b, p in enumerate(layout.parents)]
    pairs += [(place[b] if aim[0] < 0 else aim[0], aim[1]) if aim else (place[b], place[b])
              for b, aim in enumerate(layout.aims)]
    pairs_ = np.array(pairs)                                                # (2B, 2)
    lengths = np.linalg.norm(points[:, pairs_[:, 0]] - points[:, pairs_[:, 1]], axis=-1)
    counts = np.isfinite(lengths).sum(0)                                    # (2B,)
    short = np.flatnonzero(counts < min_frames)
    if short.size:
        k = short[0]
        a, b = (layout.point_names[i] for i in pairs_[k])
        shown = f"both {a} and {b}" if a != b else a
        raise RigError(f"person {person_id}: only {counts[k]} frames show {shown}; the length "
                       f"of bone {layout.bones[k % len(layout.bones)]} needs at least "
                       f"{min_frames} (fit a longer take, or fill its gaps first)")
    median = np.nanmedian(lengths, axis=0)                                   # (2B,)
    n = len(layout.bones)
    offsets, tails = median[:n], median[n:]
    leaf = np.array([aim is None for aim in layout.aims])
    return offsets, np.where(leaf, LEAF_TAIL * offsets, tails)


def _head_points(layout: HumanoidLayout) -> list[int]:
    """(B,) the point each head stands on: its own, else its parent's (parents first)."""
    place: list[int] = []
    for b, p in enumerate(layout.parents):
        place.append(layout.heads[b] if layout.heads[b] >= 0 else place[p])
    return place


def local_rotations(layout: HumanoidLayout, rig: Rig, points: FloatArray) -> FloatArray:
    """(F, B, 4) local rotations turning each bone towards its points, parents first.

    Args:
        points: (F, N, 3) the layout's points, gaps filled; NaN where missing.
    """
    n_frames, n_bones = len(points), len(layout.bones)
    world = np.empty((n_frames, n_bones, 3, 3))
    heads = np.empty((n_frames, n_bones, 3))
    local = np.empty((n_frames, n_bones, 4))
    for b, p in enumerate(layout.parents):
        parent = np.broadcast_to(np.eye(3), (n_frames, 3, 3)) if p < 0 else world[:, p]
        heads[:, b] = points[:, layout.heads[0]] if p < 0 else \
            heads[:, p] + parent @ rig.offsets[b]
        local[:, b] = hold_nearest(_bone_rotation(layout, b, points, heads[:, b], parent))
        world[:, b] = parent @ to_matrix(local[:, b])
    return local


def _bone_rotation(layout: HumanoidLayout, b: int, points: FloatArray, head: FloatArray,
                   parent: FloatArray) -> FloatArray:
    """(F, 4) local rotation of bone b from its aim and side lines; NaN where one is missing."""
    aim = layout.aims[b]
    if aim is None:
        return np.tile([1.0, 0.0, 0.0, 0.0], (len(points), 1))
    start, end, rest = aim
    direction = points[:, end] - (head if start < 0 else points[:, start])  # (F, 3)
    side = layout.sides[b]
    if side is None:
        return swing(rest, np.einsum("fji,fj->fi", parent, direction))
    across = points[:, side[1]] - points[:, side[0]]                        # (F, 3)
    world = _frame(direction, across) @ _frame(rest, side[2]).T             # (F, 3, 3)
    with np.errstate(invalid="ignore"):
        return from_matrix(np.swapaxes(parent, -1, -2) @ world)


def _frame(aim: FloatArray, side: FloatArray) -> FloatArray:
    """(..., 3, 3) orthonormal columns: ``aim``, ``side`` made perpendicular to it, their cross."""
    a = aim / np.linalg.norm(aim, axis=-1, keepdims=True)
    s = side - np.sum(side * a, axis=-1, keepdims=True) * a
    s = s / np.linalg.norm(s, axis=-1, keepdims=True)
    return np.stack([a, s, np.cross(a, s)], axis=-1)


def swing(rest: FloatArray, direction: FloatArray) -> FloatArray:
    """(F, 4) smallest rotations taking the unit ``rest`` (3,) onto ``direction`` (F, 3); half a
    turn about an axis across ``rest`` where they are opposite."""
    d = direction / np.linalg.norm(direction, axis=-1, keepdims=True)
    q = np.concatenate([(1.0 + d @ rest)[:, None], np.cross(rest, d)], axis=-1)
    across = np.cross(rest, np.eye(3)[np.argmin(np.abs(rest))])
    opposite = q[:, 0] < 1e-9
    q[opposite] = np.concatenate([[0.0], across / np.linalg.norm(across)])
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def hold_nearest(q: FloatArray) -> FloatArray:
    """(F, 4) quaternions with NaN frames given the last fitted one before (the first after at
    the start; identity if none is fitted)."""
    fitted = np.isfinite(q).all(-1)
    if not fitted.any():
        return np.tile([1.0, 0.0, 0.0, 0.0], (len(q), 1))
    frame = np.arange(len(q))
    last = np.maximum.accumulate(np.where(fitted, frame, -1))
    last = np.where(last < 0, np.flatnonzero(fitted)[0], last)
    return q[last]
