"""Map keypoints from one keypoint set onto another by the landmark each joint stands for.

A joint stands for the landmark its name says (``left_knee`` is the left knee in every set),
except where a set names a point differently or gives a shared name to another point. Those
exceptions are the tables below, each entry with the reason; every other joint maps by name.

Exact aliases: the same point under another name; always mapped.

=====================  ==============  ==================================================
set, joint             landmark        why
=====================  ==============  ==================================================
halpe26 ``hip``        ``mid_hip``     Halpe's "Hip" is the pelvis centre between the hip
                                       joints, BODY_25's "MidHip"
=====================  ==============  ==================================================

Approximate aliases: one anatomical point that the sets' annotations place differently, a few
centimetres apart; mapped only with ``approximate=True`` (a lifter or a retargeter may want
them; triangulation across two sets should not mix them).

=====================  ==============  ==================================================
set, joint             landmark        why
=====================  ==============  ==================================================
h36m17 ``pelvis``      ``mid_hip``     the mocap root between the hip joint centres
h36m17 ``thorax``      ``neck``        the mocap base of the neck (H36M's "Neck" joint);
                                       OpenPose's neck is the midpoint of the shoulders
h36m17 ``head``        ``head_top``    the mocap head's end site; MPII/BODY_25B's head top
                                       is the annotated top of the skull
=====================  ==============  ==================================================

Own points: a name another set uses for a different point; never mapped to other sets.

=====================  ==================================================================
set, joint             why
=====================  ==================================================================
h36m17 ``neck``        H36M's "Neck/Nose" (its "Head" joint), between neck and nose
=====================  ==================================================================

Not aliased, on purpose: Halpe's ``head`` and BODY_25B's ``head_top`` (Halpe does not define
its head point as the top of the skull); BlazePose's ``*_foot_index`` and the big toes (another
toe). Joints with one name in every set are one landmark even where annotators differ (BlazePose
places the hips higher than COCO does): the sets publish them as the same joint.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from rigs.errors import RigError
from rigs.skeleton import Skeleton

EXACT_ALIASES: dict[tuple[str, str], str] = {
    ("halpe26", "hip"): "mid_hip",
}
APPROXIMATE_ALIASES: dict[tuple[str, str], str] = {
    ("h36m17", "pelvis"): "mid_hip",
    ("h36m17", "thorax"): "neck",
    ("h36m17", "head"): "head_top",
}
OWN_POINTS: frozenset[tuple[str, str]] = frozenset({("h36m17", "neck")})


def landmark(set_name: str, joint: str, *, approximate: bool = False) -> str:
    """The landmark that ``joint`` of the set ``set_name`` stands for (see the module tables)."""
    key = (set_name, joint)
    if key in EXACT_ALIASES:
        return EXACT_ALIASES[key]
    if key in APPROXIMATE_ALIASES and approximate:
        return APPROXIMATE_ALIASES[key]
    if key in OWN_POINTS or key in APPROXIMATE_ALIASES:
        return f"{set_name}:{joint}"
    return joint


def keypoint_index(source_name: str, source_joints: Sequence[str], target: Skeleton, *,
                   approximate: bool = False) -> NDArray[np.int64]:
    """(J_target,) index into ``source_joints`` of each target joint's landmark; -1 if absent.

    ``source_name`` is the set the source joints are named in (it selects the alias tables).
    """
    source = {landmark(source_name, j, approximate=approximate): i
              for i, j in enumerate(source_joints)}
    if len(source) != len(source_joints):
        raise RigError(f"keypoint set {source_name} names one landmark twice: {source_joints}")
    return np.array([source.get(landmark(target.name, j, approximate=approximate), -1)
                     for j in target.joints], dtype=np.int64)


def map_keypoints(xy: NDArray[np.float64], score: NDArray[np.float64], source: Skeleton,
                  target: Skeleton, *, approximate: bool = False
                  ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Keypoints of ``source`` re-expressed in ``target``'s joints.

    Args:
        xy: (..., J_source, 2) pixels (or any coordinates); NaN where not seen.
        score: (..., J_source) confidence; 0 where not seen.
        source, target: the keypoint sets.
        approximate: also map the approximate aliases (module docstring).
    Returns:
        xy (..., J_target, 2) and score (..., J_target); target joints the source lacks are NaN
        with score 0.
    Raises:
        RigError: if the arrays do not hold ``source``'s joints.
    """
    xy, score = np.asarray(xy, dtype=float), np.asarray(score, dtype=float)
    n = len(source)
    if xy.ndim < 2 or xy.shape[-2:] != (n, 2) or score.shape != xy.shape[:-1]:
        raise RigError(f"keypoints of {source.name} must be xy (..., {n}, 2) and score "
                       f"(..., {n}); got {xy.shape} and {score.shape}")
    index = keypoint_index(source.name, source.joints, target, approximate=approximate)
    found = index >= 0                                                     # (J_target,)
    picked = np.clip(index, 0, None)
    out_xy = np.where(found[:, None], xy[..., picked, :], np.nan)          # (..., J_target, 2)
    out_score = np.where(found, score[..., picked], 0.0)                   # (..., J_target)
    return out_xy, out_score
