"""A synthetic multi-person take whose 2D is not associated across cameras, as a detector's is.

People walk circles that cross inside a ~3 m volume. Each camera lists the people it sees in
its own slot order (kept between frames, redrawn at random moments), leaves out those it does
not see (out of view, or occluded for a stretch), and tags them with its own track ids, which
swap between two people where they cross in its image, as a 2D tracker's do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from calibration.camera import CameraRig
from mocap.keypoints import Keypoints2D
from mocap.metrics import quiet_nan
from mocap.synthetic.motion import PersonStyle, synthetic_motion
from mocap.synthetic.observe import DetectorErrors, observe_with_truth
from mocap.synthetic.studio import studio_rig
from rigs.motion import Motion3D

DETECTOR_LIKE = DetectorErrors(noise_px=2.0, outlier_rate=0.02, dropout_rate=0.05,
                               swap_rate=0.01)
PASS_M = 0.5                 # two people's pelvises come this close (metres) at least once
BODY_M = 0.35                # ... and no two ever closer: bodies pass, they do not overlap
FPS = 30.0
MAX_DRAWS = 100_000          # phase draws before giving up (many people on short circles)
MIN_JOINTS = 3               # a person with fewer joints detected in a view is not listed
ORDER_CHANGE_RATE = 1 / 60   # per camera and frame: the slot order is drawn again
CROSSING_PX = 60.0           # people whose 2D centres come this close are crossing in the image
SWAPS_PER_CAMERA = 2         # crossings at which a camera's tracker swaps the two ids
OCCLUSION_RATE = 0.5         # share of cameras that miss one person for a stretch
OCCLUSION_FRAMES = (10, 20)  # length of that stretch, frames (inclusive)
TRACK_ID_RANGE = 100         # track ids are distinct integers below this, drawn per camera


@dataclass(frozen=True, eq=False)
class CrowdTake:
    """Ground truth and its unassociated 2D.

    Attributes:
        rig: C cameras.
        truth: Motion3D with xyz (F, P, J, 3) metres.
        keypoints: xy (C, F, S, J, 2), score (C, F, S, J), track_id (C, F, S) (-1 empty), with
            S = P slots; each camera's slots hold the people it sees in its own order, first.
        slot_person: (C, F, S) true person index of each slot, -1 for an empty slot.
        occluded: (C, F, P) people a camera missed for a stretch although they were in view.
    """

    rig: CameraRig
    truth: Motion3D
    keypoints: Keypoints2D
    slot_person: NDArray[np.int64]
    occluded: NDArray[np.bool_]


def pelvis_paths(people: list[PersonStyle], t: NDArray[np.float64]) -> NDArray[np.float64]:
    """(F, P, 2) ground positions (metres) of ``people``'s pelvises at times ``t`` (F,) s."""
    centre = np.array([p.centre for p in people])                        # (P, 2)
    radius = np.array([p.path_radius for p in people])                   # (P,)
    angle = (np.array([p.phase for p in people])
             + np.outer(t, [p.speed for p in people]) / radius)          # (F, P)
    return centre + radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], -1)


