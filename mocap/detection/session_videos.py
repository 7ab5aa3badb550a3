"""A session's take: ``videos/<camera>.<ext>`` matched to the calibrated cameras and lined up.

Take frame ``i`` is video frame ``i + first_frame`` of every camera. The cameras' first frames
come from ``videos/timestamps.csv`` (the layouts :func:`calibration.sync.read_timestamps`
reads) or from ``[videos] offsets`` in ``session.toml``; without either, every video starts
the take at its frame 0.

Length policy: without sync information videos of different lengths are an error, since
nothing says whether the cameras started or stopped apart, and guessing wrong pairs every
frame with another instant. With it, the take is the frames all cameras have, and
:attr:`TakeVideos.notes` names the frames left out.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from calibration.errors import SyncError
from calibration.footage import VIDEO_SUFFIXES
from calibration.sync import check_footage, read_timestamps, sync_by_timestamps
from mocap.detection.video import VideoInfo, probe_video, read_frames
from mocap.errors import ConfigError, DetectionError

MAX_DRIFT = 0.5     # frames two cameras' clocks may drift apart over the take (half a frame:
                    # beyond it a take frame shows the cameras at different instants)
_OFFSETS = "session.toml [videos] offsets"


@dataclass(frozen=True)
class VideoConfig:
    """The ``[videos]`` table of ``session.toml``: how the cameras' videos line up in time.

    ``offsets = [["cam02", 3], ["cam03", -1]]``: take frame ``i`` is video frame ``i + 3`` of
    cam02 (it started 3 frames early) and ``i - 1`` of cam03; cameras not listed have 0. The
    offsets are shifted together so that the take starts where every camera has a frame.
    """

    offsets: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        names = [camera for camera, _ in self.offsets]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ConfigError(f"'offsets': camera {twice[0]} is listed twice; give each camera "
                              "one offset")


@dataclass(frozen=True)
class CameraVideo:
    """One camera's video and where the take starts in it."""

    camera: str
    info: VideoInfo
    first_frame: int        # the video frame that is take frame 0

    @property
    def path(self) -> Path:
        return self.info.path


@dataclass(frozen=True)
class TakeVideos:
    """The videos of one take, in the calibration's camera order.

    Attributes:
        videos: one per camera.
        n_frames: take frames F (every camera has video frames for all of them).
        fps: the take's frame rate (the cameras' median).
    """

    videos: tuple[CameraVideo, ...]
    n_frames: int
    fps: float

    @property
    def cameras(self) -> tuple[str, ...]:
        return tuple(v.camera for v in self.videos)

    def __getitem__(self, camera: str) -> CameraVideo:
        return self.videos[self.cameras.index(camera)]

    def frames(self, camera: str) -> Iterator[tuple[int, NDArray[np.uint8]]]:
        """(take frame, BGR image (H, W, 3) uint8) of ``camera`` over the take, streamed."""
        first = self[camera].first_frame
        for index, frame in read_frames(self[camera].info, first, first + self.n_frames):
            yield index - first, frame

    @property
    def notes(self) -> list[str]:
        """One sentence per video with frames outside the take."""
        out = []
        for v in self.videos:
            end = v.first_frame + self.n_frames
            parts = [_span(0, v.first_frame), _span(end, v.info.n_frames)]
            left = " and ".join(p for p in parts if p)
            if left:
                out.append(f"{v.path.name}: frames {left} are outside the take (not every camera "
                           "has a frame then)")
        return out


def find_take_videos(folder: str | Path, cameras: Sequence[str] | None = None,
                     config: VideoConfig | None = None) -> TakeVideos:
    """Match ``folder``'s ``<camera>.<ext>`` videos to ``cameras`` and line them up.

    Args:
        folder: the session's ``videos/`` folder.
        cameras: the calibrated cameras (``CameraRig.names``), in the order to keep; None: every
            video found, in name order.
        config: the session's ``[videos]`` settings.
    Raises:
        DetectionError: no videos; a video without a calibrated camera or a calibrated camera
            without a video; two videos of one camera; different frame rates; different lengths
            without sync information; offsets and timestamps both given; timestamps that do
            not fit the videos or do not give each camera one constant offset; any error of
            :func:`probe_video`.
    """
    folder, config = Path(folder), config or VideoConfig()
    files = _video_files(folder)
    names = _matched(files, cameras, folder)
    infos = [probe_video(files[name]) for name in names]
    fps = _common_fps(infos)
    timestamps = folder / "timestamps.csv"
    if config.offsets and timestamps.is_file():
        raise DetectionError(f"{_OFFSETS} and {timestamps} both say how the cameras line up; "
                             "keep one of them")
    if timestamps.is_file():
        first = _first_frames_from_timestamps(names, infos, timestamps)
    else:
        first = _first_frames_from_offsets(names, config)
    synced = bool(config.offsets) or timestamps.is_file()
    n_frames = _take_length(infos, first, synced)
    videos = tuple(CameraVideo(n, i, int(f)) for n, i, f in zip(names, infos, first))
    return TakeVideos(videos, n_frames, fps)


def _video_files(folder: Path) -> dict[str, Path]:
    """camera name (file stem) -> its video in ``folder``."""
    layout = "put one video per camera there, named after it: videos/<camera>.mp4 (or .avi, " \
             ".mov, .mkv)"
    if not folder.is_dir():
        raise DetectionError(f"{folder}: no videos folder; {layout}")
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in VIDEO_SUFFIXES:
            continue
        if path.stem in files:
            raise DetectionError(f"camera {path.stem} has two videos, {files[path.stem].name} "
                                 f"and {path.name}, in {folder}; keep one")
        files[path.stem] = path
    if not files:
        raise DetectionError(f"{folder}: no videos found; {layout}")
    return files


