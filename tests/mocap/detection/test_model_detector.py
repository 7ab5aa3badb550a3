"""Detector "model": bring-your-own pose models from session.toml, end to end on tiny ONNX models
the tests build, on MediaPipe's landmark model as a user's TFLite model, and on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from mocap.cli import main
from mocap.config import SessionConfig
from mocap.detection.config import DetectionConfig
from mocap.detection.detector import make_detector
from mocap.detection.model_config import ModelConfig
from mocap.detection.model_detector import match_tracks
from mocap.detection.person_detector import mediapipe_model

torch = pytest.importorskip("torch")          # the tests' tiny models are torch modules
from mocap.detection.pose_model import PoseModel
from mocap.detection.video import read_frames
from mocap.errors import ConfigError, DetectionError
from rigs.skeleton import get_skeleton

J = 17
INPUT = (192, 256)                      # pose model input (width, height) px
FRAME = (640, 480)                      # test frames (width, height) px
DETECTOR_SIDE = 320                     # the person detector's square input, px


def detection(**model: object) -> DetectionConfig:
    return DetectionConfig(detector="model", model=ModelConfig(**model))


def letterboxed(points: np.ndarray, frame: tuple[int, int], side: int) -> np.ndarray:
    """Continuous frame coordinates (..., 2) in a ``side`` square holding the frame, centred."""
    scale = side / max(frame)
    return points * scale + (side - scale * np.asarray(frame)) / 2


def person_detector(fixed_model, boxes: np.ndarray, frame: tuple[int, int]) -> Path:
    """A YOLO-style ONNX person detector finding the frame boxes (N, 4) x0 y0 x1 y1 in every
    image: output (1, 4 + 1 class, N) of centre, size and score 0.9."""
    corners = letterboxed(boxes.reshape(-1, 2, 2), frame, DETECTOR_SIDE)           # (N, 2, 2)
    rows = np.concatenate([corners.mean(1), corners[:, 1] - corners[:, 0],
                           np.full((len(boxes), 1), 0.9)], 1)                      # (N, 5)
    return fixed_model([rows.T[None]], (1, 3, DETECTOR_SIDE, DETECTOR_SIDE), "people.onnx")


class Blobs(torch.nn.Module):
    """A heatmap 'pose model': joint j's heatmap is the image's colour channel j mod 3 (RGB),
    sampled every 4 px; a bright blob drawn in that colour is that joint's keypoint."""

    def forward(self, x):
        return x[:, [j % 3 for j in range(J)], ::4, ::4]


def blob_frame(centres: np.ndarray, sigma: float = 6.0) -> np.ndarray:
    """(H, W, 3) BGR frame with red, green and blue Gaussian blobs at centres (3, 2) px."""
    x, y = np.arange(FRAME[0]), np.arange(FRAME[1])
    frame = np.zeros((FRAME[1], FRAME[0], 3))
    for (cx, cy), channel in zip(centres, (2, 1, 0)):                 # red, green, blue in BGR
        frame[..., channel] = 255 * np.exp(-((x - cx) ** 2 + (y[:, None] - cy) ** 2)
                                           / (2 * sigma**2))
    return np.rint(frame).astype(np.uint8)


@pytest.mark.parametrize("channels", ["RGB", "BGR"])
def test_top_down_heatmap_model_finds_blobs_and_tracks_them(export_onnx, fixed_model, channels):
    centres = np.array([[300.0, 200.0], [360.3, 260.6], [330.7, 330.2]])       # R, G, B blobs
    model = export_onnx(Blobs(), (1, 3, INPUT[1], INPUT[0]), dynamic_batch=True)
    people = person_detector(fixed_model, np.array([[240.0, 140, 420, 390]]), FRAME)
    config = DetectionConfig(detector="model", redetect_every=2, model=ModelConfig(
        file=str(model), kind="heatmap", input_size=INPUT, channels=channels, mean=(0.0,),
        std=(1.0,), person_detector=str(people)))
    track = make_detector("model", config).stream()
    order = [0, 1, 2] if channels == "RGB" else [2, 1, 0]  # BGR: the model's channel 0 is blue
    for step in range(4):    # crops: the detector's box, the keypoints', the detector's again
        shift = np.array([5.0, 3.0]) * step
        found = track(blob_frame(centres + shift))
        assert found.track_id.tolist() == [0]
        expected = (centres + shift)[order][np.arange(J) % 3]
        # The crops scale the frame by 0.8 to 1.6; blobs of sigma 6 px resampled bilinearly and
        # rounded to 8 bits keep their centres within a tenth of an input pixel, 0.125 frame px
        # at the coarsest crop: 0.2 px bounds it.
        np.testing.assert_allclose(found.xy[0], expected, atol=0.2)
        assert (found.score[0] > 0.8).all()        # blob peaks of 255 sampled near their tops


