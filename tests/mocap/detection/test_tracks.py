"""Per-frame detections stacked into arrays, and tracks joined across chunk boundaries."""

from __future__ import annotations

import numpy as np
import pytest

from mocap.detection.detector import FramePeople
from mocap.detection.tracks import SAME_PERSON, TrackedChunk, join_chunks, stack_frames

J = 5


def person(x: float, y: float, size: float = 100.0) -> np.ndarray:
    """(J, 2) keypoints of a person whose box is about ``size`` px, top-left at (x, y)."""
    return np.array([[x, y], [x + size, y], [x, y + size], [x + size, y + size],
                     [x + size / 2, y + size / 2]])


def frame(*people: tuple[int, np.ndarray]) -> FramePeople:
    ids = np.array([i for i, _ in people], dtype=np.int64)
    xy = np.stack([p for _, p in people]) if people else np.zeros((0, J, 2))
    return FramePeople(xy, np.ones((len(people), J)), ids)


def chunk(*frames: FramePeople) -> TrackedChunk:
    return stack_frames(frames, J)


def test_stack_orders_people_by_track_and_pads_empty_frames():
    a, b = person(0, 0), person(500, 0)
    c = chunk(frame((3, b), (1, a)), frame())
    assert c.xy.shape == (2, 2, J, 2)
    np.testing.assert_array_equal(c.track_id, [[1, 3], [-1, -1]])
    np.testing.assert_array_equal(c.xy[0, 0], a)
    assert np.isnan(c.xy[1]).all() and (c.score[1] == 0).all()


def test_nobody_found_still_gives_one_empty_slot():
    c = chunk(frame(), frame())
    assert c.xy.shape == (2, 1, J, 2) and (c.track_id == -1).all()


@pytest.mark.parametrize("step", [0.0, 5.0, 15.0])
def test_the_same_people_keep_their_ids_across_a_boundary(step):
    """A person who moves by up to 15 % of their box size between two frames (fast motion at
    30 fps) is the same person; the bound of SAME_PERSON (20 %) must hold them."""
    assert step / 100 < SAME_PERSON
    a, b = person(0, 0), person(400, 50)
    first = chunk(frame((0, a), (1, b)), frame((0, a), (1, b)))
    # the next chunk's fresh tracker numbers the two people the other way round
    second = chunk(frame((0, b + step), (1, a + step)), frame((0, b + step), (1, a + step)))
    joined = join_chunks([first, second])
    np.testing.assert_array_equal(joined.track_id[:, 0], [0, 0, 0, 0])
    np.testing.assert_array_equal(joined.xy[:, 0, 0], [a[0], a[0], a[0] + step, a[0] + step])


def test_a_new_person_gets_a_new_id_and_a_far_one_is_not_joined():
    a, b = person(0, 0), person(900, 900)
    joined = join_chunks([chunk(frame((0, a))), chunk(frame((0, b))), chunk(frame((5, b)))])
    np.testing.assert_array_equal(joined.track_id[:, 0], [0, 1, 1])


def test_chunks_with_different_people_counts_are_padded():
    a, b = person(0, 0), person(500, 0)
    joined = join_chunks([chunk(frame((0, a))), chunk(frame((0, a), (1, b)))])
    assert joined.xy.shape == (2, 2, J, 2)
    np.testing.assert_array_equal(joined.track_id, [[0, -1], [0, 1]])
