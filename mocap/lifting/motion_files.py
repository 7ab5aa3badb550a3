"""Motion capture files (BVH, FBX) from any folder as keypoints in our world (Z up, metres).

``read_motion`` reads a clip's joint transforms, finds the body roles from the joint names
(``joint_roles``), resamples the rotations on the sphere (``real_motion.resample_local``, so
bones keep their length), reads the keypoints off the body as ``real_motion.body_points`` does
for CMU and places the person as ``motion_from_bvh`` does (hip range centred on the origin,
floor at z = 0).

BVH: the file's up axis is the world axis nearest the hip midpoint -> neck base direction in the
rest pose (all channels zero); Y up and Z up are understood. Units: a CMU naming uses CMU's
``CMU_METRES_PER_UNIT``; otherwise the rest pose's height (lowest to highest point along the up
axis) H in file units picks, among metres, centimetres, inches and millimetres, the unit that
makes H nearest 1.6 m in ratio (so H < 100 reads as inches, 100-1300 as centimetres: a
centimetre skeleton under 1 m tall needs ``scale``).

FBX: imported by Blender (``bpy``) into an empty scene, whose world is Z up in metres already;
each bone's world rotation and head position are sampled at every frame of the file's range.

A skeleton without a head tip or toe tips (FBX bones have no end sites; the bone tails Blender
invents follow the file's node axes, not the body) gets them where CMU's skeleton has them in
its rest pose: the head tip 0.10 m above the head joint, the toe tip 0.065 m in front of the
toe joint, carried by those joints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from exporters.fbx import import_bpy
from exporters.quiet import quiet_native_output
from mocap.errors import InputError
from mocap.lifting.joint_roles import is_cmu, joint_roles, read_mapping
from mocap.synthetic.real_motion import (
    RestPose,
    body_points,
    placed_keypoints,
    resample_local,
    whole_rate,
)
from rigs.bvh import CMU_METRES_PER_UNIT, Y_UP_TO_Z_UP, forward_kinematics, read_bvh
from rigs.errors import RigError
from rigs.motion import Motion3D
from rigs.skeleton import get_skeleton

__all__ = ["MOTION_EXTENSIONS", "find_motion_files", "joint_roles", "read_mapping", "read_motion"]

FloatArray = NDArray[np.float64]

MOTION_EXTENSIONS = (".bvh", ".fbx")
_UNITS = (1.0, 0.01, 0.0254, 0.001)            # metres per file unit: m, cm, inch, mm
_TYPICAL_HEIGHT = 1.6                          # metres, rest-pose height the units aim at
_TIPS = {"head_end": ("head", "up", 0.10), "left_toe_end": ("left_toe", "forward", 0.065),
         "right_toe_end": ("right_toe", "forward", 0.065)}


@dataclass(frozen=True, eq=False)
class _Clip:
    """Local joint transforms of a clip, lengths in metres.

    Attributes:
        parents: (J,) parent index, -1 for roots, parents first.
        rotations: (F, J, 3, 3) and translations: (F, J, 3) into the parent's frame.
        fps: frames per second.
        to_world: (3, 3) the file's world frame to ours.
        rest: the rest pose in our world.
        roles: role -> point index.
    """

    parents: tuple[int, ...]
    rotations: FloatArray
    translations: FloatArray
    fps: float
    to_world: FloatArray
    rest: RestPose
    roles: dict[str, int]


def find_motion_files(paths: Sequence[str | Path]) -> list[Path]:
    """The .bvh and .fbx files among ``paths`` and in their folders (recursively), sorted.

    Raises:
        InputError: a path does not exist, a file is not BVH or FBX, or a folder holds none.
    """
    found: set[Path] = set()
    for path in map(Path, paths):
        if path.is_dir():
            files = {p for p in path.rglob("*")
                     if p.is_file() and p.suffix.lower() in MOTION_EXTENSIONS}
            if not files:
                raise InputError(f"{path}: no motion files ({', '.join(MOTION_EXTENSIONS)}) in "
                                 "this folder or below; point at a folder holding BVH or FBX "
                                 "files")
            found |= files
        elif path.is_file():
            if path.suffix.lower() not in MOTION_EXTENSIONS:
                raise InputError(f"{path}: not a motion file; give .bvh or .fbx files or "
                                 "folders holding them")
            found.add(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    return sorted(found)


def read_motion(path: str | Path, skeleton: str = "coco17",
                mapping: dict[str, str] | str | Path | None = None, fps: float = 30.0, *,
                scale: float | None = None) -> Motion3D:
    """One person's keypoints from a BVH or FBX clip, placed on the floor at the origin.

    Args:
        path: a .bvh or .fbx file.
        skeleton: the keypoint set to read off the body.
        mapping: role -> joint name (see ``joint_roles``), or a TOML mapping file's path.
        fps: output rate; rotations are interpolated on the sphere between source frames.
        scale: metres per BVH file unit; None detects it (module docstring).
    Returns:
        Motion3D with xyz (F, 1, J, 3) in metres, Z up, feet on the floor z = 0.
    Raises:
        InputError: the file is not BVH or FBX, Blender cannot import it, or ``fps`` is bad.
        RigError: the file is malformed, its joints do not map to roles, or ``skeleton`` has a
            keypoint the body lacks; the message names the file.
    """
    path = Path(path)
    if isinstance(mapping, (str, Path)):
        mapping = read_mapping(mapping)
    if path.suffix.lower() not in MOTION_EXTENSIONS:
        raise InputError(f"{path}: not a motion file; give a .bvh or .fbx file")
    clip = (_bvh_clip(path, mapping, scale) if path.suffix.lower() == ".bvh"
            else _fbx_clip(path, mapping))
    rot, trans = resample_local(clip.rotations, clip.translations, clip.fps, fps, 0.0, None,
                                str(path))
    world_rot, world_pos = forward_kinematics(clip.parents, rot, trans)
    points = body_points(clip.rest, clip.roles, clip.to_world @ world_rot,
                         world_pos @ clip.to_world.T)
    skel = get_skeleton(skeleton)
    xyz = placed_keypoints(points, skel, (0.0, 0.0), f"the body of {path}")
    return Motion3D(xyz=xyz[:, None], skeleton=skel, fps=float(fps))


def _bvh_clip(path: Path, mapping: dict[str, str] | None, scale: float | None) -> _Clip:
    bvh = read_bvh(path)
    names, parents = bvh.skeleton.names, bvh.skeleton.parents
    roles = joint_roles(names, mapping, source=str(path))
    rot, trans = bvh.local_transforms()
    eye = np.broadcast_to(np.eye(3), (1, len(names), 3, 3))
    rest_pos = forward_kinematics(parents, eye, bvh.skeleton.offsets[None])[1][0]  # (J, 3)
    up = _nearest_axis(_body_up(rest_pos, roles))
    if up[1] == 1.0:
        to_world = Y_UP_TO_Z_UP
    elif up[2] == 1.0:
        to_world = np.eye(3)
    else:
        raise RigError(f"{path}: the skeleton stands along {up} in its rest pose; only Y-up and "
                       "Z-up files are understood")
    if scale is None:
        scale = CMU_METRES_PER_UNIT if is_cmu(names) else _unit(np.ptp(rest_pos @ up), path)
    rest_pos = rest_pos @ to_world.T * scale
    rest = _rest(np.broadcast_to(to_world, (len(names), 3, 3)), rest_pos, roles)
    return _with_tips(_Clip(parents, rot, trans * scale, whole_rate(bvh.fps), to_world, rest,
                            roles))


def _fbx_clip(path: Path, mapping: dict[str, str] | None) -> _Clip:
    bpy = import_bpy(path, "reading")
    with quiet_native_output():
        bpy.ops.wm.read_factory_settings(use_empty=True)
        try:
            bpy.ops.import_scene.fbx(filepath=str(path))
        except RuntimeError as e:
            raise InputError(f"{path}: Blender cannot import this FBX ({e})") from e
    armatures = [o for o in bpy.context.scene.objects if o.type == "ARMATURE"]
    if len(armatures) != 1:
        raise InputError(f"{path}: holds {len(armatures)} armatures; give a file with one "
                         "person's armature")
    obj = armatures[0]
    bones = obj.data.bones
    names = [b.name for b in bones]
    parents = tuple(names.index(b.parent.name) if b.parent else -1 for b in bones)
    roles = joint_roles(names, mapping, source=str(path))
    world = np.array(obj.matrix_world)                                       # (4, 4)
    rest = _matrices(bones, "matrix_local")
    start, end = (round(x) for x in obj.animation_data.action.frame_range)
    scene = bpy.context.scene
    frames = []
    for frame in range(start, end + 1):            # Blender evaluates one frame at a time
        scene.frame_set(frame)
        frames.append(_matrices(obj.pose.bones, "matrix"))
    rot, pos = _rotation_and_position(world @ np.stack(frames))              # (F, J, ...)
    rest_rot, rest_pos = _rotation_and_position(world @ rest)
    has_parent = np.array(parents) >= 0
    parent_rot = np.where(has_parent[:, None, None], rot[:, parents], np.eye(3))
    parent_pos = np.where(has_parent[:, None], pos[:, parents], 0.0)
    to_parent = np.swapaxes(parent_rot, -1, -2)
    local_trans = (to_parent @ (pos - parent_pos)[..., None])[..., 0]
    clip = _Clip(parents, to_parent @ rot, local_trans,
                 whole_rate(scene.render.fps / scene.render.fps_base), np.eye(3),
                 _rest(rest_rot, rest_pos, roles), roles)
    return _with_tips(clip)


def _matrices(collection, attribute: str) -> FloatArray:
    """(J, 4, 4) a 4x4 matrix attribute of every item of a bpy collection."""
    flat = np.empty(len(collection) * 16, dtype=np.float32)
    collection.foreach_get(attribute, flat)
    return np.swapaxes(flat.reshape(-1, 4, 4), -1, -2).astype(float)     # stored by column


def _rotation_and_position(matrices: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(..., 4, 4) similarity transforms to rotations (..., 3, 3) and translations (..., 3)."""
    linear = matrices[..., :3, :3]
    return linear / np.linalg.norm(linear, axis=-2, keepdims=True), matrices[..., :3, 3]


