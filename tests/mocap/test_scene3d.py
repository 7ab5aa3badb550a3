"""The 3D scene (frusta, floor, skeletons) as arrays, its PLY/glTF files read back by Open3D and
Blender, the report's stills from Open3D's offscreen renderer (and the matplotlib fallback), and
the desktop window's key handling and per-frame geometry."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from dataclasses import replace

import cv2
import numpy as np
import pytest

from mocap import open3d_render
from mocap.open3d_render import (
    SceneRenderer,
    VizUnavailableError,
    offscreen_renderer_works,
    require_open3d,
    still_camera,
)
from mocap.open3d_view import (
    KEY_L,
    KEY_LEFT,
    KEY_RIGHT,
    KEY_SPACE,
    DisplayUnavailableError,
    ViewerState,
    frame_geometry,
    on_key,
    play,
    show_desktop,
    update_skeleton,
)
from mocap.report_figures import skeleton_stills
from mocap.scene3d import (
    LIFTED_COLOR,
    MAX_GRID_LINES,
    PERSON_COLORS,
    UP_MARK,
    Lines,
    SceneError,
    build_scene,
    camera_frusta,
    floor_grid,
    floor_step,
    skeleton_lines,
)
from mocap.scene3d_io import read_scene_gltf, write_scene_gltf, write_scene_ply
from mocap.synthetic.motion import synthetic_motion
from mocap.synthetic.studio import ring_rig
from rigs.motion import LIFTED, Motion3D

HAS_OPEN3D = importlib.util.find_spec("open3d") is not None
needs_open3d = pytest.mark.skipif(not HAS_OPEN3D, reason="open3d (the viz extra) is missing")
needs_renderer = pytest.mark.skipif(not HAS_OPEN3D or not offscreen_renderer_works(),
                                    reason="Open3D's offscreen renderer does not run here")
LIFTED_JOINTS = [9, 10]              # coco17 wrists: what the lifting network placed
MISSING_JOINT = 0                    # coco17 nose: unknown in frame 5


@pytest.fixture(scope="module")
def rig():
    return ring_rig(4)               # 1920 x 1080, lens distortion on, 4 m ring


@pytest.fixture(scope="module")
def motion() -> Motion3D:
    """Two people (the second 1.5 m to the side), wrists lifted, the nose lost in frame 5."""
    one = synthetic_motion(n_frames=12)
    xyz = np.concatenate([one.xyz, one.xyz + [0.0, 1.5, 0.0]], axis=1)    # (12, 2, 17, 3)
    xyz[5, 0, MISSING_JOINT] = np.nan
    source = np.where(np.isfinite(xyz).all(-1), 1, 0)
    source[:, :, LIFTED_JOINTS] = LIFTED
    return Motion3D(xyz=xyz, skeleton=one.skeleton, fps=one.fps, source=source)


@pytest.fixture
def fresh_probe(tmp_path, monkeypatch):
    """The renderer probe's answers forgotten before and after the test: the once-per-process
    one, and the user's cache folder (a fresh one)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    open3d_render._renderer_draws.cache_clear()
    yield
    open3d_render._renderer_draws.cache_clear()


