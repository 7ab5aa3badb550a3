"""The humanoid target rig: a Blender-friendly bone hierarchy laid over any keypoint set.

Every bone's head stands for a *point*: a keypoint of the set, or the midpoint of two where the
set lacks the point itself. Points and the keypoints they come from (landmark names, see
``rigs.keypoint_map``; the first alternative the set has wins):

===============  ===========================================  =================================
point            keypoints                                    bone whose head it is
===============  ===========================================  =================================
pelvis           mid_hip (H36M pelvis), else both hips        hips (root; spine sits on it too)
spine            H36M ``spine``                               chest (only H36M-17 has it)
neck_base        neck (H36M thorax), else both shoulders      neck, shoulder.L/R
head_base        upper_neck, H36M ``neck``, else both ears    head
hip/knee/ankle   {side}_hip, {side}_knee, {side}_ankle         thigh, shin, foot
toe              {side}_big_toe, else {side}_foot_index       toe (absent where the set has none)
shoulder/elbow   {side}_shoulder, {side}_elbow, {side}_wrist  upper_arm, forearm, hand
/wrist
===============  ===========================================  =================================

Points that only orient a bone: ``head_top`` (head_top, Halpe ``head``) or ``nose`` (the head's
aim), the ears (the head's roll), the heel (the foot's roll), the index and pinky knuckles
(the hand's aim and roll). A bone with nothing to aim at (the hand of every set but
BlazePose-33, the foot of COCO-17 and H36M-17) is a leaf that keeps its parent's orientation;
a toe bone exists only where the set has toes.

Rest pose: a T-pose facing -Y, Z up (``rigs.rig``): legs straight down, arms along +-X, feet
and toes pointing -Y, ankles on the floor (z = 0, their mean if the legs differ), each offset as long as the person's bone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
from numpy.typing import NDArray

from rigs.errors import RigError
from rigs.keypoint_map import landmark
from rigs.rig import Rig
from rigs.skeleton import Skeleton

FloatArray = NDArray[np.float64]
X, Y, Z = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)
NX, NY, NZ = (-1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, -1.0)

_MIDLINE_POINTS = {
    "pelvis": (("mid_hip",), ("left_hip", "right_hip")),
    "spine": (("spine",),),
    "neck_base": (("neck",), ("left_shoulder", "right_shoulder")),
    "head_base": (("upper_neck",), ("h36m17:neck",), ("left_ear", "right_ear")),
    "head_top": (("head_top",), ("head",)),
    "nose": (("nose",),),
}
_SIDED_POINTS = {
    "hip": (("{side}_hip",),), "knee": (("{side}_knee",),), "ankle": (("{side}_ankle",),),
    "toe": (("{side}_big_toe",), ("{side}_foot_index",)), "heel": (("{side}_heel",),),
    "shoulder": (("{side}_shoulder",),), "elbow": (("{side}_elbow",),),
    "wrist": (("{side}_wrist",),), "knuckles": (("{side}_index", "{side}_pinky"),),
    "index": (("{side}_index",),), "pinky": (("{side}_pinky",),), "ear": (("{side}_ear",),),
}
POINTS: dict[str, tuple[tuple[str, ...], ...]] = {
    **_MIDLINE_POINTS,
    **{f"{name}.{s}": tuple(tuple(j.format(side=side) for j in group) for group in groups)
       for name, groups in _SIDED_POINTS.items() for s, side in (("L", "left"), ("R", "right"))},
}
REQUIRED_POINTS = ("pelvis", "neck_base", *(f"{name}.{s}" for s in "LR" for name in (
    "hip", "knee", "ankle", "shoulder", "elbow", "wrist")))


@dataclass(frozen=True)
class _Bone:
    """A bone of the template: ``head`` None sits on its parent's head. ``aims``: alternatives
    (from point or None for the bone's own head, to point, rest direction), the first the set
    has orients the bone; ``sides``: alternatives (from, to, rest direction) fixing its roll."""

    name: str
    parents: tuple[str, ...]
    head: str | None
    offset_dir: tuple[float, float, float]
    tail_dir: tuple[float, float, float]
    aims: tuple[tuple[str | None, str, tuple[float, float, float]], ...] = ()
    sides: tuple[tuple[str, str, tuple[float, float, float]], ...] = ()


def _limb(s: str) -> list[_Bone]:
    """One side's arm and leg; ``out`` is the side's direction (+X for the model's left)."""
    out = X if s == "L" else NX
    return [
        _Bone(f"shoulder.{s}", ("chest", "spine"), "neck_base", Z, out, ((None, f"shoulder.{s}",
              out),)),
        _Bone(f"upper_arm.{s}", (f"shoulder.{s}",), f"shoulder.{s}", out, out,
              ((None, f"elbow.{s}", out),)),
        _Bone(f"forearm.{s}", (f"upper_arm.{s}",), f"elbow.{s}", out, out,
              ((None, f"wrist.{s}", out),)),
        _Bone(f"hand.{s}", (f"forearm.{s}",), f"wrist.{s}", out, out,
              ((None, f"knuckles.{s}", out),), ((f"pinky.{s}", f"index.{s}", NY),)),
        _Bone(f"thigh.{s}", ("hips",), f"hip.{s}", out, NZ, ((None, f"knee.{s}", NZ),)),
        _Bone(f"shin.{s}", (f"thigh.{s}",), f"knee.{s}", NZ, NZ, ((None, f"ankle.{s}", NZ),)),
        _Bone(f"foot.{s}", (f"shin.{s}",), f"ankle.{s}", NZ, NY, ((None, f"toe.{s}", NY),),
              ((f"ankle.{s}", f"heel.{s}", NZ),)),
        _Bone(f"toe.{s}", (f"foot.{s}",), f"toe.{s}", NY, NY),
    ]


TEMPLATE: tuple[_Bone, ...] = (
    _Bone("hips", (), "pelvis", Z, Z, (("hip.R", "hip.L", X),), (("pelvis", "neck_base", Z),)),
    _Bone("spine", ("hips",), None, Z, Z, ((None, "spine", Z), (None, "neck_base", Z)),
          (("shoulder.R", "shoulder.L", X),)),
    _Bone("chest", ("spine",), "spine", Z, Z, ((None, "neck_base", Z),),
          (("shoulder.R", "shoulder.L", X),)),
    _Bone("neck", ("chest", "spine"), "neck_base", Z, Z, ((None, "head_base", Z),)),
    _Bone("head", ("neck",), "head_base", Z, Z, ((None, "head_top", Z), (None, "nose", NY)),
          (("ear.R", "ear.L", X),)),
    *_limb("L"), *_limb("R"),
)
MIXAMO_NAMES = {
    "hips": "Hips", "spine": "Spine", "chest": "Spine1", "neck": "Neck", "head": "Head",
    **{f"{bone}.{s}": f"{side}{name}" for s, side in (("L", "Left"), ("R", "Right"))
       for bone, name in (("shoulder", "Shoulder"), ("upper_arm", "Arm"),
                          ("forearm", "ForeArm"), ("hand", "Hand"), ("thigh", "UpLeg"),
                          ("shin", "Leg"), ("foot", "Foot"), ("toe", "ToeBase"))},
}


@dataclass(frozen=True, eq=False)
class HumanoidLayout:
    """The template resolved for one keypoint set: which bones exist and what drives them.

    Attributes:
        skeleton: the keypoint set.
        point_names: (N,) the points the set provides (module table).
        point_joints: (N, 2) joint indices averaged into each point (a keypoint twice).
        bones: (B,) Blender-style bone names, parents before children.
        parents: (B,) parent index, -1 for the root.
        heads: (B,) point index of each bone's head, -1 where it sits on its parent's head.
        offset_dirs, tail_dirs: (B, 3) rest directions of the offset and of the tail.
        aims: (B,) (from point or -1 for the head, to point, (3,) rest direction) or None.
        sides: (B,) (from point, to point, (3,) rest direction) or None: no roll of its own.
    """

    skeleton: Skeleton
    point_names: tuple[str, ...]
    point_joints: NDArray[np.int64]
    bones: tuple[str, ...]
    parents: tuple[int, ...]
    heads: tuple[int, ...]
    offset_dirs: FloatArray
    tail_dirs: FloatArray
    aims: tuple[tuple[int, int, FloatArray] | None, ...]
    sides: tuple[tuple[int, int, FloatArray] | None, ...]

    def points(self, xyz: FloatArray) -> FloatArray:
        """(..., J, 3) keypoints to (..., N, 3) points; NaN where a keypoint averaged is NaN."""
        return np.asarray(xyz, dtype=float)[..., self.point_joints, :].mean(-2)

    def keypoint_names(self) -> tuple[str, ...]:
        """(B,) the keypoint each head stands for; "" for a midpoint or a head on its parent's."""
        out = []
        for head in self.heads:
            first, second = self.point_joints[head] if head >= 0 else (-1, -2)
            out.append(self.skeleton.joints[first] if first == second else "")
        return tuple(out)


def humanoid_layout(skeleton: Skeleton, mapping: Mapping[str, str | Sequence[str]] | None = None
                    ) -> HumanoidLayout:
    """The humanoid bones ``skeleton`` can drive.

    Args:
        skeleton: the keypoint set.
        mapping: point name (module table) -> joint name of the set, or two whose midpoint
            it is; overrides the table.
    Raises:
        RigError: a mapping naming an unknown point or a joint the set lacks, or a set without
            hips, knees, ankles, shoulders, elbows or wrists.
    """
    points = _resolve_points(skeleton, dict(mapping or {}))
    missing = [p for p in REQUIRED_POINTS if p not in points]
    if missing:
        raise RigError(f"keypoint set {skeleton.name} cannot drive the humanoid rig: it lacks "
                       f"{', '.join(missing)}; map them with mapping={{point: joint}}")
    names = tuple(points)
    specs = {b.name: b for b in TEMPLATE if b.head is None or b.head in points}
    graph = nx.DiGraph()
    graph.add_nodes_from(specs)
    parent_of = {}
    for bone in specs.values():
        if bone.parents:
            parent_of[bone.name] = next(p for p in bone.parents if p in specs)
            graph.add_edge(parent_of[bone.name], bone.name)
    order = {b.name: i for i, b in enumerate(TEMPLATE)}
    bones = tuple(nx.lexicographical_topological_sort(graph, key=order.__getitem__))
    chosen = [specs[b] for b in bones]
    return HumanoidLayout(
        skeleton=skeleton, point_names=names,
        point_joints=np.array([points[p] for p in names], dtype=np.int64).reshape(-1, 2),
        bones=bones, parents=tuple(bones.index(parent_of[b]) if b in parent_of else -1
                                   for b in bones),
        heads=tuple(names.index(b.head) if b.head else -1 for b in chosen),
        offset_dirs=np.array([b.offset_dir for b in chosen]),
        tail_dirs=np.array([b.tail_dir for b in chosen]),
        aims=tuple(_first(b.aims, names) for b in chosen),
        sides=tuple(_first(b.sides, names) for b in chosen))


def _resolve_points(skeleton: Skeleton, mapping: dict[str, str | Sequence[str]]
                    ) -> dict[str, tuple[int, int]]:
    """Point name -> the two joint indices averaged into it, for the points the set has."""
    unknown = sorted(set(mapping) - set(POINTS))
    if unknown:
        raise RigError(f"rig mapping names unknown points {unknown}; the humanoid's points are "
                       f"{', '.join(POINTS)}")
    by_landmark = {landmark(skeleton.name, j, approximate=True): i
                   for i, j in enumerate(skeleton.joints)}
    resolved = {}
    for point, groups in POINTS.items():
        if point in mapping:
            joints = mapping[point]
            joints = (joints,) if isinstance(joints, str) else tuple(joints)
            lacking = [j for j in joints if j not in skeleton.joints]
            if lacking or len(joints) not in (1, 2):
                raise RigError(f"rig mapping: point '{point}' -> {list(joints)}, but keypoint "
                               f"set {skeleton.name} has no joint {lacking or 'count 1 or 2'}; "
                               f"its joints are {', '.join(skeleton.joints)}")
            index = [skeleton.joints.index(j) for j in joints]
        else:
            found = [g for g in groups if all(j in by_landmark for j in g)]
            if not found:
                continue
            index = [by_landmark[j] for j in found[0]]
        resolved[point] = (index[0], index[-1])
    return resolved


def _first(options: tuple, names: tuple[str, ...]) -> tuple[int, int, FloatArray] | None:
    """The first (from, to, rest) whose points exist, as indices (-1: the bone's head)."""
    for start, end, rest in options:
        if (start is None or start in names) and end in names:
            return (-1 if start is None else names.index(start), names.index(end),
                    np.array(rest, dtype=float))
    return None


def humanoid_rig(layout: HumanoidLayout, offset_lengths: FloatArray, tail_lengths: FloatArray,
                 *, naming: str = "blender") -> Rig:
    """The T-pose rig of one person.

    Args:
        layout: the bones (:func:`humanoid_layout`).
        offset_lengths: (B,) metres from each head to its parent's head (the root's unused).
        tail_lengths: (B,) metres from each head to its tail.
        naming: ``blender`` (``upper_arm.L``) or ``mixamo`` (``mixamorig:LeftArm``).
    """
    n = len(layout.bones)
    offset_lengths = np.asarray(offset_lengths, dtype=float)
    tail_lengths = np.asarray(tail_lengths, dtype=float)
    if offset_lengths.shape != (n,) or tail_lengths.shape != (n,):
        raise RigError(f"the humanoid of {layout.skeleton.name} needs ({n},) offset and tail "
                       f"lengths, got {offset_lengths.shape} and {tail_lengths.shape}")
    if naming not in ("blender", "mixamo"):
        raise RigError(f"unknown bone naming '{naming}'; use 'blender' or 'mixamo'")
    offsets = layout.offset_dirs * offset_lengths[:, None]                  # (B, 3)
    legs = [layout.bones.index(f"{b}.{s}") for s in "LR" for b in ("shin", "foot")]
    offsets[0] = (0.0, 0.0, -offsets[legs, 2].sum() / 2)                    # ankles at z = 0
    bones = layout.bones if naming == "blender" else tuple(
        f"mixamorig:{MIXAMO_NAMES[b]}" for b in layout.bones)
    return Rig(name="humanoid", bones=bones, parents=layout.parents, offsets=offsets,
               tails=layout.tail_dirs * tail_lengths[:, None],
               keypoints=layout.keypoint_names())
