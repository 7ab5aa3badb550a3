"""Skeleton bundle adjustment: on takes made from CMU motion capture with issue 17's
detector-like errors, against the robust triangulation it starts from and the issue's goals;
the links it leaves out, its per-joint uncertainty, missing joints and its settings."""

from __future__ import annotations

import numpy as np
import pytest

from mocap.config import SessionConfig
from mocap.errors import ConfigError
from mocap.metrics import joint_errors, summarize_errors
from mocap.skeleton_adjustment import SkeletonConfig, bending_links, fit_skeleton, flexible_links
from mocap.synthetic.observe import DetectorErrors, observe
from mocap.synthetic.real_motion import motion_from_bvh
from mocap.synthetic.studio import studio_rig
from mocap.triangulation import triangulate_views

# issue 17's detector-like take: noise 2 px, 8 % confident outliers, 2 % of view-frames with
# left/right swapped, 10 % dropouts
DETECTOR_LIKE = DetectorErrors(noise_px=2.0, outlier_rate=0.08, swap_rate=0.02,
                               dropout_rate=0.10)
# CMU's skeleton is rigid segments: a keypoint link whose true length varies by less than this
# share is a bone (the rest, nose-shoulder and hip-shoulder across the spine, vary by 5-15 %)
RIGID_CV = 1e-3


@pytest.fixture(scope="module")
def truth(shared_data):
    """4 s of CMU 131_01 at 60 Hz (241 frames): a few hundred frames keep the tests fast."""
    return motion_from_bvh(shared_data / "cmu_mocap" / "131_01.bvh", "coco17", fps=60,
                           duration_s=4.0)


@pytest.fixture(scope="module", params=[(4, 0), (4, 1), (8, 0), (8, 1)],
                ids=lambda p: f"{p[0]}cams-seed{p[1]}")
def take(request, truth):
    n_cameras, seed = request.param
    rig = studio_rig(n_cameras, seed=seed)
    kp = observe(rig, truth, DETECTOR_LIKE, seed=seed)
    found = triangulate_views(rig, kp)
    fit = fit_skeleton(rig, kp, found.motion, found.kept, swapped=found.swapped)
    return n_cameras, found, fit


def _rigid_bone_cv(motion, truth) -> float:
    """Mean over the true bones of the coefficient of variation of their length over frames."""
    true = truth.skeleton.bone_lengths(truth.xyz)
    rigid = (true.std(axis=0) / true.mean(axis=0) < RIGID_CV).all(axis=0)   # (B,)
    lengths = motion.skeleton.bone_lengths(motion.xyz)[..., rigid]
    return float(np.nanmean(np.nanstd(lengths, axis=0) / np.nanmean(lengths, axis=0)))


def test_adjustment_beats_triangulation_and_meets_issue_17s_goals(take, truth):
    """Goals: better mean and p95 than the robust triangulation it starts from (it drops no
    joint and adds only joints one camera saw), bone-length CV < 1 % (issue 17, acceptance 1) on the
    skeleton's true bones, and acceptance 1's accuracy: 4 cameras mean < 12 mm, p95 < 25 mm,
    <= 3 % missing; 8 cameras mean < 7 mm, p95 < 14 mm, <= 0.5 % missing. (Acceptance 1 applies
    to the whole pipeline; the adjustment meets it before filtering.)"""
    n_cameras, found, fit = take
    before = summarize_errors(joint_errors(found.motion, truth))
    after = summarize_errors(joint_errors(fit.motion, truth))
    assert after["mean_mm"] < before["mean_mm"] and after["p95_mm"] < before["p95_mm"]
    added = np.isfinite(fit.motion.xyz).all(-1) & ~np.isfinite(found.motion.xyz).all(-1)
    assert not (np.isfinite(found.motion.xyz) & np.isnan(fit.motion.xyz)).any()
    assert (fit.motion.n_views[added] == 1).all()
    assert _rigid_bone_cv(fit.motion, truth) < 0.01
    if n_cameras == 4:
        assert after["mean_mm"] < 12.0 and after["p95_mm"] < 25.0
        assert after["recovered"] >= 0.97
    else:
        assert after["mean_mm"] < 7.0 and after["p95_mm"] < 14.0
        assert after["recovered"] >= 0.995


def test_bone_lengths_are_the_true_ones(take, truth):
    """Goal: each rigid bone's fitted length within 5 mm of the truth (a few times the 1-2 mm
    a length averaged over hundreds of frames of 4-10 mm joint errors may keep from a bias of
    the reprojection under lens distortion); the links that are no bone get no length."""
    _, _, fit = take
    true = truth.skeleton.bone_lengths(truth.xyz)[:, 0]                     # (F, B)
    rigid = true.std(axis=0) / true.mean(axis=0) < RIGID_CV
    fitted = np.isfinite(fit.bone_lengths[0])
    assert rigid[fitted].all() and fitted.sum() >= 10
    assert np.abs(fit.bone_lengths[0, fitted] - true.mean(axis=0)[fitted]).max() < 0.005


def test_bending_links_are_found_from_the_take(truth, take):
    """For links whose joints no table knows, the data decides: the links the noisy
    triangulation shows bending are those whose true length varies by more than 2 %
    (FLEXIBLE_SHARE), none other."""
    _, found, _ = take
    true = truth.skeleton.bone_lengths(truth.xyz)[:, 0]
    bending = true.std(axis=0) / true.mean(axis=0) > 0.02
    assert bending.sum() >= 2                                  # the test can fail
    np.testing.assert_array_equal(bending_links(found.motion)[0], bending)