def _matched(files: dict[str, Path], cameras: Sequence[str] | None, folder: Path) -> list[str]:
    """The camera names in ``cameras``' order, each with a video."""
    if cameras is None:
        return list(files)
    strays = [files[n].name for n in files if n not in cameras]
    missing = [c for c in cameras if c not in files]
    if not strays and not missing:
        return list(cameras)
    problems = ([f"videos {', '.join(strays)} have no calibrated camera"] if strays else []) + \
               ([f"calibrated cameras {', '.join(missing)} have no video"] if missing else [])
    raise DetectionError(f"{folder}: {' and '.join(problems)} (videos: "
                         f"{', '.join(p.name for p in files.values())}; calibrated cameras: "
                         f"{', '.join(cameras)}); name each video after its camera in the "
                         "calibration, and calibrate the cameras that are missing from it (or "
                         "move their videos out of the folder)")


def _common_fps(infos: list[VideoInfo]) -> float:
    """The take's frame rate; DetectionError where the cameras drift over MAX_DRIFT frames."""
    rates = np.array([i.fps for i in infos])                                    # (C,)
    fps = float(np.median(rates))
    longest = max(i.n_frames for i in infos)
    drift = longest * np.abs(rates / fps - 1)                                   # (C,) frames
    if (drift > MAX_DRIFT).any():
        worst = infos[int(np.argmax(drift))]
        listing = ", ".join(f"{i.path.name} {i.fps:g}" for i in infos)
        raise DetectionError(f"{infos[0].path.parent}: videos of different frame rates "
                             f"({listing} frames/s): over {longest} frames {worst.path.name} "
                             f"drifts {drift.max():.1f} frames from the others' {fps:g} frames/s; "
                             "record every camera at one rate, or convert the odd ones (ffmpeg "
                             f"-i in.mp4 -filter:v fps={fps:g} out.mp4)")
    return fps


def _first_frames_from_offsets(names: list[str], config: VideoConfig) -> NDArray[np.int64]:
    """(C,) each camera's first take frame from ``[videos] offsets``, the smallest 0."""
    given = dict(config.offsets)
    unknown = [c for c in given if c not in names]
    if unknown:
        raise DetectionError(f"{_OFFSETS} names camera {unknown[0]}, which has no video (the "
                             f"cameras are {', '.join(names)}); fix the name or remove it")
    offsets = np.array([given.get(c, 0) for c in names], dtype=np.int64)       # (C,)
    return offsets - offsets.min()


def _first_frames_from_timestamps(names: list[str], infos: list[VideoInfo], path: Path
                                  ) -> NDArray[np.int64]:
    """(C,) each camera's first take frame: the constant frame offsets the timestamps give."""
    try:
        times = read_timestamps(path)
        check_footage(times, {n: i.n_frames for n, i in zip(names, infos)}, path)
        frames = sync_by_timestamps({n: times[n] for n in names}).frames         # (C, S)
    except SyncError as e:
        raise DetectionError(str(e)) from e
    shared = (frames >= 0).all(axis=0)                                          # (S,)
    if not shared.any():
        raise DetectionError(f"{path}: no instant has a frame of every camera; check the "
                             "times are of one clock and the videos of one take")
    lag = frames[:, shared] - frames[0, shared]                                 # (C, S')
    changed = np.argwhere(lag != lag[:, :1])
    if changed.size:
        c, s = changed[0]
        raise DetectionError(
            f"{path}: camera {names[c]} stops lining up with {names[0]} at its frame "
            f"{frames[c, shared][s]} ({lag[c, 0]} frames apart before, {lag[c, s]} after: a "
            "dropped or doubled frame); detection needs one constant offset per camera: cut the "
            "take there, or fill the gap in the video and its timestamps")
    return lag[:, 0] - lag[:, 0].min()


def _take_length(infos: list[VideoInfo], first: NDArray[np.int64], synced: bool) -> int:
    """Frames every camera has from its first frame; DetectionError where lengths differ
    without sync information or no frame is shared."""
    left = np.array([i.n_frames for i in infos]) - first                       # (C,)
    if not synced and (left != left[0]).any():
        listing = ", ".join(f"{i.path.name} {i.n_frames}" for i in infos)
        long, short = infos[int(np.argmax(left))], infos[int(np.argmin(left))]
        more = int(left.max() - left.min())
        raise DetectionError(
            f"{long.path.parent}: videos of different lengths ({listing} frames; "
            f"{long.path.name} has {more} more than {short.path.name}) and nothing says how they "
            f"line up: if {long.path.stem} started {more} frames early, set {_OFFSETS} = "
            f'[["{long.path.stem}", {more}]]; if the cameras started together, set {_OFFSETS} = '
            f'[["{short.path.stem}", 0]] to use the frames all have (the take ends with the '
            "shortest video); or add videos/timestamps.csv (camera, frame, time)")
    if left.min() < 1:
        firsts = ", ".join(f"{i.path.name} {f}" for i, f in zip(infos, first))
        raise DetectionError(f"{infos[0].path.parent}: no frame is shared by every camera once "
                             f"the take's first frames ({firsts}) are applied; check the offsets "
                             "or timestamps")
    return int(left.min())


def _span(start: int, stop: int) -> str:
    """'3-7' for frames [3, 8), '3' for one frame, '' for none."""
    return "" if stop <= start else f"{start}" if stop == start + 1 else f"{start}-{stop - 1}"
