"""Several people: each camera's detections matched across cameras, then followed in 3D.

A detector lists the people it sees in each camera in an order of its own. In every frame, pairs
of detections of two cameras whose joints lie on each other's epipolar lines are joined into
groups, cheapest pair first (a union-find over the matching graph), where a group holds at most
one detection per camera and two groups join only when they agree as a whole (the mean cost over
every pair of their detections stays under ``MATCH``: the cycles of the graph are consistent).
Each group is triangulated and the groups are followed over the take: a group continues the
person whose predicted pose is nearest (Hungarian assignment, gated by how far a person can
move), a person survives gaps of up to ``MAX_GAP_S``, and tracks too short to be a person are
dropped. The people seen longest are kept, up to ``[triangulation] people``. 2D whose slot p
is already one person in every camera and frame (another tool associated it) is kept as given.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from networkx.utils import UnionFind
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from calibration.camera import CameraRig
from calibration.triangulation import triangulate_points
from mocap.keypoints import Keypoints2D
from mocap.single_subject import select_single_subject
from mocap.triangulation import TriangulationConfig
from mocap.view_costs import MIN_COMMON_JOINTS, relative_pair_costs

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
# Relative epipolar cost (median distance over the joints in units of the body's size in the
# image, :func:`mocap.view_costs.relative_pair_costs`) under which two detections may be one
# person: detector noise and a calibration a degree off at 5 m (0.05) stay under it.
MATCH = 0.1
GATE_M = 0.3            # a group within this of a person's predicted pose may be that person...
MAX_SPEED = 3.0         # ...plus this many m/s times the frames since the person was last seen
MAX_GAP_S = 1.0         # a person unseen for longer ends; one seen again later is a new person
MIN_TRACK_S = 0.25      # a track seen in fewer frames than this is a false match, not a person
VELOCITY_BLEND = 0.5    # weight of the newest step in a person's velocity
# Share of camera pairs agreeing on slot p for 2D to count as associated already: crowd takes
# in their true slot order agree in 99.7-99.8 % (outliers and left/right swaps make the rest),
# a detector's own slot order in 35-55 %.
GIVEN_AGREE = 0.98


@dataclass(frozen=True, eq=False)
class Association:
    """The take's people across cameras and over time.

    Attributes:
        keypoints: xy (C, F, Q, J, 2), score (C, F, Q, J): slot q is person q in every camera
            and frame (track_id q where that camera saw them, -1 where not).
        slots: (C, F, Q) the input slot each person's detection came from (-1: none).
        notes: warnings for the summary and the report (people left out).
    """

    keypoints: Keypoints2D
    slots: IntArray
    notes: tuple[str, ...]


def take_people(rig: CameraRig, kp: Keypoints2D, config: TriangulationConfig
                ) -> tuple[Keypoints2D, list[str]]:
    """``kp`` with one slot per person across cameras, as ``[triangulation] people`` asks: the
    one subject where it is 1, else everyone associated and tracked (up to ``people``), and the
    warnings. A take with one slot per camera is taken as one person; a one-camera take keeps
    its tracker's people (:func:`tracked_people`)."""
    if len(kp.cameras) == 1:
        return tracked_people(kp, config.people), []
    if config.people == 1:
        return select_single_subject(rig, kp, config.min_score), []
    if kp.n_people == 1:
        return kp, []
    found = associate_people(rig, kp, max_people=config.people, min_score=config.min_score)
    return found.keypoints, list(found.notes)


def tracked_people(kp: Keypoints2D, max_people: int | None) -> Keypoints2D:
    """One camera's 2D with a slot per track of its own tracker (``track_id``; slots as given
    where there is none), the ``max_people`` tracks seen in the most frames first."""
    if kp.track_id is None:
        keep = np.arange(kp.n_people)[:max_people]
        return gather_slots(kp, np.broadcast_to(keep, (1, kp.n_frames, len(keep))))
    track = kp.track_id[0]                                                       # (F, P)
    ids, frames = np.unique(track[track >= 0], return_counts=True)
    ids = ids[np.argsort(-frames, kind="stable")][:max_people]                   # (Q,)
    match = track[:, :, None] == ids                                             # (F, P, Q)
    return gather_slots(kp, np.where(match.any(1), match.argmax(1), -1)[None])


