"""The procedural motion and detector model: constant bones, Z up, errors as asked."""

from __future__ import annotations

import numpy as np

from mocap.synthetic.motion import PersonStyle, synthetic_motion
from mocap.synthetic.observe import DetectorErrors, observe
from mocap.synthetic.studio import ring_rig


def test_tree_bones_keep_their_length_and_people_stand_on_the_floor():
    people = [PersonStyle(), PersonStyle(height_scale=0.9, phase=2.5, speed=-0.6)]
    for name in ("coco17", "blazepose33", "halpe26", "body25", "h36m17"):
        m = synthetic_motion(name, n_frames=200, people=people)
        assert np.isfinite(m.xyz).all()
        tree = [(p, j) for j, p in enumerate(m.skeleton.parents) if p >= 0]
        a, b = np.array(tree).T
        lengths = np.linalg.norm(m.xyz[..., a, :] - m.xyz[..., b, :], axis=-1)   # (F, P, B)
        assert np.abs(lengths - lengths[0]).max() < 0.03, name    # torso links flex a little
        z = m.xyz[..., 2]
        assert 0.0 < z.min() < 0.15 and 1.5 < z.max() < 2.0


def test_limb_bones_are_rigid():
    m = synthetic_motion("coco17", n_frames=300)
    s = m.skeleton
    for a, b in [("left_knee", "left_ankle"), ("right_elbow", "right_wrist"),
                 ("left_shoulder", "left_elbow"), ("right_hip", "right_knee")]:
        d = np.linalg.norm(m.xyz[:, 0, s.index(a)] - m.xyz[:, 0, s.index(b)], axis=-1)
        assert np.ptp(d) < 1e-12


def test_right_hand_waves_above_the_head_in_the_second_half():
    m = synthetic_motion("coco17", n_frames=300)
    s = m.skeleton
    wrist, nose = m.xyz[:, 0, s.index("right_wrist"), 2], m.xyz[:, 0, s.index("nose"), 2]
    assert (wrist[:140] < nose[:140]).all() and (wrist[170:] > nose[170:]).all()


def test_detector_errors_follow_their_rates():
    rig = ring_rig(4)
    m = synthetic_motion("coco17", n_frames=200)
    clean = observe(rig, m, DetectorErrors(noise_px=0.0))
    np.testing.assert_allclose(clean.xy, rig.project(m.xyz), atol=1e-9)
    noisy = observe(rig, m, DetectorErrors(noise_px=2.0, dropout_rate=0.1, outlier_rate=0.05,
                                           swap_rate=0.05), seed=3)
    seen = noisy.score > 0
    assert abs(seen.mean() - 0.9) < 0.02
    moved = np.linalg.norm(noisy.xy - clean.xy, axis=-1)[seen]
    assert 0.03 < (moved > 30).mean() < 0.2            # outliers and swapped sides
    assert 1.8 < np.median(moved) / np.sqrt(np.log(4)) < 2.2  # Rayleigh median = s sqrt(2 ln 2)
