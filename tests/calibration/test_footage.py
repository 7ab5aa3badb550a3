"""Calibration footage: finding cameras' videos and image folders, streaming frames, errors."""

from __future__ import annotations

import types

import cv2
import numpy as np
import pytest

from calibration.errors import FootageError
from calibration.footage import FrameStream, count_frames, find_footage, image_files, iter_frames


def _write_video(path, n_frames, size=(64, 48), codec="mp4v"):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), 10, size)
    for i in range(n_frames):
        frame = np.full((size[1], size[0], 3), 10 * i, np.uint8)
        writer.write(frame)
    writer.release()


def _write_images(folder, sizes):
    folder.mkdir(parents=True, exist_ok=True)
    for i, (w, h) in enumerate(sizes):
        cv2.imwrite(str(folder / f"img_{i:02d}.png"), np.full((h, w, 3), 20 * i, np.uint8))


def test_find_footage_names_cameras_by_stem_and_folder(tmp_path):
    _write_video(tmp_path / "cam_b.mp4", 3)
    _write_video(tmp_path / "cam_a.avi", 3)
    _write_images(tmp_path / "cam_c", [(32, 24)] * 2)
    (tmp_path / "board.toml").write_text('type = "checkerboard"\n')
    (tmp_path / "timestamps.csv").write_text("frame,cam_a\n")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("not a camera")
    found = find_footage(tmp_path)
    assert list(found) == ["cam_a", "cam_b", "cam_c"]
    assert found["cam_a"].suffix == ".avi" and found["cam_c"].is_dir()


def test_no_footage_is_an_error_that_shows_the_layout(tmp_path):
    (tmp_path / "board.toml").write_text("")
    with pytest.raises(FootageError, match=r"no calibration footage found; expected "
                                           r"calibration/<camera>.mp4"):
        find_footage(tmp_path)
    with pytest.raises(FootageError, match=r"calibration folder not found"):
        find_footage(tmp_path / "missing")


def test_camera_with_video_and_folder_is_ambiguous(tmp_path):
    _write_video(tmp_path / "cam_1.mp4", 2)
    _write_images(tmp_path / "cam_1", [(32, 24)])
    with pytest.raises(FootageError, match=r"camera cam_1 has two sources of footage"):
        find_footage(tmp_path)


def test_empty_image_folder(tmp_path):
    (tmp_path / "cam_1").mkdir()
    with pytest.raises(FootageError, match=r"cam_1: camera folder is empty"):
        find_footage(tmp_path)
    with pytest.raises(FootageError, match=r"cam_1: no .jpg or .png images"):
        list(iter_frames(tmp_path / "cam_1"))


def test_video_frames_stream_grey_with_step(tmp_path):
    path = tmp_path / "cam.mp4"
    _write_video(path, 10)
    frames = iter_frames(path, step=3)
    assert isinstance(frames, types.GeneratorType)           # streamed, not loaded at once
    got = list(frames)
    assert [i for i, _ in got] == [0, 3, 6, 9]
    assert all(g.shape == (48, 64) and g.dtype == np.uint8 for _, g in got)
    assert abs(int(got[1][1].mean()) - 30) <= 3               # frame 3 has grey level 30
    assert count_frames(path) == 10


def test_motion_jpeg_frames_decode_straight_to_grey_like_the_colour_path(tmp_path):
    path = tmp_path / "cam.avi"
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 64))
    for _ in range(6):                                # grey texture (colour clips either way)
        writer.write(np.repeat(rng.integers(0, 256, (64, 96, 1), np.uint8), 3, axis=2))
    writer.release()
    capture = cv2.VideoCapture(str(path))
    colour = []
    while (read := capture.read())[0]:
        colour.append(cv2.cvtColor(read[1], cv2.COLOR_BGR2GRAY))
    got = list(iter_frames(path))
    assert [i for i, _ in got] == list(range(6)) and len(colour) == 6
    for (_, grey), ref in zip(got, colour):          # the JPEG's own luma: within a level
        assert grey.shape == (64, 96) and np.abs(grey.astype(int) - ref).max() <= 2
    assert [i for i, _ in iter_frames(path, step=4)] == [0, 4]


def test_image_folder_frames_in_name_order(tmp_path):
    _write_images(tmp_path / "cam", [(40, 30)] * 5)
    (tmp_path / "cam" / "notes.txt").write_text("ignored")
    assert [p.name for p in image_files(tmp_path / "cam")][:2] == ["img_00.png", "img_01.png"]
    got = list(iter_frames(tmp_path / "cam", step=2))
    assert [i for i, _ in got] == [0, 2, 4]
    assert got[2][1].shape == (30, 40) and got[2][1][0, 0] == 80
    assert count_frames(tmp_path / "cam") == 5


def test_images_of_different_sizes_name_both_files(tmp_path):
    _write_images(tmp_path / "cam", [(40, 30), (40, 30), (64, 48)])
    with pytest.raises(FootageError, match=r"img_00.png is 40x30 but img_02.png is 64x48"):
        list(iter_frames(tmp_path / "cam"))


def test_unreadable_image(tmp_path):
    _write_images(tmp_path / "cam", [(40, 30)])
    (tmp_path / "cam" / "img_01.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(FootageError, match=r"img_01.jpg: cannot be read as an image"):
        list(iter_frames(tmp_path / "cam"))


def test_empty_video_file(tmp_path):
    path = tmp_path / "cam_1.mp4"
    path.write_bytes(b"")
    with pytest.raises(FootageError, match=r"cam_1.mp4: the video file is empty"):
        list(iter_frames(path))


def test_unreadable_video_file(tmp_path):
    path = tmp_path / "cam_1.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    with pytest.raises(FootageError, match=r"cam_1.mp4: .*(cannot open|no frame could be "
                                           r"decoded).*re-encode"):
        list(iter_frames(path))


def test_missing_video_and_bad_step(tmp_path):
    with pytest.raises(FootageError, match=r"video not found"):
        list(iter_frames(tmp_path / "nope.mp4"))
    _write_video(tmp_path / "v.mp4", 2)
    with pytest.raises(FootageError, match=r"frame step must be >= 1"):
        list(iter_frames(tmp_path / "v.mp4", step=0))


def test_frame_stream_counts_skipped_frames(tmp_path):
    _write_video(tmp_path / "cam.mp4", 7)
    stream = FrameStream(tmp_path / "cam.mp4", step=4)
    assert [i for i, _ in stream] == [0, 4] and stream.n_frames == 7
    _write_images(tmp_path / "cam_i", [(40, 30)] * 6)
    stream = FrameStream(tmp_path / "cam_i", step=4)
    assert [i for i, _ in stream] == [0, 4] and stream.n_frames == 6
