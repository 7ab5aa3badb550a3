"""Motion files from any folder: joint-name conventions, BVH units, FBX through Blender."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mocap.errors import InputError
from mocap.lifting.motion_files import find_motion_files, joint_roles, read_mapping, read_motion
from mocap.synthetic.real_motion import motion_from_bvh
from rigs.bvh import CMU_METRES_PER_UNIT
from rigs.errors import RigError

CMU_CLIPS = ("01_01", "131_01", "131_02", "131_03")
FBX_CLIPS = ("135_01", "135_02", "85_03", "85_04", "85_12", "85_14")
LIMBS = [("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("right_hip", "right_knee"),
         ("right_knee", "right_ankle"), ("left_shoulder", "left_elbow"),
         ("left_elbow", "left_wrist"), ("right_shoulder", "right_elbow"),
         ("right_elbow", "right_wrist"), ("left_eye", "right_ear")]
# Mixamo's names for CMU's MotionBuilder-style joints (01_01); CMU's Neck1 is the neck's base
MIXAMO_FOR_CMU = {"LowerBack": "Spine", "Spine": "Spine1", "Spine1": "Spine2", "Neck": "Spine3",
                  "Neck1": "Neck", "LHipJoint": "LeftHipJoint", "RHipJoint": "RightHipJoint",
                  "LFingers": "LeftHandMiddle1", "RFingers": "RightHandMiddle1",
                  "LThumb": "LeftHandThumb1", "RThumb": "RightHandThumb1"}


def sided(pattern: str, parts: tuple[str, ...]) -> list[str]:
    return [pattern.format(side=side, part=part) for side in ("L", "R") for part in parts]


CONVENTIONS = {
    "mixamo": ["mixamorig:Hips", "mixamorig:Spine", "mixamorig:Spine2", "mixamorig:Neck",
               "mixamorig:Head", "mixamorig:HeadTop_End",
               *[f"mixamorig:{s}{p}" for s in ("Left", "Right")
                 for p in ("Shoulder", "Arm", "ForeArm", "Hand", "UpLeg", "Leg", "Foot",
                           "ToeBase", "Toe_End")]],
    "rigify": ["spine", "spine.003", "spine.004", "spine.005", "spine.006",
               *sided("{part}.{side}", ("shoulder", "upper_arm", "forearm", "hand", "thigh",
                                        "shin", "foot", "toe"))],
    "unity": ["Armature|Hips", "Armature|Spine", "Armature|Chest", "Armature|Neck",
              "Armature|Head",
              *[f"Armature|{s}{p}" for s in ("Left", "Right")
                for p in ("Shoulder", "UpperArm", "LowerArm", "Hand", "UpperLeg", "LowerLeg",
                          "Foot", "Toes")]],
    "suffix _L": ["pelvis", "neck", "head", *sided("{part}_{side}", (
        "clavicle", "upperarm", "lowerarm", "hand", "thigh", "calf", "foot", "ball"))],
    "prefix L_": ["Bip01 Pelvis", "Bip01 Neck", "Bip01 Head", *[f"Bip01 {n}" for n in sided(
        "{side}_{part}", ("UpperArm", "Forearm", "Hand", "Thigh", "Calf", "Foot", "Toe"))]],
    "suffix Left": ["Hips", "Neck", "Head", *[f"{p}{s}" for s in ("Left", "Right")
                                              for p in ("Arm", "Elbow", "Wrist", "Hip",
                                                        "Knee", "Ankle", "Toes")]],
}
EXPECTED = {  # convention -> what its left hip, left wrist, right toe and head are
    "mixamo": ("mixamorig:LeftUpLeg", "mixamorig:LeftHand", "mixamorig:RightToeBase",
               "mixamorig:Head"),
    "rigify": ("thigh.L", "hand.L", "toe.R", "spine.006"),
    "unity": ("Armature|LeftUpperLeg", "Armature|LeftHand", "Armature|RightToes",
              "Armature|Head"),
    "suffix _L": ("thigh_L", "hand_L", "ball_R", "head"),
    "prefix L_": ("Bip01 L_Thigh", "Bip01 L_Hand", "Bip01 R_Toe", "Bip01 Head"),
    "suffix Left": ("HipLeft", "WristLeft", "ToesRight", "Head"),
}


@pytest.fixture(scope="module")
def bpy():
    return pytest.importorskip("bpy")


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("case", [str, str.lower, str.upper])
def test_joint_names_of_each_convention_map_without_a_file(convention, case):
    names = [case(n) for n in CONVENTIONS[convention]]
    roles = joint_roles(names)
    found = tuple(names[roles[r]] for r in ("left_hip", "left_wrist", "right_toe", "head"))
    assert found == tuple(case(n) for n in EXPECTED[convention])
    # Mixamo's Shoulder and Rigify's shoulder.L are the clavicle; the arm is the shoulder joint
    assert "arm" in names[roles["left_shoulder"]].lower()


def test_mixamo_head_and_toe_tips_are_found():
    names = CONVENTIONS["mixamo"]
    roles = joint_roles(names)
    assert names[roles["head_end"]] == "mixamorig:HeadTop_End"
    assert names[roles["left_toe_end"]] == "mixamorig:LeftToe_End"


def test_unmappable_skeleton_names_the_roles_and_asks_for_a_mapping_file():
    names = ["root", "bone1", "bone2", "bone3"]
    with pytest.raises(RigError) as e:
        joint_roles(names, source="odd.bvh")
    message = str(e.value)
    assert message.startswith("odd.bvh: cannot tell which joints are left_hip, left_knee")
    assert "root, bone1, bone2, bone3" in message and "[roles]" in message


def test_mapping_file_overrides_and_completes(tmp_path):
    names = [*CONVENTIONS["suffix _L"][:2], "skull", *CONVENTIONS["suffix _L"][3:]]
    with pytest.raises(RigError, match="head"):
        joint_roles(names)
    path = tmp_path / "mapping.toml"
    path.write_text('[roles]\nhead = "skull"\nleft_wrist = "lowerarm_L"\n')
    roles = joint_roles(names, read_mapping(path))
    assert names[roles["head"]] == "skull" and names[roles["left_wrist"]] == "lowerarm_L"


@pytest.mark.parametrize("text, fragment", [
    ('[roles]\nleft_hipp = "x"\n', "unknown role 'left_hipp' (did you mean 'left_hip'?)"),
    ('[roles]\nhead = 3\n', "head must be a joint name in quotes"),
    ('head = "x"\n', "no [roles] table"),
    ('[roles\n', "not valid TOML"),
])
def test_bad_mapping_files(tmp_path, text, fragment):
    path = tmp_path / "mapping.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=re.escape(fragment)):
        read_mapping(path)


def test_mapping_to_a_joint_the_skeleton_lacks():
    with pytest.raises(RigError, match="head = \"skul\", which is not a joint"):
        joint_roles(CONVENTIONS["mixamo"], {"head": "skul"})


@pytest.mark.parametrize("name", CMU_CLIPS)
def test_cmu_bvh_reads_as_motion_from_bvh_places_it(shared_data, name):
    path = shared_data / "cmu_mocap" / f"{name}.bvh"
    found = read_motion(path, fps=30.0)
    expected = motion_from_bvh(path, "coco17", fps=30.0)
    # the same rotations, forward kinematics and placement; only the rest pose's segment
    # frames are computed another way (world positions instead of offsets): rounding only
    np.testing.assert_allclose(found.xyz, expected.xyz, rtol=0, atol=1e-6)


def test_bvh_with_mixamo_names_in_centimetres_gives_the_same_keypoints(shared_data, tmp_path):
    source = shared_data / "cmu_mocap" / "01_01.bvh"
    head, motion = source.read_text().split("MOTION")
    cm = CMU_METRES_PER_UNIT * 100
    head = re.sub(r"(JOINT|ROOT) (\w+)", lambda m: f"{m[1]} mixamorig:"
                  f"{MIXAMO_FOR_CMU.get(m[2], m[2])}", head)
    head = re.sub(r"OFFSET (.+)", lambda m: "OFFSET " + " ".join(
        f"{float(v) * cm:.9g}" for v in m[1].split()), head)
    lines = motion.strip().splitlines()
    frames = np.array([line.split() for line in lines[2:302]], float)       # 2.5 s
    frames[:, :3] *= cm                                    # the root's position channels
    body = "\n".join(" ".join(f"{v:.9g}" for v in row) for row in frames)
    renamed = tmp_path / "mixamo_cm.bvh"
    renamed.write_text(f"{head}MOTION\nFrames: {len(frames)}\n{lines[1]}\n{body}\n")
    original = tmp_path / "cmu.bvh"
    original.write_text(f"{source.read_text().split('MOTION')[0]}MOTION\nFrames: "
                        f"{len(frames)}\n{lines[1]}\n" + "\n".join(lines[2:302]) + "\n")
    # the same motion; the text round trip keeps 9 digits, far under the 1 mm asked
    np.testing.assert_allclose(read_motion(renamed).xyz, read_motion(original).xyz,
                               rtol=0, atol=1e-3)


@pytest.mark.parametrize("name", FBX_CLIPS)
def test_every_fbx_clip_reads(shared_data, bpy, name):
    m = read_motion(shared_data / "cmu_mocap" / "fbx" / f"{name}.fbx")
    xyz = m.xyz[:, 0]
    assert m.fps == 30.0 and len(xyz) > 100 and np.isfinite(xyz).all()
    a, b = np.array([m.skeleton.indices(p) for p in LIMBS]).T
    lengths = np.linalg.norm(xyz[:, a] - xyz[:, b], axis=-1)                # (F, 9)
    # rigid bones: Blender evaluates in float32 (about 1e-7 relative), well under 1 mm
    assert np.ptp(lengths, axis=0).max() < 1e-3
    # nose height when upright (99th percentile): an adult's 1.4-2.0 m stature less ~10 cm
    nose = np.percentile(xyz[:, m.skeleton.index("nose"), 2], 99)
    assert 1.3 < nose < 1.9, nose
    # ankle centres stand 5-12 cm over the floor in the frames they are lowest
    ankles = xyz[:, [m.skeleton.index("left_ankle"), m.skeleton.index("right_ankle")], 2]
    assert 0.03 < np.percentile(ankles.min(axis=1), 5) < 0.12


def test_fbx_resamples(shared_data, bpy):
    path = shared_data / "cmu_mocap" / "fbx" / "85_03.fbx"
    at30, at15 = read_motion(path).xyz, read_motion(path, fps=15.0).xyz
    rel30, rel15 = at30 - at30[:, :, :1], at15 - at15[:, :, :1]             # placement aside
    # 15 fps falls on every other source frame, which is copied exactly (float rounding)
    np.testing.assert_allclose(rel15, rel30[::2], rtol=0, atol=1e-9)


def test_find_motion_files(shared_data, tmp_path):
    files = find_motion_files([shared_data / "cmu_mocap"])
    assert [f.name for f in files] == sorted(f"{n}.bvh" for n in CMU_CLIPS) + sorted(
        f"{n}.fbx" for n in FBX_CLIPS)
    (tmp_path / "notes.txt").write_text("no motion here")
    with pytest.raises(InputError, match=re.escape(f"{tmp_path}: no motion files (.bvh, .fbx)")):
        find_motion_files([tmp_path])
    with pytest.raises(InputError, match="not a motion file"):
        find_motion_files([tmp_path / "notes.txt"])
    with pytest.raises(InputError, match="no such file or folder"):
        find_motion_files([tmp_path / "absent"])


def test_unreadable_motion_file_names_itself(tmp_path):
    path = tmp_path / "broken.bvh"
    path.write_text("HIERARCHY\nROOT Hips\n{\n")
    with pytest.raises(RigError, match=re.escape(str(path))):
        read_motion(path)
