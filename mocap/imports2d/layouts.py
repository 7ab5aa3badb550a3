"""Keypoint layouts of other tools' files: which of our sets each file column lands in.

Most files hold one of our keypoint sets in its published order. Three do not, and are read into
the closest set by joint name, losing nothing the set can hold:

- ``coco18``: OpenPose's COCO model (nose, neck, shoulders..., eyes, ears). Read as ``body25``:
  BODY_25 is the same network family with the same 18 points under the same names and the same
  definitions (its neck is the midpoint of the shoulders, as in COCO-18) plus mid_hip and the
  feet, which stay missing. A set of its own would only duplicate BODY_25's names and bones.
- ``halpe136``: AlphaPose's full body; its first 26 are ``halpe26``, the face and hands drop.
- ``coco_wholebody133``: COCO-WholeBody (MMPose, RTMPose, caliscope): COCO-17 then six foot
  points, read as ``halpe26`` (which has all 23; head, neck and hip stay missing).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from mocap.errors import DetectionError
from rigs.errors import RigError
from rigs.skeleton import Skeleton, get_skeleton, skeleton_names

COCO18 = ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
          "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
          "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear")
WHOLEBODY_FEET = ("left_big_toe", "left_small_toe", "left_heel", "right_big_toe",
                  "right_small_toe", "right_heel")


@dataclass(frozen=True)
class Layout:
    """How a file's K keypoint columns land in one of our keypoint sets.

    Attributes:
        name: the layout's name (a set name where the file holds a set in its own order).
        skeleton: the set the columns are read into.
        columns: (K,) the set's joint index of each file column; -1 for columns dropped.
    """

    name: str
    skeleton: Skeleton
    columns: tuple[int, ...]

    def apply(self, xy: NDArray[np.float64], score: NDArray[np.float64]
              ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(..., K, 2) and (..., K) file columns to (..., J, 2) and (..., J) of the set."""
        cols = np.asarray(self.columns, dtype=np.int64)
        kept = cols >= 0
        out_xy = np.full((*xy.shape[:-2], len(self.skeleton), 2), np.nan)
        out_score = np.zeros((*score.shape[:-1], len(self.skeleton)))
        out_xy[..., cols[kept], :] = xy[..., kept, :]
        out_score[..., cols[kept]] = score[..., kept]
        return out_xy, out_score


def _named(name: str, skeleton: str, names: Sequence[str | None]) -> Layout:
    skel = get_skeleton(skeleton)
    return Layout(name, skel, tuple(-1 if n is None else skel.index(n) for n in names))


def _own_order(name: str) -> Layout:
    skel = get_skeleton(name)
    return Layout(name, skel, tuple(range(len(skel))))


LAYOUTS: dict[str, Layout] = {
    "coco18": _named("coco18", "body25", COCO18),
    "halpe136": _named("halpe136", "halpe26",
                       get_skeleton("halpe26").joints + (None,) * 110),
    "coco_wholebody133": _named("coco_wholebody133", "halpe26",
                                get_skeleton("coco17").joints + WHOLEBODY_FEET + (None,) * 110),
}


def layout_named(path: Path, name: str) -> Layout:
    """The layout ``name``: one of LAYOUTS or any keypoint set in its own order."""
    if name in LAYOUTS:
        return LAYOUTS[name]
    try:
        return _own_order(name)
    except RigError as e:
        raise DetectionError(f"{path}: {e} (or a file layout: {', '.join(LAYOUTS)})") from e


def choose_layout(path: Path, count: int, skeleton: str | None,
                  by_count: Mapping[int, str | tuple[str, ...]]) -> Layout:
    """The layout of a file with ``count`` keypoints per person.

    Args:
        path: the file (for messages).
        count: keypoints per person in the file.
        skeleton: the layout the caller says the file has, or None to go by ``count``.
        by_count: the format's layouts by count; a tuple where a count fits several.
    Raises:
        DetectionError: the count fits no layout, fits several and ``skeleton`` is None, or
            does not match ``skeleton``'s size.
    """
    if skeleton is not None:
        layout = layout_named(path, skeleton)
        if len(layout.columns) != count:
            raise DetectionError(f"{path}: {count} keypoints per person, but '{skeleton}' has "
                                 f"{len(layout.columns)}; is this file in another layout?")
        return layout
    known = by_count.get(count)
    if known is None:
        expected = "; ".join(f"{n} ({_names(v)})" for n, v in sorted(by_count.items()))
        raise DetectionError(f"{path}: {count} keypoints per person; this format is read with "
                             f"{expected}; give skeleton= for another keypoint set")
    if isinstance(known, tuple):
        raise DetectionError(f"{path}: {count} keypoints per person fits {_names(known)}; say "
                             f"which with skeleton= ({', '.join(repr(k) for k in known)})")
    return layout_named(path, known)


def _names(value: str | tuple[str, ...]) -> str:
    return value if isinstance(value, str) else " or ".join(value)


def snake_case(name: str) -> str:
    """``LeftShoulder``, ``left-shoulder``, ``Left Shoulder`` -> ``left_shoulder``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name.strip())
    return re.sub(r"[\s\-]+", "_", spaced).lower()


def layout_from_names(path: Path, names: Sequence[str], skeleton: str | None) -> Layout:
    """The layout of columns named by joint (``names`` in any case style, see snake_case).

    Without ``skeleton`` the set is the smallest one holding every name.

    Raises:
        DetectionError: a name no set (or not ``skeleton``) has, or a tie between sets.
    """
    joints = [snake_case(n) for n in names]
    if skeleton is None:
        skeleton = _smallest_set_holding(path, names, joints)
    skel = get_skeleton(skeleton) if skeleton in skeleton_names() else \
        layout_named(path, skeleton).skeleton
    _raise_unknown(path, names, joints, skel.joints, f"keypoint set {skel.name}")
    return Layout(skel.name, skel, tuple(skel.index(j) for j in joints))


def _smallest_set_holding(path: Path, names: Sequence[str], joints: list[str]) -> str:
    sets = [get_skeleton(s) for s in skeleton_names()]
    holding = [s for s in sets if set(joints) <= set(s.joints)]
    if not holding:
        every = sorted({j for s in sets for j in s.joints})
        _raise_unknown(path, names, joints, every, "any keypoint set")
        raise DetectionError(f"{path}: no keypoint set holds all of its keypoint names "
                             f"({', '.join(sorted(set(joints)))}); give skeleton=")
    smallest = min(len(s) for s in holding)
    tied = [s.name for s in holding if len(s) == smallest]
    if len(tied) > 1:
        raise DetectionError(f"{path}: its keypoint names fit {' and '.join(tied)} alike; "
                             "say which with skeleton=")
    return tied[0]


def _raise_unknown(path: Path, names: Sequence[str], joints: list[str], known: Sequence[str],
                   where: str) -> None:
    unknown = [n for n, j in zip(names, joints) if j not in known]
    if unknown:
        near = get_close_matches(snake_case(unknown[0]), known, n=1)
        tip = f" ('{unknown[0]}': did you mean '{near[0]}'?)" if near else ""
        raise DetectionError(f"{path}: keypoints {sorted(set(unknown))} are not joints of "
                             f"{where}{tip}; rename them to a set's snake-case names (nose, "
                             "left_shoulder, ...) or give skeleton=")
