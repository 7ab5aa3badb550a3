"""``mocap evaluate``: a synthetic take scored against its ground truth written as TRC (issue 17,
acceptance 3), Procrustes invariance, PCK and OKS on hand-made cases, and bad references."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.io import write_calibration
from exporters.points3d import write_points3d
from exporters.trc import write_trc
from mocap.cli import main
from mocap.errors import InputError
from mocap.evaluate import evaluate_2d, evaluate_session, marker_landmark
from mocap.keypoints import Keypoints2D
from mocap.keypoints_io import camera_keypoints, write_camera_keypoints
from mocap.metrics import COCO_SIGMAS, joint_errors, oks, procrustes_align
from mocap.session import Session
from mocap.synthetic.observe import DetectorErrors, observe
from mocap.synthetic.real_motion import motion_from_bvh
from mocap.synthetic.studio import studio_rig
from mocap.triangulation import triangulate
from rigs.motion import Motion3D
from rigs.skeleton import get_skeleton

SHIFT_60 = 7          # acceptance 3: the reference is 7 frames (of our 60 Hz) off our clock


@pytest.fixture(scope="module")
def take(shared_data, tmp_path_factory):
    """131_01 at 120 Hz as truth; our 60 Hz take triangulated from 4 cameras with 2 px noise."""
    truth120 = motion_from_bvh(shared_data / "cmu_mocap" / "131_01.bvh", "coco17", fps=120,
                               duration_s=4.0)
    rig = studio_rig(4, seed=1)
    folder = tmp_path_factory.mktemp("take")

    def session(start: int, name: str) -> tuple[Session, Motion3D]:
        truth60 = Motion3D(truth120.xyz[start::2], truth120.skeleton, 60.0)
        kp = observe(rig, truth60, DetectorErrors(noise_px=2.0), seed=start)
        root = folder / name
        for cam in kp.cameras:
            write_camera_keypoints(camera_keypoints(kp, cam), root / "keypoints2d" / f"{cam}.npz")
        write_calibration(rig, root / "calibration" / "calibration.toml")
        write_points3d(triangulate(rig, kp), root / "output" / "points3d.npz")
        return Session.open(root), truth60

    return truth120, session, folder


@pytest.mark.parametrize("ours_start, ref_start", [(2 * SHIFT_60, 0), (0, 2 * SHIFT_60)])
def test_trc_reference_reproduces_the_errors_from_the_arrays(take, ours_start, ref_start):
    truth120, make_session, folder = take
    session, truth60 = make_session(ours_start, f"take{ours_start}")
    trc = write_trc(truth120.xyz[ref_start:, 0], list(truth120.skeleton.joints), 120.0,
                    folder / f"truth{ref_start}.trc")
    result, scores_2d = evaluate_session(session, trc)
    estimate = Motion3D(np.load(session.output / "points3d.npz")["xyz"], truth60.skeleton, 60.0)
    # our frames before the reference starts are not compared
    errors = joint_errors(estimate, truth60)[max(0, ref_start - ours_start) // 2:]  # (F, 1, J)
    assert result.frames == len(errors)
    # the clock: our frame 0 is the reference's (ours_start - ref_start) / 120 s, exactly
    assert result.shift_s == pytest.approx((ours_start - ref_start) / 120.0, abs=1e-9)
    # acceptance 3: the errors the arrays give, to 0.1 mm (the TRC keeps 1 um)
    assert result.overall["mpjpe_mm"] == pytest.approx(np.nanmean(errors) * 1000, abs=0.1)
    np.testing.assert_allclose(result.mpjpe_mm, np.nanmean(errors, (0, 1)) * 1000, atol=0.1)
    pa = np.linalg.norm(procrustes_align(estimate.xyz, truth60.xyz) - truth60.xyz,
                        axis=-1)[max(0, ref_start - ours_start) // 2:]
    assert result.overall["pa_mpjpe_mm"] == pytest.approx(np.nanmean(pa) * 1000, abs=0.1)
    assert result.overall["pck50"] == pytest.approx(np.mean(errors[np.isfinite(errors)] < 0.05),
                                                    abs=1e-3)
    # 2 px noise on cameras ~1,000 px focal and 3-4.5 m away: detections within a few px of
    # the reprojection, far inside 0.2 torso (~100 px) and near COCO's OKS of 1 (>0.9)
    assert set(scores_2d) == set(studio_rig(4, seed=1).names)
    assert all(s["pck0.2"] > 0.99 and s["oks"] > 0.9 for s in scores_2d.values())


def _write_c3d(xyz, labels, fps, path):
    """A C3D as marker systems write it: millimetres (the default unit), Z up."""
    import ezc3d
    c3d = ezc3d.c3d()
    c3d["parameters"]["POINT"]["RATE"]["value"] = [fps]
    c3d["parameters"]["POINT"]["LABELS"]["value"] = tuple(labels)
    points = np.ones((4, xyz.shape[1], xyz.shape[0]))
    points[:3] = np.moveaxis(xyz, -1, 0).swapaxes(1, 2) * 1000.0             # (3, M, F) mm
    c3d["data"]["points"] = points
    c3d.write(str(path))
    return path


def test_c3d_npz_and_bvh_references(take, shared_data):
    """Each format reproduces the arrays' errors (C3D: Pose2Sim-style marker names, in mm).
    The BVH is read unplaced (the synthetic truth was moved into the studio), so only the
    frame-invariant PA-MPJPE can match; its clock is still found, by speeds and pose shape."""
    truth120, make_session, folder = take
    session, truth60 = make_session(0, "formats")
    estimate = Motion3D(np.load(session.output / "points3d.npz")["xyz"], truth60.skeleton, 60.0)
    errors = joint_errors(estimate, truth60)
    pa = np.linalg.norm(procrustes_align(estimate.xyz, truth60.xyz) - truth60.xyz, axis=-1)
    labels = ["".join(w.title() for w in j.replace("left_", "L_").replace("right_", "R_")
                      .split("_")) for j in truth120.skeleton.joints]       # LKnee, RAnkle...
    c3d = _write_c3d(truth120.xyz[:, 0], labels, 120.0, folder / "truth.c3d")
    npz = write_points3d(truth120, folder / "truth.npz")
    for ref in (c3d, npz):
        result, _ = evaluate_session(session, ref)
        assert result.shift_s == 0.0
        # float64 throughout (C3D stores float32 mm: 0.1 um at 2 m)
        assert result.overall["mpjpe_mm"] == pytest.approx(np.nanmean(errors) * 1000, abs=0.1)
    bvh, _ = evaluate_session(session, shared_data / "cmu_mocap" / "131_01.bvh")
    assert bvh.shift_s == 0.0
    assert bvh.overall["pa_mpjpe_mm"] == pytest.approx(np.nanmean(pa) * 1000, abs=0.1)


def test_cli_prints_the_table(take, capsys):
    truth120, make_session, folder = take
    session, _ = make_session(0, "cli")
    trc = write_trc(truth120.xyz[:, 0], list(truth120.skeleton.joints), 120.0,
                    folder / "cli.trc")
    assert main(["evaluate", str(session.root), "--reference", str(trc)]) == 0
    out = capsys.readouterr().out
    assert "left_knee" in out and "overall" in out and "cam_1: PCK@0.2 torso" in out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pa_mpjpe_ignores_rotation_translation_and_scale(seed):
    rng = np.random.default_rng(seed)
    truth = rng.normal(0.0, 0.5, (5, 2, 17, 3))                             # (F, P, J, 3)
    q, _ = np.linalg.qr(rng.normal(size=(5, 2, 3, 3)))
    q *= np.sign(np.linalg.det(q))[..., None, None]                          # proper rotations
    moved = rng.uniform(0.5, 2.0, (5, 2, 1, 1)) * truth @ q + rng.normal(0, 3, (5, 2, 1, 3))
    moved[0, 0, 3] = np.nan                                                  # a missing joint
    aligned = procrustes_align(moved, truth)
    # exact geometry: only rounding remains (1e-9 m)
    np.testing.assert_allclose(aligned[np.isfinite(aligned)], truth[np.isfinite(aligned)],
                               atol=1e-9)
    assert np.isnan(aligned[0, 0, 3]).all()


def test_pck_2d_and_oks_on_a_hand_made_pose(tmp_path):
    """One camera looking down the z axis at a COCO-17 pose; the detections are the
    projection with known pixel offsets, so PCK and OKS follow from their definitions."""
    rig = studio_rig(1, seed=0)
    cam = rig[0]
    skel = get_skeleton("coco17")
    centre = cam.center + 3.0 * cam.R[2]                                     # 3 m ahead
    offsets = np.random.default_rng(0).normal(0, 0.2, (17, 3))
    motion = Motion3D((centre + offsets)[None, None], skel, 30.0)
    truth = cam.project(motion.xyz)[0, 0]                                    # (17, 2)
    torso = np.mean([np.linalg.norm(truth[5] - truth[12]), np.linalg.norm(truth[6] - truth[11])])
    shift = np.zeros((17, 2))
    shift[:4, 0] = 0.3 * torso                                               # 4 misses
    shift[4:, 0] = 0.1 * torso                                               # 13 hits
    detected = truth + shift
    kp = Keypoints2D(detected[None, None, None], np.ones((1, 1, 1, 17)), (cam.name,), skel, 30.0)
    assert np.all(cam.in_image(truth))
    scores = evaluate_2d(motion, rig, kp)[cam.name]
    assert scores["pck0.2"] == pytest.approx(13 / 17, abs=1e-12)
    extent = truth.max(0) - truth.min(0)
    area = extent[0] * extent[1]
    expected = np.mean(np.exp(-(shift ** 2).sum(1) / (2 * area * (2 * COCO_SIGMAS) ** 2)))
    assert scores["oks"] == pytest.approx(expected, rel=1e-12)


def test_oks_is_one_for_exact_detections_and_counts_misses_as_zero():
    truth = np.random.default_rng(3).uniform(0, 500, (2, 17, 2))
    visible = np.ones((2, 17), bool)
    np.testing.assert_allclose(oks(truth, truth, visible), 1.0)
    missed = truth.copy()
    missed[:, :5] = np.nan                                                   # 5 of 17 not detected
    np.testing.assert_allclose(oks(missed, truth, visible), 12 / 17)


def test_marker_names_match_our_joints():
    assert [marker_landmark(n) for n in ("LKnee", "RBigToe", "LeftAnkle", "left knee",
                                         "Nose", "MidHip", "right_wrist")] == [
        "left_knee", "right_big_toe", "left_ankle", "left_knee", "nose", "mid_hip",
        "right_wrist"]


def test_bad_references_exit_2(take, capsys):
    truth120, make_session, folder = take
    session, _ = make_session(0, "bad")
    no_common = write_trc(truth120.xyz[:, 0, :3], ["a", "b", "c"], 120.0, folder / "none.trc")
    garbage = folder / "garbage.trc"
    garbage.write_text("not a trc\n")
    far = write_trc(truth120.xyz[:10, 0], list(truth120.skeleton.joints), 120.0,
                    folder / "short.trc")                                    # 10 frames: no overlap
    for ref, words in ((no_common, "no joint in common"), (garbage, "not readable"),
                       (far, "overlaps less than"), (folder / "missing.trc", "not found"),
                       (folder / "x.abc", "unknown format")):
        if ref.suffix == ".abc":
            ref.write_text("")
        assert main(["evaluate", str(session.root), "--reference", str(ref)]) == 2
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err
    with pytest.raises(InputError, match="no joint in common"):
        evaluate_session(session, no_common)
