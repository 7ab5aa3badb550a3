"""Hand poses for robot teaching: a 6-DoF wrist trajectory and a gripper aperture from keypoints.

Position: the wrist keypoint (the robot's tool frame is the flange; a gripper's own offset
belongs to the robot's URDF or tool transform, not to the recording).

Orientation, a right-handed frame per frame (columns of the (3, 3) rotation, in the motion's
frame):

- with hand points (BlazePose: ``*_index``, ``*_pinky`` knuckles): x from the wrist to the
  midpoint of the index and pinky knuckles (along the hand); z the palm normal, pointing out of
  the palm (the side a gripper approaches from): ``(index - wrist) x (pinky - wrist)`` for the
  right hand, its negative for the left, made perpendicular to x; y = z x x (towards the little
  finger of a right hand, the thumb of a left one).
- without them (COCO-17 and other sets with only the wrist): x along the forearm (elbow to
  wrist) and z the part of world down (-Z) perpendicular to it, as for a palm facing the floor;
  where the forearm is within 10 degrees of vertical, world +X replaces world down.

Aperture (gripper opening): the distance in metres between the thumb tip and the index knuckle,
where the set has ``*_thumb`` and ``*_index``; None otherwise.

Missing data: a frame whose needed keypoints are NaN gets NaN position, rotation or aperture
(each from its own points); frames are never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rigs.errors import RigError
from rigs.motion import Motion3D

FloatArray = NDArray[np.float64]

_VERTICAL_COS = np.cos(np.radians(10.0))


@dataclass(frozen=True)
class HandTrajectory:
    """A 6-DoF hand (tool) trajectory.

    Attributes:
        time: (F,) seconds from the first frame.
        position: (F, 3) metres; NaN where unknown.
        rotation: (F, 3, 3) frame axes as columns; NaN where unknown.
        aperture: (F,) gripper opening in metres (NaN where unknown), or None.
        frame: the frame the poses are in ("world" or "robot_base").
    """

    time: FloatArray
    position: FloatArray
    rotation: FloatArray
    aperture: FloatArray | None
    frame: str = "world"

    def __post_init__(self) -> None:
        f = len(self.time)
        if self.position.shape != (f, 3) or self.rotation.shape != (f, 3, 3) or (
                self.aperture is not None and self.aperture.shape != (f,)):
            raise RigError(f"HandTrajectory needs time (F,), position (F, 3), rotation "
                           f"(F, 3, 3), aperture (F,) or None with one F; got {f} times, "
                           f"{self.position.shape}, {self.rotation.shape}, "
                           f"{None if self.aperture is None else self.aperture.shape}")


def hand_poses(motion: Motion3D, side: str = "right", person: int = 0) -> HandTrajectory:
    """The ``side`` hand's poses of person slot ``person``, in the motion's (world) frame.

    Args:
        motion: xyz (F, P, J, 3) metres; needs ``{side}_wrist`` and ``{side}_elbow``.
        side: "right" or "left".
        person: index into the P person slots.
    Returns:
        HandTrajectory in frame "world" (see the module docstring for the axes).
    Raises:
        RigError: unknown side, person slot out of range, or no wrist/elbow in the set.
    """
    if side not in ("right", "left"):
        raise RigError(f"side must be 'right' or 'left', got {side!r}")
    if not 0 <= person < motion.n_people:
        raise RigError(f"person {person} is out of range: the motion has {motion.n_people} "
                       "person slots")
    joints = motion.skeleton.joints
    points = {name: motion.xyz[:, person, joints.index(f"{side}_{name}")]
              for name in ("wrist", "elbow", "index", "pinky", "thumb")
              if f"{side}_{name}" in joints}                                 # each (F, 3)
    if "wrist" not in points or "elbow" not in points:
        raise RigError(f"keypoint set {motion.skeleton.name} has no {side}_wrist and "
                       f"{side}_elbow; hand poses need both")
    wrist = points["wrist"]
    if "index" in points and "pinky" in points:
        index, pinky = points["index"] - wrist, points["pinky"] - wrist
        x = (index + pinky) / 2
        normal = np.cross(index, pinky) * (1.0 if side == "right" else -1.0)
    else:
        x = wrist - points["elbow"]
        x_unit = x / np.linalg.norm(x, axis=-1, keepdims=True)
        vertical = np.abs(x_unit[:, 2:]) > _VERTICAL_COS                     # (F, 1)
        normal = np.where(vertical, [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]) * np.ones_like(x)
    aperture = None
    if "thumb" in points and "index" in points:
        aperture = np.linalg.norm(points["thumb"] - points["index"], axis=-1)
    time = np.arange(motion.n_frames) / motion.fps
    return HandTrajectory(time, wrist.copy(), frame_from_axes(x, normal), aperture)


def frame_from_axes(x: FloatArray, z_hint: FloatArray) -> FloatArray:
    """(F, 3, 3) right-handed frames: x along ``x``, z the part of ``z_hint`` perpendicular to it.

    Args:
        x, z_hint: (F, 3) directions (any length); NaN or parallel inputs give a NaN frame.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        x = x / np.linalg.norm(x, axis=-1, keepdims=True)
        z = z_hint - np.einsum("fi,fi->f", z_hint, x)[:, None] * x
        norm = np.linalg.norm(z, axis=-1, keepdims=True)
        z = np.where(norm > 1e-9, z, np.nan) / norm
    return np.stack([x, np.cross(z, x), z], axis=-1)
