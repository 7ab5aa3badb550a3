"""Synthetic takes from real motion: CMU clips as keypoints of every set, placed in the studio,
and seen by a studio rig with the detector errors issue 17 asks for."""

from __future__ import annotations

import numpy as np
import pytest

from mocap.errors import InputError
from mocap.synthetic.observe import DetectorErrors, observe_with_truth
from mocap.synthetic.real_motion import motion_from_bvh
from mocap.synthetic.studio import studio_rig
from rigs.errors import RigError
from rigs.skeleton import Skeleton, skeleton_names

CLIPS = ("01_01", "131_01", "131_02", "131_03")
FEET = ("left_heel", "right_heel", "left_big_toe", "right_big_toe", "left_small_toe",
        "right_small_toe")
STANDING = slice(1, 60)      # every clip starts standing still (01_01's frame 0 is a T pose)


def clip(shared_data, name: str):
    return shared_data / "cmu_mocap" / f"{name}.bvh"


@pytest.mark.parametrize("name", skeleton_names())
def test_every_keypoint_of_every_set_is_placed(shared_data, name):
    m = motion_from_bvh(clip(shared_data, "131_01"), name, fps=30)
    # 994 frames at 120 Hz are 8.275 s: 249 frames at 30 Hz
    assert m.xyz.shape == (249, 1, len(m.skeleton), 3) and m.fps == 30.0
    assert np.isfinite(m.xyz).all()


@pytest.mark.parametrize("name", CLIPS)
def test_rigid_bones_keep_their_length_at_any_rate(shared_data, name):
    pairs = [("left_knee", "left_ankle"), ("right_hip", "right_knee"),
             ("left_shoulder", "left_elbow"), ("right_elbow", "right_wrist"),
             ("left_ankle", "left_heel"), ("right_wrist", "right_index"), ("nose", "left_ear"),
             ("left_eye", "right_eye"), ("left_wrist", "left_pinky")]
    for fps in (None, 50.0, 24.0):             # 120 Hz kept, then 2.4 and 5 source frames apart
        m = motion_from_bvh(clip(shared_data, name), "blazepose33", fps=fps)
        a, b = np.array([m.skeleton.indices(p) for p in pairs]).T
        lengths = np.linalg.norm(m.xyz[:, 0, a] - m.xyz[:, 0, b], axis=-1)     # (F, 9)
        # each pair hangs off one rigid CMU segment chain; resampling interpolates rotations
        # on the sphere, so lengths stay exact to rounding
        assert np.ptp(lengths, axis=0).max() < 1e-9, fps


def test_resampling_copies_source_frames_and_interpolates_between(shared_data):
    path = clip(shared_data, "131_03")
    full = motion_from_bvh(path, "coco17").xyz[:, 0]                           # 120 Hz
    hip = motion_from_bvh(path, "coco17").skeleton.index("left_hip")

    def relative(xyz):                         # placement depends on the frames kept
        return xyz - xyz[:, hip:hip + 1]

    every4 = motion_from_bvh(path, "coco17", fps=30).xyz[:, 0]
    np.testing.assert_allclose(relative(every4), relative(full[::4]), rtol=0, atol=1e-12)
    at50 = relative(motion_from_bvh(path, "coco17", fps=50).xyz[:, 0])         # t = k / 50
    np.testing.assert_allclose(at50[::5], relative(full)[::12], rtol=0, atol=1e-12)
    # frame 1 at 50 Hz is source frame 2.4: within 1 mm of the straight line between frames
    # 2 and 3 (a chord differs from the arc by far less), while the nearer frame 2 would be off
    # by 0.4 of a frame's motion (up to 1.5 cm at 4 m/s)
    between = relative(full)[2] + 0.4 * (relative(full)[3] - relative(full)[2])
    assert np.abs(at50[1] - between).max() < 1e-3