def test_anatomy_leaves_out_only_links_that_bend(truth, take):
    """The links the bone term leaves out by anatomy include every link that bends in CMU's
    motion; those it keeps are rigid in it (true CV < RIGID_CV)."""
    _, found, _ = take
    true = truth.skeleton.bone_lengths(truth.xyz)[:, 0]
    cv = true.std(axis=0) / true.mean(axis=0)
    flexible = flexible_links(found.motion)[0]
    assert (cv[~flexible] < RIGID_CV).all() and flexible[cv > 0.02].all()


def test_joints_one_camera_saw_are_placed_through_their_bones(take, truth):
    """Joints the triangulation left missing but one camera saw (10 % dropouts at 4 cameras
    leave some) are placed on that camera's ray by their rigid bones and the smoothness. Goal:
    as good as acceptance 1 asks of every joint at 4 cameras: mean < 12 mm, each < 25 mm."""
    n_cameras, found, fit = take
    added = np.isfinite(fit.motion.xyz).all(-1) & ~np.isfinite(found.motion.xyz).all(-1)
    if n_cameras == 4:
        assert added.sum() >= 5                                # the test can fail
    errors = joint_errors(fit.motion, truth)[added]
    assert np.mean(errors) < 0.012 and np.max(errors) < 0.025 if errors.size else True


def test_uncertainty_follows_the_views_and_the_errors(take, truth):
    """Per-joint uncertainty (3x3 covariance): finite where a joint was triangulated, NaN where
    it is missing. Goals: joints kept by 2 views are less certain than those kept by all the
    cameras (median), and the predicted spread is the size of the errors: the median error
    within a factor 3 of the median predicted 3D deviation (sqrt 3 times the per-axis RMS)."""
    n_cameras, found, fit = take
    present = np.isfinite(fit.motion.xyz).all(-1)
    assert np.isfinite(fit.covariance[present]).all()
    assert np.isnan(fit.covariance[~present]).all()
    views = found.motion.n_views
    assert np.median(fit.uncertainty[views == 2]) > np.median(fit.uncertainty[views == n_cameras])
    predicted = np.median(fit.uncertainty[present]) * np.sqrt(3)
    actual = np.nanmedian(joint_errors(fit.motion, truth))
    assert predicted / 3 < actual < 3 * predicted


def test_missing_joints_stay_missing_and_reprojection_is_recomputed(take):
    """Joints the triangulation had keep their source and views; those one camera saw say 1."""
    _, found, fit = take
    m = fit.motion
    had = np.isfinite(found.motion.xyz).all(-1)
    np.testing.assert_array_equal(m.source[had], found.motion.source[had])
    np.testing.assert_array_equal(m.n_views[had], found.motion.n_views[had])
    assert (m.n_views[~had & np.isfinite(m.xyz).all(-1)] == 1).all()
    assert np.isnan(m.reprojection_error[np.isnan(m.xyz[..., 0])]).all()
    assert np.isfinite(m.reprojection_error[np.isfinite(m.xyz[..., 0])]).all()


def test_settings_are_checked_and_read_from_session_toml(tmp_path):
    with pytest.raises(ConfigError, match=r"loss must be one of huber, cauchy, linear"):
        SkeletonConfig(loss="l1")
    with pytest.raises(ConfigError, match=r"bone_weight must be 0 or more"):
        SkeletonConfig(bone_weight=-1.0)
    with pytest.raises(ConfigError, match=r"max_iterations"):
        SkeletonConfig(max_iterations=0)
    (tmp_path / "session.toml").write_text(
        "[skeleton]\nenabled = false\nsmoothness_weight = 0.1\nloss_scale_px = 3\n")
    config = SessionConfig.load(tmp_path / "session.toml").skeleton
    assert not config.enabled and config.smoothness_weight == 0.1 and config.loss_scale_px == 3
    (tmp_path / "session.toml").write_text("[skeleton]\nbone_wieght = 2\n")
    with pytest.raises(ConfigError, match=r"did you mean 'bone_weight'"):
        SessionConfig.load(tmp_path / "session.toml")
    assert SessionConfig().skeleton.enabled                   # on: it measures better (above)


@pytest.mark.parametrize("refine_cameras", [False, True])
def test_long_takes_solve_by_conjugate_gradients_to_the_same_answer(truth, monkeypatch,
                                                                     refine_cameras):
    """A take too long for the sparse LU (DIRECT_UNKNOWNS, lowered here to reach the iterative
    path on a short take) gets the same adjustment, joints and cameras, within 0.01 mm: the
    iterations stop at a 1e-8 relative residual, far below the millimetres that matter."""
    import mocap.skeleton_adjustment as adjustment
    rig = studio_rig(4, seed=2)
    kp = observe(rig, truth, DETECTOR_LIKE, seed=2)
    found = triangulate_views(rig, kp)
    config = SkeletonConfig(refine_cameras=refine_cameras)
    exact = fit_skeleton(rig, kp, found.motion, found.kept, config, swapped=found.swapped)
    monkeypatch.setattr(adjustment, "DIRECT_UNKNOWNS", 0)
    iterative = fit_skeleton(rig, kp, found.motion, found.kept, config, swapped=found.swapped)
    assert np.array_equal(np.isnan(iterative.motion.xyz), np.isnan(exact.motion.xyz))
    assert np.nanmax(np.abs(iterative.motion.xyz - exact.motion.xyz)) < 1e-5
    for a, b in zip(iterative.rig, exact.rig, strict=True):
        assert np.abs(a.R - b.R).max() < 1e-8
