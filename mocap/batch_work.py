"""What a batch worker runs (a process of the local pool or a Ray task): one camera's 2D
detection of a take, or the rest of a take's run. Both return plain dicts (picklable, small)
and never raise: a take's error is its result, so that it never stops the other takes."""

from __future__ import annotations

import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from mocap.batch_takes import write_record
from mocap.errors import InputError, user_errors
from mocap.pipeline import RunResult, run_session
from mocap.session import Session
from rigs.motion import TRIANGULATED


def detect_camera(root: str, camera: str) -> dict[str, Any]:
    """2D detection in ``camera``'s video of the take at ``root``, into the take's detection
    cache (``output/cache/keypoints2d``), where the take's run finds it.

    Returns:
        ``{"status": "ok" | "failed", "error": message, "seconds": duration}``.
    """
    from mocap.detection.session_videos import find_take_videos
    from mocap.detection.stage import VideoSpan, detect_videos
    start = time.perf_counter()
    try:
        session = Session.open(root)
        config = session.config
        take = find_take_videos(session.root / "videos", None, config.videos)
        video = next((v for v in take.videos if v.camera == camera), None)
        if video is None:
            raise InputError(f"{session.root / 'videos'}: no video of camera {camera}")
        span = VideoSpan(video.camera, video.info, video.first_frame, take.n_frames)
        detection = replace(config.detection.within(session.root), workers=1)  # 1 task, 1 core
        detect_videos([span], take.fps, detection, session.output / "cache" / "keypoints2d",
                      progress=False)
        return {"status": "ok", "error": "", "seconds": time.perf_counter() - start}
    except Exception as e:  # noqa: BLE001  (the take's result: it never ends the batch)
        return {"status": "failed", "error": f"camera {camera}: {_message(e)}",
                "seconds": time.perf_counter() - start}


def run_take(root: str, key: str) -> dict[str, Any]:
    """``mocap run`` of the take at ``root`` (its detection cache filled by
    :func:`detect_camera`); on success its outputs are recorded as made from inputs ``key``.

    Returns:
        a summary row: status "ok" or "failed", frames, people, reprojection_px,
        joint_error_mm (takes with ground truth), seconds, error.
    """
    start = time.perf_counter()
    try:
        result = run_session(Session.open(root), progress=False)
        row = {"status": "ok", **result_metrics(result), "error": ""}
        row["seconds"] = time.perf_counter() - start
        write_record(Path(root), key, row)
        return row
    except Exception as e:  # noqa: BLE001  (the take's result: it never ends the batch)
        return {"status": "failed", "error": _message(e),
                "seconds": time.perf_counter() - start}


def result_metrics(result: RunResult) -> dict[str, Any]:
    """Frames, people, mean reprojection error (px) of the triangulated joints, and the mean
    joint error against ground truth (mm) where the take has it."""
    m = result.motion
    found = np.asarray(m.source == TRIANGULATED)                               # (F, P, J)
    errors = m.reprojection_error
    error = float(np.nanmean(errors[found])) if errors is not None and found.any() else None
    truth = result.accuracy["mean_mm"] if result.accuracy is not None else None
    return {"frames": m.n_frames, "people": m.n_people, "reprojection_px": error,
            "joint_error_mm": truth}


def _message(error: Exception) -> str:
    """A user error's own message; for anything else the exception and where it was raised."""
    if isinstance(error, user_errors()):
        return str(error)
    where = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    place = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
    return f"unexpected {type(error).__name__}{place}: {error}"