def crossing_people(n_people: int, seed: int = 0, duration_s: float = 8.0) -> list[PersonStyle]:
    """``n_people`` walking circles (centres within 0.35 * sqrt(n_people / 2) m of the origin on
    each axis, radii 0.6-1.1 m, speeds
    0.5-0.9 m/s, every other one clockwise, heights 0.85-1.1) drawn until, for
    two people or more, two pelvises pass within PASS_M of each other during ``duration_s`` and
    no two come closer than BODY_M.

    Two such circles cross or come close (centres at most 1.4 m apart for up to 4 people,
    radii 0.6 m or more); a few hundred draws at most find people who pass without touching.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, duration_s, 1 / FPS)
    spread = 0.35 * np.sqrt(max(n_people, 2) / 2)                       # more people, more room
    for _ in range(MAX_DRAWS):
        centre = rng.uniform(-spread, spread, (n_people, 2))
        radius = rng.uniform(0.6, 1.1, n_people)
        sign = rng.choice([-1.0, 1.0]) * (-1.0) ** np.arange(n_people)  # both ways round
        speed = sign * rng.uniform(0.5, 0.9, n_people)
        phase = rng.uniform(0.0, 2 * np.pi, n_people)
        height = rng.uniform(0.85, 1.1, n_people)
        step = rng.uniform(0.8, 1.0, n_people)
        wave = rng.uniform(0.3, 0.7, n_people)
        people = [PersonStyle(height_scale=float(height[p]), path_radius=float(radius[p]),
                              centre=(float(centre[p, 0]), float(centre[p, 1])),
                              speed=float(speed[p]), phase=float(phase[p]),
                              step_rate=float(step[p]), wave_from=float(wave[p]))
                  for p in range(n_people)]
        if n_people < 2 or BODY_M <= closest_pass(pelvis_paths(people, t)) < PASS_M:
            return people
    raise ValueError(f"no circles let {n_people} people cross without overlapping in "
                     f"{duration_s:g} s (seed {seed}); try fewer people or a shorter take")


def closest_pass(paths: NDArray[np.float64]) -> float:
    """Smallest distance between two different people of ``paths`` (F, P, D) over the frames."""
    gap = np.linalg.norm(paths[:, :, None] - paths[:, None], axis=-1)    # (F, P, P)
    gap[:, np.arange(paths.shape[1]), np.arange(paths.shape[1])] = np.inf
    return float(np.nanmin(gap))


def crowd_take(n_people: int = 3, n_cameras: int = 6, *, n_frames: int = 240, seed: int = 0,
               errors: DetectorErrors = DETECTOR_LIKE, skeleton: str = "coco17") -> CrowdTake:
    """``crossing_people(n_people, seed)`` at 30 fps seen by ``studio_rig(n_cameras)`` (cameras
    3-4.5 m from the axis, 1280x720), with ``errors``, listed per camera as a detector and a 2D
    tracker would: see :class:`CrowdTake`."""
    rng = np.random.default_rng(seed)
    truth = synthetic_motion(skeleton, n_frames=n_frames, fps=FPS,
                             people=crossing_people(n_people, seed, n_frames / FPS))
    rig = studio_rig(n_cameras, seed=seed, focal_px=(700.0, 1000.0))
    kp, _ = observe_with_truth(rig, truth, errors, seed)
    occluded = _occlusions(rng, kp.score.shape[:3])                      # (C, F, P)
    listed = ((kp.score > 0).sum(-1) >= MIN_JOINTS) & ~occluded          # (C, F, P)
    slot_person = _slots(rng, listed)                                    # (C, F, S)
    ids = _track_ids(rng, kp.xy, listed)                                 # (C, F, P)
    filled = slot_person >= 0
    take = np.where(filled, slot_person, 0)
    xy = np.take_along_axis(kp.xy, take[..., None, None], 2)             # (C, F, S, J, 2)
    score = np.take_along_axis(kp.score, take[..., None], 2)             # (C, F, S, J)
    track = np.where(filled, np.take_along_axis(ids, take, 2), -1)       # (C, F, S)
    out = Keypoints2D(xy=np.where(filled[..., None, None], xy, np.nan),
                      score=np.where(filled[..., None], score, 0.0), cameras=kp.cameras,
                      skeleton=kp.skeleton, fps=kp.fps, track_id=track)
    return CrowdTake(rig, truth, out, slot_person, occluded)


def _occlusions(rng: np.random.Generator, shape: tuple[int, int, int]) -> NDArray[np.bool_]:
    """(C, F, P) True where a camera misses a person: in OCCLUSION_RATE of the cameras, one
    random person over one random stretch of OCCLUSION_FRAMES."""
    n_cameras, n_frames, n_people = shape
    hit = rng.random(n_cameras) < OCCLUSION_RATE                          # (C,)
    person = rng.integers(0, n_people, n_cameras)
    length = rng.integers(OCCLUSION_FRAMES[0], OCCLUSION_FRAMES[1] + 1, n_cameras)
    start = rng.integers(0, np.maximum(n_frames - length, 1))
    frame = np.arange(n_frames)[None]                                     # (1, F)
    stretch = hit[:, None] & (frame >= start[:, None]) & (frame < (start + length)[:, None])
    return stretch[..., None] & (np.arange(n_people) == person[:, None, None])


def _slots(rng: np.random.Generator, listed: NDArray[np.bool_]) -> NDArray[np.int64]:
    """(C, F, S = P) person in each slot: the ``listed`` (C, F, P) people first, in an order
    drawn per camera and drawn again at random moments (ORDER_CHANGE_RATE); then -1."""
    n_cameras, n_frames, n_people = listed.shape
    orders = rng.permuted(np.broadcast_to(np.arange(n_people), listed.shape), axis=-1)
    change = rng.random((n_cameras, n_frames)) < ORDER_CHANGE_RATE
    change[:, 0] = True
    since = np.maximum.accumulate(np.where(change, np.arange(n_frames), 0), axis=1)  # (C, F)
    order = np.take_along_axis(orders, since[..., None], 1)              # (C, F, P) rank -> p
    rank = np.argsort(order, axis=-1)                                    # (C, F, P) p -> rank
    key = np.where(listed, rank, n_people + rank)
    person = np.argsort(key, axis=-1)                                    # (C, F, S)
    return np.where(np.take_along_axis(listed, person, -1), person, -1)


def _track_ids(rng: np.random.Generator, xy: NDArray[np.float64],
               listed: NDArray[np.bool_]) -> NDArray[np.int64]:
    """(C, F, P) each camera's track id of each person: distinct ids drawn per camera, swapped
    between two people from the frame their 2D centres (``xy`` (C, F, P, J, 2)) come within
    CROSSING_PX of each other, at up to SWAPS_PER_CAMERA such crossings per camera."""
    n_cameras, n_frames, n_people = listed.shape
    ids = np.stack([rng.choice(TRACK_ID_RANGE, n_people, replace=False)
                    for _ in range(n_cameras)])                           # (C, P)
    ids = np.repeat(ids[:, None], n_frames, 1)                            # (C, F, P)
    with quiet_nan():
        centre = np.nanmean(xy, axis=3)                                   # (C, F, P, 2)
    gap = np.linalg.norm(centre[:, :, :, None] - centre[:, :, None], axis=-1)   # (C, F, P, P)
    close = (gap < CROSSING_PX) & listed[..., :, None] & listed[..., None, :]
    close &= np.triu(np.ones((n_people, n_people), dtype=bool), 1)
    starts = close & ~np.concatenate([np.zeros_like(close[:, :1]), close[:, :-1]], 1)
    for c in range(n_cameras):
        frames, a, b = np.nonzero(starts[c])
        picked = rng.choice(len(frames), min(SWAPS_PER_CAMERA, len(frames)), replace=False)
        for k in np.sort(picked):
            f, pair = frames[k], [a[k], b[k]]
            ids[c, f:, pair] = ids[c, f:, pair[::-1]]
    return ids