def _body_up(positions: FloatArray, roles: dict[str, int]) -> FloatArray:
    """(3,) hip midpoint -> neck base of (J, 3) positions."""
    return positions[roles["neck_base"]] - (positions[roles["left_hip"]]
                                            + positions[roles["right_hip"]]) / 2


def _nearest_axis(direction: FloatArray) -> FloatArray:
    """(3,) the signed coordinate axis nearest ``direction``."""
    axis = np.zeros(3)
    k = int(np.argmax(np.abs(direction)))
    axis[k] = np.sign(direction[k])
    return axis


def _rest(rotations: FloatArray, positions: FloatArray, roles: dict[str, int]) -> RestPose:
    """Rest pose with up and forward snapped to world axes (left = right hip -> left hip,
    forward = left x up)."""
    up = _nearest_axis(_body_up(positions, roles))
    left = positions[roles["left_hip"]] - positions[roles["right_hip"]]
    forward = _nearest_axis(np.cross(left - (left @ up) * up, up))
    return RestPose(np.asarray(rotations), positions, up, forward)


def _with_tips(clip: _Clip) -> _Clip:
    """``clip`` with the head and toe tips it lacks added (module docstring)."""
    tips = [(role, clip.roles[joint], getattr(clip.rest, axis) * length)
            for role, (joint, axis, length) in _TIPS.items() if role not in clip.roles]
    if not tips:
        return clip
    n, f = len(clip.parents), clip.rotations.shape[0]
    joints = np.array([j for _, j, _ in tips])
    world_offsets = np.stack([o for _, _, o in tips])                        # (T, 3)
    rest_rot = clip.rest.rotations[joints]                                   # (T, 3, 3)
    local = (np.swapaxes(rest_rot, -1, -2) @ world_offsets[..., None])[..., 0]  # joint frames
    rest = RestPose(np.concatenate([clip.rest.rotations, rest_rot]),
                    np.concatenate([clip.rest.positions,
                                    clip.rest.positions[joints] + world_offsets]),
                    clip.rest.up, clip.rest.forward)
    roles = {**clip.roles, **{role: n + i for i, (role, _, _) in enumerate(tips)}}
    eye = np.broadcast_to(np.eye(3), (f, len(tips), 3, 3))
    return _Clip((*clip.parents, *joints.tolist()), np.concatenate([clip.rotations, eye], 1),
                 np.concatenate([clip.translations, np.broadcast_to(local, (f, *local.shape))],
                                1), clip.fps, clip.to_world, rest, roles)


def _unit(height: float, path: Path) -> float:
    """Metres per unit for a rest-pose height in file units (module docstring)."""
    scale = min(_UNITS, key=lambda u: abs(np.log(height * u / _TYPICAL_HEIGHT)))
    if not 0.5 < height * scale < 3.0:
        raise RigError(f"{path}: the skeleton is {height:g} file units tall, which no unit "
                       "(m, cm, inch, mm) makes a person's height; pass scale (metres per unit)")
    return scale
