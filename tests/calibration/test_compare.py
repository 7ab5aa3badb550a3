"""compare_rigs and rotation_angle_deg on rigs with known differences."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.camera import CameraRig
from calibration.compare import compare_rigs, rotation_angle_deg
from calibration.errors import CalibrationError
from mocap.synthetic.studio import ring_rig


@pytest.fixture(scope="module")
def rig() -> CameraRig:
    return ring_rig(4, size=(1280, 720), radius=3.0, height=2.0, seed=3)


def turn_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


@pytest.mark.parametrize("align", ["rigid", "first"])
def test_a_moved_world_makes_no_difference(rig, align):
    moved = rig.transformed(turn_z(0.4), np.array([1.0, 2, 3]))
    for d in compare_rigs(moved, rig, align=align):
        assert d.rotation_deg < 1e-6 and d.center_mm < 1e-6
        assert d.focal_pct == 0 and d.principal_px == 0


def test_relative_to_the_first_camera_sees_one_camera_moved_and_its_focal(rig):
    cams = list(rig.cameras)
    K = cams[2].K.copy()
    K[1, 1] *= 0.98                                              # fy 2 % shorter
    K[0, 2] += 3.0
    cams[2] = cams[2].replace(t=cams[2].t + [0.0, 0.0, 0.05], K=K)   # 50 mm along its axis
    diffs = compare_rigs(CameraRig(tuple(cams)), rig, align="first")
    np.testing.assert_allclose([d.center_mm for d in diffs], [0, 0, 50, 0], atol=1e-6)
    np.testing.assert_allclose([d.rotation_deg for d in diffs], 0, atol=1e-6)
    np.testing.assert_allclose([d.focal_pct for d in diffs], [0, 0, -2, 0], atol=1e-9)
    np.testing.assert_allclose([d.principal_px for d in diffs], [0, 0, 3, 0], atol=1e-9)


def test_cameras_are_matched_by_name_and_two_are_needed(rig):
    reordered = CameraRig(tuple(reversed(rig.cameras)))
    assert [d.name for d in compare_rigs(reordered, rig)] == list(rig.names)
    with pytest.raises(CalibrationError, match="share 1 camera"):
        compare_rigs(rig.subset(rig.names[:1]), rig)
    with pytest.raises(CalibrationError, match="align"):
        compare_rigs(rig, rig, align="scaled")


@pytest.mark.parametrize("angle", [1e-7, 0.3, 2.0, np.pi - 1e-6])
def test_rotation_angle_is_exact_for_small_and_large_angles(angle):
    c, s = np.cos(angle), np.sin(angle)
    R = np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])
    np.testing.assert_allclose(rotation_angle_deg(R), np.degrees(angle), rtol=1e-9)
    np.testing.assert_allclose(rotation_angle_deg(np.stack([R, R.T, np.eye(3)])),
                               [np.degrees(angle)] * 2 + [0], rtol=1e-9)
