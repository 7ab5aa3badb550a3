"""Overlays: skeletons drawn on their video as a contact sheet (PNG) and as a video."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from mocap.detection.overlay import (
    confidence_colours,
    contact_sheet,
    write_contact_sheet,
    write_overlay_video,
)
from mocap.detection.video import probe_video, read_frames
from mocap.errors import DetectionError
from mocap.keypoints import CameraKeypoints
from rigs.skeleton import get_skeleton
from tests.mocap.detection.test_video import write_video

SINGLE = "pose2sim_demo/single_person"


def read_openpose(folder: Path) -> CameraKeypoints:
    """OpenPose BODY_25B JSON files (one per frame, in name order) as CameraKeypoints."""
    frames = [[np.reshape(p["pose_keypoints_2d"], (25, 3)) for p in json.loads(f.read_text())
               ["people"]] for f in sorted(folder.glob("*.json"))]
    data = np.zeros((len(frames), max(map(len, frames)), 25, 3))               # (F, P, J, 3)
    for f, people in enumerate(frames):
        data[f, :len(people)] = people
    track = np.where(data[..., 2].any(-1), np.arange(data.shape[1]), -1)       # (F, P)
    return CameraKeypoints(data[..., :2], data[..., 2], track, get_skeleton("body25b"), 60.0)


@pytest.fixture(scope="module")
def real(shared_data):
    video = shared_data / SINGLE / "videos/cam01.mp4"
    return video, read_openpose(shared_data / SINGLE / "openpose_body25b/cam01_json")


def unseen(kp: CameraKeypoints) -> CameraKeypoints:
    """The same take with nothing detected: draws only the captions and the colour bar."""
    return CameraKeypoints(kp.xy, np.zeros_like(kp.score), kp.track_id, kp.skeleton, kp.fps)


def sheet_positions(sheet, kp: CameraKeypoints) -> tuple[np.ndarray, np.ndarray]:
    """Integer sheet pixels (N, P, J, 2) of the shown frames' joints and where seen (N, P, J)."""
    xy = (kp.xy[sheet.frames] + 0.5) * sheet.scale - 0.5 + sheet.origin[:, None, None]
    return np.rint(np.nan_to_num(xy)).astype(int), kp.score[sheet.frames] > 0


def _covered_later(points: np.ndarray, reach: float) -> np.ndarray:
    """(K,) whether a point drawn later (K, 2 in drawing order) lies within ``reach`` px."""
    near = np.linalg.norm(points[:, None] - points[None], axis=-1) < reach    # (K, K)
    return np.triu(near, 1).any(1)


def test_confidence_scale_runs_dark_to_bright():
    colours = confidence_colours(np.linspace(0, 1, 11)).astype(float)          # (11, 3) BGR
    luma = colours @ [0.114, 0.587, 0.299]
    assert (np.diff(luma) > 0).all()                 # viridis: brightness rises with confidence
    assert luma[-1] - luma[0] > 150                  # dark purple to bright yellow, not a tint
    np.testing.assert_array_equal(confidence_colours(np.array([np.nan, -1.0, 2.0])),
                                  confidence_colours(np.array([0.0, 0.0, 1.0])))


def test_real_contact_sheet_draws_every_joint_and_nothing_else(real, tmp_path):
    video, kp = real
    out = tmp_path / "overlay" / "cam01.png"
    sheet = write_contact_sheet(video, kp, out, n_frames=12)
    np.testing.assert_array_equal(cv2.imread(str(out)), sheet.image)           # lossless PNG
    assert sheet.frames.tolist() == [0, 9, 18, 27, 36, 45, 54, 63, 72, 81, 90, 99]
    assert [p.name for p in out.parent.iterdir()] == ["cam01.png"]             # no temp file
    plain = contact_sheet(video, unseen(kp), n_frames=12).image
    changed = (sheet.image != plain).any(-1)                                   # (H, W)
    px, seen = sheet_positions(sheet, kp)
    at_joint = changed[px[..., 1], px[..., 0]][seen]
    assert at_joint.all()                                  # every seen joint is drawn
    # a dot's rim reaches 5 px from its centre (radius 4 and rim 1 in a 270 px wide frame), its
    # antialiased edge up to 2 px further: a joint with no dot drawn after it within 7 px shows
    # exactly its confidence colour at its centre (eyes and ears, toes and heels lie 2-6 px
    # apart at this scale and may hide one another)
    colour = sheet.image[px[..., 1], px[..., 0]] == confidence_colours(kp.score[sheet.frames])
    free = [~_covered_later(px[n][seen[n]], 7.0) for n in range(len(sheet.frames))]
    exact = np.concatenate([colour[n][seen[n]].all(-1)[f] for n, f in enumerate(free)])
    assert exact.all() and exact.size > seen.sum() / 2
    # nothing is drawn away from the people: every change lies within 40 sheet px of a
    # person's joints (dot radius 5 px and the "id N" label above the head, about 35 px wide)
    near = np.zeros_like(changed)
    for n, p in zip(*np.nonzero(seen.any(-1))):
        lo, hi = px[n, p][seen[n, p]].min(0) - 40, px[n, p][seen[n, p]].max(0) + 40
        near[max(lo[1], 0):hi[1], max(lo[0], 0):hi[0]] = True
    assert changed.any() and not (changed & ~near).any()