def associate_people(rig: CameraRig, kp: Keypoints2D, *, max_people: int | None,
                     min_score: float) -> Association:
    """Match every camera's detections across cameras and follow the people in 3D.

    Args:
        rig: calibrated cameras, those of ``kp.cameras`` used.
        kp: xy (C, F, P, J, 2), score (C, F, P, J), slots in any order per camera and frame.
        max_people: most people kept (those seen in the most frames); None keeps everyone.
        min_score: detections scored lower take no part.
    """
    rig = rig.subset(kp.cameras)
    seen = (kp.score >= max(min_score, 1e-12)).sum(-1) >= MIN_COMMON_JOINTS     # (C, F, P)
    costs = relative_pair_costs(rig, kp, min_score)                              # (C, C, F, P, P)
    if slots_agree(costs, seen):                      # already associated (another tool's 2D)
        groups = np.where(seen, np.arange(kp.n_people)[None, None], -1).transpose(1, 2, 0)
        tracks = np.where((groups >= 0).any(-1), np.arange(kp.n_people), -1)    # (F, P)
    else:
        groups = match_views(costs, seen)                                        # (F, K, C)
        tracks = track_groups(group_poses(rig, kp, groups, min_score), kp.fps)   # (F, K)
    people, notes = keep_people(tracks, max_people, kp.fps)                       # (T,) -> q
    n_people = max(int(people.max(initial=-1)) + 1, 1)
    slots = np.full((kp.xy.shape[0], kp.n_frames, n_people), -1)                 # (C, F, Q)
    f, k = np.nonzero(tracks >= 0)
    q = people[tracks[f, k]]
    kept = q >= 0
    slots[:, f[kept], q[kept]] = groups[f[kept], k[kept]].T
    return Association(gather_slots(kp, slots), slots, tuple(notes))


def slots_agree(costs: FloatArray, seen: NDArray[np.bool_]) -> bool:
    """Slot p of every camera is already one person: pairs of cameras that both list slot p in
    a frame agree on it (costs (C, C, F, P, P), seen (C, F, P)) nearly always (GIVEN_AGREE)."""
    both = seen[:, None] & seen[None]                                            # (C, C, F, P)
    both &= ~np.eye(len(seen), dtype=bool)[:, :, None, None]
    same = np.diagonal(costs, axis1=-2, axis2=-1)                                # (C, C, F, P)
    return bool(both.any() and (same[both] < MATCH).mean() >= GIVEN_AGREE)


def match_views(costs: FloatArray, seen: NDArray[np.bool_]) -> IntArray:
    """Per frame, groups of detections (at most one per camera) that are one person.

    Args:
        costs: (C, C, F, P, P) pair costs (:func:`mocap.view_costs.pair_costs`).
        seen: (C, F, P) slots holding a detection.
    Returns:
        (F, K, C) each group's slot in each camera (-1: not in that camera); groups of two or
        more cameras only, K the most in a frame (rows of -1 pad the others).
    """
    n_cams, _, n_frames, n_p, _ = costs.shape
    pair = np.triu(np.ones((n_cams, n_cams), bool), 1)[:, :, None, None, None]
    both = seen[:, None, :, :, None] & seen[None, :, :, None, :]
    c, d, f, p, q = np.nonzero(pair & both & (costs < MATCH))
    order = np.lexsort((costs[c, d, f, p, q], f))
    node_a = (f * n_cams + c) * n_p + p                       # a node per frame, camera, slot
    node_b = (f * n_cams + d) * n_p + q
    sets = UnionFind()
    members: dict[int, list[int]] = {}
    for a, b, frame in zip(node_a[order].tolist(), node_b[order].tolist(), f[order].tolist()):
        ra, rb = sets[a], sets[b]
        if ra == rb:
            continue
        left, right = members.get(ra, [a]), members.get(rb, [b])
        if not _agree(costs, frame, left, right, n_cams, n_p):
            continue
        sets.union(ra, rb)
        members.pop(ra, None), members.pop(rb, None)
        members[sets[ra]] = left + right
    return _group_table(list(members.values()), n_frames, n_cams, n_p)