@pytest.mark.parametrize("name", CLIPS)
def test_person_stands_z_up_on_the_floor_at_adult_height(shared_data, name):
    m = motion_from_bvh(clip(shared_data, name), "halpe26")
    s, xyz = m.skeleton, m.xyz[:, 0]
    feet = xyz[:, s.indices(FEET), 2].min(axis=1)                              # (F,)
    # the keypoints sit 1-5 cm over the sole (back of the heel, toe tips): a standing foot's
    # lowest keypoint is 0-6 cm high; the floor is the 5th percentile, so allow 2 cm under it
    assert -0.02 < feet[STANDING].min() and feet[STANDING].max() < 0.06
    # a foot may dip through the capture's floor on landing, but not by a foot's height
    assert feet.min() > -0.10
    body25b = motion_from_bvh(clip(shared_data, name), "body25b")
    top = body25b.xyz[STANDING, 0, body25b.skeleton.index("head_top"), 2]
    hips = xyz[STANDING, s.index("hip"), 2]
    # adults 1.5-1.9 m tall; hip joints at 0.47-0.55 of stature (0.7-1.05 m)
    assert 1.5 < top.min() and top.max() < 1.9
    assert 0.7 < hips.min() and hips.max() < 1.05


@pytest.mark.parametrize("name", CLIPS)
def test_left_is_left_and_the_nose_points_forward(shared_data, name):
    m = motion_from_bvh(clip(shared_data, name), "body25")
    s, xyz = m.skeleton, m.xyz[:, 0]
    left = xyz[:, s.index("left_hip")] - xyz[:, s.index("right_hip")]          # (F, 3)
    forward = np.cross(left, [0.0, 0.0, 1.0])      # Z up, right-handed: left x up = forward
    nose = xyz[:, s.index("nose")] - xyz[:, s.index("neck")]
    # the head turns less than 90 degrees from the pelvis nearly always; a mirrored world
    # (a wrong Y-up to Z-up turn) would put the nose behind in nearly every frame
    assert (np.sum(forward * nose, axis=-1) > 0).mean() > 0.95


def test_hip_range_is_centred_where_asked(shared_data):
    m = motion_from_bvh(clip(shared_data, "01_01"), "body25", centre=(0.5, -0.3))
    hips = m.xyz[:, 0, m.skeleton.index("mid_hip"), :2]
    np.testing.assert_allclose((hips.min(axis=0) + hips.max(axis=0)) / 2, [0.5, -0.3],
                               atol=1e-12)


def test_a_skeleton_without_cmu_joints_names_them(tmp_path):
    path = tmp_path / "robot.bvh"
    path.write_text("HIERARCHY\nROOT base\n{\n OFFSET 0 0 0\n CHANNELS 3 Xposition Yposition "
                    "Zposition\n End Site\n {\n  OFFSET 0 1 0\n }\n}\nMOTION\nFrames: 2\n"
                    "Frame Time: 0.01\n0 0 0\n0 0 1\n")
    with pytest.raises(RigError, match=r"robot\.bvh: not a CMU skeleton; it lacks LeftUpLeg, "):
        motion_from_bvh(path)


def test_a_keypoint_the_body_lacks_is_named(shared_data):
    tail = Skeleton("tailed", ("nose", "tail"), (-1, 0), ((0, 1),), ())
    with pytest.raises(RigError, match=r"keypoints tail of tailed have no definition"):
        motion_from_bvh(clip(shared_data, "131_01"), tail)


def test_a_range_outside_the_clip_says_how_long_it_is(shared_data):
    with pytest.raises(InputError, match=r"131_01\.bvh: cannot take 8-9 s .* \(8\.275 s\)"):
        motion_from_bvh(clip(shared_data, "131_01"), start_s=8.0, duration_s=1.0)


def classify_swaps(xy, clean, skeleton):
    """(C, F, P) view-frames whose detections lie nearer the mirrored truth, and whether the
    view-frame could be judged (at least 3 seen left/right joints 20 px or more from their
    twins, so that 2 px noise cannot confuse the sides)."""
    mirrored = clean[..., skeleton.mirror, :]
    sided = np.zeros(len(skeleton), bool)
    sided[np.ravel(skeleton.lr_pairs)] = True
    apart = sided & (np.linalg.norm(clean - mirrored, axis=-1) > 20) & np.isfinite(xy[..., 0])
    nearer_mirror = apart & (np.linalg.norm(xy - mirrored, axis=-1)
                             < np.linalg.norm(xy - clean, axis=-1))
    return 2 * nearer_mirror.sum(-1) > apart.sum(-1), apart.sum(-1) >= 3


