"""Errors raised by the exporters."""

from __future__ import annotations


class ExportError(Exception):
    """A motion cannot be written (or read back) in the requested format; the message says why."""