def test_frustum_apex_is_the_camera_centre_and_far_corners_project_to_image_corners(rig):
    frusta = camera_frusta(rig, depth=0.7)
    points = frusta.points.reshape(len(rig), 6, 3)          # centre, 4 corners, up tip
    np.testing.assert_allclose(points[:, 0], rig.centers, rtol=0, atol=1e-9)
    w, h = rig[0].size
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=float)
    for c, camera in enumerate(rig):
        # undistort is Newton-solved: 1e-4 px is far below a pixel, far above its residual
        np.testing.assert_allclose(camera.project(points[c, 1:5]), corners, rtol=0, atol=1e-4)
        depth = camera.world_to_camera(points[c, 1:])[:, 2]
        np.testing.assert_allclose(depth, 0.7, rtol=0, atol=1e-9)
    # 4 edges to the apex + the far rectangle + the up triangle's 2 sides
    assert frusta.n_lines == 10 * len(rig)
    assert (frusta.lines // 6 == np.arange(len(rig)).repeat(10)[:, None]).all()  # own camera only


def test_frustum_up_triangle_stands_on_the_top_edge_and_points_up(rig):
    """The tip projects UP_MARK of the image's height above the top edge's middle (through the
    lens distortion), joined to the two top corners; for these upright cameras (no roll) the
    image's up is the world's (Z up)."""
    frusta = camera_frusta(rig, depth=0.7)
    points = frusta.points.reshape(len(rig), 6, 3)
    w, h = rig[0].size
    for c, camera in enumerate(rig):
        tip = points[c, 5]
        # undistort is Newton-solved: 1e-4 px is far below a pixel, far above its residual
        np.testing.assert_allclose(camera.project(tip), [w / 2, -UP_MARK * h], rtol=0, atol=1e-4)
        assert tip[2] > points[c, 1:3, 2].max() > points[c, 3:5, 2].max()  # tip, top, bottom
    tip_sides = np.sort(frusta.lines[frusta.lines % 6 == 5].reshape(-1))    # the tip's lines
    assert tip_sides.tolist() == sorted([6 * c + 5 for c in range(len(rig))] * 2)
    top = np.sort(frusta.lines[(frusta.lines % 6 == 5).any(-1)] % 6, axis=-1)
    assert top.tolist() == [[1, 5], [2, 5]] * len(rig)      # to the top left and top right


def test_segments_are_the_end_points_of_each_line(rig):
    frusta = camera_frusta(rig, depth=0.7)
    segments = frusta.segments
    assert segments.shape == (frusta.n_lines, 2, 3)
    np.testing.assert_array_equal(segments[:, 0], frusta.points[frusta.lines[:, 0]])
    np.testing.assert_array_equal(segments[:, 1], frusta.points[frusta.lines[:, 1]])


def test_frustum_depth_must_be_positive(rig):
    with pytest.raises(SceneError, match="frustum depth must be a positive number of metres"):
        camera_frusta(rig, depth=0.0)


def test_floor_grid_lies_on_the_floor_and_covers_cameras_and_motion(rig, motion):
    scene = build_scene(motion, 0, rig, grid_step=0.5)
    points = scene.floor.points
    assert (points[:, 2] == 0).all()
    covered = np.concatenate([rig.centers, motion.xyz.reshape(-1, 3)])[:, :2]
    covered = covered[np.isfinite(covered).all(-1)]
    assert (points[:, :2].min(0) <= covered.min(0)).all()
    assert (points[:, :2].max(0) >= covered.max(0)).all()
    # every line runs along x or y, on a multiple of the step (float rounding: 1e-9 m)
    ends = points[scene.floor.lines]                                    # (L, 2, 3)
    fixed = np.where(ends[:, 0, 0] == ends[:, 1, 0], ends[:, 0, 0], ends[:, 0, 1])
    assert ((ends[:, 0, 0] == ends[:, 1, 0]) ^ (ends[:, 0, 1] == ends[:, 1, 1])).all()
    np.testing.assert_allclose(fixed / 0.5, np.round(fixed / 0.5), rtol=0, atol=1e-9)


def test_floor_grid_of_a_huge_extent_keeps_a_bounded_number_of_lines():
    grid = floor_grid(np.array([[-500.0, -500.0, 0.0], [500.0, 500.0, 0.0]]), step=0.5)
    assert grid.n_lines <= 2 * MAX_GRID_LINES
    assert grid.points[:, 0].min() <= -500 and grid.points[:, 0].max() >= 500


def test_floor_step_grows_to_a_round_spacing_within_max_lines():
    corners = np.array([[-4.0, -4.0, 0.0], [4.0, 4.0, 0.0]])             # an 8 m studio
    assert floor_step(corners, 0.5, max_lines=25) == 0.5   # -4.5..4.5: 19 lines per axis
    # 0.1 m: 83 lines; 0.2: 43; 0.5: 19, the first round spacing within 25
    assert floor_step(corners, 0.1, max_lines=25) == 0.5
    grid = floor_grid(corners, 0.1, max_lines=25)
    assert grid.n_lines == 2 * 19
    assert floor_step(corners, 0.1, max_lines=5) == 5.0    # -10..10 m: 5 lines (2 m: 7)


@pytest.mark.parametrize(("step", "max_lines", "message"), [
    (0.0, 25, "floor grid step must be a positive number of metres"),
    (0.5, 4, "floor grid's max_lines must be 5 or more"),
])
def test_floor_grid_refuses_a_bad_step_or_line_limit(step, max_lines, message):
    with pytest.raises(SceneError, match=message):
        floor_grid(np.zeros((1, 3)), step, max_lines)


def test_skeleton_lines_keep_known_joints_and_flag_lifted_ones(motion):
    lines, lifted = skeleton_lines(motion, 5)
    bones = np.asarray(motion.skeleton.bones)
    nose_bones = (bones == MISSING_JOINT).any(-1).sum()
    assert lines.n_points == 2 * 17 - 1                  # the lost nose is left out
    assert lines.n_lines == 2 * len(bones) - nose_bones   # and so are its bones
    np.testing.assert_array_equal(lines.points[:16], motion.xyz[5, 0, 1:])
    assert lifted.sum() == 2 * len(LIFTED_JOINTS)
    np.testing.assert_array_equal(lines.point_colors[lifted], np.tile(LIFTED_COLOR, (4, 1)))
    plain, _ = skeleton_lines(motion, 5, highlight_lifted=False)
    np.testing.assert_array_equal(plain.point_colors[lifted][:2], np.tile(PERSON_COLORS[0], (2, 1)))
    np.testing.assert_array_equal(plain.point_colors[lifted][2:], np.tile(PERSON_COLORS[1], (2, 1)))


def test_frame_outside_the_take_is_an_error(motion):
    with pytest.raises(SceneError, match=r"frame 12 is outside the take \(0..11\)"):
        skeleton_lines(motion, 12)


@needs_open3d
def test_ply_reads_back_in_open3d_with_the_same_points_and_lines(tmp_path, rig, motion):
    o3d = require_open3d()
    scene = build_scene(motion, 5, rig)
    path = write_scene_ply(scene, tmp_path / "scene.ply")
    assert [p.name for p in tmp_path.iterdir()] == ["scene.ply"]           # no temp file left
    back = o3d.io.read_line_set(str(path))
    merged = scene.merged()
    assert len(back.points) == merged.n_points and len(back.lines) == merged.n_lines
    np.testing.assert_array_equal(np.asarray(back.points), merged.points)  # doubles, exact
    np.testing.assert_array_equal(np.asarray(back.lines), merged.lines)
    # colours go through uchar: within half a step of 1/255
    np.testing.assert_allclose(np.asarray(back.colors), merged.line_colors, atol=0.5 / 255)


@pytest.mark.parametrize("suffix", [".glb", ".gltf"])
def test_gltf_reads_back_with_every_part(tmp_path, rig, motion, suffix):
    scene = build_scene(motion, 5, rig)
    back = read_scene_gltf(write_scene_gltf(scene, tmp_path / f"scene{suffix}"))
    assert list(back) == ["frusta", "floor", "skeletons"]
    for name, (points, segments) in back.items():
        part = getattr(scene, name)
        assert len(points) == part.n_points and len(segments) == part.n_lines
        # float32 storage: 1e-6 m relative is its precision at these few-metre coordinates
        np.testing.assert_allclose(points, part.points, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(segments, part.points[part.lines], rtol=1e-6, atol=1e-6)


def test_gltf_needs_a_gltf_suffix(tmp_path, rig, motion):
    with pytest.raises(SceneError, match=r"written as .gltf or .glb, not '.obj'"):
        write_scene_gltf(build_scene(motion, 0, rig), tmp_path / "scene.obj")
    assert list(tmp_path.iterdir()) == []


BLENDER_IMPORT = """
import json, sys, bpy
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_scene.gltf(filepath=sys.argv[1])
print(json.dumps({o.name: [len(o.data.edges), [list(o.matrix_world @ v.co) for v in o.data.vertices]]
                  for o in bpy.context.scene.objects if o.type == "MESH"}))
"""


@pytest.mark.skipif(importlib.util.find_spec("bpy") is None, reason="bpy is not installed")
def test_blender_imports_the_glb_with_the_same_lines_and_z_up(tmp_path, rig, motion):
    scene = build_scene(motion, 5, rig)
    path = write_scene_gltf(scene, tmp_path / "scene.glb")
    done = subprocess.run([sys.executable, "-c", BLENDER_IMPORT, str(path)], check=True,
                          capture_output=True, text=True, timeout=300)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("frusta", "floor", "skeletons"):
        part = getattr(scene, name)
        n_edges, vertices = found[name]
        assert n_edges == part.n_lines
        assert len(vertices) == 2 * part.n_lines + part.n_points   # line ends kept apart
        # each point is where Blender put one of its vertices (Z up again; float32: 1e-5 m)
        gap = np.linalg.norm(part.points[:, None] - np.array(vertices)[None], axis=-1).min(1)
        assert gap.max() < 1e-5


@needs_renderer
def test_offscreen_still_shows_the_skeleton_where_it_projects(motion):
    scene = build_scene(motion, 5)
    nothing = Lines(np.zeros((0, 3)), np.zeros((0, 2), np.int64), np.zeros((0, 3)),
                    np.zeros((0, 3)))
    empty = replace(scene, skeletons=nothing, lifted=np.zeros(0, bool))
    camera = still_camera(motion.xyz.reshape(-1, 3))
    renderer = SceneRenderer(camera.size)
    with_skeleton, without = renderer.render(scene, camera), renderer.render(empty, camera)
    assert with_skeleton.shape == (camera.size[1], camera.size[0], 3)
    changed = (np.abs(with_skeleton.astype(int) - without).max(-1) > 30)  # 30: beyond dithering
    # where the skeleton projects: its bones drawn 4 px wide and joints 7 px, plus 3 px for
    # rasterisation and the lines' anti-aliased rims
    uv = camera.project(scene.skeletons.points)                          # (N, 2)
    mask = np.zeros(changed.shape, np.uint8)
    for a, b in np.round(uv[scene.skeletons.lines]).astype(int):
        cv2.line(mask, tuple(a), tuple(b), 1, thickness=4 + 2 * 3)
    for p in np.round(uv).astype(int):
        cv2.circle(mask, tuple(p), 7 // 2 + 3, 1, thickness=-1)
    assert (changed & (mask == 0)).sum() <= 0.01 * changed.sum()   # 1 %: stray edge pixels
    # enough: at least half of the bones' 4 px wide strokes (joints and overlaps cover some)
    stroke = np.linalg.norm(np.diff(uv[scene.skeletons.lines], axis=1), axis=-1).sum() * 4
    assert changed.sum() >= 0.5 * stroke


@needs_renderer
def test_report_stills_come_from_open3d_when_it_renders(motion, rig, fresh_probe):
    images = skeleton_stills(motion, np.array([0, 5, 11]), rig)
    decoded = [cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR) for png in images]
    assert [im.shape for im in decoded] == [(360, 480, 3)] * 3      # open3d_render.STILL_SIZE
    assert not np.array_equal(decoded[0], decoded[1])               # the frames differ


@needs_renderer
def test_the_probe_runs_once_per_machine_and_setting(fresh_probe, monkeypatch):
    """The probe's answer is kept in the cache folder: a later process (here: the in-process
    answer forgotten) reads it instead of starting the 3 s child again; another graphics setting
    gets its own answer."""
    assert offscreen_renderer_works()
    kept = open3d_render._probe_answer()
    assert kept.read_text(encoding="ascii") == "draws"
    open3d_render._renderer_draws.cache_clear()
    monkeypatch.setattr(open3d_render.subprocess, "run", None)       # a child would fail now
    assert offscreen_renderer_works()
    monkeypatch.setenv("VK_ICD_FILENAMES", "/nonexistent")
    assert open3d_render._probe_answer() != kept


def _matplotlib_size(images: list[bytes]) -> list[tuple[int, ...]]:
    return [cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR).shape for png in images]


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="no matplotlib")
def test_stills_fall_back_to_matplotlib_without_open3d(motion, monkeypatch, fresh_probe):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "open3d" else find_spec(name, *a))
    assert not offscreen_renderer_works()
    images = skeleton_stills(motion, np.array([0, 5]))
    assert _matplotlib_size(images) == [(320, 320, 3)] * 2         # 4 x 4 inches at 80 dpi


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="no matplotlib")
@needs_open3d
def test_stills_fall_back_to_matplotlib_when_the_renderer_cannot_start(motion, monkeypatch,
                                                                       fresh_probe):
    # no Vulkan driver for the renderer: it aborts its (child) process, this one carries on
    monkeypatch.setenv("VK_ICD_FILENAMES", "/nonexistent/icd.json")
    assert not offscreen_renderer_works()
    assert _matplotlib_size(skeleton_stills(motion, np.array([3]))) == [(320, 320, 3)]


