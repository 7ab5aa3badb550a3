"""Ground-truth motion from real motion capture: a CMU BVH clip as the keypoints of any set.

``motion_from_bvh`` reads a clip (``rigs.bvh``), resamples its joint rotations to the rate asked
(spherical interpolation, so every bone keeps its length), runs forward kinematics, turns the
file's Y-up world into ours (Z up, metres) and reads each keypoint of the set off the skeleton.
The person is then placed in the studio volume: the hip midpoint's horizontal range centred on
``centre``, and the floor (see ``_floor_height``) at z = 0.

Keypoints on a CMU joint (the two CMU namings are in ``CMU_NAMINGS``):

======================================  =============================================
keypoint                                CMU point
======================================  =============================================
``*_hip, *_knee, *_ankle``              hip joint centre, knee, ankle (LeftUpLeg/LeftHip...)
``*_shoulder, *_elbow, *_wrist``        shoulder joint, elbow, wrist (LeftArm/LeftShoulder...)
``*_thumb``                             the thumb's end site (LThumb_end)
``mid_hip`` (Halpe ``hip``), H36M       midpoint of the two hip joints (H36M's pelvis lies
``pelvis``                              level with its hip joints)
``neck`` (OpenPose, Halpe)              midpoint of the shoulders, as OpenPose defines it
H36M ``thorax``                         the base of the neck (Neck1 / Neck)
H36M ``spine``                          midpoint of the hip midpoint and the neck base
H36M ``neck`` ("Neck/Nose"), BODY_25B   the Head joint, at the top of the neck near the chin
``upper_neck``
H36M ``head``, Halpe ``head``           ``head_top`` below (as the procedural person has it)
======================================  =============================================

Keypoints CMU lacks (face, heels, toes, BlazePose's knuckles, the head top) sit at a fixed
offset in metres (``_OFFSETS``) in a body segment's frame, built once per clip from its rest pose
(all channels zero) and carried by the segment's joint: ``u`` along the segment's bone to the
child named, ``v`` the hint axis made perpendicular, ``w = u x v``. Offsets are written for the
left side; the right side negates ``w``.

=======  =========================  ==================================  =====================
segment  joint, bone to             u, v, w                             keypoints
=======  =========================  ==================================  =====================
head     Head, its end site         up, forward, left                   face, head top
foot     ankle, toe base            forward, up, right                  heel
toes     toe base, its end site     forward, up, right                  toe tips
hand     palm (at the wrist),       towards the fingers, thumb side,    index and pinky
         fingers                    (unused)                            knuckles
=======  =========================  ==================================  =====================

Where the offsets come from: CMU's head joint sits about chin height (0.86 of stature in the
clips' standing frames, taking stature from the hip joints at 0.53 of it) and its end site
9-10 cm higher, near the nose; eyes (0.936 of stature), ears, mouth and the vertex are placed
above the head joint by the usual head proportions of a 1.6-1.7 m adult. CMU's toe end site
sits on the shoe's top (4-8 cm above the floor when standing), so the toe tips are 3 cm under
it; the heel is the back of the calcaneus, 3.5 cm behind and 6.5 cm under the ankle centre
along a foot pitched about 12 degrees as the clips' standing frames show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from calibration.rotations import matrix_to_rodrigues, rodrigues_to_matrix
from mocap.errors import InputError
from rigs.bvh import CMU_METRES_PER_UNIT, Y_UP_TO_Z_UP, BvhSkeleton, forward_kinematics, read_bvh
from rigs.errors import RigError
from rigs.keypoint_map import landmark
from rigs.motion import Motion3D
from rigs.skeleton import Skeleton, get_skeleton

FloatArray = NDArray[np.float64]

_ROLES = ("hip", "knee", "ankle", "toe", "shoulder", "elbow", "wrist", "palm", "fingers", "thumb")
# Role -> (left, right) joint names; "neck_base" and "head" are single.
CMU_NAMINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "CMU, MotionBuilder-style names (01_01)": {
        **dict(zip(_ROLES, zip(
            ("LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "LeftArm", "LeftForeArm",
             "LeftHand", "LeftFingerBase", "LFingers", "LThumb"),
            ("RightUpLeg", "RightLeg", "RightFoot", "RightToeBase", "RightArm", "RightForeArm",
             "RightHand", "RightFingerBase", "RFingers", "RThumb"), strict=True), strict=True)),
        "neck_base": ("Neck1",), "head": ("Head",)},
    "CMU, ASF-style names (131_01)": {
        **dict(zip(_ROLES, zip(
            ("LeftHip", "LeftKnee", "LeftAnkle", "LeftToe", "LeftShoulder", "LeftElbow",
             "LeftWrist", "lhand", "LFingers", "LThumb"),
            ("RightHip", "RightKnee", "RightAnkle", "RightToe", "RightShoulder", "RightElbow",
             "RightWrist", "rhand", "RFingers", "RThumb"), strict=True), strict=True)),
        "neck_base": ("Neck",), "head": ("Head",)},
}

_UP, _FORWARD = np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, 1.0])  # BVH rest pose axes
# segment -> (joint role, role of the child its bone points to, hint axis in the rest pose)
_SEGMENTS = {"head": ("head", "head_end", "forward"), "foot": ("{side}_ankle", "{side}_toe", "up"),
             "toes": ("{side}_toe", "{side}_toe_end", "up"),
             "hand": ("{side}_palm", "{side}_fingers", "forward")}
# keypoint -> (segment, anchor role, (u, v, w) metres for the left side)
_OFFSETS = {
    "nose": ("head", "head", (0.075, 0.11, 0.0)),
    "head_top": ("head", "head", (0.225, -0.01, 0.0)),
    "{side}_eye": ("head", "head", (0.125, 0.085, 0.032)),
    "{side}_eye_inner": ("head", "head", (0.125, 0.09, 0.017)),
    "{side}_eye_outer": ("head", "head", (0.12, 0.075, 0.047)),
    "{side}_ear": ("head", "head", (0.10, 0.0, 0.075)),
    "mouth_{side}": ("head", "head", (0.045, 0.09, 0.025)),
    "{side}_heel": ("foot", "{side}_ankle", (-0.035, -0.065, 0.0)),
    "{side}_foot_index": ("toes", "{side}_toe_end", (0.0, -0.03, 0.0)),
    "{side}_big_toe": ("toes", "{side}_toe_end", (0.0, -0.03, 0.02)),
    "{side}_small_toe": ("toes", "{side}_toe_end", (-0.025, -0.03, -0.035)),
    "{side}_index": ("hand", "{side}_palm", (0.08, 0.02, 0.0)),
    "{side}_pinky": ("hand", "{side}_palm", (0.07, -0.03, 0.0)),
}
_END_SITES = ("head", "left_toe", "right_toe", "left_thumb", "right_thumb")
_FOOT_POINTS = ("heel", "foot_index", "big_toe", "small_toe")


def motion_from_bvh(path: str | Path, skeleton: str | Skeleton = "coco17", *,
                    fps: float | None = None, start_s: float = 0.0,
                    duration_s: float | None = None, scale: float = CMU_METRES_PER_UNIT,
                    centre: tuple[float, float] = (0.0, 0.0)) -> Motion3D:
    """One person's ground-truth keypoints from a CMU BVH clip, placed in the studio volume.

    Args:
        path: a BVH file with CMU's skeleton (either naming in ``CMU_NAMINGS``).
        skeleton: the keypoint set to read off the body (every joint comes back finite).
        fps: output rate; None keeps the clip's own (a Frame Time within 0.01 % of a whole
            rate, such as CMU's .0083333, counts as that rate).
        start_s, duration_s: the part of the clip to use, in seconds from its first frame.
        scale: metres per file unit (CMU's by default; see ``rigs.bvh``).
        centre: world (x, y) metres of the centre of the hip midpoint's horizontal range.
    Returns:
        Motion3D with xyz (F, 1, J, 3) in metres, Z up, feet on the floor z = 0.
    Raises:
        RigError: the file is malformed or lacks a CMU joint, or ``skeleton`` has a keypoint
            the CMU body does not define (the message names it).
        InputError: the time range or rate is outside the clip.
    """
    skel = get_skeleton(skeleton) if isinstance(skeleton, str) else skeleton
    bvh = read_bvh(path, scale=scale)
    roles = cmu_roles(bvh.skeleton, str(path))
    source_fps = whole_rate(bvh.fps)
    out_fps = source_fps if fps is None else float(fps)
    rot, trans = bvh.local_transforms()
    rot, trans = resample_local(rot, trans, source_fps, out_fps, start_s, duration_s, str(path))
    world_rot, world_pos = forward_kinematics(bvh.skeleton.parents, rot, trans)
    world_rot = Y_UP_TO_Z_UP @ world_rot                                     # (F, J, 3, 3)
    world_pos = world_pos @ Y_UP_TO_Z_UP.T                                   # (F, J, 3)
    points = body_points(bvh.skeleton, roles, world_rot, world_pos)
    xyz = placed_keypoints(points, skel, centre, "the CMU body")
    return Motion3D(xyz=xyz[:, None], skeleton=skel, fps=out_fps)


def placed_keypoints(points: dict[str, FloatArray], skeleton: Skeleton,
                     centre: tuple[float, float], body: str) -> FloatArray:
    """(F, J, 3) the keypoints of ``skeleton`` from ``body_points``'s landmarks, placed with the
    hip midpoint's horizontal range centred on ``centre`` and the floor at z = 0.

    Raises:
        RigError: a keypoint of ``skeleton`` that ``body`` (named in the message) lacks.
    """
    names = [landmark(skeleton.name, j) for j in skeleton.joints]
    unknown = [j for j, name in zip(skeleton.joints, names, strict=True) if name not in points]
    if unknown:
        raise RigError(f"keypoints {', '.join(unknown)} of {skeleton.name} have no definition on "
                       f"{body}; it defines {', '.join(sorted(points))}")
    return np.stack([points[name] for name in names], axis=1) + _placement(points, centre)


def cmu_roles(skeleton: BvhSkeleton | Sequence[str], source: str) -> dict[str, int]:
    """Role (``left_hip``, ``neck_base``, ``left_toe_end``...) -> index into ``skeleton`` (a BVH
    skeleton or its point names).

    Raises:
        RigError: naming the joints missing from the closest of ``CMU_NAMINGS``.
    """
    names_of = skeleton.names if isinstance(skeleton, BvhSkeleton) else tuple(skeleton)
    missing = {}
    for label, naming in CMU_NAMINGS.items():
        names = {}
        for role, joints in naming.items():
            sides = ("left_", "right_") if len(joints) == 2 else ("",)
            names.update({side + role: joint for side, joint in zip(sides, joints, strict=True)})
        names.update({f"{role}_end": f"{names[role]}_end" for role in _END_SITES})
        absent = [n for n in names.values() if n not in names_of]
        if not absent:
            return {role: names_of.index(n) for role, n in names.items()}
        missing[label] = absent
    label, absent = min(missing.items(), key=lambda item: len(item[1]))
    raise RigError(f"{source}: not a CMU skeleton; it lacks {', '.join(absent)} (of the "
                   f"closest naming, {label})")


def whole_rate(fps: float) -> float:
    return float(round(fps)) if abs(fps - round(fps)) < 1e-4 * fps else fps


def resample_local(rotations: FloatArray, translations: FloatArray, source_fps: float,
                   fps: float, start_s: float, duration_s: float | None, source: str
                   ) -> tuple[FloatArray, FloatArray]:
    """Local transforms (F0, J, 3, 3) and (F0, J, 3) at ``source_fps`` to ``fps`` from
    ``start_s``: rotations interpolated on the sphere, translations linearly; frames that fall
    on a source frame are copied exactly.

    Returns:
        rotations (F, J, 3, 3) and translations (F, J, 3).
    """
    n = rotations.shape[0]
    end_s = (n - 1) / source_fps
    stop_s = end_s if duration_s is None else start_s + duration_s
    if not (fps > 0 and n >= 2 and 0 <= start_s < stop_s <= end_s + 1e-9):
        raise InputError(f"{source}: cannot take {start_s:g}-{stop_s:g} s at {fps:g} fps from a "
                         f"clip of {n} frames at {source_fps:g} fps ({end_s:.3f} s); choose a "
                         "range inside the clip and a positive rate")
    count = int(np.floor((stop_s - start_s) * fps + 1e-9)) + 1
    x = (start_s + np.arange(count) / fps) * source_fps                     # (F,) source frames
    i = np.minimum(np.floor(x + 1e-9).astype(int), n - 2)
    a = np.clip(x - i, 0.0, 1.0)
    a = np.where(a < 1e-9, 0.0, a)[:, None, None]                           # (F, 1, 1)
    step = matrix_to_rodrigues(np.swapaxes(rotations[i], -1, -2) @ rotations[i + 1])  # (F, J, 3)
    rot = rotations[i] @ rodrigues_to_matrix(a * step)
    trans = translations[i] + a * (translations[i + 1] - translations[i])
    return rot, trans


@dataclass(frozen=True, eq=False)
class RestPose:
    """A skeleton's rest pose in the world frame of ``body_points``' arguments.

    Attributes:
        rotations: (J, 3, 3) each point's world rotation at rest.
        positions: (J, 3) each point's world position at rest.
        up, forward: (3,) the body's up and facing directions at rest, unit length.
    """

    rotations: FloatArray
    positions: FloatArray
    up: FloatArray
    forward: FloatArray

    def segment_frame(self, joint: int, child: int, hint: str) -> FloatArray:
        """(3, 3) ``_segment_frame`` of the bone ``joint`` -> ``child`` and the ``hint`` axis
        ("up" or "forward"), in ``joint``'s own frame."""
        to_local = self.rotations[joint].T
        bone = self.positions[child] - self.positions[joint]
        return _segment_frame(to_local @ bone, to_local @ getattr(self, hint))


def bvh_rest_pose(skeleton: BvhSkeleton) -> RestPose:
    """A BVH skeleton's rest pose (all channels zero, facing +z, Y up) in the Z-up world."""
    eye = np.eye(3)[None, None].repeat(len(skeleton), axis=1)               # (1, J, 3, 3)
    positions = forward_kinematics(skeleton.parents, eye, skeleton.offsets[None])[1][0]
    return RestPose(np.broadcast_to(Y_UP_TO_Z_UP, (len(skeleton), 3, 3)),
                    positions @ Y_UP_TO_Z_UP.T, Y_UP_TO_Z_UP @ _UP, Y_UP_TO_Z_UP @ _FORWARD)


def body_points(skeleton: BvhSkeleton | RestPose, roles: dict[str, int], world_rot: FloatArray,
                world_pos: FloatArray) -> dict[str, FloatArray]:
    """Every keypoint the module docstring defines, by landmark name (``rigs.keypoint_map``).

    Args:
        skeleton: a BVH skeleton (its rest pose is ``bvh_rest_pose``'s) or any rest pose.
        roles: role -> point index; every role of ``CMU_NAMINGS`` but the hand's (``palm``,
            ``fingers``, ``thumb``) and the end sites is needed. Keypoints hung on a segment
            whose roles are absent are left out.
        world_rot: (F, J, 3, 3) and world_pos: (F, J, 3) of the skeleton's points.
    Returns:
        landmark -> (F, 3) positions in the frame of ``world_pos``.
    """
    rest = bvh_rest_pose(skeleton) if isinstance(skeleton, BvhSkeleton) else skeleton
    at = {role: world_pos[:, j] for role, j in roles.items()}
    pts: dict[str, FloatArray] = {}
    for side in ("left", "right"):
        for part in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist"):
            pts[f"{side}_{part}"] = at[f"{side}_{part}"]
        if f"{side}_thumb_end" in at:
            pts[f"{side}_thumb"] = at[f"{side}_thumb_end"]
    pts["mid_hip"] = pts["h36m17:pelvis"] = (at["left_hip"] + at["right_hip"]) / 2
    pts["neck"] = (at["left_shoulder"] + at["right_shoulder"]) / 2
    pts["h36m17:thorax"] = at["neck_base"]
    pts["spine"] = (pts["mid_hip"] + at["neck_base"]) / 2
    pts["h36m17:neck"] = pts["upper_neck"] = at["head"]
    for name, (segment, anchor, offset) in _OFFSETS.items():
        for side, sign in (("left", 1.0), ("right", -1.0)) if "{side}" in name else (("", 1.0),):
            joint, child, anchor_role = (r.format(side=side)
                                         for r in (*_SEGMENTS[segment][:2], anchor))
            if not {joint, child, anchor_role} <= roles.keys():
                continue
            frame = rest.segment_frame(roles[joint], roles[child], _SEGMENTS[segment][2])
            local = frame @ (np.asarray(offset) * (1.0, 1.0, sign))          # (3,) joint frame
            pts[name.format(side=side)] = at[anchor_role] + world_rot[:, roles[joint]] @ local
    pts["head"] = pts["h36m17:head"] = pts["head_top"]
    return pts


def _segment_frame(bone: FloatArray, hint: FloatArray) -> FloatArray:
    """(3, 3) columns u (along ``bone``), v (``hint`` made perpendicular), w = u x v."""
    u = bone / np.linalg.norm(bone)
    v = hint - (hint @ u) * u
    v /= np.linalg.norm(v)
    return np.column_stack([u, v, np.cross(u, v)])


def _floor_height(points: dict[str, FloatArray]) -> float:
    """Height of the floor under the clip: the 5th percentile over frames of the lowest foot
    keypoint (heels, toes), so a few frames where a foot dips through the capture's floor do not
    lift the whole take."""
    feet = np.stack([points[f"{s}_{p}"][:, 2] for s in ("left", "right") for p in _FOOT_POINTS],
                    axis=1)                                                  # (F, 8)
    return float(np.percentile(feet.min(axis=1), 5))


def _placement(points: dict[str, FloatArray], centre: tuple[float, float]) -> FloatArray:
    """(3,) shift putting the hip midpoint's horizontal range around ``centre``, floor at 0."""
    hips = points["mid_hip"][:, :2]                                          # (F, 2)
    middle = (hips.min(axis=0) + hips.max(axis=0)) / 2
    return np.array([*(np.asarray(centre, float) - middle), -_floor_height(points)])
