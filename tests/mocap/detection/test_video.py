"""Video reading for detection: facts, streamed frames, rotation metadata, seeking, bad files."""

from __future__ import annotations

import struct
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from mocap.detection.video import probe_video, read_frames
from mocap.errors import DetectionError

CONTAINERS = [("mp4", "mp4v"), ("avi", "MJPG"), ("mkv", "mp4v"), ("mov", "mp4v")]


def write_video(path: Path, n_frames: int, size: tuple[int, int] = (64, 48), fps: float = 25.0,
                codec: str = "mp4v") -> Path:
    """A video whose frame i is grey level 7 i (mod 256) with a red block in the top-left
    quarter (so a turn of the frame shows)."""
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, size)
    assert writer.isOpened(), f"OpenCV cannot write {codec} to {path.suffix}"
    for i in range(n_frames):
        frame = np.full((h, w, 3), 7 * i % 256, np.uint8)
        frame[: h // 2, : w // 2] = (0, 0, 255)
        writer.write(frame)
    writer.release()
    return path


def all_frames(path: Path) -> list[np.ndarray]:
    return [frame for _, frame in read_frames(path)]


# --- MP4 boxes: rotation metadata and moving the index to the front, without ffmpeg ---------
_CONTAINER_BOXES = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


def _boxes(data: bytes | bytearray, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, body start, box end) of the boxes in data[start:end], inner boxes too."""
    while start + 8 <= end:
        size, kind = struct.unpack(">I4s", data[start:start + 8])
        body = start + 8
        if size == 1:
            size, body = struct.unpack(">Q", data[body:body + 8])[0], body + 8
        size = size or end - start
        yield kind, body, start + size
        if kind in _CONTAINER_BOXES:
            yield from _boxes(data, body, start + size)
        start += size


def set_rotation(path: Path, degrees: int) -> None:
    """Write ``degrees`` (clockwise for display) into the MP4's track header matrix, as phones
    and ``ffmpeg -metadata:s:v rotate=...`` do."""
    data = bytearray(path.read_bytes())
    cos, sin = {0: (1, 0), 90: (0, 1), 180: (-1, 0), 270: (0, -1)}[degrees]
    for kind, body, _ in _boxes(data, 0, len(data)):
        if kind == b"tkhd":
            matrix = body + 4 + (32 if data[body] == 1 else 20) + 16
            data[matrix:matrix + 36] = struct.pack(">9i", cos << 16, sin << 16, 0,
                                                   -sin << 16, cos << 16, 0, 0, 0, 1 << 30)
    path.write_bytes(bytes(data))


def faststart(data: bytes) -> bytes:
    """The MP4 with its index (moov) moved before the frames, as streaming cameras write it."""
    top = list(_top_boxes(data))
    moov = next(bytearray(data[s:e]) for kind, s, e in top if kind == b"moov")
    for kind, body, _ in _boxes(moov, 0, len(moov)):
        if kind in (b"stco", b"co64"):
            fmt = ">I" if kind == b"stco" else ">Q"
            step, (count,) = struct.calcsize(fmt), struct.unpack(">I", moov[body + 4:body + 8])
            for at in range(body + 8, body + 8 + count * step, step):
                moov[at:at + step] = struct.pack(fmt, struct.unpack(fmt, moov[at:at + step])[0]
                                                 + len(moov))
    rest = b"".join(data[s:e] for kind, s, e in top[1:] if kind != b"moov")
    return data[top[0][1]:top[0][2]] + bytes(moov) + rest


def _top_boxes(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    start = 0
    while start < len(data):
        size, kind = struct.unpack(">I4s", data[start:start + 8])
        yield kind, start, start + size
        start += size


# --- facts and frames ------------------------------------------------------------------------
@pytest.mark.parametrize("ext, codec", CONTAINERS)
def test_probe_reports_what_was_written(tmp_path, ext, codec):
    path = write_video(tmp_path / f"cam.{ext}", 23, size=(80, 60), fps=30.0, codec=codec)
    info = probe_video(path)
    assert (info.n_frames, info.width, info.height, info.rotation) == (23, 80, 60, 0)
    assert info.fps == pytest.approx(30.0, rel=1e-6)       # a rational time base, not exact
    assert info.path == path


@pytest.mark.parametrize("ext, codec", CONTAINERS)
def test_frames_stream_in_order_with_their_content(tmp_path, ext, codec):
    path = write_video(tmp_path / f"cam.{ext}", 20, codec=codec)
    frames = list(read_frames(path))
    assert [i for i, _ in frames] == list(range(20))
    grey = np.array([f[40:, 40:].mean() for _, f in frames])          # (F,) the grey corner
    # lossy codecs at default quality: within 6 grey levels of what was written (levels step 7)
    np.testing.assert_allclose(grey, 7 * np.arange(20), atol=6)
    assert all(f.shape == (48, 64, 3) and f.dtype == np.uint8 for _, f in frames)


@pytest.mark.parametrize("ext, codec", CONTAINERS)
def test_a_range_is_the_same_frames_as_a_full_pass(tmp_path, ext, codec):
    path = write_video(tmp_path / f"cam.{ext}", 60, codec=codec)
    full = all_frames(path)
    for start, stop in [(0, 3), (17, 25), (59, 60), (31, 31)]:
        part = list(read_frames(path, start, stop))
        assert [i for i, _ in part] == list(range(start, stop))
        for i, frame in part:
            np.testing.assert_array_equal(frame, full[i])       # decoding is deterministic


def test_frames_of_a_probed_video_are_those_of_its_path(tmp_path):
    path = write_video(tmp_path / "cam.mp4", 30)
    by_info, by_path = read_frames(probe_video(path), 11, 14), read_frames(path, 11, 14)
    for (i, a), (k, b) in zip(by_info, by_path, strict=True):
        assert i == k
        np.testing.assert_array_equal(a, b)


def test_seeking_into_a_real_h264_video_gives_the_frames_a_full_pass_gives(shared_data):
    path = shared_data / "pose2sim_demo/single_person/videos/cam02.mp4"
    full = all_frames(path)
    assert len(full) == probe_video(path).n_frames == 100       # README: 100 frames each
    for start in (1, 38, 97):
        for i, frame in read_frames(path, start, start + 3):
            np.testing.assert_array_equal(frame, full[i])


def test_real_portrait_video_is_read_as_displayed(shared_data):
    info = probe_video(shared_data / "pose2sim_demo/single_person/videos/cam01.mp4")
    # README: portrait, 60 fps, 100 frames (its 1088 is the coded height; 1080 are shown)
    assert (info.width, info.height, info.fps, info.n_frames) == (1080, 1920, 60.0, 100)


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_rotation_metadata_turns_the_frames(tmp_path, degrees):
    plain = write_video(tmp_path / "plain.mp4", 5, size=(64, 48))
    turned = tmp_path / "turned.mp4"
    turned.write_bytes(plain.read_bytes())
    set_rotation(turned, degrees)
    info = probe_video(turned)
    sideways = degrees in (90, 270)
    assert info.rotation == degrees
    assert (info.width, info.height) == ((48, 64) if sideways else (64, 48))
    turn = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180,
            270: cv2.ROTATE_90_COUNTERCLOCKWISE}[degrees]
    for (_, got), want in zip(read_frames(turned), all_frames(plain), strict=True):
        np.testing.assert_array_equal(got, cv2.rotate(want, turn))     # same bitstream
        assert got.shape == (info.height, info.width, 3)


def test_memory_stays_flat_over_a_long_take(tmp_path):
    path = write_video(tmp_path / "long.mp4", 300, size=(320, 240))
    frame_bytes = 320 * 240 * 3
    tracemalloc.start()
    try:
        n = sum(1 for _ in read_frames(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 300
    # streaming holds the frame being used and the one being decoded; 4 frames allow for
    # Python's own bookkeeping, while keeping the take would need 300
    assert peak < 4 * frame_bytes


def set_avi_length(path: Path, n_frames: int) -> None:
    """Write ``n_frames`` into an AVI's headers (the stream's length and the file's total)."""
    data = bytearray(path.read_bytes())
    strh, avih = data.find(b"strh"), data.find(b"avih")
    data[strh + 40:strh + 44] = data[avih + 24:avih + 28] = struct.pack("<I", n_frames)
    path.write_bytes(bytes(data))


def test_frame_count_is_counted_where_the_header_is_wrong(tmp_path):
    path = write_video(tmp_path / "cam.avi", 10, codec="MJPG")
    set_avi_length(path, 3)
    assert probe_video(path).n_frames == 10 and len(all_frames(path)) == 10
    set_avi_length(path, 11)              # one over: how a duration's rounding can read
    assert probe_video(path).n_frames == 10 and len(all_frames(path)) == 10
    set_avi_length(path, 12)
    with pytest.raises(DetectionError, match=r"cam.avi: truncated: its header declares 12 frames "
                                             r"but reading stops at frame 10"):
        probe_video(path)


def test_frame_count_is_counted_where_the_header_has_none(tmp_path):
    jpeg = cv2.imencode(".jpg", np.zeros((48, 64, 3), np.uint8))[1].tobytes()
    path = tmp_path / "cam.avi"
    path.write_bytes(jpeg * 7)                 # bare Motion JPEG: no header, no count
    assert probe_video(path).n_frames == 7 and len(all_frames(path)) == 7


# --- bad files -------------------------------------------------------------------------------
def test_missing_video(tmp_path):
    with pytest.raises(DetectionError, match=r"cam1.mp4: video not found; expected "
                                             r"videos/<camera>.mp4"):
        probe_video(tmp_path / "cam1.mp4")


def test_empty_video_file(tmp_path):
    (tmp_path / "cam1.mp4").write_bytes(b"")
    with pytest.raises(DetectionError, match=r"cam1.mp4: the video file is empty"):
        read_frames(tmp_path / "cam1.mp4")


def test_not_a_video(tmp_path):
    path = tmp_path / "cam1.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    with pytest.raises(DetectionError, match=r"cam1.mp4: OpenCV cannot open this video; it is "
                                             r"not a video, or it is corrupt .*re-encode"):
        read_frames(path)


