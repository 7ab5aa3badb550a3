"""FBX (and optionally .blend) from RigAnimations, through Blender's Python module ``bpy``.

Each animation becomes an armature named ``<rig>_person<id>`` in a fresh Blender scene: edit
bones from the rig's rest heads to its tails, and one action keyed on every frame with each
bone's rotation as a quaternion and the root's location. The animation's first frame is frame 0
(time 0); Blender's FBX importer, whose ``anim_offset`` is 1, brings it in at frame 1. Blender is
Z up in metres like our world, so the armature stands as the rig does.

The FBX is written with Blender's exporter: armatures only, Blender's default axes (-Z forward,
Y up: the FBX convention Maya, Unity and Unreal read), every frame baked with no key
simplification (``bake_anim_simplify_factor=0``, so joints keep their positions), no extra leaf
bones, and ``FBX_SCALE_ALL`` so the armature comes in at scale 1 (not 100) in game engines. The
optional .blend also holds the camera rig as Blender cameras. Both files are written atomically.
Frames the rig was not fitted in hold the last fitted frame (as in BVH). The take spans the longest
animation; a shorter one holds its last pose to the take's end.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np
from numpy.typing import NDArray

from calibration.camera import Camera, CameraRig
from exporters.atomic import atomic_output
from exporters.bvh import MIN_TAIL, held_fitted_frames
from exporters.errors import ExportError
from exporters.quiet import quiet_native_output
from rigs.quaternions import conjugate, continuous, from_matrix, multiply
from rigs.rig import RigAnimation

FloatArray = NDArray[np.float64]

SENSOR_WIDTH_MM = 36.0                      # Blender's default full-frame sensor
LEAF_LENGTH = 0.05                          # metres: a bone drawn for a tail shorter than MIN_TAIL
LINEAR = 1                                  # Blender's enum value of keyframe interpolation LINEAR
# OpenCV camera axes (x right, y down, z forward) to Blender's (x right, y up, looking along -z)
OPENCV_TO_BLENDER_CAMERA = np.diag([1.0, -1.0, -1.0])


def import_bpy(path: str | Path, doing: str = "writing") -> ModuleType:
    """Blender's ``bpy``, or ExportError saying which extra installs it (``doing`` ``path``)."""
    try:
        with quiet_native_output():  # bpy prints an audio note and a NumPy 1.x warning
            import bpy
    except ImportError as e:
        raise ExportError(f"{doing} {path} needs Blender's Python module bpy, which is not "
                          "installed: pip install 'mocap[blender]'") from e
    return bpy


def write_fbx(animations: RigAnimation | Sequence[RigAnimation], path: str | Path, *,
              blend_path: str | Path | None = None, cameras: CameraRig | None = None) -> Path:
    """Write one armature per animation to an FBX file (and the scene to ``blend_path``).

    Args:
        animations: one or more people's motion, all at one frame rate.
        path: output .fbx file.
        blend_path: also save the Blender scene here (armatures and ``cameras``).
        cameras: the calibrated cameras to place in the .blend (ignored without blend_path).
    Returns:
        ``path``.
    """
    path = Path(path)
    animations = [animations] if isinstance(animations, RigAnimation) else list(animations)
    if not animations:
        raise ExportError(f"{path}: no animation to write")
    if len({a.fps for a in animations}) > 1:
        raise ExportError(f"{path}: the animations have different frame rates "
                          f"{sorted({a.fps for a in animations})}; resample them to one")
    bpy = import_bpy(path)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    fps = animations[0].fps
    scene.render.fps = max(1, round(fps))
    scene.render.fps_base = scene.render.fps / fps
    scene.frame_start, scene.frame_end = 0, max(a.n_frames for a in animations) - 1
    for animation in animations:
        add_armature(bpy, animation, path)
    with atomic_output(path) as tmp, contextlib.redirect_stdout(io.StringIO()):  # its log
        bpy.ops.export_scene.fbx(
            filepath=str(tmp), object_types={"ARMATURE"}, add_leaf_bones=False,
            bake_anim=True, bake_anim_use_all_actions=False, bake_anim_use_nla_strips=False,
            bake_anim_force_startend_keying=True, bake_anim_step=1.0,
            bake_anim_simplify_factor=0.0, axis_forward="-Z", axis_up="Y",
            apply_unit_scale=True, apply_scale_options="FBX_SCALE_ALL",
            primary_bone_axis="Y", secondary_bone_axis="X")
    if blend_path is not None:
        if cameras is not None:
            add_cameras(bpy, cameras)
        bpy.context.preferences.filepaths.save_version = 0      # no .blend1 beside the file
        with atomic_output(blend_path) as tmp:
            bpy.ops.wm.save_as_mainfile(filepath=str(tmp), copy=True)
    return path


