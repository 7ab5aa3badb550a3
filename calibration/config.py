"""The settings of a rig calibration (``calibration.calibrate.calibrate``); defaults live only here.

Example:
    >>> config = CalibrationConfig(world_frame=None, max_views=30)
    >>> config.refine_intrinsics
    'auto'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

from calibration.errors import CalibrationError

FEWEST_VIEWS = 3        # the fewest board views that pin a camera's focal length, centre and k1


@dataclass(frozen=True)
class CalibrationConfig:
    """How ``calibrate`` solves a rig and when it warns; every value is checked on creation.

    Attributes:
        refine_intrinsics: "auto" refines the intrinsics solved from the footage and keeps the
            given ones exactly; True refines all (given ones too); False none.
        world_frame: "auto" (a board lying on the floor, else the cameras' up), the frame index
            where the board lies on the floor, or None (the best-linked camera's frame).
        fisheye: solve intrinsics with OpenCV's fisheye model.
        max_views: board views per camera for its single-camera intrinsics.
        min_views: a camera must see the board (6+ corners) in this many frames.
        gate_sigma: a camera whose joint intrinsics land more than this many standard
            deviations from what its own views give keeps the latter.
        lens_term_penalty: residual variances a lens parameter must explain to join a camera's
            model in the joint adjustment (2: Akaike's information criterion).
        given_max_rms_px: given intrinsics fitting the camera's own views (a board pose per
            view) worse than this are refused as another lens, zoom or resolution.
        high_rms_px: a camera whose reprojection RMS exceeds this and 3x its own views' is
            flagged as unsynchronised.
        high_outlier_fraction: so is a camera losing more than this fraction of its corners as
            outliers.
        shift_rounds: whole-frame moves of cameras tried in turn (0: never moved).
        max_frame_shift: each camera is moved by at most this many frames.
        shift_min_gain: a move is kept only if it cuts the adjustment's RMS by this fraction.
    """

    refine_intrinsics: bool | str = "auto"
    world_frame: int | str | None = "auto"
    fisheye: bool = False
    max_views: int = 40
    min_views: int = FEWEST_VIEWS
    gate_sigma: float = 5.0
    lens_term_penalty: float = 2.0
    # On test_calibrate's synthetic views (0.3 px noise) the true intrinsics fit to 0.46 px,
    # focal lengths 0.3x off to 5.1 px; the poses absorb smaller errors (1.3x: 0.75 px), which no
    # threshold can catch.
    given_max_rms_px: float = 3.0
    high_rms_px: float = 1.5
    high_outlier_fraction: float = 0.2
    shift_rounds: int = 3
    max_frame_shift: int = 2
    shift_min_gain: float = 0.05

    def __post_init__(self) -> None:
        if self.refine_intrinsics != "auto" and not isinstance(self.refine_intrinsics, bool):
            raise CalibrationError(f"refine_intrinsics must be 'auto', True or False, got "
                                   f"{self.refine_intrinsics!r}")
        frame = self.world_frame
        if not (frame is None or frame == "auto" or (_is_int(frame) and int(frame) >= 0)):
            raise CalibrationError(f"world_frame must be 'auto', a frame index (0 or more) where "
                                   f"the board lies on the floor, or None, got {frame!r}")
        if not isinstance(self.fisheye, bool):
            raise CalibrationError(f"fisheye must be True or False, got {self.fisheye!r}")
        for name, lowest in (("max_views", FEWEST_VIEWS), ("min_views", FEWEST_VIEWS),
                             ("shift_rounds", 0), ("max_frame_shift", 0)):
            value = getattr(self, name)
            if not (_is_int(value) and int(value) >= lowest):
                raise CalibrationError(f"{name} must be a whole number of at least {lowest}, "
                                       f"got {value!r}")
        for name in ("gate_sigma", "given_max_rms_px", "high_rms_px"):
            _check_number(self, name, low=0.0, low_open=True)
        _check_number(self, "lens_term_penalty", low=0.0)
        _check_number(self, "high_outlier_fraction", low=0.0, high=1.0)
        _check_number(self, "shift_min_gain", low=0.0, high=1.0, high_open=True)


def _is_int(value: object) -> bool:
    """Whether ``value`` is a whole number (numpy's integers too), not a boolean."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def _check_number(config: CalibrationConfig, name: str, *, low: float,
                  high: float = math.inf, low_open: bool = False,
                  high_open: bool = False) -> None:
    """CalibrationError unless the setting ``name`` is a finite number in its range."""
    value = getattr(config, name)
    number = isinstance(value, Real) and not isinstance(value, bool)
    inside = number and math.isfinite(value) and (value > low if low_open else value >= low) \
        and (value < high if high_open else value <= high)
    if not inside:
        interval = (f"{'(' if low_open else '['}{low:g}, "
                    + (f"{high:g}{')' if high_open else ']'}" if math.isfinite(high) else "inf)"))
        raise CalibrationError(f"{name} must be a number in {interval}, got {value!r}")


DEFAULT_CONFIG = CalibrationConfig()
