"""Synchronisation from the motion: each camera's time offset found in the 2D keypoints.

Offsets follow ``[videos] offsets``' sign: take frame ``i`` is frame ``i + offset`` of the
camera (a camera that started recording 3 frames early, or whose 2D lags by 3 frames, has +3).

Each pair of cameras (a, b) is compared at whole shifts s of a's 2D (a's frame i + s against
b's frame i): the cost is the mean squared symmetric epipolar distance (pixels, truncated at
EPIPOLAR_CAP_PX so outliers and swapped sides weigh no more than a miss) over the joints both
saw. With noise and motion it grows as noise^2 + (s - d)^2 speed^2 about d = offset_a - offset_b,
so a parabola through the best whole shift and its two neighbours has its vertex at d, to a
fraction of a frame. The 2D is not interpolated for this: interpolating spreads each outlier over
two samples, which pulls the cost towards whole shifts (a pair of a CMU take with issue 17's
errors came out 0.48 frame off, against 0.06 at most this way).
The per-camera offsets are the least-squares solution of the pairwise ones, made again without
the pairs that disagree with it by more than OUTLIER_PAIR_FRAMES, and given relative to the
reference camera or, by default, to the median camera (the majority that agree).

A take where nobody moves has no timing to find; its offsets come out arbitrary.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
from numpy.typing import NDArray

from calibration.camera import CameraRig, essential_matrix
from mocap.config import SyncConfig
from mocap.errors import InputError
from mocap.evaluate import resample
from mocap.keypoints import Keypoints2D

FloatArray = NDArray[np.float64]
# A joint this far from its epipolar line (pixels) is wrong (outlier, swap) or far out of time:
# the cost is truncated there. Detector noise of a few pixels stays far below it.
EPIPOLAR_CAP_PX = 20.0
MIN_POINTS = 50              # joints two cameras must share at a shift for it to count
OUTLIER_PAIR_FRAMES = 0.5    # a pair off the solution by more is left out of it
OFF_FRAMES = 0.5             # a camera off the others by more is reported
# "auto" applies an offset this close to a whole frame as that whole frame: the estimates are
# good to a few hundredths of a frame, and interpolating a camera's 2D spreads each of its
# missing or wrong samples over two frames (on a CMU take with issue 17's errors, shifting
# three cameras by 0.003-0.03 frame raised the mean 3D error by 6 %)
SNAP_FRAMES = 0.1


@dataclass(frozen=True, eq=False)
class SyncEstimate:
    """Each camera's offset in frames, found from the 2D.

    Attributes:
        cameras: C camera names.
        offsets: (C,) frames, sub-frame: take frame i is the camera's frame i + offset; relative
            to the reference camera (or the median camera); NaN where no pair could tell.
        residual_frames: (C,) RMS disagreement of the camera's pairwise offsets with ``offsets``
            (a confidence: a few hundredths of a frame on a well-seen take).
        epipolar_px: (C,) mean truncated epipolar distance to the other cameras once shifted.
        max_shift_frames: the search range asked for.
        pair_at_edge: (C,) the camera is in a pair whose best shift lay at the search's edge.
    """

    cameras: tuple[str, ...]
    offsets: FloatArray
    residual_frames: FloatArray
    epipolar_px: FloatArray
    max_shift_frames: float
    pair_at_edge: NDArray[np.bool_]

    @property
    def off(self) -> NDArray[np.bool_]:
        """(C,) cameras off the others by more than OFF_FRAMES."""
        return np.abs(np.nan_to_num(self.offsets)) > OFF_FRAMES

    @property
    def at_edge(self) -> NDArray[np.bool_]:
        """(C,) offsets not to trust: unknown, within half a frame of the search range's edge or
        beyond it (the true offset may lie farther), or from a pair at its search's edge."""
        with np.errstate(invalid="ignore"):
            far = ~(np.abs(self.offsets) < self.max_shift_frames - 0.5)
        return far | self.pair_at_edge


