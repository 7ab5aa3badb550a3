"""Errors of the capture pipeline; the CLI prints them without a traceback and exits 2."""

from __future__ import annotations

from calibration.errors import CalibrationError
from rigs.errors import RigError


class MocapError(Exception):
    """A pipeline input or result the user must fix; the message says what, where and how."""


class ConfigError(MocapError):
    """session.toml or a command-line option is wrong."""


class InputError(MocapError):
    """A session folder or one of its files is missing or malformed."""


class DetectionError(MocapError):
    """Videos, a detector model or imported 2D cannot give keypoints; the message names the file."""


class TriangulationError(MocapError):
    """Triangulation cannot run on what it was given."""


def user_errors() -> tuple[type[Exception], ...]:
    """Every error class whose message is meant for the user (one base per package)."""
    from exporters.errors import ExportError
    return (MocapError, CalibrationError, RigError, ExportError)
