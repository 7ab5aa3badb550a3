"""Joints one camera saw, placed on that camera's ray where a rigid bone reaches it.

A joint the triangulation left missing but one camera saw, tied by a rigid bone to a joint
triangulated in the same frame, joins the skeleton adjustment with that one view: the view holds
it to a ray, the bone's length and the smoothness place it along the ray. The sphere about the
bone's other end meets the ray twice, and the adjustment (a local solver) stays with the one the
joint starts at: it starts at the one nearer its lifted position where the lifter gave one, else
nearer its own track interpolated in time.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from calibration.camera import CameraRig
from rigs.motion import TRIANGULATED, Motion3D

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

# A single view must pass within this share of each rigid bone's length (plus the floor) of
# the bone's other joint, and within TRACK_M of the joint's own track interpolated in time:
# else it is a wrong detection (CMU takes with 8 % confident outliers: one such view placed a
# heel 378 mm off, the rest are within 13 mm). Deep in a gap the straight line between the
# frames around it says little (CMU 131_03's right wrist, hidden from all cameras but one for
# a second, strays up to 0.5 m from it, 1.4 m/s away from its ends): the gate widens by
# TRACK_SPEED_M_S for every second to the nearest frame the joint was triangulated in. A view
# within LIFTED_GATE_M of the joint's lifted position (the lifter's error on held-out motion
# stays under 0.25 m) passes too.
REACH_SHARE, REACH_FLOOR_M = 1.25, 0.02
TRACK_M = 0.1
TRACK_SPEED_M_S = 2.0
LIFTED_GATE_M = 0.3

def with_single_views(rig: CameraRig, xy: FloatArray, usable: BoolArray, motion: Motion3D,
                      views_kept: BoolArray, rigid: BoolArray, lifted: FloatArray | None = None
                      ) -> tuple[Motion3D, BoolArray]:
    """The motion and views with the joints one camera saw added (see the module's doc).

    Args:
        xy: (C, F, P, J, 2) pixels; usable: (C, F, P, J) views good enough to place a joint.
        motion: xyz (F, P, J, 3) triangulated; views_kept (C, F, P, J) its views.
        rigid: (P, B) the skeleton's links whose length holds (the others place nothing).
        lifted: (F, P, J, 3) the lifter's positions (NaN where none), or None.
    Returns:
        The motion with those joints started (n_views 1), and the views with theirs kept.
    """
    present = np.isfinite(motion.xyz).all(-1)                              # (F, P, J)
    usable = usable & np.isfinite(xy).all(-1)
    bones = np.asarray(motion.skeleton.bones).reshape(-1, 2)
    n_joints = len(motion.skeleton)
    length = np.full((motion.n_people, n_joints, n_joints), np.nan)       # rigid bones' lengths
    median = np.where(rigid, _median_lengths(motion), np.nan)              # (P, B)
    length[:, bones[:, 0], bones[:, 1]] = length[:, bones[:, 1], bones[:, 0]] = median
    linked = np.isfinite(length)
    tied = (present[:, :, None, :] & linked[None]).any(-1)                 # (F, P, J)
    track, gap = _interpolated(motion.xyz)
    single = ~present & (usable.sum(0) == 1) & tied & np.isfinite(track).all(-1)
    if not single.any():
        return motion, views_kept
    camera = np.argmax(usable, axis=0)[single]                            # (S,)
    ideal = np.stack([cam.undistort(xy[c][single]) for c, cam in enumerate(rig)])
    ray = np.concatenate([ideal[camera, np.arange(len(camera))], np.ones((len(camera), 1))], -1)
    ray = np.einsum("sji,sj->si", rig.extrinsics[camera, :, :3], ray)     # R^T (u, v, 1)
    ray /= np.linalg.norm(ray, axis=-1, keepdims=True)
    centre = rig.centers[camera]
    # a view no rigid neighbour can reach, or far off the joint's own track, is a wrong one
    frame, person, joint = np.nonzero(single)
    others = motion.xyz[frame, person]                                    # (S, J, 3)
    reach = np.where(linked, REACH_SHARE * length + REACH_FLOOR_M, np.inf)[person, joint]
    fits = ((_ray_distance(others, centre[:, None], ray[:, None]) <= reach)
            | ~np.isfinite(others).all(-1)).all(-1)
    gate = TRACK_M + TRACK_SPEED_M_S * gap[single] / motion.fps
    near = _ray_distance(track[single], centre, ray) <= gate
    if lifted is not None:
        near |= _ray_distance(lifted[single], centre, ray) <= LIFTED_GATE_M   # NaN: False
    fits &= near
    single[single] = fits
    frame, person, joint, centre, ray = (a[fits] for a in (frame, person, joint, centre, ray))
    neighbour = np.argmax(linked[person, joint] & present[frame, person], axis=-1)    # (S,)
    candidates = _bone_points(centre, ray, motion.xyz[frame, person, neighbour],
                              length[person, joint, neighbour])                # (S, 2, 3)
    guide = track[single]
    if lifted is not None:
        guide = np.where(np.isfinite(lifted[single]).all(-1, keepdims=True), lifted[single], guide)
    nearer = np.argmin(np.linalg.norm(candidates - guide[:, None], axis=-1), -1)
    xyz, n_views = motion.xyz.copy(), motion.n_views.copy()
    xyz[single] = candidates[np.arange(len(nearer)), nearer]
    n_views[single] = 1
    source = np.where(single, TRIANGULATED, motion.source)
    kept = views_kept.copy()
    kept[:, single] = usable[:, single]
    return replace(motion, xyz=xyz, n_views=n_views, source=source), kept


def _bone_points(centre: FloatArray, ray: FloatArray, other_end: FloatArray, length: FloatArray
                 ) -> FloatArray:
    """(S, 2, 3) the points of the rays (from ``centre`` (S, 3) along unit ``ray`` (S, 3)) at
    ``length`` (S,) from the bone's ``other_end`` (S, 3), nearer first: twice the nearest point
    of the ray to it where the sphere misses the ray; never behind the camera."""
    offset = other_end - centre
    along = np.einsum("si,si->s", offset, ray)
    across_sq = np.einsum("si,si->s", offset, offset) - along**2
    half = np.sqrt(np.maximum(length**2 - across_sq, 0.0))
    depth = np.maximum(along[:, None] + np.stack([-half, half], -1), 1e-3)       # (S, 2)
    return centre[:, None] + depth[..., None] * ray[:, None]


def _ray_distance(points: FloatArray, centre: FloatArray, ray: FloatArray) -> FloatArray:
    """(...) metres from points (..., 3) to the rays from ``centre`` along unit ``ray``."""
    offset = points - centre
    along = np.einsum("...i,...i->...", offset, ray)[..., None] * ray
    return np.linalg.norm(offset - along, axis=-1)


def _median_lengths(motion: Motion3D) -> FloatArray:
    """(P, B) each link's median length over the frames that have both its joints."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)                   # links never seen
        return np.nanmedian(motion.skeleton.bone_lengths(motion.xyz), axis=0)


def _interpolated(xyz: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(F, ..., 3) positions with each missing frame linearly interpolated between the nearest
    frames it has on either side (the nearest one at the ends), NaN where it has none; and
    (F, ...) the frames from each to the nearest frame it has (0 where it is there)."""
    frames = np.arange(len(xyz)).reshape((-1,) + (1,) * (xyz.ndim - 2))
    valid = np.isfinite(xyz).all(-1)
    before = np.maximum.accumulate(np.where(valid, frames, -1), axis=0)
    after = np.minimum.accumulate(np.where(valid, frames, len(xyz))[::-1], axis=0)[::-1]
    before, after = np.where(before < 0, after, before), np.where(after >= len(xyz), before, after)
    if not len(xyz):
        return xyz.copy(), np.zeros(xyz.shape[:-1])
    a = np.take_along_axis(xyz, np.clip(before, 0, len(xyz) - 1)[..., None], axis=0)
    b = np.take_along_axis(xyz, np.clip(after, 0, len(xyz) - 1)[..., None], axis=0)
    share = np.where(after > before, (frames - before) / np.maximum(after - before, 1), 0.0)
    out = a + share[..., None] * (b - a)
    out[(before < 0) | (before >= len(xyz))] = np.nan
    return out, np.minimum(np.abs(frames - before), np.abs(after - frames)).astype(float)