def estimate_offsets(rig: CameraRig, keypoints: Keypoints2D, *, max_shift_frames: float = 10.0,
                     reference: str | None = None, min_score: float = 0.3) -> SyncEstimate:
    """Each camera's time offset from the epipolar agreement of its 2D with the others'.

    Args:
        rig: calibrated cameras, those of ``keypoints.cameras`` used.
        keypoints: xy (C, F, P, J, 2) pixels; person slot p is the same person in every camera
            (as :func:`mocap.association.take_people` leaves a take).
        max_shift_frames: largest offset of a camera sought (pairs are searched over twice it).
        reference: camera whose offset is 0; None: the median camera's.
        min_score: detections scored lower are not used.
    Raises:
        InputError: fewer than 2 cameras, or ``reference`` is not one of them.
    """
    cameras = keypoints.cameras
    if len(cameras) < 2:
        raise InputError(f"synchronisation needs 2 or more cameras, got {len(cameras)}")
    if reference is not None and reference not in cameras:
        raise InputError(f"sync reference camera '{reference}' is not among the keypoints' "
                         f"cameras ({', '.join(cameras)})")
    rig = rig.subset(cameras)
    seen = keypoints.score >= max(min_score, 1e-12)                          # (C, F, P, J)
    ideal = rig.undistort(np.where(seen[..., None], keypoints.xy, np.nan))   # (C, F, P, J, 2)
    rays = np.concatenate([ideal, np.ones(ideal.shape[:-1] + (1,))], -1)     # (C, F, P, J, 3)
    focal = np.array([cam.K[[0, 1], [0, 1]].mean() for cam in rig])         # (C,)
    window = int(np.ceil(2 * max_shift_frames))
    pairs = list(combinations(range(len(cameras)), 2))
    found = np.array([_pair_offset(rays[a], rays[b], essential_matrix(rig[a], rig[b]),
                                   (focal[a], focal[b]), window) for a, b in pairs])  # (K, 3)
    index = None if reference is None else cameras.index(reference)
    offsets, residual = _solve(np.array(pairs), found[:, 0], len(cameras), index)
    cost = np.full((len(cameras), len(pairs)), np.nan)
    edge = np.zeros(len(cameras), dtype=bool)
    for k, (a, b) in enumerate(pairs):
        cost[[a, b], k] = found[k, 1]
        edge[[a, b]] |= found[k, 2] > 0
    with np.errstate(invalid="ignore"):
        mean_cost = np.array([np.nanmean(row) if np.isfinite(row).any() else np.nan
                              for row in cost])
    return SyncEstimate(cameras, offsets, residual, mean_cost, float(max_shift_frames), edge)


# Pixels a joint may move between the two frames a sub-frame time is blended from. Detector noise
# moves it a few pixels, walking limbs 5-20 px at 30 fps in a 720p view 3-4.5 m away; an outlier
# or a left/right swap in one of the two frames moves it tens of pixels. A fast hand above it
# is left out of that camera's blend too, which the other cameras cover (measured on CMU takes
# with detector-like errors: 3D error after --sync auto from -12 % to +7 % of the synchronized
# take's, against -1 % to +8 % blending everything; benchmarks/sync.py).
JUMP_PX = 25.0


