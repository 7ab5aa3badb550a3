"""The lifter: 3D poses from the 2D of one camera (a temporal convolutional network in torch)."""

from __future__ import annotations

import importlib.util

from mocap.errors import InputError


def require_torch() -> None:
    """Raise a clear error where torch (the ``lift`` extra) is not installed.

    Raises:
        InputError: saying how to install it.
    """
    if importlib.util.find_spec("torch") is None:
        raise InputError("the lifter needs torch, which is not installed: pip install "
                         "'mocap[lift]' torch==2.13.0 (the version pin keeps pip on the CPU "
                         "build)")