def test_real_mp4_cut_in_half_cannot_be_opened(shared_data, tmp_path):
    data = (shared_data / "pose2sim_demo/single_person/videos/cam01.mp4").read_bytes()
    path = tmp_path / "cam01.mp4"
    path.write_bytes(data[:len(data) // 2])    # its index is at the end: lost with the tail
    with pytest.raises(DetectionError, match=r"cam01.mp4: OpenCV cannot open this video; .*cut "
                                             r"short"):
        probe_video(path)


def test_real_mp4_with_its_index_first_cut_in_half_is_truncated(shared_data, tmp_path):
    data = faststart((shared_data / "pose2sim_demo/single_person/videos/cam01.mp4").read_bytes())
    whole, path = tmp_path / "whole.mp4", tmp_path / "cam01.mp4"
    whole.write_bytes(data)
    assert probe_video(whole).n_frames == 100                  # the moved index still reads
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(DetectionError, match=r"cam01.mp4: truncated: its header declares 100 "
                                             r"frames but reading stops at frame (\d+);") as e:
        read_frames(path)
    stop = int(e.value.args[0].split("stops at frame ")[1].split(";")[0])
    assert 0 < stop < 100          # half the bytes hold some frames, not all


@pytest.mark.parametrize("ext, codec", [("mkv", "mp4v"), ("avi", "MJPG")])
def test_cut_mkv_and_avi_are_truncated(tmp_path, ext, codec):
    data = write_video(tmp_path / f"whole.{ext}", 60, codec=codec).read_bytes()
    path = tmp_path / f"cam1.{ext}"
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(DetectionError, match=rf"cam1.{ext}: truncated: its header declares 60 "
                                             r"frames but reading stops at frame \d+;"):
        probe_video(path)


def test_zero_frame_video(tmp_path):
    path = write_video(tmp_path / "cam1.avi", 0, codec="MJPG")
    with pytest.raises(DetectionError, match=r"cam1.avi: the video holds no frames"):
        probe_video(path)


def test_unknown_frame_rate(tmp_path):
    path = write_video(tmp_path / "cam1.mp4", 5)
    data = bytearray(path.read_bytes())
    mdhd = next(body for kind, body, _ in _boxes(data, 0, len(data)) if kind == b"mdhd")
    data[mdhd + 12:mdhd + 16] = bytes(4)                       # the track's time scale: 0
    path.write_bytes(bytes(data))
    with pytest.raises(DetectionError, match=r"cam1.mp4: unknown frame rate .*ffmpeg -r <fps>"):
        probe_video(path)


def test_range_outside_the_video(tmp_path):
    path = write_video(tmp_path / "cam1.mp4", 10)
    with pytest.raises(DetectionError, match=r"cam1.mp4: frames 5 to 12 were asked for but the "
                                             r"video has frames 0 to 10"):
        read_frames(path, 5, 12)
    with pytest.raises(DetectionError, match=r"frames 4 to 3"):
        read_frames(path, 4, 3)