def shift_keypoints(keypoints: Keypoints2D, offsets: FloatArray) -> Keypoints2D:
    """Each camera's 2D at its take times: camera c's take frame i is its frame i + offsets[c].

    Args:
        keypoints: xy (C, F, P, J, 2), score (C, F, P, J).
        offsets: (C,) frames, sub-frame (see :class:`SyncEstimate`).
    Returns:
        Keypoints2D of the same shape, xy and score linearly interpolated in time; not seen
        (NaN, score 0) where the time falls outside the take, next to a missing sample, or
        between two samples more than JUMP_PX apart.
    """
    offsets = np.asarray(offsets, dtype=float)
    if offsets.shape != (len(keypoints.cameras),) or not np.isfinite(offsets).all():
        raise InputError(f"offsets must be {len(keypoints.cameras)} finite numbers of frames, "
                         f"got {offsets}")
    frames = np.arange(keypoints.n_frames, dtype=float)
    values = np.concatenate([keypoints.xy, np.where(keypoints.score > 0, keypoints.score,
                                                    np.nan)[..., None]], -1)  # (C, F, P, J, 3)
    moved = np.stack([resample(v, 1.0, frames + o) for v, o in zip(values, offsets)])
    # a joint that jumps between the two samples it is blended from is an outlier or a
    # left/right swap in one of them: a blend of the two would be wrong in a way no later test
    # sees (half an outlier; halfway between the sides), so it is left out
    step = np.linalg.norm(np.diff(keypoints.xy, axis=1), axis=-1)              # (C, F-1, P, J)
    step = np.concatenate([step, np.zeros_like(step[:, :1])], axis=1)
    times = frames[None] + offsets[:, None]                                     # (C, F)
    lower = np.clip(np.floor(times + 1e-9).astype(int), 0, keypoints.n_frames - 1)
    blended = (times - lower > 1e-9)[..., None, None]
    jumped = blended & (np.take_along_axis(step, lower[..., None, None], 1) > JUMP_PX)
    moved[jumped] = np.nan
    track = keypoints.track_id
    if track is not None:
        nearest = np.rint(frames[None] + offsets[:, None]).astype(int)      # (C, F)
        inside = (nearest >= 0) & (nearest < keypoints.n_frames)
        picked = np.take_along_axis(track, np.clip(nearest, 0, len(frames) - 1)[..., None], 1)
        track = np.where(inside[..., None], picked, -1)
    return Keypoints2D(moved[..., :2], np.nan_to_num(moved[..., 2]), keypoints.cameras,
                       keypoints.skeleton, keypoints.fps, track)


def synchronise(rig: CameraRig, keypoints: Keypoints2D, config: SyncConfig, *,
                min_score: float = 0.3, estimate: SyncEstimate | None = None
                ) -> tuple[Keypoints2D, list[str]]:
    """``[sync]`` on a take's 2D: as given with no line under mode "off" (nothing is
    estimated); the offsets and warnings under "check"; shifted by the offsets under "auto".
    ``estimate``: the offsets :func:`estimate_offsets` already found with ``config``'s range
    (the pipeline keeps them for the report), else they are found here.

    Raises:
        InputError: mode "auto" and a camera's offset is unknown or at the search's edge.
    """
    if config.mode == "off":
        return keypoints, []
    found = estimate or estimate_offsets(rig, keypoints, max_shift_frames=config.max_shift_frames,
                                         min_score=min_score)
    lines = [f"sync ({config.mode}): offsets from the motion, in frames: " + ", ".join(
        f"{name} {o:+.2f} (residual {r:.2f})" for name, o, r
        in zip(found.cameras, found.offsets, found.residual_frames))]
    if config.mode == "auto" and found.at_edge.any():
        raise InputError(_edge_message(found, "--sync auto applies no offset"))
    if found.at_edge.any():
        lines.append("warning: " + _edge_message(found, "their offsets are not to be trusted"))
    if config.mode == "auto":
        return shift_keypoints(keypoints, snapped(found.offsets)), lines + [
            "sync: offsets applied (within 0.1 frame of a whole frame: that frame)"]
    lines += [f"warning: camera {name} is {o:+.2f} frames off the others; run with --sync auto "
              "(or set [sync] mode = \"auto\"), or give it in [videos] offsets. A camera whose "
              "calibration is off looks late or early too (the Pose2Sim demo's cam_03, 0.7 "
              "degree off, reads +2.6 frames with its Qualisys pose and +0.3 with the pose "
              "[skeleton] refine_cameras finds): check its calibration first"
              for name, o, off in zip(found.cameras, found.offsets, found.off) if off]
    return keypoints, lines


def snapped(offsets: FloatArray) -> FloatArray:
    """(C,) offsets within SNAP_FRAMES of a whole frame set to it."""
    whole = np.rint(offsets)
    return np.where(np.abs(offsets - whole) < SNAP_FRAMES, whole, offsets)


def _edge_message(found: SyncEstimate, consequence: str) -> str:
    names = ", ".join(f"{n} ({o:+.1f})" for n, o, e
                      in zip(found.cameras, found.offsets, found.at_edge) if e)
    limit = found.max_shift_frames
    return (f"sync: the offsets of {names} are unknown or at the edge of the search range "
            f"(+-{limit:g} frames), so the true offset may lie beyond it; {consequence}. Raise "
            f"[sync] max_shift_frames in session.toml (e.g. to {2 * limit:g}), or give the "
            "offsets in [videos] offsets")


