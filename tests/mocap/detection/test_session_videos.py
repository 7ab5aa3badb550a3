"""A session's videos: matched to the calibrated cameras, lined up by offsets or timestamps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mocap.config import SessionConfig
from mocap.detection.session_videos import VideoConfig, find_take_videos
from mocap.detection.video import read_frames
from mocap.errors import ConfigError, DetectionError
from tests.mocap.detection.test_video import write_video

OUTSIDE = " are outside the take (not every camera has a frame then)"


def make_videos(folder: Path, lengths: dict[str, int], fps: float = 25.0,
                ext: str = "mp4") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for camera, n in lengths.items():
        write_video(folder / f"{camera}.{ext}", n, fps=fps)
    return folder


def write_timestamps(path: Path, times: dict[str, np.ndarray]) -> None:
    rows = [f"{c},{f},{float(t)!r}" for c, ts in times.items() for f, t in enumerate(ts)]
    path.write_text("camera,frame,time\n" + "\n".join(rows) + "\n")


# --- matching -------------------------------------------------------------------------------
def test_videos_come_in_the_calibration_order(tmp_path):
    folder = make_videos(tmp_path / "videos", {"cam_a": 12, "cam_b": 12, "cam_c": 12})
    (folder / "notes.txt").write_text("not a video")
    take = find_take_videos(folder, ["cam_c", "cam_a", "cam_b"])
    assert take.cameras == ("cam_c", "cam_a", "cam_b")
    assert take.n_frames == 12 and take.fps == pytest.approx(25.0, rel=1e-6)
    assert [v.first_frame for v in take.videos] == [0, 0, 0] and take.notes == []
    assert take["cam_a"].path == folder / "cam_a.mp4"


def test_without_a_calibration_every_video_is_a_camera(tmp_path):
    folder = make_videos(tmp_path / "videos", {"cam2": 5, "cam1": 5})
    assert find_take_videos(folder).cameras == ("cam1", "cam2")


def test_video_without_a_calibrated_camera(tmp_path):
    folder = make_videos(tmp_path / "videos", {"cam01": 5, "cam02": 5, "camera3": 5})
    with pytest.raises(DetectionError, match=r"videos camera3.mp4 have no calibrated camera "
                                             r"\(videos: cam01.mp4, cam02.mp4, camera3.mp4; "
                                             r"calibrated cameras: cam01, cam02\); name each "
                                             r"video after its camera"):
        find_take_videos(folder, ["cam01", "cam02"])


def test_calibrated_camera_without_a_video(tmp_path):
    folder = make_videos(tmp_path / "videos", {"cam01": 5})
    with pytest.raises(DetectionError, match=r"calibrated cameras cam02 have no video .*"
                                             r"calibrate the cameras that are missing"):
        find_take_videos(folder, ["cam01", "cam02"])


def test_misnamed_video_is_both_a_stray_and_a_missing_camera(tmp_path):
    folder = make_videos(tmp_path / "videos", {"cam01": 5, "cam2": 5})
    with pytest.raises(DetectionError, match=r"videos cam2.mp4 have no calibrated camera and "
                                             r"calibrated cameras cam02 have no video"):
        find_take_videos(folder, ["cam01", "cam02"])


def test_two_videos_of_one_camera(tmp_path):
    folder = make_videos(tmp_path / "videos", {"cam01": 5})
    write_video(folder / "cam01.avi", 5, codec="MJPG")
    with pytest.raises(DetectionError, match=r"camera cam01 has two videos, cam01.avi and "
                                             r"cam01.mp4"):
        find_take_videos(folder)


def test_no_videos(tmp_path):
    with pytest.raises(DetectionError, match=r"videos: no videos folder; put one video per "
                                             r"camera there"):
        find_take_videos(tmp_path / "videos")
    (tmp_path / "videos").mkdir()
    with pytest.raises(DetectionError, match=r"no videos found"):
        find_take_videos(tmp_path / "videos")


def test_a_bad_video_is_named(tmp_path):
    folder = make_videos(tmp_path / "videos", {"cam01": 5})
    (folder / "cam02.mp4").write_bytes(b"")
    with pytest.raises(DetectionError, match=r"cam02.mp4: the video file is empty"):
        find_take_videos(folder, ["cam01", "cam02"])


# --- frame rates and lengths ----------------------------------------------------------------
def test_different_frame_rates_say_how_far_they_drift(tmp_path):
    folder = make_videos(tmp_path / "videos", {"cam01": 40, "cam02": 40})
    write_video(folder / "cam03.mp4", 40, fps=30.0)
    # median 25 frames/s; cam03 at 30 gains 40 * (30 / 25 - 1) = 8 frames over the take
    with pytest.raises(DetectionError, match=r"videos: videos of different frame rates \(cam01.mp4 25, cam02.mp4 "
                                             r"25, cam03.mp4 30 frames/s\): over 40 frames "
                                             r"cam03.mp4 drifts 8.0 frames .*fps=25"):
        find_take_videos(folder)


def test_frame_rates_that_drift_under_half_a_frame_are_one_rate(tmp_path):
    folder = make_videos(tmp_path / "videos", {"cam01": 40})
    write_video(folder / "cam02.mp4", 40, fps=25.1)     # drifts 40 * 0.1 / 25 = 0.16 frame
    assert find_take_videos(folder).n_frames == 40


def test_different_lengths_without_sync_say_by_how_much_and_what_to_do(tmp_path):
    folder = make_videos(tmp_path / "videos", {"cam01": 10, "cam02": 13})
    with pytest.raises(DetectionError, match=r"videos: videos of different lengths \(cam01.mp4 10, cam02.mp4 13 "
                                             r"frames; cam02.mp4 has 3 more than cam01.mp4\) .*"
                                             r'offsets = \[\["cam02", 3\]\].*'
                                             r'offsets = \[\["cam01", 0\]\]'):
        find_take_videos(folder)


# --- offsets --------------------------------------------------------------------------------
def test_offsets_line_up_the_frames(tmp_path):
    folder = make_videos(tmp_path / "videos", {"cam01": 10, "cam02": 13})
    take = find_take_videos(folder, config=VideoConfig(offsets=(("cam02", 3),)))
    assert take.n_frames == 10
    assert take.notes == [f"cam02.mp4: frames 0-2{OUTSIDE}"]
    assert (take["cam01"].first_frame, take["cam02"].first_frame) == (0, 3)
    video = dict(read_frames(folder / "cam02.mp4"))
    got = list(take.frames("cam02"))
    assert [i for i, _ in got] == list(range(10))
    for i, frame in got:
        np.testing.assert_array_equal(frame, video[i + 3])


def test_negative_offsets_start_the_take_where_every_camera_has_a_frame(tmp_path):
    folder = make_videos(tmp_path / "videos", {"cam01": 10, "cam02": 10, "cam03": 10})
    take = find_take_videos(folder, config=VideoConfig(offsets=(("cam01", -2), ("cam03", 1))))
    # cam01 frame i - 2 = cam02 frame i = cam03 frame i + 1: shifted by +2 to start at 0
    assert [v.first_frame for v in take.videos] == [0, 2, 3]
    assert take.n_frames == 7                                  # cam03: 10 - 3
    assert take.notes == [f"cam01.mp4: frames 7-9{OUTSIDE}", f"cam02.mp4: frames 0-1 and 9{OUTSIDE}",
                          f"cam03.mp4: frames 0-2{OUTSIDE}"]


def test_offset_of_a_camera_without_video(tmp_path):
    folder = make_videos(tmp_path / "videos", {"cam01": 10})
    with pytest.raises(DetectionError, match=r"offsets names camera cam1, which has no video"):
        find_take_videos(folder, config=VideoConfig(offsets=(("cam1", 2),)))


def test_offsets_that_leave_no_shared_frame(tmp_path):
    folder = make_videos(tmp_path / "videos", {"cam01": 10, "cam02": 10})
    with pytest.raises(DetectionError, match=r"videos: no frame is shared by every camera"):
        find_take_videos(folder, config=VideoConfig(offsets=(("cam02", 10),)))


def test_offsets_read_from_session_toml(tmp_path):
    (tmp_path / "session.toml").write_text('[videos]\noffsets = [["cam02", 3], ["cam03", -1]]\n')
    assert SessionConfig.load(tmp_path / "session.toml").videos == VideoConfig(
        offsets=(("cam02", 3), ("cam03", -1)))
    (tmp_path / "session.toml").write_text('[videos]\noffsets = [["cam02", 3], ["cam02", 1]]\n')
    with pytest.raises(ConfigError, match=r"session.toml \[videos\]: 'offsets': camera cam02 is "
                                          r"listed twice"):
        SessionConfig.load(tmp_path / "session.toml")
    (tmp_path / "session.toml").write_text('[videos]\noffsets = [["cam02", 2.5]]\n')
    with pytest.raises(ConfigError, match=r"'offsets\[0\]\[1\]' must be int, got 2.5"):
        SessionConfig.load(tmp_path / "session.toml")


# --- timestamps -----------------------------------------------------------------------------
def test_timestamps_give_the_offsets(tmp_path):
    folder = make_videos(tmp_path / "videos", {"cam01": 10, "cam02": 8})
    period = 0.04
    write_timestamps(folder / "timestamps.csv",          # cam02 started 2 frames late
                     {"cam01": period * np.arange(10), "cam02": period * np.arange(2, 10)})
    take = find_take_videos(folder)
    assert (take["cam01"].first_frame, take["cam02"].first_frame, take.n_frames) == (2, 0, 8)


def test_real_caliscope_timestamps_line_up_its_videos(shared_data, tmp_path):
    source = shared_data / "caliscope_charuco_4cam/calibration/extrinsic"
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ["cam_0.mp4", "cam_1.mp4", "cam_2.mp4", "cam_3.mp4", "timestamps.csv"]:
        (folder / name).symlink_to(source / name)
    take = find_take_videos(folder, ["cam_0", "cam_1", "cam_2", "cam_3"])
    # README: 111 frames at 6 fps per camera, captured together (one instant per frame index)
    assert take.n_frames == 111 and take.fps == pytest.approx(6.0)
    assert [v.first_frame for v in take.videos] == [0, 0, 0, 0]


def test_timestamps_with_a_dropped_frame(tmp_path):
    folder = make_videos(tmp_path / "videos", {"cam01": 10, "cam02": 9})
    period = 0.04
    kept = np.delete(np.arange(10), 5)                        # cam02 lost its 6th frame
    write_timestamps(folder / "timestamps.csv",
                     {"cam01": period * np.arange(10), "cam02": period * kept})
    with pytest.raises(DetectionError, match=r"timestamps.csv: camera cam02 stops lining up with "
                                             r"cam01 at its frame 5 \(0 frames apart before, -1 "
                                             r"after: a dropped or doubled frame\)"):
        find_take_videos(folder)


def test_timestamps_that_do_not_fit_the_videos(tmp_path):
    folder = make_videos(tmp_path / "videos", {"cam01": 10, "cam02": 10})
    write_timestamps(folder / "timestamps.csv",
                     {"cam01": 0.04 * np.arange(10), "cam02": 0.04 * np.arange(9)})
    with pytest.raises(DetectionError, match=r"timestamps.csv: camera cam02 has 9 timestamps but "
                                             r"its footage has 10 frames"):
        find_take_videos(folder)


def test_offsets_and_timestamps_both_given(tmp_path):
    folder = make_videos(tmp_path / "videos", {"cam01": 10, "cam02": 10})
    write_timestamps(folder / "timestamps.csv",
                     {"cam01": 0.04 * np.arange(10), "cam02": 0.04 * np.arange(10)})
    with pytest.raises(DetectionError, match=r"\[videos\] offsets and .*timestamps.csv both say "
                                             r"how the cameras line up; keep one"):
        find_take_videos(folder, config=VideoConfig(offsets=(("cam02", 1),)))
