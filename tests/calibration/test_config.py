"""CalibrationConfig: the defaults calibrate() has always used, and one test per refused value
(each message names the setting and what it accepts)."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.config import CalibrationConfig
from calibration.errors import CalibrationError


def test_defaults_are_the_solver_settings_of_before():
    """The values the module constants and keyword defaults had before the config (issue 15.6):
    the same calibration comes out of calibrate(detections, board)."""
    c = CalibrationConfig()
    assert (c.refine_intrinsics, c.world_frame, c.fisheye, c.max_views) == ("auto", "auto",
                                                                             False, 40)
    assert (c.min_views, c.gate_sigma, c.lens_term_penalty) == (3, 5.0, 2.0)
    assert (c.given_max_rms_px, c.high_rms_px, c.high_outlier_fraction) == (3.0, 1.5, 0.2)
    assert (c.shift_rounds, c.max_frame_shift, c.shift_min_gain) == (3, 2, 0.05)


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        CalibrationConfig().max_views = 10        # type: ignore[misc]


@pytest.mark.parametrize("settings", [
    {"refine_intrinsics": True}, {"refine_intrinsics": False}, {"world_frame": None},
    {"world_frame": 0}, {"world_frame": 250}, {"world_frame": np.int64(7)}, {"fisheye": True}, {"max_views": 3},
    {"shift_rounds": 0}, {"max_frame_shift": 0}, {"lens_term_penalty": 0.0},
    {"high_outlier_fraction": 1.0}, {"shift_min_gain": 0}, {"gate_sigma": 3},
])
def test_accepted_values(settings):
    config = CalibrationConfig(**settings)
    assert all(getattr(config, k) == v for k, v in settings.items())


@pytest.mark.parametrize("settings, message", [
    ({"refine_intrinsics": "yes"}, r"refine_intrinsics must be 'auto', True or False, got 'yes'"),
    ({"refine_intrinsics": 1}, r"refine_intrinsics must be 'auto', True or False, got 1"),
    ({"world_frame": "floor"}, (r"world_frame must be 'auto', a frame index \(0 or more\) "
                                r"where the board lies on the floor, or None, got 'floor'")),
    ({"world_frame": -1}, r"world_frame must be .*, got -1"),
    ({"world_frame": True}, r"world_frame must be .*, got True"),
    ({"world_frame": 2.0}, r"world_frame must be .*, got 2.0"),
    ({"fisheye": "no"}, r"fisheye must be True or False, got 'no'"),
    ({"max_views": 2}, r"max_views must be a whole number of at least 3, got 2"),
    ({"max_views": 40.0}, r"max_views must be a whole number of at least 3, got 40.0"),
    ({"min_views": 1}, r"min_views must be a whole number of at least 3, got 1"),
    ({"shift_rounds": -1}, r"shift_rounds must be a whole number of at least 0, got -1"),
    ({"max_frame_shift": True}, r"max_frame_shift must be a whole number of at least 0, got True"),
    ({"gate_sigma": 0.0}, r"gate_sigma must be a number in \(0, inf\), got 0.0"),
    ({"given_max_rms_px": float("nan")}, r"given_max_rms_px must be a number in \(0, inf\)"),
    ({"high_rms_px": "1.5"}, r"high_rms_px must be a number in \(0, inf\), got '1.5'"),
    ({"lens_term_penalty": -2.0}, r"lens_term_penalty must be a number in \[0, inf\), got -2.0"),
    ({"high_outlier_fraction": 1.5}, r"high_outlier_fraction must be a number in \[0, 1\]"),
    ({"shift_min_gain": 1.0}, r"shift_min_gain must be a number in \[0, 1\), got 1.0"),
])
def test_refused_values_name_the_setting_and_what_it_accepts(settings, message):
    with pytest.raises(CalibrationError, match=message):
        CalibrationConfig(**settings)
