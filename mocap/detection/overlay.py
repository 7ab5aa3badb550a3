"""Detections drawn on their video, to see at a glance whether they are right.

Bones are drawn in one colour per track id (labelled ``id N`` above the person); joints are
dots coloured by confidence on the viridis scale (dark purple 0, green 0.5, yellow 1; readable
with colour blindness), with a white rim so they show on any background, and a colour bar
explains the scale. :func:`write_contact_sheet` writes a grid of frames sampled over the take
(PNG), :func:`write_overlay_video` the whole take (MP4); both write atomically.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from exporters.atomic import atomic_output
from mocap.detection.video import VideoInfo, probe_video, read_frames
from mocap.errors import DetectionError
from mocap.keypoints import CameraKeypoints

SHEET_CELL = 480        # px: the longer side of each frame on a contact sheet
SEEK_GAP = 300          # frames: sampled frames further apart are reached by seeking (a seek
                        # decodes from the keyframe before, typically under 300 frames back)
_SHIFT = 4              # sub-pixel bits for OpenCV's drawing
_VIRIDIS = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_VIRIDIS)[:, 0]
_TRACKS = np.array([[40, 39, 214], [180, 119, 31], [44, 160, 44], [14, 127, 255],
                    [189, 103, 148], [194, 119, 227], [75, 86, 140], [207, 190, 23]], np.uint8)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class ContactSheet:
    """A grid of drawn frames.

    Attributes:
        image: (H, W, 3) BGR uint8.
        frames: (N,) the take frames shown, in reading order.
        origin: (N, 2) x, y pixel of each frame's top-left corner on the sheet.
        scale: sheet pixels per video pixel.
    """

    image: NDArray[np.uint8]
    frames: NDArray[np.int64]
    origin: NDArray[np.int64]
    scale: float


def confidence_colours(score: NDArray[np.float64]) -> NDArray[np.uint8]:
    """(...,) confidence in [0, 1] to (..., 3) BGR colours of the viridis scale."""
    level = np.rint(np.clip(np.nan_to_num(score), 0, 1) * 255).astype(np.intp)
    return _VIRIDIS[level]


def contact_sheet(video_path: str | Path, keypoints: CameraKeypoints, n_frames: int = 12, *,
                  first_frame: int = 0) -> ContactSheet:
    """``n_frames`` frames spread evenly over the take, each with its skeletons, in a grid.

    Args:
        video_path: the camera's video.
        keypoints: its detections over the take (F frames).
        n_frames: frames to show (at most F).
        first_frame: the video frame that is take frame 0.
    Raises:
        DetectionError: the video cannot be read or is shorter than the take.
    """
    info = _checked_video(video_path, keypoints, first_frame)
    picks = np.unique(np.linspace(0, keypoints.n_frames - 1, max(n_frames, 1)).round()
                      ).astype(np.int64)                                        # (N,)
    scale = min(1.0, SHEET_CELL / max(info.width, info.height))
    cell = np.array([round(info.width * scale), round(info.height * scale)])    # (2,) w, h
    origin, (width, height) = _grid(picks.size, cell)
    legend = _legend(width, _thickness(cell))
    sheet = np.concatenate([np.full((height, width, 3), 255, np.uint8), legend])
    for k, frame in _sampled_frames(info.path, picks + first_frame):
        thumb = cv2.resize(frame, (int(cell[0]), int(cell[1])), interpolation=cv2.INTER_AREA)
        draw_people(thumb, keypoints, int(picks[k]), scale)
        _caption(thumb, f"frame {picks[k]}", _thickness(cell))
        x, y = origin[k]
        sheet[y:y + cell[1], x:x + cell[0]] = thumb
    return ContactSheet(sheet, picks, origin, scale)


def _grid(n: int, cell: NDArray[np.int64]) -> tuple[NDArray[np.int64], tuple[int, int]]:
    """Top-left corners (n, 2) of ``n`` cells of ``cell`` (w, h) px in reading order, and the
    grid's (width, height): near square, with no empty column."""
    rows = math.ceil(n / math.ceil(math.sqrt(n * cell[1] / cell[0])))
    cols = math.ceil(n / rows)
    origin = np.stack([np.arange(n) % cols, np.arange(n) // cols], -1) * cell
    return origin, (cols * int(cell[0]), rows * int(cell[1]))


def write_contact_sheet(video_path: str | Path, keypoints: CameraKeypoints,
                        out_png: str | Path, n_frames: int = 12, *, first_frame: int = 0
                        ) -> ContactSheet:
    """Write :func:`contact_sheet` to ``out_png`` (atomically) and return it."""
    sheet = contact_sheet(video_path, keypoints, n_frames, first_frame=first_frame)
    with atomic_output(out_png) as tmp:
        if not cv2.imwrite(str(tmp), sheet.image):
            raise DetectionError(f"{out_png}: the contact sheet cannot be written; check the "
                                 "folder can be written and the name ends in .png")
    return sheet


def write_overlay_video(video_path: str | Path, keypoints: CameraKeypoints,
                        out_mp4: str | Path, *, first_frame: int = 0) -> None:
    """The take's frames with their skeletons drawn, as an MP4 (MPEG-4 part 2) at full size.

    Raises:
        DetectionError: the video cannot be read or is shorter than the take; the output
            cannot be written.
    """
    info = _checked_video(video_path, keypoints, first_frame)
    size = (info.width, info.height)
    thickness = _thickness(np.array(size))
    legend = _legend(min(info.width, 240 * thickness), thickness)
    with atomic_output(out_mp4) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"),
                                 keypoints.fps or info.fps, size)
        try:
            if not writer.isOpened():
                raise DetectionError(f"{out_mp4}: OpenCV cannot write this video; check the "
                                     "folder can be written and the name ends in .mp4")
            frames = read_frames(info.path, first_frame, first_frame + keypoints.n_frames)
            for index, frame in frames:
                draw_people(frame, keypoints, index - first_frame, 1.0)
                frame[-legend.shape[0]:, :legend.shape[1]] = legend
                writer.write(frame)
        finally:
            writer.release()


def draw_people(image: NDArray[np.uint8], keypoints: CameraKeypoints, take_frame: int,
                scale: float) -> None:
    """Draw the people of ``take_frame`` on ``image`` (in place), which shows the video
    frame resized by ``scale``: bones in their track's colour, joints by confidence."""
    xy = (keypoints.xy[take_frame] + 0.5) * scale - 0.5                              # (P, J, 2)
    score = keypoints.score[take_frame]                                         # (P, J)
    seen = score > 0
    fixed = np.rint(np.nan_to_num(xy) * (1 << _SHIFT)).astype(np.int32)        # (P, J, 2)
    bones = np.asarray(keypoints.skeleton.bones, np.intp).reshape(-1, 2)        # (B, 2)
    width = _thickness(np.array(image.shape[1::-1]))
    for p in np.flatnonzero(seen.any(axis=1)):
        colour = _track_colour(int(keypoints.track_id[take_frame, p]))
        both = seen[p, bones[:, 0]] & seen[p, bones[:, 1]]                      # (B,)
        cv2.polylines(image, fixed[p][bones[both]], False, colour, width, cv2.LINE_AA, _SHIFT)
    radius = (width + 2) << _SHIFT
    colours = confidence_colours(score)                                         # (P, J, 3)
    for p, j in np.argwhere(seen):
        centre = tuple(int(v) for v in fixed[p, j])
        cv2.circle(image, centre, radius + (1 << _SHIFT), (255, 255, 255), -1, cv2.LINE_AA,
                   _SHIFT)
        cv2.circle(image, centre, radius, colours[p, j].tolist(), -1, cv2.LINE_AA, _SHIFT)
    _label_tracks(image, xy, seen, keypoints.track_id[take_frame], width)


def _label_tracks(image: NDArray[np.uint8], xy: NDArray[np.float64], seen: NDArray[np.bool_],
                  track_id: NDArray[np.int64], width: int) -> None:
    """``id N`` above each seen person's topmost joint, in the track's colour."""
    top = np.where(seen[..., None], xy, np.inf)                                 # (P, J, 2)
    for p in np.flatnonzero(seen.any(axis=1) & (track_id >= 0)):
        x, y = xy[p, int(np.argmin(top[p, :, 1]))]
        corner = (int(x) - 6 * width, max(int(y) - 5 * width, 8 * width))
        _text(image, f"id {track_id[p]}", corner, width, _track_colour(int(track_id[p])))


def _caption(image: NDArray[np.uint8], text: str, width: int) -> None:
    """White text with a black rim in the top-left corner."""
    corner = (3 * width, 8 * width)
    _text(image, text, corner, width, (0, 0, 0), rim=2 * width)
    _text(image, text, corner, width, (255, 255, 255))


def _legend(width: int, thickness: int) -> NDArray[np.uint8]:
    """A white strip (h, width, 3) with the confidence colour bar, labelled 0 and 1."""
    height, base = 8 * thickness + 8, 6 * thickness + 4                  # px: strip, text line
    strip = np.full((height, width, 3), 255, np.uint8)
    label = "confidence"
    text_w = cv2.getTextSize(label, _FONT, 0.25 * thickness, max(1, thickness // 2))[0][0]
    left, right = text_w + 12 * thickness, width - 8 * thickness
    if right - left >= 16:
        strip[4:height - 4, left:right] = confidence_colours(np.linspace(0, 1, right - left))
        _text(strip, "0", (left - 6 * thickness, base), thickness, (0, 0, 0))
        _text(strip, "1", (right + 2 * thickness, base), thickness, (0, 0, 0))
    _text(strip, label, (2 * thickness, base), thickness, (0, 0, 0))
    return strip


def _text(image: NDArray[np.uint8], text: str, corner: tuple[int, int], size: int,
          colour: tuple[int, ...], rim: int = 0) -> None:
    """``text`` with its baseline's left end at ``corner``, sized for line width ``size``."""
    cv2.putText(image, text, corner, _FONT, 0.25 * size, colour, max(1, size // 2) + rim,
                cv2.LINE_AA)


def _sampled_frames(path: Path, frames: NDArray[np.int64]
                    ) -> Iterator[tuple[int, NDArray[np.uint8]]]:
    """Yield (k, image) for video frame ``frames[k]``: streamed through short gaps, seeking
    over long ones."""
    runs = np.split(np.arange(frames.size), np.flatnonzero(np.diff(frames) > SEEK_GAP) + 1)
    for run in runs:
        wanted = {int(frames[k]): int(k) for k in run}
        for index, image in read_frames(path, int(frames[run[0]]), int(frames[run[-1]]) + 1):
            if index in wanted:
                yield wanted[index], image


def _checked_video(video_path: str | Path, keypoints: CameraKeypoints, first_frame: int
                   ) -> VideoInfo:
    info = probe_video(video_path)
    if keypoints.n_frames < 1 or not 0 <= first_frame <= info.n_frames - keypoints.n_frames:
        raise DetectionError(f"{info.path}: the detections cover {keypoints.n_frames} frames from "
                             f"frame {first_frame} but the video has {info.n_frames}; are these "
                             "this video's keypoints?")
    return info


def _thickness(size: NDArray[np.int64]) -> int:
    """Line width in pixels for an image of ``size`` (w, h): 1 px per 300 px of its short side,
    at least 2."""
    return max(2, round(int(size.min()) / 300))


def _track_colour(track: int) -> tuple[int, ...]:
    return tuple(int(v) for v in _TRACKS[track % len(_TRACKS)]) if track >= 0 else (255, 255, 255)
