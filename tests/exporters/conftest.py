"""Rig animations for the BVH and FBX tests (a real CMU take and a small synthetic rig), and
joint positions read back from Blender."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from exporters.bvh import rig_animation_from_bvh
from rigs.bvh import CMU_METRES_PER_UNIT, Y_UP_TO_Z_UP, axis_rotation, read_bvh
from rigs.quaternions import continuous, from_matrix
from rigs.rig import Rig, RigAnimation

STANDING_SECONDS = 0.5        # CMU 131_01 starts standing still


@pytest.fixture(scope="session")
def cmu_animation(shared_data: Path) -> RigAnimation:
    """CMU 131_01 (start, walk, stop; 994 frames at 120 Hz) as a RigAnimation, metres."""
    motion = read_bvh(shared_data / "cmu_mocap" / "131_01.bvh", scale=CMU_METRES_PER_UNIT)
    return rig_animation_from_bvh(motion, name="cmu")


def _toy_animation(n_frames: int = 60, seed: int = 0, person_id: int = 0) -> RigAnimation:
    """A 6-bone rig turned by uniformly random rotations; frames 5-9 put every bone in the
    gimbal lock of the default BVH order ZXY (90 degrees about the file's X, our X);
    ``n_frames`` >= 10. The rig lists the hip's leg before the spine's children, as the
    humanoid rig does: BVH's depth-first nesting orders them otherwise."""
    offsets = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 0.3], [-0.1, 0.0, -0.1], [0.0, 0.0, 0.4],
                        [0.2, 0.0, 0.2], [0.3, 0.0, 0.0]])
    parents = (-1, 0, 0, 1, 1, 4)
    tails = np.array([offsets[1], offsets[3], [0, 0, -0.45], [0, 0, 0.1], offsets[5],
                      [0.25, 0, 0]])
    rig = Rig(name="toy", bones=("hips", "spine", "thigh.R", "head", "upper_arm.L",
                                 "forearm.L"),
              parents=parents, offsets=offsets, tails=tails, keypoints=("",) * 6)
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n_frames, len(rig), 4))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    y_up_locked = (axis_rotation(2, rng.uniform(-3, 3, (5, len(rig))))
                   @ axis_rotation(0, np.full((5, len(rig)), np.pi / 2))
                   @ axis_rotation(1, rng.uniform(-3, 3, (5, len(rig)))))  # Rz Rx(90) Ry
    q[5:10] = from_matrix(Y_UP_TO_Z_UP @ y_up_locked @ Y_UP_TO_Z_UP.T)
    root = np.array([0.0, 0.0, 1.0]) + rng.normal(scale=0.3, size=(n_frames, 3))
    return RigAnimation(rig=rig, root_translation=root, local_rotations=continuous(q),
                        fps=30.0, person_id=person_id)


@pytest.fixture(scope="session")
def toy_animation() -> Callable[..., RigAnimation]:
    """The factory of toy animations: (n_frames=60, seed=0, person_id=0) -> RigAnimation."""
    return _toy_animation


@pytest.fixture(scope="session")
def blender_joint_positions() -> Callable[[object, tuple[str, ...], int, int], np.ndarray]:
    """A function (armature object, bone names, first frame, F) -> (F, B, 3) world positions
    of the bones' heads in Blender, frame by frame."""

    def read(obj, bones: tuple[str, ...], first_frame: int, n_frames: int) -> np.ndarray:
        import bpy

        names = [bone.name for bone in obj.pose.bones]
        order = [names.index(bone) for bone in bones]
        heads = np.empty((n_frames, len(names) * 3))
        for f in range(n_frames):
            bpy.context.scene.frame_set(first_frame + f)
            obj.pose.bones.foreach_get("head", heads[f])
        world = np.array(obj.matrix_world)                                   # (4, 4)
        return heads.reshape(n_frames, -1, 3)[:, order] @ world[:3, :3].T + world[:3, 3]

    return read
