"""Detection settings: the ``[detection]`` table of ``session.toml``; defaults live only here."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from mocap.detection.model_config import ModelConfig
from mocap.errors import ConfigError


@dataclass(frozen=True)
class DetectionConfig:
    detector: str = "blazepose"      # a registered detector (mocap.detection.detector)
    max_people: int = 4              # people kept per frame and camera, the most confident first
    min_person_score: float = 0.5    # person-detector confidence to start a track
    redetect_every: int = 10         # frames between person-detector runs while tracking
    workers: int = 0                 # processes for cameras in parallel; 0: one per core
    chunk_frames: int = 300          # frames per task, each with a fresh tracker (resume unit)
    model: ModelConfig | None = None  # [detection.model]: the pose model of detector "model"

    def __post_init__(self) -> None:
        if not 1 <= self.max_people <= 100:
            raise ConfigError(f"'max_people' must be in [1, 100], got {self.max_people}")
        if not 0 < self.min_person_score < 1:
            raise ConfigError(f"'min_person_score' must be in (0, 1), got "
                              f"{self.min_person_score}")
        if not 1 <= self.redetect_every <= 10_000:
            raise ConfigError(f"'redetect_every' must be in [1, 10000] frames, got "
                              f"{self.redetect_every}")
        if not 1 <= self.chunk_frames <= 1_000_000:
            raise ConfigError(f"'chunk_frames' must be in [1, 1000000], got {self.chunk_frames}")
        if not 0 <= self.workers <= 256:
            raise ConfigError(f"'workers' must be in [0, 256] (0: one per core), got "
                              f"{self.workers}")

    def within(self, session_dir: Path) -> DetectionConfig:
        """A copy whose model files, where relative, are read from ``session_dir``."""
        return self if self.model is None else replace(self, model=self.model.within(session_dir))
