"""One camera's video for detection: its facts (:func:`probe_video`) and its frames, streamed.

Frames come as displayed: OpenCV 5.1's FFmpeg backend turns them by the file's rotation
metadata (``CAP_PROP_ORIENTATION_AUTO``, on by default and set by ``open_video``), reports the
rotation in ``CAP_PROP_ORIENTATION_META`` and the turned size in ``CAP_PROP_FRAME_WIDTH`` and
``CAP_PROP_FRAME_HEIGHT``. Keypoints are therefore in pixels of the frame as displayed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from calibration.footage import open_video
from mocap.errors import DetectionError
from mocap.keypoints_io import MAX_FPS

MIN_FPS = 1.0       # a lower rate is a missing one (FFmpeg's guess without a time base: 0.002)
_LAYOUT = "expected videos/<camera>.mp4 (or .avi, .mov, .mkv), one per calibrated camera"
_REENCODE = "ffmpeg -i in.mp4 -c:v libx264 -crf 12 out.mp4"
_UNREADABLE = ("it is not a video, or it is corrupt or cut short (an MP4 whose recording was "
               f"interrupted has no index); copy or export it again, or re-encode it ({_REENCODE})")


@dataclass(frozen=True)
class VideoInfo:
    """What detection needs to know about one video.

    Attributes:
        path: the video file.
        fps: frames per second, as the container says.
        n_frames: frames in the file, counted (exact also where the header's count is an
            estimate or missing).
        width, height: frame size in pixels as displayed, i.e. after ``rotation``.
        rotation: degrees clockwise (0, 90, 180, 270) the stored frames are turned for display.
    """

    path: Path
    fps: float
    n_frames: int
    width: int
    height: int
    rotation: int


def probe_video(path: str | Path) -> VideoInfo:
    """Open ``path``, check it and count its frames (demuxing only, ~1 ms per 100 frames).

    Raises:
        DetectionError: naming the file and the fix: missing, empty, not a video or corrupt,
            unknown frame rate, no frames, or fewer frames than its header declares (truncated:
            the message names the frame where reading stops).
    """
    path = Path(path)
    capture = open_video(path, DetectionError, layout=_LAYOUT, fix=_UNREADABLE)
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        declared = capture.get(cv2.CAP_PROP_FRAME_COUNT)          # estimated or absent in some
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        rotation = round(capture.get(cv2.CAP_PROP_ORIENTATION_META)) % 360
    finally:
        capture.release()
    if not (math.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
        raise DetectionError(f"{path}: unknown frame rate (the file gives {fps:g} frames/s, "
                             f"outside [{MIN_FPS:g}, {MAX_FPS:g}]); re-encode it stating the rate "
                             "it was recorded at: ffmpeg -r <fps> -i in.mp4 -c:v libx264 -crf 12 "
                             "out.mp4")
    n_frames = _count_frames(path)
    if n_frames == 0:
        raise DetectionError(f"{path}: the video holds no frames; record or export the take again")
    if n_frames < declared - 1:     # one short is a rounding of the duration (Matroska's count)
        raise DetectionError(f"{path}: truncated: its header declares {int(declared)} frames but "
                             f"reading stops at frame {n_frames}; copy the file again from the "
                             f"camera, or re-encode the {n_frames} frames there are ({_REENCODE}) "
                             "and cut the other cameras to match")
    return VideoInfo(path, fps, n_frames, width, height, rotation)


def read_frames(video: str | Path | VideoInfo, start: int = 0, stop: int | None = None
                ) -> Iterator[tuple[int, NDArray[np.uint8]]]:
    """Stream (frame index, BGR image (H, W, 3) uint8 as displayed) of frames [start, stop).

    One frame is decoded at a time (memory does not grow with the take); ``start`` is reached
    by seeking, not by decoding the frames before it. A path is probed (and so checked) when
    this is called, not when the first frame is asked for; a :class:`VideoInfo` was probed
    already (reading a long video in chunks then skips counting its frames again).

    Raises:
        DetectionError: as :func:`probe_video`; a range outside the video's frames; a frame
            that does not decode (naming it).
    """
    info = video if isinstance(video, VideoInfo) else probe_video(video)
    stop = info.n_frames if stop is None else stop
    if not 0 <= start <= stop <= info.n_frames:
        raise DetectionError(f"{info.path}: frames {start} to {stop} were asked for but the video "
                             f"has frames 0 to {info.n_frames}; check the camera's frame offset")
    return _decode(info, start, stop)


def _decode(info: VideoInfo, start: int, stop: int) -> Iterator[tuple[int, NDArray[np.uint8]]]:
    capture = open_video(info.path, DetectionError, layout=_LAYOUT, fix=_UNREADABLE)
    try:
        if start and not (capture.set(cv2.CAP_PROP_POS_FRAMES, start)
                          and capture.get(cv2.CAP_PROP_POS_FRAMES) == start):
            raise DetectionError(f"{info.path}: cannot seek to frame {start}; re-encode the "
                                 f"video ({_REENCODE})")
        for index in range(start, stop):
            ok, frame = capture.read()
            if not ok:
                raise DetectionError(f"{info.path}: frame {index} of {info.n_frames} does not "
                                     "decode (the file is damaged from there); copy it again, "
                                     f"or re-encode it ({_REENCODE})")
            yield index, np.asarray(frame, np.uint8)
    finally:
        capture.release()


def _count_frames(path: Path) -> int:
    """Frames in the video, counted by reading its packets without decoding them."""
    capture = open_video(path, DetectionError, layout=_LAYOUT, fix=_UNREADABLE)
    try:
        capture.set(cv2.CAP_PROP_FORMAT, -1)      # raw packets; where unsupported, grab decodes
        n_frames = 0
        while capture.grab():
            n_frames += 1
        return n_frames
    finally:
        capture.release()
