"""Calibration footage: one video or one image folder per camera, read as a stream of frames.

A session's ``calibration/`` folder holds ``<camera>.mp4|.avi|.mov|.mkv`` videos or
``<camera>/*.jpg|*.png`` image folders; camera names are the file stems / folder names.
Frames are decoded one at a time, so memory does not grow with the length of a take.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from calibration.errors import FootageError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_LAYOUT = ("expected calibration/<camera>.mp4 (or .avi, .mov, .mkv) videos or "
           "calibration/<camera>/ folders of .jpg/.png images")
_REENCODE = "re-encode it as H.264 MP4 (e.g. ffmpeg -i in -c:v libx264 -crf 12 out.mp4)"


def find_footage(folder: str | Path) -> dict[str, Path]:
    """Map camera name to its video file or image folder in ``folder``, sorted by name.

    Raises:
        FootageError: the folder is missing or holds no footage; a camera has both a video and
            an image folder; a camera folder exists but holds no images.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FootageError(f"{folder}: calibration folder not found; {_LAYOUT}")
    found: dict[str, Path] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix.lower() in VIDEO_SUFFIXES:
            camera = entry.stem
        elif entry.is_dir() and _is_camera_folder(entry):
            camera = entry.name
        else:
            continue
        if camera in found:
            raise FootageError(f"camera {camera} has two sources of footage, {found[camera]} and "
                               f"{entry}; keep only one")
        found[camera] = entry
    if not found:
        raise FootageError(f"{folder}: no calibration footage found; {_LAYOUT}")
    return dict(sorted(found.items()))


def _is_camera_folder(folder: Path) -> bool:
    """True if ``folder`` holds images; FootageError if it is empty (a camera with no photos)."""
    files = [p for p in folder.iterdir() if not p.name.startswith(".")]
    if not files:
        raise FootageError(f"{folder}: camera folder is empty; put the camera's board photos "
                           f"(.jpg/.png) in it or remove it")
    return any(p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES for p in files)


def image_files(folder: str | Path) -> list[Path]:
    """The .jpg/.png files of an image folder in name order; FootageError if there are none."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and not p.name.startswith(".")
                   and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FootageError(f"{folder}: no .jpg or .png images in this camera folder; add the "
                           "camera's board photos or remove the folder")
    return files


def count_frames(path: str | Path) -> int:
    """Number of frames in a video (as its header says) or images in a folder."""
    path = Path(path)
    if path.is_dir():
        return len(image_files(path))
    capture = open_video(path)
    try:
        return max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
    finally:
        capture.release()


def iter_frames(path: str | Path, step: int = 1) -> Iterator[tuple[int, NDArray[np.uint8]]]:
    """Stream (frame index, grey image (H, W) uint8) of every ``step``-th frame.

    Args:
        path: a video file or an image folder (images in name order; index = position).
        step: keep frames 0, step, 2 step, ...
    Raises:
        FootageError: unreadable or empty video; empty image folder; unreadable image; images
            of different sizes in one folder (naming both files and sizes).
    """
    yield from FrameStream(path, step)


class FrameStream:
    """The frames of one camera's footage, decoded one at a time as (index, (H, W) uint8).

    After a full pass, ``n_frames`` is the number of frames in the footage, skipped ones
    included (frame indices are below it).
    """

    def __init__(self, path: str | Path, step: int = 1) -> None:
        if step < 1:
            raise FootageError(f"{path}: frame step must be >= 1, got {step}")
        self.path, self.step, self.n_frames = Path(path), step, 0

    def __iter__(self) -> Iterator[tuple[int, NDArray[np.uint8]]]:
        source = _iter_images if self.path.is_dir() else _iter_video
        yield from source(self.path, self.step, self)


def open_video(path: Path, error: Callable[[str], Exception] = FootageError, *,
               layout: str = _LAYOUT, fix: str = _REENCODE + " or export images"
               ) -> cv2.VideoCapture:
    """``path`` opened by OpenCV, its frames turned as the rotation metadata says.

    Raises:
        ``error(message)``, the message naming the file: not found (then ``layout`` says where
        videos go), empty (0 bytes), or OpenCV cannot open it (then ``fix`` says what to do).
    """
    if not path.is_file():
        raise error(f"{path}: video not found; {layout}")
    if path.stat().st_size == 0:
        raise error(f"{path}: the video file is empty (0 bytes); record or copy it again")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise error(f"{path}: OpenCV cannot open this video; {fix}")
    capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)     # OpenCV 5's default, stated
    return capture


def _iter_video(path: Path, step: int, stream: FrameStream
                ) -> Iterator[tuple[int, NDArray[np.uint8]]]:
    jpeg = _jpeg_frames(path)
    capture = open_video(path)
    if jpeg:
        capture.set(cv2.CAP_PROP_FORMAT, -1)         # hand over each frame's JPEG undecoded
    try:
        index = 0
        while True:
            if index % step == 0:
                ok, frame = capture.read()
                if not ok:
                    break
                yield index, (_decode_gray(frame, path, index) if jpeg
                              else _to_gray(np.asarray(frame, np.uint8)))
            elif not capture.grab():
                break
            index += 1
    finally:
        capture.release()
    stream.n_frames = index
    if index == 0:
        raise FootageError(f"{path}: no frame could be decoded (empty or corrupt video); "
                           "re-encode it as H.264 MP4 or export images")


def _jpeg_frames(path: Path) -> bool:
    """Whether the video is Motion JPEG and OpenCV hands over its frames' JPEG data, which
    then decode straight to grey (no chroma upsampling, no colour conversion)."""
    capture = open_video(path)
    try:
        fourcc = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little")
        if fourcc != b"MJPG" or not capture.set(cv2.CAP_PROP_FORMAT, -1):
            return False
        ok, packet = capture.read()
        return bool(ok) and cv2.imdecode(np.asarray(packet).reshape(-1),
                                         cv2.IMREAD_GRAYSCALE) is not None
    finally:
        capture.release()


def _decode_gray(packet: NDArray[np.uint8], path: Path, index: int) -> NDArray[np.uint8]:
    gray = cv2.imdecode(np.asarray(packet).reshape(-1), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        raise FootageError(f"{path}: frame {index} is not a readable JPEG (corrupt Motion JPEG "
                           "video); re-encode it as H.264 MP4 or export images")
    return np.asarray(gray, np.uint8)


def _iter_images(folder: Path, step: int, stream: FrameStream
                 ) -> Iterator[tuple[int, NDArray[np.uint8]]]:
    first: tuple[Path, tuple[int, int]] | None = None
    files = image_files(folder)
    stream.n_frames = len(files)
    for index, file in enumerate(files):
        if index % step:
            continue
        read = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
        if read is None:
            raise FootageError(f"{file}: cannot be read as an image; replace or remove it")
        image = np.asarray(read, np.uint8)
        size = (image.shape[1], image.shape[0])
        if first is None:
            first = (file, size)
        elif size != first[1]:
            raise FootageError(f"{folder}: images of different sizes in one camera folder: "
                               f"{first[0].name} is {first[1][0]}x{first[1][1]} but {file.name} "
                               f"is {size[0]}x{size[1]}; one folder must hold one camera's "
                               "photos at one resolution")
        yield index, image


def _to_gray(frame: NDArray[np.uint8]) -> NDArray[np.uint8]:
    if frame.ndim == 2:
        return frame
    code = cv2.COLOR_BGRA2GRAY if frame.shape[2] == 4 else cv2.COLOR_BGR2GRAY
    return np.asarray(cv2.cvtColor(frame, code), np.uint8)
