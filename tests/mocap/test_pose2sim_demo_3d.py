"""Issue 17, acceptance 2: the Pose2Sim demo's single person through ``mocap run`` with the
studio's Qualisys calibration, from the Pose2Sim authors' own OpenPose 2D and from our own
BlazePose on the demo's videos.

Two of the four cameras sit 14-18 px off under a plain DLT even with the authors' 2D, so the
session asks for the camera corrections (``[skeleton] refine_cameras``) and for one subject
(cam_01 also sees a second person)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calibration.importers import import_calibration
from calibration.io import read_calibration
from exporters.points3d import read_points3d
from mocap.association import take_people
from mocap.cli import main
from mocap.config import SessionConfig
from mocap.export_config import REFINED_CALIBRATION
from mocap.metrics import procrustes_align
from mocap.pipeline import camera_turns_deg
from mocap.reconstruction_stage import existing_keypoints
from mocap.session import Session
from mocap.take_quality import body_bone_cv, detection_distances

DEMO = "pose2sim_demo/single_person"
CAMERAS = ("01", "02", "03", "04")
SETTINGS = "[triangulation]\npeople = 1\n[skeleton]\nrefine_cameras = true\n"
MIN_SCORE = 0.3                          # [triangulation] min_score: a view that detected it


def _openpose_session(root: Path, shared_data: Path) -> Path:
    (root / "keypoints2d").mkdir(parents=True)
    for cam in CAMERAS:
        (root / "keypoints2d" / f"cam_{cam}").symlink_to(
            shared_data / DEMO / "openpose_body25b" / f"cam{cam}_json", target_is_directory=True)
    (root / "session.toml").write_text('fps = 60\nkeypoint_set = "body25b"\n' + SETTINGS)
    return root


def _video_session(root: Path, shared_data: Path) -> Path:
    (root / "videos").mkdir(parents=True)
    for cam in CAMERAS:
        (root / "videos" / f"cam_{cam}.mp4").symlink_to(shared_data / DEMO / "videos" /
                                                        f"cam{cam}.mp4")
    (root / "session.toml").write_text(SETTINGS)
    return root


@pytest.fixture(scope="module", params=["openpose", "blazepose"])
def run(request, shared_data, tmp_path_factory) -> tuple[str, Path]:
    root = tmp_path_factory.mktemp(request.param)
    make = _openpose_session if request.param == "openpose" else _video_session
    session = make(root / "session", shared_data)
    calibration = shared_data / "pose2sim_demo/calibration/Calib.qca.txt"
    assert main(["run", str(session), "--calibration", str(calibration), "-q"]) == 0
    return request.param, session


def test_every_frame_has_a_full_skeleton(run):
    _, session = run
    motion = read_points3d(session / "output/points3d.npz")
    assert motion.n_frames == 100 and motion.n_people == 1
    assert np.isfinite(motion.xyz).all()


def test_body_bones_keep_their_length(run):
    """Goal (acceptance 2): CV of each rigid bone's length over the take (anatomy's bones
    outside the head, whose 1-6 cm links no detector resolves to 2 %), mean < 2 %; none over
    4 %."""
    _, session = run
    cv = body_bone_cv(read_points3d(session / "output/points3d.npz"))
    assert cv.size >= 12                                                # limbs, hips, feet
    assert cv.mean() < 0.02 and cv.max() < 0.04


def test_every_detection_reprojects_within_ten_pixels(run):
    """Goal (acceptance 2): median distance, over every view that detected a joint (score of
    0.3 or more; in each camera the person slot nearest the projection), between the
    detection and the joint projected through the corrected cameras, < 10 px (plain DLT with the
    Qualisys cameras: 14.2 px). The corrections are small turns, the centres stay."""
    _, session = run
    motion = read_points3d(session / "output/points3d.npz")
    refined = read_calibration(session / "output" / REFINED_CALIBRATION)
    keypoints, _ = existing_keypoints(Session.open(session), refined,
                                      SessionConfig.load(session / "session.toml"))
    assert np.median(detection_distances(refined, motion, keypoints, MIN_SCORE)) < 10.0


def test_the_corrections_are_written_and_reported(run, shared_data, capsys):
    """The corrected cameras beside the motion: the Qualisys centres, orientations turned by
    under 2 degrees; a rerun's summary lists each camera's turn (from the cache)."""
    _, session = run
    calibration = shared_data / "pose2sim_demo/calibration/Calib.qca.txt"
    qualisys = import_calibration(calibration)
    refined = read_calibration(session / "output" / REFINED_CALIBRATION)
    assert refined.names == qualisys.names
    np.testing.assert_allclose(refined.centers, qualisys.centers, atol=1e-6)
    turns = camera_turns_deg(qualisys, refined)
    assert 0 < max(turns.values()) < 2.0
    assert main(["triangulate", str(session), "--calibration", str(calibration)]) == 0
    out = capsys.readouterr().out
    assert "cameras turned by the skeleton adjustment" in out
    assert all(f"{name} {deg:.2f} deg" in out for name, deg in turns.items())


def test_camera_1_alone_lifted_matches_the_four_camera_reconstruction(run, request):
    """Issue 20, acceptance 2: cam_01's 2D alone (the subject's slot), lifted by the shipped
    lifter, against our 4-camera reconstruction of the same take: per-frame PA-MPJPE over the
    lifter's joints < 70 mm. Met from our BlazePose 2D (measured 69.8 mm); not from the authors'
    OpenPose 2D (91.0 mm; the weights before these: 80.0 and 80.3 mm)."""
    if run[0] == "openpose":
        request.applymarker(pytest.mark.xfail(
            strict=True, reason="issue 20: from OpenPose's 2D the lifter misses acceptance 2"))
    pytest.importorskip("torch")
    from mocap.lifting.features import lift_skeleton
    from mocap.lifting.lift import lift_pixels
    from mocap.lifting.weights import load_lifter
    _, session = run
    motion = read_points3d(session / "output/points3d.npz")
    refined = read_calibration(session / "output" / REFINED_CALIBRATION)
    config = SessionConfig.load(session / "session.toml")
    keypoints, _ = take_people(refined, existing_keypoints(Session.open(session), refined,
                                                           config)[0], config.triangulation)
    usable = keypoints.score[0, :, 0] >= MIN_SCORE
    pixels = np.where(usable[..., None], keypoints.xy[0, :, 0], np.nan)
    lifted = lift_pixels(load_lifter(), refined["cam_01"], pixels, keypoints.skeleton,
                         keypoints.fps)                                    # (F, 17, 3)
    joints = motion.skeleton.indices(lift_skeleton().joints)
    reference = motion.xyz[:, 0, joints]
    aligned = procrustes_align(lifted, reference)
    pa_mpjpe = np.nanmean(np.linalg.norm(aligned - reference, axis=-1))
    assert np.isfinite(aligned).all(-1).mean() > 0.95
    assert pa_mpjpe < 0.070, pa_mpjpe
