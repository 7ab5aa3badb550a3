"""Writers (and readers) of motion files: points3d.npz, TRC, C3D, CSV/JSON, BVH, FBX and
robot trajectories. FBX (bpy) and C3D (ezc3d) import their optional packages when called."""

from exporters.bvh import rig_animation_from_bvh, write_bvh
from exporters.c3d import read_c3d, write_c3d
from exporters.errors import ExportError
from exporters.fbx import write_fbx
from exporters.points3d import read_points3d, write_points3d
from exporters.robot import write_hand_trajectory, write_joint_trajectory
from exporters.tables import read_motion_csv, read_motion_json, write_motion_csv, write_motion_json
from exporters.trc import read_trc, write_trc

__all__ = ["ExportError", "read_c3d", "read_motion_csv", "read_motion_json", "read_points3d",
           "read_trc", "rig_animation_from_bvh", "write_bvh", "write_c3d", "write_fbx",
           "write_hand_trajectory", "write_joint_trajectory", "write_motion_csv",
           "write_motion_json", "write_points3d", "write_trc"]