def within_binomial(measured: float, p: float, n: int) -> bool:
    """|measured - p| within 4 standard deviations of a binomial rate over n trials (a correct
    generator fails one such check in about 16,000 runs)."""
    return abs(measured - p) <= 4 * np.sqrt(p * (1 - p) / n)


ISSUE_17_ERRORS = DetectorErrors(noise_px=2.0, outlier_rate=0.08, swap_rate=0.02,
                                 dropout_rate=0.10)


@pytest.fixture(scope="module", params=[("131_01", 4, 0, None), ("131_03", 4, 1, None),
                                        ("01_01", 8, 2, 60.0)],
                ids=lambda p: f"{p[0]}-{p[1]}cams-seed{p[2]}")
def take(request, shared_data):
    name, n_cameras, seed, fps = request.param
    truth = motion_from_bvh(clip(shared_data, name), "coco17", fps=fps)
    rig = studio_rig(n_cameras, seed=seed)
    kp, drawn = observe_with_truth(rig, truth, ISSUE_17_ERRORS, seed=seed)
    return rig, truth, kp, drawn


def test_take_has_the_issues_error_rates(take):
    rig, truth, kp, _ = take
    clean = rig.project(truth.xyz)                                            # (C, F, 1, J, 2)
    inside = np.stack([cam.in_image(p) for cam, p in zip(rig, clean)])
    both_inside = inside & inside[..., truth.skeleton.mirror]   # a swap cannot move them out
    missing = np.isnan(kp.xy[..., 0])[both_inside]
    assert within_binomial(missing.mean(), 0.10, missing.size)

    swapped, judged = classify_swaps(kp.xy, clean, truth.skeleton)
    assert judged.mean() > 0.95
    assert within_binomial(swapped[judged].mean(), 0.02, int(judged.sum()))

    expected = np.where(swapped[..., None, None], clean[..., truth.skeleton.mirror, :], clean)
    seen = np.isfinite(kp.xy[..., 0]) & judged[..., None]
    error = np.linalg.norm(kp.xy - expected, axis=-1)[seen]
    far = error > 10.0                     # 5 sigma of the 2 px noise: exp(-12.5) = 4e-6 of it
    # an outlier lands N(0, 80 px) per axis away, beyond 10 px with exp(-100 / (2 80^2))
    assert within_binomial(far.mean(), 0.08 * np.exp(-100 / (2 * 80.0**2)), far.size)
    sigma = np.median(error[~far]) / np.sqrt(2 * np.log(2))     # Rayleigh median: s sqrt(2 ln 2)
    assert abs(sigma - 2.0) < 0.06         # the median of >20,000 samples: within 3 %

    scores = kp.score[seen]
    # confident outliers: a threshold that keeps the correct detections keeps them too
    # (N(0.75, 0.1): 99.4 % above 0.5)
    assert (scores[far] > 0.5).mean() > 0.98 and np.median(scores[far]) > 0.7


def test_drawn_errors_are_the_ones_in_the_keypoints(take):
    rig, truth, kp, drawn = take
    clean = rig.project(truth.xyz)
    swapped, judged = classify_swaps(kp.xy, clean, truth.skeleton)
    # a judged view-frame is misread only when most of its separated joints are outliers
    assert (swapped == drawn.swapped)[judged].mean() > 0.99
    expected = np.where(drawn.swapped[..., None, None], clean[..., truth.skeleton.mirror, :],
                        clean)
    seen = np.isfinite(kp.xy[..., 0])
    far = np.linalg.norm(kp.xy - expected, axis=-1) > 10.0
    # outliers that land within 10 px of the truth (0.8 % of them) are the only disagreement
    assert (far == drawn.outlier)[seen].mean() > 0.99
    assert not (seen & drawn.dropped).any()
