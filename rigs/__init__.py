"""Skeletons, keypoint sets, 3D motion, rigs and the math that connects them (rig fitting:
``rigs.rig_fit``, robot arms: ``rigs.urdf_arm`` and ``rigs.robot_ik``)."""

from rigs.errors import RigError, UnknownSkeletonError
from rigs.motion import FILLED, LIFTED, MISSING, TRIANGULATED, Motion3D
from rigs.rig import Rig, RigAnimation
from rigs.skeleton import Skeleton, get_skeleton, skeleton_names

__all__ = [
           "FILLED",
           "LIFTED",
           "MISSING",
           "TRIANGULATED",
           "Motion3D",
           "Rig",
           "RigAnimation",
           "RigError",
           "Skeleton",
           "UnknownSkeletonError",
           "get_skeleton",
           "skeleton_names",
]