def _pair_offset(rays_a: FloatArray, rays_b: FloatArray, essential: FloatArray,
                 focal: tuple[float, float], window: int) -> tuple[float, float, float]:
    """(offset_a - offset_b in frames, RMS cost in pixels at the best whole shift, 1.0 if that
    lies at the window's edge else 0); NaN offset and cost where no shift has MIN_POINTS shared
    joints."""
    whole = np.arange(-window, window + 1)
    costs = np.array([_cost(rays_a, rays_b, essential, focal, s) for s in whole])      # (S,)
    if not np.isfinite(costs).any():
        return np.nan, np.nan, 0.0
    k = int(np.nanargmin(costs))
    shift = float(whole[k])
    if 0 < k < len(whole) - 1 and np.isfinite(costs[k - 1:k + 2]).all():
        left, mid, right = costs[k - 1:k + 2]
        shift += 0.5 * (left - right) / max(left - 2 * mid + right, 1e-12)
    return shift, float(np.sqrt(costs[k])), float(k in (0, len(whole) - 1))


def _cost(rays_a: FloatArray, rays_b: FloatArray, essential: FloatArray,
          focal: tuple[float, float], shift: int) -> float:
    """Mean truncated squared symmetric epipolar distance (pixels squared) of a's rays
    (F, P, J, 3) at frames i + shift against b's at frames i; NaN where fewer than MIN_POINTS
    joints are shared."""
    n = len(rays_a)
    a, b = rays_a[max(shift, 0):n + min(shift, 0)], rays_b[max(-shift, 0):n - max(shift, 0)]
    line_in_b, line_in_a = a @ essential.T, b @ essential                    # (F', P, J, 3)
    algebraic = np.abs((line_in_b * b).sum(-1))                              # (F', P, J)
    dist = 0.5 * algebraic * (focal[1] / np.hypot(line_in_b[..., 0], line_in_b[..., 1])
                              + focal[0] / np.hypot(line_in_a[..., 0], line_in_a[..., 1]))
    both = np.isfinite(dist)
    if both.sum() < MIN_POINTS:
        return np.nan
    return float((np.fmin(dist[both], EPIPOLAR_CAP_PX) ** 2).mean())


def _solve(pairs: NDArray[np.int64], measured: FloatArray, n_cameras: int,
           reference: int | None) -> tuple[FloatArray, FloatArray]:
    """(C,) offsets o with o_a - o_b closest to each pair's measurement (K,), once more without
    the pairs off by more than OUTLIER_PAIR_FRAMES, and (C,) RMS pair residual per camera."""
    use = np.isfinite(measured)
    for _ in range(2):
        design = np.zeros((int(use.sum()) + 1, n_cameras))
        design[np.arange(use.sum()), pairs[use, 0]] = 1.0
        design[np.arange(use.sum()), pairs[use, 1]] = -1.0
        design[-1] = 1.0                                                    # gauge: sum 0
        offsets = np.linalg.lstsq(design, np.append(measured[use], 0.0), rcond=None)[0]
        residual = measured - (offsets[pairs[:, 0]] - offsets[pairs[:, 1]])  # (K,)
        with np.errstate(invalid="ignore"):
            kept = use & (np.abs(residual) <= OUTLIER_PAIR_FRAMES)
        if kept.sum() == use.sum() or not kept.any():
            break
        use = kept
    counted = np.zeros(n_cameras)
    squares = np.zeros(n_cameras)
    np.add.at(counted, pairs[use].ravel(), 1.0)
    np.add.at(squares, pairs[use].ravel(), np.repeat(residual[use] ** 2, 2))
    offsets = np.where(counted > 0, offsets, np.nan)
    offsets -= offsets[reference] if reference is not None else np.nanmedian(offsets)
    with np.errstate(invalid="ignore", divide="ignore"):
        return offsets, np.sqrt(squares / counted)
