"""Errors raised by the rigs package."""

from __future__ import annotations


class RigError(Exception):
    """A skeleton, rig or motion the user gave is unknown or inconsistent; the message says how."""


class UnknownSkeletonError(RigError):
    """A keypoint-set name that is not defined."""
