"""FBX and .blend through bpy: export, import again with Blender, compare bones and joints."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from calibration.camera import Camera, CameraRig
from exporters.errors import ExportError
from exporters.fbx import SENSOR_WIDTH_MM, write_fbx
from rigs.bvh import axis_rotation
from rigs.rig import RigAnimation

BLENDER_TOLERANCE = 1e-3             # metres, issue 18 acceptance 3 (Blender works in float32)
FBX_FRAMES = 240                     # two seconds of the CMU take: starting to walk


def import_fbx(path) -> list:
    """Blender's FBX importer, default settings, into a fresh scene; the armature objects."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    assert bpy.ops.import_scene.fbx(filepath=str(path)) == {"FINISHED"}
    return sorted((o for o in bpy.context.scene.objects if o.type == "ARMATURE"),
                  key=lambda o: o.name)


def check_round_trip(obj, animation: RigAnimation, blender_joint_positions,
                     take_frames: int | None = None) -> None:
    """Same bones, the take's frame count (first frame at Blender's 1), joints within 1 mm;
    frames past the animation's end (a longer take) hold its last pose."""
    take_frames = take_frames or animation.n_frames
    assert sorted(bone.name for bone in obj.pose.bones) == sorted(animation.rig.bones)
    start, end = obj.animation_data.action.frame_range
    assert start == 1 and round(end - start) + 1 == take_frames
    found = blender_joint_positions(obj, animation.rig.bones, 1, take_frames)
    expected = animation.world_positions()
    expected = np.concatenate([expected, expected[-1:].repeat(take_frames - len(expected), 0)])
    np.testing.assert_allclose(found, expected, atol=BLENDER_TOLERANCE, rtol=0)


def test_cmu_take_comes_back_from_fbx(tmp_path, cmu_animation, blender_joint_positions):
    take = RigAnimation(cmu_animation.rig, cmu_animation.root_translation[:FBX_FRAMES],
                        cmu_animation.local_rotations[:FBX_FRAMES], cmu_animation.fps)
    path = write_fbx(take, tmp_path / "take.fbx")
    assert [p.name for p in tmp_path.iterdir()] == ["take.fbx"]          # no temp file left
    (obj,) = import_fbx(path)
    check_round_trip(obj, take, blender_joint_positions)


def test_two_people_with_random_rotations_come_back(tmp_path, toy_animation,
                                                    blender_joint_positions):
    people = [toy_animation(n_frames=40, seed=2, person_id=3),
              toy_animation(n_frames=30, seed=5, person_id=7)]
    objects = import_fbx(write_fbx(people, tmp_path / "two.fbx"))
    assert [o.name for o in objects] == ["toy_person3", "toy_person7"]
    for obj, animation in zip(objects, people):
        check_round_trip(obj, animation, blender_joint_positions, take_frames=40)


def test_blend_holds_the_armature_and_the_cameras(tmp_path, toy_animation):
    import bpy

    look = axis_rotation(0, np.radians(-100.0)) @ axis_rotation(2, np.radians(30.0))
    cameras = CameraRig((
        Camera("cam01", (1920, 1080), np.array([[1400.0, 0, 950], [0, 1400, 560], [0, 0, 1]]),
               np.zeros(5), R=look, t=np.array([0.1, 1.2, 4.0])),
        Camera("cam02", (1088, 1920), np.array([[1600.0, 0, 540], [0, 1600, 970], [0, 0, 1]]),
               np.zeros(5), R=look.T, t=np.array([-0.3, 0.4, 3.0])),
    ))
    blend = tmp_path / "scene.blend"
    write_fbx(toy_animation(n_frames=12), tmp_path / "toy.fbx", blend_path=blend,
              cameras=cameras)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.blend", "toy.fbx"]
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    assert bpy.data.objects["toy_person0"].animation_data.action is not None
    for camera in cameras:
        obj = bpy.data.objects[camera.name]
        pose = np.array(obj.matrix_world)                                    # (4, 4)
        # float32 in Blender: 1e-6 relative on metre-sized numbers
        np.testing.assert_allclose(pose[:3, 3], camera.center, atol=1e-5)
        looks_along = -pose[:3, 2]                 # a Blender camera looks along its -Z
        np.testing.assert_allclose(looks_along, camera.R[2], atol=1e-6)
        np.testing.assert_allclose(pose[:3, 1], -camera.R[1], atol=1e-6)   # image up = -y
        width = camera.size[0]
        assert obj.data.lens == pytest.approx(camera.K[0, 0] * SENSOR_WIDTH_MM / width,
                                              rel=1e-6)


def test_missing_bpy_names_the_extra_to_install(tmp_path, toy_animation, monkeypatch):
    monkeypatch.setitem(sys.modules, "bpy", None)           # `import bpy` now fails
    with pytest.raises(ExportError, match=r"pip install 'mocap\[blender\]'") as error:
        write_fbx(toy_animation(n_frames=10), tmp_path / "toy.fbx")
    assert "toy.fbx" in str(error.value) and "bpy" in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_mixed_frame_rates_are_refused(tmp_path, toy_animation):
    a = toy_animation(n_frames=10)
    b = RigAnimation(a.rig, a.root_translation, a.local_rotations, fps=60.0)
    with pytest.raises(ExportError, match="different frame rates"):
        write_fbx([a, b], tmp_path / "two.fbx")
