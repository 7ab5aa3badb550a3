"""The detection stage: every camera's video -> that camera's 2D keypoints over the take.

Each video is detected in chunks of ``chunk_frames`` frames, each chunk with a fresh tracker,
one task per (camera, chunk) in parallel processes. The tasks get the video probed already: its
frames are not counted again per chunk (a cost that would grow with the square of its length).
Each finished chunk is cached at once in ``output/cache/keypoints2d/`` under a fingerprint of
its video file, frames and the detector's settings: an interrupted run resumes where it stopped
with the same result, and a changed video or setting redoes only the chunks it affects.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tqdm import tqdm

from calibration.process_pool import run_tasks, tick
from mocap.cache import fingerprint, load_cached, store_cached
from mocap.detection.config import DetectionConfig
from mocap.detection.detector import Detector, make_detector
from mocap.detection.tracks import TrackedChunk, join_chunks, stack_frames
from mocap.detection.video import VideoInfo, read_frames
from mocap.keypoints import CameraKeypoints


@dataclass(frozen=True)
class VideoSpan:
    """The frames of one camera's video that make up the take."""

    camera: str
    video: VideoInfo        # the video file, probed
    first_frame: int        # the video frame that is take frame 0
    n_frames: int           # take frames

    @property
    def path(self) -> Path:
        return self.video.path


def detect_videos(spans: list[VideoSpan], fps: float, config: DetectionConfig, cache_dir: Path,
                  *, progress: bool = True) -> dict[str, CameraKeypoints]:
    """2D keypoints of every camera over the take, from the cache where it is valid.

    Returns:
        camera name to CameraKeypoints with the span's frames at ``fps``.
    Raises:
        DetectionError: a video cannot be read (naming the file and frame); ConfigError: an
            unknown detector or bad model settings.
    """
    detector = make_detector(config.detector, config)
    settings = {"detector": config.detector, **detector.settings()}
    chunks = {(s.camera, start): _Chunk(s, start, min(start + config.chunk_frames, s.n_frames))
              for s in spans for start in range(0, s.n_frames, config.chunk_frames)}
    keys = {k: fingerprint([c.span.path], frames=c.video_frames, **settings)
            for k, c in chunks.items()}
    paths = {k: cache_dir / k[0] / f"{k[1]:08d}.npz" for k in chunks}
    cached = {k: _load_chunk(paths[k], keys[k]) for k in chunks}
    todo = {k: (_detect_chunk, (c.span.video, *c.video_frames, config))
            for k, c in chunks.items() if cached[k] is None}

    def keep(k: tuple[str, int], chunk: TrackedChunk) -> None:
        store_cached(paths[k], keys[k], {"xy": chunk.xy, "score": chunk.score,
                                         "track_id": chunk.track_id})

    total = sum(chunks[k].n_frames for k in todo)
    with tqdm(total=total, desc=f"2D detection ({config.detector})", unit="frame",
              disable=not progress or not todo, smoothing=0.1) as bar:
        fresh = run_tasks(todo, workers=config.workers or os.cpu_count() or 1,
                          progress=bar.update, on_result=keep)
    done: dict[tuple[str, int], TrackedChunk] = {k: cached[k] or fresh[k] for k in chunks}
    return {s.camera: _camera_keypoints([c for k, c in done.items() if k[0] == s.camera],
                                        detector, fps) for s in spans}


@dataclass(frozen=True)
class _Chunk:
    span: VideoSpan
    start: int              # take frames [start, stop)
    stop: int

    @property
    def n_frames(self) -> int:
        return self.stop - self.start

    @property
    def video_frames(self) -> tuple[int, int]:
        return self.span.first_frame + self.start, self.span.first_frame + self.stop


def _load_chunk(path: Path, key: str) -> TrackedChunk | None:
    arrays = load_cached(path, key)
    return None if arrays is None else TrackedChunk(arrays["xy"], arrays["score"],
                                                    arrays["track_id"])


def _camera_keypoints(chunks: list[TrackedChunk], detector: Detector, fps: float
                      ) -> CameraKeypoints:
    joined = join_chunks(chunks)
    return CameraKeypoints(joined.xy, joined.score, joined.track_id, detector.skeleton, fps)


def _detect_chunk(video: VideoInfo, start: int, stop: int, config: DetectionConfig
                  ) -> TrackedChunk:
    """Detect frames [start, stop) of ``video`` with a fresh tracker."""
    detector = _detector(config)
    track = detector.stream()
    people = []
    for _, frame in read_frames(video, start, stop):
        people.append(track(frame))
        tick(1)
    return stack_frames(people, len(detector.skeleton))


@cache
def _detector(config: DetectionConfig) -> Detector:
    """One detector (its models loaded once) per process and configuration."""
    return make_detector(config.detector, config)

