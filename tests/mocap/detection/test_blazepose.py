"""The BlazePose detector on the Pose2Sim demo's real videos (issue 16, acceptance 1 and 2),
against mediapipe's own legacy Pose, and its crop geometry and heatmap refinement by hand."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from mocap.detection.blazepose import BlazePose, BlazePoseTracker
from mocap.detection.config import DetectionConfig
from mocap.detection.detector import FramePeople
from mocap.detection.person_detector import PersonDetector
from mocap.detection.pose_landmarks import (
    LandmarkModel,
    Rois,
    Silhouettes,
    refine_with_heatmap,
)

CAMERAS = ["cam01", "cam02", "cam03", "cam04"]
HIPS = [23, 24]                       # blazepose33's left and right hip


def read_video(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


@pytest.fixture(scope="module")
def blazepose() -> BlazePose:
    return BlazePose(DetectionConfig())


@pytest.fixture(scope="module")
def detections(blazepose, shared_data):
    """One detection run per take and camera, shared by the tests (about 40 ms a frame)."""
    cache: dict[tuple[str, str], list[FramePeople]] = {}

    def get(take: str, camera: str) -> list[FramePeople]:
        if (take, camera) not in cache:
            tracker = blazepose.stream()
            frames = read_video(shared_data / "pose2sim_demo" / take / "videos" / f"{camera}.mp4")
            cache[take, camera] = [tracker(frame) for frame in frames]
        return cache[take, camera]
    return get


@pytest.mark.parametrize("camera", CAMERAS)
def test_single_subject_found_in_95_percent_of_frames(detections, camera, record_property):
    frames = detections("single_person", camera)
    assert len(frames) == 100
    found = np.mean([len(p.track_id) > 0 for p in frames])
    confidence = np.mean([p.score[0].mean() for p in frames if len(p.track_id)])
    record_property(f"mean_keypoint_confidence_{camera}", round(float(confidence), 3))
    print(f"{camera}: subject in {found:.0%} of frames, mean keypoint confidence "
          f"{confidence:.3f}")
    assert found >= 0.95                              # issue 16, acceptance 1
    # the subject stands in full view: most of their 33 keypoints should be judged visible,
    # above the 0.5 at which MediaPipe itself draws a landmark
    assert confidence > 0.5


@pytest.mark.parametrize("camera", CAMERAS)
def test_single_subject_keeps_one_track(detections, camera):
    ids = {int(i) for p in detections("single_person", camera) for i in p.track_id}
    assert ids == {0}


def hip_path(frames: list[FramePeople], track: int) -> tuple[np.ndarray, np.ndarray]:
    """(F, 2) px hip midpoint of one track per frame (NaN where absent) and (F,) its height."""
    hips, height = np.full((len(frames), 2), np.nan), np.full(len(frames), np.nan)
    for f, people in enumerate(frames):
        at = np.flatnonzero(people.track_id == track)
        if len(at):
            hips[f] = people.xy[at[0], HIPS].mean(axis=0)
            height[f] = np.ptp(people.xy[at[0], :, 1])
    return hips, height


@pytest.mark.parametrize("camera", CAMERAS)
def test_both_people_found_in_90_percent_of_frames_with_stable_ids(detections, camera):
    """cam03 is the hard one: from frame ~40 the man turns his back to the camera and passes in
    front of the woman; the face-based person detector does not see him and the landmark
    model in his crop fits her (facing the camera) unless she is hidden from it."""
    frames = detections("multi_person", camera)
    ids, counts = np.unique(np.concatenate([p.track_id for p in frames]), return_counts=True)
    subjects = ids[np.argsort(-counts, kind="stable")[:2]]    # the two tracks seen the longest
    both = np.mean([np.isin(subjects, p.track_id).all() for p in frames])
    print(f"{camera}: frames per track {dict(zip(ids.tolist(), counts.tolist()))}, both "
          f"subjects in {both:.0%}")
    # A stable id is one that never jumps to someone else: between consecutive frames a
    # person's hips move less than 10 % of their height (3 m/s at 60 frames/s is 5 cm, 3 % of
    # 1.7 m; the two people stand further apart than that), judged on positions, not on ids.
    for track in subjects:
        hips, height = hip_path(frames, track)
        step = np.linalg.norm(np.diff(hips, axis=0), axis=1) / height[1:]
        assert np.nanmax(step) < 0.1, f"track {track} jumps by {np.nanmax(step):.0%} of height"
    # Both found in 90 % of frames (issue 16, acceptance 2), each under one id: a subject
    # whose id changed mid-take would leave neither id in 90 % of frames.
    assert both >= 0.9


def test_landmarks_agree_with_mediapipes_own_pose(shared_data):
    """Single frames (no tracking: both run the person detector, then the landmark model on
    its crop): the same two models on the same crop, so the same landmarks up to resampling.
    Our crop is cv2.warpAffine, MediaPipe's cv2.warpPerspective of the same corners; both
    bilinear, so pixel values differ by float rounding only. We expect each frame's median
    landmark distance under one crop pixel (the crop side / 256, about 4 px here)."""
    mp = pytest.importorskip("mediapipe")
    frames = read_video(shared_data / "pose2sim_demo" / "single_person" / "videos"
                        / "cam03.mp4")[::25]
    detector, landmarks = PersonDetector(tiles=False), LandmarkModel()
    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1,
                                smooth_landmarks=False) as pose:
        for frame in frames:
            _, _, points = detector(frame)
            rois = Rois.from_alignment(points[:1, :2])
            ours = landmarks(frame, rois).xy[0, :33]
            theirs = pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)).pose_landmarks
            theirs = np.array([[p.x, p.y] for p in theirs.landmark]) * frame.shape[1::-1]
            gap = np.median(np.linalg.norm(ours - theirs, axis=-1))
            assert gap < rois.side[0] / 256, f"median {gap:.1f} px"


def read_frame(path: Path, index: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = cap.read()
    cap.release()
    assert ok, (path, index)
    return frame


def test_hiding_the_person_in_front_shows_the_one_behind(shared_data):
    """Two copies of the single-person take's subject, one pasted (by its segmentation) 15 %
    of the crop side to the right, in front of the other: the back one is half covered, as
    the woman of the two-person take's cam03 is by the man. In the back person's crop the
    model tends to fit the whole one in front; with the front one hidden by its own
    segmentation it should fit the back one, judged by which of the two (the back one's fit
    alone in the original frame, or that fit shifted) the landmarks are nearer to."""
    detector, landmarks = PersonDetector(), LandmarkModel()
    back_found, front_found = [], []
    for camera in CAMERAS:
        for index in (0, 50):
            frame = read_frame(shared_data / "pose2sim_demo" / "single_person" / "videos"
                               / f"{camera}.mp4", index)
            _, _, points = detector(frame)
            alone = landmarks(frame, Rois.from_alignment(points[:1, :2]))
            rois = Rois.from_alignment(alone.xy[:, 33:35])          # the tracker's next crop
            alone = landmarks(frame, rois)
            shift = round(0.15 * rois.side[0])
            to_frame = cv2.invertAffineTransform(rois.to_crop()[0])
            to_frame[0, 2] += shift
            person = cv2.warpAffine(alone.mask[0], to_frame, frame.shape[1::-1]) >= 0.5
            both = frame.copy()
            both[person] = np.roll(frame, shift, axis=1)[person]
            front = Rois(rois.centre + [shift, 0], rois.side, rois.angle)
            hide = Silhouettes(front, landmarks(both, front).mask)
            for found, hidden in ((back_found, None), (front_found, hide)):
                xy = landmarks(both, rois, hidden).xy[0, :33]
                gap_back = np.median(np.linalg.norm(xy - alone.xy[0, :33], axis=-1))
                gap_front = np.median(np.linalg.norm(xy - alone.xy[0, :33] - [shift, 0], axis=-1))
                found.append(gap_back < gap_front)
    print(f"back person fitted in {sum(back_found)}/8 without hiding, "
          f"{sum(front_found)}/8 with the front one hidden")
    # The premise: without hiding, the person in front wins at least half the time. The fix:
    # hidden, the back one is fitted in 6 of 8 (3/4; where the front copy covers most of the
    # back one's torso a fit may still blend both, and the tracker then rejects it).
    assert sum(back_found) <= 4
    assert sum(front_found) >= 6


def test_silhouettes_map_from_their_crop_into_another():
    """A mask filling the top-left quarter of a crop centred at (500, 500), 200 px a side,
    covers frame x, y in [400, 500]: the bottom-right quarter of an upright crop centred at
    (400, 400), and the top-right quarter of the same crop turned by 90 degrees clockwise (its
    x axis along the frame's y, its y axis along the frame's -x)."""
    mask = np.zeros((1, 256, 256), np.float32)
    mask[0, :128, :128] = 1.0
    hide = Silhouettes(Rois(np.array([[500.0, 500.0]]), np.array([200.0]), np.zeros(1)), mask)
    for angle, covered in ((0.0, (slice(128, 256), slice(128, 256))),
                           (np.pi / 2, (slice(0, 128), slice(128, 256)))):
        crop = Rois(np.array([[400.0, 400.0]]), np.array([200.0]), np.array([angle]))
        hidden = hide.in_crop(crop.to_crop()[0])
        expected = np.zeros((256, 256), bool)
        expected[covered] = True
        inner = np.ones((256, 256), bool)            # the quarter's edges are interpolated
        inner[[0, 127, 128, 255], :] = inner[:, [0, 127, 128, 255]] = False
        np.testing.assert_array_equal(hidden[inner], expected[inner])


def test_crop_affine_and_its_inverse_are_one():
    rng = np.random.default_rng(3)
    rois = Rois(rng.uniform(0, 1000, (5, 2)), rng.uniform(100, 900, 5), rng.uniform(-3, 3, 5))
    points = rng.uniform(-50, 300, (5, 7, 2))
    m = rois.to_crop()
    frame = rois.to_frame(points)
    back = np.einsum("pij,plj->pli", m[..., :2], frame) + m[:, None, :, 2]
    np.testing.assert_allclose(back, points, atol=1e-9)


def test_upright_alignment_gives_an_upright_square_crop_with_mediapipes_margin():
    points = np.array([[[500.0, 800.0], [500.0, 400.0]]])          # scale point 400 px above
    rois = Rois.from_alignment(points)
    np.testing.assert_allclose(rois.angle, [0.0], atol=1e-12)
    np.testing.assert_allclose(rois.side, [2 * 1.25 * 400])
    np.testing.assert_allclose(rois.to_frame(np.array([[[128.0, 0.0]]])), [[[500, 300]]])
    lying = Rois.from_alignment(np.array([[[0.0, 0.0], [400.0, 0.0]]]))   # head to the right
    np.testing.assert_allclose(lying.to_frame(np.array([[[128.0, 0.0]]])), [[[500, 0]]],
                               atol=1e-9)                                 # crop top -> right


def test_heatmap_refinement_moves_to_the_local_mean_where_sure():
    heat = np.full((1, 64, 64, 2), -20.0, dtype=np.float32)               # sigmoid ~ 0
    heat[0, 10, 20, 0] = heat[0, 10, 22, 0] = 20.0                        # two sure cells
    heat[0, 40, 40, 1] = -0.01                                            # peak just under 0.5
    xy = np.array([[[21.0 * 4, 10.0 * 4], [40.0 * 4, 40.0 * 4]]])         # crop px
    out = refine_with_heatmap(xy, heat)
    np.testing.assert_allclose(out[0, 0], [21 * 4, 10 * 4], atol=1e-5)    # mean of cols 20, 22
    np.testing.assert_array_equal(out[0, 1], xy[0, 1])                    # left alone
    shifted = xy.copy()
    shifted[0, 0] = [19.5 * 4, 10.2 * 4]                                  # window still holds
    np.testing.assert_allclose(refine_with_heatmap(shifted, heat)[0, 0], [84, 40], atol=1e-5)


def test_settings_name_the_models_by_hash_and_the_thresholds(blazepose):
    settings = blazepose.settings()
    assert len(settings["pose_detection.tflite"]) == len(settings["pose_landmark_full.tflite"])
    assert len(settings["pose_detection.tflite"]) == 64                   # sha256 hex
    assert settings["max_people"] == 4 and settings["redetect_every"] == 10
    assert settings["hide_found_people"] == 0.5       # segmentation threshold of a hidden person
    other = BlazePose(DetectionConfig(min_person_score=0.7)).settings()
    assert other != settings


@pytest.mark.parametrize("max_people, calls", [(1, 1), (2, 6)])
def test_the_person_detector_runs_again_only_while_there_is_room(shared_data, max_people, calls):
    """One subject in view: with room for one person the detector runs once (as MediaPipe's
    Pose, which looks again only when it loses its person); with room for more it runs every
    ``redetect_every`` frames to find newcomers (30 frames / 5)."""
    person_detector, landmarks = PersonDetector(0.5), LandmarkModel()
    ran = []

    def counted(frame):
        ran.append(1)
        return person_detector(frame)

    config = DetectionConfig(max_people=max_people, redetect_every=5)
    tracker = BlazePoseTracker(counted, landmarks, config)
    video = shared_data / "pose2sim_demo/single_person/videos/cam01.mp4"
    people = [tracker(frame) for frame in read_video(video)[:30]]
    assert all(len(p.track_id) == 1 for p in people)
    assert len(ran) == calls