def _agree(costs: FloatArray, frame: int, left: list[int], right: list[int], n_cams: int,
           n_p: int) -> bool:
    """Two groups of one frame may join: no camera in both, mean cost between them low."""
    cam_l, slot_l = np.divmod(np.asarray(left) % (n_cams * n_p), n_p)
    cam_r, slot_r = np.divmod(np.asarray(right) % (n_cams * n_p), n_p)
    if np.intersect1d(cam_l, cam_r).size:
        return False
    if len(left) + len(right) == 2:
        return True                                            # the edge itself is under the bound
    between = costs[cam_l[:, None], cam_r[None], frame, slot_l[:, None], slot_r[None]]
    return bool(between.mean() < MATCH)


def _group_table(groups: list[list[int]], n_frames: int, n_cams: int, n_p: int) -> IntArray:
    """Node lists (frame, camera, slot flattened) as the (F, K, C) table of slots."""
    nodes = np.asarray([n for g in groups for n in g], dtype=np.int64)
    label = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    frame, rest = np.divmod(nodes, n_cams * n_p)
    cam, slot = np.divmod(rest, n_p)
    group_frame = np.zeros(len(groups), np.int64)
    group_frame[label] = frame
    # the k-th group of its frame: rank among the frame's groups
    by_frame = np.argsort(group_frame, kind="stable")
    first = np.searchsorted(group_frame[by_frame], group_frame[by_frame])
    rank = np.empty(len(groups), np.int64)
    rank[by_frame] = np.arange(len(groups)) - first
    table = np.full((n_frames, max(int(rank.max(initial=-1)) + 1, 1), n_cams), -1)
    table[frame, rank[label], cam] = slot
    return table


def group_poses(rig: CameraRig, kp: Keypoints2D, groups: IntArray, min_score: float
                ) -> FloatArray:
    """(F, K, J, 3) each group's joints by a score-weighted DLT (NaN: fewer than two views)."""
    slots = groups.transpose(2, 0, 1)                                            # (C, F, K)
    grouped = gather_slots(kp, slots)
    weights = np.where(grouped.score >= min_score, grouped.score, 0.0)
    return triangulate_points(rig.extrinsics, rig.undistort(grouped.xy), weights)


def gather_slots(kp: Keypoints2D, slots: IntArray) -> Keypoints2D:
    """``kp`` with slot q of camera c and frame f taken from ``slots`` (C, F, Q) (-1: none)."""
    index = np.maximum(slots, 0)[..., None]                                      # (C, F, Q, 1)
    xy = np.take_along_axis(kp.xy, index[..., None], axis=2)
    score = np.take_along_axis(kp.score, index, axis=2)
    empty = slots < 0
    xy[empty], score[empty] = np.nan, 0.0
    track = np.where(empty, -1, np.arange(slots.shape[2]))
    return Keypoints2D(xy, score, kp.cameras, kp.skeleton, kp.fps, track_id=track)


