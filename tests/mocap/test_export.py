"""``mocap export`` and the exports ``mocap run`` writes by default: every format from a run's
points3d.npz, read back; and the answers to what cannot be exported."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from exporters.bvh import rig_animation_from_bvh
from exporters.c3d import read_c3d
from exporters.points3d import read_points3d, write_points3d
from exporters.tables import read_motion_csv, read_motion_json
from exporters.trc import read_trc
from mocap.cli import main
from rigs.bvh import Y_UP_TO_Z_UP, read_bvh
from rigs.humanoid import humanoid_layout
from rigs.motion import Motion3D
from rigs.rig_fit import fit_rig

# rig fitting's goal on real motion (issue 18, acceptance 2): mean joint error < 15 mm
RIG_MEAN_M = 0.015


@pytest.fixture
def session(good_run: Path, tmp_path: Path) -> Path:
    """A copy of the module's finished run, so each test exports into its own folder."""
    return Path(shutil.copytree(good_run, tmp_path / "studio", symlinks=True))


def test_run_writes_a_rigged_skeleton_that_follows_the_joints(good_run):
    """The default [export] formats: skeleton.bvh (and skeleton.fbx with bpy, as in CI). The
    BVH read back (Y up, metres) stands where the joints are: each bone's head within
    RIG_MEAN_M (mean) of the keypoint it stands for."""
    motion = read_points3d(good_run / "output/points3d.npz")
    assert (good_run / "output/skeleton.fbx").is_file() == (
        importlib.util.find_spec("bpy") is not None)
    bvh = read_bvh(good_run / "output/skeleton.bvh")
    assert bvh.n_frames == motion.n_frames
    rig = fit_rig(motion).rig
    layout = humanoid_layout(motion.skeleton)
    stands_for = [b for b, point in enumerate(layout.heads) if point >= 0]
    heads = bvh.world_positions()[:, [bvh.skeleton.index(rig.bones[b]) for b in stands_for]]
    targets = layout.points(motion.xyz[:, 0])[:, [layout.heads[b] for b in stands_for]]
    errors = np.linalg.norm(heads @ Y_UP_TO_Z_UP.T - targets, axis=-1)     # (F, bones)
    assert len(stands_for) >= 10 and np.nanmean(errors) < RIG_MEAN_M


def test_every_format_reads_back_to_the_run(session):
    """TRC, C3D, CSV and JSON hold the run's joints (to the formats' 1e-6 m: 6 decimals in text,
    float32 in C3D under 2 m); TRC's Y up and C3D's Z up are turned back by the readers."""
    assert main(["export", str(session), "--format", "trc,c3d,csv,json", "-q"]) == 0
    motion = read_points3d(session / "output/points3d.npz")
    xyz = motion.xyz[:, 0]
    trc, markers, fps = read_trc(session / "output/points3d.trc")
    c3d, labels, c3d_fps = read_c3d(session / "output/points3d.c3d")
    assert markers == labels == list(motion.skeleton.joints) and fps == c3d_fps == motion.fps
    for values in (trc, c3d, read_motion_csv(session / "output/points3d.csv").xyz[:, 0],
                   read_motion_json(session / "output/points3d.json").xyz[:, 0]):
        np.testing.assert_allclose(values, xyz, atol=1e-6)


def test_several_people_get_a_file_each(session):
    """Two people: one BVH, C3D and TRC per person, named after their ids; one FBX."""
    one = read_points3d(session / "output/points3d.npz")
    two = Motion3D(np.concatenate([one.xyz, one.xyz + [1.0, 0.0, 0.0]], axis=1), one.skeleton,
                   one.fps, person_id=np.array([3, 7]))
    write_points3d(two, session / "output/points3d.npz")
    assert main(["export", str(session), "--format", "bvh,c3d,trc", "-q"]) == 0
    for pid in (3, 7):
        for name in ("skeleton_person{}.bvh", "points3d_person{}.c3d", "points3d_person{}.trc"):
            assert (session / "output" / name.format(pid)).is_file()
    assert not (session / "output/skeleton.bvh").exists()        # the run's, owned and removed
    second = rig_animation_from_bvh(read_bvh(session / "output/skeleton_person7.bvh"))
    first = rig_animation_from_bvh(read_bvh(session / "output/skeleton_person3.bvh"))
    np.testing.assert_allclose(second.root_translation - first.root_translation,
                               np.broadcast_to([1.0, 0.0, 0.0], first.root_translation.shape),
                               atol=1e-6)


def test_exporting_before_a_run_says_to_run_first(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "keypoints2d").mkdir()
    assert main(["export", str(tmp_path / "empty"), "--format", "bvh"]) == 2
    message = capsys.readouterr().err
    assert "points3d.npz" in message and "mocap run" in message


def test_an_unknown_format_is_named(session, capsys):
    assert main(["export", str(session), "--format", "bvh,xyz"]) == 2
    message = capsys.readouterr().err
    assert "xyz" in message and "c3d" in message and "Traceback" not in message


def test_fbx_without_blender_names_the_extra(session, capsys, monkeypatch):
    """Asked for, a missing bpy is an error naming the extra, and nothing is written; left to
    the default formats, the run goes on with a note."""
    monkeypatch.setitem(sys.modules, "bpy", None)              # import bpy raises ImportError
    before = sorted(p.name for p in (session / "output").iterdir())
    assert main(["export", str(session), "--format", "bvh,fbx"]) == 2
    assert "mocap[blender]" in capsys.readouterr().err
    assert sorted(p.name for p in (session / "output").iterdir()) == before
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "bpy" else real_find_spec(name, *a))
    (session / "output/skeleton.fbx").unlink(missing_ok=True)
    assert main(["run", str(session)]) == 0
    out = capsys.readouterr().out
    assert "no skeleton.fbx" in out and "mocap[blender]" in out
    assert (session / "output/skeleton.bvh").is_file()
    assert not (session / "output/skeleton.fbx").exists()


def test_a_take_too_short_for_a_rig_is_refused_with_the_reason(session, capsys):
    """Bone lengths need 10 frames (rigs.rig_fit's min_length_frames): a 5-frame take gets no
    BVH, and the message says why."""
    motion = read_points3d(session / "output/points3d.npz")
    short = replace(motion, xyz=motion.xyz[:5], reprojection_error=None, n_views=None,
                    source=None)
    write_points3d(short, session / "output/points3d.npz")
    assert main(["export", str(session), "--format", "bvh"]) == 2
    assert "frames" in capsys.readouterr().err


def test_a_person_the_rig_cannot_follow_is_named_and_the_others_exported(session, capsys):
    """A second person never seen (another tool's empty slot): the first gets its BVH, the
    note names the second and why; nothing fails."""
    one = read_points3d(session / "output/points3d.npz")
    two = Motion3D(np.concatenate([one.xyz, np.full_like(one.xyz, np.nan)], axis=1),
                   one.skeleton, one.fps, person_id=np.array([3, 7]))
    write_points3d(two, session / "output/points3d.npz")
    assert main(["export", str(session), "--format", "bvh"]) == 0
    out = capsys.readouterr().out
    assert (session / "output/skeleton_person3.bvh").is_file()
    assert not (session / "output/skeleton_person7.bvh").exists()
    assert "no rigged skeleton for person 7: only 0 frames show" in out
