"""Fixtures shared by the pipeline tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from mocap.cli import main
from mocap.synthetic.sample_session import make_sample_session


@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    """A 30-frame sample session (no board videos) after one successful ``mocap run``."""
    session = make_sample_session(tmp_path_factory.mktemp("s") / "studio", n_frames=30,
                                  board_videos=False)
    assert main(["run", str(session), "-q"]) == 0
    return session