def crop_to_frame(uv: np.ndarray, box: np.ndarray, box_scale: float) -> np.ndarray:
    """Input px (..., 2) of a top-down crop of ``box`` to frame px (the crop's definition)."""
    w, h = INPUT
    width = max(box[2] - box[0], (box[3] - box[1]) * w / h) * box_scale
    scale = w / width
    return (uv + 0.5 - np.array(INPUT) / 2) / scale + (box[:2] + box[2:]) / 2 - 0.5


def gaussian_heatmaps(centres: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(1, J, H, W) Gaussians (sigma 2) at centres (J, 2) heatmap px."""
    x, y = np.arange(size[0]), np.arange(size[1])
    return np.exp(-((x - centres[:, 0, None])[:, None, :] ** 2
                    + (y - centres[:, 1, None])[:, :, None] ** 2) / 8.0)[None]


@pytest.mark.parametrize("stages", ["outputs", "axis"])
def test_multi_stage_heatmaps_are_read_at_their_last_stage(fixed_model, stages):
    rng = np.random.default_rng(0)
    first, last = rng.uniform(8, 40, (2, J, 2))                                   # heatmap px
    maps = [gaussian_heatmaps(c, (48, 64)) for c in (first, last)]
    outputs = maps if stages == "outputs" else [np.stack(maps, 1)]         # (1, 2, J, 64, 48)
    model = fixed_model(outputs, (1, 3, INPUT[1], INPUT[0]))
    pose = PoseModel(ModelConfig(file=str(model), kind="heatmap", input_size=INPUT, output=-1))
    box = np.array([100.0, 50, 250, 400])
    xy, score = pose.top_down(np.zeros((480, 640, 3), np.uint8), box[None])
    # DARK on exact Gaussians: 0.01 heatmap px (test_decoders), 0.04 input px, 0.1 frame px at
    # this crop's scale of 0.44.
    np.testing.assert_allclose(xy[0], crop_to_frame(last * 4, box, 1.25), atol=0.1)
    assert (score > 0.9).all()


def yolo_output(people_xy: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(1, 5 + 3J, 3) candidates in the 320 px letterbox: the people (P, J, 2) frame px with
    keypoint scores (P, J), boxes around them, and a near copy of the first scoring less."""
    uv = letterboxed(people_xy + 0.5, FRAME, DETECTOR_SIDE)           # continuous letterbox
    boxes = np.concatenate([uv.min(1), uv.max(1)], 1)                                 # (P, 4)
    rows = np.concatenate([(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2],
                           [[0.9], [0.8]], np.concatenate([uv, scores[..., None]], -1)
                           .reshape(len(uv), -1)], 1)
    twin = rows[0] + np.r_[2.0, 1, 0, 0, -0.3, np.zeros(3 * J)]
    return np.concatenate([rows, twin[None]]).T[None]


def test_single_stage_model_gives_people_in_frame_pixels(fixed_model):
    rng = np.random.default_rng(1)
    people = np.stack([rng.uniform([50, 60], [250, 450], (J, 2)),
                       rng.uniform([350, 40], [600, 470], (J, 2))])                # (2, J, 2)
    scores = rng.uniform(0.3, 1.0, (2, J))
    scores[1, 5] = 0.1                                       # under min_keypoint_score: missing
    model = fixed_model([yolo_output(people, scores)], (1, 3, DETECTOR_SIDE, DETECTOR_SIDE))
    config = detection(file=str(model), kind="yolo_pose", input_size=(DETECTOR_SIDE,) * 2)
    track = make_detector("model", config).stream()
    for _ in range(2):
        found = track(np.zeros((FRAME[1], FRAME[0], 3), np.uint8))
        assert found.track_id.tolist() == [0, 1]              # the copy suppressed; ids kept
        # float32 letterbox coordinates below 320 hold 3e-5 px; the frame is twice as large.
        np.testing.assert_allclose(np.nan_to_num(found.xy, nan=-1.0),
                                   np.where(scores[..., None] >= 0.2, people, -1.0), atol=1e-3)
        np.testing.assert_allclose(found.score, np.where(scores >= 0.2, scores, 0.0), atol=1e-6)
    one = detection(file=str(model), kind="yolo_pose", input_size=(DETECTOR_SIDE,) * 2)
    found = make_detector("model", DetectionConfig(detector="model", max_people=1,
                                                   model=one.model)).stream()(
        np.zeros((FRAME[1], FRAME[0], 3), np.uint8))
    np.testing.assert_allclose(found.xy, people[:1], atol=1e-3)          # the best scoring


def test_track_ids_follow_boxes_by_overlap():
    previous = np.array([[0.0, 0, 10, 20], [50, 0, 60, 20]])
    boxes = np.array([[51.0, 1, 61, 21], [100, 0, 110, 20], [1, 0, 11, 20]])
    ids, next_id = match_tracks(previous, np.array([7, 3]), boxes, 8)
    assert ids.tolist() == [3, 8, 7] and next_id == 9


# --- MediaPipe's landmark model as a user's TFLite regression model, on a real frame --------
LIMBS = ["left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
         "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
         "right_ankle"]


def mediapipe_as_a_user_model(**more: object) -> dict[str, object]:
    """pose_landmark_full.tflite configured by hand: [1, 256, 256, 3] RGB in [0, 1] in, and
    [1, 195] out: 39 rows (the 33 keypoints, then 6 of its own for the next crop) of x, y
    (input px), z, visibility and presence (logits)."""
    return dict(file=str(mediapipe_model("modules/pose_landmark/pose_landmark_full.tflite")),
                kind="regression", keypoint_set="blazepose33", input_size=(256, 256),
                layout="NHWC", mean=(0.0,), std=(1.0,), coordinates="pixels", score_column=3,
                keypoint_values=5, score_activation="sigmoid", **more)


@pytest.fixture(scope="module")
def pose2sim_frame(shared_data):
    """cam01's first frame and OpenPose's BODY_25B keypoints (25, 3) of it."""
    root = shared_data / "pose2sim_demo" / "single_person"
    _, frame = next(read_frames(root / "videos" / "cam01.mp4"))
    table = json.loads((root / "openpose_body25b" / "cam01_json" / "cam01.0000.json").read_text())
    return frame, np.reshape(table["people"][0]["pose_keypoints_2d"], (25, 3))


@pytest.mark.parametrize("boxes", ["user detector", "bundled detector"])
def test_mediapipe_landmarks_as_a_tflite_regression_model(pose2sim_frame, fixed_model, boxes):
    frame, openpose = pose2sim_frame
    size = (frame.shape[1], frame.shape[0])
    body = openpose[openpose[:, 2] > 0.3, :2]
    box = np.concatenate([body.min(0), body.max(0)])
    people = person_detector(fixed_model, box[None], size) if boxes == "user detector" else ""
    config = DetectionConfig(detector="model", model=ModelConfig(
        **mediapipe_as_a_user_model(person_detector=str(people))))
    found = make_detector("model", config).stream()(frame)
    assert len(found.track_id) == 1
    ours = found.xy[0, get_skeleton("blazepose33").indices(LIMBS)]
    theirs = openpose[get_skeleton("body25b").indices(LIMBS), :2]
    error = np.linalg.norm(ours - theirs, axis=-1) / (box[3] - box[1])
    # MediaPipe and OpenPose define joints a few cm apart (the hips most: DESIGN's data notes):
    # up to about 5 % of a 1.7 m person's height. A model that missed the person, or a crop
    # mapped back wrong, lands tens of % off.
    assert np.median(error) < 0.05 and error.max() < 0.1, error.round(3)


# --- bad input -------------------------------------------------------------------------------
def test_output_of_the_wrong_shape_names_the_file_and_both_shapes(fixed_model):
    model = fixed_model([np.zeros((1, 10))], (1, 3, INPUT[1], INPUT[0]), "wrong.onnx")
    with pytest.raises(DetectionError, match=r"wrong\.onnx: output 'out0' gave shape \(1, 10\).*"
                                             r"heatmap model of 17 coco17 keypoints gives "
                                             r"\(1, 17, H, W\)"):
        make_detector("model", detection(file=str(model), kind="heatmap", input_size=INPUT))


@pytest.mark.parametrize("kind, outputs, expected", [
    ("simcc", [np.zeros((1, J, 384)), np.zeros((1, J, 500))], r"x \(1, 17, 192k\)"),
    ("yolo_pose", [np.zeros((1, 50, 8))], r"\(1, 56, A\)"),
    ("movenet", [np.zeros((1, 1, J, 2))], r"\(1, 1, 17, 3\)"),
    ("regression", [np.zeros((1, 2 * J))], (r"R >= 17 keypoint rows of D = 3 or more values "
                                           r"\(x, y, score, \.\.\.\)")),
])
def test_each_kind_names_the_shape_it_expects(fixed_model, kind, outputs, expected):
    model = fixed_model(outputs, (1, 3, INPUT[1], INPUT[0]))
    with pytest.raises(DetectionError, match=expected):
        PoseModel(ModelConfig(file=str(model), kind=kind, input_size=INPUT))


def test_input_size_the_model_does_not_take(fixed_model):
    model = fixed_model([np.zeros((1, J, 64, 48))], (1, 3, INPUT[1], INPUT[0]), "hrnet.onnx")
    with pytest.raises(DetectionError, match=r"hrnet\.onnx: the model takes input \[1, 3, 256, "
                                             r"192\], was given \[1, 3, 192, 192\]; check "
                                             r"'input_size'"):
        PoseModel(ModelConfig(file=str(model), kind="heatmap", input_size=(192, 192)))


def test_unknown_output_name_lists_the_outputs(fixed_model):
    model = fixed_model([np.zeros((1, J, 64, 48))], (1, 3, INPUT[1], INPUT[0]))
    with pytest.raises(DetectionError, match=r"no output 'heatmaps'; the model's outputs are "
                                             r"0: out0"):
        PoseModel(ModelConfig(file=str(model), output="heatmaps"))


@pytest.mark.parametrize("name, content", [
    ("garbage.onnx", b"this is not a model"),
    ("truncated.onnx", None),
    ("garbage.tflite", b"TFL3 but nothing else"),
])
def test_unreadable_model_file_is_named(fixed_model, tmp_path, name, content):
    path = tmp_path / name
    if content is None:                              # the first half of a good model
        whole = fixed_model([np.zeros((1, J, 64, 48))], (1, 3, INPUT[1], INPUT[0])).read_bytes()
        content = whole[: len(whole) // 2]
    path.write_bytes(content)
    with pytest.raises(DetectionError, match=rf"{name}: .*(cannot read|not a loadable)"):
        make_detector("model", detection(file=str(path)))


def test_missing_model_file_is_named(tmp_path):
    with pytest.raises(DetectionError, match=r"model file .*absent\.onnx not found"):
        make_detector("model", detection(file=str(tmp_path / "absent.onnx")))


def test_settings_change_with_the_model_file(fixed_model):
    outputs = [np.zeros((1, J, 64, 48))]
    model = fixed_model(outputs, (1, 3, INPUT[1], INPUT[0]))
    config = detection(file=str(model))
    before = make_detector("model", config).settings()
    fixed_model([np.ones((1, J, 64, 48))], (1, 3, INPUT[1], INPUT[0]))    # same path, new file
    assert make_detector("model", config).settings()["model_sha256"] != before["model_sha256"]


@pytest.mark.parametrize("table, message", [
    ("kind = 'heatmap'", r"'file' is required"),
    ("file = 'm.pt'", r"'file' must end in \.onnx or \.tflite, got 'm\.pt'"),
    ("file = 'm.onnx'\nkind = 'simc'", r"'kind' must be one of .*; did you mean 'simcc'\?"),
    ("file = 'm.onnx'\nkeypoint_sets = 'coco17'", (r"unknown key 'keypoint_sets'; did you mean "
                                                  r"'keypoint_set'\?")),
    ("file = 'm.onnx'\nkeypoint_set = 'coco18'", r"'keypoint_set': unknown keypoint set 'coco18'"),
    ("file = 'm.onnx'\ninput_size = [192]", r"'input_size' must be a list of 2"),
    ("file = 'm.onnx'\ninput_size = [192, 2]", r"'input_size' must be \[width, height\]"),
    ("file = 'm.onnx'\nmean = [0.5, 0.5]", r"'mean' must hold 1 value or 3"),
    ("file = 'm.onnx'\nstd = [0.0]", r"'std' must be positive"),
    ("file = 'm.onnx'\nlayout = 'NCWH'", r"'layout' must be one of NCHW, NHWC"),
    ("file = 'm.onnx'\noutput = 1.5", r"'output' must be int or str"),
    ("file = 'm.onnx'\nnms_iou = 2", r"'nms_iou' must be in \[0, 1\]"),
    ("file = 'm.onnx'\nperson_detector = 'p.tflite'", r"'person_detector' must be an \.onnx"),
])
def test_bad_model_table_names_file_table_and_key(tmp_path, table, message):
    path = tmp_path / "session.toml"
    path.write_text(f"[detection]\ndetector = 'model'\n[detection.model]\n{table}\n")
    with pytest.raises(ConfigError, match=r"session\.toml \[detection\] \[model\]: " + message):
        SessionConfig.load(path)


def test_model_detector_without_a_model_table():
    with pytest.raises(ConfigError, match=r"needs a \[detection\.model\] table"):
        make_detector("model", DetectionConfig(detector="model"))


def test_model_paths_are_read_from_the_session_folder(tmp_path):
    model = ModelConfig(file="models/pose.onnx", person_detector="/abs/people.onnx")
    inside = model.within(tmp_path)
    assert inside.file == str(tmp_path / "models" / "pose.onnx")
    assert inside.person_detector == "/abs/people.onnx"


# --- through `mocap detect`: model paths are read from the session folder --------------------
def detect_session(root: Path, model_table: str, frame_size: tuple[int, int] = FRAME) -> Path:
    """A session of one 4-frame black video and a session.toml naming a pose model."""
    (root / "videos").mkdir(parents=True)
    writer = cv2.VideoWriter(str(root / "videos" / "cam01.mp4"),
                             cv2.VideoWriter_fourcc(*"mp4v"), 30, frame_size)
    for _ in range(4):
        writer.write(np.zeros((frame_size[1], frame_size[0], 3), np.uint8))
    writer.release()
    (root / "session.toml").write_text(f"[detection]\ndetector = 'model'\nworkers = 1\n"
                                       f"[detection.model]\n{model_table}\n")
    return root


def test_mocap_detect_runs_a_session_model(tmp_path, fixed_model):
    rng = np.random.default_rng(2)
    people = np.stack([rng.uniform([50, 60], [250, 450], (J, 2)),
                       rng.uniform([350, 40], [600, 470], (J, 2))])
    model = fixed_model([yolo_output(people, np.ones((2, J)))],
                        (1, 3, DETECTOR_SIDE, DETECTOR_SIDE))
    session = detect_session(tmp_path / "session", "file = 'models/pose.onnx'\n"
                             "kind = 'yolo_pose'\ninput_size = [320, 320]")
    (session / "models").mkdir()
    model.rename(session / "models" / "pose.onnx")
    assert main(["detect", str(session), "-q"]) == 0
    with np.load(session / "output" / "keypoints2d" / "cam01.npz") as data:
        assert str(data["skeleton"]) == "coco17"
        np.testing.assert_allclose(data["xy"], np.broadcast_to(people, (4, 2, J, 2)), atol=1e-3)


def test_mocap_detect_names_a_model_of_the_wrong_shape(tmp_path, fixed_model, capsys):
    session = detect_session(tmp_path / "session", "file = 'models/wrong.onnx'")
    (session / "models").mkdir()
    fixed_model([np.zeros((1, 10))], (1, 3, INPUT[1], INPUT[0])).rename(
        session / "models" / "wrong.onnx")
    assert main(["detect", str(session), "-q"]) == 2
    message = capsys.readouterr().err
    assert "models/wrong.onnx: output 'out0' gave shape (1, 10)" in message
    assert "Traceback" not in message
    assert not (session / "output" / "cache").exists()
    assert not (session / "output" / "keypoints2d").exists()