def track_groups(poses: FloatArray, fps: float) -> IntArray:
    """Follow the groups' poses over frames.

    Args:
        poses: (F, K, J, 3) metres, NaN rows for padding groups.
        fps: frame rate, for the gates.
    Returns:
        (F, K) track of each group (0, 1, ... in order of appearance; -1: not a pose).
    """
    n_frames, n_groups = poses.shape[:2]
    enough = np.isfinite(poses).all(-1).sum(-1) >= MIN_COMMON_JOINTS              # (F, K)
    labels = np.full((n_frames, n_groups), -1)
    last_pose = np.zeros((0,) + poses.shape[2:])
    last_frame = np.zeros(0, np.int64)
    velocity = np.zeros((0, 3))
    max_gap = max(1, round(MAX_GAP_S * fps))
    for frame in range(n_frames):
        ks = np.flatnonzero(enough[frame])
        if not ks.size:
            continue
        gap = frame - last_frame                                                 # (T,)
        alive = np.flatnonzero(gap <= max_gap)
        predicted = last_pose[alive] + (velocity[alive] * gap[alive, None])[:, None]
        dist = _pose_distance(predicted, poses[frame, ks])                      # (A, K')
        gate = GATE_M + MAX_SPEED * gap[alive] / fps
        rows, cols = linear_sum_assignment(np.where(dist <= gate[:, None], dist, 1e6))
        ok = dist[rows, cols] <= gate[rows]
        rows, cols = alive[rows[ok]], ks[cols[ok]]
        new = np.setdiff1d(ks, cols)
        ids = np.concatenate([rows, len(last_frame) + np.arange(len(new))])
        groups = np.concatenate([cols, new])
        labels[frame, groups] = ids
        pose = poses[frame, groups]
        if new.size:
            last_pose = np.concatenate([last_pose, pose[len(rows):]])
            last_frame = np.concatenate([last_frame, np.full(len(new), frame)])
            velocity = np.concatenate([velocity, np.zeros((len(new), 3))])
        step = (_centre(pose) - _centre(last_pose[ids])) / np.maximum(frame - last_frame[ids],
                                                                      1)[:, None]
        velocity[ids] = np.where(np.isfinite(step), VELOCITY_BLEND * step
                                 + (1 - VELOCITY_BLEND) * velocity[ids], velocity[ids])
        velocity[ids[len(rows):]] = 0.0
        last_pose[ids] = np.where(np.isfinite(pose), pose, last_pose[ids])
        last_frame[ids] = frame
    return labels


def _centre(pose: FloatArray) -> FloatArray:
    """(..., 3) median of the joints of poses (..., J, 3)."""
    return np.nanmedian(pose, axis=-2)


def _pose_distance(a: FloatArray, b: FloatArray) -> FloatArray:
    """(A, B) median distance over the joints both poses (A, J, 3) and (B, J, 3) have."""
    dist = np.linalg.norm(a[:, None] - b[None], axis=-1)                         # (A, B, J)
    if not dist.size:
        return dist.sum(-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)                          # no joint in common
        return np.where(np.isfinite(dist).any(-1), np.nanmedian(dist, axis=-1), np.inf)


def keep_people(tracks: IntArray, max_people: int | None, fps: float
                ) -> tuple[IntArray, list[str]]:
    """Which tracks are people: (T,) person index of each track (-1: left out), in order of
    first appearance, and the warnings. Tracks shorter than MIN_TRACK_S are false matches; of
    the rest, the ``max_people`` seen in the most frames are kept."""
    n_tracks = int(tracks.max(initial=-1)) + 1
    frames = np.bincount(tracks[tracks >= 0], minlength=n_tracks)
    first = np.full(n_tracks, tracks.shape[0])
    f, k = np.nonzero(tracks >= 0)
    np.minimum.at(first, tracks[f, k], f)
    real = np.flatnonzero(frames >= max(2, round(MIN_TRACK_S * fps)))
    notes = []
    if max_people is not None and len(real) > max_people:
        longest = real[np.argsort(-frames[real], kind="stable")]
        dropped = longest[max_people:]
        notes.append(f"warning: {len(real)} people were followed but [triangulation] people = "
                     f"{max_people}: kept the {max_people} seen in the most frames, left out "
                     f"{len(dropped)} seen in {', '.join(str(n) for n in frames[dropped])} "
                     "frames; raise people to keep them")
        real = longest[:max_people]
    real = real[np.argsort(first[real], kind="stable")]
    people = np.full(n_tracks, -1)
    people[real] = np.arange(len(real))
    return people, notes