def test_without_open3d_its_functions_name_the_viz_extra(monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "open3d" else find_spec(name, *a))
    with pytest.raises(VizUnavailableError, match=r'pip install -e "\.\[viz\]"'):
        open3d_render.SceneRenderer()


def test_keys_play_step_and_toggle_the_highlight():
    state = ViewerState(frame=0)
    assert on_key(state, KEY_SPACE, 12).playing
    assert on_key(on_key(state, KEY_SPACE, 12), KEY_SPACE, 12) == state
    assert on_key(state, KEY_RIGHT, 12).frame == 1
    assert on_key(state, KEY_LEFT, 12).frame == 11                    # wraps around
    assert not on_key(ViewerState(3, playing=True), KEY_RIGHT, 12).playing  # a step pauses
    assert not on_key(state, KEY_L, 12).highlight_lifted
    assert on_key(state, ord("Q"), 12) == state


def test_playback_advances_whole_frames_at_the_take_rate():
    playing = ViewerState(frame=10, playing=True)
    assert play(playing, 0.9 / 30, 30.0, 12).frame == 10               # not a frame yet
    assert play(playing, 3.5 / 30, 30.0, 12).frame == 1                 # 13 wraps to 1
    assert play(ViewerState(frame=10), 1.0, 30.0, 12).frame == 10       # paused


