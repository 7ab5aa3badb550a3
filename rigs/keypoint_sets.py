"""The published keypoint sets as (joint name, parent name) lists; names are snake case.

Parents define the bones (a tree for every set); ``None`` marks the root.
"""

from __future__ import annotations

COCO17 = [
    ("nose", "left_shoulder"), ("left_eye", "nose"), ("right_eye", "nose"), ("left_ear", "left_eye"),
    ("right_ear", "right_eye"), ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
    ("left_elbow", "left_shoulder"), ("right_elbow", "right_shoulder"),
    ("left_wrist", "left_elbow"), ("right_wrist", "right_elbow"), ("left_hip", "right_hip"),
    ("right_hip", None), ("left_knee", "left_hip"), ("right_knee", "right_hip"),
    ("left_ankle", "left_knee"), ("right_ankle", "right_knee"),
]
# COCO's own bone list joins the face to the shoulders and the shoulders to each other.
COCO17_EXTRA_BONES = [("left_shoulder", "right_shoulder"), ("nose", "right_shoulder")]

HALPE26 = COCO17[:] + [
    ("head", "neck"), ("neck", "hip"), ("hip", None), ("left_big_toe", "left_ankle"),
    ("right_big_toe", "right_ankle"), ("left_small_toe", "left_ankle"),
    ("right_small_toe", "right_ankle"), ("left_heel", "left_ankle"),
    ("right_heel", "right_ankle"),
]
HALPE26[0] = ("nose", "head")
HALPE26[5] = ("left_shoulder", "neck")
HALPE26[6] = ("right_shoulder", "neck")
HALPE26[11] = ("left_hip", "hip")
HALPE26[12] = ("right_hip", "hip")

BODY25 = [
    ("nose", "neck"), ("neck", "mid_hip"), ("right_shoulder", "neck"),
    ("right_elbow", "right_shoulder"), ("right_wrist", "right_elbow"), ("left_shoulder", "neck"),
    ("left_elbow", "left_shoulder"), ("left_wrist", "left_elbow"), ("mid_hip", None),
    ("right_hip", "mid_hip"), ("right_knee", "right_hip"), ("right_ankle", "right_knee"),
    ("left_hip", "mid_hip"), ("left_knee", "left_hip"), ("left_ankle", "left_knee"),
    ("right_eye", "nose"), ("left_eye", "nose"), ("right_ear", "right_eye"),
    ("left_ear", "left_eye"), ("left_big_toe", "left_ankle"), ("left_small_toe", "left_ankle"),
    ("left_heel", "left_ankle"), ("right_big_toe", "right_ankle"),
    ("right_small_toe", "right_ankle"), ("right_heel", "right_ankle"),
]

# BODY_25B's joint 17 is OpenPose's "UpperNeck" (under the chin), not BODY_25's neck.
BODY25B = [
    ("nose", "upper_neck"), ("left_eye", "nose"), ("right_eye", "nose"), ("left_ear", "left_eye"),
    ("right_ear", "right_eye"), ("left_shoulder", "upper_neck"), ("right_shoulder", "upper_neck"),
    ("left_elbow", "left_shoulder"), ("right_elbow", "right_shoulder"),
    ("left_wrist", "left_elbow"), ("right_wrist", "right_elbow"), ("left_hip", "right_hip"),
    ("right_hip", None), ("left_knee", "left_hip"), ("right_knee", "right_hip"),
    ("left_ankle", "left_knee"), ("right_ankle", "right_knee"), ("upper_neck", "right_hip"),
    ("head_top", "upper_neck"), ("left_big_toe", "left_ankle"), ("left_small_toe", "left_ankle"),
    ("left_heel", "left_ankle"), ("right_big_toe", "right_ankle"),
    ("right_small_toe", "right_ankle"), ("right_heel", "right_ankle"),
]

BLAZEPOSE33 = [
    ("nose", "left_shoulder"), ("left_eye_inner", "nose"), ("left_eye", "left_eye_inner"),
    ("left_eye_outer", "left_eye"), ("right_eye_inner", "nose"), ("right_eye", "right_eye_inner"),
    ("right_eye_outer", "right_eye"), ("left_ear", "left_eye_outer"),
    ("right_ear", "right_eye_outer"), ("mouth_left", "nose"), ("mouth_right", "nose"),
    ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
    ("left_elbow", "left_shoulder"), ("right_elbow", "right_shoulder"),
    ("left_wrist", "left_elbow"), ("right_wrist", "right_elbow"), ("left_pinky", "left_wrist"),
    ("right_pinky", "right_wrist"), ("left_index", "left_wrist"), ("right_index", "right_wrist"),
    ("left_thumb", "left_wrist"), ("right_thumb", "right_wrist"), ("left_hip", "right_hip"),
    ("right_hip", None), ("left_knee", "left_hip"), ("right_knee", "right_hip"),
    ("left_ankle", "left_knee"), ("right_ankle", "right_knee"), ("left_heel", "left_ankle"),
    ("right_heel", "right_ankle"), ("left_foot_index", "left_ankle"),
    ("right_foot_index", "right_ankle"),
]
BLAZEPOSE33_EXTRA_BONES = [("left_shoulder", "right_shoulder"), ("nose", "right_shoulder"),
                           ("mouth_left", "mouth_right")]

H36M17 = [
    ("pelvis", None), ("right_hip", "pelvis"), ("right_knee", "right_hip"),
    ("right_ankle", "right_knee"), ("left_hip", "pelvis"), ("left_knee", "left_hip"),
    ("left_ankle", "left_knee"), ("spine", "pelvis"), ("thorax", "spine"), ("neck", "thorax"),
    ("head", "neck"), ("left_shoulder", "thorax"), ("left_elbow", "left_shoulder"),
    ("left_wrist", "left_elbow"), ("right_shoulder", "thorax"), ("right_elbow", "right_shoulder"),
    ("right_wrist", "right_elbow"),
]

# Rigid body parts by joint name, "{side}" standing for left and right: two joints of one part
# keep their distance however the body moves (a keypoint set's links between parts, such as neck
# to nose, the spine or shoulder to shoulder, bend). Midline parts hold both sides' joints; a
# limb's parts are one per side. The fingers and thumb bend, so the hand is wrist, index and
# pinky knuckles only.
MIDLINE_PARTS = [
    ("nose", "head", "head_top", "{side}_eye", "{side}_eye_inner", "{side}_eye_outer",
     "{side}_ear", "mouth_{side}"),
    ("pelvis", "hip", "mid_hip", "{side}_hip"),
]
LIMB_PARTS = [
    ("{side}_shoulder", "{side}_elbow"), ("{side}_elbow", "{side}_wrist"),
    ("{side}_wrist", "{side}_index", "{side}_pinky"),
    ("{side}_hip", "{side}_knee"), ("{side}_knee", "{side}_ankle"),
    ("{side}_ankle", "{side}_heel", "{side}_big_toe", "{side}_small_toe", "{side}_foot_index"),
]
# Joints of the trunk that belong to no rigid part: every link to them bends.
TRUNK_JOINTS = ("neck", "upper_neck", "spine", "thorax", "{side}_thumb")

KEYPOINT_SETS = {
    "coco17": (COCO17, COCO17_EXTRA_BONES),
    "halpe26": (HALPE26, [("left_shoulder", "right_shoulder")]),
    "body25": (BODY25, []),
    "body25b": (BODY25B, [("left_shoulder", "right_shoulder")]),
    "blazepose33": (BLAZEPOSE33, BLAZEPOSE33_EXTRA_BONES),
    "h36m17": (H36M17, []),
}
