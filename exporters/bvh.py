"""BVH motion files from a RigAnimation, and RigAnimations from BVH files.

The file is Y up (x_bvh = x, y_bvh = z, z_bvh = -y), as BVH readers expect: the rig, which faces
-Y in our Z-up world, faces +Z in the file, and Blender's importer with its default axes
(forward -Z, up Y) stands it upright on its floor again. Lengths are in ``units`` (metres or
centimetres); angles in degrees.

Channels: the root has ``Xposition Yposition Zposition`` then its three rotations, every other
bone its three rotations, in ``rotation_order``. The default, ``ZXY`` (the rotation is
``Rz @ Rx @ Ry``, Y innermost), is the order of MotionBuilder's and Second Life's BVH files; the
Euler angles lose a degree of freedom (gimbal lock) where the middle angle is +-90 degrees, there
the innermost angle is written as 0 and the outermost takes the whole turn. Each angle's track
is unwrapped over frames, so it never jumps by 360 degrees between frames.

Leaves get an ``End Site`` at their rig tail. Frames the rig was not fitted in (NaN) hold the
nearest fitted frame before them (the first fitted one for leading frames): BVH has no gaps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from exporters.atomic import atomic_output
from exporters.errors import ExportError
from exporters.trc import Z_UP_TO_Y_UP
from rigs.bvh import Y_UP_TO_Z_UP, BvhMotion, forward_kinematics
from rigs.quaternions import continuous, from_matrix, to_matrix
from rigs.rig import Rig, RigAnimation

FloatArray = NDArray[np.float64]

METRES_PER_UNIT = {"m": 1.0, "cm": 0.01}
ROTATION_ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")
MIN_TAIL = 1e-6        # metres: a bone tail shorter than this is no direction for the bone


def write_bvh(animation: RigAnimation, path: str | Path, *, units: str = "m",
              rotation_order: str = "ZXY") -> Path:
    """Write ``animation`` as a Y-up BVH file, atomically.

    Args:
        animation: the motion (Z-up world, metres; see rigs/rig.py).
        path: output .bvh file.
        units: "m" or "cm", the unit of OFFSETs and positions in the file.
        rotation_order: the three rotation channels of every joint, outermost first.
    Returns:
        ``path``.
    """
    path = Path(path)
    if units not in METRES_PER_UNIT:
        raise ExportError(f"{path}: units must be one of {sorted(METRES_PER_UNIT)}, got "
                          f"'{units}'")
    order = rotation_order.upper()
    if order not in ROTATION_ORDERS:
        raise ExportError(f"{path}: rotation_order must be one of {', '.join(ROTATION_ORDERS)}, "
                          f"got '{rotation_order}'")
    root, rotations = held_fitted_frames(animation, path)
    scale = 1.0 / METRES_PER_UNIT[units]
    rig = animation.rig
    y_up_rotations = Z_UP_TO_Y_UP @ to_matrix(rotations) @ Y_UP_TO_Z_UP       # (F, B, 3, 3)
    angles = np.degrees(np.unwrap(euler_angles(y_up_rotations, order), axis=0))  # (F, B, 3)
    hierarchy, nesting = _hierarchy(rig, scale, order)
    values = np.concatenate([(root @ Z_UP_TO_Y_UP.T) * scale,                # channels follow
                             angles[:, nesting].reshape(len(angles), -1)], axis=1)  # the nesting
    rows = [" ".join(row) for row in np.char.mod("%.8f", values).tolist()]
    text = "\n".join(hierarchy + ["MOTION", f"Frames: {len(values)}",
                                  f"Frame Time: {1.0 / animation.fps:.8f}"] + rows) + "\n"
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def held_fitted_frames(animation: RigAnimation, path: Path) -> tuple[FloatArray, FloatArray]:
    """Root translations (F, 3) and local rotations (F, B, 4) with every unfitted frame (NaN
    anywhere in it) replaced by the last fitted frame before it, or the first fitted frame."""
    fitted = (np.isfinite(animation.root_translation).all(axis=1)
              & np.isfinite(animation.local_rotations).all(axis=(1, 2)))       # (F,)
    if not fitted.any():
        raise ExportError(f"{path}: the rig was fitted in none of the {animation.n_frames} "
                          "frames (all NaN); nothing to write")
    last_fitted = np.maximum.accumulate(np.where(fitted, np.arange(len(fitted)), -1))
    source = np.where(last_fitted >= 0, last_fitted, np.argmax(fitted))       # (F,)
    return animation.root_translation[source], animation.local_rotations[source]


def euler_angles(R: FloatArray, order: str) -> FloatArray:
    """(..., 3, 3) rotations to (..., 3) radians (a, b, c) with R = R_i(a) R_j(b) R_k(c) for
    ``order`` = "ijk" (e.g. "ZXY"); at gimbal lock (|b| = 90 degrees) c is 0."""
    i, j, k = ("XYZ".index(axis) for axis in order)
    sign = 1.0 if (j - i) % 3 == 1 else -1.0          # +1 for the cyclic orders XYZ, YZX, ZXY
    cos_b = np.hypot(R[..., i, i], R[..., i, j])
    b = np.arctan2(sign * R[..., i, k], cos_b)
    locked = cos_b < 1e-9
    a = np.where(locked, np.arctan2(sign * R[..., k, j], R[..., j, j]),
                 np.arctan2(-sign * R[..., j, k], R[..., k, k]))
    c = np.where(locked, 0.0, np.arctan2(-sign * R[..., i, j], R[..., i, i]))
    return np.stack([a, b, c], axis=-1)


def _hierarchy(rig: Rig, scale: float, order: str) -> tuple[list[str], list[int]]:
    """The HIERARCHY section's lines, bones nested depth-first as BVH requires, and the bones
    in that order (the order of the MOTION section's channels; a rig's own order may list a
    hip's leg before the spine's last child)."""
    children: list[list[int]] = [[] for _ in rig.bones]
    for b, p in enumerate(rig.parents):
        if p >= 0:
            children[p].append(b)
    rotation_channels = " ".join(f"{axis}rotation" for axis in order)
    lines, nesting = ["HIERARCHY"], []

    def y_up(offset: FloatArray) -> str:
        return " ".join(f"{x:.8f}" for x in (Z_UP_TO_Y_UP @ offset) * scale)

    def bone(b: int, depth: int) -> None:
        pad = "\t" * depth
        kind = "ROOT" if depth == 0 else "JOINT"
        channels = (f"6 Xposition Yposition Zposition {rotation_channels}" if depth == 0
                    else f"3 {rotation_channels}")
        offset = np.zeros(3) if depth == 0 else rig.offsets[b]
        nesting.append(b)
        lines.extend([f"{pad}{kind} {rig.bones[b]}", f"{pad}{{", f"{pad}\tOFFSET {y_up(offset)}",
                      f"{pad}\tCHANNELS {channels}"])
        for child in children[b]:
            bone(child, depth + 1)
        if not children[b]:
            lines.extend([f"{pad}\tEnd Site", f"{pad}\t{{",
                          f"{pad}\t\tOFFSET {y_up(rig.tails[b])}", f"{pad}\t}}"])
        lines.append(f"{pad}}}")

    bone(0, 0)
    return lines, nesting


def rig_animation_from_bvh(motion: BvhMotion, *, name: str = "bvh") -> RigAnimation:
    """A BVH file's motion (Y up, as read with ``rigs.bvh.read_bvh`` and its ``scale`` giving
    metres) as a RigAnimation in our Z-up world.

    The rest pose (the file's OFFSETs) stands with its lowest point on the floor. Joints
    become bones, end sites become their parents' tails; a bone's tail is its first
    child with a non-zero offset (or a leaf's end site; else a tenth of its own offset).
    Position channels are used on the root only; other joints may list them if they hold
    their OFFSET in every frame.

    Raises:
        ExportError: several roots, or a non-root joint whose position channels move.
    """
    skel = motion.skeleton
    if sum(p < 0 for p in skel.parents) != 1:
        raise ExportError(f"{motion.source}: a rig needs exactly one ROOT, the file has "
                          f"{sum(p < 0 for p in skel.parents)}")
    rotations, translations = motion.local_transforms()         # (F, J, 3, 3), (F, J, 3)
    moving = np.ptp(translations[:, 1:], axis=0).max(initial=0.0) > 1e-9
    if moving:
        raise ExportError(f"{motion.source}: joints other than the root move along their "
                          "position channels; a rig animates the root's position only")
    joints = [j for j, end in enumerate(skel.end_site) if not end]
    bone_of = {j: b for b, j in enumerate(joints)}
    offsets = translations[0] @ Y_UP_TO_Z_UP.T                    # (J, 3) metres, Z up
    offsets[0] = 0.0
    rest = forward_kinematics(skel.parents, np.eye(3)[None, None].repeat(len(skel), 1),
                              offsets[None])[1][0]               # (J, 3) rest, root at 0
    offsets[0, 2] = -rest[:, 2].min()                             # rest pose on the floor
    tails = np.empty((len(joints), 3))
    for b, j in enumerate(joints):
        reach = [c for c, p in enumerate(skel.parents)
                 if p == j and np.linalg.norm(offsets[c]) > MIN_TAIL]
        tails[b] = offsets[reach[0]] if reach else 0.1 * offsets[j]
    rig = Rig(name=name, bones=tuple(skel.names[j] for j in joints),
              parents=tuple(bone_of.get(skel.parents[j], -1) for j in joints),
              offsets=offsets[joints], tails=tails, keypoints=("",) * len(joints))
    z_up = Y_UP_TO_Z_UP @ rotations[:, joints] @ Y_UP_TO_Z_UP.T               # (F, B, 3, 3)
    return RigAnimation(rig=rig, root_translation=translations[:, joints[0]] @ Y_UP_TO_Z_UP.T,
                        local_rotations=continuous(from_matrix(z_up)), fps=motion.fps)
