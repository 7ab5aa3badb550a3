"""A bring-your-own pose model: the ``[detection.model]`` table of ``session.toml``.

Example (an RTMPose-m ONNX export, mmpose's normalisation on 0-255 pixels)::

    [detection]
    detector = "model"
    [detection.model]
    file = "models/rtmpose-m.onnx"
    kind = "simcc"
    input_size = [192, 256]
    scale_to_unit = false
    mean = [123.675, 116.28, 103.53]
    std = [58.395, 57.12, 57.375]
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from difflib import get_close_matches
from pathlib import Path

from mocap.errors import ConfigError
from rigs.errors import RigError
from rigs.skeleton import get_skeleton

KINDS = ("heatmap", "simcc", "regression", "yolo_pose", "movenet")
TOP_DOWN_KINDS = ("heatmap", "simcc", "regression", "movenet")   # one person crop per call
RUNTIMES = {".onnx": "onnxruntime", ".tflite": "ai_edge_litert"}
MAX_INPUT_SIDE = 4096


@dataclass(frozen=True)
class ModelConfig:
    """How to run and decode a pose model; every key but ``file`` has a default."""

    file: str = ""                    # the model (.onnx or .tflite), relative to the session folder
    kind: str = "heatmap"             # output family, one of KINDS
    keypoint_set: str = "coco17"      # the rigs keypoint set of the model's joints, in its order
    input_size: tuple[int, int] = (192, 256)   # (width, height) px of the model's input
    layout: str = "NCHW"              # input layout, "NCHW" or "NHWC"; heatmap outputs follow it
    channels: str = "RGB"             # channel order the model expects, "RGB" or "BGR"
    scale_to_unit: bool = True        # divide 0-255 pixel values by 255 before mean and std
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)   # subtracted per channel (1 or 3 values)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)    # then divided by, per channel
    output: int | str = 0             # the output to decode, by index or name (-1: the last, as
    #                                   for CPM's stages); a 5D heatmap output: its last stage
    simcc_y_output: int | str = 1     # simcc: the y vectors (``output`` holds the x vectors)
    coordinates: str = "normalized"   # regression: "normalized" ([0, 1] of the input) or "pixels"
    score_column: int = 2             # regression: each keypoint's score column; -1: none (1.0)
    keypoint_values: int = 0          # regression: values per keypoint row of a flat output
    #                                   (MediaPipe: 5); 0: the output's size / keypoints
    score_activation: str = "none"    # "sigmoid" where the model gives scores as logits
    box_format: str = "cxcywh"        # yolo_pose boxes: "cxcywh" or "xyxy", input pixels
    heatmap_sigma: float = 2.0        # heatmap: DARK's Gaussian smoothing, heatmap px (0: none)
    box_scale: float = 1.25           # top-down: a person box is enlarged this much for the crop
    min_keypoint_score: float = 0.2   # keypoints scoring less are reported missing
    min_pose_score: float = 0.3       # a pose whose mean keypoint score is lower is dropped
    nms_iou: float = 0.5              # boxes overlapping more than this are one person
    person_detector: str = ""         # top-down: an ONNX YOLO-style person detector, relative to
    #                                   the session folder; "": the bundled BlazePose detector

    def __post_init__(self) -> None:
        self._check_files()
        _one_of("kind", self.kind, KINDS)
        try:
            get_skeleton(self.keypoint_set)
        except RigError as e:
            raise ConfigError(f"'keypoint_set': {e}") from e
        if not all(8 <= s <= MAX_INPUT_SIDE for s in self.input_size):
            raise ConfigError(f"'input_size' must be [width, height] in [8, {MAX_INPUT_SIDE}] "
                              f"px, got {list(self.input_size)}")
        _one_of("layout", self.layout, ("NCHW", "NHWC"))
        _one_of("channels", self.channels, ("RGB", "BGR"))
        _one_of("coordinates", self.coordinates, ("normalized", "pixels"))
        _one_of("score_activation", self.score_activation, ("none", "sigmoid"))
        _one_of("box_format", self.box_format, ("cxcywh", "xyxy"))
        for key in ("mean", "std"):
            if len(getattr(self, key)) not in (1, 3):
                raise ConfigError(f"'{key}' must hold 1 value or 3 (one per channel), got "
                                  f"{list(getattr(self, key))}")
        if min(self.std) <= 0:
            raise ConfigError(f"'std' must be positive, got {list(self.std)}")
        self._check_ranges()

    def _check_files(self) -> None:
        if not self.file:
            raise ConfigError("'file' is required: the model file (.onnx or .tflite), relative "
                              "to the session folder")
        if Path(self.file).suffix.lower() not in RUNTIMES:
            raise ConfigError(f"'file' must end in .onnx or .tflite, got '{self.file}'")
        if self.person_detector and Path(self.person_detector).suffix.lower() != ".onnx":
            raise ConfigError(f"'person_detector' must be an .onnx file, got "
                              f"'{self.person_detector}'")

    def _check_ranges(self) -> None:
        ranges = {"heatmap_sigma": (0.0, 10.0), "box_scale": (1.0, 4.0),
                  "min_keypoint_score": (0.0, 1.0), "min_pose_score": (0.0, 1.0),
                  "nms_iou": (0.0, 1.0)}
        for key, (low, high) in ranges.items():
            if not low <= getattr(self, key) <= high:
                raise ConfigError(f"'{key}' must be in [{low:g}, {high:g}], got "
                                  f"{getattr(self, key)}")
        if not 0 <= self.keypoint_values <= 100:
            raise ConfigError(f"'keypoint_values' must be in [0, 100] (0: the output's size / "
                              f"keypoints), got {self.keypoint_values}")
        if self.score_column < -1:
            raise ConfigError(f"'score_column' must be a column index or -1 (no score), got "
                              f"{self.score_column}")

    @property
    def runtime(self) -> str:
        """The package that runs the model, from the file's suffix."""
        return RUNTIMES[Path(self.file).suffix.lower()]

    @property
    def top_down(self) -> bool:
        """Whether the model sees one person crop per call (else the whole frame)."""
        return self.kind in TOP_DOWN_KINDS

    def within(self, session_dir: Path) -> ModelConfig:
        """A copy whose relative file paths are read from ``session_dir``."""
        person = str(session_dir / self.person_detector) if self.person_detector else ""
        return replace(self, file=str(session_dir / self.file), person_detector=person)


def _one_of(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        near = get_close_matches(value, allowed, n=1)
        tip = f"; did you mean '{near[0]}'?" if near else ""
        raise ConfigError(f"'{key}' must be one of {', '.join(allowed)}; got '{value}'{tip}")
