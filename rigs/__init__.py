"""Skeletons, keypoint sets, 3D motion and (later) rigs and the math that connects them."""

from rigs.errors import RigError, UnknownSkeletonError
from rigs.motion import FILLED, LIFTED, MISSING, TRIANGULATED, Motion3D
from rigs.skeleton import Skeleton, get_skeleton, skeleton_names

__all__ = [
           "FILLED",
           "LIFTED",
           "MISSING",
           "TRIANGULATED",
           "Motion3D",
           "RigError",
           "Skeleton",
           "UnknownSkeletonError",
           "get_skeleton",
           "skeleton_names",
]
