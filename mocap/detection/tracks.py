"""Per-frame detections to per-camera arrays, and track ids joined across chunks of a video.

A video is detected in chunks, each with a fresh tracker, so that a chunk's result does not
depend on whether the run before it was interrupted; the chunks' tracks are then joined where a
person at the end of one chunk is the person at the start of the next.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from mocap.detection.detector import FramePeople

SAME_PERSON = 0.2      # median joint distance, in units of the person's box diagonal, to join


@dataclass(frozen=True)
class TrackedChunk:
    """Detections of consecutive frames.

    Attributes:
        xy: (n, P, J, 2) pixels, NaN where not found; people ordered by track id per frame.
        score: (n, P, J) confidence, 0 where not found.
        track_id: (n, P) track ids (-1: empty slot).
    """

    xy: NDArray[np.float64]
    score: NDArray[np.float64]
    track_id: NDArray[np.int64]


def stack_frames(frames: Sequence[FramePeople], n_joints: int) -> TrackedChunk:
    """Per-frame detections as arrays with one slot per person (at least one slot)."""
    n_p = max([len(p.track_id) for p in frames] + [1])
    xy = np.full((len(frames), n_p, n_joints, 2), np.nan)
    score = np.zeros((len(frames), n_p, n_joints))
    track = np.full((len(frames), n_p), -1, dtype=np.int64)
    for f, people in enumerate(frames):
        order = np.argsort(people.track_id, kind="stable")
        k = len(order)
        xy[f, :k], score[f, :k], track[f, :k] = (people.xy[order], people.score[order],
                                                  people.track_id[order])
    return TrackedChunk(xy, score, track)


def join_chunks(chunks: Sequence[TrackedChunk]) -> TrackedChunk:
    """Consecutive chunks as one, track ids renumbered 0, 1, ... in order of appearance and
    carried over a chunk boundary where the same person is on both sides."""
    n_p = max(c.xy.shape[1] for c in chunks)
    parts, next_id = [], 0
    previous: TrackedChunk | None = None
    for chunk in chunks:
        carried = _carried_ids(previous, chunk) if previous is not None else {}
        ids = np.unique(chunk.track_id[chunk.track_id >= 0])
        mapping = {}
        for old in ids:                              # one entry per track, not per point
            if old in carried:
                mapping[old] = carried[old]
            else:
                mapping[old], next_id = next_id, next_id + 1
        previous = _by_track(TrackedChunk(chunk.xy, chunk.score,
                                          _renamed(chunk.track_id, mapping)))
        parts.append(_padded(previous, n_p))
    return TrackedChunk(*(np.concatenate([getattr(p, k) for p in parts])
                          for k in ("xy", "score", "track_id")))


def _carried_ids(before: TrackedChunk, after: TrackedChunk) -> dict[int, int]:
    """after's first-frame track id -> before's last-frame id, for the same people."""
    a_xy, a_id = before.xy[-1], before.track_id[-1]
    b_xy, b_id = after.xy[0], after.track_id[0]
    a, b = a_id >= 0, b_id >= 0
    if not a.any() or not b.any():
        return {}
    a_xy, a_id, b_xy, b_id = a_xy[a], a_id[a], b_xy[b], b_id[b]
    distance = np.linalg.norm(a_xy[:, None] - b_xy[None], axis=-1)           # (A, B, J)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # a person or a pair with no joint
        span = np.nanmax(a_xy, axis=1) - np.nanmin(a_xy, axis=1)             # (A, 2)
        median = np.nanmedian(distance, axis=-1)                              # (A, B)
    diagonal = np.linalg.norm(span, axis=-1)                                  # (A,)
    cost = median / np.maximum(np.nan_to_num(diagonal), 1.0)[:, None]
    cost = np.where(np.isfinite(cost), cost, 1e9)
    rows, cols = linear_sum_assignment(cost)
    keep = cost[rows, cols] < SAME_PERSON
    return {int(b_id[c]): int(a_id[r]) for r, c in zip(rows[keep], cols[keep])}


def _renamed(track: NDArray[np.int64], mapping: dict[int, int]) -> NDArray[np.int64]:
    if not mapping:
        return track.copy()
    old = np.array(list(mapping))
    new = np.array([mapping[k] for k in mapping])
    index = np.searchsorted(old, track) if old.size else track
    found = (track >= 0) & (index < old.size)
    found[found] &= old[index[found]] == track[found]
    return np.where(found, new[np.minimum(index, old.size - 1)], -1)


def _by_track(chunk: TrackedChunk) -> TrackedChunk:
    """Each frame's people in order of track id, empty slots last."""
    order = np.argsort(np.where(chunk.track_id < 0, np.iinfo(np.int64).max, chunk.track_id),
                       axis=1, kind="stable")
    return TrackedChunk(np.take_along_axis(chunk.xy, order[:, :, None, None], 1),
                        np.take_along_axis(chunk.score, order[:, :, None], 1),
                        np.take_along_axis(chunk.track_id, order, 1))


def _padded(chunk: TrackedChunk, n_p: int) -> TrackedChunk:
    extra = n_p - chunk.xy.shape[1]
    if extra == 0:
        return chunk
    n, _, j, _ = chunk.xy.shape
    return TrackedChunk(np.concatenate([chunk.xy, np.full((n, extra, j, 2), np.nan)], 1),
                        np.concatenate([chunk.score, np.zeros((n, extra, j))], 1),
                        np.concatenate([chunk.track_id, np.full((n, extra), -1)], 1))