def test_synthetic_sheet_shows_exact_confidence_colours(tmp_path):
    video = write_video(tmp_path / "cam.mp4", 10, size=(320, 240))
    skeleton = get_skeleton("coco17")
    grid = np.stack(np.meshgrid(np.arange(6) * 30 + 60, np.arange(3) * 40 + 60), -1)
    xy = np.broadcast_to(grid.reshape(-1, 2)[:17].astype(float), (10, 1, 17, 2)).copy()
    xy[:, :, 3] = (300, 225)                                   # far from the others ...
    score = np.broadcast_to(np.linspace(0.05, 1.0, 17), (10, 1, 17)).copy()
    score[:, :, 3] = 0                                         # ... and not seen
    kp = CameraKeypoints(xy, score, np.zeros((10, 1), np.int64), skeleton, 25.0)
    sheet = contact_sheet(video, kp, n_frames=4)
    assert sheet.frames.tolist() == [0, 3, 6, 9] and sheet.scale == 1.0        # 320 px < 480
    px, seen = sheet_positions(sheet, kp)
    drawn = sheet.image[px[..., 1], px[..., 0]]                                # (N, 1, J, 3)
    np.testing.assert_array_equal(drawn[seen], confidence_colours(score[sheet.frames])[seen])
    plain = contact_sheet(video, unseen(kp), n_frames=4).image
    np.testing.assert_array_equal(drawn[~seen], plain[px[..., 1], px[..., 0]][~seen])


def test_overlay_video_has_the_take_with_joints_drawn(real, tmp_path):
    video, whole = real
    kp = CameraKeypoints(whole.xy[:30], whole.score[:30], whole.track_id[:30], whole.skeleton,
                         whole.fps)                      # 30 of the 100 frames: quicker
    out = tmp_path / "cam01.mp4"
    write_overlay_video(video, kp, out)
    info = probe_video(out)
    assert (info.n_frames, info.width, info.height) == (kp.n_frames, 1080, 1920)
    assert info.fps == pytest.approx(60.0, rel=1e-3)
    for f in (0, 15, 29):
        (_, drawn), = read_frames(out, f, f + 1)
        (_, src), = read_frames(video, f, f + 1)
        px = np.rint(kp.xy[f][kp.score[f] > 0]).astype(int)                    # (n, 2)
        want = confidence_colours(kp.score[f][kp.score[f] > 0]).astype(float)  # (n, 3)
        got = drawn[px[:, 1], px[:, 0]].astype(float)
        before = src[px[:, 1], px[:, 0]].astype(float)
        # drawing moves each joint's pixel towards its confidence colour; the MPEG-4 encoding
        # blurs small dots, so ask it of 90 % of the joints, not each
        closer = np.abs(got - want).sum(-1) < np.abs(before - want).sum(-1)
        assert closer.mean() >= 0.9


def test_keypoints_longer_than_the_video_write_nothing(tmp_path):
    video = write_video(tmp_path / "cam1.mp4", 10)
    kp = CameraKeypoints(np.full((12, 1, 17, 2), 5.0), np.ones((12, 1, 17)),
                         np.zeros((12, 1), np.int64), get_skeleton("coco17"), 25.0)
    out = tmp_path / "out"
    with pytest.raises(DetectionError, match=r"cam1.mp4: the detections cover 12 frames from "
                                             r"frame 0 but the video has 10"):
        write_overlay_video(video, kp, out / "cam1.mp4")
    with pytest.raises(DetectionError, match=r"cover 8 frames from frame 3 but the video has 10"):
        write_contact_sheet(video, CameraKeypoints(kp.xy[:8], kp.score[:8], kp.track_id[:8],
                                                   kp.skeleton), out / "cam1.png", first_frame=3)
    assert not out.exists() or not any(out.iterdir())


def test_first_frame_shifts_the_video_under_the_keypoints(tmp_path):
    video = write_video(tmp_path / "cam1.mp4", 10)
    kp = CameraKeypoints(np.full((4, 1, 17, 2), np.nan), np.zeros((4, 1, 17)),
                         np.full((4, 1), -1), get_skeleton("coco17"), 25.0)
    out = tmp_path / "cam1.mp4.overlay.mp4"
    write_overlay_video(video, kp, out, first_frame=6)
    got = [f for _, f in read_frames(out)]
    grey = [f[:20, -16:].mean() for f in got]           # clear of the red block and colour bar
    # take frame i is video frame 6 + i, whose grey level is 7 (6 + i); two lossy encodings
    # keep it within 6 levels (the levels are 7 apart)
    np.testing.assert_allclose(grey, 7 * (6 + np.arange(4)), atol=6)
