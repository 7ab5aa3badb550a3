"""The detector interface and registry.

A :class:`Detector` is made from the session's ``[detection]`` settings in the process that
uses it (detectors hold model sessions and are never pickled). Its :meth:`Detector.stream`
gives a fresh per-video tracker: call it on every frame of one camera's video, in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from mocap.errors import ConfigError
from rigs.skeleton import Skeleton


@dataclass(frozen=True)
class FramePeople:
    """The people one frame shows.

    Attributes:
        xy: (P, J, 2) pixels in the frame as given; NaN where a keypoint was not found.
        score: (P, J) confidence in [0, 1]; 0 where not found.
        track_id: (P,) identity of each person within this video, stable over frames.
    """

    xy: NDArray[np.float64]
    score: NDArray[np.float64]
    track_id: NDArray[np.int64]

    @classmethod
    def empty(cls, n_joints: int) -> FramePeople:
        return cls(np.zeros((0, n_joints, 2)), np.zeros((0, n_joints)),
                   np.zeros(0, dtype=np.int64))


class FrameTracker(Protocol):
    """Stateful detection over one video: the previous frames may guide the next."""

    def __call__(self, frame: NDArray[np.uint8]) -> FramePeople:
        """People in ``frame``, a (H, W, 3) BGR uint8 image (the video's next frame)."""
        ...


class Detector(Protocol):
    name: str
    skeleton: Skeleton

    def settings(self) -> dict[str, Any]:
        """Everything that changes the output (model file hashes, thresholds): the cache key."""
        ...

    def stream(self) -> FrameTracker:
        """A fresh tracker for one camera's video."""
        ...


DetectorFactory = Callable[[Any], Detector]
_REGISTRY: dict[str, DetectorFactory] = {}


def register_detector(name: str) -> Callable[[DetectorFactory], DetectorFactory]:
    """Decorator: ``factory(config: DetectionConfig) -> Detector`` is known as ``name``."""
    def add(factory: DetectorFactory) -> DetectorFactory:
        _REGISTRY[name] = factory
        return factory
    return add


def detector_names() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def make_detector(name: str, config: Any) -> Detector:
    """The detector registered as ``name``, built from the session's detection settings.

    Raises:
        ConfigError: for an unknown name, naming the closest known one.
    """
    _load_builtin()
    if name not in _REGISTRY:
        near = get_close_matches(name, _REGISTRY, n=1)
        tip = f"did you mean '{near[0]}'? " if near else ""
        raise ConfigError(f"unknown detector '{name}'; {tip}known detectors: "
                          f"{', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](config)


def _load_builtin() -> None:
    """Import the modules that register the bundled detectors."""
    from mocap.detection import blazepose, model_detector  # noqa: F401
