"""Gap filling and zero-phase smoothing of 3D joint trajectories: the ``[filter]`` table.

Two separate steps, run in this order after triangulation:

- ``fill_gaps``: short runs of missing frames with valid frames on both sides are interpolated
  (cubic spline or linear) and marked ``FILLED`` in ``source``; every other value stays
  byte for byte as it was; longer gaps and gaps at the start or end of the take stay missing.
- ``smooth``: a zero-phase Butterworth low-pass (``sosfiltfilt``) over each run of valid frames,
  never across a gap. It changes values by design but not ``source`` (a smoothed triangulated
  joint is still triangulated), nor ``reprojection_error`` and ``n_views``, which describe the
  triangulation.

scipy is imported where it is used: ``mocap.config`` imports this module, and spawned detection
workers import that without needing scipy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from mocap.errors import ConfigError
from rigs.motion import FILLED, Motion3D

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
GAP_METHODS = ("spline", "linear", "none")


@dataclass(frozen=True)
class FilterConfig:
    """The ``[filter]`` table of ``session.toml``.

    Defaults: the biomechanics standard of a 4th-order zero-lag Butterworth at 6 Hz (Winter,
    *Biomechanics and Motor Control of Human Movement*, ch. 3; Pose2Sim's default too): nearly
    all the power of voluntary human movement lies below 6 Hz, while detector jitter is
    broadband, so most of it lies above. Zero phase, the result has half the amplitude at
    ``cutoff_hz`` (each pass -3 dB). It needs a frame rate above 12 fps (every video rate).
    Gaps of up to 10 frames are filled (Pose2Sim's ``interp_if_gap_smaller_than``): over a gap
    of g frames a cubic spline misses a motion of amplitude A and frequency f by about
    A (2 pi f (g + 1) / fps)^4 / 384, which for brisk hand motion (2 Hz, 10 cm) at 60 fps is
    7 mm at 10 frames; at 30 fps it is 16 times more, so fast takes at 30 fps want about 5.
    """

    cutoff_hz: float = 6.0              # low-pass cutoff; 0 turns smoothing off
    order: int = 4                      # of the whole zero-phase filter (even: 2 passes)
    max_gap_frames: int = 10            # longest run of missing frames that is filled
    gap_method: str = "spline"          # "spline" (cubic), "linear" or "none"

    def __post_init__(self) -> None:
        if self.cutoff_hz < 0:
            raise ConfigError(f"'cutoff_hz' must be 0 (no smoothing) or a positive frequency in "
                              f"Hz, got {self.cutoff_hz}")
        if self.order not in range(2, 21, 2):
            raise ConfigError(f"'order' must be an even number in [2, 20] (the filter runs "
                              f"forwards and backwards, each pass half the order), got "
                              f"{self.order}")
        if self.max_gap_frames < 0:
            raise ConfigError(f"'max_gap_frames' must be 0 (no filling) or more frames, got "
                              f"{self.max_gap_frames}")
        if self.gap_method not in GAP_METHODS:
            raise ConfigError(f"'gap_method' must be one of {', '.join(GAP_METHODS)}, got "
                              f"{self.gap_method!r}")

    def check_rate(self, fps: float) -> None:
        """Raise ConfigError unless the cutoff lies below the take's Nyquist frequency."""
        if self.cutoff_hz > 0 and self.cutoff_hz >= fps / 2:
            raise ConfigError(
                f"[filter] 'cutoff_hz' = {self.cutoff_hz:g} Hz is not below half the frame rate "
                f"({fps:g} fps / 2 = {fps / 2:g} Hz, the highest frequency the take holds); set "
                f"it below {fps / 2:g} in session.toml, or to 0 to turn smoothing off")

    @property
    def min_segment_frames(self) -> int:
        """Shortest run of valid frames that is smoothed: one more than the padding filtfilt
        extends it by, 3 (2 sections + 1) frames as scipy sizes it for second-order sections."""
        sections = (self.order // 2 + 1) // 2
        return 3 * (2 * sections + 1) + 1


def fill_gaps(motion: Motion3D, config: FilterConfig) -> Motion3D:
    """Interpolate each short gap of each person's joints from the valid frames around it.

    Args:
        motion: xyz (F, P, J, 3) metres; a joint with any non-finite coordinate is missing.
        config: ``max_gap_frames`` and ``gap_method``.
    Returns:
        A Motion3D whose gaps of at most ``max_gap_frames`` frames with valid frames on both
        sides hold the interpolation, with source ``FILLED``; the spline of a gap runs through
        the valid frames between the unfilled gaps around it. Everything else is unchanged.
    """
    if config.gap_method == "none" or config.max_gap_frames == 0:
        return motion
    xyz = motion.xyz.reshape(motion.n_frames, -1, 3)                     # (F, S, 3), S = P J
    valid = np.isfinite(xyz).all(-1)                                     # (F, S)
    fill = fillable_frames(valid, config.max_gap_frames)                 # (F, S)
    if not fill.any():
        return motion
    filled = xyz.copy()
    for (start, pattern), series in _pieces_with_gaps(valid, fill).items():
        inside = np.frombuffer(pattern, np.bool_)          # valid frames; the rest are gaps
        known, wanted = start + np.flatnonzero(inside), start + np.flatnonzero(~inside)
        curve = _interpolator(known, xyz[known][:, series], config.gap_method)
        filled[wanted[:, None], series] = curve(wanted)                  # (g, G, 3)
    source = np.where(fill.reshape(motion.source.shape), FILLED, motion.source)
    return replace(motion, xyz=filled.reshape(motion.xyz.shape), source=source)


def fillable_frames(valid: BoolArray, max_gap: int) -> BoolArray:
    """(F, S) missing frames in runs of at most ``max_gap`` with valid frames on both sides.

    Args:
        valid: (F, S) True where a series has a value.
    """
    n = valid.shape[0]
    frame = np.arange(n)[:, None]                                        # (F, 1)
    before = np.maximum.accumulate(np.where(valid, frame, -1), axis=0)   # last valid so far
    after = np.minimum.accumulate(np.where(valid, frame, n)[::-1], axis=0)[::-1]
    return ~valid & (before >= 0) & (after < n) & (after - before - 1 <= max_gap)


def _pieces_with_gaps(valid: BoolArray, fill: BoolArray) -> dict[tuple[int, bytes], list[int]]:
    """Runs of valid-or-fillable frames holding a gap, by (first frame, valid pattern) -> the
    series that share it (a person missing in some frames shares one pattern for all joints)."""
    starts, lengths, series = runs(valid | fill)
    filled_so_far = np.vstack([np.zeros((1, fill.shape[1]), int), np.cumsum(fill, axis=0)])
    has_gap = filled_so_far[starts + lengths, series] > filled_so_far[starts, series]
    groups: dict[tuple[int, bytes], list[int]] = {}
    for start, length, s in zip(starts[has_gap], lengths[has_gap], series[has_gap]):
        key = (int(start), valid[start:start + length, s].tobytes())
        groups.setdefault(key, []).append(int(s))
    return groups


def _interpolator(frames: NDArray[np.int64], values: FloatArray,
                  method: str) -> Callable[[NDArray[np.int64]], FloatArray]:
    """Curve through ``values`` (n, G, 3) at ``frames`` (n,), callable at other frames."""
    from scipy.interpolate import CubicSpline, make_interp_spline
    if method == "spline":             # not-a-knot ends; through 2 or 3 frames a line or parabola
        return CubicSpline(frames, values, axis=0)
    return make_interp_spline(frames, values, k=1, axis=0)


def runs(mask: BoolArray) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Runs of True along axis 0 of ``mask`` (F, S): first frame, length and series, (R,) each."""
    edges = np.diff(np.pad(mask.T.astype(np.int8), ((0, 0), (1, 1))), axis=1)  # (S, F + 1)
    series, starts = np.nonzero(edges == 1)
    ends = np.nonzero(edges == -1)[1]
    return starts, ends - starts, series


def smooth(motion: Motion3D, config: FilterConfig) -> Motion3D:
    """Zero-phase Butterworth low-pass of each run of valid frames, all joints at once.

    Args:
        motion: xyz (F, P, J, 3) metres at ``motion.fps``.
        config: ``cutoff_hz`` (0: return ``motion`` as it is) and ``order``.
    Returns:
        A Motion3D with smoothed xyz; gaps stay gaps and no value crosses one. Runs shorter
        than ``config.min_segment_frames`` are left as they are: filtfilt needs that many
        frames to extend the run at its ends, and a filter longer than the run would be mostly
        its own edge effect. source, reprojection_error and n_views are unchanged.
    Raises:
        ConfigError: if ``cutoff_hz`` is not below half the frame rate.
    """
    if config.cutoff_hz == 0:
        return motion
    config.check_rate(motion.fps)
    from scipy.signal import butter, sosfiltfilt
    sos = butter(config.order // 2, config.cutoff_hz, fs=motion.fps, output="sos")
    xyz = motion.xyz.reshape(motion.n_frames, -1, 3)                     # (F, S, 3)
    starts, lengths, series = runs(np.isfinite(xyz).all(-1))
    smoothed = xyz.copy()
    for length in np.unique(lengths[lengths >= config.min_segment_frames]):
        same = lengths == length
        frames = starts[same, None] + np.arange(length)                  # (R, L)
        segments = xyz[frames, series[same, None]]                       # (R, L, 3)
        smoothed[frames, series[same, None]] = sosfiltfilt(
            sos, segments, axis=1, padlen=config.min_segment_frames - 1)
    return replace(motion, xyz=smoothed.reshape(motion.xyz.shape))
