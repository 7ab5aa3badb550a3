"""The dependency stack the later stages build on, installed by `pip install -e ".[all]"` in one
command: numpy 2 with OpenCV 5.1, MediaPipe's BlazePose running offline, and Blender (bpy)
exporting and re-importing FBX under numpy 2 (bpy 4.4.0 is the newest release that declares
plain `numpy`; 4.5 and 5.0 declare numpy < 2 and would not resolve beside it)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest


def test_numpy_2_and_opencv_5_1():
    assert int(np.__version__.split(".")[0]) >= 2
    assert cv2.__version__.startswith("5.1.")
    assert hasattr(cv2, "aruco") and hasattr(cv2.aruco, "CharucoDetector")    # contrib build


def test_mediapipe_blazepose_runs_offline_on_numpy_2():
    """Model complexity 1 is the only pose model inside the 0.10.14 wheel; 0 and 2 would try
    to download. A blank frame must run through the graph (and find nobody) without network."""
    mp = pytest.importorskip("mediapipe")
    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1) as pose:
        result = pose.process(np.zeros((256, 256, 3), np.uint8))
    assert result.pose_landmarks is None


def test_blender_fbx_round_trip_keeps_bone_positions(tmp_path):
    """An armature of three bones written to FBX and read back by Blender's own importer: the
    bones' heads come back where they were, to 1e-4 m (FBX stores float32). FBX keeps no
    tails: the importer points a parent at its connected child (checked) and gives a leaf a
    length of its own choosing (not checked). bpy 4.4's audio module, built against numpy 1,
    prints an import error under numpy 2 and leaves audio off; nothing here needs audio."""
    bpy = pytest.importorskip("bpy")
    heads = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.5], [0.2, 0.0, 1.9]])
    tails = np.array([[0.0, 0.0, 1.5], [0.2, 0.0, 1.9], [0.4, 0.1, 2.1]])
    bpy.ops.wm.read_factory_settings(use_empty=True)
    armature = bpy.data.armatures.new("rig")
    obj = bpy.data.objects.new("rig", armature)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    parent = None
    for i, (head, tail) in enumerate(zip(heads, tails)):
        bone = armature.edit_bones.new(f"bone{i}")
        bone.head, bone.tail, bone.parent = head.tolist(), tail.tolist(), parent
        bone.use_connect = parent is not None
        parent = bone
    bpy.ops.object.mode_set(mode="OBJECT")
    path = tmp_path / "rig.fbx"
    bpy.ops.export_scene.fbx(filepath=str(path), add_leaf_bones=False)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.fbx(filepath=str(path))
    [imported] = [o for o in bpy.data.objects if o.type == "ARMATURE"]
    bones = imported.data.bones
    world = np.array(imported.matrix_world)
    got_heads = np.array([(world @ np.r_[bones[f"bone{i}"].head_local, 1.0])[:3]
                          for i in range(3)])
    got_tails = np.array([(world @ np.r_[bones[f"bone{i}"].tail_local, 1.0])[:3]
                          for i in range(2)])
    np.testing.assert_allclose(got_heads, heads, atol=1e-4)
    np.testing.assert_allclose(got_tails, tails[:2], atol=1e-4)
