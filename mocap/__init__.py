"""The capture pipeline and the ``mocap`` command."""

from mocap.errors import ConfigError, InputError, MocapError, TriangulationError
from mocap.keypoints import Keypoints2D
from mocap.triangulation import TriangulationConfig, triangulate

__all__ = [
           "ConfigError",
           "InputError",
           "Keypoints2D",
           "MocapError",
           "TriangulationConfig",
           "TriangulationError",
           "triangulate",
]
