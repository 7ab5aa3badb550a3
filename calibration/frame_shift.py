"""Whole-frame synchronisation errors: a camera whose frames are matched to the others' one
frame off (a timestamp offset, a camera that started a frame late in lockstep footage).

The motion correction (``calibration.rolling_shutter``) fits each camera's capture latency
relative to the root camera within half a frame; a latency on that bound means the camera's
views are further off. :func:`suspect_shifts` names the cameras to move by one frame, and
:func:`shifted_inputs` gives the frame times or the index synchronisation that moves them;
:func:`search_frame_shifts` (run by ``calibrate`` unless it is given a sync table) keeps a move
when it fits the board clearly better, and :func:`latency_warnings` names the cameras left on
the bound.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from calibration.config import CalibrationConfig
from calibration.detections import BoardDetections
from calibration.errors import CalibrationError
from calibration.result import CalibrationResult, FrameShifts, MotionReport
from calibration.sync import SyncTable, frame_period, sync_by_index

FloatArray = NDArray[np.float64]


def search_frame_shifts(run: Callable[[dict[str, FloatArray] | None, SyncTable | None],
                                     CalibrationResult],
                        result: CalibrationResult, detections: Mapping[str, BoardDetections],
                        frame_times: Mapping[str, FloatArray] | None,
                        config: CalibrationConfig) -> CalibrationResult:
    """Move cameras by whole frames while that fits the board clearly better: at most
    ``config.shift_rounds`` moves in turn, each camera by at most ``config.max_frame_shift``
    frames, a move kept where it cuts the RMS by ``config.shift_min_gain``.

    Args:
        run: calibrates with the given frame times (or, without them, sync table).
        result: the calibration with the frames as given; its report's ``motion`` and
            ``root_camera`` name the suspects.
        frame_times: per camera its frame times, or None (frames matched by index).
    Returns:
        the best calibration; where cameras were moved its report's ``frame_shifts`` says which
        and by how much, and a warning names them.
    """
    shifts: dict[str, int] = {}
    before = result.report.bundle.rms_px
    for _ in range(config.shift_rounds):
        step = suspect_shifts(result.report.motion, result.report.root_camera)
        trial = combined(shifts, step, list(detections))
        if not step or not trial or max(map(abs, trial.values())) > config.max_frame_shift:
            break
        try:
            retry = run(*shifted_inputs(detections, frame_times, trial))
        except CalibrationError:
            break
        rms = retry.report.bundle.rms_px
        if not rms < (1 - config.shift_min_gain) * result.report.bundle.rms_px:
            break
        report = replace(retry.report, frame_shifts=FrameShifts(trial, (before, rms)),
                         warnings=[*retry.report.warnings,
                                   *describe_shifts(trial, (before, rms), frame_times)])
        result, shifts = replace(retry, report=report), trial
    return result


def latency_warnings(timing: MotionReport, root: str) -> list[str]:
    """A warning for each camera whose fitted latency (relative to the ``root`` camera's) sits
    on its bound, half a frame: one of the two was captured further from its timestamps than a
    latency explains."""
    if not timing.applied:
        return []
    out = []
    for name, c in timing.cameras.items():
        if c.offset_at_bound:
            out.append(f"camera {name}: its views fit best as if captured at least "
                       f"{abs(c.offset):.3g} {timing.unit} "
                       f"{'earlier' if c.offset < 0 else 'later'} "
                       f"relative to camera {root} than their frame times say (half a frame, "
                       "the most the motion correction allows): check both cameras' "
                       "timestamps and that neither's frames are shifted by one")
    return out


def suspect_shifts(motion: MotionReport, root: str) -> dict[str, int]:
    """``{camera: +-1}``: the frame each camera's frames should move by, from its fitted
    latency's sign where that latency sits on its bound. When every other fitted camera sits on
    the same bound, the root camera is the odd one out and moves the other way.

    Args:
        motion: a calibration report's ``motion`` (``MotionTiming.as_report``).
        root: the camera the latencies are relative to.
    """
    if not motion.applied:
        return {}
    sign = {n: int(np.sign(c.offset)) for n, c in motion.cameras.items()
            if c.offset_at_bound and c.offset != 0}
    others = [n for n, c in motion.cameras.items() if c.fitted and n != root]
    if len(others) > 1 and set(sign) == set(others) and len(set(sign.values())) == 1:
        return {root: -next(iter(sign.values()))}
    return sign


def combined(shifts: Mapping[str, int], step: Mapping[str, int], names: list[str]
             ) -> dict[str, int]:
    """``shifts`` plus ``step``, as the fewest cameras moved: only relative shifts matter, so
    the most common shift is taken off every camera (moving three of four cameras back is
    moving the fourth forward). Cameras left unmoved are left out."""
    total = np.array([shifts.get(n, 0) + step.get(n, 0) for n in names])
    values, counts = np.unique(total, return_counts=True)
    common = values[counts == counts.max()]
    total -= common[np.argmin(np.abs(common))]                 # ties: the smallest move
    return {n: int(k) for n, k in zip(names, total) if k != 0}


def shifted_inputs(detections: Mapping[str, BoardDetections],
                   frame_times: Mapping[str, FloatArray] | None, shifts: Mapping[str, int]
                   ) -> tuple[dict[str, FloatArray] | None, SyncTable | None]:
    """(frame_times, sync) for ``calibrate`` with camera c's frames moved ``shifts[c]``
    frames later: its times moved by that many of its frame periods, or, without times, the
    frame-index synchronisation shifted."""
    if frame_times is None:
        return None, sync_by_index({n: d.n_frames for n, d in detections.items()},
                                   shifts=shifts)
    moved = {}
    for name, times in frame_times.items():
        moved[name] = np.asarray(times, float) + shifts.get(name, 0) * (frame_period(times)
                                                                        or 0.0)
    return moved, None


def describe_shifts(shifts: Mapping[str, int], rms: tuple[float, float],
                    frame_times: Mapping[str, FloatArray] | None) -> list[str]:
    """One warning per moved camera."""
    out = []
    for name, k in shifts.items():
        if k == 0:
            continue
        t = None if frame_times is None else frame_times[name]
        step = None if t is None else frame_period(t)
        period = "" if step is None else f" ({k * step * 1000:+.0f} ms)"
        out.append(f"camera {name}: its frames fit the other cameras' clearly better moved "
                   f"{abs(k)} frame{'s' if abs(k) > 1 else ''} "
                   f"{'later' if k > 0 else 'earlier'} than "
                   f"{'its timestamps say' if t is not None else 'their index says'}{period} "
                   f"(RMS {rms[0]:.2f} -> {rms[1]:.2f} px), so the calibration moved them; "
                   f"check this camera's {'timestamps' if t is not None else 'start'}")
    return out
