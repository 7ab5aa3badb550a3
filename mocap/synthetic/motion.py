"""Procedural human motion with ground truth: people walking around the volume and waving.

Every point hangs off its parent at a fixed distance (forward kinematics), so bone lengths are
constant by construction. The body model names its points with the snake-case names of the
published keypoint sets, so any set (COCO-17, BlazePose-33, Halpe-26, BODY_25...) can be read
off it; points the model does not have come back NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from calibration.rotations import rot_x, rot_y, rot_z
from rigs.motion import Motion3D
from rigs.skeleton import Skeleton, get_skeleton

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class PersonStyle:
    """How one synthetic person looks and moves."""

    height_scale: float = 1.0           # 1.0 is a 1.75 m adult
    path_radius: float = 0.9            # metres; radius of the walked circle around ``centre``
    centre: tuple[float, float] = (0.0, 0.0)
    speed: float = 0.7                  # m/s along the path (negative walks clockwise)
    phase: float = 0.0                  # radians along the path at t = 0
    step_rate: float = 0.9              # strides per second
    wave_from: float = 0.5              # fraction of the clip after which the right hand waves


_DOWN = np.array([0.0, 0.0, -1.0])
RAISE_S = 0.6                           # seconds the waving arm takes to rise (elbow 1.8 m/s)


def _limb(start: FloatArray, rot: FloatArray, length: float) -> FloatArray:
    """(F, 3) end of a segment of ``length`` hanging from ``start`` turned by ``rot`` (F, 3, 3)."""
    return start + length * (rot @ _DOWN)


def body_points(t: FloatArray, style: PersonStyle = PersonStyle()) -> dict[str, FloatArray]:
    """Named 3D points of one person at times ``t`` (F,) seconds, in a Z-up world (metres).

    Returns:
        name -> (F, 3) positions.
    """
    s = style.height_scale
    duration = max(float(t[-1] - t[0]), 1e-9)
    gait = 2 * np.pi * style.step_rate * t                                   # (F,)
    angle = style.phase + style.speed * t / style.path_radius                # along the circle
    heading = angle + np.sign(style.speed) * np.pi / 2                       # tangent direction
    root = np.stack([style.centre[0] + style.path_radius * np.cos(angle),
                     style.centre[1] + style.path_radius * np.sin(angle),
                     s * (0.95 + 0.015 * np.cos(2 * gait))], -1)             # (F, 3) pelvis
    body = rot_z(heading)                                                    # local x forward

    def at(offset: FloatArray | list[float], base: FloatArray = root,
           rot: FloatArray = body) -> FloatArray:
        return base + rot @ (s * np.asarray(offset, float))

    pts: dict[str, FloatArray] = {"pelvis": root, "mid_hip": root, "hip": root}
    torso = body @ rot_y(np.radians(4 + 2 * np.sin(2 * gait))) @ rot_z(0.08 * np.sin(gait))
    pts["spine"] = at([0, 0, 0.25], root, torso)
    pts["thorax"] = at([0, 0, 0.48], root, torso)
    pts["neck"] = at([0, 0, 0.55], root, torso)
    head = torso @ rot_y(np.radians(8 * np.sin(0.5 * gait))) @ rot_z(0.25 * np.sin(0.3 * gait))
    head_c = at([0.0, 0, 0.12], pts["neck"], head)
    for name, off in _FACE.items():
        pts[name] = at(off, head_c, head)
    pts["head"] = pts["head_top"] = at([-0.01, 0, 0.11], head_c, head)

    # the arm rises over RAISE_S, easing in and out (a share of the clip made a short clip's
    # arm jump: 142 degrees in 1.5 frames of a 30-frame take, the elbow at 13 m/s)
    rise = np.clip((t - t[0] - style.wave_from * duration) / RAISE_S, 0.0, 1.0)
    waving = rise * rise * (3 - 2 * rise)                                    # 0 -> 1, smooth
    for side, sign in (("left", 1.0), ("right", -1.0)):
        leg_phase = gait + (0 if side == "left" else np.pi)
        hip_flex = np.radians(25) * np.sin(leg_phase)
        knee_flex = np.radians(5 + 55 * np.clip(np.sin(leg_phase - 1.2), 0, None) ** 2)
        pts[f"{side}_hip"] = at([0, sign * 0.095, -0.02])
        thigh = body @ rot_y(hip_flex)
        pts[f"{side}_knee"] = _limb(pts[f"{side}_hip"], thigh, s * 0.43)
        shin = thigh @ rot_y(-knee_flex)
        pts[f"{side}_ankle"] = _limb(pts[f"{side}_knee"], shin, s * 0.42)
        for name, off in _FOOT.items():
            pts[f"{side}_{name}"] = at(off, pts[f"{side}_ankle"])

        swing = np.radians(20) * np.sin(leg_phase + np.pi)
        wave = waving if side == "right" else np.zeros_like(t)
        abduct = wave * np.radians(142) + np.radians(8)
        elbow = np.radians(20) + wave * np.radians(5 + 25 * np.sin(2 * np.pi * 1.6 * t))
        pts[f"{side}_shoulder"] = at([0, sign * 0.185, 0.46], root, torso)
        upper = torso @ rot_x(-sign * abduct) @ rot_y(swing * (1 - wave))
        pts[f"{side}_elbow"] = _limb(pts[f"{side}_shoulder"], upper, s * 0.29)
        fore = upper @ rot_y(elbow)
        pts[f"{side}_wrist"] = _limb(pts[f"{side}_elbow"], fore, s * 0.26)
        for name, off in _HAND.items():
            pts[f"{side}_{name}"] = at([off[0], sign * off[1], off[2]], pts[f"{side}_wrist"], fore)
        for name, off in _SIDE_FACE.items():
            pts[name.format(side=side)] = at([off[0], sign * off[1], off[2]], head_c, head)
    return pts


_FACE = {"nose": [0.10, 0.0, -0.01]}
_SIDE_FACE = {
    "{side}_eye": [0.085, 0.033, 0.025], "{side}_eye_inner": [0.09, 0.018, 0.025],
    "{side}_eye_outer": [0.08, 0.048, 0.025], "{side}_ear": [0.0, 0.075, 0.0],
    "mouth_{side}": [0.085, 0.025, -0.045],
}
_FOOT = {"heel": [-0.05, 0.0, -0.06], "foot_index": [0.15, 0.0, -0.07],
         "big_toe": [0.16, -0.01, -0.07], "small_toe": [0.13, 0.035, -0.07]}
_HAND = {"pinky": [0.01, 0.03, -0.08], "index": [0.0, -0.02, -0.09], "thumb": [0.03, -0.03, -0.05]}


def synthetic_motion(skeleton: str | Skeleton = "coco17", *, n_frames: int = 240,
                     fps: float = 30.0, people: list[PersonStyle] | None = None) -> Motion3D:
    """Ground-truth motion of ``people`` (default: one person walking, then waving).

    Returns:
        Motion3D with xyz (F, P, J, 3); joints the body model lacks are NaN.
    """
    skel = get_skeleton(skeleton) if isinstance(skeleton, str) else skeleton
    people = people if people is not None else [PersonStyle()]
    t = np.arange(n_frames) / fps
    xyz = np.full((n_frames, len(people), len(skel), 3), np.nan)
    for p, style in enumerate(people):
        pts = body_points(t, style)
        for j, name in enumerate(skel.joints):
            if name in pts:
                xyz[:, p, j] = pts[name]
    return Motion3D(xyz=xyz, skeleton=skel, fps=fps)
