"""The shipped lifter against held-out motion (issue 20, acceptance 1), the training command's
reproducibility (acceptance 4, marked slow) and ``mocap lifter`` on the command line."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from calibration.importers import import_calibration
from mocap.cli import main
from mocap.lifting.commands import evaluate
from mocap.lifting.motion_files import find_motion_files, read_motion
from mocap.lifting.weights import SHIPPED, load_lifter
from mocap.synthetic.sample_session import make_sample_session
from mocap.synthetic.studio import studio_rig

SCORE_LINE = re.compile(r"MPJPE (\d+\.\d) mm PA-MPJPE (\d+\.\d) mm frames (\d+)$")


def held_out(shared_data: Path) -> list[Path]:
    names = load_lifter().made["held_out"]
    return [f for f in find_motion_files([shared_data / "cmu_mocap"]) if f.name in names]


def test_the_shipped_weights_say_what_they_were_trained_on(shared_data):
    made = load_lifter().made
    assert made["command"] == "mocap lifter train" and made["seed"] == 0
    assert set(made["held_out"]) == {"131_03.bvh", "85_14.fbx"}
    assert not set(made["held_out"]) & set(made["trained_on"])
    assert SHIPPED.stat().st_size < 10 * 2**20                             # < 10 MB


@pytest.fixture(scope="module")
def pose2sim_score(shared_data):
    rig = import_calibration(shared_data / "pose2sim_demo/calibration/Calib.qca.txt")
    clips = [read_motion(f).xyz[:, 0] for f in held_out(shared_data)]
    return evaluate(load_lifter(), clips, [30.0] * len(clips), rig, 3.0, seed=0), clips


def test_held_out_motion_is_lifted_where_the_pose2sim_cameras_see_it(pose2sim_score):
    """Every camera-frame with the person in view is scored: the clips, moved over the point the
    cameras look at, walk partly out of the portrait views (measured: 89 % of camera-frames)."""
    result, clips = pose2sim_score
    assert result.frames > 0.8 * 4 * sum(len(c) for c in clips)


# Not met by the shipped weights (12,000 steps on 8 CMU clips, 23 minutes unloaded): measured
# MPJPE 135.1 mm, PA-MPJPE 89.9 mm (131_03: 81.6 / 56.6; 85_14, martial arts with handstands and
# flips: 153.9 / 101.5). Issue 20 stays open on it.
@pytest.mark.xfail(strict=True, reason="issue 20: the shipped lifter misses acceptance 1")
def test_held_out_motion_through_the_pose2sim_cameras(pose2sim_score):
    """Acceptance 1: clips never trained on, projected through the Pose2Sim studio's four
    cameras with 3 px noise: PA-MPJPE < 60 mm and root-relative MPJPE < 80 mm."""
    result, _ = pose2sim_score
    assert result.pa_mpjpe_mm < 60 and result.mpjpe_mm < 80, result.line()


def test_a_rolled_camera_lifts_as_well_as_an_upright_one(shared_data):
    """Cameras are not always level (the Pose2Sim studio's cam_04 is rolled 24 degrees): the
    held-out clips seen by four studio cameras and by the same cameras each turned 18-28 degrees
    about its optical axis (training draws up to 30) lift to within 10 % of the same MPJPE and
    PA-MPJPE. The noise draws are the same; only what the rolled frames crop differs."""
    clips = [read_motion(f).xyz[:, 0] for f in held_out(shared_data)]
    upright, rolled = (evaluate(load_lifter(), clips, [30.0] * len(clips),
                                studio_rig(4, roll_deg=roll, seed=2), 3.0, seed=0)
                       for roll in (0.0, 30.0))
    np.testing.assert_allclose([rolled.mpjpe_mm, rolled.pa_mpjpe_mm],
                               [upright.mpjpe_mm, upright.pa_mpjpe_mm], rtol=0.1)


def test_eval_on_the_command_line_ends_with_the_score(shared_data, capsys):
    files = [str(f) for f in held_out(shared_data)]
    calibration = str(shared_data / "pose2sim_demo/calibration/Calib.qca.txt")
    assert main(["lifter", "eval", *files, "--calibration", calibration, "--noise", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(files) + 1
    assert SCORE_LINE.search(lines[-1]), lines[-1]


def test_a_folder_without_motion_files_is_an_error(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("no motion here")
    assert main(["lifter", "eval", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path) in err and ".bvh" in err and "Traceback" not in err


def test_missing_weights_on_the_command_line(tmp_path, shared_data, capsys):
    bvh = str(shared_data / "cmu_mocap" / "131_03.bvh")
    assert main(["lifter", "eval", bvh, "--weights", str(tmp_path / "none.pt")]) == 2
    assert "no lifter weights there" in capsys.readouterr().err


@pytest.mark.slow
def test_training_with_seed_0_reproduces_the_shipped_scores(shared_data, tmp_path):
    """Acceptance 4: the documented command (README) gives weights whose held-out scores are
    within 5 % of the shipped ones' (25 minutes on 2 cores)."""
    out = tmp_path / "lifter.pt"
    assert main(["lifter", "train", str(shared_data / "cmu_mocap"), "--hold-out",
                 "131_03,85_14", "--seed", "0", "-o", str(out), "-q"]) == 0
    rig = import_calibration(shared_data / "pose2sim_demo/calibration/Calib.qca.txt")
    clips = [read_motion(f).xyz[:, 0] for f in held_out(shared_data)]
    ours, shipped = (evaluate(load_lifter(w), clips, [30.0] * len(clips), rig, 3.0, seed=0)
                     for w in (out, None))
    np.testing.assert_allclose([ours.mpjpe_mm, ours.pa_mpjpe_mm],
                               [shipped.mpjpe_mm, shipped.pa_mpjpe_mm], rtol=0.05)


def test_finetune_learns_from_a_sessions_3d_and_needs_one(tmp_path, capsys):
    """Item 5: a run session's triangulated 3D is training data for a few steps more; the new
    weights load and record it; a session never run is refused with the command to run."""
    session = make_sample_session(tmp_path / "studio", n_frames=60, board_videos=False)
    assert main(["run", str(session), "-q"]) == 0
    out = tmp_path / "tuned.pt"
    assert main(["lifter", "finetune", str(session), "-o", str(out), "--steps", "20", "-q"]) == 0
    assert load_lifter(out).made["finetuned_on"] == ["studio/points3d.npz person 0"]
    capsys.readouterr()
    fresh = make_sample_session(tmp_path / "fresh", n_frames=30, board_videos=False)
    assert main(["lifter", "finetune", str(fresh), "-o", str(tmp_path / "x.pt")]) == 2
    assert f"mocap run {fresh}" in capsys.readouterr().err
