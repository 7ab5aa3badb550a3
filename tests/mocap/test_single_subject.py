"""Single-subject selection: each camera's slot of the one person, among bystanders listed in
arbitrary slot order."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mocap.config import SessionConfig
from mocap.errors import ConfigError
from mocap.keypoints import Keypoints2D
from mocap.single_subject import select_single_subject
from mocap.synthetic.observe import DetectorErrors, observe
from mocap.synthetic.real_motion import motion_from_bvh
from mocap.synthetic.studio import studio_rig

NOISY = DetectorErrors(noise_px=2.0, outlier_rate=0.08, dropout_rate=0.10)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_subject_is_found_among_bystanders_in_shuffled_slots(shared_data, seed):
    """Two bystanders (the same motion 1.2 m and 2 m away, so as large and as confident as the
    subject) seen by two of the four cameras, as the Pose2Sim demo's background person is, in
    a random slot per camera-frame: the goal is the subject's slot in every camera-frame where
    it was seen (4 cameras agree on it, at most 2 on a bystander)."""
    truth = motion_from_bvh(shared_data / "cmu_mocap" / "131_01.bvh", "coco17", fps=60,
                            duration_s=1.0)
    rig = studio_rig(4, seed=seed)
    shifts = [(0.0, 0.0, 0.0), (1.2, 0.4, 0.0), (-0.5, -2.0, 0.0)]
    views = [observe(rig, replace(truth, xyz=truth.xyz + np.array(s)), NOISY, seed=seed + i)
             for i, s in enumerate(shifts)]
    xy = np.concatenate([v.xy for v in views], axis=2)                    # (C, F, 3, J, 2)
    score = np.concatenate([v.score for v in views], axis=2)
    xy[2:, :, 1:], score[2:, :, 1:] = np.nan, 0.0                       # cameras 2, 3: subject
    order = np.random.default_rng(seed).permuted(
        np.broadcast_to(np.arange(3), xy.shape[:2] + (3,)), axis=-1)     # (C, F, 3)
    shuffled = Keypoints2D(np.take_along_axis(xy, order[..., None, None], axis=2),
                           np.take_along_axis(score, order[..., None], axis=2),
                           views[0].cameras, truth.skeleton, truth.fps)
    chosen = select_single_subject(rig, shuffled, min_score=0.3)
    assert chosen.xy.shape == views[0].xy.shape
    seen = views[0].score.any(-1)                                           # (C, F, 1)
    same = np.isclose(chosen.score, views[0].score).all(-1)
    assert same[seen].all()


@pytest.mark.parametrize("people", [0, 101])
def test_people_out_of_range_is_refused(tmp_path, people):
    (tmp_path / "session.toml").write_text(f"[triangulation]\npeople = {people}\n")
    with pytest.raises(ConfigError, match=r"people must be in \[1, 100\]"):
        SessionConfig.load(tmp_path / "session.toml")
