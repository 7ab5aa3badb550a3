"""Short real videos for tests: the first frames of a recording, written again."""

from __future__ import annotations

from pathlib import Path

import cv2


def write_first_frames(source: Path, target: Path, n_frames: int, shrink: int = 1) -> None:
    """The first ``n_frames`` of the video ``source`` as ``target`` (mp4v at 60 fps), each
    ``shrink`` times smaller on both sides (1: the size it was calibrated at)."""
    capture = cv2.VideoCapture(str(source))
    writer = None
    for _ in range(n_frames):
        ok, frame = capture.read()
        assert ok, f"{source} has fewer than {n_frames} frames"
        if shrink > 1:
            frame = cv2.resize(frame, (frame.shape[1] // shrink, frame.shape[0] // shrink))
        if writer is None:
            writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), 60,
                                     (frame.shape[1], frame.shape[0]))
        writer.write(frame)
    writer.release()
    capture.release()
