"""The capture pipeline and the ``mocap`` command."""

from mocap.errors import ConfigError, InputError, MocapError, TriangulationError
from mocap.keypoints import Keypoints2D
from mocap.triangulation import TriangulationConfig, triangulate

__all__ = ["MocapError", "ConfigError", "InputError", "TriangulationError", "Keypoints2D",
           "TriangulationConfig", "triangulate"]
