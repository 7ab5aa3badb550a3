"""``[lifting]`` in ``session.toml``: the lifter's part in a run (it needs ``mocap[lift]``)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, replace
from pathlib import Path

from mocap.errors import ConfigError


@dataclass(frozen=True)
class LiftingConfig:
    # Joints fewer than two cameras triangulated come from the lifter (held by a soft prior in
    # the skeleton adjustment, [skeleton] lifted_prior_mm), marked as lifted. Needs torch; a run
    # without it says so and goes on without. Off by default while the shipped weights miss
    # issue 20's accuracy goals (README, "The lifter").
    fallback: bool = False
    weights: str | None = None            # a weights file (relative: to the session); None: shipped
    # A one-camera take's scale: the subject's height in metres; None: from the camera's height
    # above the floor and the feet touching it.
    subject_height_m: float | None = None

    def __post_init__(self) -> None:
        if self.subject_height_m is not None and not 0.5 <= self.subject_height_m <= 2.6:
            raise ConfigError(f"'subject_height_m' must be in [0.5, 2.6] metres, got "
                              f"{self.subject_height_m}")

    def within(self, session_dir: Path) -> LiftingConfig:
        """A copy whose weights file, where relative, is read from ``session_dir``."""
        if self.weights is None or Path(self.weights).is_absolute():
            return self
        return replace(self, weights=str(session_dir / self.weights))

    @property
    def available(self) -> bool:
        """torch is installed."""
        return importlib.util.find_spec("torch") is not None