@needs_open3d
def test_frame_update_puts_the_frame_into_the_window_geometry(motion):
    o3d = require_open3d()
    bones, joints = o3d.geometry.LineSet(), o3d.geometry.PointCloud()
    state = on_key(ViewerState(frame=4), KEY_RIGHT, motion.n_frames)     # to frame 5
    update_skeleton(bones, joints, frame_geometry(motion, state))
    expected, lifted = skeleton_lines(motion, 5)
    np.testing.assert_array_equal(np.asarray(bones.points), expected.points)
    np.testing.assert_array_equal(np.asarray(bones.lines), expected.lines)
    np.testing.assert_array_equal(np.asarray(joints.colors)[lifted], np.tile(LIFTED_COLOR, (4, 1)))
    update_skeleton(bones, joints, frame_geometry(motion, on_key(state, KEY_L, 12)))
    assert not (np.asarray(joints.colors) == LIFTED_COLOR).all(-1).any()   # highlight off


@needs_open3d
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11/Wayland checks")
@pytest.mark.parametrize("display", ["", ":97"])     # unset, and a display nobody serves
def test_desktop_without_a_display_points_to_the_browser_viewer(motion, monkeypatch, display):
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", display)
    with pytest.raises(DisplayUnavailableError, match=r"browser viewer instead \(mocap view"):
        show_desktop(motion)
