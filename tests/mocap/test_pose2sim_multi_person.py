"""Issue 19, acceptance 1: the Pose2Sim demo's two people through ``mocap run`` (our BlazePose
on the demo's videos, the studio's Qualisys calibration): two people, whose identities never
swap over the take, each with a full skeleton in at least 95 % of frames.

Nothing tells the people apart but the 2D, so "never swap" is checked two ways: in 3D, no
person's next position lies nearer the other person's last one than its own (a swap moves a
person by their distance apart, 1-1.5 m here, in one frame), and in 2D, each person's
detections in each camera come from one of the detector's own per-camera tracks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calibration.importers import import_calibration
from exporters.points3d import read_points3d
from mocap.association import associate_people
from mocap.cli import main
from mocap.config import SessionConfig
from mocap.reconstruction_stage import existing_keypoints
from mocap.session import Session
from mocap.triangulation import TriangulationConfig

DEMO = "pose2sim_demo"
CAMERAS = ("01", "02", "03", "04")
# the Qualisys cameras are up to 1.3 degree off (issue 17): corrected by the adjustment
SETTINGS = "[skeleton]\nrefine_cameras = true\n"


@pytest.fixture(scope="module")
def session(shared_data, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("multi") / "session"
    (root / "videos").mkdir(parents=True)
    for cam in CAMERAS:
        (root / "videos" / f"cam_{cam}.mp4").symlink_to(
            shared_data / DEMO / "multi_person" / "videos" / f"cam{cam}.mp4")
    (root / "session.toml").write_text(SETTINGS)
    calibration = shared_data / DEMO / "calibration" / "Calib.qca.txt"
    assert main(["run", str(root), "--calibration", str(calibration), "-q"]) == 0
    return root


def test_two_people_each_with_a_full_skeleton(session):
    motion = read_points3d(session / "output" / "points3d.npz")
    assert motion.n_people == 2
    assert list(motion.person_id) == [0, 1]
    full = np.isfinite(motion.xyz).all(axis=(-1, -2))                          # (F, P)
    assert (full.mean(axis=0) >= 0.95).all(), full.mean(axis=0)
    for p in range(2):
        assert (session / "output" / f"points3d_person{p}.trc").is_file()
        assert (session / "output" / f"skeleton_person{p}.bvh").is_file()


def test_identities_never_swap_in_3d(session):
    motion = read_points3d(session / "output" / "points3d.npz")
    centre = np.nanmedian(motion.xyz, axis=2)                                  # (F, 2, 3)
    own = np.linalg.norm(centre[1:] - centre[:-1], axis=-1)                    # (F - 1, 2)
    other = np.linalg.norm(centre[1:] - centre[:-1, ::-1], axis=-1)
    assert (own < other).all()
    assert np.nanmin(np.linalg.norm(centre[:, 0] - centre[:, 1], axis=-1)) > 0.5


def test_each_person_is_one_track_per_camera(session, shared_data):
    """The association's slots against the detector's own per-camera tracks: at least 95 % of a
    person's detections in a camera carry that camera's one track id for them (the rest: the
    detector's tracker lost and found the person again)."""
    config = SessionConfig.load(session / "session.toml")
    rig = import_calibration(shared_data / DEMO / "calibration" / "Calib.qca.txt")
    keypoints, _ = existing_keypoints(Session.open(session), rig, config)
    found = associate_people(rig, keypoints, max_people=None,
                             min_score=TriangulationConfig().min_score)
    assert found.keypoints.n_people == 2
    for c in range(len(keypoints.cameras)):
        for q in range(2):
            frames = np.flatnonzero(found.slots[c, :, q] >= 0)
            ids = keypoints.track_id[c, frames, found.slots[c, frames, q]]
            assert np.bincount(ids).max() >= 0.95 * len(ids), (c, q, np.bincount(ids))
