"""URDF arm reading, forward kinematics and the invalid-URDF errors."""

from __future__ import annotations

import numpy as np
import pytest

from rigs.errors import RigError
from rigs.urdf_arm import ARM6, read_urdf

_JOINT = ('<joint name="j1" type="revolute"><parent link="a"/><child link="b"/>'
          '<origin xyz="0 0 0.5"/><axis xyz="0 0 1"/>{limit}</joint>')
_GOOD_LIMIT = '<limit lower="-1" upper="1" velocity="2"/>'


def _urdf(tmp_path, body: str):
    path = tmp_path / "bad.urdf"
    path.write_text(f'<robot name="r"><link name="a"/><link name="b"/>{body}</robot>')
    return path


def test_bundled_arm_reads_with_limits():
    arm = read_urdf(ARM6)
    assert len(arm.joint_names) == 6 and arm.tip_link == "flange"
    assert (arm.lower < arm.upper).all() and (arm.velocity > 0).all()
    # zero pose: straight up, 0.15 + 0.15 + 0.40 + 0.35 + 0.08 m
    assert np.allclose(arm.forward(np.zeros(6)), np.c_[np.eye(4)[:, :3], [0, 0, 1.13, 1]])


def test_forward_matches_ikpy():
    ikpy_chain = pytest.importorskip("ikpy.chain")
    arm = read_urdf(ARM6)
    chain = ikpy_chain.Chain.from_urdf_file(str(ARM6), base_elements=["base_link"],
                                            active_links_mask=[False] + [True] * 6 + [False])
    q = np.random.default_rng(0).uniform(-1.5, 1.5, (5, 6))
    for row in q:
        full = np.zeros(len(chain.links))
        full[1:7] = row
        assert np.allclose(arm.forward(row), chain.forward_kinematics(full), atol=1e-9)


def test_forward_rotation_about_axis(tmp_path):
    arm = read_urdf(_urdf(tmp_path, _JOINT.format(limit=_GOOD_LIMIT)))
    pose = arm.forward(np.array([[np.pi / 2]]))[0]
    assert np.allclose(pose[:3, 0], [0, 1, 0]) and np.allclose(pose[:3, 3], [0, 0, 0.5])


@pytest.mark.parametrize("body, message", [
    (_JOINT.format(limit=""), "j1' .revolute. has no <limit lower upper velocity>"),
    (_JOINT.format(limit='<limit lower="1" upper="-1" velocity="2"/>'), "lower 1.0 is not below"),
    (_JOINT.format(limit='<limit lower="-1" upper="1" velocity="0"/>'), "velocity 0.0 must be"),
    (_JOINT.format(limit=_GOOD_LIMIT).replace('link="b"', 'link="c"'), "undefined link .'c'."),
    (_JOINT.format(limit=_GOOD_LIMIT).replace("revolute", "floating"), "type 'floating'"),
    (_JOINT.format(limit=_GOOD_LIMIT).replace('0 0 0.5', '0 0 x'), "xyz='0 0 x' is not a list"),
    ("", "found 2 root links"),
])
def test_invalid_urdf_names_file_and_fault(tmp_path, body, message):
    with pytest.raises(RigError, match=message) as info:
        read_urdf(_urdf(tmp_path, body))
    assert "bad.urdf" in str(info.value)


def test_not_xml_and_not_robot(tmp_path):
    path = tmp_path / "broken.urdf"
    path.write_text("<robot><link")
    with pytest.raises(RigError, match="broken.urdf: not a readable URDF"):
        read_urdf(path)
    path.write_text("<sdf/>")
    with pytest.raises(RigError, match="root element is <sdf>"):
        read_urdf(path)


def test_unknown_tip_link():
    with pytest.raises(RigError, match="arm6.urdf: no link named 'gripper'"):
        read_urdf(ARM6, tip="gripper")