def add_armature(bpy: ModuleType, animation: RigAnimation, path: Path) -> object:
    """Add ``animation``'s rig as an armature object with its action; returns the object."""
    rig = animation.rig
    name = f"{rig.name}_person{animation.person_id}"
    armature = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, armature)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    heads = rig.rest_positions                                               # (B, 3)
    lengths = np.linalg.norm(rig.tails, axis=1, keepdims=True)
    tails = heads + np.where(lengths > MIN_TAIL, rig.tails, [0.0, 0.0, LEAF_LENGTH])
    bpy.ops.object.mode_set(mode="EDIT")
    edit_bones = []
    for b, bone in enumerate(rig.bones):
        edit_bone = armature.edit_bones.new(bone)
        edit_bone.head, edit_bone.tail = heads[b].tolist(), tails[b].tolist()
        if rig.parents[b] >= 0:
            edit_bone.parent = edit_bones[rig.parents[b]]
        edit_bones.append(edit_bone)
    bpy.ops.object.mode_set(mode="OBJECT")
    rest = np.array([np.array(armature.bones[bone].matrix_local)[:3, :3]
                     for bone in rig.bones])                                 # (B, 3, 3)
    obj.animation_data_create()
    obj.animation_data.action = _action(bpy, name, animation, rest, path)
    return obj


def _action(bpy: ModuleType, name: str, animation: RigAnimation, rest: FloatArray,
            path: Path) -> object:
    """The action keying every pose bone's quaternion and the root's location.

    A pose bone's rotation is relative to its rest frame ``rest[b]`` (Blender's bone axes, Y
    along the bone) while ours are relative to the world axes: q_pose = q_rest^-1 q q_rest.
    """
    rig = animation.rig
    root, rotations = held_fitted_frames(animation, path)       # (F, 3), (F, B, 4)
    q_rest = from_matrix(rest)                                               # (B, 4)
    pose = continuous(multiply(multiply(conjugate(q_rest), rotations), q_rest))  # (F, B, 4)
    location = (root - rig.rest_positions[0]) @ rest[0]                      # (F, 3) bone axes
    frames = np.arange(animation.n_frames, dtype=float)
    action = bpy.data.actions.new(name)
    for b, bone in enumerate(rig.bones):
        channels = [("rotation_quaternion", pose[:, b])]
        if b == 0:
            channels.append(("location", location))
        for prop, values in channels:
            for axis in range(values.shape[1]):
                curve = action.fcurves.new(f'pose.bones["{bone}"].{prop}', index=axis,
                                           action_group=bone)
                curve.keyframe_points.add(len(frames))
                curve.keyframe_points.foreach_set(
                    "co", np.stack([frames, values[:, axis]], axis=1).ravel())
                curve.keyframe_points.foreach_set("interpolation", [LINEAR] * len(frames))
                curve.update()
    return action


def add_cameras(bpy: ModuleType, cameras: CameraRig) -> None:
    """Add every camera as a Blender camera object (pose, focal length, principal point) in a
    collection named ``cameras``; the scene's resolution becomes the first camera's."""
    import mathutils  # Blender's own module, importable once bpy is

    collection = bpy.data.collections.new("cameras")
    bpy.context.scene.collection.children.link(collection)
    for camera in cameras:
        obj = bpy.data.objects.new(camera.name, _camera_data(bpy, camera))
        pose = np.eye(4)
        pose[:3, :3] = camera.R.T @ OPENCV_TO_BLENDER_CAMERA
        pose[:3, 3] = camera.center
        obj.matrix_world = mathutils.Matrix(pose.tolist())
        collection.objects.link(obj)
    width, height = cameras[0].size
    bpy.context.scene.render.resolution_x = width
    bpy.context.scene.render.resolution_y = height


def _camera_data(bpy: ModuleType, camera: Camera) -> object:
    """Blender camera data: lens from fx over a 36 mm wide sensor, shift from the principal
    point (in units of the image's larger side, as Blender measures it)."""
    width, height = camera.size
    data = bpy.data.cameras.new(camera.name)
    data.sensor_fit = "HORIZONTAL"
    data.sensor_width = SENSOR_WIDTH_MM
    data.lens = camera.K[0, 0] * SENSOR_WIDTH_MM / width
    data.shift_x = (width / 2 - camera.K[0, 2]) / max(width, height)
    data.shift_y = (camera.K[1, 2] - height / 2) / max(width, height)
    return data

