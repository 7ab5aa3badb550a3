"""BVH reading and forward kinematics: exact on a hand-written file, real on CMU's clips, and a
clear message for each kind of malformed file."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.rotations import rot_x, rot_y, rot_z
from rigs.bvh import CMU_METRES_PER_UNIT, axis_rotation, parse_bvh, read_bvh
from rigs.errors import RigError

# The root turns Z, X, Y; the chest Z X Y; the leg X Y Z; the foot has position channels and a
# single rotation. Positions below were worked out by hand (see each frame's comment).
TINY = """HIERARCHY
ROOT hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT chest
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 5 0
    }
  }
  JOINT leg
  {
    OFFSET 2 0 0
    CHANNELS 3 Xrotation Yrotation Zrotation
    JOINT foot
    {
      OFFSET 0 -8 0
      CHANNELS 4 Xposition Yposition Zposition Yrotation
      End Site
      {
        OFFSET 0 0 3
      }
    }
  }
}
MOTION
Frames: 3
Frame Time: 0.04
1 2 3 0 0 0  0 0 0  0 0 0  0 -8 0 0
0 0 0 90 0 0  0 0 0  0 0 0  0 -8 0 90
0 0 0 0 0 0  90 90 0  90 90 0  0 -4 0 0
"""
NAMES = ("hips", "chest", "chest_end", "leg", "foot", "foot_end")
EXPECTED = np.array([
    # frame 0: rest pose moved to (1, 2, 3)
    [[1, 2, 3], [1, 12, 3], [1, 17, 3], [3, 2, 3], [3, -6, 3], [3, -6, 6]],
    # frame 1: root turned 90 deg about z (x -> y, y -> -x); the foot 90 deg about y (z -> x)
    [[0, 0, 0], [-10, 0, 0], [-15, 0, 0], [0, 2, 0], [8, 2, 0], [8, 5, 0]],
    # frame 2: chest Rz(90) Rx(90) takes its end (0, 5, 0) to (0, 0, 5) (Rx Rz would give
    # (-5, 0, 0)); leg Rx(90) Ry(90) takes (0, -4, 0), the foot's position channels, to
    # (0, 0, -4) (Ry Rx would give (-4, 0, 0)) and the foot's end (0, 0, 3) to (3, 0, 0)
    [[0, 0, 0], [0, 10, 0], [0, 10, 5], [2, 0, 0], [2, 0, -4], [5, 0, -4]],
], dtype=float)

CMU_CLIPS = ("01_01", "131_01", "131_02", "131_03")


def test_forward_kinematics_of_a_hand_written_file_is_exact():
    motion = parse_bvh(TINY)
    skel = motion.skeleton
    assert skel.names == NAMES
    assert skel.parents == (-1, 0, 1, 0, 3, 4)
    assert skel.end_site == (False, False, True, False, False, True)
    assert skel.channels[4] == ("Xposition", "Yposition", "Zposition", "Yrotation")
    assert motion.n_frames == 3 and motion.frame_time == 0.04 and motion.fps == 25.0
    np.testing.assert_allclose(motion.world_positions(), EXPECTED, rtol=0, atol=1e-12)


def test_scale_multiplies_offsets_and_positions_not_angles():
    metres = parse_bvh(TINY, scale=0.01)
    np.testing.assert_allclose(metres.world_positions(), EXPECTED * 0.01, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(metres.values[:, 3:6], parse_bvh(TINY).values[:, 3:6])


@pytest.mark.parametrize("axis, reference", [(0, rot_x), (1, rot_y), (2, rot_z)])
def test_axis_rotation_is_the_right_handed_rotation(axis, reference):
    angles = np.random.default_rng(axis).uniform(-np.pi, np.pi, (5, 2))
    np.testing.assert_allclose(axis_rotation(axis, angles), reference(angles), atol=1e-15)


def _tiny_line(text: str) -> int:
    """1-based number of the first line of TINY that contains ``text``."""
    return next(i for i, line in enumerate(TINY.splitlines(), 1) if text in line)


@pytest.mark.parametrize("old, new, message", [
    ("HIERARCHY", "HIERARCY", r"line 1: expected 'HIERARCHY', found 'HIERARCY'"),
    ("Xrotation Yrotation Zrotation", "Xrotation Wrotation Zrotation",
     rf"line {_tiny_line('Xrotation Yrotation Zrotation')}: unknown channel 'Wrotation'"),
    ("CHANNELS 3 Zrotation Xrotation Yrotation", "CHANNELS 3 Zrotation Xrotation Zrotation",
     rf"line {_tiny_line('CHANNELS 3 Z')}: channel 'Zrotation' is listed twice"),
    ("OFFSET 2 0 0", "OFFSET 2 0",
     rf"line {_tiny_line('OFFSET 2 0 0') + 1}: OFFSET needs 3 numbers, found 'CHANNELS'"),
    ("JOINT foot", "JOINT chest", rf"line {_tiny_line('JOINT foot')}.*'chest' is used twice"),
    ("JOINT leg", "JOYNT leg", rf"line {_tiny_line('JOINT leg')}: expected 'JOINT', 'End Site'"),
    ("}\nMOTION", "MOTION", r"ends before MOTION"),
    ("MOTION", "MOTON", r"no MOTION line"),
    ("Frames: 3", "Frames: three", rf"line {_tiny_line('Frames')}: expected 'Frames: <count>'"),
    ("Frame Time: 0.04", "Frame Time: 0",
     rf"line {_tiny_line('Frame Time')}: Frame Time must be positive"),
    ("Frame Time: 0.04", "Frame Time: nan",
     rf"line {_tiny_line('Frame Time')}: Frame Time must be positive"),
    ("Frames: 3", "Frames: 2.5", rf"line {_tiny_line('Frames')}: Frames must be a whole number"),
    ("0 0 0 90 0 0  0 0 0", "0 0 0 90 0  0 0 0",
     rf"line {_tiny_line('0 0 0 90 0 0  0 0 0')}: 15 values, the hierarchy declares 16"),
    ("1 2 3 0", "1 2 x 0", rf"line {_tiny_line('1 2 3 0')}: a value is not a number"),
    ("1 2 3 0", "1 2 nan 0", rf"line {_tiny_line('1 2 3 0')}: NaN or infinite"),
    ("Frames: 3", "Frames: 4", r"header says Frames: 4 but lines .* hold 3 frames"),
])
def test_malformed_file_names_file_line_and_problem(tmp_path, old, new, message):
    assert old in TINY
    path = tmp_path / "bad.bvh"
    path.write_text(TINY.replace(old, new, 1))
    with pytest.raises(RigError, match=rf"bad\.bvh.*{message}"):
        read_bvh(path)


def test_missing_file_and_bad_scale_are_rig_errors(tmp_path):
    with pytest.raises(RigError, match=r"cannot read BVH file .*none\.bvh"):
        read_bvh(tmp_path / "none.bvh")
    with pytest.raises(RigError, match="scale must be a positive number"):
        parse_bvh(TINY, scale=0.0)


@pytest.fixture(scope="module", params=CMU_CLIPS)
def cmu(request, shared_data):
    return read_bvh(shared_data / "cmu_mocap" / f"{request.param}.bvh", scale=CMU_METRES_PER_UNIT)


def test_cmu_clip_loads_with_rigid_bones(cmu):
    skel = cmu.skeleton
    # README: the clips are 120 Hz; 31 joints with 96 channels and 7 end sites (CMU's skeleton)
    assert abs(cmu.fps - 120) < 1e-3 and len(skel) == 38 and skel.n_channels == 96
    assert sum(skel.end_site) == 7 and "Head_end" in skel.names
    xyz = cmu.world_positions()                                            # (F, 38, 3)
    assert xyz.shape == (cmu.n_frames, 38, 3) and np.isfinite(xyz).all()
    child = np.array([j for j, p in enumerate(skel.parents) if p >= 0])
    parent = np.array(skel.parents)[child]
    lengths = np.linalg.norm(xyz[:, child] - xyz[:, parent], axis=-1)      # (F, 37)
    # no position channels below the root: every bone is its OFFSET, in every frame, to
    # rounding (the clip's positions are ~1 m, so 1e-9 m is a million times float64's step)
    np.testing.assert_allclose(lengths, np.broadcast_to(np.linalg.norm(skel.offsets[child],
                                                                        axis=-1), lengths.shape),
                               rtol=0, atol=1e-9)


def test_cmu_units_give_adult_proportions(cmu):
    skel, xyz = cmu.skeleton, cmu.world_positions()
    thigh_shin = sum(np.linalg.norm(skel.offsets[skel.index(n)]) for n in skel.names
                     if n in ("LeftLeg", "LeftFoot", "LeftKnee", "LeftAnkle"))
    # Winter's anthropometry: thigh 0.245 and shank 0.246 of stature, so 0.74-0.93 m for people
    # 1.5-1.9 m tall (taking a unit as an inch would give 0.33 m)
    assert 0.74 < thigh_shin < 0.93
    standing = xyz[1:60]                 # every clip starts standing (01_01's frame 0 is a T pose)
    feet = [j for j, n in enumerate(skel.names) if "Toe" in n or n in ("LeftFoot", "RightFoot",
                                                                       "LeftAnkle", "RightAnkle")]
    head = standing[:, skel.index("Head_end"), 1] - standing[:, feet, 1].min(axis=1)
    # CMU's head end site is about nose height (0.90-0.94 of stature) and the lowest foot point
    # up to 8 cm over the floor: 1.27-1.79 m for people 1.5-1.9 m tall
    assert 1.27 < head.min() and head.max() < 1.79
